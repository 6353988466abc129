/* The engine: event loops, each a thread driving many downloads at once on
 * one curl_multi handle, taking jobs from the queue and handing results to
 * the report. */
#ifndef PDL_POOL_H
#define PDL_POOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "queue.h"
#include "report.h"
#include "transfer.h"

struct pdl_loop;

struct pdl_pool {
	struct pdl_loop *loops;
	size_t n_loops;
	size_t n_threads; /* loops started on threads of their own */
	bool cpu_spare;	  /* the loops leave a CPU free: settlers, awake.h */
	struct pdl_queue *queue;
	const struct pdl_env *env;
	struct pdl_report *report;
	struct pdl_hostlimit *hosts; /* NULL: no --max-per-host */
	bool splitting;		     /* long bodies may go in parts */
	atomic_long busy;	     /* downloads taken and not over */
	struct pdl_board board;	     /* ... found here (split.h) */
};

/* How many loops -j jobs gets: one per CPU this process may run on, never
 * more than jobs. */
size_t pdl_pool_loops_for(size_t jobs);

/* Sets up n_loops loops sharing jobs downloads at once between them, fed
 * from q. Set p->hosts before; on failure nothing is left to finish. */
int pdl_pool_init(struct pdl_pool *p, size_t jobs, size_t n_loops,
		  struct pdl_queue *q, const struct pdl_env *env,
		  struct pdl_report *r);

/* Runs every loop on a thread of its own. On failure none is running. */
int pdl_pool_start(struct pdl_pool *p);

/* Runs the one loop on the calling thread until the queue is drained
 * (--sequential: a pool of one loop with one download). */
void pdl_pool_run(struct pdl_pool *p);

/* Waits for started loops, which end once the queue is closed and drained
 * or a stop is asked for, and frees the pool. */
void pdl_pool_finish(struct pdl_pool *p);

#endif
