/* Long bodies fetched in parts: the parts of a body, and the board where
 * idle slots find one to take over (split.h). Lock order: the board, then
 * a body's. */
#include "split.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pdl_board_init(struct pdl_board *b)
{
	memset(b, 0, sizeof(*b));
	return pthread_mutex_init(&b->lock, NULL) ? -1 : 0;
}

void pdl_board_finish(struct pdl_board *b)
{
	free(b->open);
	b->open = NULL;
	b->n = b->cap = 0;
	pthread_mutex_destroy(&b->lock);
}

struct pdl_split *pdl_split_new(struct pdl_job *job, int fd, int64_t total,
				int64_t pos, const char *validator, double now,
				void (*wake)(void *), void *wake_ctx)
{
	struct pdl_split *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (pthread_mutex_init(&s->lock, NULL)) {
		free(s);
		return NULL;
	}
	s->part[0] = (struct pdl_part){
	    .start = 0, .pos = pos, .end = total, .running = true, .t0 = now};
	s->n_parts = 1;
	s->users = 1;
	s->fd = fd;
	s->total = total;
	snprintf(s->validator, sizeof(s->validator), "%s", validator);
	s->job = job;
	s->wake = wake;
	s->wake_ctx = wake_ctx;
	return s;
}

void pdl_split_free(struct pdl_split *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

bool pdl_board_post(struct pdl_board *b, struct pdl_split *s)
{
	bool ok = true;

	pthread_mutex_lock(&b->lock);
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 8;
		struct pdl_split **o = realloc(b->open, cap * sizeof(*o));
		if (o) {
			b->open = o;
			b->cap = cap;
		} else {
			ok = false;
		}
	}
	if (ok) {
		b->open[b->n++] = s;
		/* Under the board's lock, as every other change of it. */
		pthread_mutex_lock(&s->lock);
		s->posted = true;
		pthread_mutex_unlock(&s->lock);
	}
	pthread_mutex_unlock(&b->lock);
	return ok;
}

/* Board lock held. */
static void unpost(struct pdl_board *b, struct pdl_split *s)
{
	for (size_t i = 0; i < b->n; i++) {
		if (b->open[i] == s) {
			b->open[i] = b->open[--b->n];
			break;
		}
	}
	s->posted = false;
}

/* Where a helper asking for p's tail now should begin: half of what p
 * will have left when the helper's answer comes. 0: nowhere. */
static int64_t split_point(const struct pdl_part *p, double latency, double now,
			   int64_t *left)
{
	double secs = now - p->t0;
	double rate = secs > 0 ? (double)(p->pos - p->start) / secs : 0;
	int64_t ahead = (int64_t)(rate * latency);

	*left = p->end - p->pos - ahead;
	return *left > 0 ? p->pos + ahead + *left / 2 : 0;
}

bool pdl_board_pick(struct pdl_board *b, int64_t min_left, double now,
		    struct pdl_ask *ask)
{
	struct pdl_split *best = NULL;
	int64_t best_left = min_left - 1;

	pthread_mutex_lock(&b->lock);
	for (size_t i = 0; i < b->n; i++) {
		struct pdl_split *s = b->open[i];
		pthread_mutex_lock(&s->lock);
		if (!s->closed && !s->failed && s->n_parts < PDL_SPLIT_PARTS) {
			for (int k = 0; k < s->n_parts; k++) {
				const struct pdl_part *p = &s->part[k];
				int64_t left;
				int64_t from =
				    split_point(p, b->latency, now, &left);
				if (!p->running || p->asked ||
				    left <= best_left)
					continue;
				from -= from % PDL_SPLIT_ALIGN;
				if (from <= p->pos)
					continue;
				best = s;
				best_left = left;
				*ask = (struct pdl_ask){.split = s,
							.part = k,
							.from = from,
							.end = p->end};
			}
		}
		pthread_mutex_unlock(&s->lock);
	}
	if (best) {
		pthread_mutex_lock(&best->lock);
		best->part[ask->part].asked = true;
		best->users++;
		pthread_mutex_unlock(&best->lock);
	}
	pthread_mutex_unlock(&b->lock);
	return best != NULL;
}

void pdl_board_latency(struct pdl_board *b, double secs)
{
	pthread_mutex_lock(&b->lock);
	b->latency = b->latency > 0 ? (3 * b->latency + secs) / 4 : secs;
	pthread_mutex_unlock(&b->lock);
}

int pdl_split_confirm(const struct pdl_ask *ask, double now)
{
	struct pdl_split *s = ask->split;
	struct pdl_part *p = &s->part[ask->part];
	int i = -1;

	pthread_mutex_lock(&s->lock);
	p->asked = false;
	if (p->running && !s->failed && p->end == ask->end &&
	    p->pos < ask->from && s->n_parts < PDL_SPLIT_PARTS) {
		i = s->n_parts++;
		s->part[i] = (struct pdl_part){.start = ask->from,
					       .pos = ask->from,
					       .end = ask->end,
					       .running = true,
					       .t0 = now};
		p->end = ask->from;
	} else if (++s->late >= PDL_SPLIT_LATE) {
		s->closed = true;
	}
	pthread_mutex_unlock(&s->lock);
	return i;
}

size_t pdl_split_take(struct pdl_split *s, int i, size_t len, int64_t *off,
		      bool *stop)
{
	struct pdl_part *p = &s->part[i];
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	*stop = s->failed;
	*off = p->pos;
	if (!s->failed) {
		int64_t left = p->end - p->pos;
		n = left < (int64_t)len ? (size_t)(left > 0 ? left : 0) : len;
		p->pos += (int64_t)n;
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

void pdl_split_give_back(struct pdl_split *s, int i, int64_t pos)
{
	pthread_mutex_lock(&s->lock);
	s->part[i].pos = pos;
	pthread_mutex_unlock(&s->lock);
}

void pdl_split_where(struct pdl_split *s, int i, int64_t *pos, int64_t *end)
{
	pthread_mutex_lock(&s->lock);
	*pos = s->part[i].pos;
	*end = s->part[i].end;
	pthread_mutex_unlock(&s->lock);
}

int pdl_split_leave(struct pdl_board *b, struct pdl_split *s,
		    const struct pdl_leave *how)
{
	void (*wake)(void *) = NULL;
	void *wake_ctx = NULL;

	pthread_mutex_lock(&b->lock);
	pthread_mutex_lock(&s->lock);
	if (how->part >= 0)
		s->part[how->part].running = false;
	else if (how->ask)
		s->part[how->ask->part].asked = false;
	if (how->refused)
		s->closed = true;
	if (how->part >= 0 && how->outcome != PDL_OK && !s->failed) {
		s->failed = true;
		s->interrupted = how->outcome == PDL_INTERRUPTED;
		snprintf(s->error, sizeof(s->error), "%s",
			 how->error ? how->error : "");
	}
	s->bytes += how->bytes;
	s->retries += how->retries;
	int users = --s->users;
	if (users == 0 && s->posted)
		unpost(b, s);
	if (how->owner && users > 0) {
		s->owner_waits = true;
	} else if (users == 0 && s->owner_waits) {
		/* Copied under the lock: once it sees no users, the owner
		 * may free s at any time. */
		wake = s->wake;
		wake_ctx = s->wake_ctx;
	}
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_unlock(&b->lock);
	if (wake)
		wake(wake_ctx);
	return users;
}

bool pdl_split_dissolve(struct pdl_board *b, struct pdl_split *s)
{
	bool alone;

	pthread_mutex_lock(&b->lock);
	pthread_mutex_lock(&s->lock);
	alone = s->users == 1 && s->n_parts == 1;
	if (alone && s->posted)
		unpost(b, s);
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_unlock(&b->lock);
	return alone;
}

int pdl_split_users(struct pdl_split *s)
{
	pthread_mutex_lock(&s->lock);
	int users = s->users;
	pthread_mutex_unlock(&s->lock);
	return users;
}

int64_t pdl_split_prefix(struct pdl_split *s)
{
	int64_t at = 0;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		int k = 0;
		while (k < s->n_parts && s->part[k].start != at)
			k++;
		if (k == s->n_parts)
			break;
		if (s->part[k].pos < s->part[k].end) {
			at = s->part[k].pos;
			break;
		}
		at = s->part[k].end;
		if (at >= s->total)
			break;
	}
	pthread_mutex_unlock(&s->lock);
	return at;
}
