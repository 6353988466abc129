/* The engine. Each loop owns a curl_multi handle and a fixed set of
 * transfers (slots), each with its own easy handle reused from one URL to
 * the next; the multi handle keeps the connections alive between them.
 * A loop fills its free slots from the queue, lets libcurl move every
 * transfer on in one poll, and keeps the timers of the transfers (stall,
 * backoff, --limit-rate). A thread blocked on one transfer would cost a
 * context switch and several polls per file; a loop serves whichever
 * transfer is ready (bench/NOTES.md). */
#include "pool.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "awake.h"
#include "hostlimit.h"
#include "log.h"
#include "progress.h"

/* glibc's default 8 MiB stacks are address space only, but transfers need
 * far less. */
#define LOOP_STACK (512 * 1024)
/* Longest poll: a stop or new job wakes a loop at once anyway. */
#define MAX_WAIT_S 1.0

/* Downloads a one-transfer loop has finished, waiting for its settler. It
 * is woken once SETTLE_BATCH are waiting (or a quarter of the loop's
 * memory for bodies is taken), else SETTLE_LAG_S after the first: one
 * wake-up per file cost more than the file's own work when the scheduler
 * kept the two threads on one CPU (bench/NOTES.md). */
#define SETTLE_DEPTH 16
#define SETTLE_BATCH 8
#define SETTLE_LAG_S 0.002
/* Write-behind: buffers of a body on its way to the file. */
#define WB_BUFS	 4
#define WB_CHUNK (256 * 1024)
/* Write-behind gathers libcurl's pieces of the body into large writes on
 * another thread. It pays only when the pieces are small: libcurl cuts
 * them to CURL_MAX_WRITE_SIZE, 16 KiB as Debian builds it; the libcurl of
 * scripts/libcurl.sh hands over whole reads of up to 512 KiB, and for
 * those the loop's own writes are cheaper than the copy (bench/NOTES.md). */
#define WB_PIECES_BELOW (64 * 1024)
/* Once the list is drained, a loop with a free slot looks this often for
 * a body to take a part of (split.h). */
#define HELP_EVERY_S 0.010
/* ... and only while its passes over its transfers receive less than
 * this. libcurl reads a transfer for as long as its socket has bytes (up
 * to a hundred buffers): a loop busy with fast bodies would send a part's
 * request only after such a pass, and get its answer after the next,
 * when the part it asked for has moved on (bench/NOTES.md). Counted in
 * bytes, not time, so that a slow machine (or valgrind) is not taken for
 * a busy loop. */
#define HELP_QUIET_BYTES (1024 * 1024)

/* A body written behind (transfer.h): the loop fills buffer cur, the
 * settler writes the queued ones in order. Under the settler's lock but
 * for the loop's own fields. */
struct pdl_wb {
	struct pdl_settler *s;
	unsigned char *buf[WB_BUFS];
	struct {
		int fd;
		int idx;
		size_t len;
	} q[WB_BUFS];
	size_t qhead, qlen;
	unsigned queued; /* bit i: buf[i] is in q */
	bool writing;	 /* the settler is writing one taken from q */
	int err;	 /* first write error since the last flush */
	/* the loop's */
	int cur; /* buffer being filled, -1: none */
	size_t cur_len;
	int cur_fd;
};

/* A loop with one transfer has nothing else to do while a file is
 * written: when the loops leave a CPU free, its settler thread writes,
 * puts in place and reports the downloads the loop has over, in order,
 * while the loop receives the next body, and, when libcurl's pieces are
 * small (WB_PIECES_BELOW), writes a body too large for memory into its
 * file behind the loop (struct pdl_wb). (With every CPU running a loop,
 * the settlers only add switches: bench/NOTES.md.) */
struct pdl_settler {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a record or buffer in or out, or closing */
	struct pdl_done ring[SETTLE_DEPTH];
	size_t head, len;
	bool closing;
	bool running;
	pthread_t thread;
	struct pdl_wb wb;
};

struct pdl_loop {
	struct pdl_pool *pool;
	CURLM *multi;
	struct pdl_xfer *slots;
	size_t n_slots;
	size_t *idle; /* stack of free slot indices */
	size_t n_idle;
	struct pdl_done *done; /* over, to settle after the next requests */
	size_t n_done;
	atomic_size_t mem_held;	     /* bodies in memory (transfer.h) */
	struct pdl_settler *settler; /* one-transfer loops only */
	struct pdl_socks *socks;     /* several-transfer loops: rxbatch.h */
	struct pdl_awake awake;	     /* whether its waits begin awake */
	double unsent_since; /* handed to the settler, not woken for: when */
	double due;	     /* the earliest timer of a slot */
	atomic_bool hungry;  /* polling with a free slot: wake on a push */
	atomic_bool joins;   /* the other parts of a slot's body are over */
	double help_at;	     /* when to look for a part to take next */
	int64_t rx;	     /* body bytes its transfers received */
	int64_t pass_rx;     /* ... in its last pass over them */
	pthread_t thread;
};

/* The CPUs this process may run on. */
static size_t cpus_usable(void)
{
	size_t cpus = 0;
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		cpus = (size_t)CPU_COUNT(&set);
	if (cpus == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		cpus = n > 0 ? (size_t)n : 1;
	}
	return cpus;
}

size_t pdl_pool_loops_for(size_t jobs)
{
	size_t cpus = cpus_usable();

	return jobs < cpus ? (jobs ? jobs : 1) : cpus;
}

static bool host_has_room(void *item, void *ctx)
{
	const struct pdl_job *job = item;
	return pdl_hostlimit_acquire(ctx, job->host);
}

/* Called by the queue with its lock held: wake the loops that wait for a
 * job, or all of them when the queue closes (a stop, or the end). */
static void notify(void *ctx, bool all)
{
	struct pdl_pool *p = ctx;
	for (size_t i = 0; i < p->n_loops; i++) {
		struct pdl_loop *l = &p->loops[i];
		if (atomic_exchange(&l->hungry, false) || all)
			curl_multi_wakeup(l->multi);
	}
}

/* A download that is over: its file settled, its name freed, counted
 * and reported. */
static void settle_one(struct pdl_pool *p, struct pdl_done *d)
{
	const struct pdl_env *env = p->env;
	struct pdl_progress *pg = env->progress;
	struct pdl_result res;
	struct pdl_job *job = pdl_done_settle(d, &res);

	if (pg) {
		atomic_fetch_add(&pg->done, 1);
		if (res.outcome != PDL_OK)
			atomic_fetch_add(&pg->failed, 1);
	}
	/* With --continue every name stays reserved for the whole run, so a
	 * later URL of the same name is numbered as in the run that made the
	 * files; with --overwrite every name written (release_written). The
	 * name of a URL that failed stays too: given back, it would go to a
	 * later URL or not depending on which finished first, and numbering
	 * follows the input order, as -n shows it. */
	if (env->opt->resume || res.outcome == PDL_FAILED)
		pdl_outdir_keep(env->out, job->relname);
	else if (res.outcome == PDL_OK)
		pdl_outdir_release_written(env->out, job->relname);
	else
		pdl_outdir_release(env->out, job->relname);
	pdl_report_file(p->report, job, &res);
	pdl_result_finish(&res);
	/* A download holds its host's slot until its file is in place.
	 * Freed at the end of the transfer, the slot could go to the host's
	 * next download, on a new connection from the other loop, before the
	 * server was done with this one. */
	if (p->hosts) {
		pdl_hostlimit_release(p->hosts, job->host);
		pdl_queue_wake(p->queue);
	}
	pdl_job_destroy(job);
}

/* The downloads the loop has over. */
static void settle(struct pdl_loop *l)
{
	for (size_t i = 0; i < l->n_done; i++)
		settle_one(l->pool, &l->done[i]);
	l->n_done = 0;
}

/* The settler writes the oldest queued buffer. Lock held, dropped while
 * writing. Once a write failed, the rest until the flush are dropped. */
static void wb_write_one(struct pdl_wb *wb)
{
	struct pdl_settler *s = wb->s;
	int fd = wb->q[wb->qhead].fd;
	int idx = wb->q[wb->qhead].idx;
	size_t len = wb->q[wb->qhead].len;
	bool failed = wb->err != 0;

	wb->qhead = (wb->qhead + 1) % WB_BUFS;
	wb->qlen--;
	wb->writing = true;
	pthread_mutex_unlock(&s->lock);
	size_t done;
	int e =
	    failed || !pdl_write_all(fd, wb->buf[idx], len, &done) ? 0 : errno;
	pthread_mutex_lock(&s->lock);
	wb->writing = false;
	wb->queued &= ~(1u << idx);
	if (e && !wb->err)
		wb->err = e;
	pthread_cond_broadcast(&s->cond);
}

/* Queues the buffer the loop has filled. */
static void wb_submit(struct pdl_wb *wb)
{
	struct pdl_settler *s = wb->s;

	if (wb->cur_len) {
		pthread_mutex_lock(&s->lock);
		size_t i = (wb->qhead + wb->qlen++) % WB_BUFS;
		wb->q[i].fd = wb->cur_fd;
		wb->q[i].idx = wb->cur;
		wb->q[i].len = wb->cur_len;
		wb->queued |= 1u << wb->cur;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
	}
	wb->cur = -1;
	wb->cur_len = 0;
}

/* A free buffer for the loop to fill for fd, once one is written. */
static int wb_take(struct pdl_wb *wb, int fd)
{
	struct pdl_settler *s = wb->s;
	int idx = -1;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		if (wb->err) {
			errno = wb->err;
			pthread_mutex_unlock(&s->lock);
			return -1;
		}
		for (int i = 0; i < WB_BUFS && idx < 0; i++)
			if (!(wb->queued & (1u << i)))
				idx = i;
		if (idx >= 0)
			break;
		pthread_cond_wait(&s->cond, &s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	if (!wb->buf[idx] && !(wb->buf[idx] = malloc(WB_CHUNK))) {
		errno = ENOMEM;
		return -1;
	}
	wb->cur = idx;
	wb->cur_len = 0;
	wb->cur_fd = fd;
	return 0;
}

int pdl_wb_write(struct pdl_wb *wb, int fd, const char *data, size_t len)
{
	if (wb->cur >= 0 && wb->cur_fd != fd)
		wb_submit(wb);
	while (len) {
		if (wb->cur < 0 && wb_take(wb, fd))
			return -1;
		size_t n = WB_CHUNK - wb->cur_len;
		if (n > len)
			n = len;
		memcpy(wb->buf[wb->cur] + wb->cur_len, data, n);
		wb->cur_len += n;
		data += n;
		len -= n;
		if (wb->cur_len == WB_CHUNK)
			wb_submit(wb);
	}
	return 0;
}

int pdl_wb_flush(struct pdl_wb *wb)
{
	struct pdl_settler *s = wb->s;

	if (wb->cur >= 0)
		wb_submit(wb);
	pthread_mutex_lock(&s->lock);
	while (wb->qlen || wb->writing)
		pthread_cond_wait(&s->cond, &s->lock);
	int e = wb->err;
	wb->err = 0;
	pthread_mutex_unlock(&s->lock);
	if (e) {
		errno = e;
		return -1;
	}
	return 0;
}

static void *settler_main(void *arg)
{
	struct pdl_loop *l = arg;
	struct pdl_settler *s = l->settler;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (s->len == 0 && s->wb.qlen == 0 && !s->closing)
			pthread_cond_wait(&s->cond, &s->lock);
		if (s->wb.qlen) {
			wb_write_one(&s->wb);
			continue;
		}
		if (s->len == 0)
			break;
		struct pdl_done d = s->ring[s->head];
		s->head = (s->head + 1) % SETTLE_DEPTH;
		s->len--;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		settle_one(l->pool, &d);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* Wakes l's settler for what it was handed. */
static void settler_wake(struct pdl_loop *l)
{
	struct pdl_settler *s = l->settler;

	pthread_mutex_lock(&s->lock);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	l->unsent_since = 0;
}

/* Hands l's settler a download x has over, once it has room for one. */
static void settler_put(struct pdl_loop *l, struct pdl_xfer *x)
{
	struct pdl_settler *s = l->settler;

	pthread_mutex_lock(&s->lock);
	while (s->len == SETTLE_DEPTH)
		pthread_cond_wait(&s->cond, &s->lock);
	pdl_xfer_end(x, &s->ring[(s->head + s->len) % SETTLE_DEPTH]);
	s->len++;
	bool wake = s->len >= SETTLE_BATCH ||
		    atomic_load(&l->mem_held) > PDL_SINK_BUDGET / 4;
	if (wake)
		pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (wake)
		l->unsent_since = 0;
	else if (l->unsent_since == 0)
		l->unsent_since = pdl_now_s();
}

/* Wakes l's settler if what it was handed has waited SETTLE_LAG_S; else
 * returns how long until then (0: nothing waits). */
static double settler_due(struct pdl_loop *l, double now)
{
	if (!l->settler || l->unsent_since == 0)
		return 0;
	double left = l->unsent_since + SETTLE_LAG_S - now;
	if (left > 0)
		return left;
	settler_wake(l);
	return 0;
}

/* Waits until every download handed over is settled. */
static void settler_close(struct pdl_loop *l)
{
	struct pdl_settler *s = l->settler;

	if (!s)
		return;
	if (s->running) {
		pthread_mutex_lock(&s->lock);
		s->closing = true;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
		s->running = false;
	}
	for (size_t i = 0; i < l->n_slots; i++)
		l->slots[i].sink.wb = NULL;
	for (int i = 0; i < WB_BUFS; i++)
		free(s->wb.buf[i]);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
	l->settler = NULL;
}

/* Starts l's settler; without one, l settles its own downloads. */
static void settler_open(struct pdl_loop *l)
{
	struct pdl_settler *s = calloc(1, sizeof(*s));
	pthread_attr_t attr;

	if (!s)
		return;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->wb.s = s;
	s->wb.cur = -1;
	l->settler = s;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, LOOP_STACK);
	s->running = pthread_create(&s->thread, &attr, settler_main, l) == 0;
	pthread_attr_destroy(&attr);
	if (!s->running) {
		settler_close(l);
		return;
	}
	if (CURL_MAX_WRITE_SIZE < WB_PIECES_BELOW)
		for (size_t i = 0; i < l->n_slots; i++)
			l->slots[i].sink.wb = &s->wb;
}

/* A download is over: its slot is free for the next, its file settled
 * after the loop has sent the next requests (settle). */
static void complete(struct pdl_loop *l, struct pdl_xfer *x)
{
	struct pdl_progress *pg = l->pool->env->progress;

	if (l->settler) {
		settler_put(l, x);
	} else {
		if (l->n_done == l->n_slots)
			settle(l);
		pdl_xfer_end(x, &l->done[l->n_done++]);
	}
	if (pg)
		atomic_fetch_sub(&pg->active, 1);
	/* The last download: loops that stayed to help may end now. */
	if (atomic_fetch_sub(&l->pool->busy, 1) == 1 && l->pool->splitting)
		for (size_t i = 0; i < l->pool->n_loops; i++)
			curl_multi_wakeup(l->pool->loops[i].multi);
	l->idle[l->n_idle++] = (size_t)(x - l->slots);
}

/* A helper's part is over: its slot is free, its host's too. */
static void help_over(struct pdl_loop *l, struct pdl_xfer *x)
{
	struct pdl_pool *p = l->pool;

	if (p->hosts) {
		pdl_hostlimit_release(p->hosts, x->job->host);
		pdl_queue_wake(p->queue);
	}
	pdl_xfer_help_end(x);
	l->idle[l->n_idle++] = (size_t)(x - l->slots);
}

/* x is over: a download, or a helper's part. */
static void over(struct pdl_loop *l, struct pdl_xfer *x)
{
	if (x->helper)
		help_over(l, x);
	else
		complete(l, x);
}

/* Puts x's handle into the loop for its next attempt. */
static void add(struct pdl_loop *l, struct pdl_xfer *x)
{
	CURLMcode mc = curl_multi_add_handle(l->multi, x->h);
	if (mc != CURLM_OK) {
		if (pdl_xfer_give_up(x, PDL_FAILED, curl_multi_strerror(mc)))
			over(l, x);
	}
}

/* Takes jobs into free slots; returns whether it took any. */
static bool fill(struct pdl_loop *l, bool *drained, double now)
{
	struct pdl_pool *p = l->pool;
	bool took = false;

	while (l->n_idle > 0) {
		struct pdl_job *job =
		    p->hosts
			? pdl_queue_try_pop_if(p->queue, host_has_room,
					       p->hosts, drained)
			: pdl_queue_try_pop_if(p->queue, NULL, NULL, drained);
		if (!job)
			break;
		took = true;
		struct pdl_xfer *x = &l->slots[l->idle[--l->n_idle]];
		atomic_fetch_add(&p->busy, 1);
		if (p->env->progress)
			atomic_fetch_add(&p->env->progress->active, 1);
		if (pdl_xfer_start(x, job, now))
			add(l, x);
		else
			complete(l, x);
	}
	return took;
}

/* An attempt is over (the handle is out of the loop): finish the download
 * or leave it waiting for its retry. */
static bool attempt_over(struct pdl_loop *l, struct pdl_xfer *x, CURLcode rc,
			 double now)
{
	if (!pdl_xfer_attempt_done(x, rc, now))
		return false;
	over(l, x);
	return true;
}

/* Slots whose other parts are all over now: their downloads are. */
static bool join(struct pdl_loop *l)
{
	bool freed = false;

	for (size_t i = 0; i < l->n_slots; i++) {
		struct pdl_xfer *x = &l->slots[i];
		if (x->state == PDL_XFER_JOINING && pdl_xfer_join(x)) {
			complete(l, x);
			freed = true;
		}
	}
	return freed;
}

static bool joining(const struct pdl_loop *l)
{
	for (size_t i = 0; i < l->n_slots; i++)
		if (l->slots[i].state == PDL_XFER_JOINING)
			return true;
	return false;
}

/* Called by the last other part of a body: its owner's loop joins. */
static void wake_joins(void *ctx)
{
	struct pdl_loop *l = ctx;

	atomic_store(&l->joins, true);
	curl_multi_wakeup(l->multi);
}

/* Whether the loop may take a part of a body now: the list is drained and
 * a slot is free. */
static bool may_help(const struct pdl_loop *l, bool drained)
{
	return drained && l->n_idle > 0 && l->pool->splitting;
}

/* The list is drained: free slots take parts of the longest bodies still
 * coming (split.h), each on a connection of its own, counted against
 * --max-per-host like any. */
static void help(struct pdl_loop *l, double now)
{
	struct pdl_pool *p = l->pool;
	struct pdl_ask ask;

	while (l->n_idle > 0) {
		if (!pdl_board_pick(&p->board, PDL_SPLIT_MIN, now, &ask)) {
			l->help_at = now + HELP_EVERY_S;
			return;
		}
		if (p->hosts &&
		    !pdl_hostlimit_acquire(p->hosts, ask.split->job->host)) {
			struct pdl_leave how = {.part = -1, .ask = &ask};
			pdl_split_leave(&p->board, ask.split, &how);
			l->help_at = now + HELP_EVERY_S;
			return;
		}
		struct pdl_xfer *x = &l->slots[l->idle[--l->n_idle]];
		pdl_xfer_help(x, &ask, now);
		add(l, x);
	}
}

/* Collects the attempts libcurl finished; returns whether a slot freed. */
static bool reap(struct pdl_loop *l, double now)
{
	bool freed = false;
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(l->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURL *h = msg->easy_handle;
		CURLcode rc = msg->data.result;
		struct pdl_xfer *x = NULL;
		curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&x);
		curl_multi_remove_handle(l->multi, h);
		freed |= attempt_over(l, x, rc, now);
	}
	return freed;
}

/* The timers: retries whose backoff is over, transfers --limit-rate held
 * back, stalls. Also finds the next one. Returns whether a slot freed. */
static bool sweep(struct pdl_loop *l, double now)
{
	bool freed = false;

	l->due = now + MAX_WAIT_S;
	for (size_t i = 0; i < l->n_slots; i++) {
		struct pdl_xfer *x = &l->slots[i];
		if (x->state == PDL_XFER_WAITING) {
			if (now >= x->retry_at) {
				pdl_xfer_rearm(x, now);
				add(l, x);
			} else {
				pdl_xfer_wake_at(x, x->retry_at);
			}
			continue;
		}
		if (x->state != PDL_XFER_RUNNING)
			continue;
		if (x->paused) {
			if (now < x->hold_until) {
				pdl_xfer_wake_at(x, x->hold_until);
				continue;
			}
			/* libcurl may call on_write from here, which may
			 * pause it again. */
			x->paused = false;
			x->last_rx = now;
			curl_easy_pause(x->h, CURLPAUSE_CONT);
		}
		if (pdl_xfer_check_stall(x, now)) {
			curl_multi_remove_handle(l->multi, x->h);
			freed |=
			    attempt_over(l, x, CURLE_ABORTED_BY_CALLBACK, now);
		}
	}
	return freed;
}

/* A stop: every download of the loop ends now, as interrupted. */
static void interrupt_all(struct pdl_loop *l)
{
	for (size_t i = 0; i < l->n_slots; i++) {
		struct pdl_xfer *x = &l->slots[i];
		if (x->state == PDL_XFER_RUNNING) {
			curl_multi_remove_handle(l->multi, x->h);
			attempt_over(l, x, CURLE_ABORTED_BY_CALLBACK,
				     pdl_now_s());
		} else if (x->state == PDL_XFER_WAITING) {
			if (pdl_xfer_give_up(x, PDL_INTERRUPTED, "interrupted"))
				over(l, x);
		}
	}
	/* A body's file is settled only once all its parts are over: the
	 * other loops stop theirs now too. */
	while (joining(l)) {
		curl_multi_poll(l->multi, NULL, 0, 100, NULL);
		join(l);
	}
	settle(l);
}

/* Up to PDL_AWAKE_S, libcurl's sockets are looked at without sleeping
 * (curl_multi_wait leaves a curl_multi_wakeup to the poll after it).
 * Whether one had something. */
static bool wait_awake(struct pdl_loop *l, double until)
{
	const struct pdl_env *env = l->pool->env;
	int n = 0;

	do {
		if (curl_multi_wait(l->multi, NULL, 0, 0, &n) != CURLM_OK)
			return false;
	} while (n == 0 && pdl_now_s() < until && !pdl_env_stopping(env));
	return n > 0;
}

/* The most body bytes one of l's running downloads has received. */
static int64_t streamed(const struct pdl_loop *l)
{
	int64_t most = 0;
	for (size_t i = 0; i < l->n_slots; i++)
		if (l->slots[i].state == PDL_XFER_RUNNING &&
		    l->slots[i].res.bytes > most)
			most = l->slots[i].res.bytes;
	return most;
}

/* Waits up to ms for a socket, a timer or a wake-up. A loop that leaves a
 * CPU free (for the server, when it is on this machine) may begin awake:
 * awake.h. */
static void loop_wait(struct pdl_loop *l, int ms)
{
	if (ms == 0 || !l->pool->cpu_spare) {
		curl_multi_poll(l->multi, NULL, 0, ms, NULL);
		return;
	}
	double t0 = pdl_now_s();
	if (!(pdl_awake_next(&l->awake, streamed(l)) &&
	      wait_awake(l, t0 + PDL_AWAKE_S)))
		curl_multi_poll(l->multi, NULL, 0, ms, NULL);
	pdl_awake_note(&l->awake, pdl_now_s() - t0);
}

static void loop_run(struct pdl_loop *l)
{
	const struct pdl_env *env = l->pool->env;
	bool drained = false;
	int running;

	for (;;) {
		double now = pdl_now_s();
		if (pdl_env_stopping(env)) {
			interrupt_all(l);
			break;
		}
		if (atomic_exchange(&l->joins, false))
			join(l);
		if (!drained)
			fill(l, &drained, now);
		bool all_idle = l->n_idle == l->n_slots;
		if (may_help(l, drained) &&
		    (all_idle ||
		     (l->pass_rx < HELP_QUIET_BYTES && now >= l->help_at)))
			help(l, now);
		/* With bodies to take parts of, a loop with nothing left
		 * of its own stays while other loops have downloads. */
		if (drained && l->n_idle == l->n_slots &&
		    (!l->pool->splitting || atomic_load(&l->pool->busy) == 0)) {
			settle(l);
			break;
		}
		int64_t rx = l->rx;
		curl_multi_perform(l->multi, &running);
		l->pass_rx = l->rx - rx;
		/* The requests of new downloads are out: the server works
		 * on them while the files of the ones before are written. */
		settle(l);
		now = pdl_now_s();
		bool freed = reap(l, now);
		if (now >= l->due)
			freed |= sweep(l, now);
		if (freed)
			continue;
		if (!drained && l->n_idle > 0) {
			/* Either this fill sees a job pushed from now on, or
			 * the pusher sees hungry and wakes the poll. */
			atomic_store(&l->hungry, true);
			if (fill(l, &drained, now)) {
				atomic_store(&l->hungry, false);
				continue;
			}
		}
		double wait = l->due - now;
		double lag = settler_due(l, now);
		if (lag > 0 && lag < wait)
			wait = lag;
		if (may_help(l, drained) && l->help_at - now < wait)
			wait = l->help_at - now;
		int ms = wait <= 0	      ? 0
			 : wait >= MAX_WAIT_S ? (int)(MAX_WAIT_S * 1000)
					      : (int)(wait * 1000) + 1;
		loop_wait(l, ms);
		atomic_store(&l->hungry, false);
	}
}

/* A transfer thread. (--sequential runs its one loop on the main thread,
 * files and all: the baseline.) */
static void *loop_main(void *arg)
{
	struct pdl_loop *l = arg;

	if (l->n_slots == 1 && l->pool->cpu_spare)
		settler_open(l);
	loop_run(l);
	settler_close(l);
	return NULL;
}

static void loop_free(struct pdl_loop *l)
{
	for (size_t i = 0; i < l->n_slots; i++)
		pdl_xfer_cleanup(&l->slots[i]);
	if (l->multi)
		curl_multi_cleanup(l->multi);
	/* After the multi handle: closing its connections tells socks. */
	pdl_socks_free(l->socks);
	l->socks = NULL;
	free(l->slots);
	free(l->idle);
	free(l->done);
}

static int loop_init(struct pdl_loop *l, struct pdl_pool *p, size_t n_slots)
{
	l->pool = p;
	atomic_init(&l->hungry, false);
	atomic_init(&l->joins, false);
	atomic_init(&l->mem_held, 0);
	pdl_awake_init(&l->awake);
	l->multi = curl_multi_init();
	l->slots = calloc(n_slots, sizeof(*l->slots));
	l->idle = calloc(n_slots, sizeof(*l->idle));
	l->done = calloc(n_slots, sizeof(*l->done));
	if (!l->multi || !l->slots || !l->idle || !l->done)
		return -1;
	/* A loop with one transfer would only wait for the batches: nothing
	 * else to serve meanwhile (bench/NOTES.md). */
	if (n_slots > 1 && pdl_rxbatch_allowed(p->env->rate != NULL))
		l->socks = pdl_socks_new();
	for (; l->n_slots < n_slots; l->n_slots++) {
		size_t i = l->n_slots;
		if (pdl_xfer_init(&l->slots[i], p->env, &l->due, n_slots == 1,
				  &l->mem_held, l->socks))
			return -1;
		if (p->splitting)
			pdl_xfer_allow_split(&l->slots[i], &p->board,
					     wake_joins, l, &l->rx);
		l->idle[n_slots - 1 - i] = i; /* slot 0 is taken first */
	}
	l->n_idle = n_slots;
	return 0;
}

int pdl_pool_init(struct pdl_pool *p, size_t jobs, size_t n_loops,
		  struct pdl_queue *q, const struct pdl_env *env,
		  struct pdl_report *r)
{
	struct pdl_hostlimit *hosts = p->hosts;

	memset(p, 0, sizeof(*p));
	atomic_init(&p->busy, 0);
	p->hosts = hosts;
	p->queue = q;
	p->env = env;
	p->report = r;
	if (n_loops > jobs)
		n_loops = jobs;
	/* A body in parts needs a second slot; --limit-rate gains nothing
	 * from more connections. */
	p->splitting = jobs > 1 && !env->opt->no_split && !env->rate &&
		       pdl_board_init(&p->board) == 0;
	p->loops = calloc(n_loops, sizeof(*p->loops));
	if (!p->loops) {
		pdl_errorf("out of memory");
		pdl_pool_finish(p);
		return -1;
	}
	for (; p->n_loops < n_loops; p->n_loops++) {
		size_t i = p->n_loops;
		size_t share = jobs / n_loops + (i < jobs % n_loops);
		if (loop_init(&p->loops[i], p, share)) {
			pdl_errorf("cannot set up libcurl for %zu transfers",
				   jobs);
			loop_free(&p->loops[i]);
			pdl_pool_finish(p);
			return -1;
		}
	}
	p->cpu_spare = p->n_loops < cpus_usable();
	pdl_queue_set_notify(q, notify, p);
	return 0;
}

int pdl_pool_start(struct pdl_pool *p)
{
	pthread_attr_t attr;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, LOOP_STACK);
	for (size_t i = 0; i < p->n_loops; i++) {
		int err = pthread_create(&p->loops[i].thread, &attr, loop_main,
					 &p->loops[i]);
		if (err) {
			pdl_errorf("cannot start a transfer thread: %s",
				   strerror(err));
			break;
		}
		p->n_threads++;
	}
	pthread_attr_destroy(&attr);
	if (p->n_threads == 0)
		return -1;
	if (p->n_threads < p->n_loops)
		pdl_warnf("running %zu transfer threads instead of %zu",
			  p->n_threads, p->n_loops);
	return 0;
}

void pdl_pool_run(struct pdl_pool *p)
{
	loop_run(&p->loops[0]);
}

void pdl_pool_finish(struct pdl_pool *p)
{
	for (size_t i = 0; i < p->n_threads; i++)
		pthread_join(p->loops[i].thread, NULL);
	if (p->queue)
		pdl_queue_set_notify(p->queue, NULL, NULL);
	for (size_t i = 0; i < p->n_loops; i++)
		loop_free(&p->loops[i]);
	free(p->loops);
	p->loops = NULL;
	p->n_loops = 0;
	p->n_threads = 0;
	if (p->splitting)
		pdl_board_finish(&p->board);
	p->splitting = false;
}
