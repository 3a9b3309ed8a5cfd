//! The generated wire protocol (`proto/ooloi.proto`, package `ooloi`): the messages, the
//! `OoloiService` client, and the encoded file descriptor set that server reflection serves.
//!
//! Only messages and the client live here, so that [`crate::value`] can convert to and from the
//! messages without depending on the transport. The server stub is generated separately, with
//! three messages handled as bytes, and lives in the transport (`crate::grpc::stub`).
#![allow(missing_docs, missing_debug_implementations, clippy::all)]

tonic::include_proto!("ooloi");

/// The encoded `FileDescriptorSet` of `proto/ooloi.proto`, served by gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("ooloi_descriptor");
