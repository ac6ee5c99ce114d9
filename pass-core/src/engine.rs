//! The sans-IO engine interface: what a host (the tokio node, the conformance
//! runner's in-process target, the WASI adapter) drives.
//!
//! Events go in through `handle_*`, each with the current time; actions come out of
//! [`Engine::poll_action`]. `docs/ENGINE-ABI.md` specifies the same interface for
//! modules in any language.
//!
//! # The Engine contract
//!
//! What a host reports, and when (docs/DESIGN.md decision 17). `pass-node` is the
//! reference host; `pass_core::sim` (feature `sim`) simulates it, deterministically.
//!
//! **Time.** Every call carries `now`, the host's clock in milliseconds since an
//! epoch of its choice. An engine never goes back: an earlier `now` counts as the
//! latest one it saw. After any call the host drains [`Engine::poll_action`] until
//! `None`, then sleeps until [`Engine::poll_timeout`] (or the next event) and calls
//! [`Engine::handle_timeout`]; a call before the deadline is harmless.
//!
//! **Events**, and when the host reports each:
//! - [`Engine::handle_stanza`]: every top-level element after the XEP-0114
//!   handshake, in stream order (the stream header and handshake are the host's).
//! - [`Engine::handle_listen_result`]: once per [`Action::Listen`], with its
//!   outcome. The host may report it at once, from inside its drain (the node does),
//!   or later.
//! - [`Engine::handle_connection`]: a connection accepted on a port the engine
//!   asked to listen on, with a [`ConnId`] the host chose, unique while it lives.
//! - [`Engine::handle_closed`]: a connection's **session** is over, reported once,
//!   as soon as it happens:
//!   - a waiting connection (accepted, not bridged) whose peer hangs up: EOF with
//!     nothing unread, or a reset. A FIN behind unread bytes is the relay's to deliver;
//!   - a bridged connection at the **first EOF of either side** (a half-close
//!     counts): that side is reported then, not when both sides are closed. The
//!     host passes the EOF on (it shuts down the other side's writing) and keeps
//!     relaying the other direction while bytes move; idle for its half-close
//!     timeout, it closes both sockets and reports the other side, which the
//!     engine has forgotten by then and ignores;
//!   - a relay that fails (a reset) or idles out: both sides, client first;
//!   - the other side of a relay the engine dropped ([`Action::Drop`] of one side).
//!
//!   A host may report a connection twice or report one the engine never saw (races
//!   between a hang-up and a bridge); an engine ignores what it does not know.
//! - [`Engine::shutdown`]: once, when the host stops; it goes on relaying (and
//!   reporting) while it drains. A host that keeps leases across restarts calls
//!   [`Engine::suspend`] instead (DESIGN decision 53).
//! - [`Engine::restore`]: once, first of all, by a host that keeps leases across
//!   restarts (DESIGN decision 52), with what it kept (nothing at a first start);
//!   from then on the host drains [`Engine::poll_lease_change`] after every call,
//!   before it carries out the actions, and writes each change down.
//!
//! **Actions**, carried out in the order they come. Carrying one out may call the
//! engine back (a listen result, a close); the actions that causes queue behind.
//! - [`Action::Send`]: write the IQ to the XMPP stream as it is (`from`/`to` set).
//! - [`Action::Listen`]: listen on the port, then report the result.
//! - [`Action::Unlisten`]: stop listening; connections already accepted stay.
//! - [`Action::Bridge`]: relay between the two connections, byte-exact, both ways,
//!   with half-close, and report their end as above. If one side hung up just
//!   before, close the other and report both.
//! - [`Action::Drop`]: close the connection; if it is in a relay, cut the relay and
//!   report the other side.

use crate::lease::{Action, ConnId, LeaseChange, LeaseRecord, ListenError, Stats};
use crate::time::Instant;
use crate::xml::Element;
use alloc::vec::Vec;
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

    /// `conn`'s session is over: its peer hung up before a bridge, or it sent the
    /// first EOF of its relay, or its relay ended or was cut (see the
    /// [contract](self#the-engine-contract)).
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

    /// Takes up the leases a previous run kept, before any other event, and starts
    /// reporting lease changes (DESIGN decision 52). An engine that cannot keep
    /// leases across runs ignores them (the default): it reports no change either.
    fn restore(&mut self, now: Instant, records: Vec<LeaseRecord>) {
        let _ = (now, records);
    }

    /// The next change of the lease table since [`Engine::restore`], for the host
    /// to write down; `None` by default.
    fn poll_lease_change(&mut self) -> Option<LeaseChange> {
        None
    }

    /// The host stops but will restore the leases at its next start: stop
    /// listening, drop what is pending, keep the leases (DESIGN decision 53). By
    /// default the same as [`Engine::shutdown`].
    fn suspend(&mut self, now: Instant) {
        self.shutdown(now);
    }

    /// Whether `port`, which the engine asked the host to listen on, is a proxy
    /// port (the owner of an announced session connects there) rather than a lease
    /// port. A host short of descriptors refuses callers on lease ports but admits
    /// owners on proxy ports (DESIGN decision 140). `false` by default: such an
    /// engine's owners are treated as callers.
    fn is_proxy_port(&self, port: u16) -> bool {
        let _ = port;
        false
    }

    /// Every lease held now, as data; empty by default.
    fn lease_records(&self) -> Vec<LeaseRecord> {
        Vec::new()
    }
}
