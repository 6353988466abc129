/* The report on stdout: aligned text lines or JSON Lines, one writer under
 * one lock, counters for the summary. */
#include "report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "log.h"

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static bool sb_reserve(struct sbuf *b, size_t more)
{
	if (b->oom)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void sb_puts(struct sbuf *b, const char *s)
{
	size_t n = strlen(s);
	if (!sb_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n + 1);
	b->len += n;
}

static void sb_printf(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Any length: a list path of a few hundred bytes must not be cut. */
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !sb_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* Every input byte becomes at most six output bytes (\u00XX, \ufffd). */
static void sb_json(struct sbuf *b, const char *s)
{
	if (!s) {
		sb_puts(b, "null");
		return;
	}
	size_t need = 6 * strlen(s) + 3;
	if (!sb_reserve(b, need))
		return;
	size_t pos = b->len;
	pdl_json_string(b->p, b->cap, &pos, s);
	b->len = pos < b->cap ? pos : b->cap - 1;
}

/* Every input byte becomes at most four output bytes (\xHH). */
static void sb_printable(struct sbuf *b, const char *s)
{
	size_t need = 4 * strlen(s) + 1;
	if (!sb_reserve(b, need))
		return;
	pdl_format_printable(b->p + b->len, need, s);
	b->len += strlen(b->p + b->len);
}

static char *join_path(const char *dir, const char *name)
{
	if (!strcmp(dir, "."))
		return strdup(name);
	size_t dl = strlen(dir);
	bool slash = dl && dir[dl - 1] == '/';
	char *p = malloc(dl + strlen(name) + 2);
	if (p)
		sprintf(p, "%s%s%s", dir, slash ? "" : "/", name);
	return p;
}

void pdl_report_init(struct pdl_report *r, const struct pdl_options *o,
		     FILE *out)
{
	memset(r, 0, sizeof(*r));
	r->out = out;
	r->dir = o->output_dir;
	r->json = o->json;
	r->quiet = o->quiet;
	pthread_mutex_init(&r->lock, NULL);
}

void pdl_report_finish(struct pdl_report *r)
{
	pthread_mutex_destroy(&r->lock);
}

static void clear_counts(struct pdl_report *r)
{
	r->urls = r->ok = r->failed = r->skipped = r->interrupted = 0;
	r->bytes = 0;
	r->busy_seconds = 0;
}

void pdl_report_mute(struct pdl_report *r)
{
	pthread_mutex_lock(&r->lock);
	r->mode = PDL_REPORT_MUTED;
	pthread_mutex_unlock(&r->lock);
}

void pdl_report_stop_muted(struct pdl_report *r)
{
	pthread_mutex_lock(&r->lock);
	if (r->mode == PDL_REPORT_MUTED) {
		clear_counts(r);
		r->mode = PDL_REPORT_STOPPED;
	}
	pthread_mutex_unlock(&r->lock);
}

void pdl_report_unmute(struct pdl_report *r)
{
	pthread_mutex_lock(&r->lock);
	if (r->mode != PDL_REPORT_STOPPED)
		clear_counts(r);
	r->mode = PDL_REPORT_SHOW;
	pthread_mutex_unlock(&r->lock);
}

/* Called with the lock held. A closed stdout must not stop the downloads:
 * note it once and keep counting. */
static void emit(struct pdl_report *r, struct sbuf *b)
{
	if (b->oom || r->out_broken || r->mode == PDL_REPORT_MUTED)
		return;
	pdl_progress_suspend(r->progress);
	int rc = fputs(b->p, r->out) == EOF || fflush(r->out) == EOF;
	pdl_progress_resume(r->progress);
	if (rc) {
		r->out_broken = true;
		if (errno != EPIPE) {
			r->out_failed = true;
			pdl_errorf("cannot write the report: %s",
				   strerror(errno));
		}
	}
}

/* Called with the lock held: whether a result counts (and is shown). */
static bool kept(const struct pdl_report *r, const struct pdl_result *res)
{
	return r->mode != PDL_REPORT_STOPPED || res->outcome == PDL_INTERRUPTED;
}

static void count(struct pdl_report *r, const struct pdl_result *res)
{
	r->urls++;
	switch (res->outcome) {
	case PDL_OK:
		r->ok++;
		break;
	case PDL_SKIPPED:
		r->skipped++;
		break;
	case PDL_INTERRUPTED:
		r->interrupted++;
		r->failed++;
		break;
	case PDL_FAILED:
	default:
		r->failed++;
		break;
	}
	r->bytes += res->bytes;
	r->busy_seconds += res->seconds;
}

static const char *outcome_word(enum pdl_outcome o)
{
	switch (o) {
	case PDL_OK:
		return "ok";
	case PDL_SKIPPED:
		return "skip";
	case PDL_INTERRUPTED:
		return "STOP";
	case PDL_FAILED:
	default:
		return "FAIL";
	}
}

static void text_columns(struct sbuf *b, const char *word, long status,
			 int64_t bytes, double seconds)
{
	char size[32], dur[32], st[8];
	if (status > 0)
		snprintf(st, sizeof(st), "%ld", status % 1000);
	else
		snprintf(st, sizeof(st), "-");
	sb_printf(b, "%-4s %3s %10s %7s  ", word, st,
		  pdl_format_size(size, sizeof(size), bytes),
		  pdl_format_duration(dur, sizeof(dur), seconds));
}

void pdl_report_bad_line(struct pdl_report *r, const char *src, long lineno,
			 const char *text, const char *reason)
{
	struct pdl_result res = {.outcome = PDL_FAILED};
	struct sbuf b = {0};
	char where[64];

	if (r->json) {
		sb_puts(&b, "{\"type\":\"file\",\"url\":");
		sb_json(&b, text);
		sb_puts(&b, ",\"path\":null,\"ok\":false,\"status\":0,"
			    "\"bytes\":0,\"seconds\":0,\"attempts\":0,"
			    "\"error\":");
		struct sbuf e = {0};
		sb_printf(&e, "%s:%ld: ", src, lineno);
		sb_puts(&e, reason);
		sb_json(&b, e.oom ? reason : e.p);
		free(e.p);
		sb_puts(&b, "}\n");
	} else {
		text_columns(&b, "FAIL", 0, 0, 0);
		snprintf(where, sizeof(where), ":%ld: ", lineno);
		sb_printable(&b, src);
		sb_puts(&b, where);
		sb_puts(&b, reason);
		if (text && *text) {
			sb_puts(&b, ": ");
			sb_printable(&b, text);
		}
		sb_puts(&b, "\n");
	}
	pthread_mutex_lock(&r->lock);
	if (kept(r, &res)) {
		count(r, &res);
		/* Unusable lines are errors, so -q still shows them. */
		emit(r, &b);
	}
	pthread_mutex_unlock(&r->lock);
	free(b.p);
}

void pdl_report_file(struct pdl_report *r, const struct pdl_job *job,
		     const struct pdl_result *res)
{
	struct sbuf b = {0};
	bool good = res->outcome == PDL_OK || res->outcome == PDL_SKIPPED;

	if (r->quiet && good) {
		/* -q: counted, never shown, so not formatted either */
		pthread_mutex_lock(&r->lock);
		if (kept(r, res))
			count(r, res);
		pthread_mutex_unlock(&r->lock);
		return;
	}
	char *path = res->path ? join_path(r->dir, res->path) : NULL;

	if (r->json) {
		sb_puts(&b, "{\"type\":\"file\",\"url\":");
		sb_json(&b, job->shown_url);
		sb_puts(&b, ",\"path\":");
		sb_json(&b, path);
		sb_printf(&b,
			  ",\"ok\":%s,\"status\":%ld,\"bytes\":%lld,"
			  "\"seconds\":%.3f,\"attempts\":%d,\"error\":",
			  good ? "true" : "false", res->status,
			  (long long)res->bytes, res->seconds, res->attempts);
		sb_json(&b, good ? NULL : res->error);
		if (res->outcome == PDL_SKIPPED)
			sb_puts(&b, ",\"skipped\":true");
		sb_puts(&b, "}\n");
	} else {
		text_columns(&b, outcome_word(res->outcome), res->status,
			     res->bytes, res->seconds);
		if (good) {
			sb_printable(&b, path ? path : "?");
			if (res->outcome == PDL_SKIPPED)
				sb_puts(&b, " (exists)");
		} else {
			sb_printable(&b, job->shown_url);
			sb_puts(&b, ": ");
			sb_printable(&b, res->error);
		}
		sb_puts(&b, "\n");
	}
	pthread_mutex_lock(&r->lock);
	if (kept(r, res)) {
		count(r, res);
		if (!r->quiet || !good)
			emit(r, &b);
	}
	pthread_mutex_unlock(&r->lock);
	free(b.p);
	free(path);
}

void pdl_report_dry(struct pdl_report *r, const struct pdl_job *job)
{
	struct sbuf b = {0};
	char *path = job->relname ? join_path(r->dir, job->relname) : NULL;
	const char *shown = path ? path : "?";

	if (r->json) {
		sb_puts(&b, "{\"type\":\"plan\",\"url\":");
		sb_json(&b, job->shown_url);
		sb_puts(&b, ",\"path\":");
		sb_json(&b, shown);
		sb_printf(&b, ",\"exists\":%s}\n",
			  job->exists ? "true" : "false");
	} else {
		sb_printable(&b, job->shown_url);
		sb_puts(&b, " -> ");
		sb_printable(&b, shown);
		if (job->exists)
			sb_puts(&b, " (exists, skipped)");
		sb_puts(&b, "\n");
	}
	struct pdl_result res = {.outcome = PDL_OK};
	pthread_mutex_lock(&r->lock);
	count(r, &res);
	emit(r, &b);
	pthread_mutex_unlock(&r->lock);
	free(b.p);
	free(path);
}

void pdl_report_summary(struct pdl_report *r, const struct pdl_summary *s)
{
	struct sbuf b = {0};
	char size[32], rate[32], dur[32], d1[32], d2[32];
	double secs = s->seconds > 0 ? s->seconds : 0;

	pthread_mutex_lock(&r->lock);
	double bps = secs > 0 ? (double)r->bytes / secs : 0;
	uint64_t ok = r->ok + r->skipped;
	/* Efficiency: how busy the jobs were, from the per-file times. */
	double speedup = 0, efficiency = 0;
	if (s->compare && s->parallel_seconds > 0) {
		speedup = s->sequential_seconds / s->parallel_seconds;
		if (s->jobs > 0)
			efficiency = r->busy_seconds /
				     ((double)s->jobs * s->parallel_seconds);
	}
	if (r->json) {
		sb_printf(&b,
			  "{\"type\":\"summary\",\"urls\":%llu,\"ok\":%llu,"
			  "\"failed\":%llu,\"bytes\":%lld,\"seconds\":%.3f,"
			  "\"jobs\":%ld",
			  (unsigned long long)r->urls, (unsigned long long)ok,
			  (unsigned long long)r->failed, (long long)r->bytes,
			  secs, s->jobs);
		if (r->skipped)
			sb_printf(&b, ",\"skipped\":%llu",
				  (unsigned long long)r->skipped);
		if (r->interrupted)
			sb_printf(&b, ",\"interrupted\":%llu",
				  (unsigned long long)r->interrupted);
		if (s->not_started)
			sb_printf(&b, ",\"not_started\":%lld", s->not_started);
		if (s->compare)
			sb_printf(&b,
				  ",\"sequential_seconds\":%.3f,"
				  "\"parallel_seconds\":%.3f,\"speedup\":%.3f,"
				  "\"efficiency\":%.3f",
				  s->sequential_seconds, s->parallel_seconds,
				  speedup, efficiency);
		sb_puts(&b, "}\n");
	} else {
		if (s->compare)
			sb_printf(&b,
				  "compare: sequential %s, parallel %s with "
				  "%ld jobs: %.2fx faster, efficiency %.0f%%\n",
				  pdl_format_duration(d1, sizeof(d1),
						      s->sequential_seconds),
				  pdl_format_duration(d2, sizeof(d2),
						      s->parallel_seconds),
				  s->jobs, speedup, efficiency * 100);
		sb_printf(&b, "%llu URLs: %llu ok, %llu failed",
			  (unsigned long long)r->urls, (unsigned long long)ok,
			  (unsigned long long)r->failed);
		if (r->skipped)
			sb_printf(&b, " (%llu skipped)",
				  (unsigned long long)r->skipped);
		if (r->interrupted)
			sb_printf(&b, ", %llu interrupted",
				  (unsigned long long)r->interrupted);
		if (s->not_started)
			sb_printf(&b, ", %lld not started", s->not_started);
		sb_printf(&b, "; %s in %s (%s), %ld %s\n",
			  pdl_format_size(size, sizeof(size), r->bytes),
			  pdl_format_duration(dur, sizeof(dur), secs),
			  pdl_format_rate(rate, sizeof(rate), bps), s->jobs,
			  s->jobs == 1 ? "job" : "jobs");
	}
	emit(r, &b);
	pthread_mutex_unlock(&r->lock);
	free(b.p);
}
