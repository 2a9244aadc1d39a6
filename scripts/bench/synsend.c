// SPDX-License-Identifier: GPL-2.0
/*
 * Drop-cost benchmark sender (scripts/bench-firewall.sh): sends COUNT TCP SYNs from SRC to
 * 127.0.0.1:PORT over a raw socket and prints the nanoseconds per packet.
 *
 *   synsend SRC PORT COUNT
 *
 * On loopback the receive path runs inside the sender's system call (the softirq at the end
 * of dev_queue_xmit), so the time per packet includes everything the receiving side does with
 * it: a netfilter drop at PRE_ROUTING costs less than a SYN that reaches TCP. The difference
 * between two runs is the difference in receive-side cost.
 */
#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static unsigned short csum(const void *p, int len, unsigned int sum)
{
	const unsigned short *w = p;

	for (; len > 1; len -= 2)
		sum += *w++;
	if (len)
		sum += *(const unsigned char *)w;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

int main(int argc, char **argv)
{
	struct {
		struct iphdr ip;
		struct tcphdr tcp;
	} pkt;
	struct {
		unsigned int src, dst;
		unsigned char zero, proto;
		unsigned short len;
		struct tcphdr tcp;
	} ph;
	struct sockaddr_in d = { .sin_family = AF_INET };
	struct timespec t0, t1;
	long count, i;
	int s, one = 1;

	if (argc != 4) {
		fprintf(stderr, "usage: synsend SRC PORT COUNT\n");
		return 2;
	}
	count = atol(argv[3]);
	s = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (s < 0 || setsockopt(s, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one)) < 0) {
		perror("raw socket");
		return 1;
	}
	d.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(&pkt, 0, sizeof(pkt));
	pkt.ip.version = 4;
	pkt.ip.ihl = 5;
	pkt.ip.ttl = 64;
	pkt.ip.protocol = IPPROTO_TCP;
	pkt.ip.tot_len = htons(sizeof(pkt));
	inet_pton(AF_INET, argv[1], &pkt.ip.saddr);
	pkt.ip.daddr = d.sin_addr.s_addr;
	pkt.tcp.dest = htons(atoi(argv[2]));
	pkt.tcp.doff = 5;
	pkt.tcp.syn = 1;
	pkt.tcp.window = htons(65535);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < count; i++) {
		/* A new source port and sequence per packet: every SYN is a new connection. */
		pkt.tcp.source = htons(1024 + (i % 60000));
		pkt.tcp.seq = htonl(i * 7919);
		pkt.tcp.check = 0;
		memset(&ph, 0, sizeof(ph));
		ph.src = pkt.ip.saddr;
		ph.dst = pkt.ip.daddr;
		ph.proto = IPPROTO_TCP;
		ph.len = htons(sizeof(pkt.tcp));
		ph.tcp = pkt.tcp;
		pkt.tcp.check = csum(&ph, sizeof(ph), 0);
		pkt.ip.id = htons(i);
		pkt.ip.check = 0;
		pkt.ip.check = csum(&pkt.ip, sizeof(pkt.ip), 0);
		if (sendto(s, &pkt, sizeof(pkt), 0, (struct sockaddr *)&d, sizeof(d)) < 0) {
			perror("sendto");
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.0f\n", ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / count);
	return 0;
}
