/* Command-line options: one table, parsed into one struct. The parser never
 * exits or prints; the caller decides what a result means. */
#ifndef PDL_OPTIONS_H
#define PDL_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PDL_JOBS_MAX	 1024
#define PDL_JOBS_DEFAULT 8

enum pdl_progress_mode {
	PDL_PROGRESS_AUTO,
	PDL_PROGRESS_BAR,
	PDL_PROGRESS_NONE,
};

struct pdl_options {
	long jobs;
	bool sequential;
	bool compare;
	const char *output_dir;
	bool quiet;
	bool verbose;
	bool json;
	enum pdl_progress_mode progress;

	bool resume; /* -c: skip existing files, resume kept partials */
	bool overwrite;
	bool content_disposition;
	bool dry_run;

	const char *proto;
	long max_redirs;
	long retries;
	long connect_timeout_ms;
	long stall_timeout_s;
	long timeout_ms;      /* 0: none */
	int64_t max_filesize; /* 0: none */
	bool insecure;
	const char *user_agent;
	const char **headers; /* argv pointers, n_headers of them */
	size_t n_headers;

	long max_per_host;  /* 0: only -j limits */
	int64_t limit_rate; /* bytes per second, 0: none */
	bool no_split;	    /* never a body in parts (split.h) */
	long shard_k;	    /* 1-based; shard_n == 0: no sharding */
	long shard_n;

	char **inputs; /* argv pointers; none means stdin */
	size_t n_inputs;
};

enum pdl_parse_result {
	PDL_PARSE_OK,
	PDL_PARSE_HELP,
	PDL_PARSE_VERSION,
	PDL_PARSE_ERROR,
};

void pdl_options_defaults(struct pdl_options *o);

/* On PDL_PARSE_ERROR, err holds a one-line reason. The struct points into
 * argv, which must outlive it. */
enum pdl_parse_result pdl_options_parse(struct pdl_options *o, int argc,
					char **argv, char *err, size_t errlen);
void pdl_options_finish(struct pdl_options *o);

void pdl_options_print_help(FILE *out);
void pdl_options_print_version(FILE *out);

/* Size with an optional K/M/G (binary) suffix; -1 when malformed. */
int64_t pdl_parse_size(const char *s);

#endif
