//! Host-only integration tests of the firmware runtime against the ESP8266 emulator.
