/* One download: a URL into a file of the output directory, with libcurl,
 * on a handle reused from one URL to the next, moved on by an event loop. */
#ifndef PDL_TRANSFER_H
#define PDL_TRANSFER_H

#include <curl/curl.h>
#include <stdatomic.h>

#include "job.h"
#include "options.h"
#include "outdir.h"
#include "rxbatch.h"
#include "split.h"

struct pdl_ratelimit;
struct pdl_progress;

/* What every transfer of a run shares; read-only while workers run, apart
 * from the atomics. */
struct pdl_env {
	const struct pdl_options *opt;
	struct pdl_outdir *out;
	CURLSH *share;		       /* DNS cache and TLS sessions */
	struct curl_slist *headers;    /* -H lines */
	atomic_int *stop;	       /* nonzero: abort transfers now */
	struct pdl_ratelimit *rate;    /* NULL: no --limit-rate */
	struct pdl_progress *progress; /* NULL: no live counters */
	/* Trusted CAs named by the environment (pdl_env_trust); NULL:
	 * libcurl's own bundle. */
	const char *ca_file;
	const char *ca_dir;
	/* The CA file read once for the whole run, unless -k or this pdl
	 * cannot (trust.h): NULL, libcurl reads it for each event loop. */
	struct pdl_trust *trust;
};

/* Monotonic seconds, the clock of every timer of a transfer. */
double pdl_now_s(void);
/* Whether a stop was asked for (a signal). */
bool pdl_env_stopping(const struct pdl_env *env);

/* Builds the libcurl share (with its locks) and the header list. */
int pdl_env_init(struct pdl_env *env, const struct pdl_options *opt,
		 struct pdl_outdir *out, atomic_int *stop);
void pdl_env_finish(struct pdl_env *env);
/* The CAs to trust instead of libcurl's bundle, as curl(1) reads them:
 * the file CURL_CA_BUNDLE names; without it, the file SSL_CERT_FILE and
 * the directory SSL_CERT_DIR name. -1 with a reason in err when one that
 * counts is set but cannot be read. Then sets up env->trust for the file
 * (libcurl's bundle when none is named). */
int pdl_env_trust(struct pdl_env *env, char *err, size_t errlen);

/* One download across its attempts, driven by an event loop (pool.c):
 * the loop adds h to its curl_multi handle, and calls back here when an
 * attempt ends and when a timer is due. The struct must not move while in
 * use: libcurl's callbacks point to it. */
enum pdl_xfer_state {
	PDL_XFER_IDLE,	  /* no job */
	PDL_XFER_RUNNING, /* h is in the loop's multi handle */
	PDL_XFER_WAITING, /* backing off until retry_at, h not in the loop */
	PDL_XFER_JOINING, /* its part of the body is in, others are not */
};

/* Write-behind (pool.c): a loop's settler thread writes the bytes of the
 * body being received into its file, so that the loop can go on
 * receiving. pdl_wb_write takes a copy of len bytes for fd; -1 with errno
 * when a write of this file failed. pdl_wb_flush waits until every byte
 * handed over is written; -1 with errno of the first write that failed
 * since the last flush. Only the loop's thread calls them. */
struct pdl_wb;
int pdl_wb_write(struct pdl_wb *wb, int fd, const char *data, size_t len);
int pdl_wb_flush(struct pdl_wb *wb);

/* Where a body goes: memory while it is small, so that its file can be
 * written after the next request is on its way (struct pdl_done); a
 * file as soon as it is larger, or known to be. */
struct pdl_sink {
	struct pdl_outfile file;
	bool file_open;
	unsigned char *mem; /* allocated at first use */
	size_t mem_cap;	    /* its size */
	size_t mem_len;	    /* body bytes in mem: none once file_open */
	/* The loop's bytes in memory, all sinks: added to by the loop,
	 * taken from by whichever thread settles (pool.c). */
	atomic_size_t *held;
	/* The file's bytes through write-behind, or NULL. file.written
	 * counts what was handed over; what is on disk only after a
	 * flush. */
	struct pdl_wb *wb;
	/* Its bytes are of a response whose only validator is a date too
	 * recent to trust (take_validator): a cut starts over, and -c keeps
	 * none of them. */
	bool whole_only;
};

/* How large a body may wait in memory. A loop with several transfers has
 * others to serve while one's file is written, and a copy through memory
 * only costs it CPU: small bodies only, whose file is the larger part of
 * their cost. A loop with one transfer would sit idle while the server
 * answers the next request, so larger bodies are worth the copy there. */
#define PDL_SINK_MEM	   (16 * 1024)
#define PDL_SINK_MEM_ALONE (512 * 1024)
/* A loop's bodies in memory together, whatever its number of transfers:
 * past it, bodies go to their files at once (at -j 1024 a few hundred
 * small bodies can finish in one turn of the loop). */
#define PDL_SINK_BUDGET (1024 * 1024)

/* Longest ETag or Last-Modified kept; a longer one is not used. */
#define PDL_VALIDATOR_MAX 256

struct pdl_xfer {
	CURL *h;
	const struct pdl_env *env;
	double *due; /* the loop's next timer: lowered when one is set here */
	enum pdl_xfer_state state;
	struct pdl_job *job;
	struct pdl_result res;
	double t0;
	double retry_at;   /* PDL_XFER_WAITING: when to try again */
	double hold_until; /* --limit-rate: no more bytes before this */
	bool paused;	   /* the write callback said CURL_WRITEFUNC_PAUSE */
	/* The attempt being received. */
	struct pdl_sink sink;
	bool body_started;  /* this attempt has delivered body bytes */
	int64_t range_from; /* offset asked for this attempt, 0: none */
	long resp_code;	    /* of the response being received */
	/* Its Content-Range: bytes start-end/total, -1 where it has none. */
	int64_t resp_range_start;
	int64_t resp_range_end;
	int64_t resp_range_total;
	/* Its strong ETag and Last-Modified, "" where it has none. */
	char resp_etag[PDL_VALIDATOR_MAX];
	char resp_date[PDL_VALIDATOR_MAX];
	/* Its Date, "" where it has none or it is too long to be one;
	 * parsed only when Last-Modified is to be the validator. */
	char resp_served[64];
	/* What tells the resource whose bytes the sink holds from a later
	 * version: the strong ETag of the response the body came from, else
	 * its Last-Modified if that is at least a second older than the
	 * response; "" when none. A resumed attempt sends it as If-Range;
	 * with -c the file notes it too, for the next run. */
	char validator[PDL_VALIDATOR_MAX];
	struct curl_slist *headers; /* this attempt's: -H lines + If-Range */
	/* The size of the resource whose bytes the sink holds, as its
	 * response said (Content-Length of a 200, a Content-Range total);
	 * -1: not known. Less than that after an attempt is a cut. */
	int64_t total;
	char *disposition;
	int write_errno;
	bool too_big;
	bool overlong; /* a 206 ran past the total its Content-Range gave */
	bool bad_range;
	bool started_over; /* a bad range made it start over (once) */
	bool stalled;
	double last_rx; /* when this attempt last received body bytes */
	struct pdl_rxbatch rxb;
	/* A body in parts (split.h). */
	struct pdl_board *board; /* NULL: bodies are not split here */
	void (*wake)(void *);	 /* wakes this transfer's loop */
	void *wake_ctx;
	int64_t *loop_rx; /* body bytes its loop received, all transfers */
	struct pdl_split *split; /* the body's, when it is in parts */
	int part;	    /* the part this transfer fetches; -1: asking */
	bool helper;	    /* a part of another transfer's download */
	struct pdl_ask ask; /* a helper's, until its answer comes */
	bool help_late;	    /* ... and came after its part moved on */
	bool resp_ranges;   /* the response said Accept-Ranges: bytes */
	bool part_full;	    /* this attempt got to the end of its part */
	bool split_stop;    /* another part failed */
	bool split_broken;  /* a part's answer was not the range asked */
	size_t mem_max;	    /* largest body held in memory (struct pdl_sink) */
	size_t mem_want;    /* memory for this body: its length when known */
	char errbuf[CURL_ERROR_SIZE];
};

/* Sets up x with a handle carrying everything that does not change from
 * one URL to the next. due is the loop's timer (see above); alone: x is
 * its loop's only transfer (larger bodies in memory, a larger receive
 * buffer). Bodies in memory are counted in mem_held, the loop's. socks:
 * the loop's sockets, for batched reads (rxbatch.h); NULL: none. */
int pdl_xfer_init(struct pdl_xfer *x, const struct pdl_env *env, double *due,
		  bool alone, atomic_size_t *mem_held, struct pdl_socks *socks);
void pdl_xfer_cleanup(struct pdl_xfer *x);

/* Lets x's long bodies be fetched in parts, found on board by idle
 * transfers; wake(ctx) wakes x's loop when x waits for other parts
 * (PDL_XFER_JOINING) and the last of them is over. Body bytes received
 * are added to *rx, the loop's count. */
void pdl_xfer_allow_split(struct pdl_xfer *x, struct pdl_board *board,
			  void (*wake)(void *), void *ctx, int64_t *rx);

/* Takes on a part of another transfer's body, as asked from the board,
 * and readies its first attempt. Such a helper ends with
 * pdl_xfer_help_end, never pdl_xfer_end: it reports nothing, its bytes
 * and failure go to the body's owner. */
void pdl_xfer_help(struct pdl_xfer *x, const struct pdl_ask *ask, double now);
void pdl_xfer_help_end(struct pdl_xfer *x);

/* A transfer PDL_XFER_JOINING: true once every other part of its body is
 * over, its result then ready for pdl_xfer_end. */
bool pdl_xfer_join(struct pdl_xfer *x);

/* Takes on job and readies its first attempt. Returns false when it ended
 * at once (the result is then ready for pdl_xfer_end). */
bool pdl_xfer_start(struct pdl_xfer *x, struct pdl_job *job, double now);

/* An attempt ended with rc (the handle is already out of the loop).
 * Returns true when the download (a helper: its part) is over
 * (pdl_xfer_end next); false when it is PDL_XFER_WAITING for retry_at, or
 * PDL_XFER_JOINING. */
bool pdl_xfer_attempt_done(struct pdl_xfer *x, CURLcode rc, double now);

/* Readies the next attempt after a backoff, for the loop to add h again. */
void pdl_xfer_rearm(struct pdl_xfer *x, double now);

/* Lowers the loop's timer so that it looks at x again by time t. */
void pdl_xfer_wake_at(struct pdl_xfer *x, double t);

/* Whether a running attempt has received no body bytes for
 * --stall-timeout; marks it so that pdl_xfer_attempt_done retries it. */
bool pdl_xfer_check_stall(struct pdl_xfer *x, double now);

/* Ends a download (or a helper's part) that is not in the loop: waiting
 * to retry when a stop comes, or its handle refused by the loop. As
 * pdl_xfer_attempt_done, false when it is PDL_XFER_JOINING. */
bool pdl_xfer_give_up(struct pdl_xfer *x, enum pdl_outcome outcome,
		      const char *why);

/* A download whose transfers are over, its file not yet settled: put in
 * place when the body came whole, else dropped (or kept, with -c). An
 * event loop settles it after it has sent its next requests, so that the
 * server answers them while this file is written. */
struct pdl_done {
	const struct pdl_env *env;
	struct pdl_job *job;
	struct pdl_result res;
	struct pdl_sink sink;
	char *disposition;
};

/* Moves the download out of x into d (which must be settled or zeroed);
 * x is idle again. */
void pdl_xfer_end(struct pdl_xfer *x, struct pdl_done *d);

/* Writes and commits d's file, or drops it; moves the result to res and
 * hands the job back. d can take the next download then. */
struct pdl_job *pdl_done_settle(struct pdl_done *d, struct pdl_result *res);

#endif
