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
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
