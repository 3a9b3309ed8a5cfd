//! `ooloi call METHOD EDN-PARAMS [--server URL] [--client-id ID]`: registers a client (a
//! generated `ooloi-cli-XXXXXXXX` id unless one is given), runs the method, prints its result as
//! EDN on standard output, and disconnects, also when the call failed.

use ooloi_server::value::edn;

use crate::failure::Failure;
use crate::session::{self, ConnectArgs, Session};

/// The arguments of `ooloi call`.
#[derive(Clone, Debug, clap::Args)]
pub struct CallArgs {
    /// The method (`ooloi call list-methods '[]'` lists them)
    pub method: String,
    /// The parameters as an EDN vector, for example '[[] "PIECE-ID" {:name "Violin"}]'
    pub params: String,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// Runs `ooloi call`.
pub async fn run(args: CallArgs) -> Result<(), Failure> {
    let params = session::parse_edn_arg("the parameters", &args.params)?;
    let id = args.connect.client_id();
    let channel = session::connect(&args.connect.server).await?;
    let mut session = Session::open(channel, &id, "ooloi call").await?;
    let outcome = session.call(&args.method, &params).await;
    let disconnected = session.disconnect().await;
    let result = outcome?;
    println!("{}", edn::print(&result));
    disconnected.map_err(Failure::Status)
}
