//! `ooloi watch PIECE-ID [--server URL] [--client-id ID]`: registers a client, subscribes it to
//! the piece, and prints every event of its stream as one line, `SEQUENCE EVENT-TYPE EDN`, until
//! the stream ends (the server shut down) or Ctrl-C, after which it disconnects. A line on
//! standard error says when the subscription is in place.

use ooloi_server::proto::EventMessage;
use ooloi_server::value::{Value, ValueLimits, edn};

use crate::failure::Failure;
use crate::session::{self, ConnectArgs, Session};

/// The arguments of `ooloi watch`.
#[derive(Clone, Debug, clap::Args)]
pub struct WatchArgs {
    /// The piece whose events to print
    pub piece_id: String,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

fn line(event: &EventMessage) -> String {
    let data = match &event.event_data {
        Some(data) => match Value::from_proto(data.clone(), &ValueLimits::default()) {
            Ok(value) => edn::print(&value),
            Err(e) => format!("#invalid {:?}", e.to_string()),
        },
        None => "nil".to_owned(),
    };
    format!("{} {} {data}", event.sequence, event.event_type)
}

/// Runs `ooloi watch`.
pub async fn run(args: WatchArgs) -> Result<(), Failure> {
    let piece_id = &args.piece_id;
    let id = args.connect.client_id();
    let channel = session::connect(&args.connect.server).await?;
    let mut session = Session::open(channel, &id, "ooloi watch").await?;
    let params = Value::vector([Value::string(piece_id)]);
    if let Err(e) = session.call("subscribe-to-piece-events", &params).await {
        let _ = session.disconnect().await;
        return Err(e);
    }
    eprintln!("ooloi: watching piece {piece_id} as client {id} (Ctrl-C stops)");
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            interrupted = &mut ctrl_c => {
                interrupted.map_err(|e| Failure::Other(format!("waiting for Ctrl-C: {e}")))?;
                eprintln!("ooloi: interrupted; disconnecting {id}");
                return session.disconnect().await.map_err(Failure::Status);
            }
            event = session.events.message() => match event {
                Ok(Some(event)) => println!("{}", line(&event)),
                Ok(None) => {
                    eprintln!("ooloi: the server ended the stream");
                    return Ok(());
                }
                Err(status) => return Err(Failure::Status(status)),
            },
        }
    }
}
