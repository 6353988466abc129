/* Jobs and results: allocation and release in one place. */
#include "job.h"

#include <stdlib.h>
#include <string.h>

#include "urllist.h"

struct pdl_job *pdl_job_create(size_t index, const char *src, long lineno,
			       const char *url)
{
	struct pdl_job *job = calloc(1, sizeof(*job));
	if (!job)
		return NULL;
	job->index = index;
	job->src = src;
	job->lineno = lineno;
	job->url = strdup(url);
	job->shown_url = pdl_url_redact(url);
	if (!job->url || !job->shown_url) {
		pdl_job_destroy(job);
		return NULL;
	}
	return job;
}

void pdl_job_destroy(struct pdl_job *job)
{
	if (!job)
		return;
	free(job->url);
	free(job->shown_url);
	free(job->relname);
	free(job->want);
	free(job);
}

void pdl_result_finish(struct pdl_result *res)
{
	free(res->path);
	res->path = NULL;
}
