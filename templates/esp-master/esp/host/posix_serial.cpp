// nanoesp-esp-host: the serial link to the Nano (termios, raw, non-blocking).
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "posix_io.h"

namespace nanoesp_host {

namespace {
bool speed_for(unsigned baud, speed_t* out) {
    static const struct {
        unsigned baud;
        speed_t speed;
    } table[] = {
        {1200, B1200},     {2400, B2400},     {4800, B4800},     {9600, B9600},
        {19200, B19200},   {38400, B38400},   {57600, B57600},   {115200, B115200},
        {230400, B230400}, {460800, B460800}, {500000, B500000}, {921600, B921600},
    };
    for (const auto& e : table) {
        if (e.baud == baud) {
            *out = e.speed;
            return true;
        }
    }
    return false;
}
}  // namespace

int open_serial(const char* path, unsigned baud, char* err, size_t err_len) {
    speed_t speed;
    if (!speed_for(baud, &speed)) {
        snprintf(err, err_len, "unsupported baud %u", baud);
        return -1;
    }
    int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, err_len, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct termios t;
    if (tcgetattr(fd, &t) != 0) {
        snprintf(err, err_len, "%s is not a serial device: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    cfmakeraw(&t);
    t.c_cflag |= CLOCAL | CREAD;
    t.c_cflag &= ~(CSTOPB | PARENB | CRTSCTS);
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    cfsetispeed(&t, speed);
    cfsetospeed(&t, speed);
    if (tcsetattr(fd, TCSANOW, &t) != 0) {
        snprintf(err, err_len, "cannot configure %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

uint32_t now_ms() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint32_t>(static_cast<uint64_t>(ts.tv_sec) * 1000u +
                                 static_cast<uint64_t>(ts.tv_nsec) / 1000000u);
}

}  // namespace nanoesp_host
