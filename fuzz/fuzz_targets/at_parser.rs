//! Arbitrary ESP output into the AT parser: no panic, payload tokens never exceed the
//! announced length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanoesp_at::parser::{Parser, Token};

fuzz_target!(|data: &[u8]| {
    let mut p = Parser::new();
    let mut expected_payload: u32 = 0;
    for &b in data {
        match p.feed(b) {
            Some(Token::IpdData(_)) | Some(Token::RecvData) => {
                assert_eq!(expected_payload, 0);
                expected_payload = p.count() as u32;
            }
            Some(Token::Data(_)) => {
                assert!(expected_payload > 0);
                expected_payload -= 1;
            }
            Some(_) => assert_eq!(expected_payload, 0),
            None => {}
        }
        assert!(p.line().len() <= nanoesp_at::parser::LINE_MAX);
    }
});
