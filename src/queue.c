/* The bounded job queue: a ring buffer under one mutex, with one condition
 * for consumers and one for producers. */
#include "queue.h"

#include <errno.h>
#include <stdlib.h>

int pdl_queue_init(struct pdl_queue *q, size_t cap)
{
	if (cap == 0) {
		errno = EINVAL;
		return -1;
	}
	q->items = calloc(cap, sizeof(*q->items));
	if (!q->items)
		return -1;
	q->cap = cap;
	q->head = 0;
	q->len = 0;
	q->pushers = 0;
	q->pred_poppers = 0;
	q->closed = false;
	q->notify = NULL;
	q->notify_ctx = NULL;
	if (pthread_mutex_init(&q->lock, NULL))
		goto err_items;
	if (pthread_cond_init(&q->not_empty, NULL))
		goto err_lock;
	if (pthread_cond_init(&q->not_full, NULL))
		goto err_not_empty;
	return 0;

err_not_empty:
	pthread_cond_destroy(&q->not_empty);
err_lock:
	pthread_mutex_destroy(&q->lock);
err_items:
	free(q->items);
	q->items = NULL;
	errno = ENOMEM;
	return -1;
}

/* Items still queued are the caller's: drain or abort first. */
void pdl_queue_finish(struct pdl_queue *q)
{
	pthread_cond_destroy(&q->not_full);
	pthread_cond_destroy(&q->not_empty);
	pthread_mutex_destroy(&q->lock);
	free(q->items);
	q->items = NULL;
}

bool pdl_queue_push(struct pdl_queue *q, void *item)
{
	pthread_mutex_lock(&q->lock);
	while (!q->closed && q->len == q->cap) {
		q->pushers++;
		pthread_cond_wait(&q->not_full, &q->lock);
		q->pushers--;
	}
	if (q->closed) {
		pthread_mutex_unlock(&q->lock);
		return false;
	}
	q->items[(q->head + q->len) % q->cap] = item;
	q->len++;
	/* Broadcast when pop_if waiters with a predicate are about: a signal
	 * taken by one that refuses this item would be lost to one that would
	 * accept it. Plain poppers all take anything: waking one is enough,
	 * and waking all only to send all but one back to sleep costs each a
	 * context switch per item. */
	if (q->pred_poppers)
		pthread_cond_broadcast(&q->not_empty);
	else
		pthread_cond_signal(&q->not_empty);
	if (q->notify)
		q->notify(q->notify_ctx, false);
	pthread_mutex_unlock(&q->lock);
	return true;
}

/* Removes the item at offset i from the head, keeping the others in order
 * by closing the gap from whichever side is shorter. Lock held. */
static void *take_at(struct pdl_queue *q, size_t i, bool eager)
{
	void *item = q->items[(q->head + i) % q->cap];
	size_t k;

	if (2 * i < q->len) {
		for (k = i; k > 0; k--)
			q->items[(q->head + k) % q->cap] =
			    q->items[(q->head + k - 1) % q->cap];
		q->head = (q->head + 1) % q->cap;
	} else {
		for (k = i; k + 1 < q->len; k++)
			q->items[(q->head + k) % q->cap] =
			    q->items[(q->head + k + 1) % q->cap];
	}
	q->len--;
	/* A waiting producer is woken once half the room is free, not for
	 * every slot: it then pushes a batch in one go instead of sleeping
	 * and waking once per item. With a predicate the items left may all
	 * be refused, so the producer is woken at once to bring others. */
	if (q->pushers && (eager || q->len <= q->cap / 2))
		pthread_cond_signal(&q->not_full);
	/* Waiters that refused the last item must now see closed-and-empty. */
	if (q->closed && q->len == 0)
		pthread_cond_broadcast(&q->not_empty);
	return item;
}

/* pred runs with the queue locked, so it must not call back into the queue.
 * The first item it accepts is taken at once and pred is not asked again,
 * so pred may reserve something (a per-host slot) when it says yes. */
void *pdl_queue_pop_if(struct pdl_queue *q, pdl_queue_pred pred, void *ctx)
{
	void *item = NULL;
	size_t i;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		for (i = 0; i < q->len; i++) {
			if (!pred ||
			    pred(q->items[(q->head + i) % q->cap], ctx))
				break;
		}
		if (i < q->len) {
			item = take_at(q, i, pred != NULL);
			break;
		}
		/* Closed with items left that pred refuses: whoever changes
		 * what pred reads calls pdl_queue_wake. */
		if (q->closed && q->len == 0)
			break;
		if (pred)
			q->pred_poppers++;
		pthread_cond_wait(&q->not_empty, &q->lock);
		if (pred)
			q->pred_poppers--;
	}
	pthread_mutex_unlock(&q->lock);
	return item;
}

void *pdl_queue_pop(struct pdl_queue *q)
{
	return pdl_queue_pop_if(q, NULL, NULL);
}

void *pdl_queue_try_pop_if(struct pdl_queue *q, pdl_queue_pred pred, void *ctx,
			   bool *drained)
{
	void *item = NULL;

	pthread_mutex_lock(&q->lock);
	for (size_t i = 0; i < q->len; i++) {
		if (!pred || pred(q->items[(q->head + i) % q->cap], ctx)) {
			item = take_at(q, i, pred != NULL);
			break;
		}
	}
	*drained = q->closed && q->len == 0;
	pthread_mutex_unlock(&q->lock);
	return item;
}

void pdl_queue_set_notify(struct pdl_queue *q, void (*fn)(void *ctx, bool all),
			  void *ctx)
{
	pthread_mutex_lock(&q->lock);
	q->notify = fn;
	q->notify_ctx = ctx;
	pthread_mutex_unlock(&q->lock);
}

void pdl_queue_wake(struct pdl_queue *q)
{
	pthread_mutex_lock(&q->lock);
	pthread_cond_broadcast(&q->not_empty);
	if (q->notify)
		q->notify(q->notify_ctx, false);
	pthread_mutex_unlock(&q->lock);
}

void pdl_queue_close(struct pdl_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = true;
	pthread_cond_broadcast(&q->not_empty);
	pthread_cond_broadcast(&q->not_full);
	if (q->notify)
		q->notify(q->notify_ctx, true);
	pthread_mutex_unlock(&q->lock);
}

/* Items are handed to drop one at a time outside the lock, so drop may take
 * other locks or even touch the queue. A concurrent popper may still win an
 * item; each item goes to exactly one of them. */
void pdl_queue_abort(struct pdl_queue *q, void (*drop)(void *item))
{
	void *item;

	pdl_queue_close(q);
	for (;;) {
		pthread_mutex_lock(&q->lock);
		if (q->len == 0) {
			/* pop_if waiters holding out for a refused item can
			 * now see closed-and-empty. */
			pthread_cond_broadcast(&q->not_empty);
			pthread_mutex_unlock(&q->lock);
			return;
		}
		item = q->items[q->head];
		q->head = (q->head + 1) % q->cap;
		q->len--;
		pthread_mutex_unlock(&q->lock);
		if (drop)
			drop(item);
	}
}
