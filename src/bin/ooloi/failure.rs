//! Why a command failed, and how that is shown: usage errors (exit 2) name what was wrong with
//! the command line; gRPC failures print the status code by its canonical name, the message, the
//! `ErrorInfo` reason with its metadata and every `BadRequest` field violation, one per line.

use std::fmt;

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// A failed command.
#[derive(Debug)]
pub enum Failure {
    /// The command line was wrong (exit code 2).
    Usage(String),
    /// The server answered with an error status.
    Status(Status),
    /// Anything else: no connection, a broken stream, an unusable answer.
    Other(String),
}

impl From<Status> for Failure {
    fn from(status: Status) -> Self {
        Failure::Status(status)
    }
}

/// The canonical gRPC name of a status code (`INVALID_ARGUMENT`).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The status as the lines `ooloi` prints for it.
pub fn describe(status: &Status) -> String {
    let mut out = format!(
        "ooloi: error: {} ({}): {}",
        code_name(status.code()),
        status.code() as i32,
        status.message()
    );
    let details = status.get_error_details();
    if let Some(info) = details.error_info() {
        out.push_str(&format!("\n  reason: {}", info.reason));
        if !info.domain.is_empty() {
            out.push_str(&format!("\n  domain: {}", info.domain));
        }
        let mut metadata: Vec<_> = info.metadata.iter().collect();
        metadata.sort();
        for (key, value) in metadata {
            out.push_str(&format!("\n  metadata: {key} = {value}"));
        }
    }
    if let Some(bad) = details.bad_request() {
        for violation in &bad.field_violations {
            out.push_str(&format!(
                "\n  field violation: {}: {}",
                violation.field, violation.description
            ));
        }
    }
    if let Some(retry) = details.retry_info().and_then(|r| r.retry_delay) {
        out.push_str(&format!("\n  retry after: {retry:?}"));
    }
    out
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(message) => write!(f, "ooloi: {message}"),
            Failure::Status(status) => f.write_str(&describe(status)),
            Failure::Other(message) if message.starts_with("ooloi:") => f.write_str(message),
            Failure::Other(message) => write!(f, "ooloi: {message}"),
        }
    }
}
