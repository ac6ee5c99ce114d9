//! The one validation pass: merges flags over the file over the defaults and
//! checks every setting, naming the one at fault.

use super::warnings::{warnings, Host, Warning};
use super::{
    parse_port_range, Backoff, ConfigError, ConfigFile, CoreConfig, NodeConfig, RelaySettings,
    Settings, MIN_STANZA_BYTES, SECRET_ENV,
};
use pass_core::jid::Jid;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

/// Where the secret comes from.
#[derive(Debug)]
pub enum SecretSource {
    /// Read the secret file or the environment variable.
    Read,
    /// check-config: one must be configured; a secret file that cannot be read (or
    /// is empty) is a [`Warning`], not an error, since under systemd the node reads a
    /// credential copy and check-config may run before the secret is installed
    /// (DESIGN decision 71).
    Check,
    /// Already known (tests, embedding).
    Given(String),
}

/// Merges `flags` over `file` over [`Settings::defaults`] and checks the result; an
/// error names a setting the file gave as the file spells it.
pub fn resolve(
    flags: &Settings,
    file: &ConfigFile,
    secret: SecretSource,
) -> Result<NodeConfig, ConfigError> {
    let settings = flags
        .clone()
        .or(file.settings.clone())
        .or(Settings::defaults());
    check(settings, secret).map_err(|e| {
        if flags.given().contains(&e.field.as_str()) {
            e
        } else {
            file.as_written(e)
        }
    })
}

/// Checks merged settings and builds the config; errors name the setting.
fn check(s: Settings, secret: SecretSource) -> Result<NodeConfig, ConfigError> {
    let mut found = Vec::new();
    let server = s
        .server
        .ok_or_else(|| ConfigError::new("server", "missing: set --server HOST:PORT or `server`"))?;
    check_server(&server)?;

    let domain = s
        .domain
        .ok_or_else(|| ConfigError::new("domain", "missing: set --domain JID or `domain`"))?;
    let service =
        Jid::new(&domain).map_err(|e| ConfigError::new("domain", format!("{domain:?}: {e}")))?;
    if service.node().is_some() || service.resource().is_some() {
        return Err(ConfigError::new(
            "domain",
            format!("{domain:?} must be a bare domain such as pass.example.org"),
        ));
    }

    let secret = match secret {
        SecretSource::Given(given) => given,
        SecretSource::Read => read_secret(s.secret_file.as_deref())?,
        SecretSource::Check => {
            if s.secret_file.is_none() && std::env::var_os(SECRET_ENV).is_none() {
                return Err(ConfigError::new(
                    "secret_file",
                    format!("missing: set --secret-file PATH, `secret_file` or {SECRET_ENV}"),
                ));
            }
            if let Some(path) = &s.secret_file {
                if let Err(e) = read_secret(Some(path)) {
                    found.push(Warning {
                        field: "secret_file",
                        reason: format!("{}; the node will not start without it", e.reason),
                    });
                }
            }
            String::new()
        }
    };

    let public = defaulted("public_ip", s.public_ip)?;
    check_public(&public)?;

    let bind = s.bind.unwrap_or_else(|| default_bind(&public));
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

    let ports = parse_port_range(&defaulted("ports", s.ports)?)?;

    let mut core = CoreConfig::new(service, public);
    core.first_port = ports.first;
    core.last_port = ports.last;
    core.max_leases_per_account = at_least_one("max_leases_per_account", s.max_leases_per_account)?;
    core.max_leases = at_least_one("max_leases", s.max_leases)?;
    core.max_relays = at_least_one("max_relays", s.max_relays)?;
    core.answer_timeout = secs("answer_timeout", s.answer_timeout, 1)?;
    core.proxy_window = secs("proxy_window", s.proxy_window, 1)?;
    core.max_expire = secs("max_expire", s.max_expire, 1)?;
    core.max_idle_lease = secs("max_idle_lease", s.max_idle_lease, 0)?;
    core.reconnect_grace = secs("reconnect_grace", s.reconnect_grace, 0)?;
    core.iq_burst = defaulted("iq_burst", s.iq_burst)?;
    core.iq_per_second = defaulted("iq_per_second", s.iq_per_second)?;
    core.call_burst = defaulted("call_burst", s.call_burst)?;
    core.call_per_second = defaulted("call_per_second", s.call_per_second)?;
    core.seed = random_seed();
    core.validate()
        .map_err(|e| ConfigError::new(core_field(e.field), e.reason))?;

    let relay = RelaySettings {
        mode: defaulted("relay_mode", s.relay_mode)?,
        relay_rate: rate("relay_rate", s.relay_rate)?,
        total_rate: rate("total_rate", s.total_rate)?,
        half_close_timeout: secs("half_close_timeout", s.half_close_timeout, 1)?,
        idle_timeout: match defaulted("relay_idle_timeout", s.relay_idle_timeout)? {
            0 => None,
            v => Some(Duration::from_secs(v)),
        },
    };

    let max_stanza_bytes = defaulted("max_stanza_bytes", s.max_stanza_bytes)?;
    if max_stanza_bytes < MIN_STANZA_BYTES {
        return Err(ConfigError::new(
            "max_stanza_bytes",
            format!("must be at least {MIN_STANZA_BYTES} bytes"),
        ));
    }
    let limits = pass_core::xml::Limits {
        max_stanza_bytes,
        ..pass_core::xml::Limits::default()
    };
    // The core refuses a stanza over these alone; the link's framer gets the
    // relaxed version.
    core.stanza_limits = limits.clone();

    let metrics_text = defaulted("metrics", s.metrics)?;
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

    let log_level = defaulted("log_level", s.log_level)?;
    if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
        return Err(ConfigError::new(
            "log_level",
            format!("{log_level:?} is not a level (error, warn, info, debug, trace) or filter"),
        ));
    }

    let drain_timeout = Duration::from_secs(defaulted("drain_timeout", s.drain_timeout)?);
    let stanza_queue = at_least_one("stanza_queue", s.stanza_queue)?;

    let mut config = NodeConfig {
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
        log_format: defaulted("log_format", s.log_format)?,
        log_level,
        warnings: Vec::new(),
    };
    found.extend(warnings(&config, &Host::probe()));
    config.warnings = found;
    Ok(config)
}

/// The value of a setting that [`Settings::defaults`] fills; `None` there would be
/// a bug of the schema (a unit test checks every such setting has its default).
fn defaulted<T>(field: &str, v: Option<T>) -> Result<T, ConfigError> {
    v.ok_or_else(|| ConfigError::new(field, "missing and has no default"))
}

fn secs(field: &str, v: Option<u64>, min: u64) -> Result<Duration, ConfigError> {
    let v = defaulted(field, v)?;
    if v < min {
        return Err(ConfigError::new(field, format!("must be at least {min} s")));
    }
    Ok(Duration::from_secs(v))
}

fn at_least_one(field: &str, v: Option<usize>) -> Result<usize, ConfigError> {
    match defaulted(field, v)? {
        0 => Err(ConfigError::new(field, "must be at least 1")),
        v => Ok(v),
    }
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

/// The core's settings carry the settings' names, but for its addresses.
fn core_field(field: &str) -> &str {
    match field {
        "advertised" => "public_ip",
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
