/* One URL of the list on its way through pdl, and what became of it. */
#ifndef PDL_JOB_H
#define PDL_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pdl_job {
	size_t index;	 /* 0-based among URL lines of the run */
	const char *src; /* list label for FILE:LINE */
	long lineno;
	char *url;	 /* as given */
	char *shown_url; /* password replaced, for reports */
	char *relname;	 /* reserved final name, relative to the output dir */
	char *want;	 /* the name before numbering */
	bool named;	 /* relname came from the list line */
	bool exists;	 /* -c and the final file is already there */
	char host[264];	 /* host:port as the URL names it (per-host limit) */
};

enum pdl_outcome {
	PDL_OK,
	PDL_SKIPPED, /* -c: already there */
	PDL_FAILED,
	PDL_INTERRUPTED,
};

struct pdl_result {
	enum pdl_outcome outcome;
	long status;	/* last HTTP status, 0 when none */
	int64_t bytes;	/* body bytes received in this run */
	double seconds; /* from first attempt to the end */
	int attempts;
	char *path;	 /* final name on success (relative), malloc'd */
	char error[256]; /* reason on failure */
};

struct pdl_job *pdl_job_create(size_t index, const char *src, long lineno,
			       const char *url);
void pdl_job_destroy(struct pdl_job *job);
void pdl_result_finish(struct pdl_result *res);

#endif
