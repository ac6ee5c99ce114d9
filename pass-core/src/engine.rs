//! The sans-IO engine interface: what a host (the tokio node, the conformance
//! runner's in-process target, the WASI adapter) drives.
//!
//! Events go in through `handle_*`, each with the current time; actions come out of
//! [`Engine::poll_action`]. The host assigns [`ConnId`]s to the TCP connections it
//! accepts. After any `handle_*` call the host drains `poll_action` until `None`, then
//! sleeps until [`Engine::poll_timeout`] (or the next event) and calls
//! [`Engine::handle_timeout`]. `docs/ENGINE-ABI.md` specifies the same interface for
//! modules in any language.

use crate::lease::{Action, ConnId, ListenError, Stats};
use crate::time::Instant;
use crate::xml::Element;
use core::net::SocketAddr;

/// A PASS service as a sans-IO state machine.
pub trait Engine {
    /// A top-level element arrived on the XMPP stream (the stream header and the
    /// handshake are the host's business; everything after it comes here).
    fn handle_stanza(&mut self, now: Instant, stanza: &Element);

    /// The outcome of an [`Action::Listen`].
    fn handle_listen_result(&mut self, now: Instant, port: u16, result: Result<(), ListenError>);

    /// The host accepted `conn` on `local_port` from `peer`.
    fn handle_connection(&mut self, now: Instant, conn: ConnId, local_port: u16, peer: SocketAddr);

    /// `conn` ended (its peer closed it, it failed, or a relay it was in ended).
    fn handle_closed(&mut self, now: Instant, conn: ConnId);

    /// The deadline given by [`Engine::poll_timeout`] has passed.
    fn handle_timeout(&mut self, now: Instant);

    /// The host is shutting down: tell owners, stop listening.
    fn shutdown(&mut self, now: Instant);

    /// The next action, `None` when there is nothing to do.
    fn poll_action(&mut self) -> Option<Action>;

    /// When [`Engine::handle_timeout`] should next be called.
    fn poll_timeout(&self) -> Option<Instant>;

    /// Counters and gauges for metrics; engines that keep none report zeros.
    fn stats(&self) -> Stats {
        Stats::default()
    }
}
