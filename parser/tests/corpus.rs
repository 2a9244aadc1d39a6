//! The corpus with expected verdicts, and the split-invariance property: every split of every
//! corpus message (all single split points, random multi-splits, byte by byte) gives exactly
//! the same events (same absolute spans; adjacent body `Data` merged) and the same verdict as
//! the unsplit parse.

mod common;

use common::corpus::{Case, CASES};
use common::Rng;
use tempesta_parser::testkit::{self, Outcome, Role};
use tempesta_parser::{Event, Limits};

fn whole(c: &Case) -> Outcome {
    testkit::run(c.role, c.limits, &[c.msg])
}

#[test]
fn names_are_unique() {
    let mut names: Vec<_> = CASES.iter().map(|c| c.name).collect();
    names.sort_unstable();
    let n = names.len();
    names.dedup();
    assert_eq!(n, names.len());
}

#[test]
fn expected_verdicts() {
    let mut bad = Vec::new();
    for c in CASES {
        let o = whole(c);
        if o.verdict != c.expect {
            bad.push(format!(
                "{}: expected {:?}, got {:?}",
                c.name, c.expect, o.verdict
            ));
        }
        if c.expect.is_ok() {
            // Every accepted stream ends with a complete message.
            assert!(matches!(o.events.last(), Some(Event::End(_))), "{}", c.name);
        }
    }
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn every_single_split_point() {
    for c in CASES {
        let w = whole(c);
        for k in 0..=c.msg.len() {
            let s = testkit::run_split(c.role, c.limits, c.msg, &[k]);
            assert_eq!(s, w, "{} split at {k}", c.name);
        }
    }
}

#[test]
fn every_pair_of_split_points_short_cases() {
    for c in CASES.iter().filter(|c| c.msg.len() <= 120) {
        let w = whole(c);
        for a in 0..=c.msg.len() {
            for b in (a..=c.msg.len()).step_by(3) {
                let s = testkit::run_split(c.role, c.limits, c.msg, &[a, b]);
                assert_eq!(s, w, "{} split at {a},{b}", c.name);
            }
        }
    }
}

#[test]
fn byte_by_byte() {
    for c in CASES {
        let w = whole(c);
        let cuts: Vec<usize> = (1..c.msg.len()).collect();
        let s = testkit::run_split(c.role, c.limits, c.msg, &cuts);
        assert_eq!(s, w, "{} byte by byte", c.name);
    }
}

#[test]
fn random_multi_splits() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for c in CASES {
        let w = whole(c);
        for _ in 0..40 {
            let n = 1 + rng.below(12);
            let mut cuts: Vec<usize> = (0..n).map(|_| rng.below(c.msg.len() + 1)).collect();
            cuts.sort_unstable();
            let s = testkit::run_split(c.role, c.limits, c.msg, &cuts);
            assert_eq!(s, w, "{} cuts {cuts:?}", c.name);
        }
    }
}

#[test]
fn seeded_checker_agrees() {
    for c in CASES {
        for seed in [0u8, 1, 77, 255] {
            testkit::check_split_invariance(c.role, c.limits, c.msg, seed)
                .unwrap_or_else(|e| panic!("{}: {e}", c.name));
        }
    }
}

/// All valid request cases with default limits, back to back on one connection.
#[test]
fn whole_corpus_pipelined() {
    let valid: Vec<&Case> = CASES
        .iter()
        .filter(|c| c.role == Role::Request && c.expect.is_ok() && c.limits == Limits::DEFAULT)
        .collect();
    let stream: Vec<u8> = valid.iter().flat_map(|c| c.msg.iter().copied()).collect();
    let expected_ends: usize = valid.iter().map(|c| common::count_ends(&whole(c))).sum();
    let w = testkit::run(Role::Request, Limits::DEFAULT, &[&stream]);
    // Leading empty lines are accepted only at the start of a request, which they are here.
    assert_eq!(w.verdict, Ok(()));
    assert_eq!(common::count_ends(&w), expected_ends);
    let mut rng = Rng(42);
    for _ in 0..20 {
        let mut cuts: Vec<usize> = (0..200).map(|_| rng.below(stream.len())).collect();
        cuts.sort_unstable();
        assert_eq!(
            testkit::run_split(Role::Request, Limits::DEFAULT, &stream, &cuts),
            w
        );
    }
}

/// Writes the corpus as seeds for the fuzz target: `cargo test --test corpus -- --ignored`.
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    std::fs::create_dir_all(&dir).unwrap();
    for c in CASES {
        let role = testkit::FUZZ_ROLES
            .iter()
            .position(|r| *r == c.role)
            .unwrap();
        let limits = testkit::FUZZ_LIMITS
            .iter()
            .position(|l| *l == c.limits)
            .unwrap_or(0);
        let data = testkit::encode_fuzz_input(role, limits, 7, c.msg);
        std::fs::write(dir.join(c.name), data).unwrap();
    }
}

/// Taking body data with `skip` (a zero-copy forwarder's way: the bytes are never seen) gives
/// the same events and verdict as feeding it, for every corpus case and several skip patterns.
#[test]
fn skipping_data_runs_is_feeding_them() {
    for c in CASES {
        let w = whole(c);
        for seed in 0..8u8 {
            let s = testkit::run_skipping(c.role, c.limits, c.msg, seed);
            assert_eq!(s, w, "case {} seed {seed}", c.name);
        }
    }
}
