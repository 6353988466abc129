/* --limit-rate: one token bucket shared by every transfer, so the cap is on
 * the total, not per transfer. */
#ifndef PDL_RATELIMIT_H
#define PDL_RATELIMIT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct pdl_ratelimit {
	pthread_mutex_t lock;
	double rate;   /* bytes per second */
	double burst;  /* most tokens that may pile up */
	double tokens; /* may go negative: debt the caller waits off */
	double last;   /* monotonic seconds of the last refill */
};

void pdl_ratelimit_init(struct pdl_ratelimit *r, int64_t bytes_per_s);
void pdl_ratelimit_finish(struct pdl_ratelimit *r);

/* Takes n bytes from the bucket; returns how many seconds the caller should
 * wait before receiving more (0 when within the rate). */
double pdl_ratelimit_take(struct pdl_ratelimit *r, size_t n);

/* The same with an explicit clock, for the tests. */
double pdl_ratelimit_take_at(struct pdl_ratelimit *r, size_t n, double now);

#endif
