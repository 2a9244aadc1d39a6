//! Web cache policy (RFC 9111): cache keys, storability, freshness and conditional requests.
//!
//! `no_std` and allocation-free so that the kernel module compiles these sources as they are;
//! the store itself (pages, RCU publication) lives in the module. Filled in by the cache issue.
#![cfg_attr(not(test), no_std)]
