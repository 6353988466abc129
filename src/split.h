/* Long bodies fetched in parts. Once the list is drained, a transfer slot
 * that has nothing to do takes over the second half of what is left of
 * the longest body another transfer is still receiving: it asks for that
 * range on a connection of its own and writes it at its offset in the
 * same file, and the first transfer stops where the second begins. The
 * file is put in place once every part is in. At the end of a run this
 * spreads the last bodies over every connection and every loop, instead
 * of leaving one loop to finish alone.
 *
 * A body is split only where the server says how: a 200 with a
 * Content-Length, "Accept-Ranges: bytes" and a strong ETag, which every
 * part's request sends as If-Range and every part's answer must carry;
 * or a 206 with a strong ETag and a total that continues one (after a
 * cut, or a part kept by -c): its rest is split the same way. */
#ifndef PDL_SPLIT_H
#define PDL_SPLIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "job.h"

/* A part with less than this left is not split: its halves would cost a
 * connection and a request each for too little. */
#define PDL_SPLIT_MIN (4 * 1024 * 1024)
/* Parts of one body, at most. */
#define PDL_SPLIT_PARTS 16
/* A part begins at a multiple of this. */
#define PDL_SPLIT_ALIGN (64 * 1024)

struct pdl_part {
	int64_t start, pos, end; /* [start, pos) taken, [pos, end) to come */
	bool running;		 /* a transfer fetches it (or will retry) */
	bool asked;		 /* a helper is asking for its tail */
	double t0;		 /* when it began, for its rate */
};

/* One body in parts. Under lock but for what is set at creation. */
struct pdl_split {
	pthread_mutex_t lock;
	struct pdl_part part[PDL_SPLIT_PARTS];
	int n_parts;
	int users;	  /* parts running and helpers asking: fd in use */
	bool closed;	  /* no more helpers: the server refused one */
	int late;	  /* helpers whose part was gone when they came */
	bool failed;	  /* a part failed for good: the others stop */
	bool interrupted; /* ... because of a stop */
	char error[256];  /* why the first part that failed did */
	int64_t bytes;	  /* body bytes the helpers received */
	int retries;	  /* the helpers' attempts after their first */
	bool owner_waits; /* its part done, the owner waits for the others */
	bool posted;	  /* on the board */
	/* Set at creation. */
	int fd;
	int64_t total;
	char validator[256];
	struct pdl_job *job; /* the owner's */
	/* Wakes the owner's loop once the last other part is over. */
	void (*wake)(void *ctx);
	void *wake_ctx;
};

/* The bodies that may be split, one board per run. */
struct pdl_board {
	pthread_mutex_t lock;
	struct pdl_split **open;
	size_t n, cap;
	/* How long a helper's answer takes to come, on average: a part
	 * moves on that much meanwhile. */
	double latency;
};

/* A helper's request for the tail of a part, until it is confirmed. */
struct pdl_ask {
	struct pdl_split *split;
	int part;
	int64_t from, end; /* the range [from, end) */
};

int pdl_board_init(struct pdl_board *b);
void pdl_board_finish(struct pdl_board *b);

/* A body of total bytes, part 0 of which ([0, total)) its owner is
 * receiving into fd, pos bytes in; validator is its strong ETag. NULL
 * when memory is short. */
struct pdl_split *pdl_split_new(struct pdl_job *job, int fd, int64_t total,
				int64_t pos, const char *validator, double now,
				void (*wake)(void *), void *wake_ctx);
/* Once every user has left. */
void pdl_split_free(struct pdl_split *s);
/* Puts s where helpers look; false when memory is short. */
bool pdl_board_post(struct pdl_board *b, struct pdl_split *s);

/* Finds the running part with the most left once a helper's answer could
 * come (at its rate so far, the board's latency), if that is at least
 * min_left, and asks for the second half of it: a user of its body from
 * now on, until pdl_split_leave. */
bool pdl_board_pick(struct pdl_board *b, int64_t min_left, double now,
		    struct pdl_ask *ask);
/* A helper's answer came secs after it asked. */
void pdl_board_latency(struct pdl_board *b, double secs);
/* The helper's answer came: the part asked from ends where the new part
 * begins, and the new part's index is returned. -1 when the part has
 * moved on meanwhile (its owner got to from, or it is over); after
 * PDL_SPLIT_LATE such helpers no other is sent for this body. */
#define PDL_SPLIT_LATE 3
int pdl_split_confirm(const struct pdl_ask *ask, double now);

/* Of len bytes come for part i, how many it still takes (it ends at its
 * end); their offset in *off. *stop when another part failed. */
size_t pdl_split_take(struct pdl_split *s, int i, size_t len, int64_t *off,
		      bool *stop);
/* A write of part i failed: it holds only up to pos. */
void pdl_split_give_back(struct pdl_split *s, int i, int64_t pos);
/* Where part i is, and where it ends. */
void pdl_split_where(struct pdl_split *s, int i, int64_t *pos, int64_t *end);

/* A user leaves: the transfer of part i (-1: a helper not confirmed,
 * whose ask is given) is over. outcome is the part's; a failure stops the
 * other parts, with error as the body's reason. bytes and retries are a
 * helper's. refused: no helper is sent for this body again. owner: the
 * owner's part; when others still run, it waits
 * for them (woken as set at creation). Returns the users left. */
struct pdl_leave {
	int part;
	const struct pdl_ask *ask;
	enum pdl_outcome outcome;
	const char *error;
	int64_t bytes;
	int retries;
	bool owner;
	bool refused; /* the server did not give the helper its range */
};
int pdl_split_leave(struct pdl_board *b, struct pdl_split *s,
		    const struct pdl_leave *how);
/* The owner's body was never split and no helper is asking: it leaves
 * the board, and the owner goes on alone (true; s is to be freed). */
bool pdl_split_dissolve(struct pdl_board *b, struct pdl_split *s);
/* Users of s (0: every part is over). */
int pdl_split_users(struct pdl_split *s);

/* The bytes from the start of the body that are all in, once every part
 * is over: what -c keeps of a body that failed. */
int64_t pdl_split_prefix(struct pdl_split *s);

#endif
