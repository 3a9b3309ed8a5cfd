//! Arbitrary text as EDN: the reader never panics; whatever it accepts prints as EDN that reads
//! back the same and survives the protobuf codec.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ooloi_server::value::{ValueLimits, edn, wire};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let limits = ValueLimits::default();
    if let Ok(value) = edn::parse_with_limits(text, &limits) {
        let printed = edn::print(&value);
        assert_eq!(edn::parse(&printed).expect("printed EDN reads back"), value);
        assert_eq!(wire::decode(&wire::encode(&value), &limits).expect("encoding decodes"), value);
    }
});
