// nanoesp-esp-host: the esp-master ESP8266 firmware's portable core as a Linux program.
//
// It talks Firmata to a Nano on a serial device (usually the pty the simulator bridges to
// the simulated Nano's D8/D9 soft UART) and serves the same HTTP API as the ESP8266 would.
//
// Build (from templates/esp-master/esp):
//   g++ -std=c++17 -O2 -Wall -Wextra -Werror -I src src/nanoesp/*.cpp host/*.cpp -o nanoesp-esp-host
//
// Usage:
//   nanoesp-esp-host --serial PATH [--baud 57600] [--listen 127.0.0.1:8080] [--max-clients 5]
//                    [--title T] [--text T] [--esp-id ID] [--sampling-ms 100]
//
// Progress goes to stderr; stdout gets exactly one line, `nanoesp: ready http://HOST:PORT/`
// (PORT is the bound port, so --listen 127.0.0.1:0 works), once the server listens and the
// Nano handshake has completed. A Nano reset is followed by a new handshake. SIGTERM/SIGINT
// end the program cleanly (exit status 0).
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "nanoesp/config.h"
#include "nanoesp/firmata_client.h"
#include "nanoesp/web.h"
#include "posix_io.h"

using nanoesp_host::now_ms;

namespace {

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

// Bytes for the Nano wait here until the serial fd takes them.
struct TxRing {
    static constexpr size_t kSize = 4096;
    uint8_t buf[kSize];
    size_t head = 0, len = 0;
    uint32_t dropped = 0;
};

void ring_write(void* ctx, const uint8_t* data, size_t n) {
    TxRing* r = static_cast<TxRing*>(ctx);
    for (size_t i = 0; i < n; ++i) {
        if (r->len == TxRing::kSize) {
            ++r->dropped;
            continue;
        }
        r->buf[(r->head + r->len) % TxRing::kSize] = data[i];
        ++r->len;
    }
}

void ring_flush(TxRing& r, int fd) {
    while (fd >= 0 && r.len > 0) {
        size_t chunk = r.len;
        if (r.head + chunk > TxRing::kSize) chunk = TxRing::kSize - r.head;
        ssize_t w = write(fd, r.buf + r.head, chunk);
        if (w <= 0) return;
        r.head = (r.head + static_cast<size_t>(w)) % TxRing::kSize;
        r.len -= static_cast<size_t>(w);
    }
}

struct Slot {
    int fd = -1;
    nanoesp::Connection conn;
};

// Closed connections drain the peer's leftovers for a moment (so the kernel does not reset
// the connection under an unread request) before the fd is closed.
struct Linger {
    int fd = -1;
    uint32_t until = 0;
};

void usage() {
    fprintf(stderr,
            "usage: nanoesp-esp-host --serial PATH [--baud N] [--listen HOST:PORT] [--max-clients N]\n"
            "                        [--title T] [--text T] [--esp-id ID] [--sampling-ms N]\n");
}

bool parse_uint(const char* s, unsigned long max, unsigned long* out) {
    char* end = nullptr;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != 0 || v > max) return false;
    *out = v;
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    const char* serial_path = nullptr;
    unsigned long baud = 57600, max_clients = 5, sampling = 100;
    const char* listen_arg = "127.0.0.1:8080";
    nanoesp::Config cfg;
    cfg.esp_id = "nanoesp-esp-host";

    for (int i = 1; i < argc; ++i) {
        const char* a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "nanoesp-esp-host: %s needs a value\n", a);
            usage();
            return 2;
        }
        const char* v = argv[++i];
        bool ok = true;
        if (strcmp(a, "--serial") == 0) {
            serial_path = v;
        } else if (strcmp(a, "--baud") == 0) {
            ok = parse_uint(v, 4000000, &baud);
        } else if (strcmp(a, "--listen") == 0) {
            listen_arg = v;
        } else if (strcmp(a, "--max-clients") == 0) {
            ok = parse_uint(v, nanoesp::kMaxClientsLimit, &max_clients) && max_clients > 0;
        } else if (strcmp(a, "--title") == 0) {
            cfg.title = v;
        } else if (strcmp(a, "--text") == 0) {
            cfg.text = v;
        } else if (strcmp(a, "--esp-id") == 0) {
            cfg.esp_id = v;
        } else if (strcmp(a, "--sampling-ms") == 0) {
            ok = parse_uint(v, 16383, &sampling) && sampling > 0;
        } else {
            fprintf(stderr, "nanoesp-esp-host: unknown option %s\n", a);
            usage();
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "nanoesp-esp-host: bad value for %s: %s\n", a, v);
            return 2;
        }
    }
    if (serial_path == nullptr) {
        fprintf(stderr, "nanoesp-esp-host: --serial PATH is required\n");
        usage();
        return 2;
    }
    cfg.max_clients = static_cast<uint8_t>(max_clients);
    cfg.sampling_ms = static_cast<uint16_t>(sampling);

    // HOST:PORT, HOST may be [v6].
    static char host[256];
    const char* colon = strrchr(listen_arg, ':');
    if (colon == nullptr || static_cast<size_t>(colon - listen_arg) >= sizeof host) {
        fprintf(stderr, "nanoesp-esp-host: --listen wants HOST:PORT, got %s\n", listen_arg);
        return 2;
    }
    memcpy(host, listen_arg, static_cast<size_t>(colon - listen_arg));
    host[colon - listen_arg] = 0;
    const char* port = colon + 1;
    const char* bind_host = host;
    static char bare[256];
    if (host[0] == '[') {
        size_t n = strlen(host);
        if (n >= 2 && host[n - 1] == ']') {
            memcpy(bare, host + 1, n - 2);
            bare[n - 2] = 0;
            bind_host = bare;
        }
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);

    char err[256];
    int serial_fd = nanoesp_host::open_serial(serial_path, static_cast<unsigned>(baud), err, sizeof err);
    if (serial_fd < 0) {
        fprintf(stderr, "nanoesp-esp-host: %s\n", err);
        return 1;
    }
    fprintf(stderr, "nanoesp: link %s at %lu baud\n", serial_path, baud);
    uint16_t bound = 0;
    int listen_fd = nanoesp_host::listen_tcp(bind_host, port, &bound, err, sizeof err);
    if (listen_fd < 0) {
        fprintf(stderr, "nanoesp-esp-host: %s\n", err);
        return 1;
    }
    fprintf(stderr, "nanoesp: listening on %s:%u, %lu clients\n", host, bound, max_clients);

    // Everything is allocated here, before the loop.
    static TxRing tx;
    static nanoesp::FirmataClient nano(cfg, ring_write, &tx);
    static nanoesp::Web web(cfg, nano, now_ms());
    std::vector<Slot> slots(max_clients);
    std::vector<Linger> lingers(64);
    std::vector<struct pollfd> fds(2 + slots.size() + lingers.size());
    std::vector<int> fd_slot(fds.size());
    static uint8_t rx[1024];
    static uint8_t reject_buf[256];

    bool announced = false;
    uint32_t last_handshakes = 0, last_resets = 0, last_timeouts = 0;
    uint32_t serial_retry_at = 0;

    auto close_slot = [&](Slot& s, bool linger, uint32_t now) {
        s.conn.close();
        if (s.fd < 0) return;
        if (linger) {
            shutdown(s.fd, SHUT_WR);
            for (Linger& l : lingers) {
                if (l.fd < 0) {
                    l.fd = s.fd;
                    l.until = now + 1000;
                    s.fd = -1;
                    return;
                }
            }
        }
        close(s.fd);
        s.fd = -1;
    };

    while (!g_stop) {
        uint32_t now = now_ms();

        // The Nano link: reopen when the other end went away (e.g. the simulator restarted).
        if (serial_fd < 0 && static_cast<int32_t>(now - serial_retry_at) >= 0) {
            serial_fd = nanoesp_host::open_serial(serial_path, static_cast<unsigned>(baud), err, sizeof err);
            if (serial_fd >= 0) fprintf(stderr, "nanoesp: link %s reopened\n", serial_path);
            serial_retry_at = now + 500;
        }
        nano.poll(now);
        if (nano.handshakes() != last_handshakes) {
            last_handshakes = nano.handshakes();
            fprintf(stderr, "nanoesp: Nano %s %u.%u build %s, %u pins%s\n", nano.firmware_name(),
                    nano.version_major(), nano.version_minor(), nano.build_id(), nano.pin_count(),
                    last_handshakes > 1 ? " (re-synced)" : "");
        }
        if (nano.resets() != last_resets) {
            last_resets = nano.resets();
            fprintf(stderr, "nanoesp: Nano reset, shaking hands again\n");
        }
        if (nano.timeouts() != last_timeouts) {
            last_timeouts = nano.timeouts();
            fprintf(stderr, "nanoesp: Nano not answering (%u timeouts), retrying\n", last_timeouts);
        }
        if (!announced && nano.ready()) {
            announced = true;
            printf("nanoesp: ready http://%s:%u/\n", host, bound);
            fflush(stdout);
        }
        for (Slot& s : slots) {
            if (s.fd < 0) continue;
            s.conn.poll(now);
            if (s.conn.pending() > 0) {
                ssize_t w = send(s.fd, s.conn.data(), s.conn.pending(), MSG_NOSIGNAL);
                if (w > 0) {
                    s.conn.consume(static_cast<size_t>(w));
                } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                    close_slot(s, false, now);
                    continue;
                }
            }
            if (s.conn.done()) close_slot(s, true, now);
        }
        for (Linger& l : lingers) {
            if (l.fd >= 0 && static_cast<int32_t>(now - l.until) >= 0) {
                close(l.fd);
                l.fd = -1;
            }
        }
        ring_flush(tx, serial_fd);

        // Wait for something to do (10 ms at most: timeouts are checked every pass).
        size_t n = 0;
        const size_t serial_i = n;
        fds[n] = {serial_fd, static_cast<short>(POLLIN | (tx.len > 0 ? POLLOUT : 0)), 0};
        ++n;
        const size_t listen_i = n;
        fds[n++] = {listen_fd, POLLIN, 0};
        for (size_t i = 0; i < slots.size(); ++i) {
            if (slots[i].fd < 0) continue;
            short ev = 0;
            nanoesp::Connection::State st = slots[i].conn.state();
            if (st == nanoesp::Connection::State::RequestLine || st == nanoesp::Connection::State::Headers ||
                st == nanoesp::Connection::State::Body)
                ev |= POLLIN;
            if (slots[i].conn.pending() > 0) ev |= POLLOUT;
            fd_slot[n] = static_cast<int>(i);
            fds[n++] = {slots[i].fd, ev, 0};
        }
        const size_t linger_i = n;
        for (Linger& l : lingers) {
            if (l.fd >= 0) fds[n++] = {l.fd, POLLIN, 0};
        }
        int rc = poll(fds.data(), n, 10);
        if (rc < 0) {
            if (errno == EINTR) continue;
            perror("nanoesp-esp-host: poll");
            break;
        }
        now = now_ms();

        if (serial_fd >= 0 && (fds[serial_i].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t r = read(serial_fd, rx, sizeof rx);
            if (r > 0) {
                nano.feed(rx, static_cast<size_t>(r), now);
            } else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
                fprintf(stderr, "nanoesp: link %s closed, reopening\n", serial_path);
                close(serial_fd);
                serial_fd = -1;
                serial_retry_at = now + 500;
            }
        }
        if (fds[listen_i].revents & POLLIN) {
            // A bounded batch per pass: a flood of connections must not starve the link.
            for (int batch = 0; batch < 16; ++batch) {
                int cfd = nanoesp_host::accept_client(listen_fd);
                if (cfd < 0) break;
                Slot* free_slot = nullptr;
                if (web.can_accept()) {
                    for (Slot& s : slots) {
                        if (s.fd < 0) {
                            free_slot = &s;
                            break;
                        }
                    }
                }
                if (free_slot != nullptr && free_slot->conn.open(web, now)) {
                    free_slot->fd = cfd;
                } else {
                    size_t len = web.reject(reject_buf, sizeof reject_buf);
                    if (send(cfd, reject_buf, len, MSG_NOSIGNAL) < 0) {
                        // Nothing to do: the peer is gone already.
                    }
                    Slot tmp;
                    tmp.fd = cfd;
                    close_slot(tmp, true, now);
                }
            }
        }
        for (size_t i = listen_i + 1; i < linger_i; ++i) {
            Slot& s = slots[static_cast<size_t>(fd_slot[i])];
            if (s.fd < 0 || fds[i].revents == 0) continue;
            if (fds[i].revents & POLLIN) {
                ssize_t r = recv(s.fd, rx, sizeof rx, 0);
                if (r > 0) {
                    s.conn.feed(rx, static_cast<size_t>(r), now);
                } else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
                    close_slot(s, false, now);  // the browser went away before its answer
                    continue;
                }
            } else if (fds[i].revents & (POLLERR | POLLHUP | POLLNVAL)) {
                close_slot(s, false, now);
            }
        }
        for (size_t i = linger_i; i < n; ++i) {
            if (fds[i].revents == 0) continue;
            ssize_t r = recv(fds[i].fd, rx, sizeof rx, 0);
            if (r <= 0 && !(r < 0 && (errno == EAGAIN || errno == EINTR))) {
                for (Linger& l : lingers) {
                    if (l.fd == fds[i].fd) {
                        close(l.fd);
                        l.fd = -1;
                    }
                }
            }
        }
    }

    fprintf(stderr, "nanoesp: stopping\n");
    for (Slot& s : slots) {
        s.conn.close();
        if (s.fd >= 0) close(s.fd);
    }
    for (Linger& l : lingers) {
        if (l.fd >= 0) close(l.fd);
    }
    close(listen_fd);
    if (serial_fd >= 0) close(serial_fd);
    return 0;
}
