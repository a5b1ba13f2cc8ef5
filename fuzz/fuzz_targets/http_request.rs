//! Arbitrary bytes into the HTTP request parser: no panic, bounded path, and a decision
//! within a bounded number of bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanoesp_http::request::{Progress, Request, PATH_MAX};

fuzz_target!(|data: &[u8]| {
    let mut r = Request::new();
    for (i, &b) in data.iter().enumerate() {
        if r.feed(b) != Progress::NeedMore {
            break;
        }
        assert!(i < 4500, "no decision after {i} bytes");
    }
    assert!(r.path().len() <= PATH_MAX);
});
