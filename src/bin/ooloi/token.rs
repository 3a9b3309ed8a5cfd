//! `ooloi token`: mints an HS256 development token from the server's configured secret, so a
//! local server in auth mode `jwt` can be tried without an identity provider. The settings come
//! from the same layers as the server's (`--config FILE`, then `OOLOI__*` variables): the
//! secret, issuer, audience and claim names. The token goes to standard output, nothing else.

use ooloi_server::auth;
use ooloi_server::config::{Config, ServerArgs};

use crate::failure::Failure;

/// `ooloi token` arguments.
#[derive(Clone, Debug, clap::Args)]
pub struct TokenArgs {
    /// The tenant (institution) the token acts for
    #[arg(long, value_name = "TENANT")]
    tenant: String,
    /// The user (the token's subject)
    #[arg(long, value_name = "USER")]
    user: String,
    /// A role to grant: admin (tenant administrator) or platform-admin (in the platform
    /// tenant); repeat for several
    #[arg(long = "role", value_name = "ROLE")]
    roles: Vec<String>,
    /// How long the token is valid: seconds, or a number with s, m, h or d (at most a year)
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_ttl)]
    ttl: u64,
    /// The server's settings file, for its secret, issuer and audience
    #[arg(long, value_name = "FILE")]
    config: Option<String>,
}

/// `90`, `90s`, `15m`, `1h`, `7d` as seconds.
fn parse_ttl(text: &str) -> Result<u64, String> {
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, "s"),
    };
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "{text:?} is not a duration like 90s, 15m, 1h or 7d"
            ));
        }
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{text:?} is not a positive duration like 90s, 15m, 1h or 7d"))
}

/// Prints a token for the arguments.
pub fn run(args: TokenArgs) -> Result<(), Failure> {
    let mut server_args = vec!["ooloi-server".to_string()];
    if let Some(file) = &args.config {
        server_args.extend(["--config".to_string(), file.clone()]);
    }
    let parsed = <ServerArgs as clap::Parser>::try_parse_from(server_args)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let config = Config::from_process(&parsed).map_err(|e| Failure::Usage(e.to_string()))?;
    let settings = auth::verifier_settings(&config).map_err(Failure::Other)?;
    if settings.issuer.is_empty() || settings.audience.is_empty() {
        return Err(Failure::Usage(
            "the server's auth.issuer and auth.audience must be set (OOLOI__AUTH__ISSUER, \
             OOLOI__AUTH__AUDIENCE): the token must carry what the server requires"
                .into(),
        ));
    }
    for role in &args.roles {
        if role != "admin" && role != "platform-admin" {
            return Err(Failure::Usage(format!(
                "--role {role:?}: the roles are admin and platform-admin"
            )));
        }
    }
    let token = auth::mint_hs256(&settings, &args.tenant, &args.user, &args.roles, args.ttl)
        .map_err(Failure::Usage)?;
    println!("{token}");
    Ok(())
}
