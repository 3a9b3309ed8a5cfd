//! The domain error: every way a call can fail, with a stable UPPER_SNAKE reason code and the
//! context a client needs (method, piece id, VPD, argument index). The transport maps it to a
//! status in exactly one place; nothing here knows about gRPC.

use crate::identity::ClientIdError;
use crate::model::ModelError;
use crate::stm::StmError;
use crate::value::ValueError;

/// Why a call failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Error {
    /// No method of that name is registered.
    #[error("method not found: {method}")]
    MethodNotFound { method: String },
    /// No piece with that id (or not visible to the caller).
    #[error("piece not found: {piece_id}")]
    PieceNotFound { piece_id: String },
    /// A VPD does not resolve in the piece.
    #[error("{vpd} does not resolve: {message}")]
    VpdNotFound { vpd: String, message: String },
    /// An argument has the wrong shape or type.
    #[error("invalid params for {method}: {}{message}", index.map(|i| format!("argument {i}: ")).unwrap_or_default())]
    InvalidParams {
        method: String,
        index: Option<usize>,
        message: String,
    },
    /// A value that entered the server broke a value rule or limit.
    #[error("invalid value: {0}")]
    InvalidValue(ValueError),
    /// A well-formed request that would break a rule of the model.
    #[error("validation failed: {message}")]
    ValidationFailed { message: String },
    /// The operation is not possible in this state (e.g. copying a musician reference).
    #[error("not allowed: {message}")]
    NotAllowed { message: String },
    /// The request is not valid protobuf.
    #[error("malformed request: {0}")]
    MalformedRequest(String),
    /// The caller's identity is missing or not registered.
    #[error("unauthenticated: {message}")]
    Unauthenticated { message: String },
    /// The caller may not do this (e.g. disconnect another user's client).
    #[error("permission denied: {message}")]
    PermissionDenied { message: String },
    /// A client id that breaks the client-id rules.
    #[error("invalid client id: {0}")]
    InvalidClientId(ClientIdError),
    /// The client id is already registered in the tenant.
    #[error("client id {client_id} is already registered")]
    ClientIdTaken { client_id: String },
    /// The transaction kept conflicting and gave up.
    #[error("gave up after {attempts} conflicting attempts")]
    ConflictRetriesExhausted { attempts: u32 },
    /// Operation `index` of an atomic batch failed; nothing of the batch was applied.
    #[error("atomic operation {index} ({method}) failed: {source}")]
    BatchOperationFailed {
        index: usize,
        method: String,
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// The stable reason code (`METHOD_NOT_FOUND`, `VPD_NOT_FOUND`, ...). A failed batch
    /// operation reports the reason of what failed inside it.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::MethodNotFound { .. } => "METHOD_NOT_FOUND",
            Error::PieceNotFound { .. } => "PIECE_NOT_FOUND",
            Error::VpdNotFound { .. } => "VPD_NOT_FOUND",
            Error::InvalidParams { .. } => "INVALID_PARAMS",
            Error::InvalidValue(_) => "INVALID_VALUE",
            Error::ValidationFailed { .. } => "VALIDATION_FAILED",
            Error::NotAllowed { .. } => "NOT_ALLOWED",
            Error::ConflictRetriesExhausted { .. } => "CONFLICT_RETRIES_EXHAUSTED",
            Error::MalformedRequest(_) => "MALFORMED_REQUEST",
            Error::Unauthenticated { .. } => "UNAUTHENTICATED",
            Error::PermissionDenied { .. } => "PERMISSION_DENIED",
            Error::InvalidClientId(_) => "INVALID_CLIENT_ID",
            Error::ClientIdTaken { .. } => "CLIENT_ID_TAKEN",
            Error::BatchOperationFailed { source, .. } => source.reason(),
        }
    }

    /// An argument error of `method`.
    pub fn params(method: &str, index: Option<usize>, message: impl Into<String>) -> Self {
        Error::InvalidParams {
            method: method.to_owned(),
            index,
            message: message.into(),
        }
    }

    /// The innermost error (through failed batch operations).
    pub fn root(&self) -> &Error {
        match self {
            Error::BatchOperationFailed { source, .. } => source.root(),
            other => other,
        }
    }
}

impl From<ModelError> for Error {
    fn from(e: ModelError) -> Self {
        match e {
            ModelError::VpdNotFound { vpd, message } => Error::VpdNotFound { vpd, message },
            ModelError::Invalid(message) => Error::InvalidParams {
                method: String::new(),
                index: None,
                message,
            },
            ModelError::Validation(message) => Error::ValidationFailed { message },
        }
    }
}

impl From<ValueError> for Error {
    fn from(e: ValueError) -> Self {
        Error::InvalidValue(e)
    }
}

/// Transaction bodies return `Error`; the STM's retry signal passes through it untouched
/// (the STM recognises the attempt by its own flag, not by this value).
impl From<StmError> for Error {
    fn from(e: StmError) -> Self {
        match e {
            StmError::Validation(v) => Error::ValidationFailed { message: v.message },
            StmError::RetriesExhausted { attempts, .. } => {
                Error::ConflictRetriesExhausted { attempts }
            }
            StmError::Retry(_) => Error::ConflictRetriesExhausted { attempts: 0 },
        }
    }
}
