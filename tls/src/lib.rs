//! TLS handshake state machine (later): the kernel provides the record layer (kTLS) and the
//! primitives (AEAD, SHA-2, X25519), not the handshake, which will live here as `no_std` code.
#![cfg_attr(not(test), no_std)]
