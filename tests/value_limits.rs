//! Every value limit, tested at the limit and one past it, through the direct protobuf decoder,
//! prost's structs and EDN; hostile nesting is refused without a stack overflow; and every
//! operation on a value at the depth limit fits a 2 MiB thread stack.

mod support;

use ooloi_server::proto::OoloiValue;
use ooloi_server::value::{Limit, MAX_CONFIGURABLE_DEPTH, Value, ValueLimits, edn, wire};
use prost::Message;
use support::on_small_stack;

const DEFAULTS: ValueLimits = ValueLimits {
    max_depth: 64,
    max_collection_elements: 100_000,
    max_total_nodes: 1_000_000,
    max_string_bytes: 1 << 20,
    max_message_bytes: 16 << 20,
};

fn decode(bytes: &[u8]) -> Result<Value, Option<Limit>> {
    wire::decode(bytes, &DEFAULTS).map_err(|e| e.exceeded_limit())
}

/// Checks that the direct decoder, prost + conversion, and EDN agree on `v` under `limits`: all
/// accept, or all refuse naming `limit`.
fn all_paths_with(v: &Value, limits: &ValueLimits, expected: Result<(), Limit>) {
    let bytes = wire::encode(v);
    let direct = wire::decode(&bytes, limits)
        .map(drop)
        .map_err(|e| e.exceeded_limit());
    let via_prost = OoloiValue::decode(bytes.as_slice())
        .map_err(|e| panic!("prost refused: {e}"))
        .and_then(|m| Value::from_proto(m, limits).map_err(|e| e.exceeded_limit()))
        .map(drop);
    let via_edn = edn::parse_with_limits(&edn::print(v), limits)
        .map(drop)
        .map_err(|e| e.limit);
    let expected = expected.map_err(Some);
    assert_eq!(direct, expected, "direct decoder");
    assert_eq!(via_prost, expected, "prost + conversion");
    assert_eq!(via_edn, expected, "EDN");
}

fn all_paths(v: &Value, expected: Result<(), Limit>) {
    all_paths_with(v, &DEFAULTS, expected);
}

/// Like [`all_paths`] without prost, whose own limit of 100 nested messages (about 50 levels
/// of vectors) stops it before the default depth limit does.
fn direct_and_edn(v: &Value, expected: Result<(), Limit>) {
    let direct = decode(&wire::encode(v)).map(drop);
    let via_edn = edn::parse_with_limits(&edn::print(v), &DEFAULTS)
        .map(drop)
        .map_err(|e| e.limit);
    assert_eq!(direct, expected.map_err(Some), "direct decoder");
    assert_eq!(via_edn, expected.map_err(Some), "EDN");
}

fn nested_vectors(depth: usize) -> Value {
    (1..depth).fold(Value::Nil, |inner, _| Value::vector([inner]))
}

#[test]
fn depth_at_the_limit_passes_and_one_past_is_refused() {
    direct_and_edn(&nested_vectors(64), Ok(()));
    direct_and_edn(&nested_vectors(65), Err(Limit::Depth));
    // Maps count a level for their keys and values too.
    let mut v = Value::Nil;
    for _ in 1..64 {
        v = Value::map([(Value::Int(0), v)]);
    }
    direct_and_edn(&v, Ok(()));
    direct_and_edn(&Value::map([(v, Value::Nil)]), Err(Limit::Depth));
    // The conversion from prost's structs enforces the same limit (at a depth prost can read).
    let shallow = ValueLimits {
        max_depth: 16,
        ..DEFAULTS
    };
    all_paths_with(&nested_vectors(16), &shallow, Ok(()));
    all_paths_with(&nested_vectors(17), &shallow, Err(Limit::Depth));
}

#[test]
fn elements_per_collection_at_the_limit_pass_and_one_past_is_refused() {
    let ints = |n: i64| (0..n).map(Value::Int);
    for n in [100_000, 100_001] {
        let expected = if n == 100_000 {
            Ok(())
        } else {
            Err(Limit::CollectionElements)
        };
        all_paths(&Value::vector(ints(n)), expected);
        all_paths(&Value::list(ints(n)), expected);
        all_paths(&Value::set(ints(n)), expected);
        all_paths(&Value::map(ints(n).map(|i| (i, Value::Nil))), expected);
    }
}

#[test]
fn total_nodes_at_the_limit_pass_and_one_past_is_refused() {
    // 1 outer vector + 9 inner vectors of 100,000 nils + 99,990 nils = 1,000,000 values.
    let inner = Value::vector(std::iter::repeat_n(Value::Nil, 100_000));
    let build = |loose: usize| {
        Value::vector(
            std::iter::repeat_n(inner.clone(), 9).chain(std::iter::repeat_n(Value::Nil, loose)),
        )
    };
    all_paths(&build(99_990), Ok(()));
    all_paths(&build(99_991), Err(Limit::TotalNodes));
}

#[test]
fn string_bytes_and_names_at_the_limit_pass_and_one_past_is_refused() {
    for (len, expected) in [(1 << 20, Ok(())), ((1 << 20) + 1, Err(Limit::StringBytes))] {
        all_paths(
            &Value::string("é".repeat(len / 2) + &"x".repeat(len % 2)),
            expected,
        );
        all_paths(&Value::keyword(&"k".repeat(len)), expected);
        let bytes: Vec<u8> = (0..len).map(|i| i as u8).collect();
        all_paths(&Value::Bytes(bytes.into()), expected);
    }
}

/// A vector of strings whose encoding is exactly `target` bytes.
fn message_of_exactly(target: usize) -> Value {
    let chunk = Value::string("m".repeat(1_000_000));
    let chunks = target / 1_000_100;
    let with_pad = |pad: usize| {
        Value::vector(
            std::iter::repeat_n(chunk.clone(), chunks).chain([Value::string("p".repeat(pad))]),
        )
    };
    let rough = target - wire::encoded_len(&with_pad(0));
    (rough.saturating_sub(16)..=rough)
        .map(with_pad)
        .find(|v| wire::encoded_len(v) == target)
        .expect("a padding length that hits the target exists")
}

#[test]
fn message_bytes_at_the_limit_pass_and_one_byte_over_is_refused() {
    let at = message_of_exactly(16 << 20);
    let over = message_of_exactly((16 << 20) + 1);
    assert_eq!(wire::encode(&at).len(), 16 << 20);
    assert_eq!(decode(&wire::encode(&at)).map(drop), Ok(()));
    assert_eq!(
        decode(&wire::encode(&over)).map(drop),
        Err(Some(Limit::MessageBytes))
    );
    // EDN text obeys the same bound.
    let text_at = format!("\"{}\"", "t".repeat((16 << 20) - 2));
    let small_strings = ValueLimits {
        max_string_bytes: 16 << 20,
        ..DEFAULTS
    };
    assert!(edn::parse_with_limits(&text_at, &small_strings).is_ok());
    let text_over = format!("\"{}\"", "t".repeat((16 << 20) - 1));
    let err = edn::parse_with_limits(&text_over, &small_strings).unwrap_err();
    assert_eq!(err.limit, Some(Limit::MessageBytes));
}

#[test]
fn limits_are_configurable() {
    let tight = ValueLimits {
        max_depth: 3,
        max_collection_elements: 2,
        max_total_nodes: 4,
        max_string_bytes: 3,
        max_message_bytes: 64,
    };
    let check = |text: &str| {
        let v = edn::parse(text).unwrap();
        wire::decode(&wire::encode(&v), &tight)
            .map(drop)
            .map_err(|e| e.exceeded_limit().unwrap())
    };
    assert_eq!(check("[[1]]"), Ok(()));
    assert_eq!(check("[[[1]]]"), Err(Limit::Depth));
    assert_eq!(check("[1 2 3]"), Err(Limit::CollectionElements));
    assert_eq!(check("[[1 2] 3]"), Err(Limit::TotalNodes));
    assert_eq!(check("\"abcd\""), Err(Limit::StringBytes));
    // Depth 3, 4 values, 2 elements, a 3-byte string: every limit met exactly.
    assert_eq!(check("[\"abc\" [\"\"]]"), Ok(()));
    let many = ValueLimits {
        max_total_nodes: 1000,
        max_collection_elements: 1000,
        ..tight
    };
    let big = Value::vector((0..20).map(Value::Int));
    let err = wire::decode(
        &wire::encode(&big),
        &ValueLimits {
            max_message_bytes: 10,
            ..many
        },
    );
    assert_eq!(err.unwrap_err().exceeded_limit(), Some(Limit::MessageBytes));
}

/// Protobuf bytes of `levels` nested `vector_val`s around a nil, built outside-in without
/// recursion.
fn deeply_nested_bytes(levels: usize) -> Vec<u8> {
    fn varint(out: &mut Vec<u8>, mut v: usize) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    fn varint_len(v: usize) -> usize {
        let mut out = Vec::new();
        varint(&mut out, v);
        out.len()
    }
    // lens[i] = body length of the OoloiValue at nesting level i (innermost = nil, 2 bytes).
    let mut lens = vec![2usize];
    for _ in 0..levels {
        let child = *lens.last().unwrap();
        let elements = 1 + varint_len(child) + child; // OoloiVector.elements entry
        lens.push(1 + varint_len(elements) + elements); // OoloiValue.vector_val
    }
    let mut out = Vec::with_capacity(*lens.last().unwrap());
    for i in (1..=levels).rev() {
        let child = lens[i - 1];
        let elements = 1 + varint_len(child) + child;
        out.push(0x4a); // vector_val
        varint(&mut out, elements);
        out.push(0x0a); // elements
        varint(&mut out, child);
    }
    out.extend([0x68, 0x01]); // nil_val
    assert_eq!(out.len(), *lens.last().unwrap());
    out
}

#[test]
fn protobuf_nested_100000_levels_is_refused_without_stack_overflow() {
    let bytes = deeply_nested_bytes(100_000);
    let (direct, max_configurable, via_prost) = on_small_stack(move || {
        let direct = wire::decode(&bytes, &DEFAULTS)
            .map(drop)
            .map_err(|e| e.exceeded_limit());
        let deepest = ValueLimits {
            max_depth: MAX_CONFIGURABLE_DEPTH,
            ..DEFAULTS
        };
        let max_configurable = wire::decode(&bytes, &deepest)
            .map(drop)
            .map_err(|e| e.exceeded_limit());
        let via_prost = OoloiValue::decode(bytes.as_slice()).is_err();
        (direct, max_configurable, via_prost)
    });
    assert_eq!(direct, Err(Some(Limit::Depth)));
    assert_eq!(max_configurable, Err(Some(Limit::Depth)));
    assert!(via_prost, "prost's own recursion limit refuses it too");
}

#[test]
fn edn_nested_100000_levels_is_refused_without_stack_overflow() {
    let text = "[".repeat(100_000) + &"]".repeat(100_000);
    let err = on_small_stack(move || edn::parse(&text).unwrap_err());
    assert_eq!(err.limit, Some(Limit::Depth));
}

/// A value exactly `depth` levels deep mixing every compound kind.
fn mixed_depth(depth: usize) -> Value {
    (1..depth).fold(Value::keyword("leaf"), |inner, level| match level % 5 {
        0 => Value::vector([inner, 1.into()]),
        1 => Value::map([(Value::keyword("k"), inner)]),
        2 => Value::set([inner, Value::Nil]),
        3 => Value::list([inner]),
        _ => Value::Record(
            ooloi_server::value::Record::new(
                "x.Rec",
                [(Value::keyword("f"), inner)].into_iter().collect(),
            )
            .unwrap(),
        ),
    })
}

fn every_operation_at_depth(limits: ValueLimits) {
    on_small_stack(move || {
        use std::hash::{BuildHasher, RandomState};
        let v = mixed_depth(limits.max_depth);
        let bytes = wire::encode(&v);
        let decoded = wire::decode(&bytes, &limits).expect("decodes at the depth limit");
        let via_prost = OoloiValue::decode(bytes.as_slice()).ok();
        if let Some(message) = via_prost {
            assert_eq!(Value::from_proto(message, &limits).unwrap(), v);
        }
        let _ = v.to_proto().encoded_len();
        let text = edn::print(&decoded);
        assert_eq!(edn::parse_with_limits(&text, &limits).unwrap(), v);
        let state = RandomState::new();
        assert_eq!(state.hash_one(&decoded), state.hash_one(&v));
        assert_eq!(decoded.cmp(&v), std::cmp::Ordering::Equal);
        drop(decoded);
        drop(v);
    });
}

#[test]
fn every_operation_on_a_value_at_the_default_depth_limit_fits_a_2_mib_stack() {
    every_operation_at_depth(DEFAULTS);
}

#[test]
fn every_operation_at_the_largest_configurable_depth_fits_a_2_mib_stack() {
    every_operation_at_depth(ValueLimits {
        max_depth: MAX_CONFIGURABLE_DEPTH,
        ..DEFAULTS
    });
}
