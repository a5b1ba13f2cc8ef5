"""Drives the esp-master Nano firmware through pyFirmata2 (a Firmata client from PyPI that
nanoesp did not write), as the ESP8266's sketch would drive it over the link.

Usage: python firmata_client.py PORT
PORT is the simulator's `--esp pty:PORT`. Checks, in order: protocol version and firmware
name, the capability report (pins D0/D1/D8/D9 unavailable, D13 digital, A0-A7 analog),
analog reports of A0 and A3 (the test sets 2500 mV and 1000 mV: 512 and 205 of 1023),
then D13 high and low (the simulator watches the pin). Exits 0 when every check passed;
prints one line per check.
"""

import sys
import time

import pyfirmata2
from pyfirmata2 import pyfirmata2 as firmata


def wait_for(what, predicate, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise SystemExit(f"firmata_client: timed out waiting for {what}")


def check(ok, message):
    if not ok:
        raise SystemExit(f"firmata_client: FAILED {message}")
    print(f"firmata_client: ok {message}", flush=True)


def main():
    port = sys.argv[1]
    # The link has no auto-reset (a pty, like the ESP's wire), so the board is ready at
    # once; the library still waits its 5 s before the capability query.
    board = None
    for attempt in range(2):
        try:
            # Board without a layout sets itself up from CAPABILITY_QUERY (the Arduino
            # subclass would assume a fixed Uno layout instead).
            board = pyfirmata2.Board(port)
            break
        except IOError as e:
            print(f"firmata_client: attempt {attempt + 1}: {e}", flush=True)
    check(board is not None, "board detected from the capability report")

    # The firmware announced itself at reset, before this client opened the port: ask.
    board.sp.write(bytearray([firmata.REPORT_VERSION]))
    board.send_sysex(firmata.REPORT_FIRMWARE, [])
    board.samplingOn(19)  # starts the library's reader thread and sets the interval
    wait_for("the firmware report", lambda: board.firmware is not None and board.firmata_version is not None, 10)
    check(board.firmata_version == (2, 5), f"protocol version {board.firmata_version}")
    check(board.firmware == "nanoesp-io", f"firmware name {board.firmware!r} {board.firmware_version}")

    layout = board._layout
    check(tuple(layout["disabled"]) == (0, 1, 8, 9), f"link and console pins unavailable {layout['disabled']}")
    check(board.digital[13].mode == firmata.OUTPUT, "D13 is a digital output")
    check(len(board.analog) == 8, f"8 analog inputs {layout['analog']}")
    check(3 in layout["pwm"] and 11 in layout["pwm"], f"PWM pins {layout['pwm']}")

    values = {}
    for channel in (0, 3):
        pin = board.analog[channel]
        pin.register_callback(lambda v, c=channel: values.__setitem__(c, round(v * 1023)))
        pin.enable_reporting()
    wait_for("analog reports of A0 and A3", lambda: 0 in values and 3 in values, 10)
    time.sleep(0.2)
    check(abs(values[0] - 512) <= 8, f"A0 = {values[0]} (2500 mV)")
    check(abs(values[3] - 205) <= 8, f"A3 = {values[3]} (1000 mV)")

    board.digital[13].write(1)
    time.sleep(0.5)
    board.digital[13].write(0)
    time.sleep(0.5)
    check(True, "D13 written high then low")
    board.exit()


if __name__ == "__main__":
    main()
