/* Batched reads: the low-water mark for a body, and finding a transfer's
 * socket among a loop's by its addresses. */
#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rxbatch.h"

static unsigned short port_of(int fd, bool peer)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int rc = peer ? getpeername(fd, (struct sockaddr *)&a, &len)
		      : getsockname(fd, (struct sockaddr *)&a, &len);
	CHECK(rc == 0);
	return ntohs(a.sin_port);
}

static int connect_to(unsigned short port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(fd >= 0);
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	return fd;
}

static void marks(void)
{
	const int64_t mib = 1024 * 1024;

	/* The start of a body, and its end, are read as they come. */
	CHECK_INT(pdl_rxbatch_mark(RXB_AFTER - 1, 10 * mib, 0.001), 1);
	CHECK_INT(pdl_rxbatch_mark(2 * mib, 0, 0.001), 1);
	CHECK_INT(pdl_rxbatch_mark(2 * mib, -5, 0.001), 1);
	CHECK_INT(pdl_rxbatch_mark(2 * mib, 10 * mib, 0), 1);
	/* 200 MB/s: RXB_SPAN_S of it is more than RXB_MAX. */
	CHECK_INT(pdl_rxbatch_mark(2 * mib, 10 * mib, 0.01), RXB_MAX);
	/* Never more than is left of the body. */
	CHECK_INT(pdl_rxbatch_mark(2 * mib, 300000, 0.01), 300000);
	CHECK_INT(pdl_rxbatch_mark(2 * mib, 1, 0.01), 1);
	/* 20 MiB/s: 10 ms of it is 209715 bytes, three steps. */
	CHECK_INT(pdl_rxbatch_mark(2 * mib, 10 * mib, 0.1), 3 * RXB_STEP);
	/* 2 MiB/s: less than a step, not worth batching. */
	CHECK_INT(pdl_rxbatch_mark(2 * mib, 10 * mib, 1.0), 1);
}

static void finding(void)
{
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	CHECK(bind(lfd, (struct sockaddr *)&a, sizeof(a)) == 0);
	CHECK(listen(lfd, 8) == 0);
	unsigned short port = port_of(lfd, false);

	int c1 = connect_to(port), c2 = connect_to(port);
	int idle = socket(AF_INET, SOCK_STREAM, 0); /* never connected */
	struct pdl_socks *s = pdl_socks_new();
	CHECK(s != NULL);
	pdl_socks_add(s, idle);
	pdl_socks_add(s, c1);
	pdl_socks_add(s, c2);
	pdl_socks_add(s, c2); /* a number used again: one entry */

	CHECK_INT(pdl_socks_find(s, "127.0.0.1", port, port_of(c2, false)), c2);
	CHECK_INT(pdl_socks_find(s, "127.0.0.1", port, port_of(c1, false)), c1);
	/* Any other end matches nothing. */
	CHECK_INT(pdl_socks_find(s, "127.0.0.2", port, port_of(c1, false)), -1);
	CHECK_INT(pdl_socks_find(s, "127.0.0.1", port + 1, port_of(c1, false)),
		  -1);
	CHECK_INT(pdl_socks_find(s, "::1", port, port_of(c1, false)), -1);
	CHECK_INT(pdl_socks_find(s, "not an address", port, 1), -1);
	CHECK_INT(pdl_socks_find(s, NULL, port, 1), -1);

	/* Closed: forgotten, even when its number comes back. */
	unsigned short p2 = port_of(c2, false);
	pdl_socks_drop(s, c2);
	CHECK_INT(pdl_socks_find(s, "127.0.0.1", port, p2), -1);
	pdl_socks_drop(s, 12345); /* unknown: nothing happens */
	CHECK_INT(pdl_socks_find(s, "127.0.0.1", port, port_of(c1, false)), c1);

	/* A socket the table knew the addresses of, reused for another
	 * connection: its addresses are read again. */
	close(c1);
	int c3 = connect_to(port);
	if (c3 != c1) {
		CHECK(dup2(c3, c1) == c1);
		close(c3);
	}
	pdl_socks_add(s, c1);
	CHECK_INT(pdl_socks_find(s, "127.0.0.1", port, port_of(c1, false)), c1);

	pdl_socks_free(s);
	pdl_socks_free(NULL);
	close(c1);
	close(c2);
	close(idle);
	close(lfd);
}

int main(void)
{
	marks();
	finding();
	/* --limit-rate reads in small steps anyway. */
	CHECK(!pdl_rxbatch_allowed(true));
	unsetenv("http_proxy");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	CHECK(pdl_rxbatch_allowed(false));
	/* A proxy may put TLS between the socket and the body. */
	setenv("http_proxy", "https://proxy.invalid:3128", 1);
	CHECK(!pdl_rxbatch_allowed(false));
	setenv("http_proxy", "", 1);
	CHECK(pdl_rxbatch_allowed(false));
	setenv("ALL_PROXY", "socks5://127.0.0.1:1080", 1);
	CHECK(!pdl_rxbatch_allowed(false));
	return check_done();
}
