// SPDX-License-Identifier: GPL-2.0
/*
 * HTTP request flood for the firewall benchmark (scripts/bench-firewall.sh).
 *
 *   flood SECONDS PORT CONNS ADDR...
 *
 * From each source address, keeps CONNS connections to 127.0.0.1:PORT busy: each sends one
 * GET, waits for the first bytes of an answer (or a reset, or a close), then closes and
 * reconnects at once. With frang's request_rate/request_burst below what this sends, most
 * requests are refused (reset or 403) after each address's burst. Prints one line:
 *   sent N answered N refused N
 * (answered: got bytes; refused: reset or closed without bytes). One thread, epoll.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char req[] = "GET / HTTP/1.1\r\nHost: flood.example\r\n\r\n";
static unsigned long sent, answered, refused;
static int ep, port;

struct conn {
	int fd;
	struct in_addr src;
	int state; /* 0 connecting, 1 waiting for the answer */
};

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void open_conn(struct conn *c)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr = c->src };
	struct sockaddr_in d = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.ptr = c };
	int one = 1;

	d.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		perror("socket");
		exit(1);
	}
	setsockopt(c->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("bind");
		exit(1);
	}
	c->state = 0;
	if (connect(c->fd, (struct sockaddr *)&d, sizeof(d)) < 0 && errno != EINPROGRESS) {
		refused++;
		close(c->fd);
		c->fd = -1;
		return;
	}
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void done(struct conn *c, int got)
{
	if (got)
		answered++;
	else
		refused++;
	/* A reset, not a TIME_WAIT per request: the flood would run out of ports. */
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(c->fd);
	open_conn(c);
}

int main(int argc, char **argv)
{
	struct epoll_event evs[256];
	double end;
	int n, conns, i, j;
	struct conn *cs;

	if (argc < 5) {
		fprintf(stderr, "usage: flood SECONDS PORT CONNS ADDR...\n");
		return 2;
	}
	end = now() + atof(argv[1]);
	port = atoi(argv[2]);
	conns = atoi(argv[3]);
	n = (argc - 4) * conns;
	cs = calloc(n, sizeof(*cs));
	ep = epoll_create1(0);
	for (i = 0; i < argc - 4; i++)
		for (j = 0; j < conns; j++) {
			struct conn *c = &cs[i * conns + j];

			inet_pton(AF_INET, argv[4 + i], &c->src);
			open_conn(c);
		}
	while (now() < end) {
		int k = epoll_wait(ep, evs, 256, 100);

		for (i = 0; i < k; i++) {
			struct conn *c = evs[i].data.ptr;
			char buf[4096];
			ssize_t r;

			if (c->state == 0 && (evs[i].events & EPOLLOUT)) {
				if (send(c->fd, req, sizeof(req) - 1, MSG_NOSIGNAL) < 0) {
					done(c, 0);
					continue;
				}
				sent++;
				c->state = 1;
				struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };

				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				continue;
			}
			r = recv(c->fd, buf, sizeof(buf), 0);
			if (r > 0)
				done(c, 1);
			else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
				done(c, 0);
		}
	}
	printf("sent %lu answered %lu refused %lu\n", sent, answered, refused);
	return 0;
}
