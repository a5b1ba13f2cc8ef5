#!/usr/bin/env bash
# The main job on the virtual bench: install what is missing, scaffold a demo project,
# build its firmware and print the sizes. Usage: scripts/demo.sh [DIR] (default /tmp/nanoesp-demo)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
DEMO_DIR="${1:-${TMPDIR:-/tmp}/nanoesp-demo}"
"$NANOESP_CARGO" build --release --quiet -p nanoesp
NANOESP=target/release/nanoesp
"$NANOESP" new "$DEMO_DIR" --yes --force --ssid nanoesp-lab
"$NANOESP" build --project "$DEMO_DIR"
