// nanoesp esp-master: Firmata 2.x client for the Nano on the serial link.
//
// Sans-IO: bytes from the Nano go in through feed(), time through poll(now_ms) (a wrapping
// millisecond counter; there is no clock inside), and bytes for the Nano leave through the
// write callback given to the constructor. No heap, no exceptions, no Arduino headers.
//
// Life cycle: poll() starts the handshake (REPORT_VERSION, REPORT_FIRMWARE, the nanoesp
// build-id sysex 0x0E, CAPABILITY_QUERY), then sets SAMPLING_INTERVAL and enables
// REPORT_ANALOG for A0-A7 and REPORT_DIGITAL for every port: ready() turns true. Every query
// has a deadline; a step that times out restarts the handshake after retry_ms. When the Nano
// resets (an unsolicited REPORT_VERSION or REPORT_FIRMWARE arrives while ready) or its reports
// stop for stale_ms, the client drops out of ready and shakes hands again.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "config.h"

namespace nanoesp {

namespace firmata {
constexpr uint8_t kDigitalMessage = 0x90;
constexpr uint8_t kAnalogMessage = 0xE0;
constexpr uint8_t kReportAnalog = 0xC0;
constexpr uint8_t kReportDigital = 0xD0;
constexpr uint8_t kSetPinMode = 0xF4;
constexpr uint8_t kSetDigitalPinValue = 0xF5;
constexpr uint8_t kReportVersion = 0xF9;
constexpr uint8_t kSystemReset = 0xFF;
constexpr uint8_t kStartSysex = 0xF0;
constexpr uint8_t kEndSysex = 0xF7;
// Sysex commands.
constexpr uint8_t kBuildId = 0x0E;  // nanoesp extension: F0 0E F7 -> F0 0E <ASCII> F7
constexpr uint8_t kAnalogMappingQuery = 0x69;
constexpr uint8_t kAnalogMappingResponse = 0x6A;
constexpr uint8_t kCapabilityQuery = 0x6B;
constexpr uint8_t kCapabilityResponse = 0x6C;
constexpr uint8_t kPinStateQuery = 0x6D;
constexpr uint8_t kPinStateResponse = 0x6E;
constexpr uint8_t kStringData = 0x71;
constexpr uint8_t kReportFirmware = 0x79;
constexpr uint8_t kSamplingInterval = 0x7A;
// Pin modes.
constexpr uint8_t kModeInput = 0x00;
constexpr uint8_t kModeOutput = 0x01;
constexpr uint8_t kModeAnalog = 0x02;
constexpr uint8_t kModePwm = 0x03;
constexpr uint8_t kModePullup = 0x0B;

// Encoders: each writes one message into out (which must hold at least kMaxEncoded bytes)
// and returns its length.
constexpr size_t kMaxEncoded = 8;
size_t encode_report_version(uint8_t* out);
size_t encode_sysex(uint8_t* out, uint8_t command);  // F0 <command> F7
size_t encode_sampling_interval(uint8_t* out, uint16_t ms);
size_t encode_report_analog(uint8_t* out, uint8_t channel, bool enable);
size_t encode_report_digital(uint8_t* out, uint8_t port, bool enable);
size_t encode_set_pin_mode(uint8_t* out, uint8_t pin, uint8_t mode);
size_t encode_set_digital_pin_value(uint8_t* out, uint8_t pin, bool high);
size_t encode_pin_state_query(uint8_t* out, uint8_t pin);
}  // namespace firmata

// Bytes for the Nano. Called from feed()/poll()/begin_*(); must not call back into the client.
using WriteFn = void (*)(void* ctx, const uint8_t* data, size_t len);

class FirmataClient {
public:
    static constexpr uint8_t kMaxPins = 32;
    static constexpr uint8_t kAnalogChannels = 8;
    static constexpr uint8_t kMaxQueries = 8;
    static constexpr size_t kSysexMax = 400;
    static constexpr size_t kIdMax = 48;

    enum class Phase : uint8_t {
        Start,           // nothing sent yet (or waiting retry_ms after a failure)
        WaitVersion,     // REPORT_VERSION sent
        WaitFirmware,    // REPORT_FIRMWARE sent
        WaitBuildId,     // build-id sysex sent
        WaitCapability,  // CAPABILITY_QUERY sent
        Ready,
    };

    enum class Result : uint8_t { Pending, Done, Failed, TimedOut };

    FirmataClient(const Config& cfg, WriteFn write, void* ctx);

    void feed(uint8_t byte, uint32_t now_ms);
    void feed(const uint8_t* data, size_t len, uint32_t now_ms);
    void poll(uint32_t now_ms);

    bool ready() const { return phase_ == Phase::Ready; }
    Phase phase() const { return phase_; }
    // Times the client has reached ready (1 after the first handshake, +1 per re-sync).
    uint32_t handshakes() const { return handshakes_; }
    // Handshake steps that timed out and ready periods lost to silence (not pin queries).
    uint32_t timeouts() const { return timeouts_; }
    // Resets seen (unsolicited REPORT_VERSION/REPORT_FIRMWARE while ready).
    uint32_t resets() const { return resets_; }
    // Bytes dropped: stray data bytes, broken or oversize frames.
    uint32_t garbage() const { return garbage_; }

    uint8_t version_major() const { return major_; }
    uint8_t version_minor() const { return minor_; }
    const char* firmware_name() const { return name_; }
    const char* build_id() const { return build_id_; }

    // Pins the capability report listed; a pin with no mode is reserved (link, console).
    uint8_t pin_count() const { return pin_count_; }
    bool pin_reserved(uint8_t pin) const;
    bool pin_can_output(uint8_t pin) const;

    // Latest value of analog channel ch (0..7), 0 if none yet; age_ms = time since it came.
    uint16_t analog(uint8_t ch) const { return ch < kAnalogChannels ? analog_[ch] : 0; }
    bool analog_age(uint8_t ch, uint32_t now_ms, uint32_t* age_ms) const;

    // Pin queries. begin_* returns a ticket (>= 0), or -1 when not ready, the pin is
    // invalid or all kMaxQueries slots are busy. result() reports progress (value set when
    // Done); every ticket must be released once its result is final (or abandoned).
    int begin_read(uint8_t pin, uint32_t now_ms);
    int begin_write(uint8_t pin, bool high, uint32_t now_ms);
    Result result(int ticket, uint8_t* value) const;
    void release(int ticket);

private:
    enum class Wait : uint8_t { Free, PinState, Port, Finished };
    struct Query {
        Wait wait;
        Result result;
        uint8_t pin;
        uint8_t value;
        uint32_t deadline;
    };

    void send(const uint8_t* data, size_t len);
    void start_step(Phase phase, uint32_t now_ms);
    void restart(uint32_t now_ms, bool count_timeout);
    void go_ready(uint32_t now_ms);
    void fail_queries(Result why);
    void dispatch(uint32_t now_ms);
    void dispatch_sysex(uint32_t now_ms);
    void on_version(uint8_t major, uint8_t minor, uint32_t now_ms);
    void on_firmware(uint32_t now_ms);
    void on_capability(uint32_t now_ms);
    void on_pin_state(uint8_t pin, uint8_t mode, uint32_t state);
    void on_port(uint8_t port, uint8_t bits);

    const Config& cfg_;
    WriteFn write_;
    void* ctx_;

    Phase phase_ = Phase::Start;
    bool started_ = false;
    uint32_t deadline_ = 0;  // current handshake step, or retry pause when in Start
    uint32_t last_rx_ = 0;
    uint32_t handshakes_ = 0, timeouts_ = 0, resets_ = 0, garbage_ = 0;

    // Decoder.
    uint8_t status_ = 0;  // pending channel/system message, 0 = none
    uint8_t need_ = 0;
    uint8_t have_ = 0;
    uint8_t data_[2] = {0, 0};
    bool in_sysex_ = false;
    bool sysex_overflow_ = false;
    size_t sysex_len_ = 0;
    uint8_t sysex_[kSysexMax];

    // Nano facts.
    uint8_t major_ = 0, minor_ = 0;
    char name_[kIdMax] = {0};
    char build_id_[kIdMax] = {0};
    uint8_t pin_count_ = 0;
    uint16_t pin_modes_[kMaxPins] = {0};  // bit m set = mode m supported (modes 0..15); 0 = reserved
    uint16_t analog_[kAnalogChannels] = {0};
    uint32_t analog_at_[kAnalogChannels] = {0};
    uint8_t port_bits_[4] = {0};
    uint8_t port_known_ = 0;  // bit p = a DIGITAL_MESSAGE for port p came since ready
    Query queries_[kMaxQueries] = {};
};

}  // namespace nanoesp
