//! Settings that are valid but probably wrong here: warned about, never refused
//! (DESIGN decision 71). The node logs them at start; `check-config` prints them on
//! stderr and still exits 0.
//!
//! What the host allows is read once into [`Host`] (from `/proc`), so the checks
//! themselves are pure and tested against made-up hosts.

use super::{NodeConfig, PortRange};
use std::fmt;
use std::net::IpAddr;
use std::path::Path;

/// A doubtful setting; displays as `setting: why`, like a [`ConfigError`](super::ConfigError).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The setting (TOML key).
    pub field: &'static str,
    /// Why it is doubtful, and what to do.
    pub reason: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// What the host lets this process do with ports, as far as it can tell. `None`
/// where it cannot tell (no `/proc`): that check is skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Host {
    /// `net.ipv4.ip_local_port_range`: where the kernel picks local ports of
    /// outgoing connections (it applies to IPv6 too).
    pub ephemeral: Option<PortRange>,
    /// `net.ipv4.ip_local_reserved_ports`: ports the kernel never picks.
    pub reserved: Vec<PortRange>,
    /// `net.ipv4.ip_unprivileged_port_start`: ports below it need
    /// CAP_NET_BIND_SERVICE (1024 where the file is absent).
    pub unprivileged_start: u16,
    /// Whether this process holds CAP_NET_BIND_SERVICE (bit 10 of `CapEff` in
    /// `/proc/self/status`). The effective set, not the user id: root without the
    /// capability (as in a systemd unit with an empty `CapabilityBoundingSet=`)
    /// cannot bind them, a non-root user given it (`AmbientCapabilities=`) can.
    pub can_bind_privileged: Option<bool>,
}

/// Linux's capability number of CAP_NET_BIND_SERVICE.
const CAP_NET_BIND_SERVICE: u32 = 10;

impl Host {
    /// Reads the facts from `/proc`; an absent or unreadable file skips its check.
    pub fn probe() -> Host {
        Host::probe_at(Path::new("/proc"))
    }

    /// [`Host::probe`] with `/proc` at `root` (tests).
    pub fn probe_at(root: &Path) -> Host {
        let read = |rel: &str| std::fs::read_to_string(root.join(rel)).ok();
        Host {
            ephemeral: read("sys/net/ipv4/ip_local_port_range")
                .and_then(|t| parse_ranges(&t.split_whitespace().collect::<Vec<_>>().join("-")))
                .and_then(|r| r.first().copied()),
            reserved: read("sys/net/ipv4/ip_local_reserved_ports")
                .and_then(|t| parse_ranges(&t))
                .unwrap_or_default(),
            unprivileged_start: read("sys/net/ipv4/ip_unprivileged_port_start")
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(1024),
            can_bind_privileged: read("self/status").and_then(|t| {
                let hex = t.lines().find_map(|l| l.strip_prefix("CapEff:"))?.trim();
                let caps = u64::from_str_radix(hex, 16).ok()?;
                Some(caps & (1 << CAP_NET_BIND_SERVICE) != 0)
            }),
        }
    }
}

/// `A-B,C,D-E` (the kernel's format for port lists; empty is no range).
fn parse_ranges(text: &str) -> Option<Vec<PortRange>> {
    text.trim()
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| super::parse_port_range(s).ok())
        .collect()
}

/// The warnings about `config` on `host`, in the order of the settings.
pub fn warnings(config: &NodeConfig, host: &Host) -> Vec<Warning> {
    let pool = PortRange {
        first: config.core.first_port,
        last: config.core.last_port,
    };
    let mut found = Vec::new();
    found.extend(loopback_advertised(&config.core.advertised, &config.bind));
    found.extend(ephemeral_overlap(pool, host));
    found.extend(privileged_ports(pool, host));
    found
}

/// A loopback `public_ip` with a non-loopback bind address of its family: the node
/// listens where others can reach it but tells them to connect to themselves.
fn loopback_advertised(public: &[IpAddr], bind: &[IpAddr]) -> Option<Warning> {
    let (p, b) = public.iter().filter(|p| p.is_loopback()).find_map(|p| {
        let b = bind
            .iter()
            .find(|b| b.is_ipv4() == p.is_ipv4() && !b.is_loopback())?;
        Some((p, b))
    })?;
    Some(Warning {
        field: "public_ip",
        reason: format!(
            "{p} is a loopback address but the ports listen on {b}: callers on other \
             machines are told to connect to {p} and cannot; set public_ip to the address \
             they reach this node at"
        ),
    })
}

/// Pool ports the kernel may give to outgoing connections (ephemeral and not
/// reserved): one taken that way cannot be listened on until it is released.
fn ephemeral_overlap(pool: PortRange, host: &Host) -> Option<Warning> {
    let eph = host.ephemeral?;
    let reserved = |p: u16| {
        host.reserved
            .iter()
            .any(|r| (r.first..=r.last).contains(&p))
    };
    let exposed = (pool.first.max(eph.first)..=pool.last.min(eph.last))
        .filter(|p| !reserved(*p))
        .count();
    if exposed == 0 {
        return None;
    }
    Some(Warning {
        field: "ports",
        reason: format!(
            "{}-{} overlaps this host's ephemeral port range {}-{} \
             (net.ipv4.ip_local_port_range) on {exposed} port(s): outgoing connections \
             can take pool ports; move the pool below {} or reserve it with \
             net.ipv4.ip_local_reserved_ports (docs/OPERATING.md, \"The port pool\")",
            pool.first, pool.last, eph.first, eph.last, eph.first
        ),
    })
}

/// Pool ports below `ip_unprivileged_port_start` without CAP_NET_BIND_SERVICE: every
/// listen on them fails (a register gets 502).
fn privileged_ports(pool: PortRange, host: &Host) -> Option<Warning> {
    if pool.first >= host.unprivileged_start || host.can_bind_privileged != Some(false) {
        return None;
    }
    Some(Warning {
        field: "ports",
        reason: format!(
            "{}-{} has ports below {} and this process lacks CAP_NET_BIND_SERVICE: \
             listening on them fails (registers get 502); use ports from {} up",
            pool.first, pool.last, host.unprivileged_start, host.unprivileged_start
        ),
    })
}
