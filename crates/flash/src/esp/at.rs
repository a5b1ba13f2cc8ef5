//! Talking to the AT firmware: identify it (`AT+GMR`) and store Wi-Fi credentials.

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use super::EspError;

/// Escapes a string for a quoted AT parameter: `"`, `,` and `\` get a backslash, the
/// same rule the firmware runtime's `nanoesp_at::cmd::put_escaped` applies.
pub fn escape_at(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if matches!(c, '"' | ',' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

struct AtPort {
    port: serialport::TTYPort,
    path: std::path::PathBuf,
}

impl AtPort {
    fn open(path: &Path, baud: u32) -> Result<AtPort, EspError> {
        let port = serialport::new(path.to_string_lossy(), baud)
            .timeout(Duration::from_millis(20))
            .flow_control(serialport::FlowControl::None)
            .open_native()
            .map_err(|e| EspError::Open {
                port: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        Ok(AtPort {
            port,
            path: path.to_path_buf(),
        })
    }

    fn send(&mut self, line: &str) -> Result<(), EspError> {
        let _ = serialport::SerialPort::clear(&self.port, serialport::ClearBuffer::Input);
        self.port
            .write_all(line.as_bytes())
            .and_then(|_| self.port.flush())
            .map_err(|e| EspError::Io {
                port: self.path.clone(),
                source: e,
            })
    }

    /// Reads until `done` says the answer is complete or `timeout` passes.
    fn read_until(
        &mut self,
        timeout: Duration,
        done: impl Fn(&[u8]) -> bool,
    ) -> Result<Vec<u8>, EspError> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        while Instant::now() < deadline {
            let mut buf = [0u8; 256];
            match self.port.read(&mut buf) {
                Ok(n) => {
                    got.extend_from_slice(&buf[..n]);
                    if done(&got) {
                        break;
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                    ) => {}
                Err(e) => {
                    return Err(EspError::Io {
                        port: self.path.clone(),
                        source: e,
                    });
                }
            }
        }
        Ok(got)
    }

    /// `AT` until `OK`, for up to `timeout` (the module may still be booting).
    fn wake(&mut self, timeout: Duration) -> Result<bool, EspError> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            self.send("AT\r\n")?;
            let got = self.read_until(Duration::from_millis(300), |g| contains(g, b"OK\r\n"))?;
            if contains(&got, b"OK\r\n") {
                // Let a late duplicate settle.
                std::thread::sleep(Duration::from_millis(20));
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Sends a command; returns the answer up to a final result line.
    fn command(&mut self, line: &str, timeout: Duration) -> Result<Vec<u8>, EspError> {
        self.send(line)?;
        self.read_until(timeout, final_result)
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn final_result(g: &[u8]) -> bool {
    contains(g, b"\r\nOK\r\n")
        || contains(g, b"ERROR\r\n")
        || contains(g, b"FAIL\r\n")
        || g.starts_with(b"OK\r\n")
}

/// Lines of an answer without the echo, blank lines and the final `OK`.
fn answer_lines(got: &[u8], echo: &str) -> Vec<String> {
    String::from_utf8_lossy(got)
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != echo && *l != "OK")
        .map(str::to_string)
        .collect()
}

/// Opens `port` at `baud` and asks `AT` (retrying for up to `timeout`, the module may be
/// booting), then `AT+GMR`. `Ok(None)`: no AT firmware answered; `Ok(Some(text))`: the
/// version lines (`AT version:…`, `SDK version:…`, …) joined with `\n`.
pub fn probe_at(port: &Path, baud: u32, timeout: Duration) -> Result<Option<String>, EspError> {
    let mut p = AtPort::open(port, baud)?;
    if !p.wake(timeout)? {
        return Ok(None);
    }
    let got = p.command("AT+GMR\r\n", Duration::from_secs(2))?;
    if !contains(&got, b"OK\r\n") {
        return Ok(None);
    }
    Ok(Some(answer_lines(&got, "AT+GMR").join("\n")))
}

fn join_reason(code: u8) -> &'static str {
    match code {
        1 => {
            "the access point did not answer in time; move the module closer or check that the network is up"
        }
        2 => "wrong password; check the password in secrets.toml",
        3 => {
            "network not found; check the SSID (it is case-sensitive) and that the network is 2.4 GHz"
        }
        4 => {
            "the connection failed; check the access point's settings (MAC filter, WPA3-only networks are not supported)"
        }
        _ => "the join failed without a reason code; check SSID, password and range",
    }
}

/// Stores Wi-Fi credentials in the AT firmware's flash: `AT+CWMODE_DEF=1` and
/// `AT+CWJAP_DEF="ssid","password"` (AT 1.7; on ESP-AT 2.x, where the `_DEF` forms are
/// gone, `AT+CWMODE=1` and `AT+CWJAP=…`, which 2.x saves by default). Strings are
/// escaped with [`escape_at`]. A failed join is [`EspError::JoinFailed`] with the
/// firmware's `+CWJAP:<code>`. The password never appears in an error.
pub fn provision(port: &Path, baud: u32, ssid: &str, password: &str) -> Result<(), EspError> {
    if ssid.is_empty() || [ssid, password].iter().any(|s| s.contains(['\r', '\n'])) {
        return Err(EspError::AtCommand {
            command: "AT+CWJAP".into(),
            answer: "nothing: the SSID is empty or the SSID/password contains a line break".into(),
        });
    }
    let mut p = AtPort::open(port, baud)?;
    if !p.wake(Duration::from_secs(5))? {
        return Err(EspError::AtNoAnswer {
            port: port.to_path_buf(),
            baud,
        });
    }
    let mut at2 = false;
    let got = p.command("AT+CWMODE_DEF=1\r\n", Duration::from_secs(2))?;
    if !contains(&got, b"OK\r\n") {
        let got = p.command("AT+CWMODE=1\r\n", Duration::from_secs(2))?;
        if !contains(&got, b"OK\r\n") {
            return Err(EspError::AtCommand {
                command: "AT+CWMODE_DEF=1".into(),
                answer: summary(&got, "AT+CWMODE=1"),
            });
        }
        at2 = true;
    }
    let verb = if at2 { "AT+CWJAP=" } else { "AT+CWJAP_DEF=" };
    let line = format!(
        "{verb}\"{}\",\"{}\"\r\n",
        escape_at(ssid),
        escape_at(password)
    );
    let got = p.command(&line, Duration::from_secs(25))?;
    drop(line);
    let text = String::from_utf8_lossy(&got);
    if let Some(i) = text.find("+CWJAP:") {
        let code: u8 = text[i + 7..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap_or(0);
        return Err(EspError::JoinFailed {
            ssid: ssid.into(),
            code,
            reason: join_reason(code).into(),
        });
    }
    if text.contains("\r\nOK\r\n") {
        return Ok(());
    }
    if text.contains("FAIL") {
        return Err(EspError::JoinFailed {
            ssid: ssid.into(),
            code: 0,
            reason: join_reason(0).into(),
        });
    }
    Err(EspError::AtCommand {
        command: format!("{verb}\"{}\",\"…\"", escape_at(ssid)),
        answer: if text.contains("ERROR") {
            "ERROR".into()
        } else {
            "nothing within 25 s".into()
        },
    })
}

/// The answer without echo, for errors (only used for commands without secrets).
fn summary(got: &[u8], echo: &str) -> String {
    let lines = answer_lines(got, echo);
    if lines.is_empty() {
        "nothing".into()
    } else {
        lines.join(" / ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_the_at_rules() {
        assert_eq!(escape_at(r#"a"b,c\d"#), r#"a\"b\,c\\d"#);
        assert_eq!(escape_at("plain"), "plain");
    }

    #[test]
    fn answer_lines_drop_echo_and_ok() {
        let got = b"AT+GMR\r\r\nAT version:1.7.4.0\r\nSDK version:3.0.4\r\n\r\nOK\r\n";
        assert_eq!(
            answer_lines(got, "AT+GMR"),
            vec!["AT version:1.7.4.0", "SDK version:3.0.4"]
        );
    }
}
