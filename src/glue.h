/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C glue of tempesta-rs: the kernel interfaces that are macros, static inlines or tables of
 * function pointers (module parameters, sysctl, procfs), kept as thin as possible. Everything
 * that decides something is in Rust: the glue calls back into the tfw_rs_* functions.
 */
#ifndef TFW_GLUE_H
#define TFW_GLUE_H

#include <linux/types.h>

struct socket;
struct sockaddr_storage;
struct tfw_watch;
struct proc_dir_entry;

/* Counters of one upstream server, shown in /proc/tempesta/servers/GROUP/IP:PORT. Written by
 * Rust with atomic stores, read by glue.c with READ_ONCE. */
struct tfw_srv_stat {
	u64 conns_up;
	u64 conns;
	u64 forwarded;
	u64 responses;
	u64 errors;
	/* Response times over the last minute, ms (sched/src/apm.rs), refreshed every second. */
	u64 rt_min;
	u64 rt_avg;
	u64 rt_max;
	u64 rt_pct[5];	/* 50, 75, 90, 95, 99 */
	/* Health monitoring (sched/src/health.rs): on, suspended now, probes sent. */
	u64 hm;
	u64 suspended;
	u64 probes;
	/* health_stat_server: responses by status (a class N* is N), hs_n of them. */
	u64 hs_n;
	u64 hs_code[16];
	u64 hs_count[16];
};

/* Socket events, bits of the mask tfw_rs_event() gets. */
#define TFW_EV_READ	0	/* data, a connection to accept, or EOF */
#define TFW_EV_WRITE	1	/* send buffer space */
#define TFW_EV_STATE	2	/* TCP state change: connected, reset, closed */
#define TFW_EV_SHUT	3	/* glue.c only: a half-close left to the work item */

/* Exported by glue.c to Rust. */
int tfw_glue_init(void);
void tfw_glue_exit(void);
const char *tfw_glue_cfg_path(void);
unsigned int tfw_glue_frang_clients(void);
int tfw_glue_read_file(const char *path, size_t max, void **buf, size_t *len);
void tfw_glue_free_file(void *buf);
void tfw_glue_sock_set_v6only(struct socket *sock);
struct tfw_watch *tfw_glue_watch(struct socket *sock, u64 id, struct tfw_watch *parent);
void tfw_glue_release(struct socket *sock, struct tfw_watch *w);
bool tfw_glue_atomic(void);
void tfw_glue_defer(void);
void tfw_glue_kick(struct tfw_watch *w, int ev);
int tfw_glue_accept(struct socket *lsock, struct socket **out);
int tfw_glue_recv(struct socket *sock, void *buf, size_t len);
int tfw_glue_send(struct socket *sock, const void *buf, size_t len, bool more);
long tfw_glue_splice(struct socket *from, struct socket *to, size_t len, bool *full);
/* Pages one tfw_glue_send_pages() call takes at most. */
#define TFW_SPLICE_PAGES	16
int tfw_glue_send_pages(struct socket *sock, void *const *pages, unsigned int n, size_t off,
			size_t len, bool more);
int tfw_glue_connect(struct socket *sock, const struct sockaddr_storage *addr, int len);
int tfw_glue_sk_state(struct socket *sock);
bool tfw_glue_writable(struct socket *sock);
int tfw_glue_peer_str(struct socket *sock, char *buf, size_t len);
void tfw_glue_abort(struct socket *sock);
void tfw_glue_shutdown_wr(struct socket *sock);
void tfw_glue_nodelay(struct socket *sock);
u32 tfw_glue_mark(struct socket *sock);
void tfw_glue_set_mark(struct socket *sock, u32 mark);
bool tfw_glue_fwmark_accept(void);
int tfw_glue_peer_addr(struct socket *sock, u8 *out);
u16 tfw_glue_local_port(struct socket *sock);
void tfw_glue_random(void *buf, size_t len);
u64 tfw_glue_now_ms(void);
u64 tfw_glue_real_secs(void);
struct proc_dir_entry *tfw_glue_proc_group(const char *name);
struct tfw_srv_stat *tfw_glue_proc_server(struct proc_dir_entry *group, const char *addr);
void tfw_glue_proc_servers_clear(void);
/* ipblock.c: ip_block's netfilter hook and its address set. */
int tfw_glue_ipblock_enable(void);
void tfw_glue_ipblock_disable(void);
int tfw_glue_ipblock_add(const u8 *addr, u32 secs);
void tfw_glue_ipblock_stats(u64 *dropped, u64 *full, u64 *blocked);

/* alog.c: the /proc/tempesta/access_log stream. */
int tfw_glue_alog_setup(size_t size);
void tfw_glue_alog_write(const char *line, size_t len);
u64 tfw_glue_alog_dropped(void);
int tfw_glue_alog_init(struct proc_dir_entry *dir);
void tfw_glue_alog_close(void);
void tfw_glue_alog_exit(void);

/* Exported by the Rust crate to glue.c; called with the data lock held (glue.c). */
int tfw_rs_ctl_state(const char *cmd, size_t len);
size_t tfw_rs_state_str(char *buf, size_t len);
void tfw_rs_event(u64 id, unsigned long events);
void tfw_rs_tick(void);
void tfw_rs_deferred(void);
void tfw_rs_shutdown(void);
size_t tfw_rs_perfstat(char *buf, size_t len);

#endif /* TFW_GLUE_H */
