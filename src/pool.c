/* The worker pool. Each worker owns one libcurl handle for its whole life,
 * so connections to a host are kept alive from one URL to the next. */
#include "pool.h"

#include <stdlib.h>
#include <string.h>

#include "hostlimit.h"
#include "log.h"
#include "progress.h"

/* glibc's default 8 MiB stacks are address space only, but -j 1024 would
 * reserve 8 GiB of it; transfers need far less. */
#define WORKER_STACK (512 * 1024)

static bool host_has_room(void *item, void *ctx)
{
	const struct pdl_job *job = item;
	return pdl_hostlimit_acquire(ctx, job->host);
}

void pdl_pool_run_job(CURL *h, const struct pdl_env *env, struct pdl_report *r,
		      struct pdl_job *job)
{
	struct pdl_result res;
	struct pdl_progress *p = env->progress;

	if (p)
		atomic_fetch_add(&p->active, 1);
	pdl_transfer_run(h, env, job, &res);
	if (p) {
		atomic_fetch_sub(&p->active, 1);
		atomic_fetch_add(&p->done, 1);
		if (res.outcome != PDL_OK)
			atomic_fetch_add(&p->failed, 1);
	}
	/* With --continue every name stays reserved for the whole run, so a
	 * later URL of the same name is numbered as in the run that made the
	 * files. */
	if (!env->opt->resume) {
		if (res.outcome == PDL_OK)
			pdl_outdir_release_written(env->out, job->relname);
		else
			pdl_outdir_release(env->out, job->relname);
	}
	pdl_report_file(r, job, &res);
	pdl_result_finish(&res);
}

static void *worker(void *arg)
{
	struct pdl_pool *p = arg;
	CURL *h = pdl_transfer_handle_create(p->env);
	if (!h) {
		/* Leave the work to the other workers. */
		return NULL;
	}
	for (;;) {
		struct pdl_job *job =
		    p->hosts
			? pdl_queue_pop_if(p->queue, host_has_room, p->hosts)
			: pdl_queue_pop(p->queue);
		if (!job)
			break;
		pdl_pool_run_job(h, p->env, p->report, job);
		if (p->hosts) {
			pdl_hostlimit_release(p->hosts, job->host);
			pdl_queue_wake(p->queue);
		}
		pdl_job_destroy(job);
	}
	curl_easy_cleanup(h);
	return NULL;
}

int pdl_pool_start(struct pdl_pool *p, size_t n, struct pdl_queue *q,
		   const struct pdl_env *env, struct pdl_report *r)
{
	pthread_attr_t attr;
	struct pdl_hostlimit *hosts = p->hosts;

	memset(p, 0, sizeof(*p));
	p->hosts = hosts;
	p->queue = q;
	p->env = env;
	p->report = r;
	p->threads = calloc(n, sizeof(*p->threads));
	if (!p->threads)
		return -1;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, WORKER_STACK);
	for (size_t i = 0; i < n; i++) {
		int err = pthread_create(&p->threads[i], &attr, worker, p);
		if (err) {
			pdl_errorf("cannot start worker %zu: %s", i + 1,
				   strerror(err));
			break;
		}
		p->n++;
	}
	pthread_attr_destroy(&attr);
	if (p->n == 0) {
		free(p->threads);
		p->threads = NULL;
		return -1;
	}
	if (p->n < n)
		pdl_warnf("running with %zu workers instead of %zu", p->n, n);
	return 0;
}

void pdl_pool_join(struct pdl_pool *p)
{
	for (size_t i = 0; i < p->n; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	p->threads = NULL;
	p->n = 0;
}
