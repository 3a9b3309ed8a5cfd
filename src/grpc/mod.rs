//! The gRPC transport (thin): decode, authenticate, call the API, map errors. So far: the one
//! mapping from domain errors to statuses; the service itself arrives with Stage 4.

pub mod status;
