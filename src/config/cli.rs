//! The server's command line, with clap: `--config FILE`, one flag for each key of the table
//! that has one, `--help` and `--version`. The flags, their descriptions, environment names and
//! defaults, and the list of every setting after the options all come from the key table
//! ([`super::keys`]), so `--help` cannot drift from what the server parses. Values are checked
//! by the key's own parser during layering, like values from the file or the environment.

use std::path::PathBuf;

use clap::builder::NonEmptyStringValueParser;
use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};

use super::keys::{KEYS, Key};

/// `ooloi-server`: the arguments the binary takes.
#[derive(Clone, Debug, clap::Parser)]
#[command(
    name = "ooloi-server",
    version,
    about = "Collaborative music-notation server: scores in a software transactional memory, \
             edited and watched over gRPC",
    after_help = settings_help(),
    // As with environment variables, a later value of a flag wins over an earlier one.
    args_override_self = true,
)]
pub struct ServerArgs {
    /// Read settings from a TOML file ([section] key = value)
    #[arg(long, value_name = "FILE", value_parser = NonEmptyStringValueParser::new())]
    pub config: Option<String>,
    /// The settings given as flags
    #[command(flatten)]
    pub settings: SettingFlags,
    /// Instead of serving: a maintenance task
    #[command(subcommand)]
    pub command: Option<ServerCommand>,
}

/// What `ooloi-server` does instead of serving.
#[derive(Clone, Debug, PartialEq, Eq, clap::Subcommand)]
pub enum ServerCommand {
    /// Apply the store's migrations (they are also applied at start-up) and exit
    Migrate {
        /// Only check: exit 0 if the database is up to date, 1 listing what is pending
        #[arg(long)]
        check: bool,
    },
    /// Probe this server's HTTP sidecar and exit 0 if it answers 200, 1 otherwise: the
    /// container's health check (a distroless image has no curl)
    Health {
        /// Probe /readyz (ready to serve) instead of /livez (the process is alive)
        #[arg(long)]
        ready: bool,
        /// Probe this http:// URL instead of the sidecar that http.listen names
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
}

impl ServerArgs {
    /// The configuration file named by `--config`, if any.
    pub fn config_file(&self) -> Option<PathBuf> {
        self.config.as_ref().map(PathBuf::from)
    }
}

/// The settings given as flags: each key with a flag, and its value as given.
#[derive(Clone, Debug, Default)]
pub struct SettingFlags(pub Vec<(&'static Key, String)>);

/// The clap id and long name of a key's flag (`grpc-listen`).
fn long(key: &Key) -> Option<&'static str> {
    key.flag.map(|flag| flag.trim_start_matches("--"))
}

/// The placeholder of a flag's value in `--help`.
fn value_name(key: &Key) -> &'static str {
    match key.name {
        "listen" => "ADDR",
        "url" => "URL",
        "data_dir" => "DIR",
        "mode" => "MODE",
        "format" => "FORMAT",
        _ => "VALUE",
    }
}

/// `[env: OOLOI__SECTION__KEY] [default: ...]`.
fn origin_note(key: &Key) -> String {
    format!("[env: {}] [default: {}]", key.env_name(), key.default)
}

impl FromArgMatches for SettingFlags {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let given = KEYS
            .iter()
            .filter_map(|key| {
                let value = matches.get_one::<String>(long(key)?)?;
                Some((key, value.clone()))
            })
            .collect();
        Ok(SettingFlags(given))
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Args for SettingFlags {
    fn augment_args(command: Command) -> Command {
        KEYS.iter().fold(command, |command, key| {
            let Some(name) = long(key) else {
                return command;
            };
            command.arg(
                Arg::new(name)
                    .long(name)
                    .value_name(value_name(key))
                    .help(format!("{} {}", key.help, origin_note(key)))
                    .action(ArgAction::Set),
            )
        })
    }

    fn augment_args_for_update(command: Command) -> Command {
        Self::augment_args(command)
    }
}

/// The text after the options: how settings are layered, and every key with its file form,
/// environment form, default and flag.
pub fn settings_help() -> String {
    let mut text = String::from(
        "Settings are layered: defaults < --config FILE (TOML: [section] key = value) < \
         environment (OOLOI__SECTION__KEY) < flags.\n\nEvery setting:\n",
    );
    for key in KEYS {
        let flag = key
            .flag
            .map(|f| format!(" [flag: {f}]"))
            .unwrap_or_default();
        text.push_str(&format!(
            "  {:<42} {}\n      {}{flag} {}\n",
            key.dotted(),
            key.env_name(),
            key.help,
            format_args!("[default: {}]", key.default),
        ));
    }
    text
}
