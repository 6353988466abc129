/* A bounded blocking queue of pointers between the list reader and the
 * workers: it keeps memory flat however long the list is. */
#ifndef PDL_QUEUE_H
#define PDL_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct pdl_queue {
	pthread_mutex_t lock;
	pthread_cond_t not_empty;
	pthread_cond_t not_full;
	void **items;
	size_t cap, head, len;
	size_t pushers;	     /* waiting for room */
	size_t pred_poppers; /* waiting in pop_if with a predicate */
	bool closed;
};

/* Decides whether a waiting item may be taken now (e.g. a per-host limit). */
typedef bool (*pdl_queue_pred)(void *item, void *ctx);

int pdl_queue_init(struct pdl_queue *q, size_t cap);
void pdl_queue_finish(struct pdl_queue *q);

/* Blocks while full. Returns false, without taking the item, once closed. */
bool pdl_queue_push(struct pdl_queue *q, void *item);

/* Blocks until an item is available; NULL once closed and drained. */
void *pdl_queue_pop(struct pdl_queue *q);

/* Like pop, but takes the oldest item for which pred holds; waits while none
 * does. Call pdl_queue_wake after whatever pred reads has changed. */
void *pdl_queue_pop_if(struct pdl_queue *q, pdl_queue_pred pred, void *ctx);
void pdl_queue_wake(struct pdl_queue *q);

/* No more pushes; poppers drain what is left then get NULL. */
void pdl_queue_close(struct pdl_queue *q);

/* Close and drop everything still queued, passing each item to drop. */
void pdl_queue_abort(struct pdl_queue *q, void (*drop)(void *item));

#endif
