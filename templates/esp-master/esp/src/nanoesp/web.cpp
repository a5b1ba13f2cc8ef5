// nanoesp esp-master: the HTTP/1.1 server (see web.h).
#include "web.h"

#include <string.h>

namespace nanoesp {

namespace {

bool reached(uint32_t now, uint32_t t) { return static_cast<int32_t>(now - t) >= 0; }

// Bounded text writer; overflow is sticky.
struct Writer {
    uint8_t* p;
    size_t cap;
    size_t len = 0;
    bool overflow = false;

    Writer(uint8_t* buf, size_t n) : p(buf), cap(n) {}
    void put(char c) {
        if (len < cap) {
            p[len++] = static_cast<uint8_t>(c);
        } else {
            overflow = true;
        }
    }
    void puts(const char* s) {
        while (*s) put(*s++);
    }
    void putu(uint32_t v) {
        char tmp[10];
        int n = 0;
        do {
            tmp[n++] = static_cast<char>('0' + v % 10);
            v /= 10;
        } while (v != 0);
        while (n > 0) put(tmp[--n]);
    }
    void html(const char* s) {
        for (; *s; ++s) {
            switch (*s) {
                case '<': puts("&lt;"); break;
                case '>': puts("&gt;"); break;
                case '&': puts("&amp;"); break;
                case '"': puts("&quot;"); break;
                case '\'': puts("&#39;"); break;
                default: put(*s);
            }
        }
    }
    void json(const char* s) {
        static const char hex[] = "0123456789abcdef";
        for (; *s; ++s) {
            const unsigned char c = static_cast<unsigned char>(*s);
            if (c == '"' || c == '\\') {
                put('\\');
                put(static_cast<char>(c));
            } else if (c < 0x20) {
                puts("\\u00");
                put(hex[c >> 4]);
                put(hex[c & 15]);
            } else {
                put(static_cast<char>(c));
            }
        }
    }
};

const char* reason(uint16_t code) {
    switch (code) {
        case 200: return "OK";
        case 400: return "Bad Request";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 413: return "Payload Too Large";
        case 414: return "URI Too Long";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        default: return "Error";
    }
}

void head(Writer& w, uint16_t code, const char* content_type, size_t body_len, const char* allow) {
    w.puts("HTTP/1.1 ");
    w.putu(code);
    w.put(' ');
    w.puts(reason(code));
    w.puts("\r\nContent-Type: ");
    w.puts(content_type);
    w.puts("\r\nContent-Length: ");
    w.putu(static_cast<uint32_t>(body_len));
    w.puts("\r\nCache-Control: no-store\r\nConnection: close\r\n");
    if (allow != nullptr) {
        w.puts("Allow: ");
        w.puts(allow);
        w.puts("\r\n");
    }
    if (code == 503) w.puts("Retry-After: 1\r\n");
    w.puts("\r\n");
}

bool eq_nocase(const uint8_t* a, size_t n, const char* b) {
    for (size_t i = 0; i < n; ++i) {
        uint8_t c = a[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<uint8_t>(c + 32);
        if (b[i] == 0 || c != static_cast<uint8_t>(b[i])) return false;
    }
    return b[n] == 0;
}

const char kPageHead[] =
    "<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width\"><title>";
const char kPageMid1[] =
    "</title><style>body{font-family:sans-serif;margin:2em}td{padding:.2em 1em}"
    "</style></head><body><h1>";
const char kPageMid2[] = "</h1><p>";
const char kPageTail[] =
    "</p><table id=\"a\"></table><p id=\"s\">waiting for the Nano&hellip;</p>"
    "<p><a href=\"/api/status\">/api/status</a></p><script>"
    "function u(){fetch('/api/status').then(function(r){return r.json()}).then(function(j){"
    "if(!j.analog)throw 0;var h='';for(var i=0;i<8;i++)h+='<tr><td>A'+i+'</td><td>'+"
    "Number(j.analog[i])+'</td></tr>';document.getElementById('a').innerHTML=h;"
    "document.getElementById('s').textContent='Nano '+j.firmware+', ESP '+j.esp+', up '+"
    "Math.round(j.uptime_ms/1000)+' s, '+j.served+' served';"
    "}).catch(function(){document.getElementById('s').textContent='Nano not answering'})}"
    "u();setInterval(u,1000);</script></body></html>\n";

}  // namespace

// ---- Web -------------------------------------------------------------------------------

Web::Web(const Config& cfg, FirmataClient& nano, uint32_t start_ms)
    : cfg_(cfg), nano_(nano), start_ms_(start_ms) {
    max_clients_ = cfg.max_clients == 0 ? 1 : cfg.max_clients;
    if (max_clients_ > kMaxClientsLimit) max_clients_ = kMaxClientsLimit;
}

size_t Web::reject(uint8_t* buf, size_t cap) {
    static const char body[] = "{\"error\":\"too many clients\"}";
    Writer w(buf, cap);
    head(w, 503, "application/json", sizeof body - 1, nullptr);
    w.puts(body);
    if (w.overflow) return 0;
    ++served_;
    ++errors_;
    return w.len;
}

// ---- Connection ------------------------------------------------------------------------

bool Connection::open(Web& web, uint32_t now_ms) {
    if (state_ != State::Closed || !web.can_accept()) return false;
    web_ = &web;
    ++web.clients_;
    state_ = State::RequestLine;
    opened_at_ = now_ms;
    status_ = 0;
    method_[0] = 0;
    route_ = Route::None;
    pin_ = -1;
    ticket_ = -1;
    write_ = false;
    line_len_ = 0;
    line_truncated_ = false;
    header_bytes_ = 0;
    content_length_ = 0;
    has_length_ = false;
    body_len_ = 0;
    out_len_ = 0;
    out_pos_ = 0;
    return true;
}

void Connection::close() {
    if (state_ == State::Closed) return;
    if (ticket_ >= 0) web_->nano_.release(ticket_);
    ticket_ = -1;
    if (web_->clients_ > 0) --web_->clients_;
    state_ = State::Closed;
}

void Connection::consume(size_t n) {
    if (n > pending()) n = pending();
    out_pos_ += n;
    if (state_ == State::Sending && out_pos_ == out_len_) {
        state_ = State::Done;
        ++web_->served_;
    }
}

void Connection::feed(const uint8_t* data, size_t len, uint32_t now_ms) {
    for (size_t i = 0; i < len; ++i) {
        if (state_ != State::RequestLine && state_ != State::Headers && state_ != State::Body) return;
        on_byte(data[i], now_ms);
    }
}

void Connection::on_byte(uint8_t b, uint32_t now_ms) {
    if (state_ == State::Body) {
        body_[body_len_++] = b;  // content_length_ <= kBodyMax
        if (body_len_ >= content_length_) dispatch(now_ms);
        return;
    }
    if (state_ == State::Headers) {
        if (++header_bytes_ > Connection::kHeadersMax) {
            respond_error(431, "headers too large");
            return;
        }
    }
    if (b == '\n') {
        if (line_len_ > 0 && line_[line_len_ - 1] == '\r') --line_len_;
        if (state_ == State::RequestLine) {
            if (line_len_ == 0 && !line_truncated_) return;  // empty lines before a request
            end_request_line();
        } else {
            end_header_line();
            if (state_ == State::Body && content_length_ == 0) dispatch(now_ms);
        }
        line_len_ = 0;
        line_truncated_ = false;
        return;
    }
    if ((b < 0x20 && b != '\r' && b != '\t') || b == 0x7F) {
        respond_error(400, "bad request");
        return;
    }
    if (state_ == State::RequestLine) {
        if (line_len_ >= kLineMax) {
            // No end of line in sight: a long target is 414, anything else is garbage.
            const uint8_t* sp = static_cast<const uint8_t*>(memchr(line_, ' ', line_len_));
            bool uri = sp != nullptr && sp + 1 < line_ + line_len_ && sp[1] == '/' &&
                       memchr(sp + 1, ' ', static_cast<size_t>(line_ + line_len_ - sp - 1)) == nullptr;
            if (uri) {
                respond_error(414, "uri too long");
            } else {
                respond_error(400, "bad request");
            }
            return;
        }
        line_[line_len_++] = b;
    } else if (line_len_ < kHeaderLineMax) {
        line_[line_len_++] = b;
    } else {
        line_truncated_ = true;
    }
}

void Connection::end_request_line() {
    // METHOD SP /target SP HTTP/1.x
    const uint8_t* s = line_;
    const size_t n = line_len_;
    size_t i = 0;
    while (i < n && s[i] >= 'A' && s[i] <= 'Z') ++i;
    if (i == 0 || i >= sizeof method_ || i >= n || s[i] != ' ') {
        respond_error(400, "bad request");
        return;
    }
    memcpy(method_, s, i);
    method_[i] = 0;
    const size_t t0 = i + 1;
    size_t t1 = t0;
    while (t1 < n && s[t1] != ' ') ++t1;
    if (t1 == t0 || s[t0] != '/' || t1 >= n) {
        respond_error(400, "bad request");
        return;
    }
    const size_t vlen = n - t1 - 1;
    if (vlen != 8 || memcmp(s + t1 + 1, "HTTP/1.", 7) != 0 || (s[n - 1] != '0' && s[n - 1] != '1')) {
        respond_error(400, "bad request");
        return;
    }
    if (t1 - t0 > kUriMax) {
        respond_error(414, "uri too long");
        return;
    }
    size_t plen = 0;
    while (t0 + plen < t1 && s[t0 + plen] != '?' && s[t0 + plen] != '#') ++plen;
    const uint8_t* path = s + t0;
    if (plen == 1) {
        route_ = Route::Page;
    } else if (plen == 11 && memcmp(path, "/api/status", 11) == 0) {
        route_ = Route::Status;
    } else if (plen > 9 && plen <= 12 && memcmp(path, "/api/pin/", 9) == 0) {
        int v = 0;
        for (size_t k = 9; k < plen; ++k) {
            if (path[k] < '0' || path[k] > '9') {
                v = -1;
                break;
            }
            v = v * 10 + (path[k] - '0');
        }
        route_ = v < 0 ? Route::None : Route::Pin;
        pin_ = v;
    } else {
        route_ = Route::None;
    }
    state_ = State::Headers;
}

void Connection::end_header_line() {
    if (line_len_ == 0) {
        // End of headers.
        if (has_length_ && content_length_ > kBodyMax) {
            respond_error(413, "body too large");
            return;
        }
        state_ = State::Body;
        body_len_ = 0;
        return;
    }
    const uint8_t* colon = static_cast<const uint8_t*>(memchr(line_, ':', line_len_));
    if (colon == nullptr || colon == line_) {
        respond_error(400, "bad request");
        return;
    }
    const size_t name_len = static_cast<size_t>(colon - line_);
    if (!eq_nocase(line_, name_len, "content-length")) return;
    if (line_truncated_) {
        respond_error(431, "headers too large");
        return;
    }
    size_t v = 0;
    bool digits = false;
    for (const uint8_t* p = colon + 1; p < line_ + line_len_; ++p) {
        if (*p == ' ' || *p == '\t') {
            if (digits) break;
            continue;
        }
        if (*p < '0' || *p > '9') {
            respond_error(400, "bad content-length");
            return;
        }
        digits = true;
        if (v <= 100000) v = v * 10 + (*p - '0');
    }
    if (!digits || (has_length_ && v != content_length_)) {
        respond_error(400, "bad content-length");
        return;
    }
    has_length_ = true;
    content_length_ = v;
}

void Connection::dispatch(uint32_t now_ms) {
    FirmataClient& nano = web_->nano_;
    const bool get = strcmp(method_, "GET") == 0;
    const bool post = strcmp(method_, "POST") == 0 || strcmp(method_, "PUT") == 0;
    switch (route_) {
        case Route::None:
            respond_error(404, "not found");
            return;
        case Route::Page: {
            if (!get) {
                respond_error(405, "method not allowed");
                return;
            }
            const Config& c = web_->cfg_;
            Writer w(out_ + kHeadReserve, kOutMax - kHeadReserve);
            w.puts(kPageHead);
            w.html(c.title);
            w.puts(kPageMid1);
            w.html(c.title);
            w.puts(kPageMid2);
            w.html(c.text);
            w.puts(kPageTail);
            if (w.overflow) {
                respond_error(500, "page too large");
                return;
            }
            respond(200, "text/html; charset=utf-8", w.len, false);
            return;
        }
        case Route::Status: {
            if (!get) {
                respond_error(405, "method not allowed");
                return;
            }
            if (!nano.ready()) {
                respond_error(503, "nano not answering");
                return;
            }
            Writer w(out_ + kHeadReserve, kOutMax - kHeadReserve);
            w.puts("{\"firmware\":\"");
            w.json(nano.build_id());
            w.puts("\",\"esp\":\"");
            w.json(web_->cfg_.esp_id);
            w.puts("\",\"uptime_ms\":");
            w.putu(web_->uptime_ms(now_ms));
            w.puts(",\"analog\":[");
            for (uint8_t ch = 0; ch < FirmataClient::kAnalogChannels; ++ch) {
                if (ch > 0) w.put(',');
                uint16_t v = nano.analog(ch);
                w.putu(v > 1023 ? 1023 : v);
            }
            w.puts("],\"clients\":");
            w.putu(web_->clients_);
            w.puts(",\"served\":");
            w.putu(web_->served_);
            w.puts(",\"errors\":");
            w.putu(web_->errors());
            w.put('}');
            respond(200, "application/json", w.len, false);
            return;
        }
        case Route::Pin: {
            if (!get && !post) {
                respond_error(405, "method not allowed");
                return;
            }
            if (!nano.ready()) {
                respond_error(503, "nano not answering");
                return;
            }
            if (pin_ < 0 || pin_ >= nano.pin_count()) {
                respond_error(404, "no such pin");
                return;
            }
            const uint8_t pin = static_cast<uint8_t>(pin_);
            if (nano.pin_reserved(pin)) {
                respond_error(403, "reserved pin");
                return;
            }
            if (get) {
                ticket_ = nano.begin_read(pin, now_ms);
            } else {
                // Body: 0, 1, value=0 or value=1, optionally followed by whitespace.
                size_t n = body_len_;
                while (n > 0 && (body_[n - 1] == '\r' || body_[n - 1] == '\n' ||
                                 body_[n - 1] == ' ' || body_[n - 1] == '\t'))
                    --n;
                const uint8_t* v = body_;
                if (n == 7 && memcmp(body_, "value=", 6) == 0) {
                    v = body_ + 6;
                    n = 1;
                }
                if (n != 1 || (v[0] != '0' && v[0] != '1')) {
                    respond_error(400, "body must be 0 or 1");
                    return;
                }
                if (!nano.pin_can_output(pin)) {
                    respond_error(403, "pin is not writable");
                    return;
                }
                write_ = true;
                ticket_ = nano.begin_write(pin, v[0] == '1', now_ms);
            }
            if (ticket_ < 0) {
                respond_error(503, "nano busy");
                return;
            }
            state_ = State::Waiting;
            poll(now_ms);
            return;
        }
    }
}

void Connection::poll(uint32_t now_ms) {
    switch (state_) {
        case State::RequestLine:
        case State::Headers:
        case State::Body:
            if (reached(now_ms, opened_at_ + web_->cfg_.request_timeout_ms)) {
                respond_error(408, "request timeout");
            }
            break;
        case State::Waiting: {
            uint8_t value = 0;
            FirmataClient::Result r = web_->nano_.result(ticket_, &value);
            if (r == FirmataClient::Result::Pending) break;
            web_->nano_.release(ticket_);
            ticket_ = -1;
            if (r == FirmataClient::Result::Done) {
                respond_pin(value);
            } else if (r == FirmataClient::Result::TimedOut) {
                respond_error(504, "nano timeout");
            } else {
                respond_error(503, "nano not answering");
            }
            break;
        }
        default:
            break;
    }
}

void Connection::respond_pin(uint8_t value) {
    Writer w(out_ + kHeadReserve, kOutMax - kHeadReserve);
    w.puts("{\"pin\":");
    w.putu(static_cast<uint32_t>(pin_));
    w.puts(",\"value\":");
    w.put(value ? '1' : '0');
    w.put('}');
    respond(200, "application/json", w.len, false);
}

void Connection::respond_error(uint16_t code, const char* message) {
    Writer w(out_ + kHeadReserve, kOutMax - kHeadReserve);
    w.puts("{\"error\":\"");
    w.json(message);
    w.puts("\"}");
    ++web_->errors_;
    respond(code, "application/json", w.len, route_ == Route::Pin);
}

void Connection::respond(uint16_t code, const char* content_type, size_t body_len, bool pin_route) {
    const char* allow = nullptr;
    if (code == 405) allow = pin_route ? "GET, POST, PUT" : "GET";
    uint8_t h[kHeadReserve];
    Writer w(h, sizeof h);
    head(w, code, content_type, body_len, allow);
    // The header always fits kHeadReserve (fixed strings and two numbers).
    memmove(out_ + w.len, out_ + kHeadReserve, body_len);
    memcpy(out_, h, w.len);
    out_len_ = w.len + body_len;
    out_pos_ = 0;
    status_ = code;
    state_ = State::Sending;
}

}  // namespace nanoesp
