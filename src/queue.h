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
	/* Called with the lock held after a push or wake (all false) and on
	 * close and abort (all true); see pdl_queue_set_notify. */
	void (*notify)(void *ctx, bool all);
	void *notify_ctx;
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

/* Never blocks: the oldest item pred accepts, or NULL when there is none
 * now. *drained is set once the queue is closed and empty. */
void *pdl_queue_try_pop_if(struct pdl_queue *q, pdl_queue_pred pred, void *ctx,
			   bool *drained);

/* For consumers that wait elsewhere (an event loop) and poll with
 * try_pop_if: fn is called with the queue locked after every push and
 * wake, and with all set after close and abort (which a consumer busy
 * with other work must see too). It must be quick and must not
 * touch the queue. Setting it under the lock means that once it is
 * replaced, no call to the old one is still running. NULL removes it. */
void pdl_queue_set_notify(struct pdl_queue *q, void (*fn)(void *ctx, bool all),
			  void *ctx);

/* No more pushes; poppers drain what is left then get NULL. */
void pdl_queue_close(struct pdl_queue *q);

/* Close and drop everything still queued, passing each item to drop. */
void pdl_queue_abort(struct pdl_queue *q, void (*drop)(void *item));

#endif
