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

struct conn {
	int fd;
	size_t in_len;
	char in[IN_MAX];
	char *out;		/* queued responses not yet written */
	size_t out_len, out_cap;
};

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

/* Writes what is queued; -1 when the connection failed. */
static int flush(struct conn *c)
{
	size_t off = 0;

	while (off < c->out_len) {
		ssize_t n = write(c->fd, c->out + off, c->out_len - off);

		if (n < 0) {
			if (errno == EAGAIN)
				break;
			return -1;
		}
		off += n;
	}
	memmove(c->out, c->out + off, c->out_len - off);
	c->out_len -= off;
	return 0;
}

static int queue(struct conn *c)
{
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

/* Reads and answers every complete head; -1 when the connection is done. */
static int serve(struct conn *c)
{
	for (;;) {
		ssize_t n = read(c->fd, c->in + c->in_len, IN_MAX - c->in_len);
		char *end;

		if (n == 0)
			return -1;
		if (n < 0)
			return errno == EAGAIN ? flush(c) : -1;
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
		if (flush(c))
			return -1;
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct epoll_event ev, evs[64];
	int lfd, ep, one = 1;
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
					ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
					ev.data.ptr = c;
					if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
						closeconn(c);
				}
				continue;
			}
			if (serve(c))
				closeconn(c);
		}
	}
}
