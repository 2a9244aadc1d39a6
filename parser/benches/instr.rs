//! A fixed amount of work for instruction counting, which is stable where wall-clock time is
//! not (shared VMs):
//!
//! ```text
//! cargo bench -p tempesta-parser --bench instr --no-run   # prints the binary's path
//! valgrind --tool=cachegrind --branch-sim=yes --cache-sim=no --cachegrind-out-file=/dev/null \
//!     target/release/deps/instr-HASH CASE CHUNK WHO ITERS
//! ```
//!
//! CASE is browser_get, api_post, chunked_response or tiny_get; CHUNK is 0 (whole), 1460 or
//! 100; WHO is tempesta or httparse. Divide the instruction and mispredict totals by ITERS.
//! Without arguments (as `cargo bench` runs it) it parses each case once and exits.

mod shared;

use shared::{ours, theirs_split, theirs_whole, CASES};
use std::hint::black_box;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let Some(case) = args.first() else {
        for (_, msg, request) in CASES {
            assert!(ours(msg, request, msg.len()) > 0);
            assert!(theirs_whole(msg, request) > 0);
        }
        return;
    };
    let (_, msg, request) = *CASES.iter().find(|c| c.0 == case).expect("unknown case");
    let chunk: usize = args.get(1).map_or(0, |s| s.parse().unwrap());
    let httparse = args.get(2).is_some_and(|w| w == "httparse");
    let iters: u64 = args.get(3).map_or(1000, |s| s.parse().unwrap());
    let mut buf = Vec::with_capacity(msg.len());
    let mut acc = 0u64;
    for _ in 0..iters {
        acc += match (httparse, chunk) {
            (false, 0) => ours(black_box(msg), request, msg.len()),
            (false, c) => ours(black_box(msg), request, c),
            (true, 0) => theirs_whole(black_box(msg), request),
            (true, c) => theirs_split(black_box(msg), request, c, &mut buf),
        };
    }
    println!("{acc}");
}
