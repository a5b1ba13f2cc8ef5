//! Execution of AT command lines once their processing time has passed: the server-relevant
//! command set of spec §2 with 1.7 and 2.x byte formats. Every path ends in a final result
//! (or starts a multi-step state: join, CIPSEND prompt, restart); malformed input → `ERROR`.

use crate::params::{self, Form, Param};
use crate::{Esp, Kind, MAX_LINKS, Mode, Profile, Timer, WifiState};

/// `_CUR` / `_DEF` / none suffix of a 1.7 command name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Suffix {
    Plain,
    Cur,
    Def,
}

impl Suffix {
    fn text(self) -> &'static str {
        match self {
            Suffix::Plain => "",
            Suffix::Cur => "_CUR",
            Suffix::Def => "_DEF",
        }
    }
}

fn split_suffix(name: &str) -> (&str, Suffix) {
    if let Some(base) = name.strip_suffix("_CUR") {
        (base, Suffix::Cur)
    } else if let Some(base) = name.strip_suffix("_DEF") {
        (base, Suffix::Def)
    } else {
        (name, Suffix::Plain)
    }
}

fn ip_text(ip: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3])
}

/// Integer parameter `i` within `lo..=hi`.
fn int_in(p: &[Param], i: usize, lo: i64, hi: i64) -> Option<i64> {
    p.get(i)?.int().filter(|v| (lo..=hi).contains(v))
}

const STA_MAC: &str = "5c:cf:7f:00:00:01";
const AP_MAC: &str = "5e:cf:7f:00:00:01";
const AP_BSSID: &str = "aa:bb:cc:dd:ee:ff";

impl Esp {
    /// Runs one complete command line (without its line ending).
    pub(crate) fn exec(&mut self, line: &[u8]) {
        if line.len() > 256 {
            return self.error();
        }
        let Ok(cmd) = params::parse(line) else {
            return self.error();
        };
        let at2 = self.cfg.profile == Profile::At2;
        let (base, suffix) = split_suffix(&cmd.name);
        // 2.x dropped the _CUR/_DEF variants, except for the UART commands.
        if at2 && suffix != Suffix::Plain && base != "+UART" {
            return self.error();
        }
        match (base, &cmd.form) {
            ("", Form::Exec) => self.ok(),
            ("E0", Form::Exec) => {
                self.echo = false;
                self.ok()
            }
            ("E1", Form::Exec) => {
                self.echo = true;
                self.ok()
            }
            ("+RST", Form::Exec) => {
                self.reply(b"\r\nOK\r\n");
                self.restart();
            }
            ("+GMR", Form::Exec) => {
                let text: &[u8] = match self.cfg.profile {
                    Profile::At17 => {
                        b"AT version:1.7.4.0(May 11 2020 19:13:04)\r\nSDK version:3.0.4(9532ceb)\r\ncompile time:May 27 2020 10:12:17\r\nBin version(Wroom 02):1.7.4\r\n\r\nOK\r\n"
                    }
                    Profile::At2 => {
                        b"AT version:2.2.2.0(b9a6cb0 - ESP8266 - Jun 29 2023 03:55:21)\r\nSDK version:v3.4-22-g967752e2\r\ncompile time(6800286):Jun 29 2023 06:34:31\r\nBin version:2.2.2(WROOM-02)\r\n\r\nOK\r\n"
                    }
                };
                self.reply(text);
                self.go_idle();
            }
            ("+CWMODE", form) => self.cmd_cwmode(suffix, form),
            ("+CWJAP", form) => self.cmd_cwjap(suffix, form),
            ("+CWQAP", Form::Exec) => {
                if self.wifi != WifiState::Disconnected {
                    self.join_epoch += 1;
                    self.wifi = WifiState::Disconnected;
                    self.drop_links_reporting();
                    self.urc(b"WIFI DISCONNECT\r\n");
                }
                self.ok()
            }
            ("+CIFSR", Form::Exec) => self.cmd_cifsr(),
            ("+CIPSTA", Form::Query) => {
                let prefix = format!("+CIPSTA{}", suffix.text());
                let ip = if self.wifi == WifiState::GotIp {
                    self.cfg.ip
                } else {
                    [0; 4]
                };
                let gw = if self.wifi == WifiState::GotIp {
                    [ip[0], ip[1], ip[2], 1]
                } else {
                    [0; 4]
                };
                let mask = if self.wifi == WifiState::GotIp {
                    [255, 255, 255, 0]
                } else {
                    [0; 4]
                };
                let text = format!(
                    "{prefix}:ip:\"{}\"\r\n{prefix}:gateway:\"{}\"\r\n{prefix}:netmask:\"{}\"\r\n\r\nOK\r\n",
                    ip_text(ip),
                    ip_text(gw),
                    ip_text(mask)
                );
                self.reply(text.as_bytes());
                self.go_idle();
            }
            ("+CIPMUX", Form::Query) => self.query_line(format!("+CIPMUX:{}", u8::from(self.mux))),
            ("+CIPMUX", Form::Set(p)) if suffix == Suffix::Plain => {
                let Some(m) = int_in(p, 0, 0, 1).filter(|_| p.len() == 1) else {
                    return self.error();
                };
                if (m == 1) == self.mux {
                    return self.ok();
                }
                if self.server_port.is_some() {
                    if !at2 {
                        self.reply(b"CIPSERVER must be 0\r\n");
                    }
                    return self.error();
                }
                if self.links_in_use() > 0 {
                    if !at2 {
                        self.reply(b"link is builded\r\n");
                    }
                    return self.error();
                }
                self.mux = m == 1;
                self.ok()
            }
            ("+CIPSERVERMAXCONN", Form::Query) => {
                self.query_line(format!("+CIPSERVERMAXCONN:{}", self.max_conn))
            }
            ("+CIPSERVERMAXCONN", Form::Set(p)) => {
                let Some(n) = int_in(p, 0, 1, MAX_LINKS as i64).filter(|_| p.len() == 1) else {
                    return self.error();
                };
                if self.server_port.is_some() {
                    return self.error();
                }
                self.max_conn = n as u8;
                self.ok()
            }
            ("+CIPSERVER", Form::Query) => {
                let text = match self.server_port {
                    Some(port) => format!("+CIPSERVER:1,{port}"),
                    None => "+CIPSERVER:0".to_string(),
                };
                self.query_line(text)
            }
            ("+CIPSERVER", Form::Set(p)) => self.cmd_cipserver(p),
            ("+CIPSTO", Form::Query) => self.query_line(format!("+CIPSTO:{}", self.sto_s)),
            ("+CIPSTO", Form::Set(p)) => {
                let Some(s) = int_in(p, 0, 0, 7200).filter(|_| p.len() == 1) else {
                    return self.error();
                };
                self.sto_s = s as u16;
                for id in 0..MAX_LINKS {
                    if let Some(epoch) = self.links[id].as_ref().map(|l| l.epoch) {
                        self.schedule_idle_check(id, epoch);
                    }
                }
                self.ok()
            }
            ("+CIPSEND", Form::Set(p)) => self.cmd_cipsend(p, false),
            ("+CIPSENDEX", Form::Set(p)) => self.cmd_cipsend(p, true),
            ("+CIPCLOSE", Form::Set(p)) => self.cmd_cipclose(p),
            ("+CIPSTATUS", Form::Exec) => self.cmd_cipstatus(),
            ("+CIPRECVMODE", Form::Query) => {
                self.query_line(format!("+CIPRECVMODE:{}", u8::from(self.passive)))
            }
            ("+CIPRECVMODE", Form::Set(p)) => {
                let Some(m) = int_in(p, 0, 0, 1).filter(|_| p.len() == 1) else {
                    return self.error();
                };
                self.passive = m == 1;
                self.ok()
            }
            ("+CIPRECVDATA", Form::Set(p)) => self.cmd_ciprecvdata(p),
            ("+CIPRECVLEN", Form::Query) => self.cmd_ciprecvlen(),
            ("+CIPDINFO", Form::Query) => {
                self.query_line(format!("+CIPDINFO:{}", u8::from(self.dinfo)))
            }
            ("+CIPDINFO", Form::Set(p)) => {
                let Some(m) = int_in(p, 0, 0, 1).filter(|_| p.len() == 1) else {
                    return self.error();
                };
                self.dinfo = m == 1;
                self.ok()
            }
            ("+UART", form) if suffix != Suffix::Plain || !at2 => self.cmd_uart(suffix, form),
            ("+CWHOSTNAME", Form::Query) => {
                let mut text = b"+CWHOSTNAME:".to_vec();
                text.extend_from_slice(&self.hostname);
                text.extend_from_slice(b"\r\n\r\nOK\r\n");
                self.reply(&text);
                self.go_idle();
            }
            ("+CWHOSTNAME", Form::Set(p)) => {
                let Some(name) = p.first().and_then(Param::string).filter(|_| p.len() == 1) else {
                    return self.error();
                };
                if name.is_empty() || name.len() > 32 || self.wifi_mode & 1 == 0 {
                    return self.error();
                }
                self.hostname = name.to_vec();
                self.ok()
            }
            ("+MDNS", Form::Set(p)) => {
                let valid = match p.len() {
                    1 => int_in(p, 0, 0, 0).is_some(),
                    4 => {
                        int_in(p, 0, 1, 1).is_some()
                            && p[1].string().is_some_and(|s| !s.is_empty())
                            && p[2].string().is_some_and(|s| !s.is_empty())
                            && int_in(p, 3, 1, 65535).is_some()
                    }
                    _ => false,
                };
                if valid { self.ok() } else { self.error() }
            }
            ("+SYSSTORE", Form::Set(p)) if at2 => {
                if int_in(p, 0, 0, 1).is_some() && p.len() == 1 {
                    self.ok()
                } else {
                    self.error()
                }
            }
            _ => self.error(),
        }
    }

    /// One information line then OK.
    fn query_line(&mut self, line: String) {
        self.reply(format!("{line}\r\n\r\nOK\r\n").as_bytes());
        self.go_idle();
    }

    fn cmd_cwmode(&mut self, suffix: Suffix, form: &Form) {
        let name = format!("+CWMODE{}", suffix.text());
        match form {
            Form::Query => {
                let m = if suffix == Suffix::Def {
                    self.wifi_mode_saved
                } else {
                    self.wifi_mode
                };
                self.query_line(format!("{name}:{m}"))
            }
            Form::Test => self.query_line(format!("{name}:(1-3)")),
            Form::Set(p) => {
                // 2.x accepts an optional auto-connect flag.
                let max_params = if self.cfg.profile == Profile::At2 {
                    2
                } else {
                    1
                };
                let Some(m) = int_in(p, 0, 1, 3).filter(|_| p.len() <= max_params) else {
                    return self.error();
                };
                self.wifi_mode = m as u8;
                if suffix != Suffix::Cur {
                    self.wifi_mode_saved = m as u8;
                }
                self.ok()
            }
            Form::Exec => self.error(),
        }
    }

    fn cmd_cwjap(&mut self, suffix: Suffix, form: &Form) {
        let at2 = self.cfg.profile == Profile::At2;
        match form {
            Form::Query => {
                if self.wifi == WifiState::Disconnected {
                    self.reply(b"No AP\r\n\r\nOK\r\n");
                    return self.go_idle();
                }
                let prefix = if at2 {
                    "+CWJAP".to_string()
                } else {
                    format!("+CWJAP{}", suffix.text())
                };
                let mut text = format!("{prefix}:\"").into_bytes();
                text.extend_from_slice(&self.cfg.ap_ssid);
                text.extend_from_slice(format!("\",\"{AP_BSSID}\",6,-45\r\n\r\nOK\r\n").as_bytes());
                self.reply(&text);
                self.go_idle()
            }
            Form::Set(p) => {
                let (Some(ssid), Some(pwd)) = (
                    p.first().and_then(Param::string),
                    p.get(1).and_then(Param::string),
                ) else {
                    return self.error();
                };
                if self.wifi_mode & 1 == 0 || ssid.is_empty() {
                    return self.error();
                }
                let code = if let Some(code) = self.cfg.switches.join_failure_code {
                    Some(code)
                } else if ssid != self.cfg.ap_ssid.as_slice() {
                    Some(3)
                } else if pwd != self.cfg.ap_password.as_slice() {
                    Some(2)
                } else {
                    None
                };
                // `_DEF` (and the plain form, which saves too) writes the station config to
                // flash before connecting, whether or not the join then succeeds.
                if suffix != Suffix::Cur {
                    self.wifi_saved = Some((ssid.to_vec(), pwd.to_vec()));
                }
                self.join_epoch += 1;
                let epoch = self.join_epoch;
                if self.wifi != WifiState::Disconnected {
                    self.wifi = WifiState::Disconnected;
                    self.drop_links_reporting();
                    self.urc(b"WIFI DISCONNECT\r\n");
                }
                self.mode = Mode::Joining;
                match code {
                    None => {
                        let d = self.cfg.timing.join_connect_us;
                        self.schedule_in(d, Timer::JoinConnected { epoch });
                    }
                    Some(code) => {
                        let d = self.cfg.timing.join_fail_us;
                        self.schedule_in(d, Timer::JoinFailed { epoch, code });
                    }
                }
            }
            Form::Exec | Form::Test => self.error(),
        }
    }

    /// Links vanish when the station leaves the AP; each is reported CLOSED.
    fn drop_links_reporting(&mut self) {
        self.drop_all_links(true);
    }

    fn cmd_cifsr(&mut self) {
        let mut text = String::new();
        if self.wifi_mode & 2 != 0 {
            text.push_str(&format!(
                "+CIFSR:APIP,\"192.168.4.1\"\r\n+CIFSR:APMAC,\"{AP_MAC}\"\r\n"
            ));
        }
        if self.wifi_mode & 1 != 0 {
            let ip = if self.wifi == WifiState::GotIp {
                self.cfg.ip
            } else {
                [0; 4]
            };
            text.push_str(&format!(
                "+CIFSR:STAIP,\"{}\"\r\n+CIFSR:STAMAC,\"{STA_MAC}\"\r\n",
                ip_text(ip)
            ));
        }
        text.push_str("\r\nOK\r\n");
        self.reply(text.as_bytes());
        self.go_idle();
    }

    fn cmd_cipserver(&mut self, p: &[Param]) {
        let Some(on) = int_in(p, 0, 0, 1) else {
            return self.error();
        };
        if on == 1 {
            let port = match p.len() {
                1 => 333,
                2 => match int_in(p, 1, 1, 65535) {
                    Some(port) => port as u16,
                    None => return self.error(),
                },
                _ => return self.error(),
            };
            if !self.mux {
                return self.error();
            }
            if self.server_port.is_some() {
                self.reply(b"no change\r\n");
                return self.ok();
            }
            self.server_port = Some(port);
            self.ok()
        } else {
            let close_all = match p.len() {
                1 => false,
                2 if self.cfg.profile == Profile::At2 => int_in(p, 1, 0, 1) == Some(1),
                _ => return self.error(),
            };
            if self.server_port.is_none() {
                self.reply(b"no change\r\n");
                return self.ok();
            }
            self.server_port = None;
            self.refuse_backlog();
            if close_all {
                self.drop_all_links(true);
            }
            self.ok()
        }
    }

    fn cmd_cipsend(&mut self, p: &[Param], ex: bool) {
        if !self.mux || p.len() != 2 {
            return self.error();
        }
        let (Some(id), Some(len)) = (p[0].int(), p[1].int()) else {
            return self.error();
        };
        if !(1..=2048).contains(&len) || !(0..MAX_LINKS as i64).contains(&id) {
            return self.error();
        }
        let id = id as usize;
        let Some(epoch) = self.links[id]
            .as_ref()
            .filter(|l| !l.zombie)
            .map(|l| l.epoch)
        else {
            self.reply(b"link is not valid\r\n");
            return self.error();
        };
        self.reply(b"\r\nOK\r\n");
        self.mode = Mode::PromptPending {
            link: id,
            epoch,
            len: len as usize,
            ex,
        };
        let d = self.draw(self.cfg.timing.prompt_us);
        self.schedule_in(d, Timer::Prompt);
    }

    fn cmd_cipclose(&mut self, p: &[Param]) {
        if !self.mux || p.len() != 1 {
            return self.error();
        }
        let Some(id) = int_in(p, 0, 0, MAX_LINKS as i64) else {
            return self.error();
        };
        let id = id as usize;
        if id == MAX_LINKS {
            for i in 0..MAX_LINKS {
                if let Some(link) = self.links[i].as_ref() {
                    if !link.zombie {
                        self.reply(format!("{i},CLOSED\r\n").as_bytes());
                    }
                    self.close_conn_of(i);
                    self.free_link(i);
                }
            }
            return self.ok();
        }
        match self.links[id].as_ref() {
            Some(link) if !link.zombie => {
                self.reply(format!("{id},CLOSED\r\n").as_bytes());
                self.close_conn_of(id);
                self.free_link(id);
                self.ok()
            }
            zombie => {
                // Already reported CLOSED (or never open): the link is gone.
                if zombie.is_some() {
                    self.free_link(id);
                }
                if self.cfg.profile == Profile::At17 {
                    self.reply(b"UNLINK\r\n");
                }
                self.error()
            }
        }
    }

    fn cmd_cipstatus(&mut self) {
        let status = if self.wifi != WifiState::GotIp {
            5
        } else if self.links.iter().flatten().any(|l| !l.zombie) {
            3
        } else if self.had_link {
            4
        } else {
            2
        };
        let mut text = format!("STATUS:{status}\r\n");
        let lport = self.server_port.unwrap_or(333);
        for (id, link) in self.links.iter().enumerate() {
            if let Some(link) = link.as_ref().filter(|l| !l.zombie) {
                text.push_str(&format!(
                    "+CIPSTATUS:{id},\"TCP\",\"{}\",{},{lport},1\r\n",
                    ip_text(self.cfg.client_ip),
                    link.remote_port
                ));
            }
        }
        text.push_str("\r\nOK\r\n");
        self.reply(text.as_bytes());
        self.go_idle();
    }

    fn cmd_ciprecvlen(&mut self) {
        let idle = match self.cfg.profile {
            Profile::At17 => "0",
            Profile::At2 => "-1",
        };
        let parts: Vec<String> = self
            .links
            .iter()
            .map(|l| match l {
                Some(link) => link.rx.len().to_string(),
                None => idle.to_string(),
            })
            .collect();
        self.query_line(format!("+CIPRECVLEN:{}", parts.join(",")))
    }

    fn cmd_ciprecvdata(&mut self, p: &[Param]) {
        if !self.mux || !self.passive || p.len() != 2 {
            return self.error();
        }
        let (Some(id), Some(max)) = (
            int_in(p, 0, 0, MAX_LINKS as i64 - 1),
            int_in(p, 1, 1, i64::MAX),
        ) else {
            return self.error();
        };
        let id = id as usize;
        let Some(link) = self.links[id].as_mut() else {
            return self.error();
        };
        if link.rx.is_empty() {
            return self.error();
        }
        let n = link.rx.len().min(max as usize);
        let data: Vec<u8> = link.rx.drain(..n).collect();
        link.notified = false;
        let port = link.remote_port;
        let mut msg = match self.cfg.profile {
            Profile::At17 => format!("+CIPRECVDATA,{n}:").into_bytes(),
            Profile::At2 if self.dinfo => format!(
                "+CIPRECVDATA:{n},\"{}\",{port},",
                ip_text(self.cfg.client_ip)
            )
            .into_bytes(),
            Profile::At2 => format!("+CIPRECVDATA:{n},").into_bytes(),
        };
        msg.extend_from_slice(&data);
        msg.extend_from_slice(b"\r\nOK\r\n");
        self.push(msg, Kind::Reply);
        self.go_idle();
        // Space freed in the window: throttled client bytes flow in (and may notify).
        let before = self.links[id].as_ref().map_or(0, |l| l.rx.len());
        self.take_client_bytes(id);
        let Some(link) = self.links[id].as_mut() else {
            return;
        };
        let remaining = link.rx.len();
        if remaining == 0 {
            if link.peer_closed {
                self.urc(format!("{id},CLOSED\r\n").as_bytes());
                self.free_link(id);
            } else if link.zombie {
                self.free_link(id);
            }
            return;
        }
        // take_client_bytes already notified if it moved bytes and the policy asked for it.
        let just_notified = remaining != before && link.notified;
        if self.cfg.switches.renotify_after_partial_read && !just_notified {
            link.notified = true;
            self.urc(format!("\r\n+IPD,{id},{remaining}\r\n").as_bytes());
        }
    }

    fn cmd_uart(&mut self, suffix: Suffix, form: &Form) {
        let name = format!("+UART{}", suffix.text());
        match form {
            Form::Query => {
                let baud = if suffix == Suffix::Def {
                    self.baud_saved
                } else {
                    self.tx.baud()
                };
                self.query_line(format!("{name}:{baud},8,1,0,0"))
            }
            Form::Set(p) => {
                let max_baud = match self.cfg.profile {
                    Profile::At17 => 115_200 * 40,
                    Profile::At2 => 4_500_000,
                };
                let valid = p.len() == 5
                    && int_in(p, 1, 5, 8).is_some()
                    && int_in(p, 2, 1, 3).is_some()
                    && int_in(p, 3, 0, 2).is_some()
                    && int_in(p, 4, 0, 3).is_some();
                let Some(baud) = int_in(p, 0, 80, max_baud).filter(|_| valid) else {
                    return self.error();
                };
                // The OK leaves at the old rate; the marker switches the UART after it.
                self.ok();
                self.tx.push_baud_change(baud as u32);
                if suffix != Suffix::Cur {
                    self.baud_saved = baud as u32;
                }
            }
            Form::Exec | Form::Test => self.error(),
        }
    }
}
