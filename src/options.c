/* Command-line options: the table below drives getopt_long, the help text
 * and the man page's list; the parser fills a struct and never exits. */
#include "options.h"

#include "format.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum {
	OPT_COMPARE = 1000,
	OPT_JSON,
	OPT_PROGRESS,
	OPT_OVERWRITE,
	OPT_CONTENT_DISPOSITION,
	OPT_PROTO,
	OPT_MAX_REDIRS,
	OPT_RETRIES,
	OPT_CONNECT_TIMEOUT,
	OPT_STALL_TIMEOUT,
	OPT_TIMEOUT,
	OPT_MAX_FILESIZE,
	OPT_MAX_PER_HOST,
	OPT_LIMIT_RATE,
	OPT_SHARD,
	OPT_NO_SPLIT,
};

struct option_doc {
	const char *name;
	int has_arg;
	int val;
	const char *arg;
	const char *help;
};

static const struct option_doc table[] = {
    {"jobs", required_argument, 'j', "N",
     "downloads at once, 1..1024 (default 8)"},
    {"sequential", no_argument, 's', NULL,
     "one at a time, in input order (the baseline)"},
    {"compare", no_argument, OPT_COMPARE, NULL,
     "run -s, then -j N, and report the speed-up"},
    {"output-dir", required_argument, 'o', "DIR",
     "write files into DIR, made if missing (default .)"},
    {"continue", no_argument, 'c', NULL,
     "skip existing files, resume kept partial ones"},
    {"overwrite", no_argument, OPT_OVERWRITE, NULL,
     "replace existing files instead of numbering"},
    {"content-disposition", no_argument, OPT_CONTENT_DISPOSITION, NULL,
     "use the name the server suggests"},
    {"dry-run", no_argument, 'n', NULL,
     "print where each URL would go, fetch nothing"},
    {"proto", required_argument, OPT_PROTO, "LIST",
     "allowed protocols (default http,https)"},
    {"max-redirs", required_argument, OPT_MAX_REDIRS, "N",
     "follow at most N redirects (default 10)"},
    {"retries", required_argument, OPT_RETRIES, "N",
     "retry transient failures N times (default 3)"},
    {"connect-timeout", required_argument, OPT_CONNECT_TIMEOUT, "S",
     "give up connecting after S s (default 10)"},
    {"stall-timeout", required_argument, OPT_STALL_TIMEOUT, "S",
     "abort after S s with no data (default 30)"},
    {"timeout", required_argument, OPT_TIMEOUT, "S",
     "abort an attempt after S s (default none)"},
    {"max-filesize", required_argument, OPT_MAX_FILESIZE, "SIZE",
     "refuse bodies over SIZE (K, M, G suffixes)"},
    {"insecure", no_argument, 'k', NULL, "do not verify TLS peers"},
    {"header", required_argument, 'H', "LINE",
     "add a request header (repeatable)"},
    {"user-agent", required_argument, 'A', "STR",
     "User-Agent (default pdl/" PDL_VERSION ")"},
    {"max-per-host", required_argument, OPT_MAX_PER_HOST, "N",
     "at most N at once to one host:port"},
    {"limit-rate", required_argument, OPT_LIMIT_RATE, "RATE",
     "cap the total rate, bytes/s (K, M, G)"},
    {"no-split", no_argument, OPT_NO_SPLIT, NULL,
     "never fetch one file over several connections"},
    {"shard", required_argument, OPT_SHARD, "K/N",
     "take URL lines whose index is K-1 mod N"},
    {"json", no_argument, OPT_JSON, NULL, "report as JSON Lines on stdout"},
    {"progress", required_argument, OPT_PROGRESS, "WHEN",
     "progress line: auto, bar or none (default auto)"},
    {"quiet", no_argument, 'q', NULL, "only failures and the summary"},
    {"verbose", no_argument, 'v', NULL, "also report retries and redirects"},
    {"help", no_argument, 'h', NULL, "show this help and exit"},
    {"version", no_argument, 'V', NULL, "show version information and exit"},
};

#define N_OPTIONS (sizeof(table) / sizeof(table[0]))

void pdl_options_defaults(struct pdl_options *o)
{
	memset(o, 0, sizeof(*o));
	o->jobs = PDL_JOBS_DEFAULT;
	o->output_dir = ".";
	o->progress = PDL_PROGRESS_AUTO;
	o->proto = "http,https";
	o->max_redirs = 10;
	o->retries = 3;
	o->connect_timeout_ms = 10000;
	o->stall_timeout_s = 30;
	o->user_agent = "pdl/" PDL_VERSION;
}

static void fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Seconds, fractions allowed, as milliseconds. */
static int parse_seconds_ms(const char *s, long min_ms, long *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0 ||
	    v > 30 * 86400.0)
		return -1;
	long ms = (long)pdl_round_ll(v * 1000.0);
	if (ms < min_ms)
		return -1;
	*out = ms;
	return 0;
}

int64_t pdl_parse_size(const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0 || s[0] == '-')
		return -1;
	double mult = 1;
	switch (*end) {
	case '\0':
	case 'b':
	case 'B':
		break;
	case 'k':
	case 'K':
		mult = 1024.0;
		end++;
		break;
	case 'm':
	case 'M':
		mult = 1024.0 * 1024;
		end++;
		break;
	case 'g':
	case 'G':
		mult = 1024.0 * 1024 * 1024;
		end++;
		break;
	default:
		return -1;
	}
	if (*end == 'i' && end[-1] != '\0' && end != s)
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end)
		return -1;
	v *= mult;
	if (v >= 9.2e18)
		return -1;
	return (int64_t)pdl_round_ll(v);
}

static int parse_shard(const char *s, long *k, long *n)
{
	const char *slash = strchr(s, '/');
	if (!slash || slash == s)
		return -1;
	char kbuf[32];
	size_t klen = (size_t)(slash - s);
	if (klen >= sizeof(kbuf))
		return -1;
	memcpy(kbuf, s, klen);
	kbuf[klen] = '\0';
	if (parse_long(slash + 1, 1, 1000000000L, n) ||
	    parse_long(kbuf, 1, *n, k))
		return -1;
	return 0;
}

/* Header lines must be "Name: value" (or "Name:" to remove one), with no
 * line breaks that could smuggle a second header. */
static int check_header(const char *h)
{
	const char *colon = strchr(h, ':');
	if (!colon || colon == h)
		return -1;
	for (const char *p = h; *p; p++)
		if (*p == '\r' || *p == '\n')
			return -1;
	for (const char *p = h; p < colon; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return -1;
	return 0;
}

static int check_protos(const char *list)
{
	static const char *const known[] = {"http", "https", "ftp", "ftps"};
	const char *p = list;
	if (!*p)
		return -1;
	while (*p) {
		size_t len = strcspn(p, ",");
		bool ok = false;
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strlen(known[i]) == len &&
			    strncasecmp(p, known[i], len) == 0)
				ok = true;
		if (!ok)
			return -1;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

static void build_getopt(struct option *longopts, char *shortopts)
{
	size_t s = 0;
	for (size_t i = 0; i < N_OPTIONS; i++) {
		longopts[i].name = table[i].name;
		longopts[i].has_arg = table[i].has_arg;
		longopts[i].flag = NULL;
		longopts[i].val = table[i].val;
		if (table[i].val < 128) {
			shortopts[s++] = (char)table[i].val;
			if (table[i].has_arg == required_argument)
				shortopts[s++] = ':';
		}
	}
	memset(&longopts[N_OPTIONS], 0, sizeof(longopts[0]));
	shortopts[s] = '\0';
}

static const char *option_label(int val, char *buf, size_t n)
{
	for (size_t i = 0; i < N_OPTIONS; i++) {
		if (table[i].val != val)
			continue;
		if (val < 128)
			snprintf(buf, n, "-%c/--%s", val, table[i].name);
		else
			snprintf(buf, n, "--%s", table[i].name);
		return buf;
	}
	snprintf(buf, n, "?");
	return buf;
}

enum pdl_parse_result pdl_options_parse(struct pdl_options *o, int argc,
					char **argv, char *err, size_t errlen)
{
	struct option longopts[N_OPTIONS + 1];
	char shortopts[2 * N_OPTIONS + 2];
	char label[64];
	enum pdl_parse_result result = PDL_PARSE_OK;
	int c;

	pdl_options_defaults(o);
	shortopts[0] = ':'; /* report a missing value as ':' */
	build_getopt(longopts, shortopts + 1);
	err[0] = '\0';
	opterr = 0;
	optind = 1;

	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const char *arg = optarg;
		bool bad = false;
		switch (c) {
		case 'j':
			bad = parse_long(arg, 1, PDL_JOBS_MAX, &o->jobs) != 0;
			break;
		case 's':
			o->sequential = true;
			break;
		case OPT_COMPARE:
			o->compare = true;
			break;
		case 'o':
			o->output_dir = arg;
			bad = !*arg;
			break;
		case 'c':
			o->resume = true;
			break;
		case OPT_OVERWRITE:
			o->overwrite = true;
			break;
		case OPT_NO_SPLIT:
			o->no_split = true;
			break;
		case OPT_CONTENT_DISPOSITION:
			o->content_disposition = true;
			break;
		case 'n':
			o->dry_run = true;
			break;
		case OPT_PROTO:
			o->proto = arg;
			bad = check_protos(arg) != 0;
			break;
		case OPT_MAX_REDIRS:
			bad = parse_long(arg, 0, 1000, &o->max_redirs) != 0;
			break;
		case OPT_RETRIES:
			bad = parse_long(arg, 0, 100, &o->retries) != 0;
			break;
		case OPT_CONNECT_TIMEOUT:
			bad = parse_seconds_ms(arg, 1, &o->connect_timeout_ms);
			break;
		case OPT_STALL_TIMEOUT:
			bad = parse_long(arg, 1, 86400, &o->stall_timeout_s);
			break;
		case OPT_TIMEOUT:
			bad = parse_seconds_ms(arg, 1, &o->timeout_ms) != 0;
			break;
		case OPT_MAX_FILESIZE:
			o->max_filesize = pdl_parse_size(arg);
			bad = o->max_filesize <= 0;
			break;
		case 'k':
			o->insecure = true;
			break;
		case 'H': {
			if (check_header(arg)) {
				bad = true;
				break;
			}
			const char **h = realloc(
			    o->headers, (o->n_headers + 1) * sizeof(*h));
			if (!h) {
				fail(err, errlen, "out of memory");
				return PDL_PARSE_ERROR;
			}
			h[o->n_headers++] = arg;
			o->headers = h;
			break;
		}
		case 'A':
			o->user_agent = arg;
			bad = strchr(arg, '\n') || strchr(arg, '\r');
			break;
		case OPT_MAX_PER_HOST:
			bad = parse_long(arg, 1, PDL_JOBS_MAX,
					 &o->max_per_host) != 0;
			break;
		case OPT_LIMIT_RATE:
			o->limit_rate = pdl_parse_size(arg);
			bad = o->limit_rate <= 0;
			break;
		case OPT_SHARD:
			bad = parse_shard(arg, &o->shard_k, &o->shard_n) != 0;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_PROGRESS:
			if (!strcmp(arg, "auto"))
				o->progress = PDL_PROGRESS_AUTO;
			else if (!strcmp(arg, "bar"))
				o->progress = PDL_PROGRESS_BAR;
			else if (!strcmp(arg, "none"))
				o->progress = PDL_PROGRESS_NONE;
			else
				bad = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			result = PDL_PARSE_HELP;
			break;
		case 'V':
			if (result == PDL_PARSE_OK)
				result = PDL_PARSE_VERSION;
			break;
		case ':':
			fail(err, errlen, "option '%s' needs a value",
			     optopt ? option_label(optopt, label, sizeof(label))
				    : argv[optind - 1]);
			return PDL_PARSE_ERROR;
		case '?':
		default:
			/* A known long option given a value it does not take
			 * ("--json=1") also lands here, with optopt set to
			 * its table value, which may be no character. An
			 * unknown short option is never in the table. */
			if (optopt &&
			    strcmp(option_label(optopt, label, sizeof(label)),
				   "?"))
				fail(err, errlen, "option '%s' takes no value",
				     label);
			else if (optopt)
				fail(err, errlen, "unknown option '-%c'",
				     optopt);
			else
				fail(err, errlen, "unknown option '%s'",
				     argv[optind - 1]);
			return PDL_PARSE_ERROR;
		}
		if (bad) {
			fail(err, errlen, "invalid value '%s' for %s", arg,
			     option_label(c, label, sizeof(label)));
			return PDL_PARSE_ERROR;
		}
	}
	if (result != PDL_PARSE_OK)
		return result;

	if (o->sequential && o->compare) {
		fail(err, errlen,
		     "--sequential and --compare exclude each other");
		return PDL_PARSE_ERROR;
	}
	if (o->resume && o->overwrite) {
		fail(err, errlen,
		     "--continue and --overwrite exclude each other");
		return PDL_PARSE_ERROR;
	}
	if (o->compare && o->resume) {
		fail(err, errlen,
		     "--compare and --continue exclude each other");
		return PDL_PARSE_ERROR;
	}
	if (o->dry_run && o->compare) {
		fail(err, errlen, "--dry-run and --compare exclude each other");
		return PDL_PARSE_ERROR;
	}
	o->inputs = argv + optind;
	o->n_inputs = (size_t)(argc - optind);
	return PDL_PARSE_OK;
}

void pdl_options_finish(struct pdl_options *o)
{
	free(o->headers);
	o->headers = NULL;
	o->n_headers = 0;
}

void pdl_options_print_help(FILE *out)
{
	fputs(
	    "Usage: pdl [OPTION]... [FILE]...\n"
	    "Download the URLs listed in each FILE (one per line, optionally\n"
	    "followed by an output name) on a pool of worker threads.\n"
	    "With no FILE, or when FILE is -, read standard input.\n\n",
	    out);
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct option_doc *d = &table[i];
		char left[64];
		int n;
		if (d->val < 128)
			n = snprintf(left, sizeof(left), "  -%c, --%s", d->val,
				     d->name);
		else
			n = snprintf(left, sizeof(left), "      --%s", d->name);
		if (d->arg && n > 0 && (size_t)n < sizeof(left))
			snprintf(left + n, sizeof(left) - (size_t)n, " %s",
				 d->arg);
		if (strlen(left) > 28)
			fprintf(out, "%s\n%30s%s\n", left, "", d->help);
		else
			fprintf(out, "%-30s%s\n", left, d->help);
	}
	fputs("\nExit status: 0 all downloaded, 1 some URL failed, 2 usage "
	      "error,\n3 setup error, 130/143 interrupted. See pdl(1).\n",
	      out);
}

/* Where the object holding addr is: pdl itself when a library was linked
 * statically (scripts/libcurl.sh), else the shared library's path. No addr:
 * no shared object exports the symbol looked for, so it is in pdl. */
static void print_where(FILE *out, const void *addr)
{
	static const char here = 0;
	Dl_info lib, self;

	if (!dladdr(&here, &self) || !self.dli_fname)
		return;
	bool known = addr && dladdr(addr, &lib) && lib.dli_fname;
	if (!addr || (known && lib.dli_fbase == self.dli_fbase))
		fputs(", built into pdl", out);
	else if (known)
		fprintf(out, ", from %s", lib.dli_fname);
}

void pdl_options_print_version(FILE *out)
{
	curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
	fprintf(out, "pdl %s\nlibcurl %s", PDL_VERSION, v->version);
	print_where(out, v);
	fputc('\n', out);
	if (v->ssl_version) {
		fprintf(out, "TLS: %s", v->ssl_version);
		/* Only OpenSSL's is looked for by name. */
		if (!strncmp(v->ssl_version, "OpenSSL/", 8))
			print_where(out, dlsym(RTLD_DEFAULT, "SSL_CTX_new"));
		fputc('\n', out);
	}
}
