// nanoesp esp-master: run-time configuration of the portable ESP8266 code.
//
// The Arduino sketch fills it from the generated nanoesp_config.h, the POSIX host program
// from its command line. Strings are borrowed: they must outlive the objects using them.
#pragma once

#include <stdint.h>

namespace nanoesp {

// Most connections the portable code is ever built for (max_clients is clamped to it).
constexpr uint8_t kMaxClientsLimit = 16;

struct Config {
    const char* title = "nanoesp";                  // page title (HTML-escaped when served)
    const char* text = "Arduino Nano + ESP8266";    // page text (HTML-escaped when served)
    const char* esp_id = "nanoesp-esp";             // "esp" field of /api/status
    uint8_t max_clients = 5;                        // connections served at once; one more gets 503
    uint16_t sampling_ms = 100;                     // Firmata SAMPLING_INTERVAL sent to the Nano
    uint16_t query_timeout_ms = 1000;               // every query to the Nano (handshake, pins)
    uint16_t retry_ms = 500;                        // pause before a failed handshake restarts
    uint16_t stale_ms = 0;                          // no report for this long = Nano lost (0: max(2000, 10 x sampling))
    uint16_t request_timeout_ms = 10000;            // an HTTP request not complete by then gets 408
};

}  // namespace nanoesp
