//! The client methods, registered into the API's method registry by whoever owns the client
//! registry (the server): `subscribe-to-piece-events [pid]` and
//! `unsubscribe-from-piece-events [pid]`, both idempotent, and `renew-client-session []`, which
//! moves the client's session deadline to the expiry of the token the call carries; all act
//! for the registered client the call came from, which must be the caller's own. Subscribing requires seeing the piece, so a client only ever subscribes to
//! pieces of its own tenant.

use std::sync::Arc;

use super::ClientRegistry;
use crate::api::{Args, Call, Category, Method, MethodRegistry, ParamKind, registry::param};
use crate::error::Error;
use crate::value::Value;

fn calling_client(
    call: &Call<'_, '_>,
    clients: &ClientRegistry,
    args: &Args<'_>,
) -> Result<Arc<super::Client>, Error> {
    clients
        .client_of(call.caller)
        .ok_or_else(|| Error::NotAllowed {
            message: format!(
                "{} acts for a registered client: call it with x-ooloi-client-id",
                args.method()
            ),
        })
}

fn result(pid: &Value, subscribed: bool) -> Value {
    Value::map([
        (Value::keyword("piece-id"), pid.clone()),
        (Value::keyword("subscribed"), Value::Bool(subscribed)),
    ])
}

/// Registers the subscription methods, acting on `clients`.
pub fn register(methods: &MethodRegistry, clients: Arc<ClientRegistry>) {
    let subscribe = clients.clone();
    methods.register(Method::new(
        "subscribe-to-piece-events",
        Category::Read,
        &[param("piece-id", ParamKind::PieceId)],
        "Subscribes the calling client to a piece's events (idempotent)",
        move |call, args| {
            let pid = args.piece_id(0)?;
            call.piece(pid)?;
            let client = calling_client(call, &subscribe, args)?;
            subscribe
                .subscribe(&client, pid)
                .map_err(|e| Error::NotAllowed {
                    message: format!("{e:?}"),
                })?;
            Ok(result(args.value(0)?, true))
        },
    ));
    let sessions = clients.clone();
    methods.register(Method::new(
        "renew-client-session",
        Category::Read,
        &[],
        "Moves the calling client's session deadline to the expiry of this call's token, so its \
         event stream outlives the token it registered with",
        move |call, args| {
            let client = calling_client(call, &sessions, args)?;
            client.set_session_expires_at(call.caller.expires_at);
            Ok(Value::map([
                (
                    Value::keyword("client-id"),
                    Value::string(client.id().as_str()),
                ),
                (
                    Value::keyword("expires-at"),
                    call.caller
                        .expires_at
                        .map_or(Value::Nil, |at| Value::Int(at.min(i64::MAX as u64) as i64)),
                ),
            ]))
        },
    ));
    methods.register(Method::new(
        "unsubscribe-from-piece-events",
        Category::Read,
        &[param("piece-id", ParamKind::PieceId)],
        "Unsubscribes the calling client from a piece's events (idempotent)",
        move |call, args| {
            let pid = args.piece_id(0)?;
            let client = calling_client(call, &clients, args)?;
            clients.unsubscribe(&client, pid);
            Ok(result(args.value(0)?, false))
        },
    ));
}
