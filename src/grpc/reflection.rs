//! gRPC server reflection, v1 and v1alpha (common tools still speak v1alpha), describing
//! everything a client can meet on this server: `OoloiService`, the health service, and the
//! google.rpc error model (`Status`, `ErrorInfo`, `BadRequest`, ...) that every error's details
//! use, so a generic tool such as grpcurl prints an error's `ErrorInfo` decoded instead of as
//! raw bytes.
//!
//! The google.rpc descriptors come from `tonic-types`, which defines the detail messages the
//! server encodes; it names the files `status.proto` and `error_details.proto`, so they are
//! served under their canonical googleapis paths (`google/rpc/...`), the names other
//! descriptors import them by.

use prost::Message;
use prost_types::FileDescriptorSet;
use tonic_reflection::server::{Builder, Error, v1, v1alpha};

/// The canonical path of a google.rpc file that `tonic-types` names by its base name only.
fn canonical_name(name: &str) -> Option<&'static str> {
    match name {
        "status.proto" => Some("google/rpc/status.proto"),
        "error_details.proto" => Some("google/rpc/error_details.proto"),
        _ => None,
    }
}

/// The google.rpc error model's descriptors (with `google/protobuf/any.proto` and
/// `duration.proto`, which they import), under their canonical paths.
pub fn google_rpc_descriptors() -> Result<FileDescriptorSet, prost::DecodeError> {
    let mut set = FileDescriptorSet::decode(tonic_types::pb::FILE_DESCRIPTOR_SET)?;
    for file in &mut set.file {
        if let Some(canonical) = file.name.as_deref().and_then(canonical_name) {
            file.name = Some(canonical.to_string());
        }
        for dependency in &mut file.dependency {
            if let Some(canonical) = canonical_name(dependency) {
                *dependency = canonical.to_string();
            }
        }
    }
    Ok(set)
}

fn builder() -> Result<Builder<'static>, Error> {
    let google_rpc = google_rpc_descriptors().map_err(Error::DecodeError)?;
    Ok(Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_file_descriptor_set(google_rpc))
}

/// The v1 reflection service.
pub fn v1() -> Result<v1::ServerReflectionServer<impl v1::ServerReflection>, Error> {
    builder()?.build_v1()
}

/// The v1alpha reflection service.
pub fn v1alpha() -> Result<v1alpha::ServerReflectionServer<impl v1alpha::ServerReflection>, Error> {
    builder()?.build_v1alpha()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_model_is_served_under_its_canonical_paths() {
        let set = google_rpc_descriptors().unwrap();
        let names: Vec<&str> = set.file.iter().filter_map(|f| f.name.as_deref()).collect();
        for expected in [
            "google/rpc/status.proto",
            "google/rpc/error_details.proto",
            "google/protobuf/any.proto",
            "google/protobuf/duration.proto",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
        let details = set
            .file
            .iter()
            .find(|f| f.name.as_deref() == Some("google/rpc/error_details.proto"))
            .unwrap();
        let messages: Vec<&str> = details
            .message_type
            .iter()
            .filter_map(|m| m.name.as_deref())
            .collect();
        assert!(messages.contains(&"ErrorInfo") && messages.contains(&"BadRequest"));
        assert!(v1().is_ok() && v1alpha().is_ok());
    }
}
