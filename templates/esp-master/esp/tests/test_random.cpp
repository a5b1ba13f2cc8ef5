// nanoesp esp-master unit tests: seeded random input against both state machines. Run
// under the sanitizers too (see firmware/esp-host-tests).
#include <string.h>

#include "check.h"
#include "fake_nano.h"
#include "nanoesp/web.h"

using nanoesp::Config;
using nanoesp::Connection;
using nanoesp::FirmataClient;
using nanoesp::Web;

namespace {

struct Rng {
    uint32_t s;
    uint32_t next() {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        return s;
    }
    uint32_t below(uint32_t n) { return next() % n; }
};

}  // namespace

TEST(random_link_bytes_never_break_the_client) {
    for (uint32_t seed = 1; seed <= 40; ++seed) {
        Rng rng{seed * 2654435761u};
        Config cfg;
        Wire wire;
        FirmataClient client(cfg, &Wire::write, &wire);
        uint32_t now = 0;
        // Noise biased towards Firmata's command bytes, with time passing.
        static const uint8_t hot[] = {0xF0, 0xF7, 0xF9, 0x79, 0x0E, 0x6C, 0x6E, 0xE0, 0x90, 0x7F};
        for (int i = 0; i < 4000; ++i) {
            uint8_t b = rng.below(3) == 0 ? hot[rng.below(sizeof hot)] : static_cast<uint8_t>(rng.next());
            client.feed(b, now);
            if (rng.below(16) == 0) {
                now += rng.below(300);
                client.poll(now);
                int t = client.begin_read(static_cast<uint8_t>(rng.below(24)), now);
                if (t >= 0 && rng.below(2) == 0) client.release(t);
            }
            wire.take();
        }
        for (int t = 0; t < FirmataClient::kMaxQueries; ++t) client.release(t);
        CHECK(client.pin_count() <= FirmataClient::kMaxPins);
        CHECK(strlen(client.build_id()) < FirmataClient::kIdMax);
        CHECK(strlen(client.firmware_name()) < FirmataClient::kIdMax);
        // A real Nano still gets through afterwards.
        nano::Responder nano;
        client.feed(0xF7, now);  // close any sysex the noise left open
        now += 5000;
        for (int i = 0; i < 40 && !client.ready(); ++i) {
            now += 600;
            client.poll(now);
            Bytes reply = nano.answer(wire.take());
            client.feed(reply.data(), reply.size(), now);
        }
        CHECK(client.ready());
        CHECK_EQ(std::string(client.build_id()), std::string("0badc0de"));
    }
}

TEST(random_requests_always_get_one_well_formed_answer) {
    Config cfg;
    Wire wire;
    FirmataClient client(cfg, &Wire::write, &wire);
    nano::Responder nano;
    uint32_t now = 100;
    for (int i = 0; i < 20 && !client.ready(); ++i) {
        client.poll(now);
        Bytes reply = nano.answer(wire.take());
        client.feed(reply.data(), reply.size(), now);
    }
    CHECK(client.ready());
    Web web(cfg, client, 0);
    static const char* pieces[] = {"GET ", "POST ", "PUT ", "/", "/api/status", "/api/pin/", "13", "8",
                                   " HTTP/1.1", " HTTP/1.0", "\r\n", "\n", "Content-Length: ", "1",
                                   "Host: x", ":", " ", "\x01", "\xff", "value=1", "0", "?a=b"};
    for (uint32_t seed = 1; seed <= 3000; ++seed) {
        Rng rng{seed * 40503u + 7};
        std::string req;
        int n = static_cast<int>(rng.below(24));
        for (int k = 0; k < n; ++k) req += pieces[rng.below(sizeof pieces / sizeof pieces[0])];
        if (rng.below(2)) req += "\r\n\r\n";
        static Connection c;
        CHECK(c.open(web, now));
        for (size_t i = 0; i < req.size();) {
            size_t chunk = 1 + rng.below(9);
            if (chunk > req.size() - i) chunk = req.size() - i;
            c.feed(reinterpret_cast<const uint8_t*>(req.data()) + i, chunk, now);
            i += chunk;
        }
        // Incomplete requests end in 408; pin queries get their answer from the Nano.
        std::string out;
        for (int spin = 0; spin < 50 && !c.done(); ++spin) {
            client.poll(now);
            Bytes reply = nano.answer(wire.take());
            client.feed(reply.data(), reply.size(), now);
            c.poll(now);
            out.append(reinterpret_cast<const char*>(c.data()), c.pending());
            c.consume(c.pending());
            if (!c.done() && c.state() != Connection::State::Waiting) now += 5000;
        }
        CHECK(c.done());
        CHECK(out.compare(0, 9, "HTTP/1.1 ") == 0);
        size_t end = out.find("\r\n\r\n");
        CHECK(end != std::string::npos);
        if (end != std::string::npos) {
            size_t at = out.find("Content-Length: ");
            CHECK(at != std::string::npos && at < end);
            CHECK_EQ(static_cast<size_t>(atoi(out.c_str() + at + 16)), out.size() - end - 4);
            CHECK(out.find("Connection: close\r\n") < end);
        }
        c.close();
        // Keep the Nano fresh while time jumps.
        Bytes a = nano::analog(0, 1);
        client.feed(a.data(), a.size(), now);
        if (check::failures() > 0) {
            fprintf(stderr, "  request %s\n", check::show(req).c_str());
            return;
        }
    }
    CHECK_EQ(web.clients(), 0);
}
