// nanoesp esp-master: the ESP8266 sketch (Arduino core esp8266:esp8266).
//
// The ESP8266 runs the web server and reads the Nano's I/O over the serial link with
// Firmata. All the logic lives in src/nanoesp/ (portable C++, also built and tested on a PC as
// nanoesp-esp-host); this file only moves bytes between Wi-Fi, the link and that code.
//
// Configuration: `nanoesp build` writes nanoesp_config.h next to this file from nanoesp.toml
// and secrets.toml. It must define:
//
//   NANOESP_WIFI_SSID      string   network to join (station) or to create (softAP)
//   NANOESP_WIFI_PASSWORD  string   its password (never logged)
//   NANOESP_WIFI_SOFTAP    0 or 1   1 = be an access point instead of joining a network
//   NANOESP_HOSTNAME       string   DHCP and mDNS name (<name>.local)
//   NANOESP_HTTP_PORT      integer  TCP port of the web server
//   NANOESP_MAX_CLIENTS    integer  connections served at once; one more is answered 503
//   NANOESP_TITLE          string   title of the page at /
//   NANOESP_TEXT           string   text of the page at /
//   NANOESP_LINK_BAUD      integer  link speed to the Nano (the Nano's Firmata baud)
//   NANOESP_LINK_RX_GPIO   integer  GPIO receiving from the Nano's TX (SoftwareSerial), or -1
//   NANOESP_LINK_TX_GPIO   integer  GPIO driving the Nano's RX (SoftwareSerial), or -1
//                                   -1 = use the hardware UART0 (RX GPIO3, TX GPIO1) for the
//                                   link and log on Serial1 (TX only, GPIO2) instead
//   NANOESP_CONSOLE_BAUD   integer  speed of the log port
//   NANOESP_ESP_ID         string   this firmware's id ("esp" in /api/status)
//
// Needs the esp8266 Arduino core 3.x (WiFiServer::accept, WiFiClient::stop(ms)); the link's
// SoftwareSerial is the EspSoftwareSerial library bundled with the core.
//
// Log lines end in \r\n; exactly one `nanoesp: ready http://<ip>:<port>/` follows the
// progress lines once Wi-Fi is up, the server listens and the Nano handshake is done.

#include <ESP8266WiFi.h>
#include <ESP8266mDNS.h>

#include "nanoesp_config.h"
#include "src/nanoesp/config.h"
#include "src/nanoesp/firmata_client.h"
#include "src/nanoesp/web.h"

#if !defined(NANOESP_WIFI_SSID) || !defined(NANOESP_WIFI_PASSWORD) || !defined(NANOESP_WIFI_SOFTAP) || \
    !defined(NANOESP_HOSTNAME) || !defined(NANOESP_HTTP_PORT) || !defined(NANOESP_MAX_CLIENTS) ||      \
    !defined(NANOESP_TITLE) || !defined(NANOESP_TEXT) || !defined(NANOESP_LINK_BAUD) ||                \
    !defined(NANOESP_LINK_RX_GPIO) || !defined(NANOESP_LINK_TX_GPIO) || !defined(NANOESP_CONSOLE_BAUD) || \
    !defined(NANOESP_ESP_ID)
#error "nanoesp_config.h is incomplete: run `nanoesp build` to regenerate it"
#endif

#if NANOESP_LINK_RX_GPIO >= 0
#include <SoftwareSerial.h>
static SoftwareSerial linkSerial(NANOESP_LINK_RX_GPIO, NANOESP_LINK_TX_GPIO);
#define LINK linkSerial
#define LOG Serial
#else
#define LINK Serial
#define LOG Serial1
#endif

static nanoesp::Config cfg;
static void link_write(void*, const uint8_t* data, size_t len) { LINK.write(data, len); }
static nanoesp::FirmataClient nano(cfg, link_write, nullptr);
static nanoesp::Web* web = nullptr;

static WiFiServer server(NANOESP_HTTP_PORT);
static WiFiClient clients[NANOESP_MAX_CLIENTS];
static nanoesp::Connection conns[NANOESP_MAX_CLIENTS];

static bool wifi_up = false;
static bool announced = false;
static uint32_t seen_handshakes = 0, seen_resets = 0, seen_timeouts = 0;

static IPAddress local_ip() {
#if NANOESP_WIFI_SOFTAP
    return WiFi.softAPIP();
#else
    return WiFi.localIP();
#endif
}

void setup() {
    LOG.begin(NANOESP_CONSOLE_BAUD);
    LINK.begin(NANOESP_LINK_BAUD);

    cfg.title = NANOESP_TITLE;
    cfg.text = NANOESP_TEXT;
    cfg.esp_id = NANOESP_ESP_ID;
    cfg.max_clients = NANOESP_MAX_CLIENTS;
    static nanoesp::Web web_instance(cfg, nano, millis());
    web = &web_instance;

    LOG.println();
    LOG.print("nanoesp " NANOESP_ESP_ID " mode=esp-master link=");
    LOG.print(NANOESP_LINK_RX_GPIO >= 0 ? "soft" : "uart0");
    LOG.print(" baud=");
    LOG.print(NANOESP_LINK_BAUD);
    LOG.println(" ssid=" NANOESP_WIFI_SSID);

    WiFi.persistent(false);
#if NANOESP_WIFI_SOFTAP
    WiFi.mode(WIFI_AP);
    LOG.println("nanoesp: starting access point " NANOESP_WIFI_SSID);
    WiFi.softAP(NANOESP_WIFI_SSID, NANOESP_WIFI_PASSWORD);
#else
    WiFi.mode(WIFI_STA);
    WiFi.hostname(NANOESP_HOSTNAME);
    WiFi.setAutoReconnect(true);
    LOG.println("nanoesp: joining " NANOESP_WIFI_SSID);
    WiFi.begin(NANOESP_WIFI_SSID, NANOESP_WIFI_PASSWORD);
#endif
    LOG.println("nanoesp: waiting for the Nano (Firmata)");
}

static void start_server() {
    LOG.print("nanoesp: Wi-Fi up, ip ");
    LOG.println(local_ip());
    server.begin();
    server.setNoDelay(true);
    LOG.print("nanoesp: listening on port ");
    LOG.println(NANOESP_HTTP_PORT);
    if (MDNS.begin(NANOESP_HOSTNAME)) {
        MDNS.addService("http", "tcp", NANOESP_HTTP_PORT);
        LOG.println("nanoesp: mDNS " NANOESP_HOSTNAME ".local");
    } else {
        LOG.println("nanoesp: mDNS failed to start");
    }
}

static void accept_clients(uint32_t now) {
    for (int batch = 0; batch < 4; ++batch) {  // bounded: the link must not starve
        WiFiClient incoming = server.accept();
        if (!incoming) return;
        int slot = -1;
        for (int i = 0; i < NANOESP_MAX_CLIENTS; ++i) {
            if (!conns[i].is_open()) {
                slot = i;
                break;
            }
        }
        if (slot >= 0 && conns[slot].open(*web, now)) {
            incoming.setNoDelay(true);
            clients[slot] = incoming;
        } else {
            // Over max_clients: answer 503 at once and close (queued data still goes out).
            uint8_t buf[256];
            size_t n = web->reject(buf, sizeof buf);
            incoming.write(buf, n);
            incoming.stop(1);
        }
    }
}

static void serve(int i, uint32_t now) {
    WiFiClient& c = clients[i];
    nanoesp::Connection& k = conns[i];
    int avail = c.available();
    if (avail > 0) {
        uint8_t buf[256];
        int n = c.read(buf, avail < (int)sizeof buf ? avail : (int)sizeof buf);
        if (n > 0) k.feed(buf, (size_t)n, now);
    }
    k.poll(now);
    if (k.pending() > 0) {
        int room = c.availableForWrite();
        if (room > 0) {
            size_t n = c.write(k.data(), (size_t)room < k.pending() ? (size_t)room : k.pending());
            k.consume(n);
        }
    }
    if (k.done()) {
        c.stop(1);  // never wait on one client; lwIP still sends what is queued
        k.close();
    } else if (!c.connected()) {
        c.stop(1);
        k.close();
    }
}

static void report_nano() {
    if (nano.handshakes() != seen_handshakes) {
        seen_handshakes = nano.handshakes();
        LOG.print("nanoesp: Nano ");
        LOG.print(nano.firmware_name());
        LOG.print(' ');
        LOG.print(nano.version_major());
        LOG.print('.');
        LOG.print(nano.version_minor());
        LOG.print(" build ");
        LOG.print(nano.build_id());
        LOG.print(", ");
        LOG.print(nano.pin_count());
        LOG.println(seen_handshakes > 1 ? " pins (re-synced)" : " pins");
    }
    if (nano.resets() != seen_resets) {
        seen_resets = nano.resets();
        LOG.println("nanoesp: Nano reset, shaking hands again");
    }
    if (nano.timeouts() != seen_timeouts) {
        seen_timeouts = nano.timeouts();
        LOG.println("nanoesp: Nano not answering, retrying (check the link wiring and baud)");
    }
}

void loop() {
    uint32_t now = millis();
    while (LINK.available() > 0) nano.feed((uint8_t)LINK.read(), now);
    nano.poll(now);
    report_nano();

    if (!wifi_up) {
#if NANOESP_WIFI_SOFTAP
        wifi_up = true;
#else
        wifi_up = WiFi.status() == WL_CONNECTED;
#endif
        if (wifi_up) start_server();
    } else {
        MDNS.update();
        accept_clients(now);
        for (int i = 0; i < NANOESP_MAX_CLIENTS; ++i) {
            if (conns[i].is_open()) serve(i, now);
        }
        if (!announced && nano.ready()) {
            announced = true;
            LOG.print("nanoesp: ready http://");
            LOG.print(local_ip());
            LOG.print(':');
            LOG.print(NANOESP_HTTP_PORT);
            LOG.println('/');
        }
    }
    yield();
}
