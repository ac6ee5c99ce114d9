//! The in-process target: any [`Engine`] hosted by pass-core's simulated host
//! ([`pass_core::sim::Sim`]), which behaves as pass-node does: listeners are a set of
//! ports, connections are in-memory byte pipes, a bridge relays bytes and ends the
//! session at the first EOF of either side (the other direction drains until idle for
//! the node's half-close timeout), and time is virtual: waiting advances the clock and
//! fires each deadline. The whole suite runs in well under a second.
//!
//! [`HostFault`]s break the host on purpose, to prove the cases catch a relay that
//! loses disconnects, corrupts bytes or swallows half-closes.

use crate::harness::{ConnectError, Harness, HarnessError, ReadEvent, SockId, TargetInfo};
use async_trait::async_trait;
use pass_core::engine::Engine;
use pass_core::lease::{Config, ConnId};
use pass_core::sim::{self, Sim, SimConfig};
use pass_core::time::Instant;
use pass_core::xml::Element;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

pub use pass_core::sim::HostFault;

/// The service JID of the in-process reference configuration.
pub const SERVICE_JID: &str = "pass.localhost";
/// The address the simulated third parties and owners connect from (RFC 5737).
pub const PEER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));

/// The reference configuration the in-process target uses: small pool and limits so
/// that the 502 case runs out of ports quickly, short timeouts for the timeout cases.
pub fn reference_config() -> Config {
    let service = pass_core::jid::Jid::new(SERVICE_JID).unwrap_or_else(|_| unreachable_jid());
    let mut c = Config::new(service, vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]);
    c.first_port = 40000;
    c.last_port = 40063;
    c.max_leases = 8;
    c.max_leases_per_account = 4;
    c.answer_timeout = pass_core::time::Duration::from_secs(2);
    c.proxy_window = pass_core::time::Duration::from_secs(2);
    c.max_expire = pass_core::time::Duration::from_secs(3600);
    c
}

// Only reached if the constant above stops being a JID.
fn unreachable_jid() -> pass_core::jid::Jid {
    pass_core::jid::Jid::new("localhost").unwrap_or_else(|_| panic!("'localhost' is a JID"))
}

/// The simulated host around an engine, as a [`Harness`].
pub struct InprocHost<E: Engine> {
    sim: Sim<E>,
    info: TargetInfo,
    ips: Vec<IpAddr>,
    /// The wall-clock moment virtual time 0 stands for ([`Harness::clock`]).
    origin: std::time::Instant,
}

impl<E: Engine> InprocHost<E> {
    /// A host around `engine`, whose advertised addresses are `ips` and whose owner
    /// answer timeout is `answer_timeout`; it relays as pass-node does by default.
    pub fn new(engine: E, service: &str, ips: Vec<IpAddr>, answer_timeout: Duration) -> Self {
        InprocHost {
            sim: Sim::new(engine, SimConfig::default()),
            info: TargetInfo {
                service: service.to_string(),
                user_domain: "localhost".into(),
                answer_wait: Duration::from_secs(5),
                io_wait: Duration::from_secs(5),
                impl_answer_timeout: answer_timeout,
            },
            ips,
            origin: std::time::Instant::now(),
        }
    }

    /// Same host with a host fault switched on.
    pub fn with_fault(self, fault: HostFault) -> Self {
        let mut config = self.sim.config().clone();
        config.faults.push(fault);
        InprocHost {
            sim: Sim::new(self.sim.into_engine(), config),
            ..self
        }
    }

    /// The engine inside.
    pub fn engine(&self) -> &E {
        self.sim.engine()
    }

    /// `wait` from now on the virtual clock.
    fn deadline(&self, wait: Duration) -> Instant {
        self.sim.now() + wait
    }
}

#[async_trait(?Send)]
impl<E: Engine> Harness for InprocHost<E> {
    fn info(&self) -> &TargetInfo {
        &self.info
    }

    async fn send_stanza(&mut self, stanza: &Element) -> Result<(), HarnessError> {
        self.sim.stanza(stanza);
        Ok(())
    }

    async fn next_stanza(&mut self, wait: Duration) -> Result<Option<Element>, HarnessError> {
        let until = self.deadline(wait);
        self.sim.run_until(until, |s| s.has_sent());
        Ok(self.sim.next_sent().map(|iq| Element::from(&iq)))
    }

    async fn connect(&mut self, addr: SocketAddr) -> Result<(SockId, SocketAddr), ConnectError> {
        if !self.ips.contains(&addr.ip()) {
            return Err(ConnectError::Refused);
        }
        let id = self.sim.next_conn_id().0;
        let peer = SocketAddr::new(
            PEER_IP,
            30000u16.wrapping_add(u16::try_from(id % 30000).unwrap_or(0)),
        );
        match self.sim.connect(addr.port(), peer) {
            Ok(conn) => Ok((SockId(conn.0), peer)),
            Err(sim::Refused) => Err(ConnectError::Refused),
        }
    }

    async fn write(&mut self, sock: SockId, data: &[u8]) -> Result<(), HarnessError> {
        self.sim.write(ConnId(sock.0), data);
        Ok(())
    }

    async fn shutdown_write(&mut self, sock: SockId) -> Result<(), HarnessError> {
        self.sim.shutdown_write(ConnId(sock.0));
        Ok(())
    }

    async fn close(&mut self, sock: SockId) {
        self.sim.close(ConnId(sock.0));
    }

    async fn read(&mut self, sock: SockId, wait: Duration) -> Result<ReadEvent, HarnessError> {
        let conn = ConnId(sock.0);
        let until = self.deadline(wait);
        self.sim
            .run_until(until, |s| s.conn(conn).is_none_or(|c| c.has_news()));
        Ok(match self.sim.read(conn) {
            sim::ReadEvent::Data(data) => ReadEvent::Data(data),
            // The simulated host closes with a FIN only: it never resets.
            sim::ReadEvent::Eof => ReadEvent::Eof,
            sim::ReadEvent::Nothing => ReadEvent::Timeout,
        })
    }

    async fn sleep(&mut self, d: Duration) {
        self.sim.advance(d);
    }

    fn clock(&self) -> std::time::Instant {
        self.origin + Duration::from_millis(self.sim.now().as_millis())
    }

    async fn reset(&mut self) -> Result<(), HarnessError> {
        self.sim.close_all();
        self.sim.forget_closed();
        self.sim.clear_sent();
        Ok(())
    }
}

/// The reference service with [`reference_config`], ready for a run.
pub fn reference_host() -> Result<InprocHost<pass_core::service::Service>, String> {
    let config = reference_config();
    let timeout = config.answer_timeout;
    let ips = config.advertised.clone();
    let service =
        pass_core::service::Service::new(config).map_err(|e| format!("reference config: {e}"))?;
    Ok(InprocHost::new(service, SERVICE_JID, ips, timeout))
}
