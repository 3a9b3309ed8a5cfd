//! The generated wire protocol (`proto/ooloi.proto`, package `ooloi`): messages, the
//! `OoloiService` client and server, and the encoded file descriptor set for server reflection.
//!
//! Generated code is kept out of the domain: [`crate::value`] converts between these messages and
//! [`crate::value::Value`], and decodes `OoloiValue` bytes directly where speed matters.
#![allow(missing_docs, missing_debug_implementations, clippy::all)]

tonic::include_proto!("ooloi");

/// The `OoloiService` server. Generated in a second pass that sends events as
/// [`crate::grpc::EventFrame`] (encoded once, shared by every recipient) instead of
/// [`EventMessage`]; the wire format is the same.
mod server {
    include!(concat!(env!("OUT_DIR"), "/server/ooloi.rs"));
}
pub use server::ooloi_service_server;

/// The encoded `FileDescriptorSet` of `proto/ooloi.proto`, served by gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("ooloi_descriptor");
