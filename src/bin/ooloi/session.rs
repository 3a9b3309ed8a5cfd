//! A registered client session, as every server command needs one: with authentication off,
//! `ExecuteMethod` only accepts the `x-ooloi-client-id` of a registered client. [`Session::open`]
//! registers (waiting, within a deadline, for `client-registration-confirmed`), [`Session::call`]
//! runs a method with the client id header, [`Session::disconnect`] removes the registration.
//! Every request carries `authorization: Bearer $OOLOI_TOKEN` when that variable is set (auth
//! mode `jwt`).

use std::sync::OnceLock;
use std::time::Duration;

use ooloi_server::proto::ooloi_service_client::OoloiServiceClient;
use ooloi_server::proto::{DisconnectRequest, EventMessage, OoloiRequest, RegisterClientRequest};
use ooloi_server::value::{Value, ValueLimits, edn};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status, Streaming};

use crate::failure::Failure;

/// The metadata header that names the calling client.
pub const CLIENT_ID_HEADER: &str = "x-ooloi-client-id";

/// The default server address.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:10700";

/// Where a server command connects, and as which client.
#[derive(Clone, Debug, clap::Args)]
pub struct ConnectArgs {
    /// The server's gRPC URL
    #[arg(long, value_name = "URL", default_value = DEFAULT_SERVER, global = true)]
    pub server: String,
    /// The client id to register as (default: a generated ooloi-cli-XXXXXXXX)
    #[arg(long, value_name = "ID", global = true)]
    pub client_id: Option<String>,
}

impl ConnectArgs {
    /// The client id to register as.
    pub fn client_id(&self) -> String {
        self.client_id
            .clone()
            .unwrap_or_else(|| generated_id("ooloi-cli"))
    }
}

/// How long to wait for a connection or for the registration confirmation.
const DEADLINE: Duration = Duration::from_secs(10);

/// Opens one HTTP/2 connection to `url`.
pub async fn connect(url: &str) -> Result<Channel, Failure> {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|e| Failure::Usage(format!("--server {url:?}: {e}")))?
        .connect_timeout(DEADLINE)
        .tcp_nodelay(true);
    endpoint
        .connect()
        .await
        .map_err(|e| Failure::Other(format!("cannot connect to {url}: {}", source_chain(&e))))
}

fn source_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// A fresh client id, `ooloi-cli-` and 8 hex digits.
pub fn generated_id(prefix: &str) -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &hex[..8])
}

/// The `RegisterClient` request for `id`.
pub fn register_request(id: &str, display_name: &str) -> RegisterClientRequest {
    let info = Value::map([
        (Value::keyword("client-id"), Value::string(id)),
        (Value::keyword("display-name"), Value::string(display_name)),
    ]);
    RegisterClientRequest {
        client_info: Some(info.to_proto()),
    }
}

/// The environment variable holding the bearer token the CLI sends (auth mode `jwt`).
pub const TOKEN_ENV: &str = "OOLOI_TOKEN";

/// `authorization: Bearer $OOLOI_TOKEN`, if the variable is set (read once).
pub fn bearer() -> Result<Option<MetadataValue<Ascii>>, Failure> {
    static BEARER: OnceLock<Option<String>> = OnceLock::new();
    let token = BEARER.get_or_init(|| {
        std::env::var(TOKEN_ENV)
            .ok()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
    });
    token
        .as_ref()
        .map(|token| {
            format!("Bearer {token}")
                .parse()
                .map_err(|_| Failure::Usage(format!("{TOKEN_ENV} is not a valid header value")))
        })
        .transpose()
}

/// `message` with the bearer token of `OOLOI_TOKEN`, if set.
pub fn authorized<T>(message: T) -> Result<Request<T>, Failure> {
    let mut request = Request::new(message);
    if let Some(value) = bearer()? {
        request.metadata_mut().insert("authorization", value);
    }
    Ok(request)
}

/// `message` with the client id header set (and the bearer token of `OOLOI_TOKEN`, if set).
pub fn with_client_id<T>(message: T, id: &str) -> Result<Request<T>, Failure> {
    let mut request = authorized(message)?;
    let value = id
        .parse()
        .map_err(|_| Failure::Usage(format!("client id {id:?} is not a valid header value")))?;
    request.metadata_mut().insert(CLIENT_ID_HEADER, value);
    Ok(request)
}

/// A registered client: its id, a client for calls and its event stream.
#[derive(Debug)]
pub struct Session {
    pub id: String,
    pub client: OoloiServiceClient<Channel>,
    pub events: Streaming<EventMessage>,
}

impl Session {
    /// Registers `id` over `channel` and waits for the confirmation event.
    pub async fn open(channel: Channel, id: &str, display_name: &str) -> Result<Session, Failure> {
        let mut client = OoloiServiceClient::new(channel)
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX);
        let mut events = client
            .register_client(authorized(register_request(id, display_name))?)
            .await?
            .into_inner();
        let first = tokio::time::timeout(DEADLINE, events.message())
            .await
            .map_err(|_| Failure::Other("no registration confirmation within 10 s".into()))??
            .ok_or_else(|| Failure::Other("the event stream ended before confirming".into()))?;
        if first.event_type != "client-registration-confirmed" {
            return Err(Failure::Other(format!(
                "expected client-registration-confirmed, got {}",
                first.event_type
            )));
        }
        Ok(Session {
            id: id.to_owned(),
            client,
            events,
        })
    }

    /// Runs `method` with `params` as this client.
    pub async fn call(&mut self, method: &str, params: &Value) -> Result<Value, Failure> {
        let request = with_client_id(
            OoloiRequest {
                method: method.to_owned(),
                params: Some(params.to_proto()),
            },
            &self.id,
        )?;
        let response = self.client.execute_method(request).await?.into_inner();
        let result = response
            .result
            .ok_or_else(|| Failure::Other("the response has no result".into()))?;
        Value::from_proto(result, &ValueLimits::default())
            .map_err(|e| Failure::Other(format!("the result is not a valid value: {e}")))
    }

    /// Removes this client's registration.
    pub async fn disconnect(&mut self) -> Result<(), Status> {
        let request = with_client_id(DisconnectRequest {}, &self.id)
            .map_err(|_| Status::invalid_argument("client id"))?;
        self.client.disconnect(request).await.map(|_| ())
    }
}

/// Parses EDN given on the command line (`-` reads standard input); bad EDN is a usage error.
pub fn parse_edn_arg(what: &str, text: &str) -> Result<Value, Failure> {
    let text = if text == "-" {
        let mut buf = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut buf)
            .map_err(|e| Failure::Other(format!("reading stdin: {e}")))?;
        buf
    } else {
        text.to_owned()
    };
    edn::parse_with_limits(&text, &ValueLimits::default())
        .map_err(|e| Failure::Usage(format!("{what} is not valid EDN: {e}")))
}
