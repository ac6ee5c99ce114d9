//! Settings: the command line (clap), the TOML file (serde) and their merge into a
//! checked [`NodeConfig`]. A flag overrides the file; the file overrides the default.

use clap::{Args, Parser, Subcommand, ValueEnum};
use pass_core::jid::Jid;
use pass_core::lease::Config as CoreConfig;
use serde::Deserialize;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment variable holding the component secret (instead of `--secret-file`).
pub const SECRET_ENV: &str = "PASS_NODE_SECRET";
/// Default metrics address.
pub const DEFAULT_METRICS: &str = "127.0.0.1:9464";
/// Default bound on stanzas queued while the XMPP stream is down.
pub const DEFAULT_STANZA_QUEUE: usize = 10_000;
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
    /// The settings of a run.
    #[command(flatten)]
    pub settings: SettingsArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a TOML config file: names the bad field and why; exit 0 if good, 1 if not.
    CheckConfig {
        /// The file to check.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

/// How relays move bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Deserialize, Default)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// Flags that override the config file. All optional: missing ones come from the
/// file, then from the defaults.
#[derive(Debug, Default, Args)]
pub struct SettingsArgs {
    /// TOML config file (flags override it).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The XMPP server's component port (XEP-0114), e.g. localhost:5347. Required.
    #[arg(long, value_name = "HOST:PORT")]
    pub server: Option<String>,
    /// The component's name (its JID), e.g. pass.example.org. Required.
    #[arg(long, value_name = "JID")]
    pub domain: Option<String>,
    /// File holding the component secret (or set PASS_NODE_SECRET). Required.
    #[arg(long, value_name = "PATH")]
    pub secret_file: Option<PathBuf>,
    /// Address advertised in `<server/>` and `<proxy/>`; give it twice for IPv4 and IPv6
    /// [default: 127.0.0.1]
    #[arg(long, value_name = "IP")]
    pub public_ip: Vec<IpAddr>,
    /// Address listeners bind to; may be repeated [default: the unspecified address of
    /// each public IP's family, or the public IP itself if it is a loopback address]
    #[arg(long, value_name = "IP")]
    pub bind: Vec<IpAddr>,
    /// Port pool for lease and proxy ports [default: 40000-40999]
    #[arg(long, value_name = "A-B", value_parser = parse_port_range_flag)]
    pub ports: Option<PortRange>,
    /// Most leases one account (bare JID) may hold [default: 10]
    #[arg(long, value_name = "N")]
    pub max_leases_per_jid: Option<usize>,
    /// Most leases at once over all accounts; past it a register gets 502 [default: 1000]
    #[arg(long, value_name = "N")]
    pub max_leases: Option<usize>,
    /// Most relays at once; past it incoming connections are dropped [default: 500]
    #[arg(long, value_name = "N")]
    pub max_relays: Option<usize>,
    /// Bandwidth cap of each relay, per direction, in bytes/s; over-rate relays are
    /// slowed, not dropped [default: unlimited]
    #[arg(long, value_name = "BYTES_PER_S")]
    pub relay_rate: Option<u64>,
    /// Bandwidth cap over all relays, in bytes/s [default: unlimited]
    #[arg(long, value_name = "BYTES_PER_S")]
    pub total_rate: Option<u64>,
    /// Seconds an owner has to answer an incoming-connection IQ before the client
    /// socket is dropped [default: 30]
    #[arg(long, value_name = "SECS")]
    pub answer_timeout: Option<u64>,
    /// Seconds a proxy port waits for the owner to connect [default: 30]
    #[arg(long, value_name = "SECS")]
    pub proxy_window: Option<u64>,
    /// Longest `<expire/>` granted; longer requests are clamped [default: 86400]
    #[arg(long, value_name = "SECS")]
    pub max_expire: Option<u64>,
    /// How relays move bytes [default: auto]
    #[arg(long, value_enum, value_name = "MODE")]
    pub relay_mode: Option<RelayMode>,
    /// Seconds a relay may stay idle after one side disconnected (sent EOF): the
    /// session ends at that EOF (the lease takes its next caller), the other way
    /// keeps flowing while it moves bytes, then both sockets close [default: 5]
    #[arg(long, value_name = "SECS")]
    pub half_close_timeout: Option<u64>,
    /// Seconds a relay may move nothing either way before both sockets are closed
    /// (the session ends as if a side disconnected); 0 for no limit [default: 600]
    #[arg(long, value_name = "SECS")]
    pub relay_idle_timeout: Option<u64>,
    /// Largest stanza accepted from the XMPP server, in bytes; a bigger one cuts
    /// the component stream (which then reconnects). Keep it at least the server's
    /// own stanza size limit for users, else one user can force reconnects
    /// [default: 524288]
    #[arg(long, value_name = "BYTES")]
    pub max_stanza_bytes: Option<usize>,
    /// IQ requests one account may send in a burst before being answered
    /// resource-constraint [default: 20]
    #[arg(long, value_name = "N")]
    pub iq_burst: Option<u32>,
    /// IQ requests per second one account may send once its burst is spent
    /// [default: 10]
    #[arg(long, value_name = "N")]
    pub iq_rate: Option<u32>,
    /// Incoming connections one lease may announce to its owner in a burst; past
    /// it (and the refill) a caller is dropped unannounced, as on a busy lease
    /// [default: 100]
    #[arg(long, value_name = "N")]
    pub call_burst: Option<u32>,
    /// Incoming connections per second one lease may announce once its burst is
    /// spent [default: 20]
    #[arg(long, value_name = "N")]
    pub call_rate: Option<u32>,
    /// Prometheus endpoint address, or `off` [default: 127.0.0.1:9464]
    #[arg(long, value_name = "ADDR|off")]
    pub metrics: Option<String>,
    /// Log format [default: human]
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Log filter: a level (error, warn, info, debug, trace) or a tracing directive
    /// [default: info]
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Seconds to let relays finish on shutdown before cutting them [default: 10]
    #[arg(long, value_name = "SECS")]
    pub drain_timeout: Option<u64>,
    /// Most stanzas kept while the XMPP stream is down (oldest dropped) [default: 10000]
    #[arg(long, value_name = "N")]
    pub stanza_queue: Option<usize>,
}

/// The TOML config file. Keys are the flag names with `_` for `-`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// See `--server`.
    pub server: Option<String>,
    /// See `--domain`.
    pub domain: Option<String>,
    /// See `--secret-file`.
    pub secret_file: Option<PathBuf>,
    /// See `--public-ip` (a list).
    pub public_ip: Option<Vec<IpAddr>>,
    /// See `--bind` (a list).
    pub bind: Option<Vec<IpAddr>>,
    /// See `--ports` ("A-B").
    pub ports: Option<String>,
    /// See `--max-leases-per-jid`.
    pub max_leases_per_jid: Option<usize>,
    /// See `--max-leases`.
    pub max_leases: Option<usize>,
    /// See `--max-relays`.
    pub max_relays: Option<usize>,
    /// See `--relay-rate`.
    pub relay_rate: Option<u64>,
    /// See `--total-rate`.
    pub total_rate: Option<u64>,
    /// See `--answer-timeout`.
    pub answer_timeout: Option<u64>,
    /// See `--proxy-window`.
    pub proxy_window: Option<u64>,
    /// See `--max-expire`.
    pub max_expire: Option<u64>,
    /// See `--relay-mode`.
    pub relay_mode: Option<RelayMode>,
    /// See `--half-close-timeout`.
    pub half_close_timeout: Option<u64>,
    /// See `--relay-idle-timeout`.
    pub relay_idle_timeout: Option<u64>,
    /// See `--max-stanza-bytes`.
    pub max_stanza_bytes: Option<usize>,
    /// See `--iq-burst`.
    pub iq_burst: Option<u32>,
    /// See `--iq-rate`.
    pub iq_rate: Option<u32>,
    /// See `--call-burst`.
    pub call_burst: Option<u32>,
    /// See `--call-rate`.
    pub call_rate: Option<u32>,
    /// See `--metrics`.
    pub metrics: Option<String>,
    /// See `--log-format`.
    pub log_format: Option<LogFormat>,
    /// See `--log-level`.
    pub log_level: Option<String>,
    /// See `--drain-timeout`.
    pub drain_timeout: Option<u64>,
    /// See `--stanza-queue`.
    pub stanza_queue: Option<usize>,
}

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
}

impl NodeConfig {
    /// A config for tests and embedding: loopback addresses, an ephemeral-free pool,
    /// metrics off, defaults elsewhere.
    pub fn new(server: &str, domain: &str, secret: &str) -> Result<NodeConfig, ConfigError> {
        let args = SettingsArgs {
            server: Some(server.to_string()),
            domain: Some(domain.to_string()),
            metrics: Some("off".to_string()),
            ..SettingsArgs::default()
        };
        resolve(
            &args,
            &FileConfig::default(),
            SecretSource::Given(secret.to_string()),
        )
    }
}

fn parse_port_range_flag(s: &str) -> Result<PortRange, String> {
    parse_port_range(s).map_err(|e| e.reason)
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
            "{a:?} is not a port number (expected A-B, e.g. 40000-40999)"
        ))
    })?;
    let last: u16 = b.parse().map_err(|_| {
        bad(format!(
            "{b:?} is not a port number (expected A-B, e.g. 40000-40999)"
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

/// Reads and parses a TOML config file; unknown keys are errors naming the key.
pub fn load_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new("", format!("cannot read {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| {
        ConfigError::new(
            "",
            format!("{}: {}", path.display(), e.to_string().trim_end()),
        )
    })
}

/// Where the secret comes from.
#[derive(Debug)]
pub enum SecretSource {
    /// Read the secret file or the environment variable.
    Read,
    /// Do not read it (check-config): only check that one is configured.
    Skip,
    /// Already known (tests, embedding).
    Given(String),
}

fn secs(field: &str, v: u64, min: u64) -> Result<Duration, ConfigError> {
    if v < min {
        return Err(ConfigError::new(field, format!("must be at least {min} s")));
    }
    Ok(Duration::from_secs(v))
}

fn at_least_one(field: &str, v: usize) -> Result<usize, ConfigError> {
    if v == 0 {
        return Err(ConfigError::new(field, "must be at least 1"));
    }
    Ok(v)
}

fn rate(field: &str, v: Option<u64>) -> Result<Option<u64>, ConfigError> {
    match v {
        Some(0) => Err(ConfigError::new(
            field,
            "must be at least 1 byte/s (leave it out for no limit)",
        )),
        other => Ok(other),
    }
}

/// Merges flags over the file over the defaults and checks the result.
pub fn resolve(
    args: &SettingsArgs,
    file: &FileConfig,
    secret: SecretSource,
) -> Result<NodeConfig, ConfigError> {
    let server = args
        .server
        .clone()
        .or_else(|| file.server.clone())
        .ok_or_else(|| ConfigError::new("server", "missing: set --server HOST:PORT or `server`"))?;
    check_server(&server)?;

    let domain = args
        .domain
        .clone()
        .or_else(|| file.domain.clone())
        .ok_or_else(|| ConfigError::new("domain", "missing: set --domain JID or `domain`"))?;
    let service =
        Jid::new(&domain).map_err(|e| ConfigError::new("domain", format!("{domain:?}: {e}")))?;
    if service.node().is_some() || service.resource().is_some() {
        return Err(ConfigError::new(
            "domain",
            format!("{domain:?} must be a bare domain such as pass.example.org"),
        ));
    }

    let secret_file = args
        .secret_file
        .clone()
        .or_else(|| file.secret_file.clone());
    let secret = match secret {
        SecretSource::Given(s) => s,
        SecretSource::Read => read_secret(secret_file.as_deref())?,
        SecretSource::Skip => {
            if secret_file.is_none() && std::env::var_os(SECRET_ENV).is_none() {
                return Err(ConfigError::new(
                    "secret_file",
                    format!("missing: set --secret-file PATH, `secret_file` or {SECRET_ENV}"),
                ));
            }
            String::new()
        }
    };

    let public: Vec<IpAddr> = if !args.public_ip.is_empty() {
        args.public_ip.clone()
    } else {
        file.public_ip
            .clone()
            .unwrap_or_else(|| vec![IpAddr::V4(Ipv4Addr::LOCALHOST)])
    };
    check_public(&public)?;

    let bind: Vec<IpAddr> = if !args.bind.is_empty() {
        args.bind.clone()
    } else if let Some(b) = &file.bind {
        b.clone()
    } else {
        default_bind(&public)
    };
    if bind.is_empty() {
        return Err(ConfigError::new("bind", "at least one address is needed"));
    }
    for b in &bind {
        if !public.iter().any(|p| p.is_ipv4() == b.is_ipv4()) {
            return Err(ConfigError::new(
                "bind",
                format!("{b} has no public_ip of its family to advertise"),
            ));
        }
    }
    for p in &public {
        if !bind.iter().any(|b| b.is_ipv4() == p.is_ipv4()) {
            return Err(ConfigError::new(
                "bind",
                format!("no address of {p}'s family: peers told {p} could not connect"),
            ));
        }
    }

    let ports = match (&args.ports, &file.ports) {
        (Some(p), _) => *p,
        (None, Some(s)) => parse_port_range(s)?,
        (None, None) => PortRange {
            first: 40000,
            last: 40999,
        },
    };

    let mut core = CoreConfig::new(service, public);
    core.first_port = ports.first;
    core.last_port = ports.last;
    core.max_leases_per_account = at_least_one(
        "max_leases_per_jid",
        args.max_leases_per_jid
            .or(file.max_leases_per_jid)
            .unwrap_or(core.max_leases_per_account),
    )?;
    core.max_leases = at_least_one(
        "max_leases",
        args.max_leases
            .or(file.max_leases)
            .unwrap_or(core.max_leases),
    )?;
    core.max_relays = at_least_one(
        "max_relays",
        args.max_relays
            .or(file.max_relays)
            .unwrap_or(core.max_relays),
    )?;
    if let Some(v) = args.answer_timeout.or(file.answer_timeout) {
        core.answer_timeout = secs("answer_timeout", v, 1)?;
    }
    if let Some(v) = args.proxy_window.or(file.proxy_window) {
        core.proxy_window = secs("proxy_window", v, 1)?;
    }
    if let Some(v) = args.max_expire.or(file.max_expire) {
        core.max_expire = secs("max_expire", v, 1)?;
    }
    if let Some(v) = args.iq_burst.or(file.iq_burst) {
        core.iq_burst = v;
    }
    if let Some(v) = args.iq_rate.or(file.iq_rate) {
        core.iq_per_second = v;
    }
    if let Some(v) = args.call_burst.or(file.call_burst) {
        core.call_burst = v;
    }
    if let Some(v) = args.call_rate.or(file.call_rate) {
        core.call_per_second = v;
    }
    core.seed = random_seed();
    core.validate()
        .map_err(|e| ConfigError::new(core_field(e.field), e.reason))?;

    let relay = RelaySettings {
        mode: args.relay_mode.or(file.relay_mode).unwrap_or_default(),
        relay_rate: rate("relay_rate", args.relay_rate.or(file.relay_rate))?,
        total_rate: rate("total_rate", args.total_rate.or(file.total_rate))?,
        half_close_timeout: match args.half_close_timeout.or(file.half_close_timeout) {
            Some(v) => secs("half_close_timeout", v, 1)?,
            None => DEFAULT_HALF_CLOSE_TIMEOUT,
        },
        idle_timeout: match args.relay_idle_timeout.or(file.relay_idle_timeout) {
            Some(0) => None,
            Some(v) => Some(Duration::from_secs(v)),
            None => Some(DEFAULT_RELAY_IDLE_TIMEOUT),
        },
    };

    let mut limits = pass_core::xml::Limits {
        max_stanza_bytes: DEFAULT_MAX_STANZA_BYTES,
        ..pass_core::xml::Limits::default()
    };
    if let Some(v) = args.max_stanza_bytes.or(file.max_stanza_bytes) {
        if v < MIN_STANZA_BYTES {
            return Err(ConfigError::new(
                "max_stanza_bytes",
                format!("must be at least {MIN_STANZA_BYTES} bytes"),
            ));
        }
        limits.max_stanza_bytes = v;
    }
    // The core refuses a stanza over these alone; the link's framer gets the
    // relaxed version.
    core.stanza_limits = limits.clone();

    let metrics_text = args
        .metrics
        .clone()
        .or_else(|| file.metrics.clone())
        .unwrap_or_else(|| DEFAULT_METRICS.to_string());
    let metrics = if metrics_text.eq_ignore_ascii_case("off") {
        None
    } else {
        Some(metrics_text.parse::<SocketAddr>().map_err(|_| {
            ConfigError::new(
                "metrics",
                format!("{metrics_text:?} is not IP:PORT (e.g. 127.0.0.1:9464) or `off`"),
            )
        })?)
    };

    let log_level = args
        .log_level
        .clone()
        .or_else(|| file.log_level.clone())
        .unwrap_or_else(|| "info".to_string());
    if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
        return Err(ConfigError::new(
            "log_level",
            format!("{log_level:?} is not a level (error, warn, info, debug, trace) or filter"),
        ));
    }

    let drain_timeout =
        Duration::from_secs(args.drain_timeout.or(file.drain_timeout).unwrap_or(10));
    let stanza_queue = at_least_one(
        "stanza_queue",
        args.stanza_queue
            .or(file.stanza_queue)
            .unwrap_or(DEFAULT_STANZA_QUEUE),
    )?;

    Ok(NodeConfig {
        core,
        server,
        secret,
        bind,
        relay,
        metrics,
        drain_timeout,
        stanza_queue,
        backoff: Backoff::default(),
        limits,
        log_format: args.log_format.or(file.log_format).unwrap_or_default(),
        log_level,
    })
}

/// The core names some fields differently from the TOML keys.
fn core_field(field: &str) -> &str {
    match field {
        "advertised" => "public_ip",
        "max_leases_per_account" => "max_leases_per_jid",
        "iq_per_second" => "iq_rate",
        "call_per_second" => "call_rate",
        other => other,
    }
}

fn check_server(server: &str) -> Result<(), ConfigError> {
    let ok = match server.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p != 0),
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(
            "server",
            format!("{server:?} is not HOST:PORT (e.g. localhost:5347)"),
        ))
    }
}

fn check_public(public: &[IpAddr]) -> Result<(), ConfigError> {
    if public.is_empty() {
        return Err(ConfigError::new(
            "public_ip",
            "at least one address is needed",
        ));
    }
    if public.iter().filter(|a| a.is_ipv4()).count() > 1
        || public.iter().filter(|a| a.is_ipv6()).count() > 1
    {
        return Err(ConfigError::new(
            "public_ip",
            "at most one IPv4 and one IPv6 address",
        ));
    }
    if let Some(a) = public.iter().find(|a| a.is_unspecified()) {
        return Err(ConfigError::new(
            "public_ip",
            format!("{a} is the unspecified address: advertise one peers can reach (use --bind for the listen address)"),
        ));
    }
    Ok(())
}

/// The unspecified address of each public IP's family (loopback stays loopback:
/// a node advertising 127.0.0.1 has no business listening on other interfaces).
fn default_bind(public: &[IpAddr]) -> Vec<IpAddr> {
    public
        .iter()
        .map(|p| match p {
            a if a.is_loopback() => *a,
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        })
        .collect()
}

fn read_secret(file: Option<&Path>) -> Result<String, ConfigError> {
    let secret = match file {
        Some(path) => std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(
                "secret_file",
                format!("cannot read {}: {e}", path.display()),
            )
        })?,
        None => std::env::var(SECRET_ENV).map_err(|_| {
            ConfigError::new(
                "secret_file",
                format!("missing: set --secret-file PATH, `secret_file` or {SECRET_ENV}"),
            )
        })?,
    };
    let secret = secret.trim_end_matches(['\r', '\n']).to_string();
    if secret.is_empty() {
        return Err(ConfigError::new("secret_file", "the secret is empty"));
    }
    Ok(secret)
}

/// Entropy for the core's port draws (DESIGN decision 10); a fixed value only if the
/// OS has none to give.
fn random_seed() -> u64 {
    getrandom::u64().unwrap_or_else(|_| fastrand::u64(..))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> Result<FileConfig, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn port_range_errors_name_the_field() {
        let e = parse_port_range("5000-4000").unwrap_err();
        assert_eq!(
            e.to_string(),
            "ports: first port 5000 is greater than last port 4000"
        );
        assert!(parse_port_range("0-10").is_err());
        assert!(parse_port_range("a-b").is_err());
        assert_eq!(
            parse_port_range("40000-40010").unwrap(),
            PortRange {
                first: 40000,
                last: 40010
            }
        );
    }

    #[test]
    fn unknown_key_is_rejected_by_name() {
        let e = file("server = 'a:1'\nmax_leeses = 3\n").unwrap_err();
        assert!(e.contains("max_leeses"), "{e}");
    }

    #[test]
    fn flags_override_file() {
        let f = file("server = 'a:1'\ndomain = 'p.example'\nmax_relays = 7\nports = '100-200'\n")
            .unwrap();
        let args = SettingsArgs {
            max_relays: Some(9),
            ..SettingsArgs::default()
        };
        let c = resolve(&args, &f, SecretSource::Given("s".into())).unwrap();
        assert_eq!(c.core.max_relays, 9);
        assert_eq!(c.core.first_port, 100);
        assert_eq!(c.core.last_port, 200);
        assert_eq!(c.server, "a:1");
        assert_eq!(c.metrics, Some(DEFAULT_METRICS.parse().unwrap()));
    }

    #[test]
    fn limits_and_rates_map_onto_the_core_and_relays() {
        let f = file(
            "server = 'a:1'\ndomain = 'p.example'\niq_burst = 7\niq_rate = 3\n\
             call_burst = 6\ncall_rate = 2\n\
             max_stanza_bytes = 131072\nhalf_close_timeout = 9\n",
        )
        .unwrap();
        let args = SettingsArgs {
            iq_rate: Some(4),
            ..SettingsArgs::default()
        };
        let c = resolve(&args, &f, SecretSource::Given("s".into())).unwrap();
        assert_eq!(c.core.iq_burst, 7);
        assert_eq!((c.core.call_burst, c.core.call_per_second), (6, 2));
        assert_eq!(c.core.iq_per_second, 4);
        assert_eq!(c.limits.max_stanza_bytes, 131_072);
        assert_eq!(c.core.stanza_limits, c.limits);
        assert_eq!(c.relay.half_close_timeout, Duration::from_secs(9));
        let d = resolve(
            &SettingsArgs::default(),
            &file("server = 'a:1'\ndomain = 'p.example'\n").unwrap(),
            SecretSource::Given("s".into()),
        )
        .unwrap();
        assert_eq!(d.relay.half_close_timeout, DEFAULT_HALF_CLOSE_TIMEOUT);
        assert_eq!(d.limits.max_stanza_bytes, DEFAULT_MAX_STANZA_BYTES);
        assert_eq!(d.core.stanza_limits, d.limits);
    }

    #[test]
    fn relay_idle_timeout_defaults_and_zero_turns_it_off() {
        let base = "server = 'a:1'\ndomain = 'p.example'\n";
        let resolve_with = |extra: &str, flag: Option<u64>| {
            let args = SettingsArgs {
                relay_idle_timeout: flag,
                ..SettingsArgs::default()
            };
            let f = file(&format!("{base}{extra}")).unwrap();
            resolve(&args, &f, SecretSource::Given("s".into()))
                .unwrap()
                .relay
                .idle_timeout
        };
        assert_eq!(resolve_with("", None), Some(DEFAULT_RELAY_IDLE_TIMEOUT));
        assert_eq!(
            resolve_with("relay_idle_timeout = 30\n", None),
            Some(Duration::from_secs(30))
        );
        assert_eq!(resolve_with("relay_idle_timeout = 0\n", None), None);
        // The flag wins over the file, both ways.
        assert_eq!(
            resolve_with("relay_idle_timeout = 0\n", Some(45)),
            Some(Duration::from_secs(45))
        );
        assert_eq!(resolve_with("relay_idle_timeout = 45\n", Some(0)), None);
    }

    #[test]
    fn default_bind_follows_public_family() {
        let args = SettingsArgs {
            server: Some("h:5347".into()),
            domain: Some("p.example".into()),
            public_ip: vec!["192.0.2.1".parse().unwrap(), "2001:db8::1".parse().unwrap()],
            ..SettingsArgs::default()
        };
        let c = resolve(
            &args,
            &FileConfig::default(),
            SecretSource::Given("s".into()),
        )
        .unwrap();
        assert_eq!(
            c.bind,
            vec![
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpAddr::V6(Ipv6Addr::UNSPECIFIED)
            ]
        );
    }

    #[test]
    fn bad_values_name_their_field() {
        let base = "server = 'h:1'\ndomain = 'p.example'\n";
        for (extra, field) in [
            ("max_leases = 0", "max_leases"),
            ("public_ip = ['1.2.3.4', '5.6.7.8']", "public_ip"),
            ("metrics = 'nope'", "metrics"),
            ("relay_rate = 0", "relay_rate"),
            (
                "public_ip = ['192.0.2.1', '2001:db8::1']\nbind = ['0.0.0.0']",
                "bind",
            ),
            ("answer_timeout = 0", "answer_timeout"),
            ("half_close_timeout = 0", "half_close_timeout"),
            ("max_stanza_bytes = 100", "max_stanza_bytes"),
            ("iq_burst = 0", "iq_burst"),
            ("iq_rate = 0", "iq_rate"),
            ("call_burst = 0", "call_burst"),
            ("call_rate = 0", "call_rate"),
            ("domain2 = 'x'", ""),
        ] {
            let text = format!("{base}{extra}\n");
            match file(&text) {
                Err(e) => assert!(field.is_empty(), "{extra}: {e}"),
                Ok(f) => {
                    let e = resolve(
                        &SettingsArgs::default(),
                        &f,
                        SecretSource::Given("s".into()),
                    )
                    .unwrap_err();
                    assert_eq!(e.field, field, "{extra}: {e}");
                }
            }
        }
    }
}
