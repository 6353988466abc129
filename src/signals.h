/* SIGINT and SIGTERM: taken by one thread with sigwait, so stopping is
 * ordinary code (set a flag, close the queue), never a signal handler. */
#ifndef PDL_SIGNALS_H
#define PDL_SIGNALS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct pdl_signals {
	pthread_t thread;
	bool running;
	atomic_int *stop; /* set to the signal number */
	pthread_mutex_t lock;
	void (*on_stop)(void *ctx);
	void *ctx;
	void (*on_quit)(void *ctx);
	void *quit_ctx;
};

/* Blocks SIGINT, SIGTERM (and ignores SIGPIPE, SIGXFSZ) in the calling
 * thread and every thread it creates later, then starts the waiting
 * thread. A second signal ends the process at once. */
int pdl_signals_start(struct pdl_signals *s, atomic_int *stop);
void pdl_signals_stop(struct pdl_signals *s);

/* What to call on the first signal (after stop is set); NULL for nothing. */
void pdl_signals_on_stop(struct pdl_signals *s, void (*fn)(void *ctx),
			 void *ctx);

/* What to call on the second signal, just before the process ends (to
 * remove temporary files); NULL for nothing. */
void pdl_signals_on_quit(struct pdl_signals *s, void (*fn)(void *ctx),
			 void *ctx);

#endif
