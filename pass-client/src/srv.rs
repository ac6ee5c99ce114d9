//! Where the XMPP server is: `--server HOST:PORT` as given, or the DNS SRV records
//! `_xmpp-client._tcp.DOMAIN` tried in RFC 2782 order, falling back to DOMAIN:5222
//! when there are none (RFC 6120 §3.2; docs/DESIGN.md decision 95).
//!
//! The look-up is hickory-resolver's (the resolver tokio-xmpp's `dns` feature uses);
//! each target's addresses are resolved and connected by tokio-xmpp's own
//! `DnsConfig::NoSrv` (Happy Eyeballs over A and AAAA). Ordering the records is ours:
//! tokio-xmpp 6 tries them in the order the answer lists them.

use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::TokioResolver;
use std::fmt;
use tokio::net::TcpStream;
use tokio_xmpp::connect::DnsConfig;

/// The SRV service and protocol of client-to-server XMPP (RFC 6120 §3.2.1).
pub const SERVICE: &str = "_xmpp-client._tcp";

/// The c2s port when there are no SRV records (RFC 6120 §3.2.2).
pub const FALLBACK_PORT: u16 = 5222;

/// How to reach the XMPP server.
#[derive(Clone)]
pub enum Server {
    /// `--server HOST:PORT`: no look-up of SRV records.
    Addr(String),
    /// The JID's domain: SRV records, then the fallback.
    Domain {
        /// The domain.
        domain: String,
        /// The port when there are no SRV records (5222 but in tests).
        fallback_port: u16,
        /// The resolver; `None` for the system's (read at each look-up, so a changed
        /// `/etc/resolv.conf` counts at the next reconnect).
        resolver: Option<Box<TokioResolver>>,
    },
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Server::Addr(a) => f.write_str(a),
            Server::Domain { domain, .. } => write!(f, "{domain} (DNS SRV {SERVICE})"),
        }
    }
}

impl Server {
    /// The server of `domain`, found through the system's resolver.
    pub fn domain(domain: &str) -> Server {
        Server::Domain {
            domain: domain.to_owned(),
            fallback_port: FALLBACK_PORT,
            resolver: None,
        }
    }

    /// A TCP connection to the first target that takes it, and the target's name.
    pub async fn connect(&self) -> std::io::Result<(TcpStream, String)> {
        match self {
            Server::Addr(addr) => Ok((TcpStream::connect(addr).await?, addr.clone())),
            Server::Domain {
                domain,
                fallback_port,
                resolver,
            } => {
                let resolver = match resolver {
                    Some(r) => (**r).clone(),
                    None => TokioResolver::builder_tokio()
                        .map_err(std::io::Error::other)?
                        .build()
                        .map_err(std::io::Error::other)?,
                };
                let plan = look_up(&resolver, domain, *fallback_port).await;
                connect_in_order(&resolver, plan).await
            }
        }
    }
}

/// One SRV record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Lower is tried first.
    pub priority: u16,
    /// Share of the picks among records of one priority.
    pub weight: u16,
    /// The port.
    pub port: u16,
    /// The host (no trailing dot); `.` alone means "no service here".
    pub target: String,
}

/// What the SRV look-up says to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Try these HOST, PORT in this order.
    Targets(Vec<(String, u16)>),
    /// The domain says it has no such service (one record, target `.`).
    Unavailable,
}

/// The plan for `records` (the SRV answer; empty when the look-up failed or found
/// none): RFC 2782's order, or the fallback `domain`:`fallback_port`.
pub fn plan(
    mut records: Vec<Record>,
    domain: &str,
    fallback_port: u16,
    rng: &mut fastrand::Rng,
) -> Plan {
    if records.is_empty() {
        return Plan::Targets(vec![(domain.to_owned(), fallback_port)]);
    }
    if let [only] = &records[..] {
        if only.target == "." {
            return Plan::Unavailable;
        }
    }
    records.retain(|r| r.target != ".");
    records.sort_by_key(|r| r.priority);
    let mut ordered = Vec::with_capacity(records.len());
    for priority in records.chunk_by(|a, b| a.priority == b.priority) {
        ordered.extend(by_weight(priority.to_vec(), rng));
    }
    Plan::Targets(ordered.into_iter().map(|r| (r.target, r.port)).collect())
}

/// RFC 2782's weighted pick among records of one priority: weight-0 records first
/// in the running sum, a uniform draw in 0..=sum, the first record whose running sum
/// reaches it goes next; repeat with the rest.
fn by_weight(mut left: Vec<Record>, rng: &mut fastrand::Rng) -> Vec<Record> {
    left.sort_by_key(|r| r.weight != 0);
    let mut out = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let sum: u32 = left.iter().map(|r| u32::from(r.weight)).sum();
        let draw = rng.u32(0..=sum);
        let mut running = 0;
        let pick = left
            .iter()
            .position(|r| {
                running += u32::from(r.weight);
                running >= draw
            })
            .unwrap_or(0);
        out.push(left.remove(pick));
    }
    out
}

/// The SRV records of `domain` for c2s, and the plan they make.
async fn look_up(resolver: &TokioResolver, domain: &str, fallback_port: u16) -> Plan {
    let name = format!("{SERVICE}.{domain}.");
    let records = match resolver.lookup(name.as_str(), RecordType::SRV).await {
        Ok(lookup) => lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::SRV(srv) => Some(Record {
                    priority: srv.priority,
                    weight: srv.weight,
                    port: srv.port,
                    target: srv.target.to_ascii().trim_end_matches('.').to_owned(),
                }),
                _ => None,
            })
            .map(|mut r| {
                if r.target.is_empty() {
                    r.target = ".".to_owned();
                }
                r
            })
            .collect(),
        Err(e) => {
            tracing::debug!("no SRV records for {name}: {e}");
            Vec::new()
        }
    };
    let plan = plan(records, domain, fallback_port, &mut fastrand::Rng::new());
    tracing::debug!("c2s targets for {domain}: {plan:?}");
    plan
}

/// Connects to the targets of `plan` in turn; the first that takes it.
async fn connect_in_order(
    resolver: &TokioResolver,
    plan: Plan,
) -> std::io::Result<(TcpStream, String)> {
    let targets = match plan {
        Plan::Targets(t) => t,
        Plan::Unavailable => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the domain's SRV record says it offers no XMPP client service",
            ))
        }
    };
    let mut last = None;
    for (host, port) in targets {
        let dns = DnsConfig::NoSrv {
            host: host.clone(),
            port,
            resolver: Some(resolver.clone()),
        };
        match dns.resolve().await {
            Ok(tcp) => return Ok((tcp, format!("{host}:{port}"))),
            Err(e) => {
                tracing::debug!("c2s target {host}:{port}: {e}");
                last = Some(format!("{host}:{port}: {e}"));
            }
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        format!(
            "no c2s target took the connection (last: {})",
            last.unwrap_or_default()
        ),
    ))
}

#[cfg(test)]
mod tests;
