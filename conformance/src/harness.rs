//! What a target offers the cases: act as user JIDs on the XMPP side, open TCP
//! connections as the third party and the owner, and let time pass.

use crate::transcript::Event;
use async_trait::async_trait;
use pass_core::xml::Element;
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// A TCP connection the harness opened for a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SockId(pub u64);

/// What a read gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadEvent {
    /// Bytes (at least one).
    Data(Vec<u8>),
    /// The peer closed its side (FIN), or the connection is gone.
    Eof,
    /// The peer reset the connection (RST). Cases treat it as an [`ReadEvent::Eof`];
    /// the transcript tells them apart (DESIGN decision 45). The simulated host has
    /// no resets, so only network targets give it.
    Reset,
    /// Nothing within the wait.
    Timeout,
}

/// Why a connection attempt failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectError {
    /// Connection refused: nothing listens there.
    Refused,
    /// No answer within the connect timeout.
    Timeout,
    /// Anything else.
    Other(String),
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Refused => f.write_str("connection refused"),
            ConnectError::Timeout => f.write_str("connect timed out"),
            ConnectError::Other(e) => write!(f, "connect failed: {e}"),
        }
    }
}

/// The harness cannot go on (the rest of the run fails with this message).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HarnessError(pub String);

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HarnessError {}

/// Facts about the target the cases adapt to.
#[derive(Clone, Debug)]
pub struct TargetInfo {
    /// The service's JID (the `to` of requests, the `from` of what it sends).
    pub service: String,
    /// Domain of the user JIDs the cases act as.
    pub user_domain: String,
    /// How long to wait for a stanza that should come.
    pub answer_wait: Duration,
    /// How long to wait for bytes or an EOF that should come.
    pub io_wait: Duration,
    /// How long the implementation waits for an owner's answer (DESIGN decision 7).
    pub impl_answer_timeout: Duration,
}

/// A target as the cases see it. Methods that wait take the longest wait; in-process
/// targets let virtual time pass instead of sleeping.
#[async_trait(?Send)]
pub trait Harness {
    /// Facts about the target.
    fn info(&self) -> &TargetInfo;

    /// Sends a stanza to the service as a user (the stanza's `from` says which).
    async fn send_stanza(&mut self, stanza: &Element) -> Result<(), HarnessError>;

    /// The next stanza the service sent (to any JID), `None` after `wait`.
    async fn next_stanza(&mut self, wait: Duration) -> Result<Option<Element>, HarnessError>;

    /// Opens a TCP connection; gives the local address the service will see.
    async fn connect(&mut self, addr: SocketAddr) -> Result<(SockId, SocketAddr), ConnectError>;

    /// Queues bytes to write (never blocks on the peer's reading).
    async fn write(&mut self, sock: SockId, data: &[u8]) -> Result<(), HarnessError>;

    /// Half-closes: no more writes (FIN), reading goes on.
    async fn shutdown_write(&mut self, sock: SockId) -> Result<(), HarnessError>;

    /// Closes the connection both ways.
    async fn close(&mut self, sock: SockId);

    /// Reads what is there, waiting at most `wait`.
    async fn read(&mut self, sock: SockId, wait: Duration) -> Result<ReadEvent, HarnessError>;

    /// Lets `d` pass.
    async fn sleep(&mut self, d: Duration);

    /// Now on the target's clock, which waits are measured against: the wall clock,
    /// or for an in-process target its virtual clock (waiting there moves no wall
    /// time, so a wait resumed after an unrelated stanza must not start over).
    fn clock(&self) -> Instant {
        Instant::now()
    }

    /// Between cases: closes every connection the last case left open and makes sure
    /// the service is reachable again (a component target waits for a reconnect).
    async fn reset(&mut self) -> Result<(), HarnessError>;

    /// The full JID the cases' user `name` is in the case numbered `index`. A target
    /// that sends as any JID makes one up, unique to the case; one that logs in as
    /// real accounts (c2s) names a resource of one of them (DESIGN decision 121).
    fn user_jid(&self, name: &str, index: usize) -> String {
        format!("{name}-{index}@{}/conformance", self.info().user_domain)
    }

    /// The full JID `explore` acts as for resource `resource` (0 or 1) of its
    /// account `account`, `None` when the target has no such account. A target that
    /// sends as any JID makes one up; the c2s target names a resource of its
    /// `account`-th `--account` (DESIGN decision 135).
    fn explore_jid(&self, account: usize, resource: u8) -> Option<String> {
        Some(format!(
            "user{account}@{}/r{resource}",
            self.info().user_domain
        ))
    }

    /// Whether this target can send stanzas as `jid`; `Err` says why not (the case
    /// is then SKIP with that reason).
    fn can_send_as(&self, _jid: &str) -> Result<(), String> {
        Ok(())
    }

    /// How many registrations a case may make to run the service out of ports;
    /// `None` when this target must not try (c2s without `--exhaust N`).
    fn registration_budget(&self) -> Option<usize> {
        Some(256)
    }

    /// Takes `jid` offline, so that its server bounces what is sent to it. Only a
    /// target that logs in as real accounts can (the c2s-only cases use it).
    async fn go_offline(&mut self, jid: &str) -> Result<(), HarnessError> {
        Err(HarnessError(format!(
            "this target cannot take {jid} offline (only the c2s target logs in)"
        )))
    }

    /// Makes sure `jid` is online (receives what is sent to it) before it sends
    /// anything. Targets that act as any JID need nothing for this.
    async fn go_online(&mut self, _jid: &str) -> Result<(), HarnessError> {
        Ok(())
    }

    /// What the target itself saw during the case, with when (on [`Harness::clock`]):
    /// the c2s target's logins and logouts, a session its server ended. The runner
    /// adds them to the case's transcript.
    fn take_events(&mut self) -> Vec<(Instant, Event)> {
        Vec::new()
    }

    /// The nemesis of `explore` (network targets): cuts the XMPP stream to the
    /// service; the service must re-establish it and keep its leases. Targets with
    /// no stream to cut refuse.
    async fn cut_stream(&mut self) -> Result<(), HarnessError> {
        Err(HarnessError("this target has no XMPP stream to cut".into()))
    }
}
