#!/usr/bin/env bash
# The main job on the virtual bench: install what is missing, scaffold a demo project, build
# its firmware (printing flash/SRAM use), then run it on a simulated Nano wired to an emulated
# ESP8266 and serve its page on http://127.0.0.1:8080/ until Ctrl-C.
# Usage: scripts/demo.sh [DIR]   (default /tmp/nanoesp-demo; NANOESP_DEMO_SIM_ARGS adds sim flags)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
DEMO_DIR="${1:-${TMPDIR:-/tmp}/nanoesp-demo}"
"$NANOESP_CARGO" build --release --quiet -p nanoesp -p nanoesp-sim
NANOESP=target/release/nanoesp
"$NANOESP" new "$DEMO_DIR" --yes --force --ssid nanoesp-lab
"$NANOESP" build --project "$DEMO_DIR"
echo "Starting the virtual bench: open the URL it prints in a browser; Ctrl-C stops it." >&2
# shellcheck disable=SC2086
exec "$NANOESP" sim --project "$DEMO_DIR" ${NANOESP_DEMO_SIM_ARGS:-}
