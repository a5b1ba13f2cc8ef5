//! AT command encoders.
//!
//! A [`Command`] is data; [`Command::emit`] writes its full line (with `\r\n`) into a
//! [`Window`], so the driver can stream it in windows without a command buffer, and
//! [`Command::encode`] writes it into a `&mut [u8]`. Literal text lives in flash
//! ([`pstr!`]). Strings in `AT+CWJAP`/`AT+CWSAP` have `"`, `,` and `\` escaped with a
//! backslash, as the AT firmware requires.

use crate::driver::Settings;
use nanoesp_http::progmem::PStr;
use nanoesp_http::pstr;
use nanoesp_http::sink::{put_p, put_u32, Window};

/// Which command a [`Command`] is: its line in the command text of [`Command::emit`].
///
/// The bring-up commands come first, in the driver's bring-up order, so a bring-up step
/// is its command's number and needs no table to find it.
pub mod op {
    /// `AT` (probe)
    pub const AT: u8 = 0;
    /// `ATE0`
    pub const ECHO_OFF: u8 = 1;
    /// `AT+GMR`
    pub const VERSION: u8 = 2;
    /// `AT+CWMODE_CUR=<1 station | 2 softAP>`
    pub const WIFI_MODE: u8 = 3;
    /// `AT+CWSAP_CUR="ssid","pwd",5,<ecn>`
    pub const SOFT_AP: u8 = 4;
    /// `AT+CWHOSTNAME="host"`
    pub const HOSTNAME: u8 = 5;
    /// `AT+CWJAP_CUR="ssid","pwd"`
    pub const JOIN: u8 = 6;
    /// `AT+CIPMUX=1`
    pub const MUX: u8 = 7;
    /// `AT+CIPRECVMODE=1`
    pub const PASSIVE_RECV: u8 = 8;
    /// `AT+CIPSERVERMAXCONN=<max_conn>`
    pub const SERVER_MAX_CONN: u8 = 9;
    /// `AT+CIPSERVER=1,<port>`
    pub const SERVER: u8 = 10;
    /// `AT+CIPSTO=<idle_timeout_s>`
    pub const SERVER_TIMEOUT: u8 = 11;
    /// `AT+CIFSR`
    pub const LOCAL_IP: u8 = 12;
    /// `AT+MDNS=1,"host","http",<port>`
    pub const MDNS: u8 = 13;
    /// `AT+UART_CUR=<baud>,8,1,0,0`, or the persistent `AT+UART_DEF` with
    /// [`Settings::SAVE_BAUD`]
    pub const UART: u8 = 14;
    /// `AT+CIPSTATUS`
    pub const LINK_STATUS: u8 = 15;
    /// `AT+CIPRECVLEN?`
    pub const RECV_LEN: u8 = 16;
    /// `AT+CIPRECVDATA=<id>,<len: most bytes>`; the link operations come last.
    pub const RECV_DATA: u8 = 17;
    /// `AT+CIPSEND=<id>,<len: 1..=2048>`
    pub const SEND: u8 = 18;
    /// `AT+CIPCLOSE=<id>`
    pub const CLOSE: u8 = 19;
}

/// One command the driver sends: which ([`op`]) and, for a link operation, its link.
///
/// Plain data rather than an enum with fields: the driver builds a bring-up command from
/// the step number alone, and `emit` takes the bring-up settings from the [`Settings`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Command {
    /// One of the [`op`] constants.
    pub op: u8,
    /// The link id of a link operation, else 0.
    pub id: u8,
    /// The length of `AT+CIPRECVDATA` / `AT+CIPSEND`, else 0.
    pub len: u16,
}

impl Command {
    /// Command `op`; its numbers come from the [`Settings`].
    pub const fn new(op: u8) -> Command {
        Command::link(op, 0, 0)
    }

    /// Link operation `op` on link `id` (with a length for `RECV_DATA` and `SEND`).
    pub const fn link(op: u8, id: u8, len: u16) -> Command {
        Command { op, id, len }
    }
}

/// Puts `s` with `"`, `,` and `\` escaped by a backslash.
pub fn put_escaped(sink: &mut Window, s: PStr) {
    for i in 0..s.len() {
        let b = s.get(i);
        if b == b'"' || b == b',' || b == b'\\' {
            sink.put(b'\\');
        }
        sink.put(b);
    }
}

#[cfg(not(target_arch = "avr"))]
#[inline(never)]
fn put_quoted(sink: &mut Window, s: PStr) {
    sink.put(b'"');
    put_escaped(sink, s);
    sink.put(b'"');
}

/// [`put_quoted`] in AVR assembly: `lpm Z+` over the text and one local routine that calls
/// `Window::put` (C ABI) with Z saved around it, for the quotes, the backslashes and the
/// bytes. LLVM kept the text as a pointer and a count in saved registers (96 B).
#[cfg(target_arch = "avr")]
#[inline(never)]
#[allow(unsafe_code)]
fn put_quoted(sink: &mut Window, s: PStr) {
    let (ptr, len) = s.raw();
    let end = ptr.wrapping_add(len);
    // SAFETY: reads the flash string `s` up to its end (`lpm`, as `PStr::get`); calls
    // `Window::put` (C ABI) with `sink` and each byte put, Z saved on the stack around it;
    // every register the call or the loop may change is an operand or declared clobbered.
    unsafe {
        core::arch::asm!(
            "ldi r22, 0x22",
            "rcall 5f",
            // A byte of the text, while any is left; a backslash before `"`, `,` and `\`.
            "1:",
            "cp r30, {end:l}",
            "cpc r31, {end:h}",
            "breq 3f",
            "lpm {b}, Z+",
            "cpi {b}, 0x22",
            "breq 2f",
            "cpi {b}, 0x2c",
            "breq 2f",
            "cpi {b}, 0x5c",
            "brne 4f",
            "2:",
            "ldi r22, 0x5c",
            "rcall 5f",
            "4:",
            "mov r22, {b}",
            "rcall 5f",
            "rjmp 1b",
            "3:",
            "ldi r22, 0x22",
            "rcall 5f",
            "rjmp 6f",
            // Puts r22.
            "5:",
            "push r30",
            "push r31",
            "movw r24, {s}",
            "call {put}",
            "pop r31",
            "pop r30",
            "ret",
            "6:",
            put = sym Window::put,
            s = in(reg_pair) sink as *mut Window,
            end = in(reg_pair) end,
            b = out(reg_upper) _,
            inout("Z") ptr => _,
            out("r18") _, out("r19") _, out("r20") _, out("r21") _,
            out("r22") _, out("r23") _, out("r24") _, out("r25") _,
            out("r26") _, out("r27") _,
        );
    }
}

// Field markers in the command texts below (bytes no command contains; `\n` ends a line).
const CUR: u8 = 1;
const SSID: u8 = 2;
const PASSWORD: u8 = 3;
const HOSTNAME: u8 = 4;
const ENCRYPTION: u8 = 5;
const MODE: u8 = 6;
// The number fields, `ID..=BAUD` (`\n` among them never reaches `put_piece`).
const ID: u8 = 7;
const LEN: u8 = 8;
const MAX_CONN: u8 = 9;
const PORT: u8 = 11;
const IDLE_S: u8 = 12;
const BAUD: u8 = 13;
const UART_SUFFIX: u8 = 14;
/// Not a field: `+CIP`, which starts ten of the commands (one marker byte each instead of
/// four measured 12 B smaller on the AVR, with the arm that writes it).
const CIP: u8 = 15;

impl Command {
    /// Writes the whole command line including `\r\n`; `plain` picks the 2.x spelling
    /// without `_CUR`.
    ///
    /// Each command is a line of one flash text (what follows `AT`) with field markers,
    /// filled in by one loop: a `put` call per piece of every command cost twice the flash.
    /// Always inlined: the firmware's one call (the driver's `poll_transmit`) then passes
    /// no arguments and saves no registers for it, 34 B less on the AVR than out of line.
    #[inline(always)]
    pub fn emit<S: Settings>(&self, s: &mut Window, plain: bool) {
        // One line per `op`, in their order.
        let text = pstr!(
            b"\n\
            E0\n\
            +GMR\n\
            +CWMODE\x01=\x06\n\
            +CWSAP\x01=\x02,\x03,5,\x05\n\
            +CWHOSTNAME=\x04\n\
            +CWJAP\x01=\x02,\x03\n\
            \x0fMUX=1\n\
            \x0fRECVMODE=1\n\
            \x0fSERVERMAXCONN=\x09\n\
            \x0fSERVER=1,\x0b\n\
            \x0fSTO=\x0c\n\
            +CIFSR\n\
            +MDNS=1,\x04,\"http\",\x0b\n\
            +UART\x0e=\x0d,8,1,0,0\n\
            \x0fSTATUS\n\
            \x0fRECVLEN?\n\
            \x0fRECVDATA=\x07,\x08\n\
            \x0fSEND=\x07,\x08\n\
            \x0fCLOSE=\x07\n"
        );
        put_p(s, pstr!(b"AT"));
        let mut skip = self.op;
        for i in 0..text.len() {
            let b = text.get(i);
            if b == b'\n' {
                if skip == 0 {
                    break;
                }
                skip -= 1;
                continue;
            }
            if skip != 0 {
                continue;
            }
            S::put_piece(self, s, plain, b);
        }
        put_p(s, pstr!(b"\r\n"));
    }

    /// Writes the command line into `out`; `None` if it does not fit.
    pub fn encode<S: Settings>(&self, out: &mut [u8], plain: bool) -> Option<usize> {
        let room = out.len();
        let mut w = Window::new(0, out);
        self.emit::<S>(&mut w, plain);
        (w.total() as usize <= room).then_some(w.filled())
    }
}

/// Fills in the fields of a command's text with settings `Self` (every [`Settings`] does).
///
/// A provided trait method, not a generic function: the firmware's code is laid out in
/// symbol order, where a generic function's instance comes first, kilobytes from the
/// `sink` helpers it calls (out of `rcall` reach), and a trait method's last, next to them
/// (6 B smaller on the AVR).
pub(crate) trait PutPiece: Settings {
    /// Writes byte `b` of the command text: a field marker's field, any other byte itself.
    ///
    /// Out of line: inlined into `emit`'s loop, every field it reads was loaded before the
    /// loop and kept on the stack (148 B more on the AVR).
    #[inline(never)]
    fn put_piece(cmd: &Command, s: &mut Window, plain: bool, b: u8) {
        match b {
            // `_CUR`, left out in the 2.x spelling; the UART switch keeps its suffix in 2.x
            // too and is the persistent `_DEF` with `save_baud`. One arm: a second `_CUR` arm
            // measured 16 B larger on the AVR.
            CUR | UART_SUFFIX => {
                if b == UART_SUFFIX && Self::SAVE_BAUD {
                    put_p(s, pstr!(b"_DEF"))
                } else if !plain || b == UART_SUFFIX {
                    put_p(s, pstr!(b"_CUR"))
                }
            }
            CIP => put_p(s, pstr!(b"+CIP")),
            SSID => put_quoted(s, Self::SSID),
            PASSWORD => put_quoted(s, Self::PASSWORD),
            HOSTNAME => put_quoted(s, Self::HOSTNAME),
            // WPA2-PSK, or open when there is no password.
            ENCRYPTION => s.put(if Self::PASSWORD.is_empty() {
                b'0'
            } else {
                b'3'
            }),
            MODE => s.put(if Self::SOFTAP { b'2' } else { b'1' }),
            // One number printer for every number field.
            ID..=BAUD => put_u32(
                s,
                match b {
                    ID => cmd.id as u32,
                    LEN => cmd.len as u32,
                    MAX_CONN => Self::MAX_CONN as u32,
                    PORT => Self::PORT as u32,
                    IDLE_S => Self::IDLE_TIMEOUT_S as u32,
                    _ => Self::BAUD,
                },
            ),
            _ => s.put(b),
        }
    }
}

impl<S: Settings> PutPiece for S {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settings with texts that need escaping; the parameters are the options some tests
    /// change.
    struct Lab<const SOFTAP: bool = false, const BAUD: u32 = 115_200, const SAVE_BAUD: bool = false>;

    impl<const SOFTAP: bool, const BAUD: u32, const SAVE_BAUD: bool> Settings
        for Lab<SOFTAP, BAUD, SAVE_BAUD>
    {
        const SSID: PStr = pstr!(b"my \"lab\",x\\y");
        const PASSWORD: PStr = pstr!(b"p,w");
        const HOSTNAME: PStr = pstr!(b"nano");
        const PORT: u16 = 80;
        const MAX_CONN: u8 = 4;
        const IDLE_TIMEOUT_S: u16 = 30;
        const BAUD: u32 = BAUD;
        const SOFTAP: bool = SOFTAP;
        const STORED: bool = false;
        const SAVE_BAUD: bool = SAVE_BAUD;
    }

    /// Texts that read as AT answers, to check that no echo does.
    struct Answers<const SOFTAP: bool>;

    impl<const SOFTAP: bool> Settings for Answers<SOFTAP> {
        const SSID: PStr = pstr!(b"OK");
        const PASSWORD: PStr = pstr!(b"busy s...");
        const HOSTNAME: PStr = pstr!(b"ready");
        const PORT: u16 = 80;
        const MAX_CONN: u8 = 4;
        const IDLE_TIMEOUT_S: u16 = 30;
        const BAUD: u32 = 115_200;
        const SOFTAP: bool = SOFTAP;
        const STORED: bool = false;
        const SAVE_BAUD: bool = false;
    }

    /// An SSID and password too short for escaping to matter.
    struct Short;

    impl Settings for Short {
        const SSID: PStr = pstr!(b"a");
        const PASSWORD: PStr = pstr!(b"");
        const HOSTNAME: PStr = pstr!(b"nano");
        const PORT: u16 = 80;
        const MAX_CONN: u8 = 4;
        const IDLE_TIMEOUT_S: u16 = 30;
        const BAUD: u32 = 115_200;
        const SOFTAP: bool = false;
        const STORED: bool = false;
        const SAVE_BAUD: bool = false;
    }

    fn spelled<S: Settings>(c: Command, plain: bool) -> String {
        let mut out = [0u8; 96];
        let n = c.encode::<S>(&mut out, plain).unwrap();
        String::from_utf8(out[..n].to_vec()).unwrap()
    }

    fn line(c: Command) -> String {
        spelled::<Lab>(c, false)
    }

    #[test]
    fn encodes_every_command() {
        assert_eq!(line(Command::new(op::AT)), "AT\r\n");
        assert_eq!(line(Command::new(op::ECHO_OFF)), "ATE0\r\n");
        assert_eq!(line(Command::new(op::VERSION)), "AT+GMR\r\n");
        assert_eq!(line(Command::new(op::WIFI_MODE)), "AT+CWMODE_CUR=1\r\n");
        assert_eq!(
            spelled::<Lab<true>>(Command::new(op::WIFI_MODE), true),
            "AT+CWMODE=2\r\n"
        );
        assert_eq!(
            line(Command::new(op::JOIN)),
            "AT+CWJAP_CUR=\"my \\\"lab\\\"\\,x\\\\y\",\"p\\,w\"\r\n"
        );
        assert_eq!(
            spelled::<Lab>(Command::new(op::JOIN), true).get(..10),
            Some("AT+CWJAP=\"")
        );
        assert!(line(Command::new(op::SOFT_AP)).ends_with("\"p\\,w\",5,3\r\n"));
        assert_eq!(
            line(Command::new(op::HOSTNAME)),
            "AT+CWHOSTNAME=\"nano\"\r\n"
        );
        assert_eq!(line(Command::new(op::MUX)), "AT+CIPMUX=1\r\n");
        assert_eq!(line(Command::new(op::PASSIVE_RECV)), "AT+CIPRECVMODE=1\r\n");
        assert_eq!(
            line(Command::new(op::SERVER_MAX_CONN)),
            "AT+CIPSERVERMAXCONN=4\r\n"
        );
        assert_eq!(line(Command::new(op::SERVER)), "AT+CIPSERVER=1,80\r\n");
        assert_eq!(line(Command::new(op::SERVER_TIMEOUT)), "AT+CIPSTO=30\r\n");
        assert_eq!(line(Command::new(op::LOCAL_IP)), "AT+CIFSR\r\n");
        assert_eq!(
            line(Command::new(op::MDNS)),
            "AT+MDNS=1,\"nano\",\"http\",80\r\n"
        );
        assert_eq!(line(Command::new(op::LINK_STATUS)), "AT+CIPSTATUS\r\n");
        assert_eq!(line(Command::new(op::RECV_LEN)), "AT+CIPRECVLEN?\r\n");
        assert_eq!(
            line(Command::link(op::RECV_DATA, 3, 256)),
            "AT+CIPRECVDATA=3,256\r\n"
        );
        assert_eq!(line(Command::link(op::SEND, 0, 19)), "AT+CIPSEND=0,19\r\n");
        assert_eq!(line(Command::link(op::CLOSE, 2, 0)), "AT+CIPCLOSE=2\r\n");
    }

    #[test]
    fn baud_switch_is_persistent_only_with_save_baud() {
        for plain in [false, true] {
            let uart = spelled::<Lab<false, 57_600>>(Command::new(op::UART), plain);
            // 2.x spells its UART commands with the suffix too.
            assert_eq!(uart, "AT+UART_CUR=57600,8,1,0,0\r\n", "plain {plain}");
            let uart = spelled::<Lab<false, 57_600, true>>(Command::new(op::UART), plain);
            assert_eq!(uart, "AT+UART_DEF=57600,8,1,0,0\r\n", "plain {plain}");
        }
    }

    #[test]
    fn an_echo_of_any_command_reads_as_an_echo() {
        // After a reset the module echoes commands again; the parser looks up to 8 bytes
        // into a line for a known one (noise before it), so no echo may read as one there,
        // whatever the user's texts are.
        echoes_read_as_echoes::<Answers<false>>();
        echoes_read_as_echoes::<Answers<true>>();
    }

    fn echoes_read_as_echoes<S: Settings>() {
        for plain in [false, true] {
            for op in 0..=op::CLOSE {
                for (id, len) in [(0, 1), (4, 2048)] {
                    let mut out = [0u8; 96];
                    let n = Command::link(op, id, len)
                        .encode::<S>(&mut out, plain)
                        .unwrap();
                    let mut parser = crate::parser::Parser::new();
                    let tokens: Vec<_> = out[..n].iter().filter_map(|&b| parser.feed(b)).collect();
                    assert_eq!(
                        tokens,
                        [crate::parser::Token::Echo],
                        "{}",
                        String::from_utf8_lossy(&out[..n])
                    );
                }
            }
        }
    }

    #[test]
    fn encode_reports_a_too_small_buffer() {
        assert_eq!(
            Command::new(op::JOIN).encode::<Short>(&mut [0u8; 8], false),
            None
        );
    }
}
