//! `OoloiService` over tonic, kept thin: read the caller's identity from metadata, convert the
//! request into domain values (enforcing the value limits), call the API or the client router,
//! convert back, and map errors in one place (`status.rs`).
//!
//! Who is calling comes from the request's extensions, where the [`caller`](super::caller)
//! layer put it. `ExecuteMethod` and `Disconnect` need the caller to name a client
//! (`x-ooloi-client-id`) that its principal registered (UNAUTHENTICATED otherwise). An event
//! stream is a client's queue drained as it is polled; when the stream is dropped (the client
//! went away), the client is removed, unless it re-registered meanwhile.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::{Request, Response, Status};

use super::EventFrame;
use super::call_frames::{RequestFrame, ResponseFrame};
use super::caller::{CLIENT_ID_HEADER, take_caller};
use super::deadline;
use super::streams::OpenStreams;
use super::stub::ooloi_service_server::OoloiService;
use crate::api::Durable;
use crate::clients::{Client, DisconnectOutcome, EventRouter, RegistryError};
use crate::error::Error;
use crate::events::{Delivery, Event};
use crate::executor::Lane;
use crate::identity::{Caller, ClientId};
use crate::proto::{DisconnectRequest, DisconnectResponse, OoloiValue, RegisterClientRequest};
use crate::server::Server;
use crate::telemetry::traces;
use crate::value::{Value, ValueLimits, wire};

/// How long a client refused for a full executor queue is told to wait.
const OVERLOADED_RETRY_MS: u64 = 100;

/// Requests whose parameters encode to more than this run in the executor's heavy lane.
pub const HEAVY_REQUEST_BYTES: usize = 4096;

/// The service: the server state, the limits applied to incoming values, and the event
/// streams it has open.
#[derive(Clone, Debug)]
pub struct OoloiGrpc {
    server: Server,
    limits: ValueLimits,
    streams: Arc<OpenStreams>,
}

impl OoloiGrpc {
    /// The service over `server`, with the value limits of its configuration.
    pub fn new(server: Server) -> Self {
        let limits = server.config().value_limits();
        OoloiGrpc {
            server,
            limits,
            streams: Arc::default(),
        }
    }

    /// The event streams this service has open.
    pub fn streams(&self) -> &Arc<OpenStreams> {
        &self.streams
    }

    fn router(&self) -> &EventRouter {
        self.server.router()
    }

    /// The registered client the caller calls from.
    fn calling_client(&self, caller: &Caller) -> Result<Arc<Client>, Error> {
        let unauthenticated = |message: String| Error::Unauthenticated { message };
        let Some(id) = &caller.client else {
            return Err(unauthenticated(format!("missing {CLIENT_ID_HEADER}")));
        };
        self.router()
            .registry()
            .client_of(caller)
            .ok_or_else(|| unauthenticated(format!("client {id} is not registered")))
    }
}

/// The value in `message`, converted under `limits`; an absent value is nil.
fn value_from(
    message: Option<OoloiValue>,
    root: &'static str,
    limits: &ValueLimits,
) -> Result<Value, Error> {
    match message {
        None => Ok(Value::Nil),
        Some(m) => Value::from_proto(m, limits).map_err(|e| Error::InvalidValue(e.with_root(root))),
    }
}

/// The client id and display name a registration claims in its `client_info` map, whose
/// `:display-name` may have at most `max_display_name_chars` characters.
fn claimed_identity(
    info: &Value,
    max_display_name_chars: usize,
) -> Result<(ClientId, Option<String>), Error> {
    let invalid = |message: &str| Error::InvalidParams {
        method: "RegisterClient".into(),
        index: None,
        message: message.into(),
    };
    let info = info
        .as_map()
        .ok_or_else(|| invalid("client_info must be a map with :client-id"))?;
    let id = match info.get_keyword("client-id") {
        Some(Value::String(s)) => ClientId::new(s).map_err(Error::InvalidClientId)?,
        _ => return Err(invalid("client_info needs :client-id, a string")),
    };
    let display_name = match info.get_keyword("display-name") {
        Some(Value::String(s)) => {
            let chars = s.chars().take(max_display_name_chars + 1).count();
            if chars > max_display_name_chars {
                return Err(Error::LimitExceeded {
                    limit: "limits.max_display_name_chars",
                    max: max_display_name_chars as u64,
                    what: format!("a :display-name of {} characters", s.chars().count()),
                });
            }
            Some(s.to_string())
        }
        _ => None,
    };
    Ok((id, display_name))
}

#[tonic::async_trait]
impl OoloiService for OoloiGrpc {
    async fn execute_method(
        &self,
        mut request: Request<RequestFrame>,
    ) -> Result<Response<ResponseFrame>, Status> {
        let start = std::time::Instant::now();
        let caller = take_caller(&mut request)?;
        traces::record_tenant(caller.tenant().as_str());
        // The tenant first (active, and a token in its request bucket): a suspended tenant
        // gets TENANT_NOT_ACTIVE whatever else is wrong, and a call over quota costs no
        // executor time.
        self.server
            .api()
            .tenants()
            .admit(caller.tenant())
            .inspect_err(|e| audit_denial(self.server.api(), &caller, "ExecuteMethod", e))?;
        let client = self.calling_client(&caller)?;
        let deadline = deadline::deadline(
            request.metadata(),
            start,
            self.server.config().limits.max_call(),
        );
        let RequestFrame { method, params } = request.into_inner();
        // A large request (a big batch) is expected to be long work: it may not take the
        // executor's last free thread, which stays for everyone else's small calls.
        let lane = match &params {
            Some(bytes) if bytes.len() > HEAVY_REQUEST_BYTES => Lane::Heavy,
            _ => Lane::Light,
        };
        let limits = self.limits;
        // Decoding, the call and encoding all run on the executor: each is CPU work that grows
        // with the request or the piece, and none of it may hold an async worker.
        let job = || {
            let (api, caller, method, params) = (
                self.server.api().clone(),
                caller.clone(),
                method.clone(),
                params.clone(),
            );
            // The call's span follows it onto the executor's thread: the API's spans are its
            // children.
            let span = tracing::Span::current();
            move || -> Result<(bytes::Bytes, Durable), Error> {
                let _entered = span.enter();
                let params = match params {
                    None => Value::Nil,
                    Some(bytes) => wire::decode(&bytes, &limits)
                        .map_err(|e| Error::InvalidValue(e.with_root("params")))?,
                };
                let (result, durable) =
                    api.execute_durably(&caller, &method, &params, Some(deadline))?;
                Ok((wire::encode(&result).into(), durable))
            }
        };
        // A piece in the store but not in memory (also inside an atomic batch) is loaded and
        // the call made again.
        let called = self
            .server
            .with_loads(Some(deadline), || async {
                let running = self
                    .server
                    .executor()
                    .spawn_in(lane, job())
                    .map_err(|busy| Error::Overloaded {
                        message: busy.to_string(),
                        retry_after_ms: OVERLOADED_RETRY_MS,
                    })?;
                running
                    .await
                    .unwrap_or_else(|_| Err(Error::Internal("the call failed".into())))
            })
            .await;
        // The write is acknowledged once the durability stage has settled it; the wait holds
        // no thread.
        let outcome = match called {
            Ok((bytes, durable)) => self
                .server
                .acknowledged(&method, durable)
                .await
                .map(|()| bytes),
            Err(e) => Err(e),
        };
        client.stats().record_api_call(outcome.is_ok());
        Ok(Response::new(ResponseFrame {
            success: true,
            error: String::new(),
            result: Some(outcome?),
        }))
    }

    type RegisterClientStream = EventStream;

    async fn register_client(
        &self,
        mut request: Request<RegisterClientRequest>,
    ) -> Result<Response<Self::RegisterClientStream>, Status> {
        let caller = take_caller(&mut request)?;
        traces::record_tenant(caller.tenant().as_str());
        let tenants = self.server.api().tenants();
        // A registration is a call: it draws from the tenant's request bucket too.
        tenants
            .admit(caller.tenant())
            .inspect_err(|e| audit_denial(self.server.api(), &caller, "RegisterClient", e))?;
        let quotas = tenants.active_quotas(caller.tenant())?;
        if self.router().registry().count(caller.tenant()) as u64 >= quotas.clients {
            return Err(Error::QuotaExceeded {
                quota: "clients",
                max: quotas.clients,
                retry_after_ms: 1000,
            }
            .into());
        }
        let limits = &self.server.config().limits;
        let client_info = request.into_inner().client_info;
        // Client metadata is bounded as a whole: it is kept for the client's life and its
        // display name goes into every broadcast of the tenant.
        let size = client_info.as_ref().map_or(0, prost::Message::encoded_len);
        if size > limits.max_client_info_bytes {
            return Err(Error::LimitExceeded {
                limit: "limits.max_client_info_bytes",
                max: limits.max_client_info_bytes as u64,
                what: format!("a client_info of {size} bytes"),
            }
            .into());
        }
        let info = value_from(client_info, "client_info", &self.limits)?;
        let (id, display_name) = claimed_identity(&info, limits.max_display_name_chars)?;
        let client = self
            .router()
            .register(
                &caller.principal,
                id,
                display_name,
                self.server.config().events.queue_capacity,
            )
            .map_err(|RegistryError::AlreadyExists { id }| Error::ClientIdTaken {
                client_id: id.to_string(),
            })?;
        client.set_session_expires_at(caller.expires_at);
        client.set_tenant_admin(caller.roles.tenant_admin);
        self.streams.opened(&client);
        let expiry = caller
            .expires_at
            .map(|at| Box::pin(tokio::time::sleep_until(session_deadline(at))));
        Ok(Response::new(EventStream {
            client,
            router: self.router().clone(),
            streams: Arc::clone(&self.streams),
            expiry,
            expired: false,
        }))
    }

    async fn disconnect(
        &self,
        mut request: Request<DisconnectRequest>,
    ) -> Result<Response<DisconnectResponse>, Status> {
        let caller = take_caller(&mut request)?;
        traces::record_tenant(caller.tenant().as_str());
        // No identity is UNAUTHENTICATED (DESIGN section 8); an id that is not (or no longer)
        // registered succeeds, so that Disconnect is idempotent.
        let Some(id) = &caller.client else {
            return Err(Error::Unauthenticated {
                message: format!("Disconnect needs a valid {CLIENT_ID_HEADER}"),
            }
            .into());
        };
        match self.router().disconnect(&caller.principal, id) {
            DisconnectOutcome::Removed(_) | DisconnectOutcome::NotRegistered => {
                Ok(Response::new(DisconnectResponse {
                    success: true,
                    error: String::new(),
                }))
            }
            DisconnectOutcome::NotOwner => Err(Error::PermissionDenied {
                message: format!("client {id} belongs to another user"),
            }
            .into()),
        }
    }
}

/// One client's event stream: its queue, drained as the transport polls.
#[derive(Debug)]
pub struct EventStream {
    client: Arc<Client>,
    router: EventRouter,
    streams: Arc<OpenStreams>,
    /// Fires at the session's deadline (the registering token's `exp`); `None` without
    /// authentication. When it fires the client's deadline is read again: a renewal may have
    /// moved it.
    expiry: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Set once the stream has ended with UNAUTHENTICATED.
    expired: bool,
}

/// The runtime instant of a session deadline given in seconds since the Unix epoch.
fn session_deadline(at: u64) -> tokio::time::Instant {
    let deadline = std::time::UNIX_EPOCH + std::time::Duration::from_secs(at);
    let left = deadline
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    tokio::time::Instant::now() + left
}

/// An audit entry for a tenant refused at the door (quota refusals are not authorization).
fn audit_denial(
    api: &crate::api::Api,
    caller: &crate::identity::Caller,
    what: &str,
    error: &Error,
) {
    if matches!(error, Error::TenantNotActive { .. }) {
        crate::api::audit::record(&*api.audit(), caller, what, None, error.reason());
    }
}

/// The frame for one delivery: a shared event, or the overflow marker made for this client.
fn frame(delivery: Delivery) -> EventFrame {
    match delivery {
        Delivery::Event { sequence, event } => EventFrame::new(&event, sequence),
        Delivery::Dropped {
            sequence,
            count,
            pieces,
        } => {
            let data = Value::map([
                (
                    Value::keyword("type"),
                    Value::keyword("client-events-dropped"),
                ),
                (Value::keyword("count"), Value::Int(count as i64)),
                (
                    Value::keyword("pieces"),
                    Value::set(pieces.iter().map(|p| Value::string(p.to_string()))),
                ),
            ]);
            EventFrame::new(
                &Event::new("client-events-dropped", None, 0, &data),
                sequence,
            )
        }
    }
}

impl futures_core::Stream for EventStream {
    type Item = Result<EventFrame, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.expired {
            return Poll::Ready(None);
        }
        // The deadline first: a stream that always has an event waiting must still end when
        // its token expires.
        if let Some(expiry) = this.expiry.as_mut() {
            while expiry.as_mut().poll(cx).is_ready() {
                match this.client.session_expires_at() {
                    Some(at) if session_deadline(at) > tokio::time::Instant::now() => {
                        expiry.as_mut().reset(session_deadline(at));
                    }
                    _ => {
                        this.expired = true;
                        return Poll::Ready(Some(Err(Error::Unauthenticated {
                            message: "the session's token expired: register again with a \
                                      fresh token, or call renew-client-session before it \
                                      expires"
                                .into(),
                        }
                        .into())));
                    }
                }
            }
        }
        match this.client.queue().poll_next(cx) {
            Poll::Ready(None) => match this.client.ended_by() {
                Some(error) => {
                    this.expired = true;
                    Poll::Ready(Some(Err(error.clone().into())))
                }
                None => Poll::Ready(None),
            },
            Poll::Ready(Some(delivery)) => {
                let frame = frame(delivery);
                let bytes = prost::Message::encoded_len(&frame) as u64;
                this.client.stats().record_sent(bytes);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.streams.ended(&self.client);
        // The stream ended (the client went away or the server is stopping): remove the
        // registration that opened it, never a newer one under the same id.
        self.router.stream_lost(
            self.client.tenant(),
            self.client.id(),
            self.client.generation(),
        );
    }
}
