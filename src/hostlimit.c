/* Per-host transfer counts in a small chained hash table. */
#include "hostlimit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

int pdl_hostlimit_init(struct pdl_hostlimit *h, long max)
{
	memset(h, 0, sizeof(*h));
	h->max = max;
	h->nbuckets = 64;
	h->buckets = calloc(h->nbuckets, sizeof(*h->buckets));
	if (!h->buckets)
		return -1;
	pthread_mutex_init(&h->lock, NULL);
	return 0;
}

void pdl_hostlimit_finish(struct pdl_hostlimit *h)
{
	if (!h->buckets)
		return;
	for (size_t i = 0; i < h->nbuckets; i++) {
		struct pdl_hostcount *c = h->buckets[i];
		while (c) {
			struct pdl_hostcount *next = c->next;
			free(c);
			c = next;
		}
	}
	free(h->buckets);
	h->buckets = NULL;
	pthread_mutex_destroy(&h->lock);
}

static struct pdl_hostcount **find(struct pdl_hostlimit *h, const char *host)
{
	struct pdl_hostcount **p = &h->buckets[hash(host) & (h->nbuckets - 1)];
	while (*p && strcmp((*p)->host, host))
		p = &(*p)->next;
	return p;
}

static void grow(struct pdl_hostlimit *h)
{
	size_t n = h->nbuckets * 2;
	struct pdl_hostcount **b = calloc(n, sizeof(*b));
	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < h->nbuckets; i++) {
		struct pdl_hostcount *c = h->buckets[i];
		while (c) {
			struct pdl_hostcount *next = c->next;
			size_t j = hash(c->host) & (n - 1);
			c->next = b[j];
			b[j] = c;
			c = next;
		}
	}
	free(h->buckets);
	h->buckets = b;
	h->nbuckets = n;
}

bool pdl_hostlimit_acquire(struct pdl_hostlimit *h, const char *host)
{
	bool ok = false;
	pthread_mutex_lock(&h->lock);
	struct pdl_hostcount **p = find(h, host);
	if (*p) {
		if ((*p)->n < h->max) {
			(*p)->n++;
			ok = true;
		}
	} else {
		size_t len = strlen(host);
		struct pdl_hostcount *c = malloc(sizeof(*c) + len + 1);
		if (c) {
			memcpy(c->host, host, len + 1);
			c->n = 1;
			c->next = NULL;
			*p = c;
			ok = true;
			if (++h->used > h->nbuckets)
				grow(h);
		}
	}
	pthread_mutex_unlock(&h->lock);
	return ok;
}

void pdl_hostlimit_release(struct pdl_hostlimit *h, const char *host)
{
	pthread_mutex_lock(&h->lock);
	struct pdl_hostcount **p = find(h, host);
	struct pdl_hostcount *c = *p;
	if (c && --c->n <= 0) {
		*p = c->next;
		free(c);
		h->used--;
	}
	pthread_mutex_unlock(&h->lock);
}

long pdl_hostlimit_count(struct pdl_hostlimit *h, const char *host)
{
	pthread_mutex_lock(&h->lock);
	struct pdl_hostcount *c = *find(h, host);
	long n = c ? c->n : 0;
	pthread_mutex_unlock(&h->lock);
	return n;
}
