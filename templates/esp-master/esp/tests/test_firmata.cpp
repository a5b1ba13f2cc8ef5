// nanoesp esp-master unit tests: the Firmata client against scripted Nano bytes.
#include "check.h"
#include "fake_nano.h"
#include "nanoesp/firmata_client.h"

using nanoesp::Config;
using nanoesp::FirmataClient;
using Phase = FirmataClient::Phase;
using Result = FirmataClient::Result;

namespace {

struct Rig {
    Config cfg;
    Wire wire;
    FirmataClient client{cfg, &Wire::write, &wire};
    nano::Responder nano;
    uint32_t now = 1000;

    void feed(const Bytes& b) { client.feed(b.data(), b.size(), now); }
    // Lets the scripted Nano answer until nothing moves.
    void pump() {
        for (int i = 0; i < 20; ++i) {
            client.poll(now);
            Bytes reply = nano.answer(wire.take());
            if (reply.empty()) break;
            feed(reply);
        }
    }
    void ready() {
        pump();
        CHECK(client.ready());
    }
    void advance(uint32_t ms) {
        now += ms;
        client.poll(now);
    }
};

}  // namespace

TEST(handshake_step_by_step) {
    Rig r;
    CHECK_EQ(r.client.phase(), Phase::Start);
    r.client.poll(r.now);
    CHECK_EQ(r.wire.take(), (Bytes{0xF9}));
    CHECK_EQ(r.client.phase(), Phase::WaitVersion);
    r.feed(nano::version(2, 5));
    CHECK_EQ(r.wire.take(), (Bytes{0xF0, 0x79, 0xF7}));
    r.feed(nano::firmware());
    CHECK_EQ(r.wire.take(), (Bytes{0xF0, 0x0E, 0xF7}));
    r.feed(nano::build_id("0badc0de"));
    CHECK_EQ(r.wire.take(), (Bytes{0xF0, 0x6B, 0xF7}));
    CHECK(!r.client.ready());
    r.feed(nano::capability());
    CHECK(r.client.ready());
    Bytes expect{0xF0, 0x7A, 100, 0, 0xF7};
    for (uint8_t ch = 0; ch < 8; ++ch) expect = expect + Bytes{static_cast<uint8_t>(0xC0 | ch), 1};
    expect = expect + Bytes{0xD0, 1, 0xD1, 1, 0xD2, 1};
    CHECK_EQ(r.wire.take(), expect);
    CHECK_EQ(std::string(r.client.firmware_name()), std::string("nanoesp-io"));
    CHECK_EQ(std::string(r.client.build_id()), std::string("0badc0de"));
    CHECK_EQ(r.client.version_major(), 2);
    CHECK_EQ(r.client.version_minor(), 5);
    CHECK_EQ(r.client.pin_count(), 22);
    CHECK(r.client.pin_reserved(8));
    CHECK(r.client.pin_reserved(9));
    CHECK(!r.client.pin_reserved(13));
    CHECK(r.client.pin_can_output(13));
    CHECK(!r.client.pin_can_output(20));
    CHECK(!r.client.pin_can_output(8));
    CHECK_EQ(r.client.handshakes(), 1u);
    CHECK_EQ(r.client.garbage(), 0u);
}

TEST(handshake_byte_by_byte_with_sampling_interval) {
    Rig r;
    r.cfg.sampling_ms = 300;  // two 7-bit bytes
    for (int i = 0; i < 10 && !r.client.ready(); ++i) {
        r.client.poll(r.now);
        for (uint8_t b : r.nano.answer(r.wire.take())) r.client.feed(b, r.now);
    }
    CHECK(r.client.ready());
    r.nano.answer(r.wire.take());
    CHECK_EQ(r.nano.sampling, 300);
    CHECK_EQ(r.nano.analog_on, 0xFF);
    CHECK_EQ(r.nano.digital_on, 0x07);
}

TEST(analog_reports_update_values_and_age) {
    Rig r;
    r.ready();
    r.feed(nano::analog(0, 1023) + nano::analog(7, 512) + nano::analog(3, 0));
    CHECK_EQ(r.client.analog(0), 1023);
    CHECK_EQ(r.client.analog(7), 512);
    CHECK_EQ(r.client.analog(3), 0);
    r.now += 250;
    r.feed(nano::analog(0, 17));
    CHECK_EQ(r.client.analog(0), 17);
    uint32_t age = 99;
    CHECK(r.client.analog_age(0, r.now + 5, &age));
    CHECK_EQ(age, 5u);
    CHECK(r.client.analog_age(7, r.now, &age));
    CHECK_EQ(age, 250u);
    CHECK(!r.client.analog_age(8, r.now, &age));
}

TEST(handshake_timeout_retries) {
    Rig r;
    r.nano.silent = true;
    r.client.poll(r.now);
    CHECK_EQ(r.wire.take(), (Bytes{0xF9}));
    r.advance(999);
    CHECK_EQ(r.client.timeouts(), 0u);
    r.advance(1);
    CHECK_EQ(r.client.timeouts(), 1u);
    CHECK_EQ(r.client.phase(), Phase::Start);
    r.advance(499);
    CHECK(r.wire.take().empty());
    r.advance(1);
    CHECK_EQ(r.wire.take(), (Bytes{0xF9}));
    // A later step timing out starts over from REPORT_VERSION.
    r.feed(nano::version());
    CHECK_EQ(r.wire.take(), (Bytes{0xF0, 0x79, 0xF7}));
    r.advance(1000);
    CHECK_EQ(r.client.timeouts(), 2u);
    r.advance(500);
    CHECK_EQ(r.wire.take(), (Bytes{0xF9}));
    r.nano.silent = false;
    r.wire.sent = {0xF9};
    r.pump();
    CHECK(r.client.ready());
}

TEST(garbage_and_stray_bytes_are_skipped) {
    Rig r;
    r.client.poll(r.now);
    r.wire.take();
    r.feed(Bytes{0x01, 0x02, 0x7F, 0xF7, 0x33});  // stray data and a lone END_SYSEX
    r.feed(Bytes{0xE1, 0x05});                      // truncated analog message ...
    r.feed(nano::version());                        // ... cut by a real one
    CHECK_EQ(r.client.phase(), Phase::WaitFirmware);
    CHECK(r.client.garbage() >= 6u);
    // A sysex broken by a status byte: dropped, the next message still decodes.
    r.feed(Bytes{0xF0, 0x79, 0x02});
    r.feed(nano::firmware());
    CHECK_EQ(r.client.phase(), Phase::WaitBuildId);
}

TEST(oversize_sysex_is_dropped_then_resync) {
    Rig r;
    r.ready();
    uint32_t g = r.client.garbage();
    Bytes big{0xF0, 0x71};
    for (int i = 0; i < 2000; ++i) big.push_back(0x41);
    big.push_back(0xF7);
    r.feed(big);
    CHECK(r.client.garbage() >= g + 2000u);
    CHECK(r.client.ready());
    r.feed(nano::analog(2, 700));
    CHECK_EQ(r.client.analog(2), 700);
    // An oversize capability report during a handshake is ignored; the step times out.
    Rig s;
    s.client.poll(s.now);
    s.feed(nano::version() + nano::firmware() + nano::build_id("x"));
    CHECK_EQ(s.client.phase(), Phase::WaitCapability);
    s.feed(big);
    CHECK_EQ(s.client.phase(), Phase::WaitCapability);
    s.advance(1000);
    CHECK_EQ(s.client.phase(), Phase::Start);
}

TEST(nano_reset_triggers_new_handshake) {
    Rig r;
    r.ready();
    r.wire.take();
    r.feed(nano::analog(0, 100));
    r.feed(nano::version());  // unsolicited: the Nano rebooted
    CHECK(!r.client.ready());
    CHECK_EQ(r.client.resets(), 1u);
    CHECK_EQ(r.wire.take(), (Bytes{0xF9}));
    r.feed(nano::firmware());  // its second boot message while we wait: ignored
    CHECK_EQ(r.client.phase(), Phase::WaitVersion);
    r.nano.id = "cafef00d";
    r.wire.sent = {0xF9};
    r.pump();
    CHECK(r.client.ready());
    CHECK_EQ(r.client.handshakes(), 2u);
    CHECK_EQ(std::string(r.client.build_id()), std::string("cafef00d"));
    // A lone unsolicited REPORT_FIRMWARE is a reset too.
    r.feed(nano::firmware());
    CHECK(!r.client.ready());
    CHECK_EQ(r.client.resets(), 2u);
}

TEST(silent_nano_is_lost_then_found_again) {
    Rig r;
    r.ready();
    for (int i = 0; i < 10; ++i) {
        r.advance(100);
        r.feed(nano::analog(0, static_cast<uint16_t>(i)));
    }
    CHECK(r.client.ready());
    r.advance(2000);
    CHECK(r.client.ready());
    r.advance(1);
    CHECK(!r.client.ready());
    CHECK_EQ(r.client.timeouts(), 1u);
    r.advance(500);
    r.pump();
    CHECK(r.client.ready());
    CHECK_EQ(r.client.handshakes(), 2u);
}

TEST(pin_read_output_and_write) {
    Rig r;
    r.ready();
    r.wire.take();
    int t = r.client.begin_write(13, true, r.now);
    CHECK(t >= 0);
    CHECK_EQ(r.wire.sent, (Bytes{0xF4, 13, 1, 0xF5, 13, 1, 0xF0, 0x6D, 13, 0xF7}));
    uint8_t v = 9;
    CHECK_EQ(r.client.result(t, &v), Result::Pending);
    r.pump();
    CHECK_EQ(r.client.result(t, &v), Result::Done);
    CHECK_EQ(v, 1);
    r.client.release(t);
    t = r.client.begin_read(13, r.now);
    CHECK_EQ(r.wire.sent, (Bytes{0xF0, 0x6D, 13, 0xF7}));
    r.pump();
    CHECK_EQ(r.client.result(t, &v), Result::Done);
    CHECK_EQ(v, 1);
    r.client.release(t);
    t = r.client.begin_write(13, false, r.now);
    r.pump();
    CHECK_EQ(r.client.result(t, &v), Result::Done);
    CHECK_EQ(v, 0);
    r.client.release(t);
}

TEST(pin_read_input_uses_port_report) {
    Rig r;
    r.nano.mode[12] = 0x00;  // D12 input, low
    r.nano.mode[13] = 0x0B;  // D13 pull-up, high
    r.nano.inputs[1] = 0x20;
    r.ready();
    // The handshake enabled the port reports; the responder sent each port's value.
    uint8_t v = 7;
    int t = r.client.begin_read(13, r.now);
    r.pump();
    CHECK_EQ(r.client.result(t, &v), Result::Done);
    CHECK_EQ(v, 1);
    r.client.release(t);
    t = r.client.begin_read(12, r.now);
    r.pump();
    CHECK_EQ(r.client.result(t, &v), Result::Done);
    CHECK_EQ(v, 0);
    r.client.release(t);
    // A port change report updates the cached value.
    r.feed(nano::digital(1, 0x10));
    t = r.client.begin_read(12, r.now);
    r.pump();
    CHECK_EQ(r.client.result(t, &v), Result::Done);
    CHECK_EQ(v, 1);
    r.client.release(t);
}

TEST(pin_read_input_without_report_asks_for_port) {
    Rig r;
    r.nano.ports_on_enable = false;
    r.ready();
    r.wire.take();
    int t = r.client.begin_read(4, r.now);
    r.wire.take();
    r.feed(nano::pin_state(4, 0x00, 0));  // input, port 0 never reported
    CHECK_EQ(r.wire.take(), (Bytes{0xD0, 1}));
    uint8_t v = 0;
    CHECK_EQ(r.client.result(t, &v), Result::Pending);
    r.feed(nano::digital(0, 0x10));
    CHECK_EQ(r.client.result(t, &v), Result::Done);
    CHECK_EQ(v, 1);
    r.client.release(t);
}

TEST(pin_query_times_out) {
    Rig r;
    r.ready();
    r.nano.ignore_pins = true;
    int t = r.client.begin_read(13, r.now);
    r.pump();
    r.advance(999);
    CHECK_EQ(r.client.result(t, nullptr), Result::Pending);
    r.advance(1);
    CHECK_EQ(r.client.result(t, nullptr), Result::TimedOut);
    r.client.release(t);
    CHECK_EQ(r.client.result(t, nullptr), Result::Failed);
}

TEST(pin_queries_refused_when_invalid_or_busy) {
    Rig r;
    CHECK_EQ(r.client.begin_read(13, r.now), -1);  // not ready
    r.ready();
    CHECK_EQ(r.client.begin_read(8, r.now), -1);   // reserved
    CHECK_EQ(r.client.begin_read(22, r.now), -1);  // no such pin
    CHECK_EQ(r.client.begin_write(20, true, r.now), -1);  // A6: analog only
    r.nano.ignore_pins = true;
    for (int i = 0; i < FirmataClient::kMaxQueries; ++i) CHECK(r.client.begin_read(13, r.now) >= 0);
    CHECK_EQ(r.client.begin_read(13, r.now), -1);
    // A reset fails the queries in flight.
    r.feed(nano::version());
    CHECK_EQ(r.client.result(0, nullptr), Result::Failed);
}

TEST(encoders) {
    uint8_t b[nanoesp::firmata::kMaxEncoded];
    using namespace nanoesp::firmata;
    CHECK_EQ(Bytes(b, b + encode_sampling_interval(b, 1000)), (Bytes{0xF0, 0x7A, 0x68, 0x07, 0xF7}));
    CHECK_EQ(Bytes(b, b + encode_report_analog(b, 5, false)), (Bytes{0xC5, 0}));
    CHECK_EQ(Bytes(b, b + encode_report_digital(b, 2, true)), (Bytes{0xD2, 1}));
    CHECK_EQ(Bytes(b, b + encode_set_pin_mode(b, 21, kModeInput)), (Bytes{0xF4, 21, 0}));
    CHECK_EQ(Bytes(b, b + encode_set_digital_pin_value(b, 7, true)), (Bytes{0xF5, 7, 1}));
    CHECK_EQ(Bytes(b, b + encode_pin_state_query(b, 13)), (Bytes{0xF0, 0x6D, 13, 0xF7}));
}
