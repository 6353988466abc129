/* bare: the least a downloader can do, as a limit row for the latency-bound
 * workloads. One thread, up to N plain-HTTP/1.1 connections kept alive,
 * each body written to DIR/<last path segment>. No TLS library, no URL
 * parser beyond http://HOST:PORT/PATH with a numeric IPv4 host, no
 * redirects, no retries: what is left of a run's time is this machine's
 * cost of starting a process, connecting, and the server's answer.
 *
 *   bare -j N -o DIR LIST
 *
 * Exits 1 on anything it does not handle. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_SLOTS 64
#define HEAD_MAX  8192

struct url {
	struct sockaddr_in addr;
	char host[64];
	char path[1024];
	size_t name; /* the last segment's offset in path */
};

struct slot {
	int fd;	       /* -1: no connection */
	struct url *u; /* NULL: idle */
	char head[HEAD_MAX + 1];
	size_t head_len; /* bytes of head[] */
	long long left;	 /* body bytes still to come; -1: in the head */
	int out;
};

static void die(const char *what)
{
	if (errno)
		fprintf(stderr, "bare: %s: %s\n", what, strerror(errno));
	else
		fprintf(stderr, "bare: %s\n", what);
	exit(1);
}

/* A read that gave nothing: an error, or the server closed too early. */
static void read_failed(ssize_t r)
{
	if (r == 0)
		errno = 0;
	die(r ? "read" : "connection closed");
}

static int parse(const char *line, struct url *u)
{
	unsigned a, b, c, d, port;
	int n = 0;

	if (sscanf(line, "http://%u.%u.%u.%u:%u%n", &a, &b, &c, &d, &port,
		   &n) != 5 ||
	    line[n] != '/' || a > 255 || b > 255 || c > 255 || d > 255 ||
	    port > 65535)
		return -1;
	memset(&u->addr, 0, sizeof(u->addr));
	u->addr.sin_family = AF_INET;
	u->addr.sin_port = htons((unsigned short)port);
	u->addr.sin_addr.s_addr = htonl(a << 24 | b << 16 | c << 8 | d);
	snprintf(u->host, sizeof(u->host), "%u.%u.%u.%u:%u", a, b, c, d, port);
	size_t len = strcspn(line + n, "\r\n");
	if (len >= sizeof(u->path))
		return -1;
	memcpy(u->path, line + n, len);
	u->path[len] = '\0';
	u->name = (size_t)(strrchr(u->path, '/') + 1 - u->path);
	return u->path[u->name] ? 0 : -1;
}

static void start(struct slot *s, struct url *u)
{
	char req[1200];

	if (s->fd < 0) {
		s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s->fd < 0)
			die("socket");
		int one = 1;
		setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(s->fd, (struct sockaddr *)&u->addr,
			    sizeof(u->addr)))
			die("connect");
	}
	int n =
	    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n",
		     u->path, u->host);
	if (write(s->fd, req, (size_t)n) != n)
		die("write");
	s->u = u;
	s->head_len = 0;
	s->left = -1;
	s->out = -1;
}

static void body(struct slot *s, const char *p, size_t n)
{
	if ((long long)n > s->left) {
		errno = 0;
		die("more than Content-Length");
	}
	if (n && write(s->out, p, n) != (ssize_t)n)
		die("write to file");
	s->left -= (long long)n;
}

/* The head is complete: open the file, then take what came after it. */
static void head_done(struct slot *s, int dir, size_t end)
{
	const char *cl = strcasestr(s->head, "\r\nContent-Length:");

	if (strncmp(s->head, "HTTP/1.1 200", 12) != 0 || !cl) {
		errno = 0;
		die("not a 200 with a Content-Length");
	}
	s->left = strtoll(cl + 17, NULL, 10);
	const char *name = s->u->path + s->u->name;
	s->out =
	    openat(dir, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (s->out < 0)
		die(name);
	body(s, s->head + end, s->head_len - end);
}

/* Reads what the slot's socket has; 1 when its body is complete. */
static int receive(struct slot *s, int dir)
{
	char buf[65536];

	if (s->left < 0) {
		ssize_t r =
		    read(s->fd, s->head + s->head_len, HEAD_MAX - s->head_len);
		if (r <= 0)
			read_failed(r);
		s->head_len += (size_t)r;
		s->head[s->head_len] = '\0';
		char *e = strstr(s->head, "\r\n\r\n");
		if (!e) {
			if (s->head_len == HEAD_MAX)
				die("head too long");
			return 0;
		}
		head_done(s, dir, (size_t)(e + 4 - s->head));
	} else {
		size_t want = s->left < (long long)sizeof(buf) ? (size_t)s->left
							       : sizeof(buf);
		ssize_t r = read(s->fd, buf, want);
		if (r <= 0)
			read_failed(r);
		body(s, buf, (size_t)r);
	}
	if (s->left > 0)
		return 0;
	close(s->out);
	s->u = NULL;
	return 1;
}

int main(int argc, char **argv)
{
	int jobs = 1, opt;
	const char *dirname = ".";

	while ((opt = getopt(argc, argv, "j:o:")) != -1) {
		if (opt == 'j')
			jobs = atoi(optarg);
		else if (opt == 'o')
			dirname = optarg;
		else
			return 2;
	}
	if (optind + 1 != argc || jobs < 1 || jobs > MAX_SLOTS) {
		fprintf(stderr, "usage: bare -j N -o DIR LIST (N <= %d)\n",
			MAX_SLOTS);
		return 2;
	}
	FILE *list = fopen(argv[optind], "r");
	if (!list)
		die(argv[optind]);
	struct url *urls = NULL;
	size_t n = 0, cap = 0;
	char line[2048];
	while (fgets(line, sizeof(line), list)) {
		if (line[0] == '\n' || line[0] == '#')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			urls = realloc(urls, cap * sizeof(*urls));
			if (!urls)
				die("realloc");
		}
		if (parse(line, &urls[n])) {
			errno = 0;
			die("a URL it does not handle");
		}
		n++;
	}
	fclose(list);
	int dir = open(dirname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		die(dirname);

	static struct slot slots[MAX_SLOTS];
	struct pollfd pfd[MAX_SLOTS];
	size_t next = 0, done = 0;
	for (int i = 0; i < jobs; i++) {
		slots[i].fd = -1;
		slots[i].u = NULL;
		if (next < n)
			start(&slots[i], &urls[next++]);
	}
	while (done < n) {
		int k = 0;
		int at[MAX_SLOTS];
		for (int i = 0; i < jobs; i++) {
			if (!slots[i].u)
				continue;
			pfd[k].fd = slots[i].fd;
			pfd[k].events = POLLIN;
			at[k++] = i;
		}
		if (poll(pfd, (nfds_t)k, -1) < 0 && errno != EINTR)
			die("poll");
		for (int j = 0; j < k; j++) {
			struct slot *s = &slots[at[j]];
			if (!pfd[j].revents || !receive(s, dir))
				continue;
			done++;
			if (next < n)
				start(s, &urls[next++]);
		}
	}
	free(urls);
	return 0;
}
