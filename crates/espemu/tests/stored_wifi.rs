//! Credentials saved with `AT+CWJAP_DEF` (what `nanoesp flash --provision` sends) survive
//! resets, and the module auto-joins with them after every boot, as NonOS AT does.

mod bench;

use bench::{Bench, show};
use nanoesp_espemu::EspConfig;

const STA_UP: &[u8] =
    b"+CIFSR:STAIP,\"192.168.4.2\"\r\n+CIFSR:STAMAC,\"5c:cf:7f:00:00:01\"\r\n\r\nOK\r\n";
const STA_DOWN: &[u8] =
    b"+CIFSR:STAIP,\"0.0.0.0\"\r\n+CIFSR:STAMAC,\"5c:cf:7f:00:00:01\"\r\n\r\nOK\r\n";

#[test]
fn cwjap_def_persists_and_auto_joins_after_reset() {
    let mut b = Bench::new(EspConfig::default());
    b.boot();
    b.cmd("ATE0");
    assert_eq!(b.esp.stored_wifi(), None);
    // _CUR does not save.
    b.cmd_is(
        "AT+CWJAP_CUR=\"nanoesp-lab\",\"correct horse\"",
        b"WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n",
    );
    assert_eq!(b.esp.stored_wifi(), None);
    b.cmd_is("AT+CWMODE_DEF=1", b"\r\nOK\r\n");
    b.cmd_is(
        "AT+CWJAP_DEF=\"nanoesp-lab\",\"correct horse\"",
        b"WIFI DISCONNECT\r\nWIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n",
    );
    assert_eq!(
        b.esp.stored_wifi(),
        Some((&b"nanoesp-lab"[..], &b"correct horse"[..]))
    );
    b.cmd_is("AT+RST", b"\r\nOK\r\n");
    b.boot();
    b.cmd("ATE0");
    b.cmd_is("AT+CIFSR", STA_DOWN);
    b.cmd_is("AT+CWJAP_CUR?", b"No AP\r\n\r\nOK\r\n");
    b.until(b"WIFI CONNECTED\r\n", 7_000_000);
    b.until(b"WIFI GOT IP\r\n", 2_000_000);
    assert!(b.esp.wifi_joined());
    b.cmd_is("AT+CIFSR", STA_UP);
    let got = b.cmd("AT+CWJAP_CUR?");
    assert!(
        got.starts_with(b"+CWJAP_CUR:\"nanoesp-lab\","),
        "{}",
        show(&got)
    );
    assert_eq!(
        b.esp.stored_wifi(),
        Some((&b"nanoesp-lab"[..], &b"correct horse"[..]))
    );
}

#[test]
fn provisioned_config_joins_by_itself_and_wrong_stored_credentials_do_not() {
    let mut b = Bench::new(EspConfig::provisioned());
    b.boot();
    b.until(b"WIFI CONNECTED\r\n", 7_000_000);
    b.until(b"WIFI GOT IP\r\n", 2_000_000);
    assert!(b.esp.wifi_joined());

    let cfg = EspConfig {
        stored_wifi: Some((b"nanoesp-lab".to_vec(), b"wrong password".to_vec())),
        ..EspConfig::default()
    };
    let mut b = Bench::new(cfg);
    b.boot();
    b.run_for(10_000_000);
    assert!(!b.esp.wifi_joined());
    b.cmd("ATE0");
    b.cmd_is("AT+CIFSR", STA_DOWN);

    // A failed _DEF join still replaces what is saved (the config is written first).
    let mut b = Bench::new(EspConfig::provisioned());
    b.boot();
    b.cmd("ATE0");
    let got = b.cmd("AT+CWJAP_DEF=\"nanoesp-lab\",\"nope nope\"");
    assert!(got.ends_with(b"FAIL\r\n"), "{}", show(&got));
    assert_eq!(
        b.esp.stored_wifi(),
        Some((&b"nanoesp-lab"[..], &b"nope nope"[..]))
    );
    b.cmd_is("AT+RST", b"\r\nOK\r\n");
    b.boot();
    b.run_for(10_000_000);
    assert!(!b.esp.wifi_joined());
}
