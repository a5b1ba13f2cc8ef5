#!/usr/bin/env bash
# Installs everything nanoesp needs on Debian 12 / Ubuntu, idempotently: Debian's packages
# (AVR toolchain, a rustc with library sources for build-std, simavr, avrdude, the Arduino
# bootloader sources) and, when no Rust is installed at all, uses Debian's cargo for the host.
# Sourced by demo.sh and test.sh; exports NANOESP_CARGO (the cargo that builds host tools).
set -euo pipefail

NANOESP_APT_PACKAGES=(
  rustc-web cargo-web rust-web-src          # rustc 1.96 + library sources: builds the AVR firmware
  gcc-avr binutils-avr avr-libc            # linker and C runtime for the ATmega328P
  avrdude                                  # flashing (used through ravedude or directly)
  simavr libsimavr-dev libsimavrparts1     # the simulated Nano of the virtual bench
  libelf-dev zlib1g-dev libzstd-dev pkg-config gcc make
  libudev-dev                              # serial port enumeration (serialport crate)
  arduino-core-avr                         # optiboot/ATmegaBOOT sources, built at test time
  socat python3 python3-venv curl
  g++                                      # builds and tests the esp-master ESP8266 core on the host
  nodejs                                   # runs the web pages' scripts in tests
)

missing=()
for p in "${NANOESP_APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "nanoesp setup: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Host tools need Rust >= 1.95: rustup's cargo when present, else Debian's (1.96).
if command -v cargo >/dev/null 2>&1 && cargo --version >/dev/null 2>&1; then
  NANOESP_CARGO="$(command -v cargo)"
else
  NANOESP_CARGO=/usr/bin/cargo
fi
export NANOESP_CARGO

# ravedude flashes the Nano (the generated project's cargo runner; `nanoesp flash` runs it).
# Installed from the crate registry into a per-user tools dir unless one is on PATH already.
NANOESP_RAVEDUDE_VERSION=0.2.2
NANOESP_TOOLS="${NANOESP_TOOLS:-${XDG_DATA_HOME:-$HOME/.local/share}/nanoesp/tools}"
export PATH="$NANOESP_TOOLS/bin:$PATH"
if ! command -v ravedude >/dev/null 2>&1; then
  echo "nanoesp setup: installing ravedude $NANOESP_RAVEDUDE_VERSION into $NANOESP_TOOLS" >&2
  "$NANOESP_CARGO" install --quiet --locked ravedude --version "$NANOESP_RAVEDUDE_VERSION" --root "$NANOESP_TOOLS"
fi

# cargo-fuzz drives the parsers' fuzz targets (scripts/fuzz.sh; a short run in the tests).
NANOESP_CARGO_FUZZ_VERSION=0.13.2
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "nanoesp setup: installing cargo-fuzz $NANOESP_CARGO_FUZZ_VERSION into $NANOESP_TOOLS" >&2
  "$NANOESP_CARGO" install --quiet --locked cargo-fuzz --version "$NANOESP_CARGO_FUZZ_VERSION" --root "$NANOESP_TOOLS"
fi

# A Firmata client nobody here wrote, for the esp-master interoperability test
# (firmware/sim-tests/tests/firmata_client.py): pyFirmata2 from PyPI, pinned, in a venv.
NANOESP_PYFIRMATA2_VERSION=2.5.1
NANOESP_PYSERIAL_VERSION=3.5
if ! "$NANOESP_TOOLS/venv/bin/python" -c "import pyfirmata2" >/dev/null 2>&1; then
  echo "nanoesp setup: installing pyFirmata2 $NANOESP_PYFIRMATA2_VERSION into $NANOESP_TOOLS/venv" >&2
  python3 -m venv "$NANOESP_TOOLS/venv"
  "$NANOESP_TOOLS/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "pyFirmata2==$NANOESP_PYFIRMATA2_VERSION" "pyserial==$NANOESP_PYSERIAL_VERSION"
fi
export NANOESP_PYTHON="$NANOESP_TOOLS/venv/bin/python"
