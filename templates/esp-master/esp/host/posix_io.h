// nanoesp-esp-host: the POSIX pieces (serial device, TCP listener, clock).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace nanoesp_host {

// Opens path (a tty or pty) raw, 8N1, non-blocking, at baud. Returns the fd, or -1 with a
// message in err.
int open_serial(const char* path, unsigned baud, char* err, size_t err_len);

// Listens on host:port (non-blocking, SO_REUSEADDR). Returns the fd, or -1 with a message in
// err. *bound_port receives the port actually bound (useful with port 0).
int listen_tcp(const char* host, const char* port, uint16_t* bound_port, char* err, size_t err_len);

// Non-blocking accept; -1 when no connection is waiting.
int accept_client(int listen_fd);

// Monotonic milliseconds, wrapping.
uint32_t now_ms();

}  // namespace nanoesp_host
