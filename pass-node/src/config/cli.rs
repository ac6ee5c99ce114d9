//! The `pass-node` command line: the settings as flags, plus `--config` and the
//! `check-config` subcommand.

use super::Settings;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

/// The `pass-node` command line.
#[derive(Debug, Parser)]
#[command(
    name = "pass-node",
    version,
    about = "XEP-0003 PASS relay node: an XEP-0114 external component of an XMPP server",
    long_about = "XEP-0003 PASS relay node: an XEP-0114 external component of an XMPP server.\n\n\
        Settings come from --config FILE (TOML) and flags; a flag overrides the file. The \
        component secret is read from --secret-file or the PASS_NODE_SECRET environment \
        variable, never from a flag value."
)]
pub struct Cli {
    /// A subcommand; without one the node runs.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// TOML config file (flags override it).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The settings given as flags.
    #[command(flatten)]
    pub settings: Settings,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a TOML config file: names the bad field and why; exit 0 if good, 1 if not.
    /// Valid but doubtful settings are warned about on stderr (exit 0); setting flags
    /// given before `check-config` apply over the file, as in a run.
    CheckConfig {
        /// The file to check.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

impl Cli {
    /// The clap command, each setting's help ending with its default taken from
    /// [`Settings::defaults`] (so `--help` cannot drift from what a run uses).
    pub fn command_with_defaults() -> clap::Command {
        let defaults = Settings::shown_defaults();
        Cli::command().mut_args(|arg| {
            let id = arg.get_id().as_str();
            match defaults.iter().find(|(key, _)| *key == id) {
                Some((_, value)) => {
                    let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                    arg.help(format!("{help} [default: {value}]"))
                }
                None => arg,
            }
        })
    }

    /// Parses the process's arguments; exits with clap's message and code on error.
    pub fn parse_args() -> Cli {
        Cli::parse_args_from(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    /// Parses `args` (the first is the program name).
    pub fn parse_args_from(
        args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    ) -> Result<Cli, clap::Error> {
        let mut matches = Cli::command_with_defaults().try_get_matches_from(args)?;
        Cli::from_arg_matches_mut(&mut matches)
    }
}
