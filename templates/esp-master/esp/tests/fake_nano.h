// nanoesp esp-master unit tests: a scripted Nano speaking Firmata (reply encoders and a
// responder that answers what the client sent).
#pragma once

#include <stdint.h>

#include <string>
#include <vector>

#include "check.h"
#include "nanoesp/firmata_client.h"

using Bytes = std::vector<uint8_t>;

inline Bytes operator+(Bytes a, const Bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

namespace check {
inline std::string show(const Bytes& b) {
    std::string s = "[";
    for (size_t i = 0; i < b.size(); ++i) {
        char t[8];
        snprintf(t, sizeof t, i ? " %02X" : "%02X", b[i]);
        s += t;
    }
    return s + "]";
}
}  // namespace check

namespace nano {

inline Bytes version(uint8_t major = 2, uint8_t minor = 5) { return {0xF9, major, minor}; }

inline Bytes firmware(const std::string& name = "nanoesp-io") {
    Bytes b{0xF0, 0x79, 2, 5};
    for (unsigned char c : name) {
        b.push_back(c & 0x7F);
        b.push_back(c >> 7);
    }
    b.push_back(0xF7);
    return b;
}

inline Bytes build_id(const std::string& id) {
    Bytes b{0xF0, 0x0E};
    for (unsigned char c : id) b.push_back(c & 0x7F);
    b.push_back(0xF7);
    return b;
}

inline bool is_reserved(uint8_t pin) { return pin == 0 || pin == 1 || pin == 8 || pin == 9; }
inline bool is_pwm(uint8_t pin) {
    return pin == 3 || pin == 5 || pin == 6 || pin == 9 || pin == 10 || pin == 11;
}

// The Nano's capability report: 22 pins, D0/D1 (console) and D8/D9 (link) reserved,
// A6/A7 (20, 21) analog only.
inline Bytes capability() {
    Bytes b{0xF0, 0x6C};
    for (uint8_t pin = 0; pin < 22; ++pin) {
        if (!is_reserved(pin)) {
            if (pin < 20) b = b + Bytes{0x00, 1, 0x01, 1, 0x0B, 1};
            if (is_pwm(pin)) b = b + Bytes{0x03, 8};
            if (pin >= 14) b = b + Bytes{0x02, 10};
        }
        b.push_back(0x7F);
    }
    b.push_back(0xF7);
    return b;
}

inline Bytes pin_state(uint8_t pin, uint8_t mode, uint32_t state) {
    Bytes b{0xF0, 0x6E, pin, mode};
    do {
        b.push_back(state & 0x7F);
        state >>= 7;
    } while (state != 0);
    b.push_back(0xF7);
    return b;
}

inline Bytes analog(uint8_t ch, uint16_t v) {
    return {static_cast<uint8_t>(0xE0 | ch), static_cast<uint8_t>(v & 0x7F), static_cast<uint8_t>(v >> 7)};
}

inline Bytes digital(uint8_t port, uint8_t bits) {
    return {static_cast<uint8_t>(0x90 | port), static_cast<uint8_t>(bits & 0x7F),
            static_cast<uint8_t>(bits >> 7)};
}

// A scripted Nano: answers the client's messages like the nanoesp Firmata firmware.
struct Responder {
    std::string id = "0badc0de";
    bool silent = false;        // answers nothing
    bool ignore_pins = false;   // answers the handshake, not pin state queries
    bool ports_on_enable = true;  // REPORT_DIGITAL on sends the port's value at once
    uint8_t mode[22] = {};
    uint8_t value[22] = {};
    uint8_t inputs[3] = {0, 0x20, 0};  // levels of input pins, per port (D13 high)
    uint16_t sampling = 0;
    uint8_t analog_on = 0;
    uint8_t digital_on = 0;
    Bytes pending;  // unparsed client bytes

    Responder() {
        for (uint8_t p = 0; p < 22; ++p) mode[p] = p >= 14 ? 0x02 : 0x01;
    }

    // Consumes what the client sent, returns the reply.
    Bytes answer(const Bytes& sent) {
        pending = pending + sent;
        Bytes out;
        size_t i = 0;
        while (i < pending.size()) {
            uint8_t b = pending[i];
            size_t need = 1;
            if (b == 0xF0) {
                size_t j = i;
                while (j < pending.size() && pending[j] != 0xF7) ++j;
                if (j == pending.size()) break;
                need = j - i + 1;
            } else if (b == 0xF4 || b == 0xF5 || (b & 0xF0) == 0x90) {
                need = 3;
            } else if ((b & 0xF0) == 0xC0 || (b & 0xF0) == 0xD0) {
                need = 2;
            }
            if (i + need > pending.size()) break;
            Bytes m(pending.begin() + static_cast<long>(i), pending.begin() + static_cast<long>(i + need));
            i += need;
            if (!silent) out = out + handle(m);
        }
        pending.erase(pending.begin(), pending.begin() + static_cast<long>(i));
        return out;
    }

    Bytes port_report(uint8_t port) {
        uint8_t bits = 0;
        for (uint8_t k = 0; k < 8; ++k) {
            uint8_t pin = static_cast<uint8_t>(port * 8 + k);
            if (pin < 22 && (mode[pin] == 0 || mode[pin] == 0x0B)) bits |= inputs[port] & (1u << k);
        }
        return digital(port, bits);
    }

    Bytes handle(const Bytes& m) {
        uint8_t b = m[0];
        if (b == 0xF9) return version();
        if (b == 0xF4) {
            if (m[1] < 22 && !is_reserved(m[1])) mode[m[1]] = m[2];
            return {};
        }
        if (b == 0xF5) {
            if (m[1] < 22 && !is_reserved(m[1])) value[m[1]] = m[2];
            return {};
        }
        if ((b & 0xF0) == 0xC0) {
            if (m[1]) analog_on |= 1u << (b & 0x0F);
            return {};
        }
        if ((b & 0xF0) == 0xD0) {
            uint8_t port = b & 0x0F;
            if (m[1]) digital_on |= 1u << port;
            return port < 3 && m[1] && ports_on_enable ? port_report(port) : Bytes{};
        }
        if (b != 0xF0 || m.size() < 3) return {};
        switch (m[1]) {
            case 0x79: return firmware();
            case 0x0E: return build_id(id);
            case 0x6B: return capability();
            case 0x7A: sampling = static_cast<uint16_t>(m[2] | (m[3] << 7)); return {};
            case 0x6D: {
                uint8_t pin = m[2];
                if (ignore_pins || pin >= 22) return {};
                uint8_t st = mode[pin] == 0x01 ? value[pin] : 0;
                return pin_state(pin, mode[pin], st);
            }
            default: return {};
        }
    }
};

}  // namespace nano

// The client's write callback target.
struct Wire {
    Bytes sent;
    static void write(void* ctx, const uint8_t* d, size_t n) {
        static_cast<Wire*>(ctx)->sent.insert(static_cast<Wire*>(ctx)->sent.end(), d, d + n);
    }
    Bytes take() {
        Bytes b;
        b.swap(sent);
        return b;
    }
};
