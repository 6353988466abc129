/* The worker pool: N threads, each with its own libcurl handle, taking jobs
 * from the queue and handing results to the report. */
#ifndef PDL_POOL_H
#define PDL_POOL_H

#include <pthread.h>
#include <stddef.h>

#include "queue.h"
#include "report.h"
#include "transfer.h"

struct pdl_pool {
	pthread_t *threads;
	size_t n;
	struct pdl_queue *queue;
	const struct pdl_env *env;
	struct pdl_report *report;
	struct pdl_hostlimit *hosts; /* NULL: no --max-per-host */
};

/* Starts n workers; on failure none is left running. */
int pdl_pool_start(struct pdl_pool *p, size_t n, struct pdl_queue *q,
		   const struct pdl_env *env, struct pdl_report *r);
/* Waits for the workers, which stop once the queue is closed and drained. */
void pdl_pool_join(struct pdl_pool *p);

/* Runs one job on h and reports it: the body of a worker, and of
 * --sequential on the main thread. Frees the job. */
void pdl_pool_run_job(CURL *h, const struct pdl_env *env, struct pdl_report *r,
		      struct pdl_job *job);

#endif
