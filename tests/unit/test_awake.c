/* Unit tests for awake.c: when a transfer thread waits awake. */
#include "awake.h"

#include "check.h"

/* One wait for an answer that comes after `answer` seconds, as pool.c
 * waits: awake first when told so, the look catching answers within
 * PDL_AWAKE_S. A wait asleep takes `wake` longer than the answer. Whether
 * it began awake. */
static bool wait_for(struct pdl_awake *a, double answer, double wake)
{
	bool look = pdl_awake_next(a, 0);
	if (look && answer <= PDL_AWAKE_S)
		pdl_awake_note(a, answer);
	else
		pdl_awake_note(a, answer + wake);
	return look;
}

static int waits(struct pdl_awake *a, int n, double answer, double wake)
{
	int looks = 0;
	for (int i = 0; i < n; i++)
		looks += wait_for(a, answer, wake);
	return looks;
}

/* A new thread sleeps: the first waits tell what the servers are like. */
static void test_starts_asleep(void)
{
	struct pdl_awake a;
	pdl_awake_init(&a);
	CHECK(!pdl_awake_next(&a, 0));
	CHECK(!wait_for(&a, 10e-6, 0));
	CHECK(!pdl_awake_next(&a, 0));
}

/* A server on the same machine: answers in tens of microseconds, and a
 * wake-up as long again. */
static void test_quick_answers_wake_it(void)
{
	struct pdl_awake a;
	pdl_awake_init(&a);
	CHECK(waits(&a, 10, 30e-6, 50e-6) > 0);
	CHECK(pdl_awake_next(&a, 0));
	/* ... and keep it awake: every look catches its answer. */
	CHECK_INT(waits(&a, 100, 30e-6, 50e-6), 100);
	/* A wait asleep of up to PDL_AWAKE_S counts as short... */
	pdl_awake_init(&a);
	waits(&a, 10, PDL_AWAKE_S, 0);
	CHECK(pdl_awake_next(&a, 0));
	/* ... just over it does not. */
	pdl_awake_init(&a);
	CHECK_INT(waits(&a, 100, PDL_AWAKE_S * 1.01, 0), 0);
}

/* One slow answer among quick ones (a larger file, a busy moment) does
 * not send the thread back to sleep; a run of them does, and quick ones
 * wake it again. */
static void test_slow_answers_put_it_to_sleep(void)
{
	struct pdl_awake a;
	pdl_awake_init(&a);
	waits(&a, 20, 20e-6, 50e-6);
	CHECK(wait_for(&a, 0.5, 50e-6));
	CHECK(pdl_awake_next(&a, 0));
	waits(&a, 5, 20e-6, 50e-6);
	waits(&a, 10, 2e-3, 50e-6);
	CHECK(!pdl_awake_next(&a, 0));
	waits(&a, 10, 20e-6, 50e-6);
	CHECK(pdl_awake_next(&a, 0));
}

/* A server across a network whose bytes now and then come quickly (the
 * next ones of a body already there): mostly long waits, never awake. */
static void test_mostly_slow_stays_asleep(void)
{
	struct pdl_awake a;
	pdl_awake_init(&a);
	int looks = 0;
	for (int i = 0; i < 300; i++)
		looks += wait_for(&a, i % 3 == 0 ? 20e-6 : 1e-3, 50e-6);
	CHECK_INT(looks, 0);
}

/* A server whose answers are mostly a little too slow for the look, one
 * in four quick: it hardly ever looks in vain. */
static void test_vain_looks_count_long(void)
{
	struct pdl_awake a;
	pdl_awake_init(&a);
	int vain = 0;
	for (int i = 0; i < 400; i++) {
		double answer = i % 4 ? 1.5 * PDL_AWAKE_S : 0.3 * PDL_AWAKE_S;
		vain += wait_for(&a, answer, 20e-6) && answer > PDL_AWAKE_S;
	}
	CHECK(vain <= 5);
	/* Ten looks in a row that find nothing put it to sleep. */
	pdl_awake_init(&a);
	waits(&a, 20, 20e-6, 50e-6);
	CHECK(pdl_awake_next(&a, 0));
	for (int i = 0; i < 10; i++)
		pdl_awake_note(&a, PDL_AWAKE_S + 1e-3);
	CHECK(!pdl_awake_next(&a, 0));
}

/* Quick answers, but a download past PDL_AWAKE_BULK streams: its waits
 * begin asleep. Once it is over, the next answer's wait begins awake. */
static void test_streaming_body_waits_asleep(void)
{
	struct pdl_awake a;
	pdl_awake_init(&a);
	waits(&a, 20, 20e-6, 50e-6);
	CHECK(pdl_awake_next(&a, 0));
	CHECK(pdl_awake_next(&a, PDL_AWAKE_BULK - 1));
	CHECK(!pdl_awake_next(&a, PDL_AWAKE_BULK));
	CHECK(!pdl_awake_next(&a, (int64_t)64 << 20));
	for (int i = 0; i < 100; i++)
		pdl_awake_note(&a, 30e-6);
	CHECK(pdl_awake_next(&a, 0));
}

int main(void)
{
	test_starts_asleep();
	test_quick_answers_wake_it();
	test_slow_answers_put_it_to_sleep();
	test_mostly_slow_stays_asleep();
	test_vain_looks_count_long();
	test_streaming_body_waits_asleep();
	return check_done();
}
