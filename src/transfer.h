/* One download: a URL into a file of the output directory, with libcurl,
 * on a handle the calling worker owns and reuses. */
#ifndef PDL_TRANSFER_H
#define PDL_TRANSFER_H

#include <curl/curl.h>
#include <stdatomic.h>

#include "job.h"
#include "options.h"
#include "outdir.h"

struct pdl_ratelimit;
struct pdl_progress;

/* What every transfer of a run shares; read-only while workers run, apart
 * from the atomics. */
struct pdl_env {
	const struct pdl_options *opt;
	struct pdl_outdir *out;
	CURLSH *share;		       /* DNS cache and TLS sessions */
	struct curl_slist *headers;    /* -H lines */
	atomic_int *stop;	       /* nonzero: abort transfers now */
	struct pdl_ratelimit *rate;    /* NULL: no --limit-rate */
	struct pdl_progress *progress; /* NULL: no live counters */
};

/* Builds the libcurl share (with its locks) and the header list. */
int pdl_env_init(struct pdl_env *env, const struct pdl_options *opt,
		 struct pdl_outdir *out, atomic_int *stop);
void pdl_env_finish(struct pdl_env *env);

/* A handle set up with everything that does not change between URLs. */
CURL *pdl_transfer_handle_create(const struct pdl_env *env);

/* Downloads job->url into job->relname with retries; fills res. With
 * --content-disposition, job->relname may be replaced by the name the
 * server suggested (still reserved). */
void pdl_transfer_run(CURL *h, const struct pdl_env *env, struct pdl_job *job,
		      struct pdl_result *res);

#endif
