//! Fuzz target: any input must parse without panicking, and give the same events and verdict
//! whole, split at random points, and byte by byte.
//!
//! Input encoding (see `tempesta_parser::testkit::decode_fuzz_input`): byte 0 selects the
//! role (request, or response to GET/HEAD/CONNECT) and the limits, byte 1 seeds the splits,
//! the rest is the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tempesta_parser::testkit;

fuzz_target!(|data: &[u8]| {
    let (role, limits, seed, msg) = testkit::decode_fuzz_input(data);
    if let Err(e) = testkit::check_split_invariance(role, limits, msg, seed) {
        panic!("split invariance violated: {e}");
    }
});
