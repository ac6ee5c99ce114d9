//! The command line: flags exactly as docs/CLIENT.md lists them.

use clap::{Args, Parser, Subcommand, ValueEnum};
use pass_core::client::IpNet;
use std::net::IpAddr;
use std::path::PathBuf;

/// Reach a TCP service behind NAT through your XMPP account (XEP-0003, PASS).
#[derive(Debug, Parser)]
#[command(name = "pass-client", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The two commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Lease a public port and bridge each caller to LOCAL_ADDR.
    Expose(Expose),
    /// Stay online and answer other clients' "what is your IP" queries (§5.1).
    Answer(Answer),
}

/// `pass-client expose`.
#[derive(Debug, Args)]
pub struct Expose {
    /// The local service to expose, HOST:PORT (e.g. 127.0.0.1:8080).
    #[arg(value_name = "LOCAL_ADDR")]
    pub local: String,
    /// The PASS service's JID; without it, the account's server is asked (disco).
    #[arg(long, value_name = "JID")]
    pub service: Option<String>,
    /// Ask for a lease of SECS seconds (default: as long as the service allows).
    #[arg(long, value_name = "SECS")]
    pub expire: Option<u64>,
    /// One caller only: the lease ends after the first session.
    #[arg(long)]
    pub oneshot: bool,
    /// Accept callers from this network only (repeatable; CIDR, e.g. 192.0.2.0/24).
    #[arg(long, value_name = "CIDR")]
    pub allow: Vec<IpNet>,
    /// Accept callers at the IP this full JID answers (repeatable; §5.1).
    #[arg(long = "allow-jid", value_name = "JID")]
    pub allow_jid: Vec<String>,
    /// When the lease expires or is used up, register again.
    #[arg(long)]
    pub keep: bool,
    /// One JSON object per line per event on stdout.
    #[arg(long)]
    pub json: bool,
    /// The XMPP account and connection.
    #[command(flatten)]
    pub account: Account,
}

/// `pass-client answer`.
#[derive(Debug, Args)]
pub struct Answer {
    /// The IP to answer with (default: the local address of the XMPP connection).
    #[arg(long, value_name = "IP")]
    pub ip: Option<IpAddr>,
    /// The XMPP account and connection.
    #[command(flatten)]
    pub account: Account,
}

/// How the c2s connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Tls {
    /// STARTTLS with rustls (docs/DESIGN.md decision 90).
    Starttls,
    /// Plain TCP: only to a server on a loopback address.
    None,
}

/// Log format on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One readable line per record.
    Human,
    /// One JSON object per record.
    Json,
}

/// The account and how to reach its server, common to both commands.
#[derive(Debug, Args)]
pub struct Account {
    /// Your JID, user@domain (a resource is chosen per run).
    #[arg(long, value_name = "JID")]
    pub jid: String,
    /// Read the password from this file (first line). Else PASS_CLIENT_PASSWORD.
    #[arg(long = "password-file", value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// The XMPP server, HOST:PORT (default: the JID's domain's DNS SRV records
    /// _xmpp-client._tcp, else the domain on port 5222; with --tls none, the domain
    /// on port 5222).
    #[arg(long, value_name = "HOST:PORT")]
    pub server: Option<String>,
    /// How the connection is secured.
    #[arg(long, value_enum, default_value = "starttls")]
    pub tls: Tls,
    /// Trust only the CA certificates (PEM) in this file (STARTTLS).
    #[arg(long = "tls-ca", value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// Do not verify the server's certificate (test servers only; STARTTLS).
    #[arg(long = "tls-insecure")]
    pub tls_insecure: bool,
    /// Log level filter (tracing's env-filter syntax).
    #[arg(long = "log-level", default_value = "info")]
    pub log_level: String,
    /// Log format.
    #[arg(long = "log-format", value_enum, default_value = "human")]
    pub log_format: LogFormat,
}
