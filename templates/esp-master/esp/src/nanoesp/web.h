// nanoesp esp-master: the HTTP/1.1 server, sans-IO.
//
// One Connection object per open socket consumes request bytes (feed), advances with time
// (poll) and hands out response bytes (data/pending/consume); the Arduino layer and the
// POSIX host layer only move bytes. Buffers are fixed: no heap, no exceptions.
//
// Routes: GET / (page with live readings), GET /api/status, GET /api/pin/<n>,
// POST|PUT /api/pin/<n> with body 0, 1, value=0 or value=1. Errors: 400 malformed request,
// 403 reserved or not writable pin, 404 no such route or pin, 405 method, 408 request too slow,
// 413 body too large, 414 URI too long, 431 headers too large, 503 Nano not answering or too
// many clients, 504 Nano query timed out; error bodies are JSON {"error":"..."}. Every
// response carries Content-Length and Connection: close; the socket is closed after it.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "firmata_client.h"

namespace nanoesp {

class Connection;

class Web {
public:
    Web(const Config& cfg, FirmataClient& nano, uint32_t start_ms);

    // Connections that may be open at once (config max_clients, 1..kMaxClientsLimit).
    uint8_t max_clients() const { return max_clients_; }
    // Connections open now.
    uint8_t clients() const { return clients_; }
    bool can_accept() const { return clients_ < max_clients_; }
    // Responses handed out completely.
    uint32_t served() const { return served_; }
    // Error responses (4xx/5xx) plus Nano handshake timeouts and lost reports.
    uint32_t errors() const { return errors_ + nano_.timeouts(); }

    // A connection beyond max_clients: renders the 503 answer into buf (needs about 200
    // bytes) and counts it; send it and close. Returns the length (0 if buf is too small).
    size_t reject(uint8_t* buf, size_t cap);

    const Config& config() const { return cfg_; }
    FirmataClient& nano() { return nano_; }
    uint32_t uptime_ms(uint32_t now_ms) const { return now_ms - start_ms_; }

private:
    friend class Connection;
    const Config& cfg_;
    FirmataClient& nano_;
    uint32_t start_ms_;
    uint8_t max_clients_;
    uint8_t clients_ = 0;
    uint32_t served_ = 0;
    uint32_t errors_ = 0;
};

class Connection {
public:
    static constexpr size_t kLineMax = 256;        // request line
    static constexpr size_t kUriMax = 128;         // longer targets get 414
    static constexpr size_t kHeaderLineMax = 96;   // kept of each header line
    static constexpr size_t kHeadersMax = 2048;    // all header bytes; more gets 431
    static constexpr size_t kBodyMax = 32;         // more gets 413
    static constexpr size_t kOutMax = 3072;        // a whole response
    static constexpr size_t kHeadReserve = 256;

    enum class State : uint8_t { Closed, RequestLine, Headers, Body, Waiting, Sending, Done };

    // Starts serving a new socket. Call only when web.can_accept(); returns false otherwise.
    bool open(Web& web, uint32_t now_ms);
    // Request bytes, in order, any split. Ignored once a response is on its way.
    void feed(const uint8_t* data, size_t len, uint32_t now_ms);
    // Timeouts and Nano answers.
    void poll(uint32_t now_ms);
    // Response bytes not yet handed out.
    const uint8_t* data() const { return out_ + out_pos_; }
    size_t pending() const { return out_len_ - out_pos_; }
    void consume(size_t n);
    // The whole response has been handed out: close the socket, then call close().
    bool done() const { return state_ == State::Done; }
    // Frees the slot (after done(), or when the peer went away).
    void close();
    bool is_open() const { return state_ != State::Closed; }
    State state() const { return state_; }
    // Status code of the response (0 before one is rendered).
    uint16_t status() const { return status_; }

private:
    enum class Route : uint8_t { None, Page, Status, Pin };
    void on_byte(uint8_t b, uint32_t now_ms);
    void end_request_line();
    void end_header_line();
    void dispatch(uint32_t now_ms);
    void respond_error(uint16_t code, const char* message);
    void respond(uint16_t code, const char* content_type, size_t body_len, bool allow_post);
    void respond_pin(uint8_t value);

    Web* web_ = nullptr;
    State state_ = State::Closed;
    uint32_t opened_at_ = 0;
    uint16_t status_ = 0;

    char method_[8] = {0};
    Route route_ = Route::None;
    int pin_ = -1;
    int ticket_ = -1;
    bool write_ = false;

    uint8_t line_[kLineMax];
    size_t line_len_ = 0;
    bool line_truncated_ = false;
    size_t header_bytes_ = 0;
    size_t content_length_ = 0;
    bool has_length_ = false;
    uint8_t body_[kBodyMax];
    size_t body_len_ = 0;

    uint8_t out_[kOutMax];
    size_t out_len_ = 0;
    size_t out_pos_ = 0;
};

}  // namespace nanoesp
