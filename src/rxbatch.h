/* Batched reads of long, fast bodies, and ACKs at once while a body is
 * still coming (pdl_rxbatch_read). A loop with several transfers is
 * woken whenever one of its sockets has bytes, and on a fast path that is
 * every few packets: each wake-up a short read, a write, a window update.
 * Once a body has come fast for a while, its socket's SO_RCVLOWAT asks the
 * kernel to report it readable only when about RXB_SPAN_S of the body is
 * waiting, never more than is left of the body (so its end is never
 * waited for); the kernel grows the socket's buffer to hold that much.
 *
 * Only where bytes on the socket are at least the body bytes still to
 * come: plain HTTP/1.x, no proxy, a Content-Length, no --limit-rate. A
 * body that slows down (RXB_GUARD_S without a byte delivered) is read as
 * it comes again. */
#ifndef PDL_RXBATCH_H
#define PDL_RXBATCH_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

/* Bytes of a body before its reads are batched: shorter bodies, and the
 * start of long ones, are read as they come. */
#define RXB_AFTER (1024 * 1024)
/* The mark is the bytes of about RXB_SPAN_S at the body's rate so far, in
 * steps of RXB_STEP, at most RXB_MAX; a rate that gives less than one step
 * is not batched. */
#define RXB_SPAN_S 0.010
#define RXB_STEP   (64 * 1024)
#define RXB_MAX	   (1024 * 1024)
/* A mark set and no byte for this long: the body slowed down. */
#define RXB_GUARD_S 0.050

/* The sockets of a loop's connections, as libcurl opens and closes them,
 * to find the one a transfer is on (libcurl 7.88 tells a transfer's
 * addresses, not its socket). Used by one thread at a time. */
struct pdl_socks;

/* Whether bodies may be batched, and acknowledged at once, in this run:
 * not when libcurl may go through a proxy (from the environment: an HTTPS
 * proxy puts TLS on the socket), nor under --limit-rate, which reads in
 * small steps anyway and has no reason to hurry the server. */
bool pdl_rxbatch_allowed(bool rate_limited);

struct pdl_socks *pdl_socks_new(void);
/* After the multi handle whose connections it knows is cleaned up. */
void pdl_socks_free(struct pdl_socks *s);
/* Has libcurl tell s of every socket h opens, and close them through s. */
void pdl_socks_watch(struct pdl_socks *s, CURL *h);
/* What the callbacks do: fd is new (or reused), fd is closed. */
void pdl_socks_add(struct pdl_socks *s, int fd);
void pdl_socks_drop(struct pdl_socks *s, int fd);
/* The connected socket whose peer is peer_ip:peer_port and whose local
 * port is local_port, or -1. */
int pdl_socks_find(struct pdl_socks *s, const char *peer_ip, long peer_port,
		   long local_port);

/* The low-water mark for a body of which got bytes came in secs and left
 * are still to come: 1 (the kernel's default) when reads are not to be
 * batched. */
int pdl_rxbatch_mark(int64_t got, int64_t left, double secs);

/* A transfer's batching of the body being received. */
struct pdl_rxbatch {
	struct pdl_socks *socks; /* the loop's; NULL: never batched nor
				  * acknowledged at once */
	bool on;		 /* this body may be batched */
	bool looked;		 /* fd was looked up for this body */
	int fd;			 /* its socket, once looked up; -1: not found */
	int mark;		 /* as set on fd */
	int64_t length;		 /* of the body; -1: not told */
	int64_t got;		 /* bytes of it batched so far */
	int64_t read;		 /* bytes of it read so far */
	const char *next;	 /* where the last piece handed over ended */
	double t0;		 /* when its first bytes came */
};

/* A body begins on h's connection: whether it may be batched. */
void pdl_rxbatch_begin(struct pdl_rxbatch *b, CURL *h);
/* len more bytes of it, at data, were read. While more of it is to come,
 * its socket acknowledges them at once (TCP_QUICKACK), once per read,
 * instead of after the delayed-ACK timer: a server that holds the short
 * tail of an answer until what it sent is acknowledged (Nagle's rule, which
 * nginx keeps under tcp_nopush) would otherwise wait for that timer, 40 ms
 * on Linux, on some answers. */
void pdl_rxbatch_read(struct pdl_rxbatch *b, CURL *h, const char *data,
		      size_t len);
/* len more bytes of it came at now; returns the mark in force. */
int pdl_rxbatch_got(struct pdl_rxbatch *b, CURL *h, size_t len, double now);
/* No byte since last_rx: past RXB_GUARD_S the body is read as it comes
 * from now on. Returns when to look again (0: no mark set). */
double pdl_rxbatch_check(struct pdl_rxbatch *b, double last_rx, double now);
/* The attempt is over: the socket, which libcurl may reuse, is left with
 * the default mark. Every attempt ends here, so each body begins with
 * none set. */
void pdl_rxbatch_end(struct pdl_rxbatch *b);

#endif
