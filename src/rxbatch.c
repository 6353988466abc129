/* Batched reads of long, fast bodies (rxbatch.h). */
#include "rxbatch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

struct pdl_sock {
	int fd;
	bool known; /* the addresses below were read */
	int family;
	unsigned char peer[16];
	unsigned peer_port;
	unsigned local_port;
};

struct pdl_socks {
	struct pdl_sock *v;
	size_t n, cap;
};

bool pdl_rxbatch_allowed(bool rate_limited)
{
	/* The variables libcurl reads for http:// URLs. */
	static const char *const proxy_vars[] = {"http_proxy", "all_proxy",
						 "ALL_PROXY"};

	if (rate_limited)
		return false;
	for (size_t i = 0; i < sizeof(proxy_vars) / sizeof(proxy_vars[0]);
	     i++) {
		const char *v = getenv(proxy_vars[i]);
		if (v && *v)
			return false;
	}
	return true;
}

struct pdl_socks *pdl_socks_new(void)
{
	return calloc(1, sizeof(struct pdl_socks));
}

void pdl_socks_free(struct pdl_socks *s)
{
	if (s)
		free(s->v);
	free(s);
}

/* The entry of fd, or NULL. */
static struct pdl_sock *sock_of(struct pdl_socks *s, int fd)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].fd == fd)
			return &s->v[i];
	return NULL;
}

void pdl_socks_add(struct pdl_socks *s, int fd)
{
	struct pdl_sock *k = sock_of(s, fd);

	if (k) {
		k->known = false;
		return;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 8;
		struct pdl_sock *v = realloc(s->v, cap * sizeof(*v));
		/* Out of memory: this socket is not found, its bodies are
		 * read as they come. */
		if (!v)
			return;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = (struct pdl_sock){.fd = fd};
}

void pdl_socks_drop(struct pdl_socks *s, int fd)
{
	struct pdl_sock *k = sock_of(s, fd);

	if (k)
		*k = s->v[--s->n];
}

static int on_sockopt(void *clientp, curl_socket_t fd, curlsocktype purpose)
{
	(void)purpose;
	pdl_socks_add(clientp, fd);
	return CURL_SOCKOPT_OK;
}

static int on_close(void *clientp, curl_socket_t fd)
{
	pdl_socks_drop(clientp, fd);
	return close(fd);
}

void pdl_socks_watch(struct pdl_socks *s, CURL *h)
{
	curl_easy_setopt(h, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
	curl_easy_setopt(h, CURLOPT_SOCKOPTDATA, s);
	curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, on_close);
	curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, s);
}

/* Reads k's addresses once it is connected. */
static bool sock_learn(struct pdl_sock *k)
{
	struct sockaddr_storage peer, local;
	socklen_t pl = sizeof(peer), ll = sizeof(local);

	if (getpeername(k->fd, (struct sockaddr *)&peer, &pl) ||
	    getsockname(k->fd, (struct sockaddr *)&local, &ll) ||
	    peer.ss_family != local.ss_family)
		return false;
	k->family = peer.ss_family;
	if (k->family == AF_INET) {
		const struct sockaddr_in *p = (const void *)&peer;
		const struct sockaddr_in *l = (const void *)&local;
		memcpy(k->peer, &p->sin_addr, 4);
		k->peer_port = ntohs(p->sin_port);
		k->local_port = ntohs(l->sin_port);
	} else if (k->family == AF_INET6) {
		const struct sockaddr_in6 *p = (const void *)&peer;
		const struct sockaddr_in6 *l = (const void *)&local;
		memcpy(k->peer, &p->sin6_addr, 16);
		k->peer_port = ntohs(p->sin6_port);
		k->local_port = ntohs(l->sin6_port);
	} else {
		return false;
	}
	k->known = true;
	return true;
}

int pdl_socks_find(struct pdl_socks *s, const char *peer_ip, long peer_port,
		   long local_port)
{
	unsigned char addr[16];
	char ip[64];
	int family = AF_INET;

	if (!peer_ip || strlen(peer_ip) >= sizeof(ip))
		return -1;
	/* An IPv6 address may carry its zone: "fe80::1%eth0". */
	strcpy(ip, peer_ip);
	ip[strcspn(ip, "%")] = '\0';
	if (inet_pton(AF_INET, ip, addr) != 1) {
		family = AF_INET6;
		if (inet_pton(AF_INET6, ip, addr) != 1)
			return -1;
	}
	for (size_t i = 0; i < s->n; i++) {
		struct pdl_sock *k = &s->v[i];
		if (!k->known && !sock_learn(k))
			continue;
		if (k->family == family && k->peer_port == peer_port &&
		    k->local_port == local_port &&
		    !memcmp(k->peer, addr, family == AF_INET ? 4 : 16))
			return k->fd;
	}
	return -1;
}

int pdl_rxbatch_mark(int64_t got, int64_t left, double secs)
{
	if (left <= 0 || got < RXB_AFTER || secs <= 0)
		return 1;
	double span = (double)got / secs * RXB_SPAN_S;
	if (span < RXB_STEP)
		return 1;
	int64_t mark =
	    span >= RXB_MAX ? RXB_MAX : (int64_t)span / RXB_STEP * RXB_STEP;
	return (int)(mark < left ? mark : left);
}

static void set_mark(struct pdl_rxbatch *b, int mark)
{
	if (setsockopt(b->fd, SOL_SOCKET, SO_RCVLOWAT, &mark, sizeof(mark))) {
		/* Not a socket any more, or the kernel said no: this body
		 * is read as it comes. */
		b->on = false;
		b->mark = 1;
		return;
	}
	b->mark = mark;
}

void pdl_rxbatch_begin(struct pdl_rxbatch *b, CURL *h)
{
	char *scheme = NULL;
	long version = 0;
	curl_off_t length = -1;

	b->on = false;
	b->looked = false;
	b->fd = -1;
	b->got = 0;
	b->read = 0;
	b->next = NULL;
	b->length = -1;
	if (!b->socks)
		return;
	curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
	b->length = length;
	if (length <= RXB_AFTER)
		return;
	curl_easy_getinfo(h, CURLINFO_SCHEME, &scheme);
	curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &version);
	b->on = scheme && !strcasecmp(scheme, "http") &&
		(version == CURL_HTTP_VERSION_1_0 ||
		 version == CURL_HTTP_VERSION_1_1);
}

/* The socket of the body's connection, looked up once per body: -1 when
 * not found (an FTP body comes on another connection than the one libcurl
 * names). */
static int body_fd(struct pdl_rxbatch *b, CURL *h)
{
	if (!b->looked) {
		char *ip = NULL;
		long peer_port = 0, local_port = 0;
		curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip);
		curl_easy_getinfo(h, CURLINFO_PRIMARY_PORT, &peer_port);
		curl_easy_getinfo(h, CURLINFO_LOCAL_PORT, &local_port);
		b->fd = pdl_socks_find(b->socks, ip, peer_port, local_port);
		b->looked = true;
	}
	return b->fd;
}

void pdl_rxbatch_read(struct pdl_rxbatch *b, CURL *h, const char *data,
		      size_t len)
{
	int one = 1;
	/* libcurl hands one read over in pieces of at most
	 * CURL_MAX_WRITE_SIZE, each starting where the last one ended: one
	 * call per read is enough. */
	bool same_read = data == b->next;

	b->read += (int64_t)len;
	b->next = data + len;
	if (same_read || !b->socks ||
	    (b->length >= 0 && b->read >= b->length) || body_fd(b, h) < 0)
		return;
	/* Not kept by the kernel: it is set again after every read. */
	setsockopt(b->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

int pdl_rxbatch_got(struct pdl_rxbatch *b, CURL *h, size_t len, double now)
{
	if (!b->on)
		return b->mark;
	if (b->got == 0)
		b->t0 = now;
	b->got += (int64_t)len;
	int mark = pdl_rxbatch_mark(b->got, b->length - b->got, now - b->t0);
	if (mark == b->mark)
		return mark;
	if (body_fd(b, h) < 0) {
		b->on = false;
		return b->mark;
	}
	set_mark(b, mark);
	return b->mark;
}

double pdl_rxbatch_check(struct pdl_rxbatch *b, double last_rx, double now)
{
	if (b->mark <= 1)
		return 0;
	if (now < last_rx + RXB_GUARD_S)
		return last_rx + RXB_GUARD_S;
	set_mark(b, 1);
	b->on = false;
	return 0;
}

void pdl_rxbatch_end(struct pdl_rxbatch *b)
{
	if (b->mark > 1)
		set_mark(b, 1);
}
