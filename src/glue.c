// SPDX-License-Identifier: GPL-2.0
/*
 * C glue of tempesta-rs: module parameters, sysctl net.tempesta.*, /proc/tempesta, file
 * reading, socket callbacks and the static inline helpers Rust cannot call. No policy here:
 * every decision is taken by the Rust side (tfw_rs_*), which the glue calls with its data lock
 * held (see "The data lock"), so the Rust state is only ever touched by one holder at a time.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/sysctl.h>
#include <linux/kernel_read_file.h>
#include <linux/vmalloc.h>
#include <net/net_namespace.h>
#include <net/ipv6.h>
#include <net/sock.h>
#include <net/tcp_states.h>
#include <net/tcp.h>
#include <linux/tcp.h>
#include <linux/net.h>
#include <linux/workqueue.h>
#include <linux/slab.h>
#include <linux/jiffies.h>
#include <linux/random.h>
#include <linux/bvec.h>
#include <linux/uio.h>

#include "glue.h"

static char *tfw_cfg_path = "/etc/tempesta/tempesta_fw.conf";
module_param(tfw_cfg_path, charp, 0444);
MODULE_PARM_DESC(tfw_cfg_path, "Path of the configuration file read on start");

static unsigned int frang_clients = 16384;
module_param(frang_clients, uint, 0444);
MODULE_PARM_DESC(frang_clients,
		 "Clients (addresses) frang_limits tracks; 272 bytes each, read on start");

static bool tfw_softirq = true;
module_param(tfw_softirq, bool, 0444);
MODULE_PARM_DESC(tfw_softirq,
		 "Handle received data in the socket callback (softirq); off: always in the work item");

/*
 * ---- The data lock -------------------------------------------------------------------------
 *
 * Everything the Rust side owns (running configuration, connections, cache index) belongs to
 * whoever holds this lock. There are two kinds of holders:
 *
 *  - tasks: the work item, the tick, sysctl writes and reads, /proc readers and module exit.
 *    They take tfw_ctl_mutex (which orders them among themselves), then wait for the lock, and
 *    may sleep while holding it (sock_create_kern, kernel_accept, sock_release, GFP_KERNEL).
 *  - a socket's sk_data_ready in softirq (tfw_sk_data_ready): it only *tries* the lock. A held
 *    lock means a task or another CPU is at work, and the event goes to the work item instead.
 *
 * A softirq holder never waits for anything a task holds (it only spins on other sockets'
 * bh locks, which no task holds while it waits here), so a task's wait is bounded by one
 * event; tfw_task_waiting keeps a stream of softirq holders from starving it. While the
 * softirq path holds the lock, tfw_atomic is set: the socket helpers below then use the
 * non-sleeping variants, the Rust side allocates with GFP_ATOMIC and defers what must sleep
 * (connects, socket releases). Lockdep does not know this lock; nothing else depends on it.
 */
static DEFINE_MUTEX(tfw_ctl_mutex);
static atomic_t tfw_owner = ATOMIC_INIT(0);	/* 0 free, 1 softirq, 2 task */
static atomic_t tfw_task_waiting = ATOMIC_INIT(0);
static bool tfw_atomic;			/* the holder is the softirq path */
static struct sock *tfw_cur_sk;		/* whose bh lock that softirq path already holds */

static void tfw_lock(void)
{
	mutex_lock(&tfw_ctl_mutex);
	atomic_inc(&tfw_task_waiting);
	while (atomic_cmpxchg_acquire(&tfw_owner, 0, 2) != 0)
		cpu_relax();
	atomic_dec(&tfw_task_waiting);
}

static void tfw_unlock(void)
{
	atomic_set_release(&tfw_owner, 0);
	mutex_unlock(&tfw_ctl_mutex);
}

static bool tfw_trylock_softirq(void)
{
	if (atomic_read(&tfw_task_waiting))
		return false;
	return atomic_cmpxchg_acquire(&tfw_owner, 0, 1) == 0;
}

/* Whether the current holder of the data lock is the softirq path (Rust: allocation flags,
 * deferring what sleeps). */
bool tfw_glue_atomic(void)
{
	return READ_ONCE(tfw_atomic);
}

#define TFW_CTL_BUF 64

static int tfw_ctl_state(const struct ctl_table *ctl, int write, void *buffer, size_t *lenp,
			 loff_t *ppos)
{
	char buf[TFW_CTL_BUF] = {};
	struct ctl_table tmp = *ctl;
	int r;

	tmp.data = buf;
	tmp.maxlen = sizeof(buf);

	tfw_lock();
	if (write) {
		r = proc_dostring(&tmp, write, buffer, lenp, ppos);
		if (!r)
			r = tfw_rs_ctl_state(buf, strnlen(buf, sizeof(buf)));
	} else {
		tfw_rs_state_str(buf, sizeof(buf));
		r = proc_dostring(&tmp, write, buffer, lenp, ppos);
	}
	tfw_unlock();
	return r;
}

static struct ctl_table tfw_sysctl_tbl[] = {
	{
		.procname = "state",
		.maxlen = TFW_CTL_BUF,
		.mode = 0644,
		.proc_handler = tfw_ctl_state,
	},
};

static struct ctl_table_header *tfw_sysctl_hdr;
static struct proc_dir_entry *tfw_proc_dir;

static int tfw_proc_state_show(struct seq_file *m, void *v)
{
	char buf[TFW_CTL_BUF] = {};

	tfw_lock();
	tfw_rs_state_str(buf, sizeof(buf));
	tfw_unlock();
	seq_printf(m, "%s\n", buf);
	return 0;
}

/*
 * ---- Socket events -----------------------------------------------------------------------
 *
 * Received data is handled where it arrives: a watched connection's sk_data_ready, in
 * softirq with the socket's bh lock held, takes the data lock if it is free and hands the
 * event to tfw_rs_event() at once (the Rust side reads with tcp_read_sock and writes with
 * tcp_sendmsg_locked, see the helpers below). Everything else goes through one work item,
 * tfw_work: callbacks mark what happened on a watched socket and queue it on tfw_ready, and
 * the work, holding the data lock as a task, hands each socket's events over. Listeners
 * (kernel_accept sleeps), state changes and write space always take that route, and so does
 * received data when the lock is busy. One holder at a time means the Rust side needs no
 * locks of its own, and start/stop/reconfigure never race with traffic.
 */
struct tfw_watch {
	struct list_head ready;		/* on tfw_ready while events are pending, then tfw_dead */
	unsigned long events;		/* TFW_EV_* bits, set by callbacks */
	struct sock *sk;
	struct socket *sock;		/* on tfw_dead: to release */
	u64 id;				/* the Rust side's name for this socket */
	bool fast;			/* received data may be handled in softirq */
	void (*data_ready)(struct sock *sk);
	void (*state_change)(struct sock *sk);
	void (*write_space)(struct sock *sk);
};

static LIST_HEAD(tfw_ready);
/* Sockets the softirq path dropped, released by the work item (sock_release sleeps). */
static LIST_HEAD(tfw_dead);
/* The softirq path left work that must sleep to the work item (tfw_rs_deferred()). */
static bool tfw_deferred;
/* Socket events handed over in softirq and by the work item (data lock held), and received
 * data that went to the work item because the lock was busy (/proc/tempesta/perfstat). */
static u64 tfw_ev_softirq, tfw_ev_work;
static atomic_long_t tfw_ev_busy = ATOMIC_LONG_INIT(0);
static DEFINE_SPINLOCK(tfw_ready_lock);
static struct workqueue_struct *tfw_wq;
static struct work_struct tfw_work;
static struct delayed_work tfw_tick;
static bool tfw_exiting;

/* Sockets handled per run of the work before it yields the CPU and requeues itself. */
#define TFW_BATCH 64

static void tfw_kick(struct tfw_watch *w, int ev)
{
	unsigned long flags;

	set_bit(ev, &w->events);
	spin_lock_irqsave(&tfw_ready_lock, flags);
	if (list_empty(&w->ready))
		list_add_tail(&w->ready, &tfw_ready);
	spin_unlock_irqrestore(&tfw_ready_lock, flags);
	queue_work(tfw_wq, &tfw_work);
}

/*
 * Accepted sockets inherit the listener's callbacks and sk_user_data until tfw_glue_watch()
 * replaces them: w->sk != sk tells an event of such a child apart (it is ignored; the child
 * gets one read kick when it is watched).
 */
static struct tfw_watch *tfw_watch_of(struct sock *sk)
{
	struct tfw_watch *w = sk->sk_user_data;

	return w && w->sk == sk ? w : NULL;
}

static void tfw_sk_event(struct sock *sk, int ev)
{
	struct tfw_watch *w;

	read_lock_bh(&sk->sk_callback_lock);
	w = tfw_watch_of(sk);
	if (w)
		tfw_kick(w, ev);
	read_unlock_bh(&sk->sk_callback_lock);
}

/*
 * Received data. In softirq, with the socket's bh lock held by TCP and no task owning it, the
 * event is handled here if the data lock is free; the lock is tried with the callback lock
 * held, so the watch cannot be dropped between the look-up and the lock (dropping it needs
 * the data lock). A call from process context (release_sock() running the backlog of a socket
 * a task owns) always queues.
 */
static void tfw_sk_data_ready(struct sock *sk)
{
	struct tfw_watch *w;
	bool here = false;
	u64 id = 0;

	read_lock_bh(&sk->sk_callback_lock);
	w = tfw_watch_of(sk);
	if (w) {
		bool fast = w->fast && READ_ONCE(tfw_softirq) && in_serving_softirq();

		if (fast && !sock_owned_by_user(sk) && tfw_trylock_softirq()) {
			here = true;
			id = w->id;
		} else {
			if (fast)
				atomic_long_inc(&tfw_ev_busy);
			tfw_kick(w, TFW_EV_READ);
		}
	}
	read_unlock_bh(&sk->sk_callback_lock);
	if (!here)
		return;
	tfw_ev_softirq++;
	WRITE_ONCE(tfw_atomic, true);
	tfw_cur_sk = sk;
	tfw_rs_event(id, BIT(TFW_EV_READ));
	tfw_cur_sk = NULL;
	WRITE_ONCE(tfw_atomic, false);
	atomic_set_release(&tfw_owner, 0);
}

static void tfw_sk_state_change(struct sock *sk)
{
	tfw_sk_event(sk, TFW_EV_STATE);
}

static void tfw_sk_write_space(struct sock *sk)
{
	struct tfw_watch *w;
	void (*orig)(struct sock *sk) = NULL;

	read_lock_bh(&sk->sk_callback_lock);
	w = tfw_watch_of(sk);
	if (w) {
		orig = w->write_space;
		if (sk_stream_is_writeable(sk))
			tfw_kick(w, TFW_EV_WRITE);
	}
	read_unlock_bh(&sk->sk_callback_lock);
	/* The original clears SOCK_NOSPACE bookkeeping; keep the stack's own accounting. */
	if (orig)
		orig(sk);
}

/* Releases the sockets the softirq path dropped. Process context, data lock not held. */
static void tfw_release_dead(void)
{
	struct tfw_watch *w, *tmp;
	LIST_HEAD(dead);

	spin_lock_bh(&tfw_ready_lock);
	list_splice_init(&tfw_dead, &dead);
	spin_unlock_bh(&tfw_ready_lock);
	list_for_each_entry_safe(w, tmp, &dead, ready) {
		list_del(&w->ready);
		sock_release(w->sock);
		kfree(w);
	}
}

static void tfw_work_fn(struct work_struct *work)
{
	int n;

	tfw_release_dead();
	tfw_lock();
	if (xchg(&tfw_deferred, false))
		tfw_rs_deferred();
	for (n = 0; n < TFW_BATCH; n++) {
		struct tfw_watch *w;
		unsigned long ev;

		spin_lock_bh(&tfw_ready_lock);
		w = list_first_entry_or_null(&tfw_ready, struct tfw_watch, ready);
		if (w)
			list_del_init(&w->ready);
		spin_unlock_bh(&tfw_ready_lock);
		if (!w)
			break;
		ev = xchg(&w->events, 0);
		/* A half-close the softirq path could not do (tfw_glue_shutdown_wr). */
		if (ev & BIT(TFW_EV_SHUT))
			kernel_sock_shutdown(w->sk->sk_socket, SHUT_WR);
		/* May unwatch and free any watch, this one included: w is not used after. */
		tfw_ev_work++;
		tfw_rs_event(w->id, ev);
	}
	tfw_unlock();
	if (n == TFW_BATCH)
		queue_work(tfw_wq, &tfw_work);
}

static void tfw_tick_fn(struct work_struct *work)
{
	tfw_lock();
	tfw_rs_tick();
	tfw_unlock();
	if (!READ_ONCE(tfw_exiting))
		queue_delayed_work(tfw_wq, &tfw_tick, HZ / 4);
}

/*
 * Starts watching @sock: its events go to tfw_rs_event(@id). For an accepted socket pass the
 * listener's watch as @parent: the child carries the listener's callbacks, and the originals
 * to restore are the listener's. Process context, with tfw_ctl_mutex held.
 */
struct tfw_watch *tfw_glue_watch(struct socket *sock, u64 id, struct tfw_watch *parent)
{
	struct sock *sk = sock->sk;
	struct tfw_watch *w = kzalloc(sizeof(*w), GFP_KERNEL);

	if (!w)
		return NULL;
	INIT_LIST_HEAD(&w->ready);
	w->sk = sk;
	w->id = id;
	w->fast = sk->sk_state != TCP_LISTEN;

	/* Writes from the work item never sleep for memory, and never use the task's frag. */
	sk->sk_allocation = GFP_ATOMIC;
	sk->sk_use_task_frag = false;
	/*
	 * A proxy forwards what it has as soon as it has it; Nagle would hold a response's body
	 * behind its head until the client's delayed ACK (40 ms per exchange).
	 */
	if (sk->sk_protocol == IPPROTO_TCP && sk->sk_state != TCP_LISTEN)
		tcp_sock_set_nodelay(sk);

	write_lock_bh(&sk->sk_callback_lock);
	if (parent) {
		w->data_ready = parent->data_ready;
		w->state_change = parent->state_change;
		w->write_space = parent->write_space;
	} else {
		w->data_ready = sk->sk_data_ready;
		w->state_change = sk->sk_state_change;
		w->write_space = sk->sk_write_space;
	}
	sk->sk_user_data = w;
	sk->sk_data_ready = tfw_sk_data_ready;
	sk->sk_state_change = tfw_sk_state_change;
	sk->sk_write_space = tfw_sk_write_space;
	write_unlock_bh(&sk->sk_callback_lock);

	/* Data (or a close) may have arrived before the callbacks were in place. */
	tfw_kick(w, TFW_EV_READ);
	return w;
}

/*
 * Stops watching. After the callback lock is taken for writing no callback runs with @w, and
 * taking it off the ready list leaves no reference to it.
 */
static void tfw_unwatch(struct tfw_watch *w)
{
	struct sock *sk = w->sk;

	write_lock_bh(&sk->sk_callback_lock);
	sk->sk_user_data = NULL;
	sk->sk_data_ready = w->data_ready;
	sk->sk_state_change = w->state_change;
	sk->sk_write_space = w->write_space;
	write_unlock_bh(&sk->sk_callback_lock);

	spin_lock_bh(&tfw_ready_lock);
	list_del_init(&w->ready);
	spin_unlock_bh(&tfw_ready_lock);
}

/*
 * Stops watching @sock (if @w) and releases it. The softirq path cannot release a socket
 * (tcp_close takes the socket lock, which sleeps): the socket goes to tfw_dead, with @w as
 * its list entry, and the work item releases it.
 */
void tfw_glue_release(struct socket *sock, struct tfw_watch *w)
{
	if (w)
		tfw_unwatch(w);
	if (!READ_ONCE(tfw_atomic)) {
		/* In this order: a listener's children not accepted yet still point at the
		 * listener's watch (sk_clone_lock copies sk_user_data) until the release has
		 * stopped them (inet_csk_listen_stop). */
		sock_release(sock);
		kfree(w);
		return;
	}
	if (!w) {
		w = kzalloc(sizeof(*w), GFP_ATOMIC);
		if (!w) {
			/* Every socket the softirq path sees is watched: this does not happen. */
			pr_warn_once("tempesta_fw: no memory to release a socket; leaked\n");
			return;
		}
	}
	w->sock = sock;
	spin_lock_bh(&tfw_ready_lock);
	list_add_tail(&w->ready, &tfw_dead);
	spin_unlock_bh(&tfw_ready_lock);
	queue_work(tfw_wq, &tfw_work);
}

/* Asks the work item to call tfw_rs_deferred() (the softirq path's work that sleeps). */
void tfw_glue_defer(void)
{
	WRITE_ONCE(tfw_deferred, true);
	queue_work(tfw_wq, &tfw_work);
}

/*
 * The softirq path works on other sockets than the one whose callback it runs in: it takes
 * their bh lock (subclass 0; TCP's receive path holds the callback's socket with subclass
 * SINGLE_DEPTH_NESTING, so the order is always that one, then another). Only the data lock's
 * holder takes a second socket lock, so two CPUs never wait for each other's. False (nothing
 * locked) when a task owns the socket: the caller leaves the work to the work item.
 */
static bool tfw_sk_enter(struct sock *sk)
{
	if (sk == tfw_cur_sk)
		return true;
	bh_lock_sock(sk);
	if (!sock_owned_by_user(sk))
		return true;
	bh_unlock_sock(sk);
	return false;
}

static void tfw_sk_exit(struct sock *sk)
{
	if (sk != tfw_cur_sk)
		bh_unlock_sock(sk);
}

/* Queues an event as if a callback had seen it (the Rust side re-polls a socket). */
void tfw_glue_kick(struct tfw_watch *w, int ev)
{
	tfw_kick(w, ev);
}

int tfw_glue_accept(struct socket *lsock, struct socket **out)
{
	*out = NULL;
	return kernel_accept(lsock, out, O_NONBLOCK);
}

static int tfw_read_actor(read_descriptor_t *desc, struct sk_buff *skb, unsigned int off,
			  size_t len)
{
	size_t n = min(len, desc->count);

	if (!n || skb_copy_bits(skb, off, desc->arg.data, n))
		return 0;
	desc->arg.data += n;
	desc->count -= n;
	desc->written += n;
	return n;
}

/*
 * Returns bytes read, 0 at EOF, or -EAGAIN / another negative errno. In softirq the socket's
 * queue is read with tcp_read_sock() under its bh lock (as kTLS and strparser do), and with
 * nothing read the cases are told apart in tcp_recvmsg()'s order: the peer's FIN read
 * (SOCK_DONE), a pending error, a shut-down receive side, a closed socket. tcp_read_sock()
 * stops at urgent data and leaves it there; tcp_recvmsg() steps over it, so a connection with
 * urgent data pending is read by the work item.
 */
int tfw_glue_recv(struct socket *sock, void *buf, size_t len)
{
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT };
	struct kvec iov = { .iov_base = buf, .iov_len = len };
	read_descriptor_t desc = { .arg.data = buf, .count = len };
	struct sock *sk = sock->sk;
	int r;

	if (!READ_ONCE(tfw_atomic))
		return kernel_recvmsg(sock, &msg, &iov, 1, len, MSG_DONTWAIT);
	if (!tfw_sk_enter(sk)) {
		tfw_sk_event(sk, TFW_EV_READ);
		return -EAGAIN;
	}
	if (unlikely(READ_ONCE(tcp_sk(sk)->urg_data))) {
		tfw_sk_exit(sk);
		tfw_sk_event(sk, TFW_EV_READ);
		return -EAGAIN;
	}
	r = tcp_read_sock(sk, &desc, tfw_read_actor);
	if (r == 0) {
		if (sock_flag(sk, SOCK_DONE))
			r = 0;
		else if (sk->sk_err)
			r = sock_error(sk);
		else if (READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN)
			r = 0;
		else if (sk->sk_state == TCP_CLOSE)
			r = -ENOTCONN;
		else
			r = -EAGAIN;
	}
	tfw_sk_exit(sk);
	return r;
}

/*
 * tcp_sendmsg() without the sleeping socket lock, for the softirq path: the socket's bh lock
 * with no task owning it is what tcp_sendmsg_locked() needs (as espintcp does from softirq);
 * with MSG_DONTWAIT it never waits, and sk_allocation is GFP_ATOMIC (tfw_glue_watch). When a
 * task owns the socket, nothing is sent and a write event tells the work item to retry.
 */
static int tfw_send_atomic(struct socket *sock, struct msghdr *msg, size_t len)
{
	struct sock *sk = sock->sk;
	int r;

	if (!tfw_sk_enter(sk)) {
		tfw_sk_event(sk, TFW_EV_WRITE);
		return -EAGAIN;
	}
	r = tcp_sendmsg_locked(sk, msg, len);
	tfw_sk_exit(sk);
	return r;
}

/* Returns bytes queued (maybe fewer than @len), -EAGAIN when the send buffer is full. */
int tfw_glue_send(struct socket *sock, const void *buf, size_t len, bool more)
{
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL | (more ? MSG_MORE : 0) };
	struct kvec iov = { .iov_base = (void *)buf, .iov_len = len };

	if (!READ_ONCE(tfw_atomic))
		return kernel_sendmsg(sock, &msg, &iov, 1, len);
	iov_iter_kvec(&msg.msg_iter, ITER_SOURCE, &iov, 1, len);
	return tfw_send_atomic(sock, &msg, len);
}

/*
 * Queues up to @len bytes of @pages (@n order-0 pages; the data starts @off bytes into the
 * first) without copying them: with MSG_SPLICE_PAGES, TCP attaches the pages to its skbs and
 * takes a reference on each, so the caller may drop its own at any time after. The pages must
 * never change once sent (the cache's are immutable once published). A device without
 * scatter-gather gets a copy instead. Returns bytes queued, or -EAGAIN / another errno.
 */
int tfw_glue_send_pages(struct socket *sock, void *const *pages, unsigned int n, size_t off,
			size_t len, bool more)
{
	struct bio_vec bv[TFW_SPLICE_PAGES];
	struct msghdr msg = {
		.msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL | MSG_SPLICE_PAGES | (more ? MSG_MORE : 0),
	};
	size_t left = len;
	unsigned int i;

	if (n > TFW_SPLICE_PAGES)
		n = TFW_SPLICE_PAGES;
	if (off >= PAGE_SIZE)
		return -EINVAL;
	for (i = 0; i < n && left; i++) {
		size_t part = min_t(size_t, PAGE_SIZE - off, left);

		bvec_set_page(&bv[i], pages[i], part, off);
		left -= part;
		off = 0;
	}
	iov_iter_bvec(&msg.msg_iter, ITER_SOURCE, bv, i, len - left);
	if (READ_ONCE(tfw_atomic))
		return tfw_send_atomic(sock, &msg, len - left);
	return sock_sendmsg(sock, &msg);
}

/*
 * Zero-copy forwarding: received bytes go from one TCP socket's receive queue into another's
 * send queue without being copied out. What skb_send_sock_locked() does, with two changes:
 * MSG_NOSIGNAL (from softirq, `current` is whatever task was interrupted: it must not get a
 * SIGPIPE), and the send goes through tfw_send_atomic() (the destination's bh lock, or nothing
 * sent when a task owns it). The skb's linear part is copied (it may be kmalloc memory, which
 * cannot be spliced); its page fragments are spliced (MSG_SPLICE_PAGES: the destination's skbs
 * take a reference on each page, and received pages never change). Returns bytes queued, or
 * a negative errno when nothing was.
 */
static int tfw_skb_send(struct socket *to, struct sk_buff *skb, int off, int len)
{
	int orig = len, r = -EINVAL;
	struct sk_buff *head = skb;
	unsigned int i;

more:
	while (off < skb_headlen(skb) && len) {
		struct msghdr msg = { .msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL };
		struct kvec kv;
		int n = min_t(int, len, skb_headlen(skb) - off);

		kv.iov_base = skb->data + off;
		kv.iov_len = n;
		iov_iter_kvec(&msg.msg_iter, ITER_SOURCE, &kv, 1, n);
		r = tfw_send_atomic(to, &msg, n);
		if (r <= 0)
			goto out;
		off += r;
		len -= r;
	}
	if (!len)
		goto out;
	off -= skb_headlen(skb);
	for (i = 0; i < skb_shinfo(skb)->nr_frags && len; i++) {
		skb_frag_t *frag = &skb_shinfo(skb)->frags[i];
		int fsize = skb_frag_size(frag);

		if (off >= fsize) {
			off -= fsize;
			continue;
		}
		while (off < fsize && len) {
			struct msghdr msg = {
				.msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL | MSG_SPLICE_PAGES,
			};
			struct bio_vec bv;
			int n = min_t(int, len, fsize - off);

			bvec_set_page(&bv, skb_frag_page(frag), n, skb_frag_off(frag) + off);
			iov_iter_bvec(&msg.msg_iter, ITER_SOURCE, &bv, 1, n);
			r = tfw_send_atomic(to, &msg, n);
			if (r <= 0)
				goto out;
			off += r;
			len -= r;
		}
		off = 0;
	}
	if (len) {
		if (skb == head && skb_has_frag_list(skb))
			skb = skb_shinfo(skb)->frag_list;
		else if (skb != head && skb->next)
			skb = skb->next;
		else
			goto out;
		goto more;
	}
out:
	return orig == len ? r : orig - len;
}

struct tfw_splice {
	struct socket *to;
	int err;	/* why the actor stopped short, if it did */
};

static int tfw_splice_actor(read_descriptor_t *desc, struct sk_buff *skb, unsigned int off,
			    size_t len)
{
	struct tfw_splice *s = desc->arg.data;
	int n = min_t(size_t, len, min_t(size_t, desc->count, INT_MAX));
	int r;

	if (!n || !skb_frags_readable(skb))
		return 0;
	r = tfw_skb_send(s->to, skb, off, n);
	if (r <= 0) {
		s->err = r ? r : -EAGAIN;
		return 0;
	}
	if (r < n)
		s->err = -EAGAIN;	/* the destination is full */
	desc->count -= r;
	desc->written += r;
	return r;
}

/*
 * Moves up to @len received bytes from @from to @to (see tfw_skb_send()). Only in softirq,
 * where both sockets' bh locks can be held (the callback's, then one other: the order of
 * tfw_sk_enter()). Returns bytes moved (> 0); 0 when @from has nothing to read now (its EOF
 * or error is left for tfw_glue_recv() to report); -EAGAIN when @to took nothing (full, or
 * a task owns it: a write event comes); -EOPNOTSUPP when not in softirq, or @from is owned
 * by a task or has urgent data (read it with tfw_glue_recv()); another errno of @to.
 * *@full tells whether @to stopped the move short.
 */
long tfw_glue_splice(struct socket *from, struct socket *to, size_t len, bool *full)
{
	struct tfw_splice s = { .to = to, .err = 0 };
	read_descriptor_t desc = { .arg.data = &s, .count = len };
	struct sock *sk = from->sk;
	int r;

	*full = false;
	/* One of the two is the callback's socket, already locked: never two others at once. */
	if (!READ_ONCE(tfw_atomic) || (sk != tfw_cur_sk && to->sk != tfw_cur_sk))
		return -EOPNOTSUPP;
	if (!tfw_sk_enter(sk))
		return -EOPNOTSUPP;
	if (unlikely(READ_ONCE(tcp_sk(sk)->urg_data))) {
		tfw_sk_exit(sk);
		return -EOPNOTSUPP;
	}
	r = tcp_read_sock(sk, &desc, tfw_splice_actor);
	tfw_sk_exit(sk);
	*full = s.err == -EAGAIN;
	if (r > 0)
		return r;
	if (s.err)
		return s.err;
	return r < 0 ? -EOPNOTSUPP : 0;
}

/* Starts a non-blocking connect: 0, -EINPROGRESS, or an error. */
int tfw_glue_connect(struct socket *sock, const struct sockaddr_storage *addr, int len)
{
	return kernel_connect(sock, (struct sockaddr *)addr, len, O_NONBLOCK);
}

/* TCP state of the socket (TCP_ESTABLISHED, TCP_CLOSE, ...) and its pending error. */
int tfw_glue_sk_state(struct socket *sock)
{
	return READ_ONCE(sock->sk->sk_state);
}

/*
 * Whether the socket's send buffer has room (what sk_stream_write_space waits for). A hint
 * read without the socket lock: the proxy uses it to tell a response that flows from one
 * whose client stopped reading, which stays true for as long as that client does not read.
 */
bool tfw_glue_writable(struct socket *sock)
{
	return sk_stream_is_writeable(sock->sk);
}


/* The peer's address as text ("192.0.2.1", "2001:db8::1"); returns its length. */
int tfw_glue_peer_str(struct socket *sock, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	int r = kernel_getpeername(sock, (struct sockaddr *)&ss);

	if (r < 0)
		return r;
	if (ss.ss_family == AF_INET6 &&
	    ipv6_addr_v4mapped(&((struct sockaddr_in6 *)&ss)->sin6_addr))
		return scnprintf(buf, len, "%pI4",
				 &((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr32[3]);
	return scnprintf(buf, len, "%pISc", &ss);
}

/* The peer's address as 16 bytes, IPv4 as v4-mapped IPv6 (the firewall's client key). */
int tfw_glue_peer_addr(struct socket *sock, u8 *out)
{
	struct sockaddr_storage ss;
	int r = kernel_getpeername(sock, (struct sockaddr *)&ss);

	if (r < 0)
		return r;
	if (ss.ss_family == AF_INET) {
		memset(out, 0, 10);
		out[10] = 0xff;
		out[11] = 0xff;
		memcpy(out + 12, &((struct sockaddr_in *)&ss)->sin_addr, 4);
		return 0;
	}
	if (ss.ss_family == AF_INET6) {
		memcpy(out, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
		return 0;
	}
	return -EAFNOSUPPORT;
}

/*
 * The local port of a connected or accepted socket, host order: for an accepted client, the
 * listener's port it came in on (frang compares the Host port with it).
 */
u16 tfw_glue_local_port(struct socket *sock)
{
	return ntohs(inet_sk(sock->sk)->inet_sport);
}

void tfw_glue_random(void *buf, size_t len)
{
	get_random_bytes(buf, len);
}

/*
 * Resets the connection on close instead of lingering: for connections the proxy aborts.
 * What sock_no_linger() does without its socket lock (any context): only tcp_close(), later,
 * reads the two fields.
 */
void tfw_glue_abort(struct socket *sock)
{
	WRITE_ONCE(sock->sk->sk_lingertime, 0);
	sock_set_flag(sock->sk, SOCK_LINGER);
}

/*
 * Half-close: the FIN follows what is queued; reads go on. In softirq, what inet_shutdown()
 * does for a connected socket, under the bh lock; any other case (connecting, owned by a
 * task) is left to the work item.
 */
void tfw_glue_shutdown_wr(struct socket *sock)
{
	struct sock *sk = sock->sk;

	if (!READ_ONCE(tfw_atomic)) {
		kernel_sock_shutdown(sock, SHUT_WR);
		return;
	}
	if (tfw_sk_enter(sk)) {
		if (!((1 << sk->sk_state) & (TCPF_LISTEN | TCPF_SYN_SENT | TCPF_CLOSE))) {
			WRITE_ONCE(sk->sk_shutdown, sk->sk_shutdown | SEND_SHUTDOWN);
			sk->sk_prot->shutdown(sk, SEND_SHUTDOWN);
			sk->sk_state_change(sk);
			tfw_sk_exit(sk);
			return;
		}
		tfw_sk_exit(sk);
	}
	tfw_sk_event(sk, TFW_EV_SHUT);
}

/* Segments go out as soon as they are queued: responses are written whole, so Nagle only
 * delays the tail of one behind the ACK of the previous. Process context (accepted and new
 * sockets only). */
void tfw_glue_nodelay(struct socket *sock)
{
	if (!READ_ONCE(tfw_atomic))
		tcp_sock_set_nodelay(sock->sk);
}

/* The socket's netfilter mark. An accepted socket has its SYN's mark when
 * net.ipv4.tcp_fwmark_accept is on (inet_request_mark()), else the listener's (none). */
u32 tfw_glue_mark(struct socket *sock)
{
	return READ_ONCE(sock->sk->sk_mark);
}

/* Marks the packets the socket sends from now on. In softirq, what sock_set_mark() does
 * without its (sleeping) socket lock: the mark, and the cached route that depends on it. */
void tfw_glue_set_mark(struct socket *sock, u32 mark)
{
	struct sock *sk = sock->sk;

	if (!READ_ONCE(tfw_atomic)) {
		sock_set_mark(sk, mark);
		return;
	}
	if (mark != READ_ONCE(sk->sk_mark)) {
		WRITE_ONCE(sk->sk_mark, mark);
		sk_dst_reset(sk);
	}
}

/* Whether accepted sockets inherit their SYN's mark in the initial namespace. */
bool tfw_glue_fwmark_accept(void)
{
	return READ_ONCE(init_net.ipv4.sysctl_tcp_fwmark_accept);
}

u64 tfw_glue_now_ms(void)
{
	return jiffies64_to_msecs(get_jiffies_64());
}

/* Wall-clock seconds: HTTP dates (Date, Expires, Last-Modified) are compared with it. */
u64 tfw_glue_real_secs(void)
{
	return ktime_get_real_seconds();
}

/*
 * /proc/tempesta/servers/GROUP/IP:PORT: one file per upstream server of the running
 * configuration. The counters live here, in memory the Rust side updates with atomic stores
 * and the show function reads with READ_ONCE: reading a file never takes tfw_ctl_mutex, so
 * removing the entries (proc_remove() waits for readers) can happen with the mutex held.
 */
struct tfw_srv_entry {
	struct list_head list;
	struct tfw_srv_stat stat;
};

static struct proc_dir_entry *tfw_proc_servers;
static LIST_HEAD(tfw_srv_entries);

static int tfw_proc_server_show(struct seq_file *m, void *v)
{
	static const int pct[] = { 50, 75, 90, 95, 99 };
	struct tfw_srv_stat *s = m->private;
	int i;

	/* Tempesta FW's lines and order first, so its operators' scripts keep working. */
	seq_printf(m, "Minimal response time\t\t: %llums\n", READ_ONCE(s->rt_min));
	seq_printf(m, "Average response time\t\t: %llums\n", READ_ONCE(s->rt_avg));
	seq_printf(m, "Median  response time\t\t: %llums\n", READ_ONCE(s->rt_pct[0]));
	seq_printf(m, "Maximum response time\t\t: %llums\n", READ_ONCE(s->rt_max));
	seq_puts(m, "Percentiles\n");
	for (i = 0; i < ARRAY_SIZE(pct); i++)
		seq_printf(m, "%02d%%:\t%llums\n", pct[i], READ_ONCE(s->rt_pct[i]));
	seq_printf(m, "Connections up\t\t: %llu/%llu\n", READ_ONCE(s->conns_up),
		   READ_ONCE(s->conns));
	seq_printf(m, "Requests forwarded\t: %llu\n", READ_ONCE(s->forwarded));
	seq_printf(m, "Responses\t\t: %llu\n", READ_ONCE(s->responses));
	seq_printf(m, "Errors\t\t\t: %llu\n", READ_ONCE(s->errors));
	seq_printf(m, "HTTP health monitor is enabled\t: %llu\n", READ_ONCE(s->hm));
	seq_printf(m, "Suspended\t\t: %llu\n", READ_ONCE(s->suspended));
	seq_printf(m, "Health probes sent\t: %llu\n", READ_ONCE(s->probes));
	/* health_stat_server, in Tempesta's form (no time frame here: both are totals). */
	for (i = 0; i < min_t(u64, READ_ONCE(s->hs_n), ARRAY_SIZE(s->hs_code)); i++)
		seq_printf(m, "\tHTTP '%llu' code\t: %llu (%llu total)\n", READ_ONCE(s->hs_code[i]),
			   READ_ONCE(s->hs_count[i]), READ_ONCE(s->hs_count[i]));
	return 0;
}

/* The directory of a server group, created on first use. Control mutex held. */
struct proc_dir_entry *tfw_glue_proc_group(const char *name)
{
	if (!tfw_proc_dir)
		return NULL;
	if (!tfw_proc_servers)
		tfw_proc_servers = proc_mkdir("servers", tfw_proc_dir);
	if (!tfw_proc_servers)
		return NULL;
	return proc_mkdir(name, tfw_proc_servers);
}

/* A server's file in @group; returns its counters (zeroed), or NULL. Control mutex held. */
struct tfw_srv_stat *tfw_glue_proc_server(struct proc_dir_entry *group, const char *addr)
{
	struct tfw_srv_entry *e;

	if (!group)
		return NULL;
	e = kzalloc(sizeof(*e), GFP_KERNEL);
	if (!e)
		return NULL;
	if (!proc_create_single_data(addr, 0444, group, tfw_proc_server_show, &e->stat)) {
		kfree(e);
		return NULL;
	}
	list_add(&e->list, &tfw_srv_entries);
	return &e->stat;
}

/* Removes every server file and frees the counters. Control mutex held. */
void tfw_glue_proc_servers_clear(void)
{
	struct tfw_srv_entry *e, *tmp;

	proc_remove(tfw_proc_servers);
	tfw_proc_servers = NULL;
	list_for_each_entry_safe(e, tmp, &tfw_srv_entries, list) {
		list_del(&e->list);
		kfree(e);
	}
}

#define TFW_PERFSTAT_BUF 8192

static int tfw_proc_perfstat_show(struct seq_file *m, void *v)
{
	char *buf = kvzalloc(TFW_PERFSTAT_BUF, GFP_KERNEL);
	u64 softirq, work;

	if (!buf)
		return -ENOMEM;
	tfw_lock();
	tfw_rs_perfstat(buf, TFW_PERFSTAT_BUF);
	softirq = tfw_ev_softirq;
	work = tfw_ev_work;
	tfw_unlock();
	seq_puts(m, buf);
	seq_printf(m, "Socket events in softirq\t: %llu\n", softirq);
	seq_printf(m, "Socket events in work item\t: %llu\n", work);
	seq_printf(m, "Received data deferred (busy)\t: %lu\n", atomic_long_read(&tfw_ev_busy));
	kvfree(buf);
	return 0;
}

int tfw_glue_init(void)
{
	tfw_wq = alloc_ordered_workqueue("tempesta_fw", WQ_MEM_RECLAIM);
	if (!tfw_wq)
		return -ENOMEM;
	INIT_WORK(&tfw_work, tfw_work_fn);
	INIT_DELAYED_WORK(&tfw_tick, tfw_tick_fn);
	queue_delayed_work(tfw_wq, &tfw_tick, HZ);

	tfw_proc_dir = proc_mkdir("tempesta", NULL);
	if (!tfw_proc_dir)
		return -ENOMEM;
	if (!proc_create_single("state", 0444, tfw_proc_dir, tfw_proc_state_show))
		goto err_proc;
	if (!proc_create_single("perfstat", 0444, tfw_proc_dir, tfw_proc_perfstat_show))
		goto err_proc;
	if (tfw_glue_alog_init(tfw_proc_dir))
		goto err_proc;

	tfw_sysctl_hdr = register_net_sysctl_sz(&init_net, "net/tempesta", tfw_sysctl_tbl,
						ARRAY_SIZE(tfw_sysctl_tbl));
	if (!tfw_sysctl_hdr)
		goto err_proc;
	return 0;

err_proc:
	proc_remove(tfw_proc_dir);
	tfw_proc_dir = NULL;
	WRITE_ONCE(tfw_exiting, true);
	cancel_delayed_work_sync(&tfw_tick);
	destroy_workqueue(tfw_wq);
	return -ENOMEM;
}

/*
 * Unregistering waits for running handlers. Then everything stops under the mutex (no socket
 * is watched after it, so no callback queues work), /proc/tempesta goes (its readers take the
 * mutex briefly; removal waits for them), the tick stops re-arming, and destroying the
 * workqueue waits for the last run: after this returns no tfw_rs_* call is running or can
 * start.
 */
void tfw_glue_exit(void)
{
	unregister_net_sysctl_table(tfw_sysctl_hdr);
	tfw_sysctl_hdr = NULL;

	tfw_lock();
	tfw_rs_shutdown();
	tfw_unlock();
	/* Callbacks that looked at a watch before it went may still be running (softirq is an
	 * RCU read-side section): wait for them before the module's text goes. */
	synchronize_rcu();
	/* After the shutdown: it removes the server files, which live in this directory. Blocked
	 * access log readers are woken to return first: removal waits for them. */
	tfw_glue_alog_close();
	proc_remove(tfw_proc_dir);
	tfw_proc_dir = NULL;
	tfw_glue_alog_exit();
	WRITE_ONCE(tfw_exiting, true);
	cancel_delayed_work_sync(&tfw_tick);
	destroy_workqueue(tfw_wq);
}

unsigned int tfw_glue_frang_clients(void)
{
	return clamp(frang_clients, 64U, 1U << 22);
}

const char *tfw_glue_cfg_path(void)
{
	return tfw_cfg_path;
}

/* Reads a whole file of at most @max bytes into a vmalloc()ed buffer. Process context. */
int tfw_glue_read_file(const char *path, size_t max, void **buf, size_t *len)
{
	ssize_t r;

	*buf = NULL;
	r = kernel_read_file_from_path(path, 0, buf, max, NULL, READING_UNKNOWN);
	if (r < 0)
		return r;
	*len = r;
	return 0;
}

void tfw_glue_free_file(void *buf)
{
	vfree(buf);
}

void tfw_glue_sock_set_v6only(struct socket *sock)
{
	ip6_sock_set_v6only(sock->sk);
}
