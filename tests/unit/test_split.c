/* Bodies in parts: where a helper's part begins, how a part stops at its
 * end, how failures and the last part's end reach the owner, and what -c
 * keeps of a body that failed. */
#include "check.h"

#include "split.h"

#define MIB (1024 * 1024)

static int wakes;
static void *woken;

static void wake(void *ctx)
{
	wakes++;
	woken = ctx;
}

static char url[] = "http://h/f";
static struct pdl_job job = {.url = url, .host = "h:80"};

/* A board with one body of total bytes, posted. */
static struct pdl_split *posted(struct pdl_board *b, int64_t total, int64_t pos,
				double now)
{
	struct pdl_split *s =
	    pdl_split_new(&job, 7, total, pos, "\"e\"", now, wake, &job);
	CHECK(s != NULL);
	CHECK(pdl_board_post(b, s));
	return s;
}

static void picking(void)
{
	struct pdl_board b;
	struct pdl_ask ask;

	CHECK_INT(pdl_board_init(&b), 0);
	CHECK(!pdl_board_pick(&b, PDL_SPLIT_MIN, 0, &ask));
	struct pdl_split *small = posted(&b, 6 * MIB, 0, 0);
	struct pdl_split *big = posted(&b, 64 * MIB, 0, 0);
	CHECK_INT(b.n, 2);

	/* The one with the most left; half of it, aligned. */
	CHECK(pdl_board_pick(&b, PDL_SPLIT_MIN, 0, &ask));
	CHECK(ask.split == big);
	CHECK_INT(ask.part, 0);
	CHECK_INT(ask.from, 32 * MIB);
	CHECK_INT(ask.end, 64 * MIB);
	CHECK_INT(big->users, 2);
	/* A part asked for is not asked for twice; 6 MiB is enough... */
	CHECK(pdl_board_pick(&b, PDL_SPLIT_MIN, 0, &ask));
	CHECK(ask.split == small);
	CHECK_INT(ask.from, 3 * MIB);
	/* ... and then there is nothing. */
	struct pdl_ask none;
	CHECK(!pdl_board_pick(&b, PDL_SPLIT_MIN, 0, &none));
	struct pdl_leave drop = {.part = -1, .ask = &ask};
	CHECK_INT(pdl_split_leave(&b, small, &drop), 1);
	CHECK(!small->closed);

	/* Less than min_left left: not split. */
	int64_t off;
	bool stop;
	CHECK_INT(pdl_split_take(small, 0, 3 * MIB, &off, &stop), 3 * MIB);
	CHECK(!pdl_board_pick(&b, PDL_SPLIT_MIN, 0, &none));

	/* At 100 MiB/s and 20 ms to an answer, a part moves on 2 MiB
	 * before its helper's bytes come: half of the rest after that. */
	struct pdl_board b2;
	CHECK_INT(pdl_board_init(&b2), 0);
	struct pdl_split *s = posted(&b2, 64 * MIB, 0, 10.0);
	CHECK_INT(pdl_split_take(s, 0, 10 * MIB, &off, &stop), 10 * MIB);
	pdl_board_latency(&b2, 0.020);
	CHECK(pdl_board_pick(&b2, PDL_SPLIT_MIN, 10.1, &ask));
	CHECK_INT(ask.from, 12 * MIB + 26 * MIB);
	/* Latency is averaged. */
	pdl_board_latency(&b2, 0.100);
	CHECK(b2.latency > 0.039 && b2.latency < 0.041);
	pdl_board_finish(&b);
	pdl_board_finish(&b2);
	pdl_split_free(small);
	pdl_split_free(big);
	pdl_split_free(s);
}

static void confirming(void)
{
	struct pdl_board b;
	struct pdl_ask ask;
	int64_t off, pos, end;
	bool stop;

	CHECK_INT(pdl_board_init(&b), 0);
	struct pdl_split *s = posted(&b, 16 * MIB, 0, 0);
	CHECK(pdl_board_pick(&b, PDL_SPLIT_MIN, 0, &ask));
	CHECK_INT(ask.from, 8 * MIB);
	/* The owner goes on meanwhile, short of from. */
	CHECK_INT(pdl_split_take(s, 0, 5 * MIB, &off, &stop), 5 * MIB);
	CHECK_INT(off, 0);
	int i = pdl_split_confirm(&ask, 1.0);
	CHECK_INT(i, 1);
	pdl_split_where(s, 0, &pos, &end);
	CHECK_INT(pos, 5 * MIB);
	CHECK_INT(end, 8 * MIB);
	pdl_split_where(s, i, &pos, &end);
	CHECK_INT(pos, 8 * MIB);
	CHECK_INT(end, 16 * MIB);
	/* The owner stops at the helper's start. */
	CHECK_INT(pdl_split_take(s, 0, 4 * MIB, &off, &stop), 3 * MIB);
	CHECK_INT(off, 5 * MIB);
	CHECK_INT(pdl_split_take(s, 0, 4 * MIB, &off, &stop), 0);
	CHECK(!stop);
	/* The helper's bytes land at its offsets. */
	CHECK_INT(pdl_split_take(s, i, 1000, &off, &stop), 1000);
	CHECK_INT(off, 8 * MIB);
	/* A write that failed gives back what did not go in. */
	pdl_split_give_back(s, i, 8 * MIB + 600);
	CHECK_INT(pdl_split_take(s, i, 10, &off, &stop), 10);
	CHECK_INT(off, 8 * MIB + 600);

	/* A helper whose part moved on is late: the body stays open for
	 * others until PDL_SPLIT_LATE of them were. */
	struct pdl_ask late = ask;
	late.part = 1;
	late.from = 8 * MIB + 100; /* behind where part 1 is */
	late.end = 16 * MIB;
	for (int k = 0; k < PDL_SPLIT_LATE; k++) {
		CHECK(!s->closed);
		CHECK_INT(pdl_split_confirm(&late, 1.0), -1);
	}
	CHECK(s->closed);
	struct pdl_ask none;
	CHECK(!pdl_board_pick(&b, 0, 2.0, &none));
	pdl_board_finish(&b);
	pdl_split_free(s);
}

static void leaving(void)
{
	struct pdl_board b;
	struct pdl_ask ask;
	int64_t off;
	bool stop;

	CHECK_INT(pdl_board_init(&b), 0);
	struct pdl_split *s = posted(&b, 16 * MIB, 0, 0);
	CHECK(pdl_board_pick(&b, PDL_SPLIT_MIN, 0, &ask));
	int i = pdl_split_confirm(&ask, 0);
	CHECK_INT(i, 1);

	/* The owner is done first: it waits, not woken by itself. */
	wakes = 0;
	CHECK_INT(pdl_split_take(s, 0, 8 * MIB, &off, &stop), 8 * MIB);
	struct pdl_leave owner = {.part = 0, .outcome = PDL_OK, .owner = true};
	CHECK_INT(pdl_split_leave(&b, s, &owner), 1);
	CHECK(s->owner_waits);
	CHECK_INT(wakes, 0);
	CHECK_INT(b.n, 1);
	/* The helper fails: its reason is the body's, the owner is woken,
	 * and the body leaves the board. */
	CHECK_INT(pdl_split_take(s, i, 2 * MIB, &off, &stop), 2 * MIB);
	struct pdl_leave helper = {.part = i,
				   .outcome = PDL_FAILED,
				   .error = "HTTP 503",
				   .bytes = 2 * MIB,
				   .retries = 3};
	CHECK_INT(pdl_split_leave(&b, s, &helper), 0);
	CHECK_INT(wakes, 1);
	CHECK(woken == &job);
	CHECK(s->failed);
	CHECK(!s->interrupted);
	CHECK_STR(s->error, "HTTP 503");
	CHECK_INT(s->bytes, 2 * MIB);
	CHECK_INT(s->retries, 3);
	CHECK_INT(b.n, 0);
	CHECK_INT(pdl_split_users(s), 0);
	/* What -c keeps: part 0 whole, then part 1 up to where it got. */
	CHECK_INT(pdl_split_prefix(s), 10 * MIB);
	/* A part still taking bytes is told to stop. */
	CHECK_INT(pdl_split_take(s, i, 10, &off, &stop), 0);
	CHECK(stop);
	pdl_split_free(s);

	/* The helper is done first: the owner's leaving is the last, no
	 * wake-up needed. */
	s = posted(&b, 16 * MIB, 0, 0);
	CHECK(pdl_board_pick(&b, PDL_SPLIT_MIN, 0, &ask));
	i = pdl_split_confirm(&ask, 0);
	CHECK_INT(pdl_split_take(s, i, 8 * MIB, &off, &stop), 8 * MIB);
	helper = (struct pdl_leave){.part = i, .outcome = PDL_OK};
	CHECK_INT(pdl_split_leave(&b, s, &helper), 1);
	wakes = 0;
	CHECK_INT(pdl_split_take(s, 0, 3 * MIB, &off, &stop), 3 * MIB);
	owner = (struct pdl_leave){.part = 0,
				   .outcome = PDL_INTERRUPTED,
				   .error = "interrupted",
				   .owner = true};
	CHECK_INT(pdl_split_leave(&b, s, &owner), 0);
	CHECK_INT(wakes, 0);
	CHECK(s->interrupted);
	/* Part 0 stopped at 3 MiB: part 1, whole, is not kept. */
	CHECK_INT(pdl_split_prefix(s), 3 * MIB);
	pdl_split_free(s);

	/* A helper refused by the server closes the body to helpers. */
	s = posted(&b, 16 * MIB, 0, 0);
	CHECK(pdl_board_pick(&b, PDL_SPLIT_MIN, 0, &ask));
	struct pdl_leave refused = {.part = -1, .ask = &ask, .refused = true};
	CHECK_INT(pdl_split_leave(&b, s, &refused), 1);
	CHECK(s->closed);
	CHECK(!s->failed);
	CHECK(!s->part[0].asked);
	CHECK(!pdl_board_pick(&b, PDL_SPLIT_MIN, 0, &ask));
	owner = (struct pdl_leave){.part = 0, .outcome = PDL_OK, .owner = true};
	CHECK_INT(pdl_split_leave(&b, s, &owner), 0);
	CHECK_INT(pdl_split_prefix(s), 0);
	pdl_split_free(s);
	pdl_board_finish(&b);
}

int main(void)
{
	picking();
	confirming();
	leaving();
	return check_done();
}
