//! ooloi-server: a collaborative music-notation server.
//!
//! Scores ("pieces") live in a software transactional memory; clients edit and watch them over
//! gRPC and receive a stream of what changed. The crate is layered bottom-up: [`value`] is the
//! unified value that crosses the wire, [`proto`] is the generated wire protocol, [`stm`] is the
//! software transactional memory pieces live in. See
//! `ARCHITECTURE.md` for the module map and the path a request takes.
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod clients;
pub mod config;
pub mod embedded;
pub mod error;
pub mod events;
pub mod executor;
pub mod grpc;
pub mod http;
pub mod identity;
pub mod model;
pub mod net;
pub mod proto;
pub mod server;
pub mod stm;
pub mod store;
pub mod telemetry;
pub mod tenants;
pub mod value;
