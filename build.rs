//! Generates the protobuf and gRPC code from `proto/` with a pure-Rust protobuf compiler (protox),
//! so no system `protoc` is needed, and writes the file descriptor set that server reflection
//! serves.

use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    let descriptors = protox::compile(["ooloi.proto"], ["proto"])?;
    let descriptor_path = out_dir.join("ooloi_descriptor.bin");
    std::fs::write(
        &descriptor_path,
        prost::Message::encode_to_vec(&descriptors),
    )?;
    // Messages and the client, as prost and tonic generate them.
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(false)
        .compile_fds(descriptors.clone())?;
    // The server, a second time over the same descriptors, with every message taken from the
    // first pass except three the server handles as bytes (same wire format): it sends
    // `EventMessage` as `crate::grpc::EventFrame` (the event's bytes, encoded once for every
    // recipient, plus the recipient's sequence number), and reads `OoloiRequest` / writes
    // `OoloiResponse` with the value still encoded, for the direct value codec. Its codec
    // refuses malformed requests as INVALID_ARGUMENT.
    let server_dir = out_dir.join("server");
    std::fs::create_dir_all(&server_dir)?;
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .extern_path(".ooloi", "crate::proto")
        .extern_path(".ooloi.EventMessage", "crate::grpc::EventFrame")
        .extern_path(".ooloi.OoloiRequest", "crate::grpc::RequestFrame")
        .extern_path(".ooloi.OoloiResponse", "crate::grpc::ResponseFrame")
        .codec_path("crate::grpc::codec::OoloiCodec")
        .out_dir(&server_dir)
        .compile_fds(descriptors)?;
    Ok(())
}
