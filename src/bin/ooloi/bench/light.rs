//! Many clients on few connections, decoding little: [`register`] opens a `RegisterClient`
//! stream whose events are decoded as [`EventHead`] (type, timestamp, sequence; prost skips the
//! event data unread), so that a thousand subscribers in the bench measure the server's delivery
//! rather than the bench's own decoding. [`subscribe`] subscribes a client to a piece.

use std::time::Duration;

use ooloi_server::proto::ooloi_service_client::OoloiServiceClient;
use ooloi_server::proto::{OoloiRequest, RegisterClientRequest};
use ooloi_server::value::Value;
use tonic::Streaming;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint};

use crate::failure::Failure;
use crate::session;

/// The fields of `EventMessage` the bench reads.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EventHead {
    #[prost(string, tag = "1")]
    pub event_type: String,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
    #[prost(uint64, tag = "4")]
    pub sequence: u64,
}

/// The HTTP/2 default stream window (RFC 9113), which the memory scenario's clients use so that
/// what they leave unread stays in the server's queues rather than in this process's buffers.
pub const DEFAULT_WINDOW: u32 = 65_535;

/// `n` HTTP/2 connections to `url` with tonic's default flow-control windows.
pub async fn connections(url: &str, n: usize) -> Result<Vec<Channel>, Failure> {
    connections_with_window(url, n, None).await
}

/// `n` HTTP/2 connections to `url`; with `window`, each stream gets that window and each
/// connection room for its share of streams.
pub async fn connections_with_window(
    url: &str,
    n: usize,
    window: Option<u32>,
) -> Result<Vec<Channel>, Failure> {
    let mut endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|e| Failure::Usage(format!("--server {url:?}: {e}")))?
        .connect_timeout(Duration::from_secs(10))
        .tcp_nodelay(true);
    if let Some(window) = window {
        endpoint = endpoint
            .initial_stream_window_size(window)
            .initial_connection_window_size(window.saturating_mul(256));
    }
    let mut channels = Vec::with_capacity(n);
    for _ in 0..n.max(1) {
        channels.push(
            endpoint
                .connect()
                .await
                .map_err(|e| Failure::Other(format!("cannot connect to {url}: {e}")))?,
        );
    }
    Ok(channels)
}

/// Registers `id` over `channel`; the stream is returned unread.
pub async fn register(channel: Channel, id: &str) -> Result<Streaming<EventHead>, Failure> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| Failure::Other(format!("connection not ready: {e}")))?;
    let codec = tonic_prost::ProstCodec::<RegisterClientRequest, EventHead>::default();
    let path = PathAndQuery::from_static("/ooloi.OoloiService/RegisterClient");
    let request = session::authorized(session::register_request(id, "ooloi bench"))?;
    Ok(grpc
        .server_streaming(request, path, codec)
        .await?
        .into_inner())
}

/// Subscribes client `id` to `piece_id`.
pub async fn subscribe(channel: Channel, id: &str, piece_id: &str) -> Result<(), Failure> {
    let request = session::with_client_id(
        OoloiRequest {
            method: "subscribe-to-piece-events".into(),
            params: Some(Value::vector([Value::string(piece_id)]).to_proto()),
        },
        id,
    )?;
    OoloiServiceClient::new(channel)
        .execute_method(request)
        .await?;
    Ok(())
}

/// Microseconds since the Unix epoch, the unit of `EventMessage.timestamp`.
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}
