// nanoesp esp-master: Firmata 2.x client (see firmata_client.h).
#include "firmata_client.h"

namespace nanoesp {

namespace {
// True once now has reached t (wrapping millisecond arithmetic).
bool reached(uint32_t now, uint32_t t) { return static_cast<int32_t>(now - t) >= 0; }
}  // namespace

namespace firmata {

size_t encode_report_version(uint8_t* out) {
    out[0] = kReportVersion;
    return 1;
}

size_t encode_sysex(uint8_t* out, uint8_t command) {
    out[0] = kStartSysex;
    out[1] = command & 0x7F;
    out[2] = kEndSysex;
    return 3;
}

size_t encode_sampling_interval(uint8_t* out, uint16_t ms) {
    out[0] = kStartSysex;
    out[1] = kSamplingInterval;
    out[2] = ms & 0x7F;
    out[3] = (ms >> 7) & 0x7F;
    out[4] = kEndSysex;
    return 5;
}

size_t encode_report_analog(uint8_t* out, uint8_t channel, bool enable) {
    out[0] = kReportAnalog | (channel & 0x0F);
    out[1] = enable ? 1 : 0;
    return 2;
}

size_t encode_report_digital(uint8_t* out, uint8_t port, bool enable) {
    out[0] = kReportDigital | (port & 0x0F);
    out[1] = enable ? 1 : 0;
    return 2;
}

size_t encode_set_pin_mode(uint8_t* out, uint8_t pin, uint8_t mode) {
    out[0] = kSetPinMode;
    out[1] = pin & 0x7F;
    out[2] = mode & 0x7F;
    return 3;
}

size_t encode_set_digital_pin_value(uint8_t* out, uint8_t pin, bool high) {
    out[0] = kSetDigitalPinValue;
    out[1] = pin & 0x7F;
    out[2] = high ? 1 : 0;
    return 3;
}

size_t encode_pin_state_query(uint8_t* out, uint8_t pin) {
    out[0] = kStartSysex;
    out[1] = kPinStateQuery;
    out[2] = pin & 0x7F;
    out[3] = kEndSysex;
    return 4;
}

}  // namespace firmata

using namespace firmata;

FirmataClient::FirmataClient(const Config& cfg, WriteFn write, void* ctx)
    : cfg_(cfg), write_(write), ctx_(ctx) {}

void FirmataClient::send(const uint8_t* data, size_t len) {
    if (write_ != nullptr && len > 0) write_(ctx_, data, len);
}

bool FirmataClient::pin_reserved(uint8_t pin) const {
    return pin < pin_count_ && pin_modes_[pin] == 0;
}

bool FirmataClient::pin_can_output(uint8_t pin) const {
    return pin < pin_count_ && (pin_modes_[pin] & (1u << kModeOutput)) != 0;
}

bool FirmataClient::analog_age(uint8_t ch, uint32_t now_ms, uint32_t* age_ms) const {
    if (ch >= kAnalogChannels || !ready()) return false;
    if (age_ms != nullptr) *age_ms = now_ms - analog_at_[ch];
    return true;
}

// ---- handshake -------------------------------------------------------------------------

void FirmataClient::start_step(Phase phase, uint32_t now_ms) {
    uint8_t buf[kMaxEncoded];
    size_t n = 0;
    switch (phase) {
        case Phase::WaitVersion: n = encode_report_version(buf); break;
        case Phase::WaitFirmware: n = encode_sysex(buf, kReportFirmware); break;
        case Phase::WaitBuildId: n = encode_sysex(buf, kBuildId); break;
        case Phase::WaitCapability: n = encode_sysex(buf, kCapabilityQuery); break;
        default: break;
    }
    phase_ = phase;
    deadline_ = now_ms + cfg_.query_timeout_ms;
    send(buf, n);
}

void FirmataClient::fail_queries(Result why) {
    for (Query& q : queries_) {
        if (q.wait == Wait::PinState || q.wait == Wait::Port) {
            q.wait = Wait::Finished;
            q.result = why;
        }
    }
}

void FirmataClient::restart(uint32_t now_ms, bool count_timeout) {
    if (count_timeout) ++timeouts_;
    fail_queries(Result::Failed);
    phase_ = Phase::Start;
    started_ = true;
    deadline_ = now_ms + (count_timeout ? cfg_.retry_ms : 0);
}

void FirmataClient::go_ready(uint32_t now_ms) {
    uint8_t buf[kMaxEncoded];
    send(buf, encode_sampling_interval(buf, cfg_.sampling_ms));
    for (uint8_t ch = 0; ch < kAnalogChannels; ++ch) send(buf, encode_report_analog(buf, ch, true));
    uint8_t ports = static_cast<uint8_t>((pin_count_ + 7) / 8);
    if (ports > sizeof port_bits_) ports = sizeof port_bits_;
    for (uint8_t p = 0; p < ports; ++p) send(buf, encode_report_digital(buf, p, true));
    port_known_ = 0;
    for (uint8_t ch = 0; ch < kAnalogChannels; ++ch) analog_at_[ch] = now_ms;
    last_rx_ = now_ms;
    phase_ = Phase::Ready;
    ++handshakes_;
}

void FirmataClient::poll(uint32_t now_ms) {
    switch (phase_) {
        case Phase::Start:
            if (!started_ || reached(now_ms, deadline_)) {
                started_ = true;
                start_step(Phase::WaitVersion, now_ms);
            }
            break;
        case Phase::Ready: {
            uint32_t stale = cfg_.stale_ms;
            if (stale == 0) {
                stale = 10u * cfg_.sampling_ms;
                if (stale < 2000) stale = 2000;
            }
            if (now_ms - last_rx_ > stale) restart(now_ms, true);
            break;
        }
        default:
            if (reached(now_ms, deadline_)) restart(now_ms, true);
            break;
    }
    for (Query& q : queries_) {
        if ((q.wait == Wait::PinState || q.wait == Wait::Port) && reached(now_ms, q.deadline)) {
            q.wait = Wait::Finished;
            q.result = Result::TimedOut;
        }
    }
}

// ---- decoder ---------------------------------------------------------------------------

void FirmataClient::feed(const uint8_t* data, size_t len, uint32_t now_ms) {
    for (size_t i = 0; i < len; ++i) feed(data[i], now_ms);
}

void FirmataClient::feed(uint8_t b, uint32_t now_ms) {
    if (b & 0x80) {
        if (in_sysex_) {
            if (b == kEndSysex) {
                in_sysex_ = false;
                if (sysex_overflow_ || sysex_len_ == 0) {
                    garbage_ += static_cast<uint32_t>(sysex_len_) + 2;
                } else {
                    dispatch_sysex(now_ms);
                }
                return;
            }
            // A status byte inside a sysex: the frame is broken; resync on this byte.
            in_sysex_ = false;
            garbage_ += static_cast<uint32_t>(sysex_len_) + 1;
        } else if (status_ != 0 && have_ < need_) {
            garbage_ += have_ + 1u;  // truncated message
        }
        status_ = 0;
        have_ = 0;
        need_ = 0;
        if (b == kStartSysex) {
            in_sysex_ = true;
            sysex_overflow_ = false;
            sysex_len_ = 0;
            return;
        }
        if (b == kEndSysex) {
            ++garbage_;
            return;
        }
        uint8_t hi = b & 0xF0;
        if (hi == kDigitalMessage || hi == kAnalogMessage || b == kReportVersion ||
            b == kSetPinMode || b == kSetDigitalPinValue) {
            need_ = 2;
        } else if (hi == kReportAnalog || hi == kReportDigital) {
            need_ = 1;
        } else if (b == kSystemReset) {
            return;  // a command for servers; nothing to do
        } else {
            ++garbage_;  // unknown status: skip its data bytes as strays
            return;
        }
        status_ = b;
        return;
    }
    // Data byte.
    if (in_sysex_) {
        if (sysex_len_ < kSysexMax) {
            sysex_[sysex_len_] = b;
        } else {
            sysex_overflow_ = true;
        }
        ++sysex_len_;
        return;
    }
    if (status_ == 0 || have_ >= need_) {
        ++garbage_;
        return;
    }
    data_[have_++] = b;
    if (have_ == need_) {
        dispatch(now_ms);
        status_ = 0;  // no running status: stray data bytes after this are garbage
        have_ = 0;
        need_ = 0;
    }
}

void FirmataClient::dispatch(uint32_t now_ms) {
    uint8_t hi = status_ & 0xF0;
    if (hi == kAnalogMessage) {
        uint8_t ch = status_ & 0x0F;
        if (ch < kAnalogChannels) {
            analog_[ch] = static_cast<uint16_t>(data_[0] | (data_[1] << 7));
            analog_at_[ch] = now_ms;
        }
        last_rx_ = now_ms;
    } else if (hi == kDigitalMessage) {
        on_port(status_ & 0x0F, static_cast<uint8_t>(data_[0] | (data_[1] << 7)));
        last_rx_ = now_ms;
    } else if (status_ == kReportVersion) {
        on_version(data_[0], data_[1], now_ms);
    }
    // SET_PIN_MODE and friends from the other side are ignored.
}

void FirmataClient::dispatch_sysex(uint32_t now_ms) {
    const uint8_t cmd = sysex_[0];
    const uint8_t* d = sysex_ + 1;
    const size_t n = sysex_len_ - 1;
    if (cmd == kReportFirmware) {
        if (n < 2) {
            garbage_ += static_cast<uint32_t>(sysex_len_);
            return;
        }
        major_ = d[0];
        minor_ = d[1];
        size_t k = 0;
        for (size_t i = 2; i + 1 < n && k + 1 < kIdMax; i += 2) {
            name_[k++] = static_cast<char>(d[i] | ((d[i + 1] & 1) << 7));
        }
        name_[k] = 0;
        on_firmware(now_ms);
    } else if (cmd == kBuildId) {
        size_t k = 0;
        for (size_t i = 0; i < n && k + 1 < kIdMax; ++i) {
            if (d[i] >= 0x20) build_id_[k++] = static_cast<char>(d[i]);
        }
        build_id_[k] = 0;
        last_rx_ = now_ms;
        if (phase_ == Phase::WaitBuildId) start_step(Phase::WaitCapability, now_ms);
    } else if (cmd == kCapabilityResponse) {
        if (phase_ != Phase::WaitCapability) return;  // late answer to an old query
        uint8_t pin = 0;
        uint16_t modes = 0;
        for (size_t i = 0; i < n;) {
            if (d[i] == 0x7F) {
                if (pin < kMaxPins) pin_modes_[pin] = modes;
                ++pin;
                modes = 0;
                ++i;
            } else if (i + 1 < n) {
                if (d[i] < 16) modes = static_cast<uint16_t>(modes | (1u << d[i]));
                i += 2;
            } else {
                break;  // odd byte at the end: ignore it
            }
        }
        pin_count_ = pin < kMaxPins ? pin : kMaxPins;
        on_capability(now_ms);
    } else if (cmd == kPinStateResponse) {
        if (n < 2) {
            garbage_ += static_cast<uint32_t>(sysex_len_);
            return;
        }
        uint32_t state = 0;
        for (size_t i = 2; i < n && i < 6; ++i) state |= static_cast<uint32_t>(d[i]) << (7 * (i - 2));
        last_rx_ = now_ms;
        on_pin_state(d[0], d[1], state);
    } else {
        // STRING_DATA, ANALOG_MAPPING_RESPONSE and unknown sysex: nothing to do, but the
        // Nano is alive.
        last_rx_ = now_ms;
    }
}

void FirmataClient::on_version(uint8_t major, uint8_t minor, uint32_t now_ms) {
    major_ = major;
    minor_ = minor;
    last_rx_ = now_ms;
    if (phase_ == Phase::WaitVersion) {
        start_step(Phase::WaitFirmware, now_ms);
    } else if (phase_ == Phase::Ready) {
        ++resets_;  // unsolicited: the Nano has just started
        restart(now_ms, false);
        poll(now_ms);
    }
}

void FirmataClient::on_firmware(uint32_t now_ms) {
    last_rx_ = now_ms;
    if (phase_ == Phase::WaitFirmware) {
        start_step(Phase::WaitBuildId, now_ms);
    } else if (phase_ == Phase::Ready) {
        ++resets_;
        restart(now_ms, false);
        poll(now_ms);
    }
}

void FirmataClient::on_capability(uint32_t now_ms) {
    if (pin_count_ == 0) {
        restart(now_ms, true);
        return;
    }
    go_ready(now_ms);
}

void FirmataClient::on_pin_state(uint8_t pin, uint8_t mode, uint32_t state) {
    for (Query& q : queries_) {
        if (q.wait != Wait::PinState || q.pin != pin) continue;
        if (mode == kModeInput || mode == kModePullup) {
            const uint8_t port = pin / 8;
            if (port < sizeof port_bits_ && (port_known_ & (1u << port))) {
                q.value = (port_bits_[port] >> (pin % 8)) & 1;
                q.wait = Wait::Finished;
                q.result = Result::Done;
            } else {
                // Ask for the port report (a Firmata server answers at once).
                q.wait = Wait::Port;
                uint8_t buf[kMaxEncoded];
                send(buf, encode_report_digital(buf, port, true));
            }
        } else if (mode == kModeAnalog) {
            // The digital reading of an analog input: its channel is its rank among the
            // analog-capable pins (A0.. on the Nano).
            uint8_t ch = 0;
            for (uint8_t p = 0; p < pin && p < pin_count_; ++p) {
                if (pin_modes_[p] & (1u << kModeAnalog)) ++ch;
            }
            q.value = analog(ch) >= 512 ? 1 : 0;
            q.wait = Wait::Finished;
            q.result = Result::Done;
        } else {
            q.value = state != 0 ? 1 : 0;  // OUTPUT, PWM and others: the last value written
            q.wait = Wait::Finished;
            q.result = Result::Done;
        }
    }
}

void FirmataClient::on_port(uint8_t port, uint8_t bits) {
    if (port >= sizeof port_bits_) return;
    port_bits_[port] = bits;
    port_known_ = static_cast<uint8_t>(port_known_ | (1u << port));
    for (Query& q : queries_) {
        if (q.wait != Wait::Port || q.pin / 8 != port) continue;
        q.value = (bits >> (q.pin % 8)) & 1;
        q.wait = Wait::Finished;
        q.result = Result::Done;
    }
}

// ---- pin queries -----------------------------------------------------------------------

int FirmataClient::begin_read(uint8_t pin, uint32_t now_ms) {
    if (!ready() || pin >= pin_count_ || pin_reserved(pin)) return -1;
    for (int i = 0; i < kMaxQueries; ++i) {
        Query& q = queries_[i];
        if (q.wait != Wait::Free) continue;
        q = Query{Wait::PinState, Result::Pending, pin, 0, now_ms + cfg_.query_timeout_ms};
        uint8_t buf[kMaxEncoded];
        send(buf, encode_pin_state_query(buf, pin));
        return i;
    }
    return -1;
}

int FirmataClient::begin_write(uint8_t pin, bool high, uint32_t now_ms) {
    if (!ready() || !pin_can_output(pin)) return -1;
    for (int i = 0; i < kMaxQueries; ++i) {
        if (queries_[i].wait != Wait::Free) continue;
        uint8_t buf[kMaxEncoded];
        send(buf, encode_set_pin_mode(buf, pin, kModeOutput));
        send(buf, encode_set_digital_pin_value(buf, pin, high));
        // The pin state answer confirms the write and ends the query.
        queries_[i] = Query{Wait::PinState, Result::Pending, pin, 0, now_ms + cfg_.query_timeout_ms};
        send(buf, encode_pin_state_query(buf, pin));
        return i;
    }
    return -1;
}

FirmataClient::Result FirmataClient::result(int ticket, uint8_t* value) const {
    if (ticket < 0 || ticket >= kMaxQueries) return Result::Failed;
    const Query& q = queries_[ticket];
    if (q.wait == Wait::Free) return Result::Failed;
    if (q.wait != Wait::Finished) return Result::Pending;
    if (q.result == Result::Done && value != nullptr) *value = q.value;
    return q.result;
}

void FirmataClient::release(int ticket) {
    if (ticket >= 0 && ticket < kMaxQueries) queries_[ticket].wait = Wait::Free;
}

}  // namespace nanoesp
