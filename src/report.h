/* The report on stdout: a line (or JSON object) per URL as it finishes and a
 * summary; one writer under one lock so lines never interleave. */
#ifndef PDL_REPORT_H
#define PDL_REPORT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "job.h"
#include "options.h"
#include "progress.h"

/* --compare's sequential pass writes into a scratch directory that does not
 * stay, so its results are counted for the compare line but not shown. */
enum pdl_report_mode {
	PDL_REPORT_SHOW,  /* every result counted and shown */
	PDL_REPORT_MUTED, /* counted, not shown */
	/* a stop came during a muted pass: its files will not stay, so only
	 * the transfers the stop cuts short count, and are shown */
	PDL_REPORT_STOPPED,
};

struct pdl_report {
	FILE *out;
	const char *dir; /* output dir as given, joined to names shown */
	bool json;
	bool quiet;
	pthread_mutex_t lock;
	uint64_t urls, ok, failed, skipped, interrupted;
	int64_t bytes;
	double busy_seconds; /* sum of per-file times */
	bool out_broken;     /* stdout closed: keep counting, stop writing */
	bool out_failed;     /* ... for a reason other than a closed pipe */
	enum pdl_report_mode mode;
	struct pdl_progress *progress; /* hidden while a line is written */
};

struct pdl_summary {
	double seconds;
	long jobs;
	bool compare;
	double sequential_seconds;
	double parallel_seconds;
	long long not_started; /* read, then dropped by a stop */
};

void pdl_report_init(struct pdl_report *r, const struct pdl_options *o,
		     FILE *out);
void pdl_report_finish(struct pdl_report *r);

/* A list line that is not a usable URL. */
void pdl_report_bad_line(struct pdl_report *r, const char *src, long lineno,
			 const char *text, const char *reason);
/* A URL that finished, whatever the outcome. */
void pdl_report_file(struct pdl_report *r, const struct pdl_job *job,
		     const struct pdl_result *res);
/* -n: where a URL would go. */
void pdl_report_dry(struct pdl_report *r, const struct pdl_job *job);
void pdl_report_summary(struct pdl_report *r, const struct pdl_summary *s);

/* While muted, results are counted but no line is written: --compare's
 * sequential pass, whose files do not stay, would otherwise give every URL
 * two lines. */
void pdl_report_mute(struct pdl_report *r);
/* A stop during a muted pass: the counts so far are cleared, and from now
 * on only interrupted transfers are counted and shown (STOP lines), so that
 * the summary tells what the output directory holds. No effect otherwise. */
void pdl_report_stop_muted(struct pdl_report *r);
/* Ends a muted pass. Its counters are cleared for the pass that follows,
 * unless a stop came during it (then they hold the STOP lines). */
void pdl_report_unmute(struct pdl_report *r);

#endif
