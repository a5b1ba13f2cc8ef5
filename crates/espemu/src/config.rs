//! Configuration of the emulated ESP8266: firmware profile, access point, timing, fault
//! injection and one switch per open question of the behaviour spec
//! (`/work/shared/docs/esp-at-behaviour.md`, "the spec" below, §8).
//!
//! Everything here is plain data with `Default`; callers fill a few fields and take
//! `..Default::default()` for the rest. Profile-dependent switches are `Option`s where
//! `None` means "what the selected [`Profile`] does".

/// Which AT firmware family the emulator imitates (spec §0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// NonOS AT 1.7.x (1.7.4 strings): `_CUR`/`_DEF` commands, prompt `\r\nOK\r\n> `,
    /// CWJAP failures end in `FAIL`, `+CIPRECVDATA,<n>:`, idle CIPRECVLEN entries `0`.
    #[default]
    At17,
    /// ESP-AT 2.x for ESP8266 (2.2.x): prompt `\r\nOK\r\n\r\n>`, CWJAP failures end in
    /// `ERROR`, `+CIPRECVDATA:<n>,`, idle CIPRECVLEN entries `-1`, no `_CUR`/`_DEF`,
    /// boot log on UART1 (only `\r\nready\r\n` on the AT UART), `\r\n` after active `+IPD` data.
    At2,
}

/// What happens to a client that connects while `AT+CIPSERVERMAXCONN` links are in use
/// (spec §3.2, §8 question 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverLimitPolicy {
    /// Default. The client waits in a backlog (nothing on the UART) and is accepted
    /// (`<id>,CONNECT`) 10–200 ms after a link frees. Matches the NonOS report in
    /// ESP8266_NONOS_SDK#62 and the `esp_at_backlog_link` symbol in 1.7.6.
    #[default]
    Defer,
    /// The client is never reported on the UART; its connection is refused
    /// ([`crate::NetEvent::Refused`]).
    Refuse,
}

/// How passive-mode (`AT+CIPRECVMODE=1`) data notifications are repeated (spec §3.6, §8 q2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassiveNotify {
    /// Every arriving segment produces `+IPD,<id>,<total buffered>` (growing total, as the
    /// ATMOD re-implementation of 1.7 does). Default for [`Profile::At17`].
    EveryArrival,
    /// One notification until the host reads with `AT+CIPRECVDATA` (ESP-AT 2.x documentation).
    /// Default for [`Profile::At2`].
    OncePerRead,
}

/// Whether `<id>,CLOSED` is reported while a passive-mode link still holds unread data
/// (spec §3.6, S8, §8 q2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClosedWithUnread {
    /// `<id>,CLOSED` at once (WiFiEspAT's AT1 assumption). Default for [`Profile::At17`].
    /// What later reads return is [`Switches::read_after_close`].
    ReportImmediately,
    /// `<id>,CLOSED` is held back until the data is read or the host sends `AT+CIPCLOSE`
    /// (ESP-AT 2.x documentation). Default for [`Profile::At2`].
    WithholdUntilRead,
}

/// What `AT+CIPRECVDATA` returns for a link whose peer closed (already reported
/// `CLOSED`) while unread data remained; only used with [`ClosedWithUnread::ReportImmediately`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadAfterClose {
    /// Default. The data stays readable until drained (the link id is not reused before);
    /// WiFiEspAT's AT1 path relies on reading it.
    #[default]
    Data,
    /// The data is discarded with the link; reads answer `ERROR`.
    Error,
}

/// Outcome of a `AT+CIPSEND` whose link was closed by the peer after the prompt
/// (spec §3.5, S6, §8 q4). `<id>,CLOSED` itself is always reported when the close happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SendToClosedLink {
    /// Default. `\r\nRecv <n> bytes\r\n` once the payload is complete, then `\r\nSEND FAIL\r\n`
    /// (variant a): `Recv` only depends on the UART and the send then fails in the stack;
    /// 1.7.6 carries the `data send fail` text.
    #[default]
    RecvThenSendFail,
    /// `\r\nERROR\r\n` instead of `Recv` (variant b, the 2.x documentation's wording).
    Error,
    /// `\r\nRecv <n> bytes\r\n` and nothing else: the host must time out (variant c).
    RecvOnly,
}

/// What `AT+RST` does while another command is still being processed (spec §3.3, §8 q5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResetWhileBusy {
    /// Default. `Will force to restart!!!\r\n`, then the reboot: the string sits next to the
    /// busy handling and an `AT+RST` literal in 1.7.6's `at_port.o`.
    #[default]
    ForceRestart,
    /// Treated like any other command: `busy p...`.
    Busy,
}

/// How the echo of a command line ends (spec §1 "Echo", §8 q3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EchoTerminator {
    /// Default. The received `\r` is echoed and `\r\n` appended: `AT\r\r\n` (ESP8266_AT#21 logs).
    #[default]
    CrCrLf,
    /// `AT\r\n`.
    CrLf,
}

/// Behaviour switches, one per open question of the spec (§8) plus a few modelling choices.
///
/// `Option` fields take the [`Profile`]'s behaviour when `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct Switches {
    /// Clients beyond `AT+CIPSERVERMAXCONN` (§8 q1). Default [`OverLimitPolicy::Defer`].
    pub over_limit: OverLimitPolicy,
    /// Passive-mode notification repetition (§8 q2). `None`: 1.7 every arrival, 2.x once per read.
    pub passive_notify: Option<PassiveNotify>,
    /// After an `AT+CIPRECVDATA` that leaves data behind, send a fresh `+IPD,<id>,<remaining>`
    /// (S8, zephyr#30814). Default `true`.
    pub renotify_after_partial_read: bool,
    /// CLOSED while unread passive data remains (§8 q2). `None`: 1.7 immediately, 2.x withheld.
    pub closed_with_unread: Option<ClosedWithUnread>,
    /// Reads after an immediately reported CLOSED. Default [`ReadAfterClose::Data`].
    pub read_after_close: ReadAfterClose,
    /// CIPSEND to a link the peer closed mid-payload (§8 q4). Default `RecvThenSendFail`.
    pub send_to_closed_link: SendToClosedLink,
    /// `AT+RST` while busy (§8 q5). Default `ForceRestart`.
    pub reset_while_busy: ResetWhileBusy,
    /// Echo line ending (§8 q3). Default `\r\r\n`.
    pub echo_terminator: EchoTerminator,
    /// 1.7 prompt followed by `\r\n` (`> \r\n`), the other half of §8 q3. Default `false`:
    /// the `"> "` literal in 1.7.6 and WiFiEspAT reading exactly one extra space.
    pub crlf_after_prompt: bool,
    /// Default `AT+CIPSTO` in seconds before the host sets it (§8 q6: undocumented; 180 s is
    /// the value NonOS-era documentation and drivers quote). 0 disables the idle timer.
    pub default_cipsto_s: u16,
    /// `AT+RST` first reports `<id>,CLOSED` for open links (seen on ESP32 AT for
    /// `AT+RESTORE`, esp-at#120). Default `false`.
    pub rst_reports_closed: bool,
    /// The module has credentials of the configured AP saved and joins by itself after every
    /// boot (`WIFI CONNECTED`, `WIFI GOT IP`, S1). Default `false` (the firmware joins explicitly).
    pub auto_join: bool,
    /// Active-mode `+IPD` data is followed by `\r\n` (seen on ESP32 AT 2.0). `None`: 2.x only.
    pub ipd_trailing_crlf: Option<bool>,
    /// Passive-mode receive window per link in bytes; when full the client is throttled
    /// (its further bytes wait on the network side). 2.x ESP8266 documents 5760.
    pub passive_window: usize,
    /// The first passive `+IPD` of each link is never sent (data still buffered), as ESP32
    /// AT 2.1-dev did for data right after a server-side connect (S8 variant, esp-at#294):
    /// hosts must poll `AT+CIPRECVLEN?` after CONNECT. Default `false`.
    pub skip_first_passive_ipd: bool,
    /// Force every `AT+CWJAP` to fail with this code (1 timeout, 4 connection failed),
    /// regardless of credentials. Default `None` (codes 2/3 come from the credential check).
    pub join_failure_code: Option<u8>,
}

impl Default for Switches {
    fn default() -> Self {
        Switches {
            over_limit: OverLimitPolicy::Defer,
            passive_notify: None,
            renotify_after_partial_read: true,
            closed_with_unread: None,
            read_after_close: ReadAfterClose::Data,
            send_to_closed_link: SendToClosedLink::RecvThenSendFail,
            reset_while_busy: ResetWhileBusy::ForceRestart,
            echo_terminator: EchoTerminator::CrCrLf,
            crlf_after_prompt: false,
            default_cipsto_s: 180,
            rst_reports_closed: false,
            auto_join: false,
            ipd_trailing_crlf: None,
            passive_window: 5760,
            skip_first_passive_ipd: false,
            join_failure_code: None,
        }
    }
}

/// Internal delays, all in simulated microseconds. Ranges are `(min, max)`, drawn uniformly
/// from the seeded generator.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    /// Processing time of an ordinary command between its line end and its reply.
    pub command_us: (u64, u64),
    /// Delay between `\r\nOK\r\n` and the `> ` prompt of CIPSEND.
    pub prompt_us: (u64, u64),
    /// Delay between `Recv <n> bytes` and `SEND OK` (S2: 5–300 ms).
    pub send_ok_us: (u64, u64),
    /// Join: command to `WIFI CONNECTED` (S5: ~3 s).
    pub join_connect_us: u64,
    /// Join: `WIFI CONNECTED` to `WIFI GOT IP` + OK (S5: ~1 s).
    pub join_got_ip_us: u64,
    /// Join failure: command to `+CWJAP:<n>` (S5: ~5 s).
    pub join_fail_us: u64,
    /// Power-up or reset to `\r\nready\r\n`.
    pub boot_us: u64,
    /// After `ready`, when auto-join (see [`Switches::auto_join`]) reports `WIFI CONNECTED`.
    pub auto_join_us: (u64, u64),
    /// A deferred client is accepted this long after a link frees (S7: 10–200 ms).
    pub deferred_accept_us: (u64, u64),
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            command_us: (1_000, 5_000),
            prompt_us: (200, 1_000),
            send_ok_us: (5_000, 50_000),
            join_connect_us: 3_000_000,
            join_got_ip_us: 1_000_000,
            join_fail_us: 5_000_000,
            boot_us: 300_000,
            auto_join_us: (1_000_000, 6_000_000),
            deferred_accept_us: (10_000, 200_000),
        }
    }
}

/// Seeded fault injection. [`Faults::default`] injects nothing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Faults {
    /// Probability that a URC line (`<id>,CONNECT`, `<id>,CLOSED`, passive `+IPD`, `WIFI ...`)
    /// is lost on the wire (S7 missed-CLOSED, S9). The emulator's state still changes.
    pub drop_urc: f64,
    /// Each output chunk (a line, a `+IPD` with its payload, a prompt) is delayed by a
    /// random 0..=`max_gap_us` µs (S1–S10 "random 0–50 ms gaps"). Order is kept.
    pub max_gap_us: u64,
    /// Probability that 1–8 random bytes are inserted at a line boundary before an output chunk.
    pub garbage: f64,
    /// Rate of spontaneous resets (brown-out, watchdog) per simulated second (S10).
    pub resets_per_s: f64,
}

impl Faults {
    /// No faults (same as `Default`).
    pub fn none() -> Faults {
        Faults::default()
    }

    /// A healthy module on a real desk: 0–50 ms gaps between chunks, nothing lost.
    pub fn realistic_noise() -> Faults {
        Faults {
            max_gap_us: 50_000,
            ..Faults::default()
        }
    }

    /// A bad day: gaps, 2 % lost URCs, 1 % garbage before chunks, a reset every ~10 minutes.
    // Named after the "faults" profile the other crates select by name.
    #[allow(clippy::self_named_constructors)]
    pub fn faults() -> Faults {
        Faults {
            drop_urc: 0.02,
            max_gap_us: 50_000,
            garbage: 0.01,
            resets_per_s: 1.0 / 600.0,
        }
    }
}

/// Full configuration of an emulated module.
#[derive(Debug, Clone, PartialEq)]
pub struct EspConfig {
    /// Firmware family. Default [`Profile::At17`].
    pub profile: Profile,
    /// UART baud after power-up (the `AT+UART_DEF` value). Default 115200.
    pub baud: u32,
    /// SSID of the one access point in range. Default `nanoesp-lab`.
    pub ap_ssid: Vec<u8>,
    /// Its WPA2 password (empty = open AP). Default `correct horse`.
    pub ap_password: Vec<u8>,
    /// Station IP handed out by the AP's DHCP. Default 192.168.4.2 (gateway 192.168.4.1).
    pub ip: [u8; 4],
    /// Fault injection. Default none.
    pub faults: Faults,
    /// Seed of the deterministic generator (delays, noise, faults). Default 1.
    pub seed: u64,
    /// Open-question switches.
    pub switches: Switches,
    /// Internal delays.
    pub timing: Timing,
    /// Address virtual clients appear to come from (the port counts up from 51234).
    /// Default 192.168.4.100.
    pub client_ip: [u8; 4],
    /// Station credentials (SSID, password) already in the module's flash at power-up, as
    /// `AT+CWJAP_DEF` (e.g. `nanoesp flash --provision`) leaves them. When they match the
    /// access point the module joins by itself after every boot, as NonOS AT does with
    /// auto-connect on. Default `None`; [`Switches::auto_join`] stands for "the AP's own
    /// credentials are saved". See [`EspConfig::provisioned`].
    pub stored_wifi: Option<(Vec<u8>, Vec<u8>)>,
}

impl Default for EspConfig {
    fn default() -> Self {
        EspConfig {
            profile: Profile::At17,
            baud: 115_200,
            ap_ssid: b"nanoesp-lab".to_vec(),
            ap_password: b"correct horse".to_vec(),
            ip: [192, 168, 4, 2],
            faults: Faults::none(),
            seed: 1,
            switches: Switches::default(),
            timing: Timing::default(),
            client_ip: [192, 168, 4, 100],
            stored_wifi: None,
        }
    }
}

impl EspConfig {
    /// Defaults plus the access point's credentials saved in the module (as after
    /// `nanoesp flash --provision`): it joins by itself after every boot.
    pub fn provisioned() -> EspConfig {
        let mut cfg = EspConfig::default();
        cfg.stored_wifi = Some((cfg.ap_ssid.clone(), cfg.ap_password.clone()));
        cfg
    }

    /// Defaults with the ESP-AT 2.x profile.
    pub fn at2() -> EspConfig {
        EspConfig {
            profile: Profile::At2,
            ..EspConfig::default()
        }
    }

    /// The "realistic" profile: 0–50 ms output gaps, SEND OK after 5–300 ms, saved
    /// credentials (auto-join after boot).
    pub fn realistic() -> EspConfig {
        let mut cfg = EspConfig {
            faults: Faults::realistic_noise(),
            ..EspConfig::default()
        };
        cfg.timing.send_ok_us = (5_000, 300_000);
        cfg.switches.auto_join = true;
        cfg
    }

    /// The "faults" profile: realistic plus lost URCs, garbage and spontaneous resets.
    pub fn faulty() -> EspConfig {
        EspConfig {
            faults: Faults::faults(),
            ..EspConfig::realistic()
        }
    }

    /// A configuration by profile name, for command lines and config files:
    /// `default` (= `at17`), `at2`, `realistic`, `faults` (see [`EspConfig::faulty`]).
    pub fn named(name: &str) -> Option<EspConfig> {
        match name {
            "default" | "at17" => Some(EspConfig::default()),
            "at2" => Some(EspConfig::at2()),
            "realistic" => Some(EspConfig::realistic()),
            "faults" | "faulty" => Some(EspConfig::faulty()),
            _ => None,
        }
    }

    pub(crate) fn passive_notify(&self) -> PassiveNotify {
        self.switches.passive_notify.unwrap_or(match self.profile {
            Profile::At17 => PassiveNotify::EveryArrival,
            Profile::At2 => PassiveNotify::OncePerRead,
        })
    }

    pub(crate) fn closed_with_unread(&self) -> ClosedWithUnread {
        self.switches
            .closed_with_unread
            .unwrap_or(match self.profile {
                Profile::At17 => ClosedWithUnread::ReportImmediately,
                Profile::At2 => ClosedWithUnread::WithholdUntilRead,
            })
    }

    pub(crate) fn ipd_trailing_crlf(&self) -> bool {
        self.switches
            .ipd_trailing_crlf
            .unwrap_or(self.profile == Profile::At2)
    }
}
