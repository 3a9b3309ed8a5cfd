//! Property tests: every value survives every conversion the server makes, the direct codec
//! writes exactly prost's bytes, and no input of random bytes or text makes a decoder panic.

mod support;

use ooloi_server::proto::OoloiValue;
use ooloi_server::value::{Value, ValueLimits, edn, wire};
use proptest::prelude::*;
use prost::Message;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn value_to_proto_to_bytes_and_back_is_the_identity(v in support::value()) {
        let bytes = v.to_proto().encode_to_vec();
        let decoded = OoloiValue::decode(bytes.as_slice()).unwrap();
        let back = Value::from_proto(decoded, &ValueLimits::default()).unwrap();
        prop_assert_eq!(back, v);
    }

    #[test]
    fn direct_codec_writes_prosts_bytes_and_reads_them_back(v in support::value()) {
        let ours = wire::encode(&v);
        prop_assert_eq!(&ours, &v.to_proto().encode_to_vec());
        prop_assert_eq!(ours.len(), wire::encoded_len(&v));
        prop_assert_eq!(wire::decode(&ours, &ValueLimits::default()).unwrap(), v);
    }

    #[test]
    fn edn_print_then_parse_is_the_identity(v in support::value()) {
        let text = edn::print(&v);
        let back = edn::parse(&text).map_err(|e| TestCaseError::fail(format!("{e} in {text}")))?;
        prop_assert_eq!(back, v);
    }

    #[test]
    fn equal_values_hash_equally_and_order_is_total(a in support::value(), b in support::value()) {
        use std::hash::{BuildHasher, RandomState};
        let h = RandomState::new();
        prop_assert_eq!(h.hash_one(&a), h.hash_one(a.clone()));
        prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
        prop_assert_eq!(a == b, a.cmp(&b).is_eq());
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let limits = ValueLimits::default();
        let direct = wire::decode(&bytes, &limits);
        if let Ok(msg) = OoloiValue::decode(bytes.as_slice()) {
            let via_prost = Value::from_proto(msg, &limits);
            // Where both accept, they agree.
            if let (Ok(a), Ok(b)) = (&direct, &via_prost) {
                prop_assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn mutated_encodings_never_panic(v in support::value(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut bytes = wire::encode(&v);
        if !bytes.is_empty() {
            for (at, byte) in flips {
                let n = bytes.len();
                bytes[at % n] = byte;
            }
        }
        let _ = wire::decode(&bytes, &ValueLimits::default());
    }

    #[test]
    fn random_text_never_panics_the_edn_reader(text in "\\PC{0,64}") {
        let _ = edn::parse(&text);
    }

    #[test]
    fn edn_like_text_never_panics_the_edn_reader(text in "[\\[\\](){}#:\"\\\\/ a-z0-9.NM_^,;-]{0,48}") {
        let _ = edn::parse(&text);
    }
}
