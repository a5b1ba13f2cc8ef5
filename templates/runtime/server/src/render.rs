//! Response bodies and console lines, rendered into byte sinks.
//!
//! Everything here is a pure function of its inputs, so the server can render a response
//! once to measure it and again for every `AT+CIPSEND` window, and get the same bytes.

use crate::{Config, Snapshot};
use nanoesp_at::{Driver, Settings};
use nanoesp_http::pstr;
use nanoesp_http::sink::{put_json_byte, put_nth, put_p, put_u16, put_u32, Window};
use nanoesp_http::{ContentType, Status};

/// What a response carries (variant order measured smallest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// `GET /`
    Page,
    /// `GET /api/status`
    Status,
    /// `GET|POST|PUT /api/pin/<n>`
    Pin {
        /// Arduino digital pin number
        pin: u8,
        /// level read or written
        high: bool,
    },
    /// An error status with a one-line text body.
    Error(Status),
}

impl Body {
    /// Status code of the response.
    pub fn status(self) -> Status {
        match self {
            Body::Error(s) => s,
            _ => Status::Ok,
        }
    }

    /// Media type of the body.
    pub fn content_type(self) -> ContentType {
        // Tests rather than one `match`, which became a lookup table copied into SRAM.
        if let Body::Error(_) = self {
            ContentType::Text
        } else if self == Body::Page {
            ContentType::Html
        } else {
            ContentType::Json
        }
    }
}

fn put_json(s: &mut Window, bytes: &[u8]) {
    for &b in bytes {
        put_json_byte(s, b);
    }
}

/// Renders response bodies with the texts of configuration `Self` (every [`Config`] does).
///
/// A provided trait method, not a generic function: the firmware's code is laid out in
/// symbol order, where a generic function's instance (`_RINv…`) comes first, kilobytes
/// from the `sink` helpers it calls (out of `rcall` reach: a 4-byte `call` each), and a
/// trait method's (`_RNvY…`) last, next to them (62 B smaller on the AVR, with
/// [`RenderLine`]).
pub trait RenderBody: Config {
    /// Writes the body of `body`.
    #[inline(never)]
    fn body(s: &mut Window, body: Body, snap: &Snapshot) {
        match body {
            Body::Page | Body::Status => {
                // The page is its head, the status JSON (the readings, shown as they are
                // until its script formats them) and its fixed end.
                if body == Body::Page {
                    put_p(s, Self::PAGE);
                }
                piece(s, 0);
                // Hex digits (`{:08x}` in the build config): nothing to escape.
                put_p(s, Self::BUILD_ID);
                piece(s, 1);
                put_json(s, snap.esp_version());
                piece(s, 2);
                put_u32(s, snap.uptime_ms);
                piece(s, 3);
                let mut sep = b'[';
                for &a in snap.analog.iter() {
                    s.put(sep);
                    sep = b',';
                    put_u16(s, a);
                }
                piece(s, 4);
                put_u16(s, snap.clients as u16);
                piece(s, 5);
                put_u32(s, snap.served);
                piece(s, 6);
                put_u32(s, snap.errors);
                s.put(b'}');
                if body == Body::Page {
                    piece(s, PAGE_END);
                }
            }
            Body::Pin { pin, high } => {
                piece(s, 7);
                put_u16(s, pin as u16);
                piece(s, 8);
                s.put(b'0' + high as u8);
                s.put(b'}');
            }
            Body::Error(st) => nanoesp_http::response::write_error_body(s, st),
        }
    }

    /// Writes the head of the response carrying `body`: its status and type worked out
    /// here once for both callers.
    #[inline(never)]
    fn head(s: &mut Window, body: Body, body_len: u16) {
        nanoesp_http::response::write_head(s, body.status(), body.content_type(), body_len);
    }
}

impl<C: Config> RenderBody for C {}

/// Console messages (each rendered as one line ending in `\r\n`).
///
/// The lines that report a driver event come in the order of [`nanoesp_at::driver::Event`]'s
/// first nine variants, each one past its event: the server maps them with one addition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line {
    /// `nanoesp <BUILD_ID> board=... esp=... link=... baud=... ssid=...`
    Banner,
    /// `nanoesp: probing ESP (AT)`
    Probing,
    /// `nanoesp: ESP does not answer; check wiring, power and baud`
    NoResponse,
    /// `nanoesp: ESP AT version <v>`
    Version,
    /// `nanoesp: joining <ssid>`
    Joining,
    /// `nanoesp: join failed: <reason> (code N), retry in S s`, with the numbers of
    /// [`JoinFailure`] (one byte per queued line instead of three).
    JoinFailed,
    /// `nanoesp: waiting for the stored network`
    WaitingStored,
    /// `nanoesp: wifi disconnected`
    WifiLost,
    /// `nanoesp: ready http://<ip>:<port>/`
    Ready,
    /// `nanoesp: ESP reset detected, re-initialising`
    Reset,
    /// `nanoesp: warning: AT 2.x on ESP8266 is not reliable; use NonOS AT 1.7.4+`
    At2Warning,
}

/// The numbers of the last failed join, shown by [`Line::JoinFailed`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JoinFailure {
    /// `+CWJAP` code
    pub code: u8,
    /// seconds to the retry
    pub retry_s: u8,
}

/// Fixed text piece `n`: the pieces of the status and pin JSON and the page's end, then the
/// console's (its prefix, the text of every line but the banner, the other pieces of the
/// lines). One list and a short call per piece: a flash string passed at each call cost 6
/// bytes more per call, and a list per use 10 bytes more. The response pieces lead, as each
/// call scans the list from its start and responses are rendered far more often than
/// console lines.
#[inline(never)]
fn piece(s: &mut Window, n: u8) {
    put_nth(
        s,
        pstr!(
            b"{\"firmware\":\"\0\
              \",\"esp\":\"\0\
              \",\"uptime_ms\":\0\
              ,\"analog\":\0\
              ],\"clients\":\0\
              ,\"served\":\0\
              ,\"errors\":\0\
              {\"pin\":\0\
              ,\"value\":\0\
              </pre><p><a href=/api/status>/api/status</a></p><script>\
              var e=document.getElementById('s'),\
              f=j=>e.textContent=j.analog.map((v,i)=>`A${i}  ${v}`).join('\\n')+\
              `\\n\\nup ${j.uptime_ms/1e3|0} s, ${j.clients} connected, ${j.served} served`;\
              f(JSON.parse(e.textContent));\
              setInterval(()=>fetch('/api/status').then(r=>r.json()).then(f,()=>0),2e3)\
              </script></body></html>\n\0\
              nanoesp: \0\
              probing ESP (AT)\0\
              ESP does not answer; check wiring, power and baud\0\
              ESP AT version \0\
              joining \0\
              join failed: \0\
              waiting for the stored network\0\
              wifi disconnected\0\
              ready http:/\0\
              ESP reset detected, re-initialising\0\
              warning: AT 2.x on ESP8266 is not reliable; use NonOS AT 1.7.4+\0\
              \x20(code \0\
              ), retry in \0\
              \x20s\0\
              timeout\0\
              wrong password\0\
              AP not found\0\
              connect failed\0\
              no answer\0\
              \r\n\0"
        ),
        n,
    );
}

/// Console pieces of [`piece`]: `"nanoesp: "` (before the lines, so a line's text is
/// piece `LINES + Line as u8`), the three pieces of the join failure's numbers, the
/// `+CWJAP` reasons (codes 1..=4, then `no answer` for the others) and the line end.
const LINES: u8 = 10;
const PREFIX: u8 = LINES;
const CODE: u8 = LINES + 11;
const REASONS: u8 = LINES + 14;
const CRLF: u8 = LINES + 19;
/// The page's end after its readings: the link to the JSON and the script that formats the
/// readings and fetches them again every 2 s (one short request on one of the
/// `max_clients` connections).
const PAGE_END: u8 = 9;

/// Renders console lines with the texts of configuration `Self` and the state of a driver
/// with settings `S` (every [`Config`] does). A trait for the reason given at [`RenderBody`].
pub trait RenderLine<S: Settings>: Config {
    /// Writes one console line.
    #[inline(never)]
    fn line(s: &mut Window, line: Line, esp: &Driver<S>, join: JoinFailure) {
        if line == Line::Banner {
            put_p(s, Self::BANNER);
        } else {
            piece(s, PREFIX);
            piece(s, LINES + line as u8);
            match line {
                Line::Version => nanoesp_http::sink::put_bytes(s, esp.version()),
                Line::Joining => put_p(s, Self::SSID),
                Line::JoinFailed => {
                    let JoinFailure { code, retry_s } = join;
                    // Codes 1..=4 to their reasons, 0 (wrapping to 255) and the rest to
                    // `no answer`, the last: one clamp (2 B smaller than a range test).
                    piece(s, REASONS + code.wrapping_sub(1).min(4));
                    piece(s, CODE);
                    put_u16(s, code as u16);
                    piece(s, CODE + 1);
                    put_u16(s, retry_s as u16);
                    piece(s, CODE + 2);
                }
                Line::Ready => {
                    // The text ends in "http:/": the first octet's separator is the second '/',
                    // so every octet has one and the loop needs no first-octet test.
                    // The octets are shifted out of one 32-bit value: iterating the array kept
                    // it in a stack frame of its own.
                    let mut sep = b'/';
                    let mut ip = u32::from_le_bytes(esp.ip());
                    for _ in 0..4u8 {
                        s.put(sep);
                        sep = b'.';
                        put_u16(s, ip as u8 as u16);
                        ip >>= 8;
                    }
                    s.put(b':');
                    put_u16(s, Self::PORT);
                    s.put(b'/');
                }
                _ => {}
            }
        }
        piece(s, CRLF);
    }
}

impl<C: Config, S: Settings> RenderLine<S> for C {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DriverSettings;
    use nanoesp_http::PStr;

    struct Cfg;

    impl Config for Cfg {
        const BUILD_ID: PStr = pstr!(b"12345678");
        const BANNER: PStr = crate::banner!(
            build_id: b"12345678",
            board: b"nano",
            esp: b"esp01",
            link: b"soft",
            baud: 9600,
            ssid: b"lab",
        );
        const LINK_BAUD: u32 = 9600;
        const LINK_SAVE_BAUD: bool = false;
        const SSID: PStr = pstr!(b"lab");
        const PASSWORD: PStr = pstr!(b"p");
        const SOFTAP: bool = false;
        const STORED: bool = false;
        const HOSTNAME: PStr = pstr!(b"h");
        const PORT: u16 = 8080;
        const MAX_CLIENTS: u8 = 2;
        const PAGE: PStr = crate::page!(title: b"t", text: b"x");
    }

    fn text(l: Line, join: JoinFailure) -> String {
        let esp = Driver::<DriverSettings<Cfg, 2>>::new();
        let mut out = [0u8; 128];
        let mut w = Window::new(0, &mut out);
        Cfg::line(&mut w, l, &esp, join);
        let n = w.filled();
        String::from_utf8(out[..n].to_vec()).unwrap()
    }

    #[test]
    fn the_banner_holds_the_build_id_and_the_ssid() {
        let text = |p: PStr| (0..p.len()).map(|i| p.get(i)).collect::<Vec<u8>>();
        assert_eq!(text(crate::banner_build_id(Cfg::BANNER, 8)), b"12345678");
        assert_eq!(text(crate::banner_ssid(Cfg::BANNER, 3)), b"lab");
    }

    fn rendered(body: Body, snap: &Snapshot) -> String {
        let mut out = [0u8; 2048];
        let mut w = Window::new(0, &mut out);
        Cfg::body(&mut w, body, snap);
        let n = w.filled();
        assert!(n < out.len(), "body larger than the test buffer");
        String::from_utf8(out[..n].to_vec()).unwrap()
    }

    /// A snapshot with analog inputs 0, 1, 2, 3, 1023, 5, 6, 7.
    fn snapshot(uptime_ms: u32, [clients, served, errors]: [u32; 3], esp: &[u8]) -> Snapshot {
        let mut snap = Snapshot {
            uptime_ms,
            analog: [0, 1, 2, 3, 1023, 5, 6, 7],
            clients: clients as u8,
            served,
            errors,
            ..Snapshot::default()
        };
        snap.esp_version[..esp.len()].copy_from_slice(esp);
        snap.esp_version_len = esp.len() as u8;
        snap
    }

    #[test]
    fn status_body() {
        assert_eq!(
            rendered(Body::Status, &snapshot(4_294_967_295, [2, 10, 0], b"1\"2")),
            "{\"firmware\":\"12345678\",\"esp\":\"1\\\"2\",\"uptime_ms\":4294967295,\
             \"analog\":[0,1,2,3,1023,5,6,7],\"clients\":2,\"served\":10,\"errors\":0}"
        );
    }

    /// Its version has characters that must not open markup inside the page's `<pre>`.
    fn reading_snapshot() -> Snapshot {
        snapshot(61_500, [1, 3, 1], b"1.7<b>&")
    }

    #[test]
    fn the_page_carries_the_status_json_between_its_head_and_its_script() {
        let snap = reading_snapshot();
        let page = rendered(Body::Page, &snap);
        let json = rendered(Body::Status, &snap);
        let head: Vec<u8> = (0..Cfg::PAGE.len()).map(|i| Cfg::PAGE.get(i)).collect();
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("<!DOCTYPE html>") && head.contains("<h1>t</h1><p>x</p>"));
        let rest = page.strip_prefix(&head).expect("page starts with its head");
        assert!(head.ends_with("<pre id=\"s\">"));
        let rest = rest
            .strip_prefix(&json)
            .expect("the readings follow the head");
        assert!(json.contains("\"analog\":[0,1,2,3,1023,5,6,7]"));
        assert!(json.contains("\"esp\":\"1.7?b??\""), "{json}");
        assert!(rest.starts_with("</pre>") && rest.ends_with("</script></body></html>\n"));
        assert!(
            !json.contains(['<', '>', '&']),
            "markup in the readings: {json}"
        );
    }

    /// Runs the page's script in Node.js with a stand-in for the document, `fetch` and
    /// `setInterval`: it must format the readings the page carries, show fresh ones from
    /// `/api/status`, and keep the last ones when a fetch fails (the Nano answered 503).
    #[test]
    fn the_page_script_formats_and_refreshes_the_readings() {
        let page = rendered(Body::Page, &reading_snapshot());
        let harness = r#"
            const page = require('fs').readFileSync(0, 'utf8');
            const pre = /<pre id="s">([^<]*)<\/pre>/.exec(page)[1];
            const script = /<script>([^<]*)<\/script>/.exec(page)[1];
            const el = { textContent: pre };
            const document = { getElementById: (id) => (id === 's' ? el : null) };
            let tick = null, period = 0, answer = null, asked = [];
            const setInterval = (f, ms) => { tick = f; period = ms; };
            const fetch = (url) => { asked.push(url); return answer; };
            new Function('document', 'setInterval', 'fetch', script)(document, setInterval, fetch);
            const shown = [el.textContent];
            (async () => {
                const next = { firmware: 'x', esp: 'AT 1.7', uptime_ms: 2500, analog: [9, 8, 7, 6, 5, 4, 3, 2], clients: 2, served: 4, errors: 0 };
                answer = Promise.resolve({ json: () => Promise.resolve(next) });
                tick();
                await new Promise((r) => setTimeout(r, 10));
                shown.push(el.textContent);
                answer = Promise.resolve({ json: () => Promise.reject(new Error('503')) });
                tick();
                await new Promise((r) => setTimeout(r, 10));
                shown.push(el.textContent);
                console.log(JSON.stringify({ shown, period, asked }));
            })();
        "#;
        let mut child = std::process::Command::new("node")
            .arg("-e")
            .arg(harness)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect(
                "this test needs Node.js (Debian package nodejs; scripts/setup.sh installs it)",
            );
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(page.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "node failed");
        let out = String::from_utf8(out.stdout).unwrap();
        let field = |name: &str| {
            let at = out.find(&format!("\"{name}\":")).unwrap() + name.len() + 3;
            out[at..].split([',', '}']).next().unwrap().to_string()
        };
        assert_eq!(field("period"), "2000", "{out}");
        assert!(
            out.contains("\"asked\":[\"/api/status\",\"/api/status\"]"),
            "{out}"
        );
        let first = "A0  0\\nA1  1\\nA2  2\\nA3  3\\nA4  1023\\nA5  5\\nA6  6\\nA7  7\\n\\n\
                     up 61 s, 1 connected, 3 served";
        let fresh = "A0  9\\nA1  8\\nA2  7\\nA3  6\\nA4  5\\nA5  4\\nA6  3\\nA7  2\\n\\n\
                     up 2 s, 2 connected, 4 served";
        assert!(
            out.contains(&format!("\"shown\":[\"{first}\",\"{fresh}\",\"{fresh}\"]")),
            "{out}"
        );
    }

    #[test]
    fn every_console_line() {
        let lines = [
            (
                Line::Banner,
                "nanoesp 12345678 board=nano esp=esp01 link=soft baud=9600 ssid=lab",
            ),
            (Line::Probing, "nanoesp: probing ESP (AT)"),
            (
                Line::NoResponse,
                "nanoesp: ESP does not answer; check wiring, power and baud",
            ),
            (Line::Version, "nanoesp: ESP AT version "),
            (
                Line::At2Warning,
                "nanoesp: warning: AT 2.x on ESP8266 is not reliable; use NonOS AT 1.7.4+",
            ),
            (Line::Joining, "nanoesp: joining lab"),
            (
                Line::WaitingStored,
                "nanoesp: waiting for the stored network",
            ),
            (Line::WifiLost, "nanoesp: wifi disconnected"),
            (Line::Reset, "nanoesp: ESP reset detected, re-initialising"),
            (Line::Ready, "nanoesp: ready http://0.0.0.0:8080/"),
        ];
        for (l, want) in lines {
            assert_eq!(text(l, JoinFailure::default()), format!("{want}\r\n"));
        }
        let failures = [
            (2, 5, "wrong password (code 2), retry in 5 s"),
            (7, 60, "no answer (code 7), retry in 60 s"),
        ];
        for (code, retry_s, want) in failures {
            assert_eq!(
                text(Line::JoinFailed, JoinFailure { code, retry_s }),
                format!("nanoesp: join failed: {want}\r\n")
            );
        }
    }
}
