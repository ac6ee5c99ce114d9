//! The settings schema: every setting declared once, as one field of [`Settings`].
//!
//! A field is at the same time a flag (clap: `--max-relays`), a TOML key (serde:
//! `max_relays`), its help text (the doc comment) and its default (after `=`),
//! which is pass-core's own constant where the core owns the setting. A name that
//! was aligned keeps its old spelling as a clap `visible_alias` and a serde
//! `alias` on the same field (docs/DESIGN.md decision 20).
//!
//! Checking the values is not done here but in one pass over the merged
//! settings ([`resolve`](super::resolve)).

use super::{
    CoreConfig, DEFAULT_DRAIN_TIMEOUT, DEFAULT_HALF_CLOSE_TIMEOUT, DEFAULT_LOG_LEVEL,
    DEFAULT_MAX_STANZA_BYTES, DEFAULT_METRICS, DEFAULT_PORTS, DEFAULT_RELAY_IDLE_TIMEOUT,
    DEFAULT_STANZA_QUEUE,
};
use clap::ValueEnum;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

/// Declares the settings struct from one table: emits the struct as written (each
/// field's type is an `Option`; `= default` is taken off) and, from the same
/// field list, the names, the defaults and the flag-over-file merge.
macro_rules! settings {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$field_meta:meta])*
                pub $field:ident: $ty:ty = $default:expr,
            )*
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $(
                $(#[$field_meta])*
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $field: $ty,
            )*
        }

        impl $name {
            /// Every setting's name as the TOML key (the flag is it with `-`).
            pub const KEYS: &'static [&'static str] = &[$(stringify!($field)),*];

            /// The defaults: pass-core's where the core owns the setting, this
            /// crate's otherwise; `None` where there is none (required settings,
            /// no limit, or one derived from another setting).
            pub fn defaults() -> Self {
                $name { $($field: $default,)* }
            }

            /// Each setting from `self`, else from `lower`: flags over the file,
            /// the file over the defaults.
            pub fn or(self, lower: Self) -> Self {
                $name { $($field: self.$field.or(lower.$field),)* }
            }

            /// The names of the settings that have a value.
            pub fn given(&self) -> Vec<&'static str> {
                let mut names = Vec::new();
                $(if self.$field.is_some() { names.push(stringify!($field)); })*
                names
            }
        }
    };
}

settings! {
    /// The settings of a run, from flags or the TOML file. All optional: a missing
    /// one comes from the file, then from [`Settings::defaults`].
    #[derive(Clone, Debug, Default, PartialEq, Eq, clap::Args, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub struct Settings {
        /// The XMPP server's component port (XEP-0114), e.g. localhost:5347. Required.
        #[arg(long, value_name = "HOST:PORT")]
        pub server: Option<String> = None,
        /// The component's name (its JID), e.g. pass.example.org. Required.
        #[arg(long, value_name = "JID")]
        pub domain: Option<String> = None,
        /// File holding the component secret (or set PASS_NODE_SECRET). Required.
        #[arg(long, value_name = "PATH")]
        pub secret_file: Option<PathBuf> = None,
        /// Address advertised in `<server/>` and `<proxy/>`; give it twice for IPv4 and IPv6
        #[arg(long, value_name = "IP")]
        pub public_ip: Option<Vec<IpAddr>> = Some(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]),
        /// Address listeners bind to; may be repeated [default: the unspecified address of
        /// each public IP's family, or the public IP itself if it is a loopback address]
        #[arg(long, value_name = "IP")]
        pub bind: Option<Vec<IpAddr>> = None,
        /// Port pool for lease and proxy ports; keep it out of the host's ephemeral
        /// range (net.ipv4.ip_local_port_range)
        // Text until the one validation pass, which names `ports` in its errors;
        // the flag is checked at parse time as well, as any malformed flag is.
        #[arg(long, value_name = "A-B", value_parser = port_range_flag)]
        pub ports: Option<String> =
            Some(format!("{}-{}", DEFAULT_PORTS.first, DEFAULT_PORTS.last)),
        /// Most leases one account (bare JID) may hold
        #[arg(long, value_name = "N", visible_alias = "max-leases-per-jid")]
        #[serde(alias = "max_leases_per_jid")]
        pub max_leases_per_account: Option<usize> =
            Some(CoreConfig::DEFAULT_MAX_LEASES_PER_ACCOUNT),
        /// Most leases at once over all accounts; past it a register gets 502
        #[arg(long, value_name = "N")]
        pub max_leases: Option<usize> = Some(CoreConfig::DEFAULT_MAX_LEASES),
        /// Most relays at once; past it incoming connections are dropped
        #[arg(long, value_name = "N")]
        pub max_relays: Option<usize> = Some(CoreConfig::DEFAULT_MAX_RELAYS),
        /// Bandwidth cap of each relay, per direction, in bytes/s; over-rate relays are
        /// slowed, not dropped [default: unlimited]
        #[arg(long, value_name = "BYTES_PER_S")]
        pub relay_rate: Option<u64> = None,
        /// Bandwidth cap over all relays, in bytes/s [default: unlimited]
        #[arg(long, value_name = "BYTES_PER_S")]
        pub total_rate: Option<u64> = None,
        /// Seconds an owner has to answer an incoming-connection IQ before the client
        /// socket is dropped
        #[arg(long, value_name = "SECS")]
        pub answer_timeout: Option<u64> = Some(CoreConfig::DEFAULT_ANSWER_TIMEOUT.as_secs()),
        /// Seconds a proxy port waits for the owner to connect
        #[arg(long, value_name = "SECS")]
        pub proxy_window: Option<u64> = Some(CoreConfig::DEFAULT_PROXY_WINDOW.as_secs()),
        /// Longest `<expire/>` granted; longer requests are clamped
        #[arg(long, value_name = "SECS")]
        pub max_expire: Option<u64> = Some(CoreConfig::DEFAULT_MAX_EXPIRE.as_secs()),
        /// Seconds a lease may go with no caller and no `jabber:iq:pass` IQ from its
        /// account before it ends with an expire notice; 0 for no limit
        #[arg(long, value_name = "SECS")]
        pub max_idle_lease: Option<u64> = Some(CoreConfig::DEFAULT_MAX_IDLE_LEASE.as_secs()),
        /// Seconds a lease outlives a bounced incoming-connection notice (its owner's
        /// client is offline, e.g. reconnecting): the caller is dropped, and the lease
        /// ends only if no IQ comes from the owner's full JID for this long; 0 ends it
        /// at the first bounce
        #[arg(long, value_name = "SECS")]
        pub reconnect_grace: Option<u64> = Some(CoreConfig::DEFAULT_RECONNECT_GRACE.as_secs()),
        /// How relays move bytes
        #[arg(long, value_enum, value_name = "MODE")]
        pub relay_mode: Option<RelayMode> = Some(RelayMode::default()),
        /// Seconds a relay may stay idle after one side disconnected (sent EOF): the
        /// session ends at that EOF (the lease takes its next caller), the other way
        /// keeps flowing while it moves bytes, then both sockets close
        #[arg(long, value_name = "SECS")]
        pub half_close_timeout: Option<u64> = Some(DEFAULT_HALF_CLOSE_TIMEOUT.as_secs()),
        /// Seconds a relay may move nothing either way before both sockets are closed
        /// (the session ends as if a side disconnected); 0 for no limit
        #[arg(long, value_name = "SECS")]
        pub relay_idle_timeout: Option<u64> = Some(DEFAULT_RELAY_IDLE_TIMEOUT.as_secs()),
        /// Largest stanza accepted from the XMPP server, in bytes; a bigger one cuts
        /// the component stream (which then reconnects). Keep it at least the server's
        /// own stanza size limit for users, else one user can force reconnects
        #[arg(long, value_name = "BYTES")]
        pub max_stanza_bytes: Option<usize> = Some(DEFAULT_MAX_STANZA_BYTES),
        /// IQ requests one account may send in a burst before being answered
        /// resource-constraint
        #[arg(long, value_name = "N")]
        pub iq_burst: Option<u32> = Some(CoreConfig::DEFAULT_IQ_BURST),
        /// IQ requests per second one account may send once its burst is spent
        #[arg(long, value_name = "N", visible_alias = "iq-rate")]
        #[serde(alias = "iq_rate")]
        pub iq_per_second: Option<u32> = Some(CoreConfig::DEFAULT_IQ_PER_SECOND),
        /// Incoming connections one lease may announce to its owner in a burst; past
        /// it (and the refill) a caller is dropped unannounced, as on a busy lease
        #[arg(long, value_name = "N")]
        pub call_burst: Option<u32> = Some(CoreConfig::DEFAULT_CALL_BURST),
        /// Incoming connections per second one lease may announce once its burst is
        /// spent
        #[arg(long, value_name = "N", visible_alias = "call-rate")]
        #[serde(alias = "call_rate")]
        pub call_per_second: Option<u32> = Some(CoreConfig::DEFAULT_CALL_PER_SECOND),
        /// Prometheus endpoint address, or `off`
        #[arg(long, value_name = "ADDR|off")]
        pub metrics: Option<String> = Some(DEFAULT_METRICS.to_string()),
        /// Log format
        #[arg(long, value_enum, value_name = "FORMAT")]
        pub log_format: Option<LogFormat> = Some(LogFormat::default()),
        /// Log filter: a level (error, warn, info, debug, trace) or a tracing directive
        #[arg(long, value_name = "LEVEL")]
        pub log_level: Option<String> = Some(DEFAULT_LOG_LEVEL.to_string()),
        /// Seconds to let relays finish on shutdown before cutting them
        #[arg(long, value_name = "SECS")]
        pub drain_timeout: Option<u64> = Some(DEFAULT_DRAIN_TIMEOUT.as_secs()),
        /// Most stanzas kept while the XMPP stream is down (oldest dropped)
        #[arg(long, value_name = "N")]
        pub stanza_queue: Option<usize> = Some(DEFAULT_STANZA_QUEUE),
    }
}

impl Settings {
    /// The defaults as `--help` shows them, by setting name: `Some` values only,
    /// rendered as their TOML value (lists joined with `, `).
    pub fn shown_defaults() -> Vec<(&'static str, String)> {
        let table = match toml::Value::try_from(Settings::defaults()) {
            Ok(toml::Value::Table(t)) => t,
            // Every default is a plain TOML value; a unit test pins this.
            _ => return Vec::new(),
        };
        Settings::KEYS
            .iter()
            .filter_map(|key| Some((*key, show(table.get(*key)?))))
            .collect()
    }
}

fn show(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(items) => items.iter().map(show).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// Checks a `--ports` value as the file's is checked, keeping the text.
fn port_range_flag(s: &str) -> Result<String, String> {
    super::parse_port_range(s)
        .map(|_| s.to_string())
        .map_err(|e| e.reason)
}

/// How relays move bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RelayMode {
    /// The path measured fastest here: copy (docs/BENCHMARKS.md, relay throughput).
    #[default]
    Auto,
    /// Always splice(2) through a pipe (Linux only; elsewhere falls back to copy).
    Splice,
    /// Always copy through user-space buffers.
    Copy,
}

/// Log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}
