#!/usr/bin/env bash
# The main job on the virtual bench, end to end: install what is missing, scaffold a demo
# project, build its firmware (printing flash/SRAM use), start a simulated Nano waiting in
# its Optiboot bootloader (wired to an emulated ESP8266), flash the firmware onto it through
# that bootloader with `nanoesp flash`, wait for the web server, check everything with
# `nanoesp doctor` (5 parallel clients), print the report and the URL, and keep serving
# until Ctrl-C.
#
# Usage: scripts/demo.sh [DIR]   (default /tmp/nanoesp-demo)
#   NANOESP_DEMO_MODE=esp-master        the other project mode: the Nano runs the Firmata I/O
#                                      firmware, the ESP side is the sketch's logic built for
#                                      this computer (arduino-cli is only needed for a real ESP)
#   NANOESP_DEMO_HTTP=127.0.0.1:8080   where the bench listens
#   NANOESP_DEMO_SIM_ARGS="..."        extra `nanoesp sim` flags (e.g. --esp-faults realistic);
#                                      --exit-after-ready stops after the report (for CI);
#                                      --fast is dropped (a bootloader needs real time)
# Never prompts (CI=true is fine). Exit status: doctor's (0 healthy, 1 a check failed).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
DEMO_DIR="${1:-${TMPDIR:-/tmp}/nanoesp-demo}"
HTTP="${NANOESP_DEMO_HTTP:-127.0.0.1:8080}"
URL="http://$HTTP/"

EXIT_AFTER_READY=0
SIM_ARGS=()
for a in ${NANOESP_DEMO_SIM_ARGS:-}; do
  case "$a" in
    --exit-after-ready) EXIT_AFTER_READY=1 ;;
    --fast) echo "demo: ignoring --fast: the simulated bootloader needs real time" >&2 ;;
    *) SIM_ARGS+=("$a") ;;
  esac
done

"$NANOESP_CARGO" build --release --quiet -p nanoesp -p nanoesp-sim
NANOESP="$PWD/target/release/nanoesp"
export NANOESP_SIM="${NANOESP_SIM:-$PWD/target/release/nanoesp-sim}"

MODE="${NANOESP_DEMO_MODE:-nano-drives-esp}"
"$NANOESP" new "$DEMO_DIR" --yes --force --ssid nanoesp-lab --mode "$MODE"
if [ "$MODE" = esp-master ]; then
  # The sketch's real build needs arduino-cli and the esp8266 core (not on the bench).
  "$NANOESP" build --only nano --project "$DEMO_DIR"
else
  "$NANOESP" build --project "$DEMO_DIR"
fi

BENCH_LOG="$DEMO_DIR/.nanoesp/sim/demo-bench.log"
NANO_PORT="$DEMO_DIR/.nanoesp/sim/nano"
mkdir -p "$DEMO_DIR/.nanoesp/sim"
rm -f "$NANO_PORT" "$BENCH_LOG"

echo "demo: starting the virtual bench: a Nano waiting in its Optiboot bootloader on $NANO_PORT" >&2
# Its own process group (set -m): a script's background jobs otherwise ignore SIGINT, and
# the bench must get the Ctrl-C we forward so it saves its flash image and removes its ptys.
set -m
"$NANOESP" sim --bootloader optiboot --project "$DEMO_DIR" --http "$HTTP" \
  ${SIM_ARGS[@]+"${SIM_ARGS[@]}"} >"$BENCH_LOG" &
BENCH_PID=$!
set +m

stop_bench() {
  trap - INT TERM EXIT
  if kill -0 "$BENCH_PID" 2>/dev/null; then
    echo "demo: stopping the virtual bench" >&2
    kill -INT -- "-$BENCH_PID" 2>/dev/null || true
    wait "$BENCH_PID" 2>/dev/null || true
  fi
}
trap 'stop_bench; exit 130' INT TERM
trap stop_bench EXIT

# The bootloader is built from Debian's sources on first use; the pty appears after that.
for _ in $(seq 1 1200); do
  [ -e "$NANO_PORT" ] && break
  kill -0 "$BENCH_PID" 2>/dev/null || { cat "$BENCH_LOG" >&2; echo "demo: the bench did not start" >&2; exit 2; }
  sleep 0.1
done
[ -e "$NANO_PORT" ] || { echo "demo: $NANO_PORT never appeared" >&2; exit 2; }

# `--nano-port auto` finds the simulated Nano among the ports by its bootloader.
"$NANOESP" flash --only nano --project "$DEMO_DIR"

echo "demo: waiting for the firmware's web server" >&2
for _ in $(seq 1 600); do
  grep -q "^open " "$BENCH_LOG" 2>/dev/null && break
  kill -0 "$BENCH_PID" 2>/dev/null || { cat "$BENCH_LOG" >&2; echo "demo: the bench stopped" >&2; exit 2; }
  sleep 0.1
done
grep -q "^open " "$BENCH_LOG" || { cat "$BENCH_LOG" >&2; echo "demo: the firmware never served" >&2; exit 2; }

echo >&2
# Hardware mode against the bench: toolchains, the port (by its bootloader), the console
# banner and build id (opening the console resets the Nano, which comes back up), the
# ESP's AT version and Wi-Fi from the console, then the server under 5 parallel clients.
echo "demo: nanoesp doctor --url $URL --nano-port $NANO_PORT --project $DEMO_DIR" >&2
set +e
"$NANOESP" doctor --url "$URL" --nano-port "$NANO_PORT" --project "$DEMO_DIR"
DOCTOR=$?
set -e

echo
echo "Open $URL in a browser (status JSON: ${URL}api/status)."
if [ "$EXIT_AFTER_READY" = 1 ]; then
  stop_bench
  exit "$DOCTOR"
fi
echo "The virtual bench keeps serving; Ctrl-C stops it."
wait "$BENCH_PID" || true
