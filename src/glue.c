// SPDX-License-Identifier: GPL-2.0
/*
 * C glue of tempesta-rs: module parameter, sysctl net.tempesta.*, /proc/tempesta, file reading
 * and the static inline helpers Rust cannot call. No policy here: every decision is taken by the
 * Rust side (tfw_rs_*), which the glue calls with tfw_ctl_mutex held, so the Rust control state
 * is only ever touched by one task at a time.
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

#include "glue.h"

static char *tfw_cfg_path = "/etc/tempesta/tempesta_fw.conf";
module_param(tfw_cfg_path, charp, 0444);
MODULE_PARM_DESC(tfw_cfg_path, "Path of the configuration file read on start");

/* Serializes every control operation: sysctl writes and reads, /proc reads. */
static DEFINE_MUTEX(tfw_ctl_mutex);

#define TFW_CTL_BUF 64

static int tfw_ctl_state(const struct ctl_table *ctl, int write, void *buffer, size_t *lenp,
			 loff_t *ppos)
{
	char buf[TFW_CTL_BUF] = {};
	struct ctl_table tmp = *ctl;
	int r;

	tmp.data = buf;
	tmp.maxlen = sizeof(buf);

	mutex_lock(&tfw_ctl_mutex);
	if (write) {
		r = proc_dostring(&tmp, write, buffer, lenp, ppos);
		if (!r)
			r = tfw_rs_ctl_state(buf, strnlen(buf, sizeof(buf)));
	} else {
		tfw_rs_state_str(buf, sizeof(buf));
		r = proc_dostring(&tmp, write, buffer, lenp, ppos);
	}
	mutex_unlock(&tfw_ctl_mutex);
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

	mutex_lock(&tfw_ctl_mutex);
	tfw_rs_state_str(buf, sizeof(buf));
	mutex_unlock(&tfw_ctl_mutex);
	seq_printf(m, "%s\n", buf);
	return 0;
}

int tfw_glue_init(void)
{
	tfw_proc_dir = proc_mkdir("tempesta", NULL);
	if (!tfw_proc_dir)
		return -ENOMEM;
	if (!proc_create_single("state", 0444, tfw_proc_dir, tfw_proc_state_show))
		goto err_proc;

	tfw_sysctl_hdr = register_net_sysctl_sz(&init_net, "net/tempesta", tfw_sysctl_tbl,
						ARRAY_SIZE(tfw_sysctl_tbl));
	if (!tfw_sysctl_hdr)
		goto err_proc;
	return 0;

err_proc:
	proc_remove(tfw_proc_dir);
	tfw_proc_dir = NULL;
	return -ENOMEM;
}

/* Unregistering waits for running handlers: after this returns, no tfw_rs_* call is running
 * or can start. */
void tfw_glue_exit(void)
{
	unregister_net_sysctl_table(tfw_sysctl_hdr);
	tfw_sysctl_hdr = NULL;
	proc_remove(tfw_proc_dir);
	tfw_proc_dir = NULL;
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
