//! The one mapping from the domain [`Error`] to a gRPC status: the status code DESIGN section 3
//! assigns, a message for people, and `google.rpc.Status` details for programs, an `ErrorInfo`
//! whose `reason` is the stable code (`VPD_NOT_FOUND`, ...) with context in its metadata
//! (method, piece id, VPD, argument index), plus `BadRequest` field violations for bad input,
//! and `RetryInfo` when trying again later can succeed.
//!
//! Whatever the error holds, the status stays small: the message and each violation are cut to
//! [`MESSAGE_MAX_CHARS`] characters and each metadata value to [`crate::error::QUOTE_MAX_CHARS`],
//! so the trailers stay far below the 8 KiB header list that common clients accept.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::error::{Error, cut, quote};

/// The longest status message and `BadRequest` description, in characters.
pub const MESSAGE_MAX_CHARS: usize = 512;

/// The `ErrorInfo.domain` of every error this server reports.
pub const ERROR_DOMAIN: &str = "ooloi-server";

fn code_of(error: &Error) -> Code {
    match error {
        Error::MethodNotFound { .. } => Code::Unimplemented,
        Error::PieceNotFound { .. } | Error::VpdNotFound { .. } => Code::NotFound,
        Error::InvalidParams { .. }
        | Error::InvalidValue(_)
        | Error::ValidationFailed { .. }
        | Error::MalformedRequest(_)
        | Error::InvalidClientId(_) => Code::InvalidArgument,
        Error::NotAllowed { .. } => Code::FailedPrecondition,
        Error::Unauthenticated { .. } => Code::Unauthenticated,
        Error::PermissionDenied { .. } => Code::PermissionDenied,
        Error::ClientIdTaken { .. } => Code::AlreadyExists,
        Error::ConflictRetriesExhausted { .. } => Code::Aborted,
        Error::LimitExceeded { .. } => Code::InvalidArgument,
        Error::ResponseTooLarge { .. } | Error::Overloaded { .. } => Code::ResourceExhausted,
        Error::DeadlineExceeded { .. } => Code::DeadlineExceeded,
        Error::NotReady { .. } => Code::Unavailable,
        Error::TenantNotActive { .. } => Code::PermissionDenied,
        Error::TenantNotFound { .. } => Code::NotFound,
        Error::QuotaExceeded { .. } => Code::ResourceExhausted,
        Error::ProtocolViolation(_) => Code::Unimplemented,
        Error::StoreUnavailable { .. } | Error::PieceNotLoaded { .. } => Code::Unavailable,
        Error::DataLoss { .. } => Code::DataLoss,
        Error::Internal(_) => Code::Internal,
        Error::BatchOperationFailed { source, .. } => code_of(source),
    }
}

/// Context for `ErrorInfo.metadata`, and the field a bad request names, if any.
fn context(error: &Error, metadata: &mut HashMap<String, String>) -> Option<String> {
    match error {
        Error::MethodNotFound { method } => {
            metadata.insert("method".into(), method.clone());
            None
        }
        Error::PieceNotFound { piece_id }
        | Error::DataLoss { piece_id, .. }
        | Error::PieceNotLoaded { piece_id } => {
            metadata.insert("piece_id".into(), piece_id.clone());
            None
        }
        Error::VpdNotFound { vpd, .. } => {
            metadata.insert("vpd".into(), vpd.clone());
            None
        }
        Error::InvalidParams { method, index, .. } => {
            if !method.is_empty() {
                metadata.insert("method".into(), method.clone());
            }
            // Without an argument index (a wrong argument count) the field is the params
            // vector itself, so every bad-params answer has a BadRequest.
            Some(match index {
                Some(i) => {
                    metadata.insert("argument_index".into(), i.to_string());
                    format!("params[{i}]")
                }
                None => "params".into(),
            })
        }
        Error::InvalidValue(e) => {
            metadata.insert("path".into(), e.path());
            if let Some(limit) = e.exceeded_limit() {
                metadata.insert("limit".into(), limit.name().into());
            }
            Some(e.path())
        }
        Error::ValidationFailed { .. }
        | Error::NotAllowed { .. }
        | Error::MalformedRequest(_)
        | Error::Unauthenticated { .. }
        | Error::PermissionDenied { .. }
        | Error::DeadlineExceeded { .. }
        | Error::NotReady { .. }
        | Error::StoreUnavailable { .. }
        | Error::ProtocolViolation(_)
        | Error::Internal(_) => None,
        Error::LimitExceeded { limit, max, .. } => {
            metadata.insert("limit".into(), (*limit).into());
            metadata.insert("max".into(), max.to_string());
            None
        }
        Error::ResponseTooLarge { max } => {
            metadata.insert("limit".into(), "limits.max_message_bytes".into());
            metadata.insert("max".into(), max.to_string());
            None
        }
        Error::Overloaded { retry_after_ms, .. } => {
            metadata.insert("retry_after_ms".into(), retry_after_ms.to_string());
            None
        }
        Error::QuotaExceeded {
            quota,
            max,
            retry_after_ms,
        } => {
            metadata.insert("quota".into(), (*quota).into());
            metadata.insert("max".into(), max.to_string());
            metadata.insert("retry_after_ms".into(), retry_after_ms.to_string());
            None
        }
        Error::TenantNotActive { tenant } | Error::TenantNotFound { tenant } => {
            metadata.insert("tenant".into(), tenant.clone());
            None
        }
        Error::ClientIdTaken { client_id } => {
            metadata.insert("client_id".into(), client_id.clone());
            None
        }
        Error::InvalidClientId(_) => Some("client_info.client-id".into()),
        Error::ConflictRetriesExhausted { attempts } => {
            metadata.insert("attempts".into(), attempts.to_string());
            None
        }
        Error::BatchOperationFailed {
            index,
            method,
            source,
        } => {
            metadata.insert("operation_index".into(), index.to_string());
            metadata.insert("operation_method".into(), method.clone());
            context(source, metadata).map(|field| format!("operations[{index}].{field}"))
        }
    }
}

/// When to try again after `error`, if trying again later can succeed.
fn retry_after(error: &Error) -> Option<std::time::Duration> {
    match error.root() {
        Error::Overloaded { retry_after_ms, .. } | Error::QuotaExceeded { retry_after_ms, .. } => {
            Some(std::time::Duration::from_millis(*retry_after_ms))
        }
        // The store is retried every second while it is down.
        Error::StoreUnavailable { .. } => Some(std::time::Duration::from_secs(1)),
        Error::PieceNotLoaded { .. } => Some(std::time::Duration::from_millis(100)),
        _ => None,
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        let mut metadata = HashMap::new();
        let field = context(&error, &mut metadata);
        for value in metadata.values_mut() {
            *value = quote(value);
        }
        let mut details = ErrorDetails::with_error_info(error.reason(), ERROR_DOMAIN, metadata);
        if let Some(field) = field {
            details.add_bad_request_violation(
                quote(&field),
                cut(&error.root().to_string(), MESSAGE_MAX_CHARS),
            );
        }
        let delay = retry_after(&error);
        if let Some(delay) = delay {
            details.set_retry_info(Some(delay));
        }
        let message = cut(&error.to_string(), MESSAGE_MAX_CHARS);
        let mut status = Status::with_error_details(code_of(&error), message, details);
        if let Some(delay) = delay {
            // HTTP's Retry-After (whole seconds, rounded up), for clients that do not decode
            // RetryInfo.
            let seconds = delay.as_millis().div_ceil(1000).max(1);
            if let Ok(value) = seconds.to_string().parse() {
                status.metadata_mut().insert("retry-after", value);
            }
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Limit, ValueError};

    fn details(status: &Status) -> ErrorDetails {
        status.get_error_details()
    }

    #[test]
    fn transport_level_errors_get_their_code_and_reason() {
        let invalid_id = crate::identity::ClientId::new("ab").unwrap_err();
        let cases = [
            (
                Error::MalformedRequest("invalid wire type".into()),
                Code::InvalidArgument,
                "MALFORMED_REQUEST",
            ),
            (
                Error::Unauthenticated {
                    message: "missing x-ooloi-client-id".into(),
                },
                Code::Unauthenticated,
                "UNAUTHENTICATED",
            ),
            (
                Error::PermissionDenied {
                    message: "another user's client".into(),
                },
                Code::PermissionDenied,
                "PERMISSION_DENIED",
            ),
            (
                Error::InvalidClientId(invalid_id),
                Code::InvalidArgument,
                "INVALID_CLIENT_ID",
            ),
            (
                Error::ClientIdTaken {
                    client_id: "alice".into(),
                },
                Code::AlreadyExists,
                "CLIENT_ID_TAKEN",
            ),
        ];
        for (error, code, reason) in cases {
            let message = error.to_string();
            let status = Status::from(error);
            assert_eq!((status.code(), status.message()), (code, message.as_str()));
            let info = details(&status).error_info().cloned().expect("ErrorInfo");
            assert_eq!(info.reason, reason);
        }
        let status = Status::from(Error::InvalidClientId(
            crate::identity::ClientId::new("a b").unwrap_err(),
        ));
        let violations = details(&status).bad_request().cloned().expect("BadRequest");
        assert_eq!(
            violations.field_violations[0].field,
            "client_info.client-id"
        );
    }

    #[test]
    fn each_error_gets_its_code_reason_and_context() {
        let cases = [
            (
                Error::MethodNotFound {
                    method: "frob".into(),
                },
                Code::Unimplemented,
                "METHOD_NOT_FOUND",
                "method",
                "frob",
            ),
            (
                Error::PieceNotFound {
                    piece_id: "p1".into(),
                },
                Code::NotFound,
                "PIECE_NOT_FOUND",
                "piece_id",
                "p1",
            ),
            (
                Error::VpdNotFound {
                    vpd: "[:m 3]".into(),
                    message: "no musician 3".into(),
                },
                Code::NotFound,
                "VPD_NOT_FOUND",
                "vpd",
                "[:m 3]",
            ),
            (
                Error::params("add-item", Some(2), "bad"),
                Code::InvalidArgument,
                "INVALID_PARAMS",
                "argument_index",
                "2",
            ),
            (
                Error::ConflictRetriesExhausted { attempts: 10_000 },
                Code::Aborted,
                "CONFLICT_RETRIES_EXHAUSTED",
                "attempts",
                "10000",
            ),
        ];
        for (error, code, reason, key, value) in cases {
            let status = Status::from(error);
            assert_eq!(status.code(), code);
            let info = details(&status).error_info().cloned().expect("ErrorInfo");
            assert_eq!(
                (info.reason.as_str(), info.domain.as_str()),
                (reason, ERROR_DOMAIN)
            );
            assert_eq!(
                info.metadata.get(key).map(String::as_str),
                Some(value),
                "{reason}"
            );
        }
    }

    #[test]
    fn bad_input_names_the_field() {
        let status = Status::from(Error::params("add-item", Some(2), "expected an item"));
        let bad = details(&status).bad_request().cloned().expect("BadRequest");
        assert_eq!(bad.field_violations[0].field, "params[2]");
        let limit = ValueError::limit(Limit::Depth, 64)
            .at_index(1)
            .with_root("params");
        let status = Status::from(Error::InvalidValue(limit));
        assert_eq!(status.code(), Code::InvalidArgument);
        let d = details(&status);
        assert_eq!(
            d.error_info()
                .unwrap()
                .metadata
                .get("limit")
                .map(String::as_str),
            Some("max_depth")
        );
        assert_eq!(
            d.bad_request().unwrap().field_violations[0].field,
            "params[1]"
        );
    }

    #[test]
    fn a_failed_batch_operation_reports_the_inner_reason_and_the_operation() {
        let inner = Error::VpdNotFound {
            vpd: "[:m 9]".into(),
            message: "no musician 9".into(),
        };
        let error = Error::BatchOperationFailed {
            index: 4,
            method: "set-name".into(),
            source: Box::new(inner),
        };
        let status = Status::from(error);
        assert_eq!(status.code(), Code::NotFound);
        let info = details(&status).error_info().cloned().unwrap();
        assert_eq!(info.reason, "VPD_NOT_FOUND");
        assert_eq!(
            info.metadata.get("operation_index").map(String::as_str),
            Some("4")
        );
        assert_eq!(
            info.metadata.get("operation_method").map(String::as_str),
            Some("set-name")
        );
    }

    #[test]
    fn limits_deadlines_and_overload_get_their_codes_and_a_retry_hint() {
        let cases = [
            (
                Error::LimitExceeded {
                    limit: "limits.max_batch_operations",
                    max: 1000,
                    what: "an atomic batch of 1001 operations".into(),
                },
                Code::InvalidArgument,
                "LIMIT_EXCEEDED",
            ),
            (
                Error::ResponseTooLarge { max: 4096 },
                Code::ResourceExhausted,
                "RESPONSE_TOO_LARGE",
            ),
            (
                Error::DeadlineExceeded {
                    message: "after operation 3 of 10".into(),
                },
                Code::DeadlineExceeded,
                "DEADLINE_EXCEEDED",
            ),
            (
                Error::Overloaded {
                    message: "executor queue full".into(),
                    retry_after_ms: 250,
                },
                Code::ResourceExhausted,
                "OVERLOADED",
            ),
            (
                Error::ProtocolViolation("two request messages in a unary call".into()),
                Code::Unimplemented,
                "PROTOCOL_VIOLATION",
            ),
        ];
        for (error, code, reason) in cases {
            let status = Status::from(error);
            assert_eq!(status.code(), code, "{reason}");
            let d = details(&status);
            assert_eq!(d.error_info().unwrap().reason, reason);
            assert_eq!(d.retry_info().is_some(), reason == "OVERLOADED", "{reason}");
        }
        let status = Status::from(Error::LimitExceeded {
            limit: "limits.max_batch_operations",
            max: 1000,
            what: "x".into(),
        });
        let info = details(&status).error_info().cloned().unwrap();
        assert_eq!(info.metadata["limit"], "limits.max_batch_operations");
        assert_eq!(info.metadata["max"], "1000");
    }

    #[test]
    fn statuses_stay_small_whatever_the_input() {
        let huge = "m".repeat(1 << 20);
        let status = Status::from(Error::MethodNotFound {
            method: huge.clone(),
        });
        assert!(status.message().chars().count() <= MESSAGE_MAX_CHARS + 1);
        assert!(status.message().ends_with('…'));
        let info = details(&status).error_info().cloned().unwrap();
        assert!(info.metadata["method"].chars().count() <= crate::error::QUOTE_MAX_CHARS + 1);
        assert!(status.details().len() < 1024, "{}", status.details().len());
        let status = Status::from(Error::params("m", Some(1), huge));
        let bad = details(&status).bad_request().cloned().unwrap();
        assert!(bad.field_violations[0].description.chars().count() <= MESSAGE_MAX_CHARS + 1);
        // Short input is quoted whole.
        assert_eq!(crate::error::quote("set-title"), "set-title");
        assert_eq!(crate::error::cut("añb", 2), "añ…");
    }

    #[test]
    fn validation_failures_are_invalid_argument_and_not_allowed_is_failed_precondition() {
        let v = Status::from(Error::ValidationFailed {
            message: "must be one of #{:a}".into(),
        });
        assert_eq!(v.code(), Code::InvalidArgument);
        assert!(v.message().contains("must be one of"));
        let n = Status::from(Error::NotAllowed {
            message: "no".into(),
        });
        assert_eq!(n.code(), Code::FailedPrecondition);
    }
}
