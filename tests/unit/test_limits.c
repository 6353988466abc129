/* The shared rate limiter and the per-host counts. */
#include "check.h"

#include <math.h>
#include <pthread.h>

#include "hostlimit.h"
#include "ratelimit.h"

static struct pdl_hostlimit shared;

static void *hammer(void *arg)
{
	const char *host = arg;
	for (int i = 0; i < 20000; i++) {
		if (pdl_hostlimit_acquire(&shared, host)) {
			long n = pdl_hostlimit_count(&shared, host);
			if (n > 3 || n < 1)
				CHECK(0);
			pdl_hostlimit_release(&shared, host);
		}
	}
	return NULL;
}

int main(void)
{
	/* Rate: over a simulated 10 s of 16 KiB chunks, the waits the bucket
	 * asks for keep the average at the rate. */
	{
		struct pdl_ratelimit r;
		pdl_ratelimit_init(&r, 1000 * 1000);
		double t = r.last;
		double start = t;
		size_t total = 0;
		while (t - start < 10.0) {
			double w = pdl_ratelimit_take_at(&r, 16384, t);
			total += 16384;
			t += w > 0 ? w : 0.001;
		}
		double rate = (double)total / (t - start);
		CHECK(fabs(rate - 1e6) / 1e6 < 0.05);
		pdl_ratelimit_finish(&r);
	}
	/* No wait while within the rate; a big chunk waits it off. */
	{
		struct pdl_ratelimit r;
		pdl_ratelimit_init(&r, 1000);
		double t = r.last + 1.0; /* bucket refills only up to burst */
		CHECK(pdl_ratelimit_take_at(&r, 50, t) == 0);
		double w = pdl_ratelimit_take_at(&r, 2000, t);
		CHECK(w > 1.9 && w < 2.0);
		pdl_ratelimit_finish(&r);
	}

	/* Host counts: limit, release, independence of hosts. */
	{
		struct pdl_hostlimit h;
		CHECK_INT(pdl_hostlimit_init(&h, 2), 0);
		CHECK(pdl_hostlimit_acquire(&h, "a:80"));
		CHECK(pdl_hostlimit_acquire(&h, "a:80"));
		CHECK(!pdl_hostlimit_acquire(&h, "a:80"));
		CHECK(pdl_hostlimit_acquire(&h, "a:81"));
		CHECK(pdl_hostlimit_acquire(&h, "b:80"));
		CHECK_INT(pdl_hostlimit_count(&h, "a:80"), 2);
		pdl_hostlimit_release(&h, "a:80");
		CHECK_INT(pdl_hostlimit_count(&h, "a:80"), 1);
		CHECK(pdl_hostlimit_acquire(&h, "a:80"));
		/* Many hosts: the table grows and forgets idle hosts. */
		char name[32];
		for (int i = 0; i < 5000; i++) {
			snprintf(name, sizeof(name), "h%d:443", i);
			CHECK(pdl_hostlimit_acquire(&h, name));
		}
		for (int i = 0; i < 5000; i++) {
			snprintf(name, sizeof(name), "h%d:443", i);
			pdl_hostlimit_release(&h, name);
		}
		CHECK_INT(pdl_hostlimit_count(&h, "h17:443"), 0);
		CHECK_INT(h.used, 3);
		pdl_hostlimit_finish(&h);
	}

	/* Concurrent acquire/release never exceeds the limit. */
	{
		CHECK_INT(pdl_hostlimit_init(&shared, 3), 0);
		pthread_t t[8];
		for (int i = 0; i < 8; i++)
			pthread_create(&t[i], NULL, hammer,
				       (void *)(i % 2 ? "x:1" : "y:1"));
		for (int i = 0; i < 8; i++)
			pthread_join(t[i], NULL);
		CHECK_INT(pdl_hostlimit_count(&shared, "x:1"), 0);
		pdl_hostlimit_finish(&shared);
	}
	return check_done();
}
