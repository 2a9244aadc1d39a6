#!/usr/bin/env bash
# Fuzz the parser for SECONDS (default 60): parser/fuzz/run.sh SECONDS
#
# The target (fuzz_targets/split.rs) asserts that no input panics and that every input gives
# the same events and verdict whole, split at random points and byte by byte. Seeds are the
# corpus of tests/common/corpus.rs (fuzz/seeds/, regenerate with
# `cargo test -p tempesta-parser --test corpus -- --ignored write_fuzz_seeds`).
#
# cargo-fuzz needs a nightly compiler (-Zsanitizer); without one we run it on the stable
# toolchain with RUSTC_BOOTSTRAP=1. Builds use at most 2 jobs.
set -euo pipefail
secs=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-2}

if ! cargo fuzz --version 2>/dev/null | grep -q "0.13.2"; then
  echo "fuzz: installing cargo-fuzz" >&2
  cargo install cargo-fuzz@0.13.2 --locked -j "$CARGO_BUILD_JOBS"
fi

mkdir -p corpus/split artifacts/split
cp -n seeds/* corpus/split/ 2>/dev/null || true

args=(run split corpus/split -- -max_total_time="$secs" -max_len=4096 -timeout=10 -dict="$here/http.dict"
  -artifact_prefix="$here/artifacts/split/" -print_final_stats=1)

if rustc --version | grep -q nightly && cargo fuzz "${args[@]}"; then
  exit 0
fi
echo "fuzz: running cargo fuzz with RUSTC_BOOTSTRAP=1 on $(rustc --version)" >&2
RUSTC_BOOTSTRAP=1 exec cargo fuzz "${args[@]}"
