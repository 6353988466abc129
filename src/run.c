/* A whole run: a reader thread turns lists into jobs in input order (names
 * reserved there, so the same list always gives the same names), workers
 * or the main thread download them, the report tells, the exit status sums
 * up. */
#include "run.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hostlimit.h"
#include "job.h"
#include "log.h"
#include "naming.h"
#include "outdir.h"
#include "pool.h"
#include "progress.h"
#include "queue.h"
#include "ratelimit.h"
#include "report.h"
#include "signals.h"
#include "transfer.h"
#include "urllist.h"

struct run {
	const struct pdl_options *opt;
	struct pdl_outdir out;
	struct pdl_report report;
	struct pdl_progress progress;
	struct pdl_ratelimit rate;
	struct pdl_hostlimit hosts;
	struct pdl_env env;
	struct pdl_signals sig;
	atomic_int stop;
	/* --compare: per input, a copy of a list that cannot be read twice
	 * (stdin, a pipe, a FIFO); NULL for regular files */
	FILE **spools;
	size_t n_spools;
	/* --compare: the sequential pass's scratch directory, for a second
	 * signal to remove; under sig.lock */
	int scratch_parent;
	char scratch[32];
	bool setup_failed;
	atomic_bool reader_done;
	bool reader_stuck; /* detached on a stop; it still uses this struct */
	struct pdl_queue *queue; /* for the signal thread, under its lock */
	struct pdl_queue *reader_queue; /* set before the reader starts */
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool stopping(struct run *r)
{
	return atomic_load(&r->stop) != 0;
}

/* host:port as the URL names it, for --max-per-host; host names are
 * case-insensitive (libcurl keeps the case given). */
static void host_key(const struct pdl_url *url, char *out, size_t n)
{
	out[0] = '\0';
	if (!url->port)
		return;
	snprintf(out, n, "%s:%s", url->host, url->port);
	for (char *p = out; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
}

static void report_bad(struct run *r, const char *src,
		       const struct pdl_line *line, const char *reason)
{
	char *shown = line->url ? pdl_url_redact_unusable(line->url) : NULL;
	pdl_report_bad_line(&r->report, src, line->lineno, shown ? shown : "",
			    reason);
	free(shown);
	atomic_fetch_add(&r->progress.done, 1);
	atomic_fetch_add(&r->progress.failed, 1);
}

/* Turns one usable line into a job with its reserved name, or reports why
 * it cannot be one. NULL when the line was handled here. The URL is parsed
 * once, into url, for the check, the name and the host key. */
static struct pdl_job *make_job(struct run *r, struct pdl_url *url,
				const char *src, const struct pdl_line *line,
				size_t index)
{
	const struct pdl_options *o = r->opt;
	const char *reason = NULL;
	char *want = NULL, *final = NULL;

	if (pdl_url_parse(url, line->url, o->proto, &reason)) {
		report_bad(r, src, line, reason);
		return NULL;
	}
	struct pdl_job *job =
	    pdl_job_create(index, src, line->lineno, line->url);
	if (!job) {
		report_bad(r, src, line, "out of memory");
		return NULL;
	}
	if (line->name) {
		want = pdl_name_check_relative(line->name, &reason);
		job->named = true;
	} else {
		want = pdl_name_from_path(url->path);
		reason = "out of memory";
	}
	if (!want) {
		report_bad(r, src, line, reason);
		pdl_job_destroy(job);
		return NULL;
	}
	enum pdl_reserve rv =
	    pdl_outdir_reserve(&r->out, want, o->resume, &final);
	job->want = want;
	if (rv == PDL_RESERVE_ERROR) {
		report_bad(r, src, line,
			   errno == ENOTDIR
			       ? "its name goes through an earlier URL's file"
			       : "no free output name");
		pdl_job_destroy(job);
		return NULL;
	}
	job->relname = final;
	job->exists = rv == PDL_RESERVE_EXISTS;
	if (o->max_per_host)
		host_key(url, job->host, sizeof(job->host));
	return job;
}

/* Jobs that need no transfer: -n, and -c for files already there. */
static bool settle_early(struct run *r, struct pdl_job *job)
{
	if (r->opt->dry_run) {
		/* The name stays reserved: in a real run the earlier file
		 * would be there, so a later URL of the same name must be
		 * shown numbered exactly as it would be. */
		pdl_outdir_keep(&r->out, job->relname);
		pdl_report_dry(&r->report, job);
		return true;
	}
	if (job->exists) {
		struct pdl_result res = {.outcome = PDL_SKIPPED, .attempts = 0};
		pdl_outdir_keep(&r->out, job->relname);
		res.path = strdup(job->relname);
		pdl_report_file(&r->report, job, &res);
		pdl_result_finish(&res);
		atomic_fetch_add(&r->progress.done, 1);
		return true;
	}
	return false;
}

static int open_list(struct run *r, struct pdl_list_reader *lr, size_t i,
		     const char *path)
{
	FILE *spool = i < r->n_spools ? r->spools[i] : NULL;
	if (!spool)
		return pdl_list_open(lr, path);
	if (pdl_list_open(lr, "-"))
		return -1;
	if (strcmp(path, "-"))
		lr->label = path;
	rewind(spool);
	lr->fp = spool;
	return 0;
}

/* URLs read but never started because of a stop, for the summary. The
 * queue's drop callback has no context, hence a file-scope counter. */
static atomic_llong not_started;

static void drop_job(void *item)
{
	atomic_fetch_add(&not_started, 1);
	pdl_job_destroy(item);
}

/* The reader: every list in order, each URL line to a job, pushed to the
 * queue; the queue closes when the input ends. */
static void read_lists(struct run *r, struct pdl_queue *q)
{
	const struct pdl_options *o = r->opt;
	static const char *const stdin_only[] = {"-"};
	const char *const *inputs =
	    o->n_inputs ? (const char *const *)o->inputs : stdin_only;
	size_t n_inputs = o->n_inputs ? o->n_inputs : 1;
	size_t index = 0;
	struct pdl_list_reader *lr = malloc(sizeof(*lr));
	struct pdl_url url;

	pdl_url_init(&url);
	if (!lr) {
		pdl_errorf("out of memory");
		r->setup_failed = true;
		goto out;
	}
	for (size_t i = 0; i < n_inputs && !stopping(r); i++) {
		if (open_list(r, lr, i, inputs[i])) {
			pdl_errorf("cannot read list '%s': %s", inputs[i],
				   strerror(errno));
			r->setup_failed = true;
			continue;
		}
		for (;;) {
			struct pdl_line line;
			pdl_list_next(lr, &line);
			if (stopping(r) || line.kind == PDL_LINE_EOF)
				break;
			if (line.kind == PDL_LINE_IOERR) {
				pdl_errorf("cannot read list '%s': %s",
					   lr->label, line.reason);
				r->setup_failed = true;
				break;
			}
			if (line.kind == PDL_LINE_SKIP)
				continue;
			size_t my = index++;
			if (o->shard_n &&
			    my % (size_t)o->shard_n != (size_t)o->shard_k - 1)
				continue;
			atomic_fetch_add(&r->progress.total, 1);
			if (line.kind == PDL_LINE_BAD) {
				report_bad(r, lr->label, &line, line.reason);
				continue;
			}
			struct pdl_job *job =
			    make_job(r, &url, lr->label, &line, my);
			if (!job || settle_early(r, job)) {
				pdl_job_destroy(job);
				continue;
			}
			if (!pdl_queue_push(q, job)) {
				pdl_outdir_release(&r->out, job->relname);
				drop_job(job);
				break;
			}
		}
		pdl_list_close(lr);
	}
	free(lr);
out:
	pdl_url_finish(&url);
	atomic_store(&r->progress.total_final, true);
	pdl_queue_close(q);
	atomic_store(&r->reader_done, true);
}

static void *reader_main(void *arg)
{
	struct run *r = arg;
	read_lists(r, r->reader_queue);
	return NULL;
}

static int remove_tree(int parent, const char *name);

/* A second signal ends the process at once; only the temporary files of
 * the transfers cut short go first, and --compare's scratch directory. */
static void on_quit(void *ctx)
{
	struct run *r = ctx;
	pdl_outdir_remove_temps(&r->out);
	/* A loop may still be putting a file into it: try again. */
	for (int i = 0; r->scratch[0] && i < 5; i++)
		if (remove_tree(r->scratch_parent, r->scratch) == 0 ||
		    errno == ENOENT)
			break;
}

static void on_stop(void *ctx)
{
	struct run *r = ctx;
	pdl_report_stop_muted(&r->report);
	if (r->queue)
		pdl_queue_abort(r->queue, drop_job);
}

/* One pass over the lists; returns its wall time. */
static double run_pass(struct run *r, bool sequential)
{
	const struct pdl_options *o = r->opt;
	struct pdl_pool pool = {.hosts = o->max_per_host ? &r->hosts : NULL};
	pthread_t reader;
	/* --sequential: one loop with one download, on this thread. */
	size_t jobs = sequential ? 1 : (size_t)o->jobs;
	/* Deep enough that the reader refills it in batches, never waking
	 * for one job at a time. */
	size_t cap = sequential ? 2 : (size_t)o->jobs * 4;
	if (!sequential && cap < 64)
		cap = 64;
	/* With a per-host limit, workers pick past a busy host's URLs: give
	 * them a wider window of the list to pick from. */
	if (!sequential && o->max_per_host && cap < 1024)
		cap = 1024;
	double t0 = now_s();
	/* On the heap: a reader stuck on an endless pipe may outlive us. */
	struct pdl_queue *q = malloc(sizeof(*q));

	if (!q || pdl_queue_init(q, cap < 16 ? 16 : cap)) {
		pdl_errorf("out of memory");
		free(q);
		r->setup_failed = true;
		return 0;
	}
	atomic_store(&r->reader_done, false);
	atomic_store(&r->progress.total_final, false);
	pthread_mutex_lock(&r->sig.lock);
	r->queue = q;
	pthread_mutex_unlock(&r->sig.lock);
	if (stopping(r))
		pdl_queue_abort(q, drop_job);

	/* The reader first: it reads the lists while the pool's handles are
	 * set up, and the loops find its jobs waiting when they start. */
	r->reader_queue = q;
	bool reading = pthread_create(&reader, NULL, reader_main, r) == 0;
	bool pool_up = false;
	bool detached = false;
	if (!reading) {
		pdl_errorf("cannot start the list reader");
		r->setup_failed = true;
		pdl_queue_abort(q, drop_job);
	} else if (!o->dry_run) {
		pool_up =
		    pdl_pool_init(&pool, jobs,
				  sequential ? 1 : pdl_pool_loops_for(jobs), q,
				  &r->env, &r->report) == 0;
		if (pool_up && !sequential && pdl_pool_start(&pool)) {
			pdl_pool_finish(&pool);
			pool_up = false;
		}
		if (!pool_up) {
			r->setup_failed = true;
			pdl_queue_abort(q, drop_job);
		}
	}
	if (reading) {
		if (pool_up && sequential)
			pdl_pool_run(&pool);
		if (!pool_up) {
			/* -n, or no pool: the reader settles or drops every
			 * line; wait for it to close the queue. */
			struct pdl_job *job;
			while ((job = pdl_queue_pop(q)))
				drop_job(job);
		}
		if (pool_up)
			pdl_pool_finish(&pool);
		if (!stopping(r)) {
			pthread_join(reader, NULL);
		} else {
			/* Interrupted: a reader blocked on a pipe that never
			 * ends must not hold up the exit. */
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 200 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			if (pthread_timedjoin_np(reader, NULL, &ts)) {
				pthread_detach(reader);
				detached = true;
			}
		}
	}
	pthread_mutex_lock(&r->sig.lock);
	r->queue = NULL;
	pthread_mutex_unlock(&r->sig.lock);
	if (detached) {
		r->reader_stuck = true;
	} else {
		pdl_queue_finish(q);
		free(q);
	}
	return now_s() - t0;
}

static int check_lists(const struct pdl_options *o)
{
	for (size_t i = 0; i < o->n_inputs; i++) {
		const char *p = o->inputs[i];
		struct stat st;
		if (!strcmp(p, "-"))
			continue;
		if (stat(p, &st) || access(p, R_OK)) {
			pdl_errorf("cannot read list '%s': %s", p,
				   strerror(errno));
			return -1;
		}
		if (S_ISDIR(st.st_mode)) {
			pdl_errorf("cannot read list '%s': %s", p,
				   strerror(EISDIR));
			return -1;
		}
	}
	return 0;
}

/* libcurl allocates each transfer's receive buffer (512 KiB, see
 * transfer.c) when it starts and frees it when it ends. With glibc's
 * defaults that is an mmap and munmap per file, or, once the threshold has
 * adapted, a heap that is trimmed and faulted in again: about a page fault
 * per small file and a sixth of pdl's CPU (bench/NOTES.md). Fixed
 * thresholds keep the buffers in the heap and the heap as it is; peak RSS
 * is unchanged, as only touched pages count. */
static void tune_malloc(void)
{
	mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
}

/* Copies fd to the end into to, watching for a stop (a pipe may never
 * end): 0 done, 1 stopped, -1 error (errno). */
static int copy_list(struct run *r, int fd, FILE *to)
{
	char buf[65536];
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int ready = poll(&p, 1, 200);
		if (stopping(r))
			return 1;
		if (ready < 0 && errno != EINTR)
			return -1;
		if (ready <= 0)
			continue;
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return fflush(to) ? -1 : 0;
		if (fwrite(buf, 1, (size_t)n, to) != (size_t)n)
			return -1;
	}
}

/* --compare reads the lists twice. A regular file is simply opened again;
 * stdin, a pipe (`<(cmd)`) or a FIFO can be read only once, so each is
 * copied to an unnamed temporary file first, in input order, exactly as
 * one pass would read it (a second `-` finds stdin at its end, as in a
 * normal run). 0 done, 1 stopped, -1 error with *which the input. */
static int spool_lists(struct run *r, const char **which)
{
	const struct pdl_options *o = r->opt;
	size_t n = o->n_inputs ? o->n_inputs : 1;

	r->spools = calloc(n, sizeof(*r->spools));
	if (!r->spools)
		return -1;
	r->n_spools = n;
	for (size_t i = 0; i < n; i++) {
		const char *path = o->n_inputs ? o->inputs[i] : "-";
		bool is_stdin = !strcmp(path, "-");
		struct stat st;
		*which = is_stdin ? "<stdin>" : path;
		if (!is_stdin && stat(path, &st) == 0 && S_ISREG(st.st_mode))
			continue;
		int fd =
		    is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -1;
		int rc = -1;
		r->spools[i] = tmpfile();
		if (r->spools[i])
			rc = copy_list(r, fd, r->spools[i]);
		int saved = errno;
		if (!is_stdin)
			close(fd);
		errno = saved;
		if (rc)
			return rc;
	}
	return 0;
}

/* Removes a directory tree without following symlinks. */
static int remove_tree(int parent, const char *name)
{
	int fd = openat(parent, name,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return unlinkat(parent, name, 0);
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		/* remove_tree unlinks what is not a directory */
		if (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN)
			remove_tree(dirfd(d), e->d_name);
		else
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
	return unlinkat(parent, name, AT_REMOVEDIR);
}

/* --compare: the sequential pass writes into a scratch directory inside the
 * output directory, removed afterwards, so the directory ends as after one
 * normal run. */
static double compare_sequential(struct run *r)
{
	char scratch[] = ".pdl-compare.XXXXXX";
	int fd = -1;
	for (int i = 0; i < 100 && fd < 0; i++) {
		snprintf(
		    scratch, sizeof(scratch), ".pdl-compare.%06x",
		    (unsigned)((unsigned)getpid() * 2654435761u + (unsigned)i) &
			0xffffffu);
		if (mkdirat(r->out.dirfd, scratch, 0700) == 0)
			fd = openat(r->out.dirfd, scratch,
				    O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					O_CLOEXEC);
	}
	if (fd < 0) {
		pdl_errorf("cannot create a scratch directory: %s",
			   strerror(errno));
		r->setup_failed = true;
		return 0;
	}
	int real = r->out.dirfd;
	pthread_mutex_lock(&r->sig.lock);
	r->scratch_parent = real;
	snprintf(r->scratch, sizeof(r->scratch), "%s", scratch);
	pthread_mutex_unlock(&r->sig.lock);
	r->out.dirfd = fd;
	pdl_report_mute(&r->report);
	double t = run_pass(r, true);
	pdl_report_unmute(&r->report);
	r->out.dirfd = real;
	close(fd);
	remove_tree(real, scratch);
	pthread_mutex_lock(&r->sig.lock);
	r->scratch[0] = '\0';
	pthread_mutex_unlock(&r->sig.lock);
	/* The scratch files are gone: the real pass numbers names as a
	 * normal run would. */
	pdl_outdir_forget(&r->out);
	return t;
}

static int exit_status(struct run *r)
{
	int sig = atomic_load(&r->stop);
	if (sig)
		return sig == SIGINT ? PDL_EXIT_SIGINT : PDL_EXIT_SIGTERM;
	if (r->setup_failed)
		return PDL_EXIT_SETUP;
	/* a report lost to a full disk (not to a closed pipe, which only
	 * means the reader has seen enough) is a failure of the run */
	if (r->report.failed || r->report.out_failed)
		return PDL_EXIT_FAILED;
	return PDL_EXIT_OK;
}

static void progress_hook(void *ctx, bool before)
{
	if (before)
		pdl_progress_suspend(ctx);
	else
		pdl_progress_resume(ctx);
}

static bool want_progress(const struct pdl_options *o)
{
	if (o->progress == PDL_PROGRESS_NONE || o->dry_run)
		return false;
	if (o->progress == PDL_PROGRESS_BAR)
		return true;
	return !o->quiet && isatty(STDERR_FILENO);
}

int pdl_run(const struct pdl_options *o)
{
	struct run *r = calloc(1, sizeof(*r));
	char err[512];
	int status = PDL_EXIT_SETUP;

	if (!r) {
		pdl_errorf("out of memory");
		return PDL_EXIT_SETUP;
	}
	r->opt = o;
	pdl_log_set_verbose(o->verbose);
	if (check_lists(o))
		goto out_free;
	tune_malloc();
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		pdl_errorf("cannot initialise libcurl");
		goto out_free;
	}
	if (pdl_signals_start(&r->sig, &r->stop)) {
		pdl_errorf("cannot set up signal handling");
		goto out_curl;
	}
	if (pdl_outdir_open(&r->out, o->output_dir, !o->dry_run, err,
			    sizeof(err))) {
		pdl_errorf("%s", err);
		goto out_signals;
	}
	if (o->insecure)
		pdl_warnf("TLS peers are not verified (--insecure)");
	r->out.overwrite = o->overwrite;
	r->out.keep_partial = o->resume;
	pdl_signals_on_quit(&r->sig, on_quit, r);
	const char *list = NULL;
	int spooled = o->compare ? spool_lists(r, &list) : 0;
	if (spooled < 0) {
		pdl_errorf("cannot keep list '%s' for --compare: %s",
			   list ? list : "-", strerror(errno));
		goto out_outdir;
	}
	if (pdl_env_init(&r->env, o, &r->out, &r->stop)) {
		pdl_errorf("cannot set up libcurl");
		goto out_outdir;
	}
	if (pdl_env_trust(&r->env, err, sizeof(err))) {
		pdl_errorf("%s", err);
		pdl_env_finish(&r->env);
		goto out_outdir;
	}
	pdl_progress_init(&r->progress);
	r->env.progress = &r->progress;
	if (o->limit_rate) {
		pdl_ratelimit_init(&r->rate, o->limit_rate);
		r->env.rate = &r->rate;
	}
	if (o->max_per_host && pdl_hostlimit_init(&r->hosts, o->max_per_host)) {
		pdl_errorf("out of memory");
		goto out_env;
	}
	pdl_report_init(&r->report, o, stdout);
	/* Only now: on_stop reaches the report. A stop before (while stdin
	 * is copied for --compare) is seen through r->stop alone. */
	pdl_signals_on_stop(&r->sig, on_stop, r);
	if (want_progress(o) && !pdl_progress_start(&r->progress, stderr)) {
		r->report.progress = &r->progress;
		pdl_log_set_hook(progress_hook, &r->progress);
	}

	struct pdl_summary sum = {.jobs = o->sequential ? 1 : o->jobs};
	if (o->compare && spooled == 0) {
		/* A stop during the sequential pass: its files go with the
		 * scratch directory, so the report counts only what the stop
		 * cut short (pdl_report_stop_muted). */
		sum.sequential_seconds = compare_sequential(r);
		sum.seconds = sum.sequential_seconds;
		pdl_progress_reset(&r->progress);
		if (!stopping(r) && !r->setup_failed) {
			sum.parallel_seconds = run_pass(r, false);
			sum.seconds = sum.parallel_seconds;
			/* a speed-up is only worth printing for whole passes */
			sum.compare = !stopping(r);
		}
	} else if (!o->compare) {
		sum.seconds = run_pass(r, o->sequential);
	}
	pdl_log_set_hook(NULL, NULL);
	r->report.progress = NULL;
	pdl_progress_stop(&r->progress);
	sum.not_started = atomic_load(&not_started);
	pdl_report_summary(&r->report, &sum);
	status = exit_status(r);

	/* before the report goes: on_stop uses it */
	pdl_signals_on_stop(&r->sig, NULL, NULL);
	pdl_report_finish(&r->report);
	if (o->max_per_host)
		pdl_hostlimit_finish(&r->hosts);
out_env:
	if (o->limit_rate)
		pdl_ratelimit_finish(&r->rate);
	pdl_progress_finish(&r->progress);
	pdl_env_finish(&r->env);
out_outdir:
	pdl_signals_on_quit(&r->sig, NULL, NULL);
	for (size_t i = 0; i < r->n_spools; i++)
		if (r->spools[i])
			fclose(r->spools[i]);
	free(r->spools);
	pdl_outdir_close(&r->out);
out_signals:
	pdl_signals_on_stop(&r->sig, NULL, NULL);
	pdl_signals_stop(&r->sig);
out_curl:
	if (r->reader_stuck)
		return status; /* the reader may still touch r: leave it */
	curl_global_cleanup();
out_free:
	free(r);
	return status;
}
