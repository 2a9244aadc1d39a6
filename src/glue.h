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

/* Exported by glue.c to Rust. */
int tfw_glue_init(void);
void tfw_glue_exit(void);
const char *tfw_glue_cfg_path(void);
int tfw_glue_read_file(const char *path, size_t max, void **buf, size_t *len);
void tfw_glue_free_file(void *buf);
void tfw_glue_sock_set_v6only(struct socket *sock);

/* Exported by the Rust crate to glue.c; called with the control mutex held. */
int tfw_rs_ctl_state(const char *cmd, size_t len);
size_t tfw_rs_state_str(char *buf, size_t len);

#endif /* TFW_GLUE_H */
