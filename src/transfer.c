/* One download with retries, as a state machine an event loop drives:
 * libcurl on a reused handle, the body streamed straight into a temporary
 * file, resumed with Range after a cut, renamed into place only when
 * complete. Waiting (backoff, --limit-rate) is a deadline the loop keeps,
 * never a sleep, so one thread can drive many downloads. */
#include "transfer.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "naming.h"
#include "progress.h"
#include "ratelimit.h"
#include "trust.h"
#include "urllist.h"

#define RETRY_AFTER_CAP_S 60.0
#define BACKOFF_BASE_S	  0.5
#define BACKOFF_CAP_S	  30.0
/* libcurl's largest: fewer recv and write calls on big bodies, a tenth less
 * CPU than 128 KiB for 64 MiB files (bench/NOTES.md). Pages a small body
 * never reaches are never touched, so they cost no memory; a large body
 * fills its buffer, and every transfer has its own. In a loop of several
 * transfers, which one thread reads one after the other, 256 KiB cost no
 * CPU that could be measured and hold 2 MiB at -j 8 instead of 4. */
#define RECV_BUFFER	   (512 * 1024)
#define RECV_BUFFER_SHARED (256 * 1024)
/* With a --limit-rate below RATE_BUFFER_BELOW bytes/s: reads of at most
 * RATE_BUFFER bytes, a 64th of a second at 1 MiB/s. */
#define RATE_BUFFER_BELOW (8 * 1024 * 1024)
#define RATE_BUFFER	  (16 * 1024)
/* Names taken behind our back, one after the other, before giving up. */
#define RENUMBER_TRIES 100

double pdl_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void pdl_xfer_wake_at(struct pdl_xfer *x, double t)
{
	if (t < *x->due)
		*x->due = t;
}

bool pdl_env_stopping(const struct pdl_env *env)
{
	return atomic_load_explicit(env->stop, memory_order_relaxed) != 0;
}

static void lock_cb(CURL *h, curl_lock_data data, curl_lock_access access,
		    void *userptr)
{
	pthread_mutex_t *locks = userptr;
	pthread_mutex_lock(&locks[data]);
}

static void unlock_cb(CURL *h, curl_lock_data data, void *userptr)
{
	pthread_mutex_t *locks = userptr;
	pthread_mutex_unlock(&locks[data]);
}

static pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

int pdl_env_init(struct pdl_env *env, const struct pdl_options *opt,
		 struct pdl_outdir *out, atomic_int *stop)
{
	memset(env, 0, sizeof(*env));
	env->opt = opt;
	env->out = out;
	env->stop = stop;
	for (size_t i = 0; i < opt->n_headers; i++) {
		struct curl_slist *l =
		    curl_slist_append(env->headers, opt->headers[i]);
		if (!l)
			goto fail;
		env->headers = l;
	}
	env->share = curl_share_init();
	if (!env->share)
		goto fail;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&share_locks[i], NULL);
	/* The connection cache is not shared: libcurl 7.88 does not support
	 * that safely across threads. Each worker keeps its own. */
	if (curl_share_setopt(env->share, CURLSHOPT_LOCKFUNC, lock_cb) ||
	    curl_share_setopt(env->share, CURLSHOPT_UNLOCKFUNC, unlock_cb) ||
	    curl_share_setopt(env->share, CURLSHOPT_USERDATA, share_locks) ||
	    curl_share_setopt(env->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS))
		goto fail;
	/* An FTPS server may require each data connection to resume the TLS
	 * session of its own control connection (vsftpd does by default),
	 * which libcurl looks up by host and port: from a shared cache it
	 * would offer the latest of any worker's. With ftps allowed, each
	 * transfer keeps its sessions to itself. */
	if (!pdl_proto_allowed("ftps", opt->proto) &&
	    curl_share_setopt(env->share, CURLSHOPT_SHARE,
			      CURL_LOCK_DATA_SSL_SESSION))
		goto fail;
	return 0;
fail:
	pdl_env_finish(env);
	return -1;
}

void pdl_env_finish(struct pdl_env *env)
{
	if (env->share) {
		curl_share_cleanup(env->share);
		for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
			pthread_mutex_destroy(&share_locks[i]);
	}
	curl_slist_free_all(env->headers);
	pdl_trust_free(env->trust);
	env->trust = NULL;
	env->share = NULL;
	env->headers = NULL;
}

/* path from the environment variable var, "" taken as unset; NULL when
 * unset or (with a reason in err) unreadable or not of the kind dir
 * says. O_NONBLOCK: a FIFO there must not hang the start. */
static const char *trust_path(const char *var, bool dir, char *err,
			      size_t errlen)
{
	const char *path = getenv(var);
	struct stat st;
	int e = 0;

	if (!path || !*path)
		return NULL;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC |
				(dir ? O_DIRECTORY : 0));
	if (fd < 0 || fstat(fd, &st) < 0)
		e = errno;
	else if (!dir && !S_ISREG(st.st_mode))
		e = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
	if (fd >= 0)
		close(fd);
	if (!e)
		return path;
	snprintf(err, errlen, "%s: cannot read %s: %s", var, path, strerror(e));
	return NULL;
}

/* The CA file libcurl was built to read (Debian's bundle), or NULL. */
static char *builtin_ca_file(void)
{
	CURL *h = curl_easy_init();
	char *path = NULL, *copy = NULL;
	if (h && curl_easy_getinfo(h, CURLINFO_CAINFO, &path) == CURLE_OK &&
	    path)
		copy = strdup(path);
	curl_easy_cleanup(h);
	return copy;
}

int pdl_env_trust(struct pdl_env *env, char *err, size_t errlen)
{
	err[0] = '\0';
	env->ca_file = trust_path("CURL_CA_BUNDLE", false, err, errlen);
	if (!env->ca_file && !err[0]) {
		/* as curl(1) reads them: only without CURL_CA_BUNDLE */
		env->ca_file = trust_path("SSL_CERT_FILE", false, err, errlen);
		if (!err[0])
			env->ca_dir =
			    trust_path("SSL_CERT_DIR", true, err, errlen);
	}
	if (err[0])
		return -1;
	if (env->opt->insecure)
		return 0;
	if (env->ca_file) {
		env->trust = pdl_trust_new(env->ca_file);
	} else {
		char *builtin = builtin_ca_file();
		env->trust = pdl_trust_new(builtin);
		free(builtin);
	}
	return 0;
}

static CURL *handle_create(const struct pdl_env *env, bool alone)
{
	const struct pdl_options *o = env->opt;
	CURL *h = curl_easy_init();
	if (!h)
		return NULL;
	CURLcode rc = CURLE_OK;
#define SET(opt, val)                                       \
	do {                                                \
		if (rc == CURLE_OK)                         \
			rc = curl_easy_setopt(h, opt, val); \
	} while (0)
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_SHARE, env->share);
	/* The CA file: read once for the run (env->trust), else by libcurl
	 * once per event loop. */
	if (!(env->trust && pdl_trust_use(env->trust, h) == CURLE_OK) &&
	    env->ca_file) {
		SET(CURLOPT_CAINFO, env->ca_file);
		SET(CURLOPT_PROXY_CAINFO, env->ca_file);
	}
	/* No CA directory unless SSL_CERT_DIR names one, not even the one
	 * libcurl was built with (Debian's: /etc/ssl/certs, which holds the
	 * bundle's certificates again): with a directory, libcurl 7.88 builds
	 * a certificate store for every connection, which without
	 * env->trust means parsing the whole bundle (tens of ms with
	 * OpenSSL 3); without a directory, once per event loop
	 * (CURLOPT_CA_CACHE_TIMEOUT, a day by default). */
	SET(CURLOPT_CAPATH, env->ca_dir);
	SET(CURLOPT_PROXY_CAPATH, env->ca_dir);
	SET(CURLOPT_FOLLOWLOCATION, 1L);
	SET(CURLOPT_MAXREDIRS, o->max_redirs);
	SET(CURLOPT_PROTOCOLS_STR, o->proto);
	SET(CURLOPT_REDIR_PROTOCOLS_STR, o->proto);
	SET(CURLOPT_USERAGENT, o->user_agent);
	if (env->headers)
		SET(CURLOPT_HTTPHEADER, env->headers);
	SET(CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
	SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
	SET(CURLOPT_LOW_SPEED_TIME, o->stall_timeout_s);
	if (o->timeout_ms)
		SET(CURLOPT_TIMEOUT_MS, o->timeout_ms);
	if (o->max_filesize)
		SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_filesize);
	SET(CURLOPT_FAILONERROR, 1L);
	/* Under --limit-rate a big buffer is read in big gaps: the kernel
	 * then grows the socket buffer (it sizes it by what is read at once)
	 * and the server runs hundreds of KiB ahead of the limit. */
	bool slow = o->limit_rate && o->limit_rate < RATE_BUFFER_BELOW;
	SET(CURLOPT_BUFFERSIZE, slow	? (long)RATE_BUFFER
				: alone ? (long)RECV_BUFFER
					: (long)RECV_BUFFER_SHARED);
	if (o->insecure) {
		SET(CURLOPT_SSL_VERIFYPEER, 0L);
		SET(CURLOPT_SSL_VERIFYHOST, 0L);
	}
#undef SET
	if (rc != CURLE_OK) {
		pdl_errorf("cannot set up libcurl: %s", curl_easy_strerror(rc));
		curl_easy_cleanup(h);
		return NULL;
	}
	return h;
}

/* A header value without its trailing blanks into dst (size bytes), or
 * "" when it does not fit (a validator cut short would match nothing). */
static void keep_value(char *dst, size_t size, const char *v)
{
	size_t len = strlen(v);
	while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	if (len >= size)
		len = 0;
	memcpy(dst, v, len);
	dst[len] = '\0';
}

/* Whether the Last-Modified of the response being received tells its
 * version apart: only when the response was served a second or more
 * after it (RFC 9110, 8.8.2.2). A resource changed in the second it was
 * served may change again within that second, under the same date. */
static bool date_is_strong(const struct pdl_xfer *x)
{
	time_t modified = curl_getdate(x->resp_date, NULL);
	time_t served = curl_getdate(x->resp_served, NULL);
	return modified != -1 && served != -1 && served - modified >= 1;
}

/* The validator of the response being received, if it has one; with -c
 * noted on the file too. Without an ETag, a date too recent to trust
 * makes the body one to fetch whole. */
static void take_validator(struct pdl_xfer *x)
{
	const char *v = x->resp_etag;

	x->sink.whole_only = false;
	if (!v[0] && x->resp_date[0]) {
		x->sink.whole_only = !date_is_strong(x);
		if (!x->sink.whole_only)
			v = x->resp_date;
	}
	snprintf(x->validator, sizeof(x->validator), "%s", v);
	if (x->env->opt->resume && x->sink.file_open &&
	    pdl_outfile_note(&x->sink.file, x->validator))
		pdl_debugf("%s: cannot note its validator on %s: %s",
			   x->job->shown_url, x->job->relname, strerror(errno));
}

/* Whether the transfer is over HTTP(S): the scheme of the connection
 * last used, which a redirect may have changed. Taken as HTTP when
 * libcurl does not say. */
static bool over_http(CURL *h)
{
	char *scheme = NULL;
	curl_easy_getinfo(h, CURLINFO_SCHEME, &scheme);
	return !scheme || !strncasecmp(scheme, "http", 4);
}

static size_t on_header(char *data, size_t size, size_t n, void *userdata)
{
	struct pdl_xfer *x = userdata;
	size_t len = size * n;
	char line[1024];
	size_t l = len < sizeof(line) - 1 ? len : sizeof(line) - 1;

	/* FTP server replies come here too: no HTTP header is in them. */
	if (!over_http(x->h))
		return len;
	memcpy(line, data, l);
	line[l] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (!strncmp(line, "HTTP/", 5)) {
		const char *sp = strchr(line, ' ');
		x->resp_code = sp ? strtol(sp + 1, NULL, 10) : 0;
		x->resp_range_start = -1;
		x->resp_range_end = -1;
		x->resp_range_total = -1;
		x->resp_etag[0] = '\0';
		x->resp_date[0] = '\0';
		x->resp_served[0] = '\0';
		x->resp_ranges = false;
		free(x->disposition);
		x->disposition = NULL;
	} else if (!strncasecmp(line, "content-range:", 14)) {
		long long start, end, total;
		int got = sscanf(line + 14, " bytes %lld-%lld/%lld", &start,
				 &end, &total);
		if (got >= 1)
			x->resp_range_start = start;
		if (got >= 2)
			x->resp_range_end = end;
		if (got == 3)
			x->resp_range_total = total;
	} else if (!strncasecmp(line, "etag:", 5)) {
		const char *v = line + 5 + strspn(line + 5, " \t");
		/* A weak ETag says nothing about the bytes. */
		if (strncmp(v, "W/", 2))
			keep_value(x->resp_etag, sizeof(x->resp_etag), v);
	} else if (!strncasecmp(line, "accept-ranges:", 14)) {
		const char *v = line + 14 + strspn(line + 14, " \t");
		x->resp_ranges = !strncasecmp(v, "bytes", 5) &&
				 strspn(v + 5, " \t") == strlen(v + 5);
	} else if (!strncasecmp(line, "last-modified:", 14)) {
		keep_value(x->resp_date, sizeof(x->resp_date),
			   line + 14 + strspn(line + 14, " \t"));
	} else if (!strncasecmp(line, "date:", 5)) {
		keep_value(x->resp_served, sizeof(x->resp_served),
			   line + 5 + strspn(line + 5, " \t"));
	} else if (!strncasecmp(line, "content-disposition:", 20) &&
		   x->env->opt->content_disposition) {
		free(x->disposition);
		x->disposition = strdup(line + 20);
	}
	return len;
}

/* Bytes of the body held so far, in memory or in the file. */
static int64_t sink_offset(const struct pdl_sink *s)
{
	return s->file_open ? s->file.resumed_from + s->file.written
			    : (int64_t)s->mem_len;
}

/* Memory for a body of want bytes, within the loop's budget. */
static bool sink_alloc(struct pdl_sink *s, size_t want)
{
	if (atomic_load(s->held) + want > PDL_SINK_BUDGET ||
	    !(s->mem = malloc(want)))
		return false;
	atomic_fetch_add(s->held, want);
	s->mem_cap = want;
	return true;
}

static void sink_free(struct pdl_sink *s)
{
	if (!s->mem)
		return;
	free(s->mem);
	atomic_fetch_sub(s->held, s->mem_cap);
	s->mem = NULL;
	s->mem_cap = 0;
	s->mem_len = 0;
}

/* Opens the file for relname and moves into it what memory holds. 0, or
 * -1 with errno set. */
static int sink_open(struct pdl_sink *s, struct pdl_outdir *out,
		     const char *relname)
{
	if (pdl_outfile_open(&s->file, out, relname, false))
		return -1;
	s->file_open = true;
	int rc =
	    s->mem_len ? pdl_outfile_write(&s->file, s->mem, s->mem_len) : 0;
	sink_free(s);
	return rc;
}

/* Waits for the bytes of the file still being written behind. Every
 * attempt ends with it (pdl_xfer_attempt_done), so that outside of an
 * attempt the file holds what file.written says. */
static int sink_flush(struct pdl_sink *s)
{
	return s->file_open && s->wb ? pdl_wb_flush(s->wb) : 0;
}

/* want: the memory to take for the body if it has none yet. */
static int sink_write(struct pdl_sink *s, size_t want, struct pdl_outdir *out,
		      const char *relname, const char *data, size_t len)
{
	if (!s->file_open) {
		if (!s->mem && want >= len)
			sink_alloc(s, want);
		if (s->mem && s->mem_len + len <= s->mem_cap) {
			memcpy(s->mem + s->mem_len, data, len);
			s->mem_len += len;
			return 0;
		}
		if (sink_open(s, out, relname))
			return -1;
	}
	if (!s->wb)
		return pdl_outfile_write(&s->file, data, len);
	if (pdl_wb_write(s->wb, s->file.fd, data, len))
		return -1;
	s->file.written += (int64_t)len;
	return 0;
}

/* Forgets the body received so far. */
static int sink_restart(struct pdl_sink *s)
{
	s->mem_len = 0;
	return s->file_open ? pdl_outfile_truncate(&s->file) : 0;
}

/* Closes and removes the temporary file (kept with keep), frees the
 * memory. */
static void sink_drop(struct pdl_sink *s, bool keep)
{
	if (s->file_open)
		pdl_outfile_abort(&s->file, keep);
	s->file_open = false;
	sink_free(s);
}

/* The body begins anew with the response being received: what earlier
 * attempts got is forgotten, and the size it gives (size: its
 * Content-Length, -1 when none) is what the file must come to. */
static int restart_whole(struct pdl_xfer *x, curl_off_t size)
{
	x->total = x->resp_code == 206 ? x->resp_range_total : size;
	take_validator(x);
	return sink_restart(&x->sink);
}

/* A 206 continues the body only from the offset asked for, up to an end
 * within the total, and only when that total is the size known of the
 * resource: another one is another version of it. */
static bool range_continues(const struct pdl_xfer *x)
{
	if (x->resp_range_start != x->range_from)
		return false;
	if (x->total >= 0 && x->resp_range_total >= 0 &&
	    x->resp_range_total != x->total)
		return false;
	if (x->resp_range_end >= 0 && x->resp_range_end < x->range_from)
		return false;
	return x->resp_range_total < 0 || x->resp_range_end < 0 ||
	       x->resp_range_end < x->resp_range_total;
}

/* Over FTP the Range is a REST at range_from: libcurl fails the
 * transfer itself when the server does not take it or when the offset is
 * beyond the size SIZE gave, so a body is the rest from there. The size
 * libcurl announces is that of the rest (-1 without SIZE); the file must
 * come to range_from more. Another total than the one known is another
 * version of the file: start over next time. */
static bool ftp_continues(struct pdl_xfer *x)
{
	curl_off_t rest = -1;
	curl_easy_getinfo(x->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &rest);
	int64_t total = rest >= 0 ? x->range_from + (int64_t)rest : -1;
	if (total >= 0 && x->total >= 0 && total != x->total) {
		x->bad_range = true;
		return false;
	}
	if (total >= 0)
		x->total = total;
	return true;
}

/* The first bytes of a part's answer: a 206 from the offset asked for,
 * of the same version of the resource (its total and ETag). A helper's
 * first answer confirms what it asked for. */
static bool part_continues(struct pdl_xfer *x)
{
	const struct pdl_split *s = x->split;
	bool same = over_http(x->h) && x->resp_code == 206 &&
		    x->resp_range_start == x->range_from &&
		    x->resp_range_total == s->total &&
		    !strcmp(x->resp_etag, s->validator);

	if (x->part < 0) {
		double now = pdl_now_s();
		pdl_board_latency(x->board, now - x->t0);
		x->part = same ? pdl_split_confirm(&x->ask, now) : -1;
		x->help_late = same && x->part < 0;
		if (x->part >= 0)
			pdl_debugf("%s: bytes %" PRId64 "-%" PRId64
				   " on another connection",
				   x->job->shown_url, x->ask.from,
				   x->ask.end - 1);
	} else if (!same)
		x->split_broken = true;
	return same && x->part >= 0;
}

/* A body that may be fetched in parts is put on the board, the
 * transfer receiving it the owner of its part 0: a whole one (a 200
 * saying Accept-Ranges), or the rest of one a 206 continues (a resumed
 * attempt, or a part kept by an earlier -c run). size: the body's
 * whole. */
static void offer_split(struct pdl_xfer *x, curl_off_t size)
{
	const struct pdl_sink *s = &x->sink;
	bool whole = x->resp_code == 200 && x->resp_ranges;
	bool rest = x->resp_code == 206 && x->range_from > 0;

	if (!x->board || !(whole || rest) || !x->resp_etag[0] ||
	    size < 2 * PDL_SPLIT_MIN || !s->file_open || !over_http(x->h))
		return;
	struct pdl_split *sp =
	    pdl_split_new(x->job, s->file.fd, size, sink_offset(s),
			  x->resp_etag, pdl_now_s(), x->wake, x->wake_ctx);
	if (!sp)
		return;
	if (!pdl_board_post(x->board, sp)) {
		pdl_split_free(sp);
		return;
	}
	x->split = sp;
	x->part = 0;
}

/* The first body bytes of an attempt: decide whether they continue what
 * came before (206 at the offset asked for, or any body of a resumed FTP
 * transfer) or replace it. A body announced larger than memory holds
 * goes to its file at once. Also whether its reads may be batched
 * (rxbatch.h). */
static bool begin_body(struct pdl_xfer *x)
{
	struct pdl_sink *s = &x->sink;

	pdl_rxbatch_begin(&x->rxb, x->h);
	if (x->split)
		return part_continues(x);
	if (x->range_from > 0 && !over_http(x->h))
		return ftp_continues(x);
	if (x->range_from > 0 && x->resp_code == 206) {
		if (range_continues(x)) {
			/* Nothing known yet (a part kept by an earlier
			 * run): what this answer says guards the next
			 * attempts. */
			if (x->total < 0)
				x->total = x->resp_range_total;
			if (!x->validator[0])
				take_validator(x);
			offer_split(x, x->total);
			return true;
		}
		/* A range we did not ask for: start over next time. */
		x->bad_range = true;
		return false;
	}
	curl_off_t size = -1;
	curl_easy_getinfo(x->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &size);
	if (restart_whole(x, size)) {
		x->write_errno = errno;
		return false;
	}
	/* Memory of the size announced (most small bodies take one page),
	 * else as much as a body may take here. */
	x->mem_want = size >= 0 && size <= (curl_off_t)x->mem_max ? (size_t)size
								  : x->mem_max;
	if (!s->file_open && size > (curl_off_t)x->mem_max &&
	    sink_open(s, x->env->out, x->job->relname)) {
		x->write_errno = errno;
		return false;
	}
	offer_split(x, size);
	return true;
}

/* Writes n body bytes: a part at its offset off, else into the sink. On
 * failure the part holds only what went in. */
static int write_body(struct pdl_xfer *x, const char *data, size_t n,
		      int64_t off)
{
	int64_t held; /* where the part is, once written */
	int rc;

	if (x->helper) {
		size_t done;
		rc = pdl_pwrite_all(x->split->fd, data, n, off, &done);
		held = off + (int64_t)done;
	} else {
		rc = sink_write(&x->sink, x->mem_want, x->env->out,
				x->job->relname, data, n);
		held = sink_offset(&x->sink);
	}
	if (rc && x->split) {
		int e = errno;
		pdl_split_give_back(x->split, x->part, held);
		errno = e;
	}
	return rc;
}

static size_t on_write(char *data, size_t size, size_t n, void *userdata)
{
	struct pdl_xfer *x = userdata;
	size_t len = size * n;
	const struct pdl_env *env = x->env;
	double now = 0;

	if (env->rate) {
		/* Over the rate: libcurl keeps these bytes and hands them over
		 * again once the loop unpauses the transfer at hold_until. */
		now = pdl_now_s();
		if (now < x->hold_until) {
			x->paused = true;
			return CURL_WRITEFUNC_PAUSE;
		}
	}
	if (!x->body_started) {
		x->body_started = true;
		if (!begin_body(x))
			return 0;
	}
	pdl_rxbatch_read(&x->rxb, x->h, data, len);
	if (env->opt->max_filesize &&
	    sink_offset(&x->sink) + (int64_t)len > env->opt->max_filesize) {
		x->too_big = true;
		return 0;
	}
	if (x->resp_code == 206 && x->total >= 0 &&
	    sink_offset(&x->sink) + (int64_t)len > x->total) {
		x->overlong = true;
		return 0;
	}
	/* A part takes the bytes up to its end, which may come nearer
	 * while it is received: then its attempt stops there. */
	size_t take = len;
	int64_t off = -1;
	if (x->split) {
		bool stop;
		take = pdl_split_take(x->split, x->part, len, &off, &stop);
		if (stop) {
			x->split_stop = true;
			return 0;
		}
		x->part_full = take < len;
	}
	if (take > 0 && write_body(x, data, take, off)) {
		x->write_errno = errno;
		x->part_full = false;
		return 0;
	}
	x->res.bytes += (int64_t)take;
	if (x->loop_rx)
		*x->loop_rx += (int64_t)take;
	if (env->progress)
		atomic_fetch_add_explicit(&env->progress->bytes,
					  (long long)take,
					  memory_order_relaxed);
	if (env->rate) {
		double wait = pdl_ratelimit_take(env->rate, take);
		if (wait > 0) {
			x->hold_until = now + wait;
			pdl_xfer_wake_at(x, x->hold_until);
		}
	} else {
		now = pdl_now_s();
	}
	x->last_rx = now;
	/* With a mark set, the loop looks again in case the body slows down
	 * (pdl_xfer_check_stall). */
	if (x->rxb.on && pdl_rxbatch_got(&x->rxb, x->h, take, now) > 1)
		pdl_xfer_wake_at(x, now + RXB_GUARD_S);
	/* Fewer than len: libcurl ends the attempt, its part in. */
	return take;
}

/* The stall check is done here rather than with CURLOPT_LOW_SPEED_TIME:
 * libcurl averages the speed over about six seconds, so bytes received
 * just before a stall would delay its detection by that much. As there,
 * only body bytes count: an endless trickle of headers is a stall too. A
 * transfer held back by --limit-rate is not stalled. */
bool pdl_xfer_check_stall(struct pdl_xfer *x, double now)
{
	if (x->state != PDL_XFER_RUNNING || x->paused)
		return false;
	double again = pdl_rxbatch_check(&x->rxb, x->last_rx, now);
	if (again > 0)
		pdl_xfer_wake_at(x, again);
	double deadline = x->last_rx + (double)x->env->opt->stall_timeout_s;
	if (now < deadline) {
		pdl_xfer_wake_at(x, deadline);
		return false;
	}
	x->stalled = true;
	return true;
}

static bool transient_status(long code)
{
	return code == 408 || code == 429 || (code >= 500 && code <= 599);
}

static bool transient_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_COULDNT_RESOLVE_HOST:
		return true;
	default:
		return false;
	}
}

enum verdict { V_OK, V_RETRY, V_FAIL, V_STOP };

static enum verdict judge(struct pdl_xfer *x, CURLcode rc, char *err, size_t n)
{
	long code = 0;
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
	if (x->part_full)
		return V_OK;
	if (x->helper && x->part < 0) {
		/* The range was not given (or its part moved on): the owner
		 * goes on alone, nothing failed. */
		snprintf(err, n, "no part taken");
		return pdl_env_stopping(x->env) ? V_STOP : V_FAIL;
	}
	if (rc == CURLE_OK && x->range_from > 0 && !x->body_started &&
	    !over_http(x->h)) {
		/* Nothing after the offset of a resumed FTP transfer: the
		 * kept bytes are as long as the file, but nothing tells they
		 * are its bytes. Start over, as after an HTTP 416. */
		snprintf(err, n,
			 "nothing after offset %" PRId64 "; starting over",
			 x->range_from);
		x->bad_range = true;
		return V_RETRY;
	}
	if (rc == CURLE_OK) {
		int64_t have = sink_offset(&x->sink), want = x->total;
		if (x->split)
			pdl_split_where(x->split, x->part, &have, &want);
		if (want < 0 || have >= want)
			return V_OK;
		/* A 206 shorter than the rest asked for: the cut of a
		 * transfer. */
		if (x->split)
			snprintf(err, n,
				 "a part cut short at byte %" PRId64
				 " of %" PRId64,
				 have, x->total);
		else
			snprintf(err, n,
				 "cut short: %" PRId64 " of %" PRId64 " bytes",
				 have, want);
		return V_RETRY;
	}
	if (x->stalled && !pdl_env_stopping(x->env)) {
		snprintf(err, n, "stalled: nothing received for %ld s",
			 x->env->opt->stall_timeout_s);
		return V_RETRY;
	}
	if (rc == CURLE_ABORTED_BY_CALLBACK || pdl_env_stopping(x->env)) {
		snprintf(err, n, "interrupted");
		return V_STOP;
	}
	if (x->split_stop) {
		/* The reason is the failed part's (split_finish). */
		snprintf(err, n, "another part failed");
		return V_FAIL;
	}
	if (x->split_broken) {
		snprintf(err, n,
			 "the answer for a part of the body was not its range "
			 "of the same version");
		return V_FAIL;
	}
	if (x->write_errno) {
		snprintf(err, n, "cannot write %s: %s", x->job->relname,
			 strerror(x->write_errno));
		return V_FAIL;
	}
	if (x->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
		snprintf(err, n,
			 "larger than --max-filesize (%" PRId64 " bytes)",
			 x->env->opt->max_filesize);
		return V_FAIL;
	}
	if (x->overlong) {
		/* Bytes beyond the end of the resource: what the file holds
		 * cannot be trusted either. */
		snprintf(err, n,
			 "206 runs past the %" PRId64
			 " bytes of its Content-Range; starting over",
			 x->total);
		x->bad_range = true;
		return V_RETRY;
	}
	if (x->bad_range) {
		snprintf(err, n, "server answered a different range");
		return V_RETRY;
	}
	if ((rc == CURLE_BAD_DOWNLOAD_RESUME ||
	     rc == CURLE_FTP_COULDNT_USE_REST ||
	     (rc == CURLE_FTP_COULDNT_RETR_FILE && code == 554)) &&
	    x->range_from > 0) {
		/* FTP: the kept part is longer than the file (libcurl knows
		 * from SIZE; a server without SIZE refuses the RETR after
		 * REST with 554, "invalid REST parameter"), or the server
		 * takes no REST. */
		snprintf(err, n, "%.200s; starting over",
			 x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
		x->bad_range = true;
		return V_RETRY;
	}
	if (rc == CURLE_HTTP_RETURNED_ERROR && code == 416 &&
	    x->range_from > 0) {
		/* The kept part is no prefix the server recognises (perhaps
		 * the file changed): start over from zero. */
		snprintf(err, n, "HTTP 416 for the kept part; starting over");
		x->bad_range = true;
		return V_RETRY;
	}
	if (rc == CURLE_HTTP_RETURNED_ERROR) {
		snprintf(err, n, "HTTP %ld", code);
		return transient_status(code) ? V_RETRY : V_FAIL;
	}
	if (rc == CURLE_OPERATION_TIMEDOUT &&
	    strstr(x->errbuf, "too slow") != NULL) {
		snprintf(err, n, "stalled: nothing received for %ld s",
			 x->env->opt->stall_timeout_s);
		return V_RETRY;
	}
	/* libcurl gives the same codes to an HTTP/0.9 answer and to a
	 * header line too long to buffer; neither is what they say. */
	if (rc == CURLE_UNSUPPORTED_PROTOCOL && strstr(x->errbuf, "HTTP/0.9")) {
		snprintf(err, n, "not an HTTP response (HTTP/0.9)");
		return V_FAIL;
	}
	if (rc == CURLE_OUT_OF_MEMORY && x->resp_code > 0) {
		snprintf(err, n, "response header line too long");
		return V_FAIL;
	}
	if (rc == CURLE_SSL_CACERT_BADFILE && x->env->trust &&
	    pdl_trust_load(x->env->trust) < 0) {
		/* pdl_trust could not read its file (libcurl says only that
		 * the callback failed); the read is not tried again here */
		snprintf(err, n, "no CA certificate can be read from %.200s",
			 pdl_trust_path(x->env->trust));
		return V_FAIL;
	}
	if (rc == CURLE_UNSUPPORTED_PROTOCOL) {
		/* The message is cut where it has to be. */
		snprintf(err, n, "protocol not allowed (--proto %.64s)%s%.120s",
			 x->env->opt->proto, x->errbuf[0] ? ": " : "",
			 x->errbuf);
		return V_FAIL;
	}
	snprintf(err, n, "%s",
		 x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
	return transient_curl(rc) ? V_RETRY : V_FAIL;
}

static uint64_t jitter_state(const struct pdl_job *job)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t s = (uint64_t)ts.tv_nsec ^ ((uint64_t)job->index << 32) ^
		     0x9e3779b97f4a7c15ULL;
	s ^= s >> 33;
	s *= 0xff51afd7ed558ccdULL;
	s ^= s >> 33;
	return s;
}

/* Exponential backoff with jitter in [delay/2, delay], or what the server
 * asked for with Retry-After, within a cap. */
static double retry_delay(struct pdl_xfer *x, int attempt)
{
	curl_off_t after = 0;
	if (curl_easy_getinfo(x->h, CURLINFO_RETRY_AFTER, &after) == CURLE_OK &&
	    after > 0)
		return (double)after < RETRY_AFTER_CAP_S ? (double)after
							 : RETRY_AFTER_CAP_S;
	/* 2^(attempt-1) by shift: pow would pull in libm (bench/NOTES.md),
	 * and the cap is reached long before the shift could overflow. */
	int k = attempt - 1 < 16 ? attempt - 1 : 16;
	double d = BACKOFF_BASE_S * (double)(1u << k);
	if (d > BACKOFF_CAP_S)
		d = BACKOFF_CAP_S;
	uint64_t r = jitter_state(x->job);
	return d / 2 + d / 2 * ((double)(r >> 11) / 9007199254740992.0);
}

/* With --content-disposition, a name the server suggests replaces the one
 * derived from the URL (not one given on the list line). A suggestion of
 * the URL's own name keeps the name reserved for it, numbered or not. */
static void apply_disposition(struct pdl_done *d)
{
	if (!d->disposition || d->job->named)
		return;
	char *want = pdl_name_from_disposition(d->disposition);
	if (!want || !strcmp(want, d->job->want) ||
	    !strcmp(want, d->sink.file.base)) {
		free(want);
		return;
	}
	char *final = NULL;
	if (pdl_outdir_reserve(d->env->out, want, false, &final) ==
		PDL_RESERVE_OK &&
	    !pdl_outfile_rename(&d->sink.file, final)) {
		pdl_outdir_release(d->env->out, d->job->relname);
		/* The caller releases job->relname: make it the new name. */
		free(d->job->relname);
		d->job->relname = final;
		free(d->job->want);
		d->job->want = want;
		return;
	}
	if (final)
		pdl_outdir_release(d->env->out, final);
	free(final);
	free(want);
}

/* The final name was taken after it was reserved: by another process, or
 * by a file the file system takes for the same name (case folding). The
 * next free number is taken then, as if the file had been there from the
 * start. False when there is none, or this keeps happening. */
static bool take_next_name(struct pdl_done *d, int *tries)
{
	struct pdl_outdir *out = d->env->out;
	struct pdl_job *job = d->job;
	char *final = NULL;

	if (++*tries > RENUMBER_TRIES)
		return false;
	pdl_outdir_mark_taken(out, job->relname);
	if (pdl_outdir_reserve(out, job->want, false, &final) !=
		PDL_RESERVE_OK ||
	    pdl_outfile_rename(&d->sink.file, final)) {
		if (final)
			pdl_outdir_release(out, final);
		free(final);
		return false;
	}
	pdl_outdir_release(out, job->relname);
	free(job->relname);
	job->relname = final;
	return true;
}

/* The body came whole: into its file (an empty body still makes one),
 * and the file in place. */
static void settle_ok(struct pdl_done *d)
{
	struct pdl_sink *s = &d->sink;
	struct pdl_result *res = &d->res;
	const char *relname = d->job->relname;

	res->outcome = PDL_FAILED;
	if (!s->file_open) {
		bool empty = s->mem_len == 0;
		if (sink_open(s, d->env->out, relname)) {
			snprintf(res->error, sizeof(res->error),
				 "cannot %s %s: %s", empty ? "create" : "write",
				 relname, strerror(errno));
			sink_drop(s, false);
			return;
		}
	}
	apply_disposition(d);
	int tries = 0;
	while (pdl_outfile_commit(&s->file)) {
		int err = errno;
		if (err == EEXIST && take_next_name(d, &tries))
			continue;
		snprintf(res->error, sizeof(res->error), "cannot save %s: %s",
			 d->job->relname, strerror(err));
		if (err == EEXIST)
			pdl_outfile_abort(&s->file, false);
		s->file_open = false;
		return;
	}
	s->file_open = false;
	res->outcome = PDL_OK;
	res->path = strdup(d->job->relname);
}

int pdl_xfer_init(struct pdl_xfer *x, const struct pdl_env *env, double *due,
		  bool alone, atomic_size_t *mem_held, struct pdl_socks *socks)
{
	memset(x, 0, sizeof(*x));
	x->env = env;
	x->due = due;
	x->mem_max = alone ? PDL_SINK_MEM_ALONE : PDL_SINK_MEM;
	x->sink.held = mem_held;
	x->h = handle_create(env, alone);
	if (!x->h)
		return -1;
	curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(x->h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(x->h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(x->h, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(x->h, CURLOPT_PRIVATE, x);
	x->rxb.socks = socks;
	x->rxb.fd = -1;
	x->rxb.mark = 1;
	if (socks)
		pdl_socks_watch(socks, x->h);
	return 0;
}

void pdl_xfer_cleanup(struct pdl_xfer *x)
{
	if (x->h)
		curl_easy_cleanup(x->h);
	x->h = NULL;
	curl_slist_free_all(x->headers);
	x->headers = NULL;
	sink_drop(&x->sink, false);
}

/* list with line appended, or NULL (list freed) when memory is short. */
static struct curl_slist *append_or_free(struct curl_slist *list,
					 const char *line)
{
	struct curl_slist *l = curl_slist_append(list, line);
	if (!l)
		curl_slist_free_all(list);
	return l;
}

/* The request headers of an attempt: the -H lines, plus If-Range when it
 * resumes a body whose validator is known, so that a server whose
 * resource changed sends all of the new one (200) rather than its tail.
 * env->headers is shared by every transfer: the attempt gets a copy.
 * Short of memory it goes without If-Range: range_continues still checks
 * the size of the resource. */
static void set_headers(struct pdl_xfer *x)
{
	struct curl_slist *list = NULL;

	if ((x->range_from > 0 || x->split) && x->validator[0]) {
		char line[sizeof(x->validator) + 16];
		snprintf(line, sizeof(line), "If-Range: %s", x->validator);
		const struct curl_slist *h;
		for (h = x->env->headers; h; h = h->next)
			if (!(list = append_or_free(list, h->data)))
				break;
		if (!h)
			list = append_or_free(list, line);
	}
	curl_easy_setopt(x->h, CURLOPT_HTTPHEADER,
			 list ? list : x->env->headers);
	curl_slist_free_all(x->headers);
	x->headers = list;
}

void pdl_xfer_rearm(struct pdl_xfer *x, double now)
{
	int64_t end = -1; /* of the range, exclusive; -1: the body's */

	if (x->split && x->part >= 0) {
		pdl_split_where(x->split, x->part, &x->range_from, &end);
	} else if (x->split) {
		x->range_from = x->ask.from;
		end = x->ask.end;
	} else {
		x->range_from = sink_offset(&x->sink);
	}
	x->part_full = false;
	x->split_stop = false;
	x->split_broken = false;
	x->body_started = false;
	x->bad_range = false;
	x->overlong = false;
	x->stalled = false;
	x->paused = false;
	x->last_rx = now;
	x->write_errno = 0;
	x->resp_code = 0;
	x->errbuf[0] = '\0';
	x->res.attempts++;
	x->state = PDL_XFER_RUNNING;
	/* CURLOPT_RANGE, not RESUME_FROM: with that libcurl fails a 200
	 * answer ("cannot resume") that begin_body takes from byte 0
	 * instead. */
	char range[48];
	if (end > 0)
		snprintf(range, sizeof(range), "%" PRId64 "-%" PRId64,
			 x->range_from, end - 1);
	else
		snprintf(range, sizeof(range), "%" PRId64 "-", x->range_from);
	curl_easy_setopt(x->h, CURLOPT_RANGE,
			 x->range_from > 0 || end > 0 ? range : NULL);
	set_headers(x);
	double stall = now + (double)x->env->opt->stall_timeout_s;
	pdl_xfer_wake_at(x, stall);
}

/* x takes on job's URL from now: a download of its own, or a helper's
 * part of another's. */
static void take_on(struct pdl_xfer *x, struct pdl_job *job, double now)
{
	memset(&x->res, 0, sizeof(x->res));
	x->res.outcome = PDL_FAILED;
	x->job = job;
	x->t0 = now;
	x->hold_until = 0;
	x->too_big = false;
	x->started_over = false;
	x->disposition = NULL;
	x->state = PDL_XFER_IDLE;
	curl_easy_setopt(x->h, CURLOPT_URL, job->url);
}

bool pdl_xfer_start(struct pdl_xfer *x, struct pdl_job *job, double now)
{
	const struct pdl_options *o = x->env->opt;

	take_on(x, job, now);
	x->total = -1;
	x->validator[0] = '\0';
	x->split = NULL;
	x->part = 0;
	x->helper = false;
	if (o->resume) {
		if (pdl_outfile_open(&x->sink.file, x->env->out, job->relname,
				     true)) {
			snprintf(x->res.error, sizeof(x->res.error),
				 "cannot create %s: %s", job->relname,
				 strerror(errno));
			return false;
		}
		x->sink.file_open = true;
		/* noted by the run that kept it */
		pdl_outfile_noted(&x->sink.file, x->validator,
				  sizeof(x->validator));
	}
	pdl_xfer_rearm(x, now);
	return true;
}

static bool attempt_end(struct pdl_xfer *x, CURLcode rc, double now)
{
	const struct pdl_options *o = x->env->opt;
	struct pdl_result *res = &x->res;
	char err[sizeof(res->error)] = "";

	x->state = PDL_XFER_IDLE;
	pdl_rxbatch_end(&x->rxb);
	/* Every byte on disk before the attempt is judged: a write behind
	 * that failed fails the download as one in on_write would. */
	if (sink_flush(&x->sink) && !x->write_errno) {
		x->write_errno = errno;
		if (rc == CURLE_OK)
			rc = CURLE_WRITE_ERROR;
	}
	/* A whole answer without a body (an empty 200, a 204) to a resumed
	 * request: the resource is empty now. begin_body never ran to
	 * forget what earlier attempts got, so that is done here. */
	if (rc == CURLE_OK && x->range_from > 0 && !x->body_started &&
	    x->resp_code != 206 && over_http(x->h) && !x->split &&
	    restart_whole(x, -1)) {
		x->write_errno = errno;
		rc = CURLE_WRITE_ERROR;
	}
	enum verdict v = judge(x, rc, err, sizeof(err));
	/* A retry of a body no helper took part of is a retry as any
	 * other: it may start over if the resource changed, for one. */
	if (v == V_RETRY && x->split && !x->helper &&
	    pdl_split_dissolve(x->board, x->split)) {
		pdl_split_free(x->split);
		x->split = NULL;
		x->part = 0;
	}
	if (x->bad_range && x->split) {
		/* Starting over would empty a file other parts write into. */
		x->bad_range = false;
		if (v == V_RETRY)
			v = V_FAIL;
	}
	if (x->bad_range || (v == V_RETRY && x->sink.whole_only && !x->split &&
			     sink_offset(&x->sink) > 0)) {
		if (!x->bad_range)
			pdl_debugf("%s: modified too recently to resume: "
				   "starting over",
				   x->job->shown_url);
		x->total = -1;
		x->validator[0] = '\0';
		sink_restart(&x->sink);
	}
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &res->status);
	if (v == V_OK) {
		/* Settled later (pdl_done_settle), after the next request. */
		res->outcome = PDL_OK;
		return true;
	}
	snprintf(res->error, sizeof(res->error), "%s", err);
	if (v == V_STOP) {
		res->outcome = PDL_INTERRUPTED;
		return true;
	}
	if (v == V_FAIL)
		return true;
	double wait = 0;
	if (x->bad_range && !x->started_over) {
		/* What was kept is no prefix of what the server has now: no
		 * failure of the server, so a fresh start follows at once,
		 * beside --retries; once per download, so that it cannot
		 * loop. */
		x->started_over = true;
		pdl_debugf("%s: %s", x->job->shown_url, err);
	} else {
		int counted = res->attempts - (x->started_over ? 1 : 0);
		if (counted > o->retries)
			return true;
		wait = retry_delay(x, counted);
		pdl_debugf("%s: %s; retry %d of %ld in %.1fs%s",
			   x->job->shown_url, err, counted, o->retries, wait,
			   sink_offset(&x->sink) > 0 ? ", resuming" : "");
	}
	x->state = PDL_XFER_WAITING;
	x->retry_at = now + wait;
	pdl_xfer_wake_at(x, x->retry_at);
	return false;
}

/* The file of a download that failed keeps the body from its start up to
 * the first byte missing (for -c); nothing when that cannot be done. What
 * a write that failed left out is missing too: the file is never made
 * longer. */
static void keep_prefix(struct pdl_sink *s, int64_t keep)
{
	struct pdl_outfile *f = &s->file;
	struct stat st;

	if (fstat(f->fd, &st) < 0)
		keep = 0;
	else if (st.st_size < keep)
		keep = st.st_size;
	if (ftruncate(f->fd, (off_t)keep) < 0 ||
	    lseek(f->fd, (off_t)keep, SEEK_SET) < 0)
		keep = 0;
	f->resumed_from = 0;
	f->written = keep;
}

/* Every part of x's body is over: x's result is the body's. */
static void split_finish(struct pdl_xfer *x)
{
	struct pdl_split *s = x->split;
	struct pdl_result *res = &x->res;

	res->bytes += s->bytes;
	res->attempts += s->retries;
	if (s->failed && (res->outcome == PDL_OK || x->split_stop)) {
		res->outcome = s->interrupted ? PDL_INTERRUPTED : PDL_FAILED;
		snprintf(res->error, sizeof(res->error), "%s", s->error);
	}
	/* Bytes written behind count from when they are handed over: after
	 * a write of them failed, where the file stops is not known. */
	if (res->outcome != PDL_OK)
		keep_prefix(&x->sink, x->sink.wb && x->write_errno
					  ? 0
					  : pdl_split_prefix(s));
	pdl_split_free(s);
	x->split = NULL;
}

/* The owner's part is over: the download too, unless other parts still
 * run (PDL_XFER_JOINING until the last of them wakes the loop). */
static bool owner_leaves(struct pdl_xfer *x)
{
	struct pdl_leave how = {.part = x->part,
				.outcome = x->res.outcome,
				.error = x->res.error,
				.owner = true};

	if (pdl_split_leave(x->board, x->split, &how) > 0) {
		x->state = PDL_XFER_JOINING;
		return false;
	}
	split_finish(x);
	return true;
}

bool pdl_xfer_attempt_done(struct pdl_xfer *x, CURLcode rc, double now)
{
	if (!attempt_end(x, rc, now))
		return false;
	return x->helper || !x->split || owner_leaves(x);
}

bool pdl_xfer_join(struct pdl_xfer *x)
{
	if (x->state != PDL_XFER_JOINING || pdl_split_users(x->split) > 0)
		return false;
	x->state = PDL_XFER_IDLE;
	split_finish(x);
	return true;
}

void pdl_xfer_allow_split(struct pdl_xfer *x, struct pdl_board *board,
			  void (*wake)(void *), void *ctx, int64_t *rx)
{
	x->loop_rx = rx;
	x->board = board;
	x->wake = wake;
	x->wake_ctx = ctx;
}

void pdl_xfer_help(struct pdl_xfer *x, const struct pdl_ask *ask, double now)
{
	struct pdl_split *s = ask->split;

	take_on(x, s->job, now);
	x->total = s->total;
	snprintf(x->validator, sizeof(x->validator), "%s", s->validator);
	x->split = s;
	x->part = -1;
	x->helper = true;
	x->help_late = false;
	x->ask = *ask;
	pdl_xfer_rearm(x, now);
}

void pdl_xfer_help_end(struct pdl_xfer *x)
{
	const struct pdl_result *res = &x->res;
	struct pdl_leave how = {
	    .part = x->part,
	    .ask = x->part < 0 ? &x->ask : NULL,
	    .outcome = res->outcome,
	    .error = res->error,
	    .bytes = res->bytes,
	    .retries = res->attempts > 1 ? res->attempts - 1 : 0,
	    .refused = x->part < 0 && !x->help_late,
	};

	pdl_split_leave(x->board, x->split, &how);
	free(x->disposition);
	x->disposition = NULL;
	x->split = NULL;
	x->helper = false;
	x->job = NULL;
	memset(&x->res, 0, sizeof(x->res));
	x->state = PDL_XFER_IDLE;
}

bool pdl_xfer_give_up(struct pdl_xfer *x, enum pdl_outcome outcome,
		      const char *why)
{
	x->state = PDL_XFER_IDLE;
	x->res.outcome = outcome;
	snprintf(x->res.error, sizeof(x->res.error), "%s", why);
	return x->helper || !x->split || owner_leaves(x);
}

void pdl_xfer_end(struct pdl_xfer *x, struct pdl_done *d)
{
	struct pdl_job *job = x->job;

	if (x->res.outcome == PDL_OK && pdl_log_verbose()) {
		long redirs = 0;
		char *eff = NULL;
		curl_easy_getinfo(x->h, CURLINFO_REDIRECT_COUNT, &redirs);
		curl_easy_getinfo(x->h, CURLINFO_EFFECTIVE_URL, &eff);
		if (redirs > 0 && eff) {
			char *shown = pdl_url_redact(eff);
			pdl_debugf("%s: followed %ld redirect%s to %s",
				   job->shown_url, redirs,
				   redirs == 1 ? "" : "s", shown ? shown : "");
			free(shown);
		}
	}
	x->res.seconds = pdl_now_s() - x->t0;
	d->env = x->env;
	d->job = job;
	d->res = x->res;
	d->disposition = x->disposition;
	d->sink = x->sink;
	/* settled by the thread that writes behind, or by the loop: d
	 * writes its file itself */
	d->sink.wb = NULL;
	x->sink = (struct pdl_sink){.held = d->sink.held, .wb = x->sink.wb};
	x->disposition = NULL;
	memset(&x->res, 0, sizeof(x->res));
	x->job = NULL;
	x->state = PDL_XFER_IDLE;
}

struct pdl_job *pdl_done_settle(struct pdl_done *d, struct pdl_result *res)
{
	struct pdl_job *job = d->job;

	if (d->res.outcome == PDL_OK) {
		settle_ok(d);
	} else {
		struct pdl_sink *s = &d->sink;
		sink_drop(s, d->env->opt->resume && sink_offset(s) > 0 &&
				 !s->whole_only);
	}
	free(d->disposition);
	d->disposition = NULL;
	sink_free(&d->sink);
	*res = d->res;
	memset(&d->res, 0, sizeof(d->res));
	d->job = NULL;
	return job;
}
