//! Settings: the one schema ([`Settings`]: flag, TOML key, help, default), read
//! from the command line ([`Cli`]) and the TOML file ([`ConfigFile`]), merged flag
//! over file over default and checked in one pass ([`resolve`]) into a
//! [`NodeConfig`].

mod cli;
mod file;
mod settings;
mod validate;
mod warnings;

pub use cli::{Cli, Command};
pub use file::ConfigFile;
pub use settings::{LogFormat, RelayMode, Settings};

pub use validate::{resolve, SecretSource};
pub use warnings::{warnings, Host, Warning};

use pass_core::lease::Config as CoreConfig;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Environment variable holding the component secret (instead of `--secret-file`).
pub const SECRET_ENV: &str = "PASS_NODE_SECRET";
/// Default metrics address.
pub const DEFAULT_METRICS: &str = "127.0.0.1:9464";
/// Default log filter.
pub const DEFAULT_LOG_LEVEL: &str = "info";
/// Default bound on stanzas queued while the XMPP stream is down.
pub const DEFAULT_STANZA_QUEUE: usize = 10_000;
/// Default time relays may run on after shutdown began.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Default idle time allowed to a relay after one side's EOF.
pub const DEFAULT_HALF_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Default `relay_idle_timeout`: ten minutes without a byte either way, nginx's
/// default `proxy_timeout` for TCP streams. Long enough for an interactive session
/// with a human pause; short enough that a vanished peer (no FIN, no RST) does not
/// hold two sockets and a `max_relays` slot for the life of the lease.
pub const DEFAULT_RELAY_IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// Smallest `max_stanza_bytes` accepted: the server's stream header and ordinary
/// IQs must fit.
pub const MIN_STANZA_BYTES: usize = 4096;
/// Default `max_stanza_bytes`: Prosody 0.12's largest default stanza limit for users
/// (`s2s_stanza_size_limit`, 512 KiB; c2s is 256 KiB). A smaller limit than the
/// server's would let one user's large stanza cut the component stream for everyone.
pub const DEFAULT_MAX_STANZA_BYTES: usize = 512 * 1024;

/// Default port pool: below every common ephemeral range (Linux 32768–60999, the
/// IANA/BSD/Windows 49152–65535) and Kubernetes' NodePort range (30000–32767), so
/// that outgoing connections of the same host never take pool ports (DESIGN
/// decision 70). pass-core's own default (40000–40999) is for embedders; the node,
/// which binds real ports, overrides it.
pub const DEFAULT_PORTS: PortRange = PortRange {
    first: 20000,
    last: 20999,
};

/// An inclusive port range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    /// First port.
    pub first: u16,
    /// Last port, inclusive.
    pub last: u16,
}

/// A setting that is wrong; displays as `field: reason`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The setting at fault (TOML key).
    pub field: String,
    /// Why.
    pub reason: String,
}

impl ConfigError {
    fn new(field: &str, reason: impl Into<String>) -> Self {
        ConfigError {
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "{}: {}", self.field, self.reason)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Relay settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelaySettings {
    /// Copy or splice.
    pub mode: RelayMode,
    /// Per-relay cap per direction, bytes/s.
    pub relay_rate: Option<u64>,
    /// Cap over all relays, bytes/s.
    pub total_rate: Option<u64>,
    /// How long a relay may stay idle after one side's EOF before it is closed.
    pub half_close_timeout: Duration,
    /// How long a relay may move nothing either way before it is closed (`None`:
    /// no limit).
    pub idle_timeout: Option<Duration>,
}

/// Reconnect backoff of the component stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// First delay.
    pub initial: Duration,
    /// Largest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(30),
        }
    }
}

/// Everything a run needs, checked.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The core's settings (names, addresses, pool, limits, timeouts).
    pub core: CoreConfig,
    /// The XMPP server's component address, `host:port`.
    pub server: String,
    /// The component secret (never logged).
    pub secret: String,
    /// Addresses the listeners bind to.
    pub bind: Vec<IpAddr>,
    /// Relay settings.
    pub relay: RelaySettings,
    /// Metrics endpoint, `None` when off.
    pub metrics: Option<SocketAddr>,
    /// How long relays may run on after shutdown began.
    pub drain_timeout: Duration,
    /// Bound on stanzas queued while the stream is down.
    pub stanza_queue: usize,
    /// Reconnect delays.
    pub backoff: Backoff,
    /// Strict XML limits on each stanza from the server (also in
    /// [`CoreConfig::stanza_limits`], where the core enforces them per stanza; the
    /// framer gets their relaxed version).
    pub limits: pass_core::xml::Limits,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter.
    pub log_level: String,
    /// The lease store, `None` with `no_state` (DESIGN decision 54).
    pub state: Option<StateSettings>,
    /// Settings that are valid but doubtful on this host (the node logs them at
    /// start, check-config prints them).
    pub warnings: Vec<Warning>,
}

/// Where the lease store lives and whether to empty it at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateSettings {
    /// The state directory (the store is `leases.redb` in it).
    pub dir: std::path::PathBuf,
    /// Start with an empty store (`--reset-state`).
    pub reset: bool,
}

impl NodeConfig {
    /// A config for tests and embedding: loopback addresses, an ephemeral-free pool,
    /// metrics off, no lease store, defaults elsewhere.
    pub fn new(server: &str, domain: &str, secret: &str) -> Result<NodeConfig, ConfigError> {
        let flags = Settings {
            server: Some(server.to_string()),
            domain: Some(domain.to_string()),
            metrics: Some("off".to_string()),
            no_state: Some(true),
            ..Settings::default()
        };
        resolve(
            &flags,
            &ConfigFile::default(),
            SecretSource::Given(secret.to_string()),
        )
    }
}

/// Parses `A-B` (or a single port `A`).
pub fn parse_port_range(s: &str) -> Result<PortRange, ConfigError> {
    let bad = |why: String| ConfigError::new("ports", why);
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (a.trim(), b.trim()),
        None => (s.trim(), s.trim()),
    };
    let first: u16 = a.parse().map_err(|_| {
        bad(format!(
            "{a:?} is not a port number (expected A-B, e.g. 20000-20999)"
        ))
    })?;
    let last: u16 = b.parse().map_err(|_| {
        bad(format!(
            "{b:?} is not a port number (expected A-B, e.g. 20000-20999)"
        ))
    })?;
    if first == 0 {
        return Err(bad("port 0 is not allowed".to_string()));
    }
    if first > last {
        return Err(bad(format!(
            "first port {first} is greater than last port {last}"
        )));
    }
    Ok(PortRange { first, last })
}

#[cfg(test)]
mod tests;
