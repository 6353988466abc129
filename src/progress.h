/* Live counters shared by the workers, and the progress line drawn from
 * them on stderr when it is a terminal. */
#ifndef PDL_PROGRESS_H
#define PDL_PROGRESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct pdl_progress {
	atomic_llong bytes; /* body bytes received, all transfers */
	atomic_int active;  /* transfers in flight */
	atomic_llong done;  /* URLs finished, any outcome */
	atomic_llong failed;
	atomic_llong total;	 /* URLs read so far */
	atomic_bool total_final; /* input fully read */

	/* The drawing thread; only when enabled. */
	atomic_bool enabled;
	FILE *tty;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool quit;
	bool drawn; /* a line is on screen now */
	double started;
	double last_t;
	long long last_bytes;
	double rate; /* smoothed bytes/s */
	int width;
};

/* Counters only; call pdl_progress_start to also draw. */
void pdl_progress_init(struct pdl_progress *p);
/* Starts the drawing thread on tty (stderr); 0 or -1. */
int pdl_progress_start(struct pdl_progress *p, FILE *tty);
/* Stops drawing and clears the line. */
void pdl_progress_stop(struct pdl_progress *p);
/* Zeroes the counters, for the second pass of --compare. */
void pdl_progress_reset(struct pdl_progress *p);
void pdl_progress_finish(struct pdl_progress *p);

/* Hide the line before other output on the terminal, and show it again
 * after; a no-op when not drawing. */
void pdl_progress_suspend(struct pdl_progress *p);
void pdl_progress_resume(struct pdl_progress *p);

/* Renders the line for the given counters into buf, at most width columns
 * (for tests; the thread uses it). */
char *pdl_progress_render(char *buf, size_t n, int width, long long done,
			  long long total, bool total_final, long long failed,
			  long long bytes, double rate, int active,
			  double elapsed);

#endif
