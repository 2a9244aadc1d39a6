/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel API tempesta-rs uses that `kernel::bindings` (Linux 6.12) lacks or keeps opaque.
 * scripts/bindgen.py generates src/sys_generated.rs from this header with the kernel's own
 * clang flags; the lines below starting with "bindgen:" are its allowlist. Functions that are
 * macros or static inlines are wrapped in glue.c and declared in glue.h.
 */
#include <linux/net.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/socket.h>
#include <net/sock.h>
#include <net/tcp.h>
#include <net/net_namespace.h>
#include "glue.h"

// bindgen: --allowlist-function sock_create_kern --allowlist-function sock_release
// bindgen: --allowlist-function kernel_bind --allowlist-function kernel_listen
// bindgen: --allowlist-function kernel_accept --allowlist-function kernel_connect
// bindgen: --allowlist-function kernel_sendmsg --allowlist-function tcp_read_sock
// bindgen: --allowlist-function sock_set_reuseaddr
// bindgen: --allowlist-function tfw_glue_.*
// bindgen: --allowlist-var init_net
// bindgen: --allowlist-type socket --allowlist-type sock --allowlist-type sk_buff
// bindgen: --allowlist-type sockaddr_in --allowlist-type sockaddr_in6
// bindgen: --allowlist-type sockaddr_storage --allowlist-type __kernel_sockaddr_storage
// bindgen: --allowlist-var AF_INET --allowlist-var AF_INET6 --allowlist-var SOCK_STREAM
// bindgen: --allowlist-var IPPROTO_TCP --allowlist-var O_NONBLOCK --allowlist-type sock_type
// bindgen: --allowlist-var E.* --allowlist-var TFW_EV_.* --allowlist-var TFW_SPLICE_PAGES --allowlist-type tfw_srv_stat
