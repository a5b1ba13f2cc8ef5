#!/usr/bin/env bash
# Runs the whole test suite: installs what is missing, then `cargo test` over the workspace
# (unit, property, emulator scenario, CLI end-to-end and firmware-in-simulator tests), then
# a short run of the fuzz targets.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# AVR firmware built by the tests shares one target dir, so `core` is compiled once.
export NANOESP_TEST_AVR_TARGET="${NANOESP_TEST_AVR_TARGET:-$PWD/target/avr-tests}"
export NANOESP_AVR_TARGET_DIR="${NANOESP_AVR_TARGET_DIR:-$NANOESP_TEST_AVR_TARGET}"
# Firmware-in-simulator tests use the simulator this very run builds.
export NANOESP_SIM="${NANOESP_SIM:-${CARGO_TARGET_DIR:-$PWD/target}/release/nanoesp-sim}"
"$NANOESP_CARGO" test --workspace --release "$@"
# A short fuzz run of every parser that eats bytes from outside (skipped when the caller
# picked tests); NANOESP_FUZZ_SECONDS per target, 0 skips it.
fuzz_seconds="${NANOESP_FUZZ_SECONDS:-20}"
if [ $# -eq 0 ] && [ "$fuzz_seconds" -gt 0 ]; then
  scripts/fuzz.sh "$fuzz_seconds"
fi
