//! The domain error: every way a call can fail, with a stable UPPER_SNAKE reason code and the
//! context a client needs (method, piece id, VPD, argument index). The transport maps it to a
//! status in exactly one place; nothing here knows about gRPC.
//!
//! Input quoted in an error (a method name, a VPD) is cut to [`QUOTE_MAX_CHARS`] characters
//! with [`quote`], so that an error never echoes an unbounded request back: a 1 MiB method
//! name must not become a 1 MiB status message.

use crate::identity::ClientIdError;
use crate::model::ModelError;
use crate::stm::StmError;
use crate::value::ValueError;

/// How many characters of client input an error quotes.
pub const QUOTE_MAX_CHARS: usize = 128;

/// `text` as an error quotes it: at most [`QUOTE_MAX_CHARS`] characters, then `…` if it was
/// longer.
pub fn quote(text: &str) -> String {
    cut(text, QUOTE_MAX_CHARS)
}

/// `text` cut to `max` characters, with `…` when something was cut.
pub fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

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
    /// A request broke a configured limit (operations per batch, client metadata): refused
    /// before any work, nothing changed.
    #[error("{what} exceeds {limit} ({max})")]
    LimitExceeded {
        /// The configuration key of the limit (`limits.max_batch_operations`).
        limit: &'static str,
        /// Its value.
        max: u64,
        /// What broke it, in words (`an atomic batch of 1001 operations`).
        what: String,
    },
    /// The result would be larger than the largest message the server sends; the call stopped
    /// while building it, and nothing was committed.
    #[error("the response would exceed limits.max_message_bytes ({max} bytes)")]
    ResponseTooLarge {
        /// The limit, in bytes.
        max: usize,
    },
    /// The call ran past its deadline (the client's `grpc-timeout` or
    /// `limits.max_call_seconds`); nothing was committed.
    #[error("deadline exceeded: {message}; nothing was committed")]
    DeadlineExceeded {
        /// Where it stopped.
        message: String,
    },
    /// The server cannot take the call now (its executor queue is full); try again later.
    #[error("the server is busy ({message}); retry after {retry_after_ms} ms")]
    Overloaded {
        /// Which capacity ran out.
        message: String,
        /// When to try again.
        retry_after_ms: u64,
    },
    /// The caller's tenant does not exist (in `registered` mode) or is suspended.
    #[error("tenant {tenant} is not active")]
    TenantNotActive {
        /// The tenant.
        tenant: String,
    },
    /// An admin method named a tenant the registry does not have.
    #[error("no tenant {tenant}")]
    TenantNotFound {
        /// The tenant named.
        tenant: String,
    },
    /// The caller's tenant has used up one of its quotas.
    #[error("the tenant's {quota} quota ({max}) is used up; retry after {retry_after_ms} ms")]
    QuotaExceeded {
        /// Which quota (`requests_per_second`, `clients`, `pieces`).
        quota: &'static str,
        /// Its value.
        max: u64,
        /// When trying again may succeed.
        retry_after_ms: u64,
    },
    /// The server is not ready to take calls (still starting); try again shortly.
    #[error("the server is not ready: {message}")]
    NotReady {
        /// What it is waiting for.
        message: String,
    },
    /// The store cannot persist writes now: nothing was committed. Reads of loaded pieces go
    /// on, and writes are taken again once the store answers.
    #[error("the store is unavailable: {message}")]
    StoreUnavailable {
        /// What failed (no connection strings or SQL).
        message: String,
    },
    /// The piece is in the store but not in memory: the transport loads it and calls again.
    /// A caller sees it only if loading keeps failing to take.
    #[error("piece {piece_id} is being loaded; try again")]
    PieceNotLoaded {
        /// The piece.
        piece_id: String,
    },
    /// A piece's stored data is damaged beyond what the server can rebuild; it is not served,
    /// and never written back.
    #[error("piece {piece_id} cannot be loaded: {message}")]
    DataLoss {
        /// The piece.
        piece_id: String,
        /// What is damaged.
        message: String,
    },
    /// Something failed inside the server; the message says what without internals.
    #[error("internal error: {0}")]
    Internal(String),
    /// The request breaks the gRPC protocol (request cardinality, compression).
    #[error("protocol violation: {0}")]
    ProtocolViolation(String),
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
            Error::LimitExceeded { .. } => "LIMIT_EXCEEDED",
            Error::ResponseTooLarge { .. } => "RESPONSE_TOO_LARGE",
            Error::DeadlineExceeded { .. } => "DEADLINE_EXCEEDED",
            Error::Overloaded { .. } => "OVERLOADED",
            Error::NotReady { .. } => "NOT_READY",
            Error::TenantNotActive { .. } => "TENANT_NOT_ACTIVE",
            Error::TenantNotFound { .. } => "TENANT_NOT_FOUND",
            Error::QuotaExceeded { .. } => "QUOTA_EXCEEDED",
            Error::ProtocolViolation(_) => "PROTOCOL_VIOLATION",
            Error::StoreUnavailable { .. } => "STORE_UNAVAILABLE",
            Error::DataLoss { .. } => "PIECE_DATA_LOSS",
            Error::PieceNotLoaded { .. } => "PIECE_NOT_LOADED",
            Error::Internal(_) => "INTERNAL",
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

    /// The piece to load before calling again, if this failed (or a batch operation inside it
    /// failed) only because that piece is not in memory.
    pub fn piece_to_load(&self) -> Option<crate::model::PieceId> {
        match self.root() {
            Error::PieceNotLoaded { piece_id } => piece_id.parse().ok(),
            _ => None,
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
            ModelError::VpdNotFound { vpd, message } => Error::VpdNotFound {
                vpd: quote(&vpd),
                message: quote(&message),
            },
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
