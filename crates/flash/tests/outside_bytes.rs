//! Everything in nanoesp-flash that parses bytes from outside (avrdude's output, a
//! board's console, the ESP8266's 74880-baud banner) takes any bytes without panicking.

use nanoesp_flash::NoProgress;
use nanoesp_flash::esp::banner;
use nanoesp_flash::nano::AvrdudeLog;
use nanoesp_flash::ports::Banner;
use proptest::prelude::*;

/// Bytes that look like avrdude's progress output often enough to reach every state.
fn avrdude_like() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            Just(b"Writing | ".to_vec()),
            Just(b"Reading | ".to_vec()),
            Just(b"#".to_vec()),
            Just(b" | 100% 0.05s\n".to_vec()),
            Just(b"avrdude: 276 bytes of flash written\n".to_vec()),
            prop::collection::vec(any::<u8>(), 0..16),
        ],
        0..64,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn avrdude_output_of_any_shape_is_kept_whole(bytes in avrdude_like(), split in 1usize..40) {
        let mut log = AvrdudeLog::default();
        for chunk in bytes.chunks(split) {
            log.feed(chunk, &mut NoProgress);
        }
        prop_assert_eq!(log.text(), &bytes[..]);
    }

    #[test]
    fn console_lines_never_panic_the_banner_parser(line in ".{0,120}") {
        if let Some(b) = Banner::parse(&line) {
            prop_assert!(!b.build_id.is_empty());
            prop_assert!(line.contains(&b.build_id));
        }
    }

    #[test]
    fn rom_banner_decoding_takes_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Some(b) = banner::decode(&bytes) {
            prop_assert!(!b.boot_meaning.is_empty());
        }
    }
}
