/* A token bucket with debt: a caller that takes more than is there waits
 * until the bucket would have refilled, which keeps the long-run average at
 * the rate whatever the chunk sizes. */
#include "ratelimit.h"

#include <time.h>

void pdl_ratelimit_init(struct pdl_ratelimit *r, int64_t bytes_per_s)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	pthread_mutex_init(&r->lock, NULL);
	r->rate = (double)bytes_per_s;
	/* A tenth of a second of burst keeps the rate smooth over the
	 * few-second windows users look at. */
	r->burst = r->rate / 10;
	r->tokens = 0;
	r->last = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void pdl_ratelimit_finish(struct pdl_ratelimit *r)
{
	pthread_mutex_destroy(&r->lock);
}

double pdl_ratelimit_take_at(struct pdl_ratelimit *r, size_t n, double now)
{
	pthread_mutex_lock(&r->lock);
	if (now > r->last) {
		r->tokens += (now - r->last) * r->rate;
		if (r->tokens > r->burst)
			r->tokens = r->burst;
		r->last = now;
	}
	r->tokens -= (double)n;
	double wait = r->tokens < 0 ? -r->tokens / r->rate : 0;
	pthread_mutex_unlock(&r->lock);
	return wait;
}

double pdl_ratelimit_take(struct pdl_ratelimit *r, size_t n)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return pdl_ratelimit_take_at(
	    r, n, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}
