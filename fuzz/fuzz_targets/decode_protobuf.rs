//! Arbitrary bytes as an `OoloiValue`: the direct decoder never panics; whatever it accepts
//! re-encodes to bytes that decode to the same value, prints as EDN that reads back the same, and
//! agrees with prost plus the conversion whenever prost accepts the bytes too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ooloi_server::proto::OoloiValue;
use ooloi_server::value::{Value, ValueLimits, edn, wire};
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let limits = ValueLimits::default();
    let direct = wire::decode(data, &limits);
    if let Ok(message) = OoloiValue::decode(data) {
        if let (Ok(a), Ok(b)) = (&direct, Value::from_proto(message, &limits)) {
            assert_eq!(a, &b, "direct decoder and prost disagree");
        }
    }
    if let Ok(value) = direct {
        let again = wire::decode(&wire::encode(&value), &limits).expect("re-encoding decodes");
        assert_eq!(again, value);
        let text = edn::print(&value);
        assert_eq!(edn::parse(&text).expect("printed EDN reads back"), value);
    }
});
