/* Tests for the bounded job queue: order, blocking at both ends, close and
 * abort, pop_if, and many producers against many consumers (run it under
 * TSan too). */
#include "check.h"
#include "queue.h"

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#define ITEM(i) ((void *)(uintptr_t)(i))
#define VAL(p)	((size_t)(uintptr_t)(p))

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	if (pthread_create(t, NULL, fn, arg)) {
		perror("pthread_create");
		exit(EXIT_FAILURE);
	}
}

static void test_fifo(void)
{
	struct pdl_queue q;
	size_t i, next_in = 1, next_out = 1;

	CHECK_INT(pdl_queue_init(&q, 0), -1);
	CHECK_INT(pdl_queue_init(&q, 4), 0);
	/* Uneven pushes and pops walk the ring round several times. */
	for (i = 0; i < 40; i++) {
		while (next_in - next_out < 3)
			CHECK(pdl_queue_push(&q, ITEM(next_in++)));
		CHECK_INT(VAL(pdl_queue_pop(&q)), next_out++);
		if (i % 3 == 0)
			CHECK_INT(VAL(pdl_queue_pop(&q)), next_out++);
	}
	pdl_queue_close(&q);
	CHECK(!pdl_queue_push(&q, ITEM(999)));
	/* Closed but not empty: drain first, then NULL for good. */
	while (next_out < next_in)
		CHECK_INT(VAL(pdl_queue_pop(&q)), next_out++);
	CHECK(pdl_queue_pop(&q) == NULL);
	CHECK(pdl_queue_pop(&q) == NULL);
	pdl_queue_finish(&q);
}

struct blocked {
	struct pdl_queue *q;
	void *item;
	pdl_queue_pred pred;
	void *ctx;
	bool pushed;
	void *popped;
	atomic_int done;
};

static void *push_thread(void *arg)
{
	struct blocked *b = arg;

	b->pushed = pdl_queue_push(b->q, b->item);
	atomic_store(&b->done, 1);
	return NULL;
}

static void *pop_thread(void *arg)
{
	struct blocked *b = arg;

	b->popped = b->pred ? pdl_queue_pop_if(b->q, b->pred, b->ctx)
			    : pdl_queue_pop(b->q);
	atomic_store(&b->done, 1);
	return NULL;
}

static void test_capacity(void)
{
	struct pdl_queue q;
	struct blocked b = {.q = &q, .item = ITEM(3)};
	pthread_t t;

	pdl_queue_init(&q, 2);
	CHECK(pdl_queue_push(&q, ITEM(1)));
	CHECK(pdl_queue_push(&q, ITEM(2)));
	start(&t, push_thread, &b);
	sleep_ms(30);
	CHECK_INT(atomic_load(&b.done), 0); /* full: the third push waits */
	CHECK_INT(VAL(pdl_queue_pop(&q)), 1);
	pthread_join(t, NULL);
	CHECK(b.pushed);
	CHECK_INT(VAL(pdl_queue_pop(&q)), 2);
	CHECK_INT(VAL(pdl_queue_pop(&q)), 3);
	pdl_queue_finish(&q);
}

static void test_close_wakes(void)
{
	struct pdl_queue q;
	struct blocked pop[3], push = {.q = &q, .item = ITEM(9)};
	pthread_t tp[3], tq;
	size_t i;

	/* Poppers blocked on an empty queue get NULL. */
	pdl_queue_init(&q, 1);
	for (i = 0; i < 3; i++) {
		pop[i] = (struct blocked){.q = &q, .popped = ITEM(1)};
		start(&tp[i], pop_thread, &pop[i]);
	}
	sleep_ms(20);
	pdl_queue_close(&q);
	for (i = 0; i < 3; i++) {
		pthread_join(tp[i], NULL);
		CHECK(pop[i].popped == NULL);
	}
	pdl_queue_finish(&q);

	/* A pusher blocked on a full queue gets false, its item not taken. */
	pdl_queue_init(&q, 1);
	CHECK(pdl_queue_push(&q, ITEM(1)));
	start(&tq, push_thread, &push);
	sleep_ms(20);
	CHECK_INT(atomic_load(&push.done), 0);
	pdl_queue_close(&q);
	pthread_join(tq, NULL);
	CHECK(!push.pushed);
	CHECK_INT(VAL(pdl_queue_pop(&q)), 1);
	CHECK(pdl_queue_pop(&q) == NULL);
	pdl_queue_finish(&q);
}

static bool equals(void *item, void *ctx)
{
	return item == ctx;
}

/* pop_if takes the oldest match and leaves the rest in order, wherever the
 * ring's head is and wherever the match sits (both ways of closing the gap
 * are used). */
static void test_pop_if_order(void)
{
	enum { CAP = 7 };
	struct pdl_queue q;
	size_t head, len, pos, i, want;

	for (head = 0; head < CAP; head++) {
		for (len = 1; len <= CAP; len++) {
			for (pos = 0; pos < len; pos++) {
				pdl_queue_init(&q, CAP);
				for (i = 0; i < head; i++) {
					pdl_queue_push(&q, ITEM(100));
					pdl_queue_pop(&q);
				}
				for (i = 1; i <= len; i++)
					pdl_queue_push(&q, ITEM(i));
				CHECK_INT(VAL(pdl_queue_pop_if(&q, equals,
							       ITEM(pos + 1))),
					  pos + 1);
				for (i = 1; i < len; i++) {
					want = i <= pos ? i : i + 1;
					CHECK_INT(VAL(pdl_queue_pop(&q)), want);
				}
				/* The freed slot is usable again. */
				CHECK(pdl_queue_push(&q, ITEM(50)));
				CHECK_INT(VAL(pdl_queue_pop(&q)), 50);
				pdl_queue_finish(&q);
			}
		}
	}
}

static bool is_even(void *item, void *ctx)
{
	return VAL(item) % 2 == 0;
}

static bool allowed(void *item, void *ctx)
{
	return atomic_load((atomic_int *)ctx) != 0;
}

static void test_pop_if_waits(void)
{
	struct pdl_queue q;
	atomic_int ok = 0;
	struct blocked b = {.q = &q, .pred = allowed, .ctx = &ok};
	pthread_t t;

	pdl_queue_init(&q, 8);
	pdl_queue_push(&q, ITEM(1));
	pdl_queue_push(&q, ITEM(3));
	pdl_queue_push(&q, ITEM(4));
	pdl_queue_push(&q, ITEM(6));
	CHECK_INT(VAL(pdl_queue_pop_if(&q, is_even, NULL)), 4);

	/* Nothing qualifies: wait, even once closed, until woken. */
	start(&t, pop_thread, &b);
	sleep_ms(20);
	pdl_queue_close(&q);
	sleep_ms(20);
	CHECK_INT(atomic_load(&b.done), 0);
	atomic_store(&ok, 1);
	pdl_queue_wake(&q);
	pthread_join(t, NULL);
	CHECK_INT(VAL(b.popped), 1);

	/* Closed, the rest refused: when another thread takes the last item
	 * the waiter must see closed-and-empty. */
	atomic_store(&ok, 0);
	b.done = 0;
	b.popped = ITEM(1);
	start(&t, pop_thread, &b);
	sleep_ms(20);
	CHECK_INT(VAL(pdl_queue_pop(&q)), 3);
	CHECK_INT(VAL(pdl_queue_pop(&q)), 6);
	pthread_join(t, NULL);
	CHECK(b.popped == NULL);
	pdl_queue_finish(&q);
}

/* A push must reach a waiter that would take the item even when another
 * waiter, whose predicate refuses it, waits longer: a plain signal would
 * wake only the refusing one and the item would sit there. */
static void test_push_reaches_all(void)
{
	struct pdl_queue q;
	atomic_int never = 0;
	struct blocked picky = {.q = &q, .pred = allowed, .ctx = &never};
	struct blocked any = {.q = &q};
	pthread_t tp, ta;
	int waited;

	pdl_queue_init(&q, 4);
	start(&tp, pop_thread, &picky);
	sleep_ms(20);
	start(&ta, pop_thread, &any);
	sleep_ms(20);
	pdl_queue_push(&q, ITEM(1));
	for (waited = 0; waited < 2000 && !atomic_load(&any.done); waited += 5)
		sleep_ms(5);
	CHECK_INT(atomic_load(&any.done), 1);
	pdl_queue_close(&q);
	pthread_join(ta, NULL);
	pthread_join(tp, NULL);
	CHECK_INT(VAL(any.popped), 1);
	CHECK(picky.popped == NULL);
	pdl_queue_finish(&q);
}

static atomic_int drops[8];

static void drop(void *item)
{
	atomic_fetch_add(&drops[VAL(item)], 1);
}

static void test_abort(void)
{
	struct pdl_queue q;
	atomic_int never = 0;
	struct blocked pop = {.q = &q, .pred = allowed, .ctx = &never};
	struct blocked push = {.q = &q, .item = ITEM(7)};
	pthread_t tp, tq;
	size_t i;

	pdl_queue_init(&q, 5);
	for (i = 0; i < 3; i++) { /* wrap the ring */
		pdl_queue_push(&q, ITEM(0));
		pdl_queue_pop(&q);
	}
	for (i = 1; i <= 5; i++)
		pdl_queue_push(&q, ITEM(i));
	start(&tp, pop_thread, &pop);	/* waits: refuses everything */
	start(&tq, push_thread, &push); /* waits: full */
	sleep_ms(20);
	pdl_queue_abort(&q, drop);
	pthread_join(tp, NULL);
	pthread_join(tq, NULL);
	CHECK(pop.popped == NULL);
	CHECK(!push.pushed);
	CHECK_INT(atomic_load(&drops[0]), 0);
	for (i = 1; i <= 5; i++)
		CHECK_INT(atomic_load(&drops[i]), 1);
	CHECK_INT(atomic_load(&drops[7]), 0);
	CHECK(!pdl_queue_push(&q, ITEM(6)));
	CHECK(pdl_queue_pop(&q) == NULL);
	pdl_queue_abort(&q, drop); /* again: nothing left to drop */
	for (i = 1; i <= 5; i++)
		CHECK_INT(atomic_load(&drops[i]), 1);
	pdl_queue_finish(&q);
}

enum { PRODUCERS = 4, CONSUMERS = 4, PER_PRODUCER = 100000 };

struct stress {
	struct pdl_queue q;
	atomic_uchar seen[PRODUCERS * PER_PRODUCER];
	atomic_int out_of_order;
};

struct worker {
	struct stress *s;
	size_t id;
};

static void *producer(void *arg)
{
	struct worker *w = arg;
	size_t i;

	for (i = 0; i < PER_PRODUCER; i++)
		if (!pdl_queue_push(&w->s->q,
				    ITEM(w->id * PER_PRODUCER + i + 1)))
			abort();
	return NULL;
}

static bool anything(void *item, void *ctx)
{
	return true;
}

static bool odd_only(void *item, void *ctx)
{
	return VAL(item) % 2 == 1;
}

/* Consumers differ: plain pop, pop_if taking anything, and pop_if taking
 * only odd items, which must still end when the rest is drained. */
static void *consumer(void *arg)
{
	struct worker *w = arg;
	size_t last[PRODUCERS] = {0}, v, p;
	void *item;

	for (;;) {
		if (w->id == 3)
			item = pdl_queue_pop_if(&w->s->q, odd_only, NULL);
		else if (w->id == 2)
			item = pdl_queue_pop_if(&w->s->q, anything, NULL);
		else
			item = pdl_queue_pop(&w->s->q);
		if (!item)
			break;
		v = VAL(item) - 1;
		atomic_fetch_add(&w->s->seen[v], 1);
		/* One consumer sees each producer's items in push order. */
		p = v / PER_PRODUCER;
		if (v + 1 <= last[p])
			atomic_fetch_add(&w->s->out_of_order, 1);
		last[p] = v + 1;
	}
	return NULL;
}

static void test_stress(void)
{
	struct stress *s = calloc(1, sizeof(*s));
	struct worker pw[PRODUCERS], cw[CONSUMERS];
	pthread_t pt[PRODUCERS], ct[CONSUMERS];
	size_t i, bad = 0;

	if (!s)
		abort();
	pdl_queue_init(&s->q, 64);
	for (i = 0; i < CONSUMERS; i++) {
		cw[i] = (struct worker){s, i};
		start(&ct[i], consumer, &cw[i]);
	}
	for (i = 0; i < PRODUCERS; i++) {
		pw[i] = (struct worker){s, i};
		start(&pt[i], producer, &pw[i]);
	}
	for (i = 0; i < PRODUCERS; i++)
		pthread_join(pt[i], NULL);
	pdl_queue_close(&s->q);
	for (i = 0; i < CONSUMERS; i++)
		pthread_join(ct[i], NULL);
	for (i = 0; i < PRODUCERS * PER_PRODUCER; i++)
		if (atomic_load(&s->seen[i]) != 1)
			bad++;
	CHECK_INT(bad, 0);
	CHECK_INT(atomic_load(&s->out_of_order), 0);
	pdl_queue_finish(&s->q);
	free(s);
}

struct notes {
	int pushes, closes;
	bool locked_inside; /* the queue lock was held during the call */
	struct pdl_queue *q;
};

static void note(void *ctx, bool all)
{
	struct notes *n = ctx;
	if (all)
		n->closes++;
	else
		n->pushes++;
	/* Called with the lock held: trylock must fail. */
	if (pthread_mutex_trylock(&n->q->lock) == 0)
		pthread_mutex_unlock(&n->q->lock);
	else
		n->locked_inside = true;
}

/* The event-loop side: try_pop_if never blocks, says when the queue is
 * drained, and every push, wake and close is announced under the lock. */
static void test_try_pop_and_notify(void)
{
	struct pdl_queue q;
	struct notes n = {.q = &q};
	bool drained = true;

	CHECK(pdl_queue_init(&q, 4) == 0);
	CHECK(pdl_queue_try_pop_if(&q, NULL, NULL, &drained) == NULL);
	CHECK(!drained);
	pdl_queue_set_notify(&q, note, &n);
	CHECK(pdl_queue_push(&q, ITEM(1)));
	CHECK(pdl_queue_push(&q, ITEM(3)));
	CHECK(pdl_queue_push(&q, ITEM(4)));
	CHECK(n.pushes == 3 && n.closes == 0);
	CHECK(n.locked_inside);
	/* pred refuses the odd ones: the even one is taken past them. */
	CHECK(VAL(pdl_queue_try_pop_if(&q, is_even, NULL, &drained)) == 4);
	CHECK(pdl_queue_try_pop_if(&q, is_even, NULL, &drained) == NULL);
	CHECK(!drained);
	pdl_queue_wake(&q);
	CHECK(n.pushes == 4 && n.closes == 0);
	pdl_queue_close(&q);
	CHECK(n.closes == 1);
	/* Closed but not empty: not drained yet. */
	CHECK(VAL(pdl_queue_try_pop_if(&q, NULL, NULL, &drained)) == 1);
	CHECK(!drained);
	CHECK(VAL(pdl_queue_try_pop_if(&q, NULL, NULL, &drained)) == 3);
	CHECK(drained);
	CHECK(pdl_queue_try_pop_if(&q, NULL, NULL, &drained) == NULL);
	CHECK(drained);
	/* Once removed, it is never called again. */
	pdl_queue_set_notify(&q, NULL, NULL);
	CHECK(!pdl_queue_push(&q, ITEM(5)));
	pdl_queue_close(&q);
	CHECK(n.pushes == 4 && n.closes == 1);
	pdl_queue_finish(&q);
}

int main(void)
{
	/* A lost wakeup shows as a hang: fail instead. */
	alarm(50);
	test_fifo();
	test_capacity();
	test_close_wakes();
	test_pop_if_order();
	test_pop_if_waits();
	test_push_reaches_all();
	test_abort();
	test_try_pop_and_notify();
	test_stress();
	return check_done();
}
