// SPDX-License-Identifier: GPL-2.0
/*
 * ip_block: the addresses the firewall blocked, dropped by a netfilter hook at PRE_ROUTING
 * (IPv4 and IPv6, the initial namespace) before TCP sees them, so that a blocked client costs
 * about as much as an iptables DROP rule. The Rust side decides what to block and for how long
 * (filter/: which limit, ip_block's time); this file only holds the set the hook reads.
 *
 * The set is a fixed open-addressed table (no allocation, bounded memory): an address probes
 * IPB_PROBES slots from its keyed hash. A block that finds no free or expired slot among them
 * is refused and counted; the client is then still refused by the proxy at accept time, at a
 * higher cost, so nothing is let through.
 *
 * The hook runs in softirq on any CPU and takes no lock: it reads under a seqlock and retries
 * in the rare case that a block was being written. Writers are the proxy's work item and the
 * control path (process context); write_seqlock_bh keeps a reader on the same CPU from
 * spinning against a writer it interrupted. With nothing blocked the hook is one load.
 */
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/jhash.h>
#include <linux/jiffies.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <linux/random.h>
#include <linux/seqlock.h>
#include <net/ipv6.h>
#include <net/net_namespace.h>

#include "glue.h"

#define IPB_SLOTS 8192 /* power of two; 24 bytes each */
#define IPB_PROBES 16
#define IPB_FOREVER U64_MAX

struct ipb_slot {
	struct in6_addr addr;	/* IPv4 as v4-mapped */
	u64 until;		/* jiffies64; 0: free */
};

static struct ipb_slot ipb_tab[IPB_SLOTS];
static DEFINE_SEQLOCK(ipb_lock);
static u32 ipb_seed;
static int ipb_used;		/* slots ever filled since enable; 0: nothing to look up */
static atomic64_t ipb_dropped;
static u64 ipb_full;
static bool ipb_on;

static u32 ipb_hash(const struct in6_addr *a)
{
	return jhash2(a->s6_addr32, 4, ipb_seed) & (IPB_SLOTS - 1);
}

static bool ipb_live(const struct ipb_slot *s, u64 now)
{
	u64 until = READ_ONCE(s->until);

	return until && (until == IPB_FOREVER || time_before64(now, until));
}

static bool ipb_blocked(const struct in6_addr *a)
{
	u64 now = get_jiffies_64();
	unsigned int seq;
	bool hit;
	u32 h, i;

	do {
		seq = read_seqbegin(&ipb_lock);
		hit = false;
		h = ipb_hash(a);
		for (i = 0; i < IPB_PROBES; i++) {
			const struct ipb_slot *s = &ipb_tab[(h + i) & (IPB_SLOTS - 1)];

			if (ipv6_addr_equal(&s->addr, a) && ipb_live(s, now)) {
				hit = true;
				break;
			}
		}
	} while (read_seqretry(&ipb_lock, seq));
	return hit;
}

static unsigned int ipb_hook(void *priv, struct sk_buff *skb, const struct nf_hook_state *st)
{
	struct in6_addr a;

	if (!READ_ONCE(ipb_used))
		return NF_ACCEPT;
	/* PRE_ROUTING: ip_rcv / ipv6_rcv validated and pulled the network header. */
	if (st->pf == NFPROTO_IPV4)
		ipv6_addr_set_v4mapped(ip_hdr(skb)->saddr, &a);
	else
		a = ipv6_hdr(skb)->saddr;
	if (!ipb_blocked(&a))
		return NF_ACCEPT;
	atomic64_inc(&ipb_dropped);
	return NF_DROP;
}

static const struct nf_hook_ops ipb_ops[] = {
	{
		.hook = ipb_hook,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_PRE_ROUTING,
		.priority = NF_IP_PRI_FIRST,
	},
	{
		.hook = ipb_hook,
		.pf = NFPROTO_IPV6,
		.hooknum = NF_INET_PRE_ROUTING,
		.priority = NF_IP6_PRI_FIRST,
	},
};

static void ipb_clear(void)
{
	write_seqlock_bh(&ipb_lock);
	memset(ipb_tab, 0, sizeof(ipb_tab));
	WRITE_ONCE(ipb_used, 0);
	write_sequnlock_bh(&ipb_lock);
}

/* Registers the hook with an empty set. Process context (registration may sleep). */
int tfw_glue_ipblock_enable(void)
{
	int r;

	if (ipb_on)
		return 0;
	ipb_seed = get_random_u32();
	ipb_clear();
	atomic64_set(&ipb_dropped, 0);
	ipb_full = 0;
	r = nf_register_net_hooks(&init_net, ipb_ops, ARRAY_SIZE(ipb_ops));
	if (r)
		return r;
	ipb_on = true;
	return 0;
}

/* Unregisters the hook (waits for hooks in flight) and forgets every block. */
void tfw_glue_ipblock_disable(void)
{
	if (!ipb_on)
		return;
	nf_unregister_net_hooks(&init_net, ipb_ops, ARRAY_SIZE(ipb_ops));
	ipb_on = false;
	ipb_clear();
}

/*
 * Blocks @addr (16 bytes, IPv4 v4-mapped) for @secs seconds, 0: until disabled. A longer
 * block in place stays. -ENOSPC when its probe window holds no free or expired slot.
 * Process context.
 */
int tfw_glue_ipblock_add(const u8 *addr, u32 secs)
{
	u64 now = get_jiffies_64();
	u64 until = secs ? now + (u64)secs * HZ : IPB_FOREVER;
	struct ipb_slot *spare = NULL;
	struct in6_addr a;
	int r = 0;
	u32 h, i;

	if (!ipb_on)
		return -ENOENT;
	memcpy(&a, addr, sizeof(a));
	write_seqlock_bh(&ipb_lock);
	h = ipb_hash(&a);
	for (i = 0; i < IPB_PROBES; i++) {
		struct ipb_slot *s = &ipb_tab[(h + i) & (IPB_SLOTS - 1)];

		if (s->until && ipv6_addr_equal(&s->addr, &a)) {
			spare = s;
			if (ipb_live(s, now) && (s->until == IPB_FOREVER || s->until > until))
				until = s->until;
			break;
		}
		if (!spare && !ipb_live(s, now))
			spare = s;
	}
	if (spare) {
		spare->addr = a;
		WRITE_ONCE(spare->until, until);
		WRITE_ONCE(ipb_used, 1);
	} else {
		ipb_full++;
		r = -ENOSPC;
	}
	write_sequnlock_bh(&ipb_lock);
	return r;
}

/* Packets dropped, blocks refused for want of room, and addresses blocked now. */
void tfw_glue_ipblock_stats(u64 *dropped, u64 *full, u64 *blocked)
{
	u64 now = get_jiffies_64();
	u64 n = 0;
	u32 i;

	*dropped = atomic64_read(&ipb_dropped);
	*full = READ_ONCE(ipb_full);
	for (i = 0; i < IPB_SLOTS; i++)
		n += ipb_live(&ipb_tab[i], now);
	*blocked = n;
}
