// nanoesp esp-master unit tests: the HTTP server, every route and error, split input.
#include <string.h>

#include <memory>

#include "check.h"
#include "fake_nano.h"
#include "nanoesp/web.h"

using nanoesp::Config;
using nanoesp::Connection;
using nanoesp::FirmataClient;
using nanoesp::Web;

namespace {

struct Response {
    int code = 0;
    std::string head;
    std::string body;
    std::string raw;
};

Response parse(const std::string& raw) {
    Response r;
    r.raw = raw;
    size_t end = raw.find("\r\n\r\n");
    if (raw.compare(0, 9, "HTTP/1.1 ") != 0 || end == std::string::npos) return r;
    r.code = atoi(raw.c_str() + 9);
    r.head = raw.substr(0, end + 2);
    r.body = raw.substr(end + 4);
    return r;
}

std::string header(const Response& r, const char* name) {
    std::string key = std::string("\r\n") + name + ": ";
    size_t at = r.head.find(key);
    if (at == std::string::npos) return "";
    size_t start = at + key.size();
    return r.head.substr(start, r.head.find("\r\n", start) - start);
}

struct Rig {
    Config cfg;
    Wire wire;
    nano::Responder nano;
    uint32_t now = 5000;
    FirmataClient client{cfg, &Wire::write, &wire};
    std::unique_ptr<Web> web;

    explicit Rig(bool handshake = true) {
        cfg.title = "Lab <1> & \"co\"";
        cfg.text = "Arduino Nano + ESP8266";
        cfg.esp_id = "esp-test";
        cfg.max_clients = 3;
        web.reset(new Web(cfg, client, 1000));
        if (handshake) {
            pump();
            CHECK(client.ready());
        }
    }
    void pump() {
        for (int i = 0; i < 20; ++i) {
            client.poll(now);
            Bytes reply = nano.answer(wire.take());
            if (reply.empty()) break;
            client.feed(reply.data(), reply.size(), now);
        }
    }
    // Runs one request through a connection, split into chunks of `chunk` bytes, with the
    // scripted Nano answering in between; the response is taken a few bytes at a time.
    Response request(const std::string& req, size_t chunk = 1 << 20) {
        Connection c;
        CHECK(c.open(*web, now));
        return run(c, req, chunk);
    }
    Response run(Connection& c, const std::string& req, size_t chunk) {
        for (size_t i = 0; i < req.size(); i += chunk) {
            size_t n = req.size() - i < chunk ? req.size() - i : chunk;
            c.feed(reinterpret_cast<const uint8_t*>(req.data()) + i, n, now);
            c.poll(now);
            pump();
        }
        std::string out;
        for (int spins = 0; spins < 1000 && !c.done(); ++spins) {
            pump();
            c.poll(now);
            size_t n = c.pending() < 7 ? c.pending() : 7;
            out.append(reinterpret_cast<const char*>(c.data()), n);
            c.consume(n);
        }
        CHECK(c.done());
        c.close();
        Response r = parse(out);
        // Every response: Content-Length matches, Connection: close.
        CHECK_EQ(header(r, "Content-Length"), std::to_string(r.body.size()));
        CHECK_EQ(header(r, "Connection"), std::string("close"));
        return r;
    }
};

std::string get(const std::string& path) { return "GET " + path + " HTTP/1.1\r\nHost: nano\r\n\r\n"; }

std::string post(const std::string& path, const std::string& body, const char* method = "POST") {
    return std::string(method) + " " + path + " HTTP/1.1\r\nHost: nano\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\nContent-Type: text/plain\r\n\r\n" + body;
}

}  // namespace

TEST(page_shows_title_and_text_escaped) {
    Rig r;
    Response res = r.request(get("/"));
    CHECK_EQ(res.code, 200);
    CHECK_EQ(header(res, "Content-Type"), std::string("text/html; charset=utf-8"));
    CHECK(res.body.find("<title>Lab &lt;1&gt; &amp; &quot;co&quot;</title>") != std::string::npos);
    CHECK(res.body.find("<p>Arduino Nano + ESP8266</p>") != std::string::npos);
    CHECK(res.body.find("/api/status") != std::string::npos);
    CHECK_EQ(r.request(get("/?x=1")).code, 200);
}

TEST(status_json_exact) {
    Rig r;
    r.now = 6234;
    Bytes reports;
    for (uint8_t ch = 0; ch < 8; ++ch) reports = reports + nano::analog(ch, static_cast<uint16_t>(ch * 100 + 1));
    r.client.feed(reports.data(), reports.size(), r.now);
    Response res = r.request(get("/api/status"));
    CHECK_EQ(res.code, 200);
    CHECK_EQ(header(res, "Content-Type"), std::string("application/json"));
    CHECK_EQ(res.body, std::string("{\"firmware\":\"0badc0de\",\"esp\":\"esp-test\",\"uptime_ms\":5234,"
                                   "\"analog\":[1,101,201,301,401,501,601,701],\"clients\":1,"
                                   "\"served\":0,\"errors\":0}"));
    res = r.request(get("/api/status"));
    CHECK(res.body.find("\"served\":1,\"errors\":0}") != std::string::npos);
    CHECK_EQ(r.web->served(), 2u);
}

TEST(status_counts_open_clients_and_errors) {
    Rig r;
    Connection a, b;
    CHECK(a.open(*r.web, r.now));
    CHECK(b.open(*r.web, r.now));
    CHECK_EQ(r.request(get("/nope")).code, 404);
    Response res = r.request(get("/api/status"));
    CHECK(res.body.find("\"clients\":3,\"served\":1,\"errors\":1}") != std::string::npos);
    a.close();
    b.close();
    CHECK_EQ(r.web->clients(), 0);
}

TEST(status_503_before_handshake_and_after_timeout) {
    Rig r(false);
    r.nano.silent = true;
    Response res = r.request(get("/api/status"));
    CHECK_EQ(res.code, 503);
    CHECK_EQ(res.body, std::string("{\"error\":\"nano not answering\"}"));
    CHECK_EQ(header(res, "Content-Type"), std::string("application/json"));
    CHECK_EQ(r.request(get("/api/pin/13")).code, 503);
    CHECK_EQ(r.request(get("/")).code, 200);  // the page works without the Nano
    CHECK_EQ(r.web->errors(), 2u);
    // The handshake step times out (counted), the retry succeeds.
    r.nano.silent = false;
    r.now += 1000;
    r.client.poll(r.now);
    CHECK_EQ(r.web->errors(), 3u);
    r.now += 500;
    r.pump();
    CHECK_EQ(r.request(get("/api/status")).code, 200);
    // Reports stop: the Nano is lost, /api/status says so and errors counts it.
    r.nano.silent = true;
    r.now += 2001;
    r.client.poll(r.now);
    res = r.request(get("/api/status"));
    CHECK_EQ(res.code, 503);
    CHECK_EQ(r.web->errors(), 5u);
}

TEST(pin_read_and_write) {
    Rig r;
    Response res = r.request(get("/api/pin/13"));
    CHECK_EQ(res.code, 200);
    CHECK_EQ(res.body, std::string("{\"pin\":13,\"value\":0}"));
    res = r.request(post("/api/pin/13", "1"));
    CHECK_EQ(res.code, 200);
    CHECK_EQ(res.body, std::string("{\"pin\":13,\"value\":1}"));
    CHECK_EQ(r.nano.mode[13], 1);
    CHECK_EQ(r.nano.value[13], 1);
    CHECK_EQ(r.request(get("/api/pin/13")).body, std::string("{\"pin\":13,\"value\":1}"));
    res = r.request(post("/api/pin/13", "value=0\r\n", "PUT"));
    CHECK_EQ(res.body, std::string("{\"pin\":13,\"value\":0}"));
    CHECK_EQ(r.nano.value[13], 0);
    res = r.request(post("/api/pin/2", "1\n"));
    CHECK_EQ(res.body, std::string("{\"pin\":2,\"value\":1}"));
    // An analog input reads as its level against half scale.
    Bytes a = nano::analog(6, 900);
    r.client.feed(a.data(), a.size(), r.now);
    CHECK_EQ(r.request(get("/api/pin/20")).body, std::string("{\"pin\":20,\"value\":1}"));
}

TEST(pin_errors) {
    Rig r;
    Response res = r.request(get("/api/pin/8"));
    CHECK_EQ(res.code, 403);
    CHECK_EQ(res.body, std::string("{\"error\":\"reserved pin\"}"));
    CHECK_EQ(r.request(post("/api/pin/9", "1")).code, 403);
    CHECK_EQ(r.request(post("/api/pin/0", "1")).code, 403);
    CHECK_EQ(r.request(post("/api/pin/21", "1")).code, 403);  // A7: analog only
    res = r.request(get("/api/pin/22"));
    CHECK_EQ(res.code, 404);
    CHECK_EQ(res.body, std::string("{\"error\":\"no such pin\"}"));
    CHECK_EQ(r.request(get("/api/pin/999")).code, 404);
    CHECK_EQ(r.request(get("/api/pin/99999")).code, 404);
    CHECK_EQ(r.request(get("/api/pin/x1")).code, 404);
    CHECK_EQ(r.request(get("/api/pin/")).code, 404);
    CHECK_EQ(r.request(post("/api/pin/13", "2")).code, 400);
    CHECK_EQ(r.request(post("/api/pin/13", "")).code, 400);
    CHECK_EQ(r.request(post("/api/pin/13", "on")).code, 400);
    res = r.request("DELETE /api/pin/13 HTTP/1.1\r\n\r\n");
    CHECK_EQ(res.code, 405);
    CHECK_EQ(header(res, "Allow"), std::string("GET, POST, PUT"));
    CHECK_EQ(r.nano.value[13], 0);
}

TEST(pin_timeout_is_504) {
    Rig r;
    r.nano.ignore_pins = true;
    Connection c;
    CHECK(c.open(*r.web, r.now));
    std::string req = get("/api/pin/13");
    c.feed(reinterpret_cast<const uint8_t*>(req.data()), req.size(), r.now);
    CHECK_EQ(c.state(), Connection::State::Waiting);
    r.now += 999;
    r.client.poll(r.now);
    c.poll(r.now);
    CHECK_EQ(c.state(), Connection::State::Waiting);
    r.now += 1;
    r.client.poll(r.now);
    Response res = r.run(c, "", 1);
    CHECK_EQ(res.code, 504);
    CHECK_EQ(res.body, std::string("{\"error\":\"nano timeout\"}"));
}

TEST(routes_404_and_405) {
    Rig r;
    Response res = r.request(get("/favicon.ico"));
    CHECK_EQ(res.code, 404);
    CHECK_EQ(res.body, std::string("{\"error\":\"not found\"}"));
    CHECK_EQ(r.request(get("/api/statusx")).code, 404);
    CHECK_EQ(r.request(get("/api")).code, 404);
    res = r.request(post("/", "x"));
    CHECK_EQ(res.code, 405);
    CHECK_EQ(header(res, "Allow"), std::string("GET"));
    CHECK_EQ(r.request(post("/api/status", "1")).code, 405);
    CHECK_EQ(r.request("HEAD /api/status HTTP/1.0\r\n\r\n").code, 405);
}

TEST(malformed_requests_are_400) {
    Rig r;
    const char* bad[] = {
        "\x01\x02\x03garbage\r\n\r\n",
        "GET\r\n\r\n",
        "GET / FOO/1.1\r\n\r\n",
        "GET / HTTP/2.0\r\n\r\n",
        "get / HTTP/1.1\r\n\r\n",
        "GET nope HTTP/1.1\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nNoColonHere\r\n\r\n",
        "POST /api/pin/13 HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        "POST /api/pin/13 HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n1",
    };
    for (const char* b : bad) {
        std::string req(b);
        Response res = r.request(req);
        CHECK_EQ(res.code, 400);
        if (res.code != 400) fprintf(stderr, "  request %s\n", check::show(req).c_str());
    }
    // Binary noise with no line end at all.
    std::string noise;
    for (int i = 0; i < 600; ++i) noise.push_back(static_cast<char>('A' + i % 26));
    CHECK_EQ(r.request(noise).code, 400);
    CHECK_EQ(r.request(std::string("GET / HTTP/1.1\r\nHost: a") + std::string(1, '\0') + "b\r\n\r\n").code, 400);
}

TEST(long_uri_is_414) {
    Rig r;
    std::string long_path = "/" + std::string(200, 'a');
    CHECK_EQ(r.request(get(long_path)).code, 414);
    std::string huge = "/" + std::string(5000, 'b');
    Response res = r.request(get(huge), 100);
    CHECK_EQ(res.code, 414);
    CHECK_EQ(res.body, std::string("{\"error\":\"uri too long\"}"));
    CHECK_EQ(r.request(get("/" + std::string(127, 'c'))).code, 404);  // 128 is still fine
}

TEST(large_headers_are_431_large_body_413) {
    Rig r;
    std::string req = "GET /api/status HTTP/1.1\r\n";
    for (int i = 0; i < 40; ++i) req += "X-Filler-" + std::to_string(i) + ": " + std::string(60, 'z') + "\r\n";
    req += "\r\n";
    CHECK_EQ(r.request(req, 13).code, 431);
    std::string one = "GET / HTTP/1.1\r\nCookie: " + std::string(4000, 'k') + "\r\n\r\n";
    CHECK_EQ(r.request(one).code, 431);
    // A long header that fits the total is fine (only its start is kept).
    CHECK_EQ(r.request("GET / HTTP/1.1\r\nUser-Agent: " + std::string(500, 'u') + "\r\n\r\n").code, 200);
    CHECK_EQ(r.request(post("/api/pin/13", std::string(33, '1'))).code, 413);
    CHECK_EQ(r.request(post("/api/pin/13", "1" + std::string(31, ' '))).code, 200);
}

TEST(slow_request_is_408) {
    Rig r;
    Connection c;
    CHECK(c.open(*r.web, r.now));
    std::string part = "GET /api/status HTTP/1.1\r\nHo";
    c.feed(reinterpret_cast<const uint8_t*>(part.data()), part.size(), r.now);
    r.now += 9999;
    c.poll(r.now);
    CHECK_EQ(c.state(), Connection::State::Headers);
    r.now += 1;
    r.client.feed(nano::analog(0, 1).data(), 3, r.now);  // keep the Nano alive
    Response res = r.run(c, "", 1);
    CHECK_EQ(res.code, 408);
}

TEST(max_clients_then_503) {
    Rig r;
    Connection c[3];
    for (Connection& x : c) CHECK(x.open(*r.web, r.now));
    CHECK(!r.web->can_accept());
    Connection extra;
    CHECK(!extra.open(*r.web, r.now));
    uint8_t buf[256];
    size_t n = r.web->reject(buf, sizeof buf);
    Response res = parse(std::string(reinterpret_cast<const char*>(buf), n));
    CHECK_EQ(res.code, 503);
    CHECK_EQ(res.body, std::string("{\"error\":\"too many clients\"}"));
    CHECK_EQ(header(res, "Content-Length"), std::to_string(res.body.size()));
    CHECK_EQ(header(res, "Connection"), std::string("close"));
    CHECK_EQ(r.web->served(), 1u);
    CHECK_EQ(r.web->errors(), 1u);
    CHECK_EQ(r.web->reject(buf, 20), 0u);  // too small a buffer: nothing
    c[1].close();
    CHECK(r.web->can_accept());
    Response ok = r.request(get("/api/status"));
    CHECK_EQ(ok.code, 200);
    CHECK(ok.body.find("\"clients\":3,") != std::string::npos);
    c[0].close();
    c[2].close();
}

TEST(every_route_byte_by_byte) {
    Rig r;
    CHECK_EQ(r.request(get("/"), 1).code, 200);
    CHECK_EQ(r.request(get("/api/status"), 1).code, 200);
    CHECK_EQ(r.request(get("/api/status"), 2).code, 200);
    CHECK_EQ(r.request(get("/api/status"), 5).code, 200);
    CHECK_EQ(r.request(post("/api/pin/13", "value=1"), 1).body, std::string("{\"pin\":13,\"value\":1}"));
    CHECK_EQ(r.request(get("/api/pin/13"), 3).body, std::string("{\"pin\":13,\"value\":1}"));
    CHECK_EQ(r.request("GET /api/status HTTP/1.0\n\n", 1).code, 200);  // bare LF
    CHECK_EQ(r.request("\r\n\r\nGET /api/status HTTP/1.1\r\n\r\n", 1).code, 200);  // leading CRLFs
    CHECK_EQ(r.request(get("/nope"), 1).code, 404);
}

TEST(bytes_after_the_request_are_ignored) {
    Rig r;
    Response res = r.request(get("/api/status") + "GET /nope HTTP/1.1\r\n\r\n garbage \x01");
    CHECK_EQ(res.code, 200);
    CHECK_EQ(r.web->errors(), 0u);
}

TEST(connection_reuse_and_release_on_close) {
    Rig r;
    r.nano.ignore_pins = true;
    Connection c;
    CHECK(c.open(*r.web, r.now));
    std::string req = get("/api/pin/13");
    c.feed(reinterpret_cast<const uint8_t*>(req.data()), req.size(), r.now);
    CHECK_EQ(c.state(), Connection::State::Waiting);
    c.close();  // the browser went away: the query slot is freed
    CHECK_EQ(r.web->clients(), 0);
    for (int i = 0; i < FirmataClient::kMaxQueries; ++i) {
        int t = r.client.begin_read(13, r.now);
        CHECK(t >= 0);
    }
    CHECK(c.open(*r.web, r.now));
    CHECK_EQ(c.state(), Connection::State::RequestLine);
    c.close();
}
