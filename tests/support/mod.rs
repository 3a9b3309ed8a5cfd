//! Shared test support: proptest strategies that generate arbitrary values of every kind,
//! nested, with names that follow the naming rules; in [`api`], helpers for the API tests; and, in
//! [`grpc`], the harness of the gRPC acceptance tests (servers over TCP or the embedded
//! transport, registered clients, bounded waits for events).
#![allow(dead_code)]

pub mod api;
pub mod grpc;
pub mod jwt;
pub mod process;
pub mod stores;

use num_bigint::BigInt;
use ooloi_server::value::{Instant, Keyword, Ratio, Record, Symbol, Value, ValueMap};
use proptest::prelude::*;

/// Epoch microseconds in years 0000-9999.
pub const INSTANT_RANGE: std::ops::RangeInclusive<i64> =
    -62_167_219_200_000_000..=253_402_300_799_999_999;

fn namespace() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[a-zA-Zé*!_?<>=$%&][a-zA-Z0-9é*+!_'?<>=.$%&#-]{0,8}")
}

pub fn keyword() -> impl Strategy<Value = Keyword> {
    (
        namespace(),
        "[a-zA-Z0-9é*+!_'?<>=.$%&-][a-zA-Z0-9é*+!_'?<>=.$%&#-]{0,8}",
    )
        .prop_filter_map("keyword naming rules", |(ns, name)| {
            Keyword::new(ns.as_deref(), &name).ok()
        })
}

pub fn symbol() -> impl Strategy<Value = Symbol> {
    (
        namespace(),
        "[a-zA-Zé*!_?<>=$%&][a-zA-Z0-9é*+!_'?<>=.$%&#-]{0,8}",
    )
        .prop_filter_map("symbol naming rules", |(ns, name)| {
            Symbol::new(ns.as_deref(), &name).ok()
        })
}

fn record_type_name() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9.-]{0,12}\\.[A-Z][a-zA-Z0-9]{0,8}"
}

pub fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        proptest::collection::vec(any::<u8>(), 0..24)
            .prop_map(|b| Value::from(BigInt::from_signed_bytes_be(&b))),
        any::<f64>().prop_map(Value::Double),
        prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(-0.0),
            Just(1e-300)
        ]
        .prop_map(Value::Double),
        (any::<i64>(), any::<i64>()).prop_filter_map("valid ratio", |(n, d)| Ratio::canonical(
            n, d
        )
        .ok()
        .map(Value::Ratio)),
        (-64i64..64, 1i64..64).prop_filter_map("valid ratio", |(n, d)| Value::ratio(n, d)),
        any::<String>().prop_map(Value::from),
        keyword().prop_map(Value::Keyword),
        symbol().prop_map(Value::Symbol),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(|b| Value::Bytes(b.into())),
        any::<u128>().prop_map(|u| Value::Uuid(uuid::Uuid::from_u128(u))),
        INSTANT_RANGE.prop_map(|m| Value::Instant(Instant::from_epoch_micros(m).unwrap())),
    ]
}

/// Arbitrary values nested up to `depth` levels with up to `width` elements per collection.
pub fn value_with(depth: u32, width: usize) -> impl Strategy<Value = Value> {
    leaf().prop_recursive(depth, 256, width as u32, move |inner| {
        let items = proptest::collection::vec(inner.clone(), 0..width);
        let entries = proptest::collection::vec((inner.clone(), inner.clone()), 0..width);
        prop_oneof![
            items.clone().prop_map(Value::vector),
            items.clone().prop_map(Value::list),
            items.prop_map(Value::set),
            entries.clone().prop_map(Value::map),
            (record_type_name(), entries).prop_map(|(name, entries)| {
                let fields: ValueMap = entries.into_iter().collect();
                Value::Record(Record::new(&name, fields).unwrap())
            }),
        ]
    })
}

/// Arbitrary values of every kind, nested.
pub fn value() -> impl Strategy<Value = Value> {
    value_with(5, 6)
}

/// Runs `f` on a thread with a 2 MiB stack (the default for spawned threads, made explicit).
pub fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}
