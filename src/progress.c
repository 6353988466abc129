/* The live progress line: a thread redraws one line on the terminal about
 * ten times a second from the workers' atomic counters; other output on the
 * terminal hides it first so lines never mix. */
#include "progress.h"

#include <math.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "format.h"

#define TICK_NS (100 * 1000000L)

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void pdl_progress_init(struct pdl_progress *p)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	p->started = now_s();
	p->last_t = p->started;
}

void pdl_progress_reset(struct pdl_progress *p)
{
	pthread_mutex_lock(&p->lock);
	atomic_store(&p->bytes, 0);
	atomic_store(&p->done, 0);
	atomic_store(&p->failed, 0);
	atomic_store(&p->total, 0);
	atomic_store(&p->total_final, false);
	p->started = now_s();
	p->last_t = p->started;
	p->last_bytes = 0;
	p->rate = 0;
	pthread_mutex_unlock(&p->lock);
}

char *pdl_progress_render(char *buf, size_t n, int width, long long done,
			  long long total, bool total_final, long long failed,
			  long long bytes, double rate, int active,
			  double elapsed)
{
	char line[256], size[32], rs[32], eta[32], tot[32];
	if (total_final)
		snprintf(tot, sizeof(tot), "%lld", total);
	else
		snprintf(tot, sizeof(tot), "%lld+", total);
	if (total_final && done > 0 && total > done && elapsed > 0) {
		double left = elapsed / (double)done * (double)(total - done);
		pdl_format_duration(eta, sizeof(eta), left);
	} else if (total_final && total == done) {
		snprintf(eta, sizeof(eta), "done");
	} else {
		snprintf(eta, sizeof(eta), "?");
	}
	char fails[32] = "";
	if (failed)
		snprintf(fails, sizeof(fails), ", %lld failed", failed);
	snprintf(line, sizeof(line),
		 "%lld/%s files%s  %s  %s  %d active  ETA %s", done, tot, fails,
		 pdl_format_size(size, sizeof(size), bytes),
		 pdl_format_rate(rs, sizeof(rs), rate), active, eta);
	/* Never wrap: one column short of the width, so the cursor does not
	 * move to the next line. */
	size_t max = width > 1 ? (size_t)width - 1 : 0;
	if (max >= n)
		max = n - 1;
	size_t len = strlen(line);
	if (len > max)
		len = max;
	memcpy(buf, line, len);
	buf[len] = '\0';
	return buf;
}

static int term_width(FILE *tty)
{
	struct winsize ws;
	if (ioctl(fileno(tty), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

/* With p->lock held. */
static void draw(struct pdl_progress *p)
{
	double t = now_s();
	long long bytes = atomic_load(&p->bytes);
	if (t - p->last_t >= 0.25) {
		double inst = (double)(bytes - p->last_bytes) / (t - p->last_t);
		p->rate = p->rate > 0 ? 0.6 * p->rate + 0.4 * inst : inst;
		p->last_t = t;
		p->last_bytes = bytes;
	}
	char line[256];
	/* The width is read at every draw, so a resized terminal (SIGWINCH)
	 * is followed without a handler. */
	pdl_progress_render(line, sizeof(line), term_width(p->tty),
			    atomic_load(&p->done), atomic_load(&p->total),
			    atomic_load(&p->total_final),
			    atomic_load(&p->failed), bytes, p->rate,
			    atomic_load(&p->active), t - p->started);
	fprintf(p->tty, "\r%s\033[K", line);
	fflush(p->tty);
	p->drawn = true;
}

static void clear(struct pdl_progress *p)
{
	if (p->drawn) {
		fputs("\r\033[K", p->tty);
		fflush(p->tty);
		p->drawn = false;
	}
}

static void *drawer(void *arg)
{
	struct pdl_progress *p = arg;
	pthread_mutex_lock(&p->lock);
	while (!p->quit) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += TICK_NS;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->wake, &p->lock, &ts);
		if (!p->quit)
			draw(p);
	}
	clear(p);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int pdl_progress_start(struct pdl_progress *p, FILE *tty)
{
	p->tty = tty;
	p->quit = false;
	if (pthread_create(&p->thread, NULL, drawer, p))
		return -1;
	p->enabled = true;
	return 0;
}

void pdl_progress_stop(struct pdl_progress *p)
{
	if (!p->enabled)
		return;
	pthread_mutex_lock(&p->lock);
	p->quit = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	p->enabled = false;
}

void pdl_progress_finish(struct pdl_progress *p)
{
	pdl_progress_stop(p);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
}

void pdl_progress_suspend(struct pdl_progress *p)
{
	if (!p || !p->enabled)
		return;
	pthread_mutex_lock(&p->lock);
	clear(p);
}

void pdl_progress_resume(struct pdl_progress *p)
{
	if (!p || !p->enabled)
		return;
	if (!p->quit)
		draw(p);
	pthread_mutex_unlock(&p->lock);
}
