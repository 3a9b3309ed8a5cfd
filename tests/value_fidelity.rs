//! The fidelity promises of the wire protocol, one named test each: what a Clojure client sends
//! is what it gets back, kind for kind. Each promise is checked through both decoders (the direct
//! one the server uses and prost's generated structs) and through EDN.

use ooloi_server::proto::{
    OoloiDefrecord, OoloiKeyword, OoloiMap, OoloiMapEntry, OoloiRatio, OoloiValue, OoloiVector,
    ooloi_value::ValueType,
};
use ooloi_server::value::{Kind, Value, ValueErrorKind, ValueLimits, edn, wire};
use prost::Message;

/// Decodes `message`'s bytes both ways, checks both agree, and returns the value.
fn over_the_wire(message: &OoloiValue) -> Value {
    let bytes = message.encode_to_vec();
    let direct = wire::decode(&bytes, &ValueLimits::default()).unwrap();
    let via_prost = Value::from_proto(message.clone(), &ValueLimits::default()).unwrap();
    assert_eq!(direct, via_prost);
    direct
}

fn round_trip(v: &Value) -> Value {
    let back = over_the_wire(&v.to_proto());
    assert_eq!(
        edn::parse(&edn::print(v)).unwrap(),
        *v,
        "EDN round trip of {v}"
    );
    back
}

fn val(kind: ValueType) -> OoloiValue {
    OoloiValue {
        value_type: Some(kind),
    }
}

#[test]
fn ratio_three_quarters_stays_a_ratio_never_a_double() {
    let v = edn::parse("3/4").unwrap();
    let back = round_trip(&v);
    match back {
        Value::Ratio(r) => assert_eq!((r.numerator(), r.denominator()), (3, 4)),
        other => panic!("expected a ratio, got {other:?}"),
    }
    assert!(matches!(
        v.to_proto().value_type,
        Some(ValueType::RatioVal(_))
    ));
}

#[test]
fn six_eighths_arrives_as_three_quarters() {
    let sent = val(ValueType::RatioVal(OoloiRatio {
        numerator: 6,
        denominator: 8,
    }));
    let got = over_the_wire(&sent);
    assert_eq!(got, Value::ratio(3, 4).unwrap());
    let Some(ValueType::RatioVal(r)) = got.to_proto().value_type else {
        panic!("not a ratio")
    };
    assert_eq!((r.numerator, r.denominator), (3, 4));
    let negative = val(ValueType::RatioVal(OoloiRatio {
        numerator: 6,
        denominator: -8,
    }));
    assert_eq!(edn::print(&over_the_wire(&negative)), "-3/4");
}

#[test]
fn namespaced_keyword_keeps_its_namespace_and_plain_keyword_has_none() {
    let pitch = round_trip(&Value::keyword("ooloi.pitch/C4"));
    let Value::Keyword(k) = &pitch else {
        panic!("not a keyword: {pitch:?}")
    };
    assert_eq!((k.namespace(), k.name()), (Some("ooloi.pitch"), "C4"));
    let Some(ValueType::KeywordVal(wire)) = pitch.to_proto().value_type else {
        panic!()
    };
    assert_eq!(
        (wire.namespace.as_str(), wire.name.as_str()),
        ("ooloi.pitch", "C4")
    );

    let foo = round_trip(&Value::keyword("foo"));
    let Value::Keyword(k) = &foo else {
        panic!("not a keyword: {foo:?}")
    };
    assert_eq!((k.namespace(), k.name()), (None, "foo"));
    let Some(ValueType::KeywordVal(wire)) = foo.to_proto().value_type else {
        panic!()
    };
    assert_eq!(
        wire.namespace, "",
        "no namespace travels as the empty string"
    );

    let sent = val(ValueType::KeywordVal(OoloiKeyword {
        namespace: String::new(),
        name: "foo".into(),
    }));
    assert_eq!(over_the_wire(&sent), Value::keyword("foo"));
}

#[test]
fn nil_survives_in_a_vector_as_a_map_value_and_in_a_set() {
    let v = edn::parse("[[1 nil 2] {:a nil} #{nil 1}]").unwrap();
    let back = round_trip(&v);
    let parts = back.as_seq().unwrap();
    assert_eq!(
        parts[0].as_seq().unwrap().as_slice(),
        &[1.into(), Value::Nil, 2.into()]
    );
    assert_eq!(
        parts[1].as_map().unwrap().get_keyword("a"),
        Some(&Value::Nil)
    );
    let Value::Set(s) = &parts[2] else {
        panic!("not a set")
    };
    assert!(s.contains(&Value::Nil) && s.len() == 2);
}

#[test]
fn vector_list_and_set_with_the_same_elements_stay_three_kinds() {
    let items = || [1.into(), 2.into(), 3.into()];
    let kinds: Vec<Kind> = [
        Value::vector(items()),
        Value::list(items()),
        Value::set(items()),
    ]
    .iter()
    .map(|v| round_trip(v).kind())
    .collect();
    assert_eq!(kinds, [Kind::Vector, Kind::List, Kind::Set]);
    assert_ne!(Value::vector(items()), Value::list(items()));
}

#[test]
fn record_of_an_unknown_type_stays_a_record_with_its_type_name() {
    let sent = val(ValueType::DefrecordVal(OoloiDefrecord {
        type_name: "my.plugin.custom_notation.CustomNotation".into(),
        fields: Some(OoloiMap {
            entries: vec![OoloiMapEntry {
                key: Some(Value::keyword("glyph").to_proto()),
                value: Some(val(ValueType::StringVal("𝄞".into()))),
            }],
        }),
    }));
    let got = over_the_wire(&sent);
    let Value::Record(r) = &got else {
        panic!("expected a record, got {got:?}")
    };
    assert_eq!(r.type_name(), "my.plugin.custom_notation.CustomNotation");
    assert_eq!(r.fields().get_keyword("glyph"), Some(&Value::string("𝄞")));
    assert_eq!(round_trip(&got), got);
    assert_eq!(got.to_proto(), sent);
}

#[test]
fn strings_keywords_and_symbols_are_never_coerced_into_each_other() {
    let v = edn::parse("[\"a\" :a a]").unwrap();
    let kinds: Vec<Kind> = round_trip(&v)
        .as_seq()
        .unwrap()
        .iter()
        .map(Value::kind)
        .collect();
    assert_eq!(kinds, [Kind::String, Kind::Keyword, Kind::Symbol]);
}

#[test]
fn integer_big_integer_and_double_stay_distinct() {
    let v = edn::parse("[1 1N 1.0 -170141183460469231731687303715884105728N]").unwrap();
    let kinds: Vec<Kind> = round_trip(&v)
        .as_seq()
        .unwrap()
        .iter()
        .map(Value::kind)
        .collect();
    assert_eq!(kinds, [Kind::Int, Kind::BigInt, Kind::Double, Kind::BigInt]);
}

#[test]
fn additions_uuid_instant_and_bytes_round_trip() {
    let v = edn::parse(
        "[#uuid \"8c3b5b52-7f1c-4f39-9d8e-0e6f2b1d2a10\" #inst \"2026-11-27T04:17:09.123456Z\" #bytes \"AAEC\"]",
    )
    .unwrap();
    assert_eq!(round_trip(&v), v);
    let Some(ValueType::VectorVal(OoloiVector { elements })) = v.to_proto().value_type else {
        panic!()
    };
    assert_eq!(
        elements[1].value_type,
        Some(ValueType::InstantVal(1_795_753_029_123_456))
    );
}

fn refused(message: &OoloiValue) -> ValueErrorKind {
    let direct = wire::decode(&message.encode_to_vec(), &ValueLimits::default()).unwrap_err();
    let via_prost = Value::from_proto(message.clone(), &ValueLimits::default()).unwrap_err();
    assert_eq!(direct.path(), via_prost.path());
    assert_eq!(direct.kind(), via_prost.kind());
    direct.kind().clone()
}

#[test]
fn zero_denominator_is_refused_with_its_path() {
    let bad = val(ValueType::VectorVal(OoloiVector {
        elements: vec![
            Value::Int(1).to_proto(),
            val(ValueType::RatioVal(OoloiRatio {
                numerator: 1,
                denominator: 0,
            })),
        ],
    }));
    let err = wire::decode(&bad.encode_to_vec(), &ValueLimits::default()).unwrap_err();
    assert_eq!(err.clone().with_root("params").path(), "params[1]");
    assert_eq!(refused(&bad), ValueErrorKind::ZeroDenominator);
}

#[test]
fn duplicate_map_keys_and_set_elements_are_refused() {
    let entry = |k: &str, v: i64| OoloiMapEntry {
        key: Some(Value::keyword(k).to_proto()),
        value: Some(Value::Int(v).to_proto()),
    };
    let map = val(ValueType::MapVal(OoloiMap {
        entries: vec![entry("a", 1), entry("b", 2), entry("a", 3)],
    }));
    assert_eq!(
        refused(&map),
        ValueErrorKind::DuplicateKey { key: ":a".into() }
    );
    let err = wire::decode(&map.encode_to_vec(), &ValueLimits::default()).unwrap_err();
    assert_eq!(err.path(), "value.entries[2].key");

    let set = Value::list([1.into(), 1.into()]).to_proto();
    let Some(ValueType::ListVal(list)) = set.value_type else {
        panic!()
    };
    let set = val(ValueType::SetVal(ooloi_server::proto::OoloiSet {
        elements: list.elements,
    }));
    assert_eq!(
        refused(&set),
        ValueErrorKind::DuplicateElement {
            element: "1".into()
        }
    );
}

#[test]
fn missing_value_invalid_names_and_bad_uuids_are_refused() {
    assert_eq!(
        refused(&OoloiValue { value_type: None }),
        ValueErrorKind::MissingValue
    );
    let missing_value = val(ValueType::MapVal(OoloiMap {
        entries: vec![OoloiMapEntry {
            key: Some(Value::Nil.to_proto()),
            value: None,
        }],
    }));
    assert_eq!(refused(&missing_value), ValueErrorKind::MissingValue);
    let bad_kw = val(ValueType::KeywordVal(OoloiKeyword {
        namespace: String::new(),
        name: "a b".into(),
    }));
    assert!(matches!(
        refused(&bad_kw),
        ValueErrorKind::InvalidName {
            what: "keyword",
            ..
        }
    ));
    let empty_kw = val(ValueType::KeywordVal(OoloiKeyword::default()));
    assert!(matches!(
        refused(&empty_kw),
        ValueErrorKind::InvalidName { .. }
    ));
    assert_eq!(
        refused(&val(ValueType::UuidVal(vec![1, 2, 3]))),
        ValueErrorKind::InvalidUuidLength(3)
    );
    assert_eq!(
        refused(&val(ValueType::InstantVal(i64::MAX))),
        ValueErrorKind::InstantOutOfRange(i64::MAX)
    );
}

#[test]
fn invalid_utf8_and_two_values_in_one_message_are_refused() {
    // string_val (field 1) with the bytes ff fe.
    let err = wire::decode(&[0x0a, 0x02, 0xff, 0xfe], &ValueLimits::default()).unwrap_err();
    assert_eq!(err.kind(), &ValueErrorKind::InvalidUtf8);
    // int_val 1 followed by bool_val true.
    let err = wire::decode(&[0x10, 0x01, 0x20, 0x01], &ValueLimits::default()).unwrap_err();
    assert_eq!(err.kind(), &ValueErrorKind::MultipleValues);
    // int_val sent with the length-delimited wire type.
    let err = wire::decode(&[0x12, 0x00], &ValueLimits::default()).unwrap_err();
    assert!(matches!(
        err.kind(),
        ValueErrorKind::WrongWireType { field: 2, .. }
    ));
}

#[test]
fn unknown_fields_are_skipped_for_forward_compatibility() {
    // field 99 (varint 7), then int_val 5.
    let mut bytes = vec![0x98, 0x06, 0x07];
    bytes.extend([0x10, 0x05]);
    assert_eq!(
        wire::decode(&bytes, &ValueLimits::default()).unwrap(),
        Value::Int(5)
    );
}
