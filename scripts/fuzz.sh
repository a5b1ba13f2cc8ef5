#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets) for SECONDS each, default 20: the short run
# scripts/test.sh does after the tests; pass e.g. 600 for a long run. Fails on the first crash,
# leaving the input in fuzz/artifacts/<target>/.
#
# libFuzzer's coverage flags are nightly-only, so the fuzz crate is built by Debian's rustc
# (the one that builds the AVR firmware) with RUSTC_BOOTSTRAP, like the firmware. Without
# sanitizers: the crates under test forbid unsafe code, and a panic is what we look for.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
source scripts/setup.sh
export RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc
cd fuzz
/usr/bin/cargo fuzz build --sanitizer none
for target in at_parser at_driver http_request server firmata; do
  log="target/fuzz-$target.log"
  mkdir -p target "corpus/$target"
  if ! /usr/bin/cargo fuzz run "$target" --sanitizer none -- -max_total_time="$seconds" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "fuzz: $target failed (input in fuzz/artifacts/$target/, log in fuzz/$log)" >&2
    exit 1
  fi
  echo "fuzz: $target: $(grep -E '^Done [0-9]+ runs' "$log" | tail -n 1)"
done
