//! `ooloi tenant create|list|suspend|resume|delete`: the platform operator's admin methods
//! from the command line (with `OOLOI_TOKEN` holding a `platform-admin` token of the platform
//! tenant). Each command is one call; the result prints as EDN.

use ooloi_server::value::{Value, edn};

use crate::failure::Failure;
use crate::session::{self, ConnectArgs, Session};

/// `ooloi tenant` arguments.
#[derive(Clone, Debug, clap::Args)]
pub struct TenantArgs {
    #[command(subcommand)]
    command: TenantCommand,
    #[command(flatten)]
    connect: ConnectArgs,
}

#[derive(Clone, Debug, clap::Subcommand)]
enum TenantCommand {
    /// Subscribe an institution
    Create {
        /// The tenant id (what its tokens name)
        id: String,
        /// Its display name
        #[arg(long)]
        name: Option<String>,
        /// Who may use its new pieces: private, tenant-read or tenant-write
        #[arg(long, value_name = "ACCESS")]
        default_access: Option<String>,
        /// Connected clients it may have
        #[arg(long, value_name = "N")]
        clients: Option<i64>,
        /// Pieces it may have
        #[arg(long, value_name = "N")]
        pieces: Option<i64>,
        /// Calls per second it may make
        #[arg(long, value_name = "N")]
        requests_per_second: Option<i64>,
    },
    /// List every tenant
    List,
    /// Suspend a tenant: its calls are refused and its streams end
    Suspend {
        /// The tenant id
        id: String,
    },
    /// Resume a suspended tenant
    Resume {
        /// The tenant id
        id: String,
    },
    /// Delete a tenant and every piece of it
    Delete {
        /// The tenant id
        id: String,
        /// The tenant id again, to confirm
        #[arg(long, value_name = "ID")]
        confirm: String,
    },
}

fn kw(name: &str) -> Value {
    Value::keyword(name)
}

/// The method and parameters of a command.
fn call_of(command: TenantCommand) -> (&'static str, Value) {
    let id = |id: String| Value::vector([Value::string(id)]);
    match command {
        TenantCommand::Create {
            id,
            name,
            default_access,
            clients,
            pieces,
            requests_per_second,
        } => {
            let mut fields = vec![(kw("id"), Value::string(id))];
            if let Some(name) = name {
                fields.push((kw("name"), Value::string(name)));
            }
            if let Some(access) = default_access {
                fields.push((kw("default-access"), kw(&access)));
            }
            let quotas: Vec<(Value, Value)> = [
                ("clients", clients),
                ("pieces", pieces),
                ("requests-per-second", requests_per_second),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.map(|n| (kw(k), Value::Int(n))))
            .collect();
            if !quotas.is_empty() {
                fields.push((kw("quotas"), Value::map(quotas)));
            }
            ("create-tenant", Value::vector([Value::map(fields)]))
        }
        TenantCommand::List => ("list-tenants", Value::vector([])),
        TenantCommand::Suspend { id: t } => ("suspend-tenant", id(t)),
        TenantCommand::Resume { id: t } => ("resume-tenant", id(t)),
        TenantCommand::Delete { id, confirm } => (
            "delete-tenant",
            Value::vector([Value::string(id), Value::string(confirm)]),
        ),
    }
}

/// Runs `ooloi tenant ...`.
pub async fn run(args: TenantArgs) -> Result<(), Failure> {
    let (method, params) = call_of(args.command);
    let channel = session::connect(&args.connect.server).await?;
    let mut session = Session::open(channel, &args.connect.client_id(), "ooloi tenant").await?;
    let outcome = session.call(method, &params).await;
    let disconnected = session.disconnect().await;
    println!("{}", edn::print(&outcome?));
    disconnected.map_err(Failure::Status)
}
