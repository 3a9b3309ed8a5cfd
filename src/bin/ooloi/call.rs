//! `ooloi call METHOD EDN-PARAMS [--server URL] [--client-id ID]`: registers a client (a
//! generated `ooloi-cli-XXXXXXXX` id unless one is given), runs the method, prints its result as
//! EDN on standard output, and disconnects, also when the call failed.

use ooloi_server::value::edn;

use crate::args::Args;
use crate::failure::Failure;
use crate::session::{self, Session};

/// Runs `ooloi call` with the arguments after the command name.
pub async fn run(args: &[String]) -> Result<(), Failure> {
    let args = Args::parse(args, &["server", "client-id"], &[])?;
    let [method, params] = args.positional.as_slice() else {
        return Err(Failure::Usage(
            "call takes a method name and its parameters as EDN".into(),
        ));
    };
    let params = session::parse_edn_arg("the parameters", params)?;
    let id = args
        .get("client-id")
        .map_or_else(|| session::generated_id("ooloi-cli"), str::to_owned);
    let channel = session::connect(&args.server()).await?;
    let mut session = Session::open(channel, &id, "ooloi call").await?;
    let outcome = session.call(method, &params).await;
    let disconnected = session.disconnect().await;
    let result = outcome?;
    println!("{}", edn::print(&result));
    disconnected.map_err(Failure::Status)
}
