//! Throughput of tempesta-parser vs httparse on realistic messages, whole and split into
//! 1460-byte (one TCP segment) and 100-byte chunks.
//!
//! Both sides do the same job: parse the head, find the body framing, and walk the body (a
//! Content-Length body, or every chunk-size line and the trailers of a chunked body).
//! httparse is not incremental, so for split input its caller does what it must: append each
//! chunk to a buffer and re-parse from the start until the head is complete, then walk the
//! body as far as the buffer allows (httparse::parse_chunk_size on the buffered remainder).
//!
//! `cargo bench -p tempesta-parser` (SIMD scanners on x86_64) and
//! `cargo bench -p tempesta-parser --no-default-features` (the scalar/SWAR code the kernel
//! runs).

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Duration;

mod shared;

use shared::{ours, theirs_split, theirs_whole, CASES};

fn bench(c: &mut Criterion) {
    for (name, msg, request) in CASES {
        // Sanity: both sides see the whole message.
        assert!(ours(msg, request, msg.len()) > 0);
        assert!(theirs_whole(msg, request) > 0);
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Bytes(msg.len() as u64));
        g.warm_up_time(Duration::from_millis(700));
        g.measurement_time(Duration::from_secs(2));
        g.sample_size(40);
        for split in [0usize, 1460, 100] {
            let label = if split == 0 {
                "whole".to_string()
            } else {
                format!("split{split}")
            };
            let chunk = if split == 0 { msg.len() } else { split };
            g.bench_with_input(BenchmarkId::new("tempesta", &label), &chunk, |b, &chunk| {
                b.iter(|| ours(black_box(msg), request, chunk))
            });
            let mut buf = Vec::with_capacity(msg.len());
            g.bench_with_input(BenchmarkId::new("httparse", &label), &chunk, |b, &chunk| {
                if split == 0 {
                    b.iter(|| theirs_whole(black_box(msg), request))
                } else {
                    b.iter(|| theirs_split(black_box(msg), request, chunk, &mut buf))
                }
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
