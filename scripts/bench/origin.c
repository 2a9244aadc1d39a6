// SPDX-License-Identifier: GPL-2.0
/*
 * A minimal HTTP/1.1 origin for the proxy benchmark (scripts/bench-proxy.sh).
 *
 *   origin PORT FILE
 *
 * Listens on 127.0.0.1:PORT and answers every request head it reads with 200 and FILE's
 * contents (read once at start), keep-alive, pipelined requests in order. Request bodies are
 * not expected (wrk sends GETs). One thread, epoll, non-blocking sockets: the cheapest
 * upstream a proxy can have, so that what the benchmark measures is the proxies' own cost
 * rather than the upstream's (nginx serving a file costs about as much as proxying it).
 *
 * Fair between connections, as an event-driven server must be: each turn of the loop gives a
 * ready connection one read and at most TURN_MAX bytes of writes (level-triggered epoll,
 * EPOLLOUT watched only while output waits). Serving one connection until its socket said
 * EAGAIN starved the others for seconds behind a proxy that pipelines requests and drains
 * responses as fast as they are written.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define IN_MAX 16384
/* Most bytes written to one connection per turn of the event loop. */
#define TURN_MAX (256 * 1024)
/* Responses queued on a connection beyond which its input is not read. */
#define QUEUE_MAX 16

struct conn {
	int fd;
	size_t in_len;
	char in[IN_MAX];
	char *out;		/* queued responses; out[out_off..out_len] not yet written */
	size_t out_off, out_len, out_cap;
	unsigned int watch;	/* its epoll interest (EPOLLIN, EPOLLOUT) */
};

static int ep;

static char *resp;
static size_t resp_len;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void closeconn(struct conn *c)
{
	close(c->fd);
	free(c->out);
	free(c);
}

/*
 * Writes what is queued; -1 when the connection failed. The written part is not moved out
 * of the buffer on every partial write (with pipelined requests the queue holds several
 * responses, and moving megabytes per write made this origin the benchmark's bottleneck).
 */
static int flush(struct conn *c)
{
	size_t turn = 0;

	while (c->out_off < c->out_len && turn < TURN_MAX) {
		size_t len = c->out_len - c->out_off, cap = TURN_MAX - turn;
		ssize_t n = write(c->fd, c->out + c->out_off, len < cap ? len : cap);

		if (n < 0) {
			if (errno == EAGAIN)
				return 0;
			return -1;
		}
		c->out_off += n;
		turn += n;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	return 0;
}

static int queue(struct conn *c)
{
	if (c->out_off && c->out_len + resp_len > c->out_cap) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + resp_len > c->out_cap) {
		size_t cap = (c->out_len + resp_len) * 2;
		char *p = realloc(c->out, cap);

		if (!p)
			return -1;
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, resp, resp_len);
	c->out_len += resp_len;
	return 0;
}

/* One turn: one read, a response queued per complete head, one bounded flush. -1 when the
 * connection is done. */
static int serve(struct conn *c, unsigned int events)
{
	struct epoll_event ev = { .data.ptr = c };
	int want;

	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		ssize_t n = read(c->fd, c->in + c->in_len, IN_MAX - c->in_len);
		char *end;

		if (n == 0)
			return -1;
		if (n < 0 && errno != EAGAIN)
			return -1;
		if (n > 0)
			c->in_len += n;
		while ((end = memmem(c->in, c->in_len, "\r\n\r\n", 4))) {
			size_t used = end + 4 - c->in;

			if (queue(c))
				return -1;
			memmove(c->in, c->in + used, c->in_len - used);
			c->in_len -= used;
		}
		if (c->in_len == IN_MAX)
			return -1;	/* a head this long is not a benchmark's */
	}
	if (flush(c))
		return -1;
	/* Output waits: watch for room. Many responses wait: stop reading heads until they go
	 * (a peer that pipelines and never reads would grow the queue without bound). */
	want = c->out_off < c->out_len ? EPOLLOUT : 0;
	if (c->out_len - c->out_off <= QUEUE_MAX * resp_len)
		want |= EPOLLIN;
	if ((unsigned int)want != c->watch) {
		ev.events = want;
		if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev))
			return -1;
		c->watch = want;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct epoll_event ev, evs[64];
	int lfd, one = 1;
	char *body;
	long blen;
	FILE *f;

	if (argc != 3) {
		fprintf(stderr, "usage: origin PORT FILE\n");
		return 2;
	}
	f = fopen(argv[2], "rb");
	if (!f || fseek(f, 0, SEEK_END) || (blen = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		die(argv[2]);
	body = malloc(blen + 1);
	if (!body || fread(body, 1, blen, f) != (size_t)blen)
		die("read");
	fclose(f);
	resp = malloc(blen + 128);
	if (!resp)
		die("malloc");
	resp_len = snprintf(resp, 128, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
			    "Content-Length: %ld\r\n\r\n", blen);
	memcpy(resp + resp_len, body, blen);
	resp_len += blen;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_port = htons(atoi(argv[1]));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 1024))
		die("bind/listen");
	ep = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev))
		die("epoll_ctl");
	for (;;) {
		int n = epoll_wait(ep, evs, 64, -1), i;

		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (!c) {
				int fd;

				while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					c = calloc(1, sizeof(*c));
					if (!c) {
						close(fd);
						continue;
					}
					c->fd = fd;
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					ev.events = c->watch = EPOLLIN;
					ev.data.ptr = c;
					if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
						closeconn(c);
				}
				continue;
			}
			if (serve(c, evs[i].events))
				closeconn(c);
		}
	}
}
