//! The generated `OoloiService` server. `build.rs` generates it in a second pass over the same
//! descriptors, with every message taken from [`crate::proto`] except three the server handles
//! as bytes with the same wire format: it sends `EventMessage` as [`super::EventFrame`]
//! (encoded once, shared by every recipient), reads `OoloiRequest` as
//! [`super::RequestFrame`] and writes `OoloiResponse` as [`super::ResponseFrame`].
#![allow(missing_docs, missing_debug_implementations, clippy::all)]

include!(concat!(env!("OUT_DIR"), "/server/ooloi.rs"));
