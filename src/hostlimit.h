/* --max-per-host: how many transfers each host:port has in flight. Entries
 * exist only while a host has transfers, so memory follows what is in
 * flight, not the list. */
#ifndef PDL_HOSTLIMIT_H
#define PDL_HOSTLIMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct pdl_hostcount {
	struct pdl_hostcount *next;
	long n;
	char host[];
};

struct pdl_hostlimit {
	pthread_mutex_t lock;
	long max;
	struct pdl_hostcount **buckets; /* chained; nbuckets a power of 2 */
	size_t nbuckets, used;
};

int pdl_hostlimit_init(struct pdl_hostlimit *h, long max);
void pdl_hostlimit_finish(struct pdl_hostlimit *h);

/* Counts one more transfer to host if it has fewer than max; false when it
 * is at its limit (or out of memory). */
bool pdl_hostlimit_acquire(struct pdl_hostlimit *h, const char *host);
void pdl_hostlimit_release(struct pdl_hostlimit *h, const char *host);
/* Transfers in flight to host, for the tests. */
long pdl_hostlimit_count(struct pdl_hostlimit *h, const char *host);

#endif
