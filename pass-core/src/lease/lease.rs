//! One lease and the incoming connection in flight on it (its session).

use super::ConnId;
use crate::jid::Jid;
use crate::time::{Duration, Instant};
use crate::token_bucket::TokenBucket;
use alloc::string::String;
use core::net::SocketAddr;

/// A port leased to an account (DESIGN decision 6: the bare JID owns it; notices go
/// to the full JID that registered it).
#[derive(Debug)]
pub(crate) struct Lease {
    /// The owning account (bare JID).
    pub(crate) account: Jid,
    /// The full JID that registered it: where notices go.
    pub(crate) owner: Jid,
    /// Ends after its first relay (§4.2).
    pub(crate) oneshot: bool,
    /// When it expires (§4.1), `None` for never.
    pub(crate) expires_at: Option<Instant>,
    /// The incoming connection in flight, if any: one at a time (decision 2).
    pub(crate) session: Option<Session>,
    /// The last sign of life: its grant, a caller, the end of a session, or a
    /// `jabber:iq:pass` IQ from its account (DESIGN decision 101).
    pub(crate) active_at: Instant,
    /// When its idle timer is armed for, if
    /// [`Config::max_idle_lease`](super::Config::max_idle_lease) is on.
    pub(crate) idle_check: Option<Instant>,
    /// Calls it may still announce ([`Config::call_burst`](super::Config::call_burst)).
    pub(crate) calls: TokenBucket,
}

/// A third party's connection on a lease port, from its arrival to the end of its
/// relay.
#[derive(Debug)]
pub(crate) struct Session {
    /// The third party's connection.
    pub(crate) client: ConnId,
    /// The third party's address (the notice's `<client/>`).
    pub(crate) peer: SocketAddr,
    /// The proxy port while it is asked for or listening; `None` once the owner's
    /// connection arrived on it (it accepts one, decision 1).
    pub(crate) proxy: Option<u16>,
    /// The owner's connection on the proxy port, once it arrived.
    pub(crate) owner_conn: Option<ConnId>,
    /// Where it stands.
    pub(crate) phase: Phase,
}

/// The stages of a [`Session`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    /// `Listen{proxy}` is out; waiting for the host's result.
    Opening {
        /// Proxy ports tried so far.
        tries: u8,
    },
    /// The §3 notice is out; waiting for the owner's answer until `deadline`.
    Asking {
        /// The notice's id number.
        id: u64,
        /// When the notice went out (for the latency histogram).
        asked_at: Instant,
        /// When the answer timer fires.
        deadline: Instant,
    },
    /// Accepted; waiting for the owner's connection on the proxy until `deadline`.
    Waiting {
        /// When the proxy window closes.
        deadline: Instant,
    },
    /// Bridged: the host relays.
    Relaying,
}

impl Phase {
    /// The deadline of this stage, if it has one.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        match self {
            Phase::Asking { deadline, .. } | Phase::Waiting { deadline } => Some(*deadline),
            Phase::Opening { .. } | Phase::Relaying => None,
        }
    }
}

/// A register request waiting for its port's listen result.
#[derive(Debug)]
pub(crate) struct Registration {
    /// The request's id, for the answer.
    pub(crate) request_id: String,
    /// The full JID that asked.
    pub(crate) owner: Jid,
    /// Its account.
    pub(crate) account: Jid,
    /// Granted (clamped) expiry.
    pub(crate) expire: Option<Duration>,
    /// `<oneshot/>` asked.
    pub(crate) oneshot: bool,
    /// When the request came (expiry counts from here).
    pub(crate) requested_at: Instant,
    /// Ports tried so far.
    pub(crate) tries: u8,
}

/// What a deadline is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// The lease on this port expires (§4.1).
    Expire(u16),
    /// The lease on this port may have been idle for
    /// [`Config::max_idle_lease`](super::Config::max_idle_lease) (DESIGN decision 101).
    Idle(u16),
    /// The owner of the lease on this port, whose server bounced a notice, did not
    /// show up again within [`Config::reconnect_grace`](super::Config::reconnect_grace)
    /// (DESIGN decision 94).
    Grace(u16),
    /// The session on this lease port ran out of time (answer timeout or proxy
    /// window, by its phase).
    Session(u16),
}

/// Why a lease ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// Its expiry passed: §4.1 notice.
    Expired,
    /// Its one relay ended: §4.2 notice.
    Oneshot,
    /// The owner closed it (§4.3): acknowledged, no notice.
    Closed,
    /// The service shuts down: a close notice.
    Shutdown,
    /// Idle for [`Config::max_idle_lease`](super::Config::max_idle_lease): a §4.1
    /// expire notice, as for an expiry (DESIGN decision 101).
    Idle,
    /// Its owner's server bounced a notice with an error meaning the owner is gone,
    /// and the owner did not come back within the reconnect grace (DESIGN decisions
    /// 100 and 94): no notice, it would bounce too.
    OwnerGone,
}
