//! A lease as data, for a host that keeps leases across a restart (DESIGN decision
//! 52): what a restart needs of each lease, and the changes a host writes down.
//!
//! A lease never changes between its grant and its end (the owner, the port, the
//! deadline and `<oneshot/>` are fixed at the grant), so two changes say it all:
//! [`LeaseChange::Granted`] and [`LeaseChange::Ended`].

use crate::jid::Jid;
use crate::time::Instant;

/// What a restart needs to know of one lease.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaseRecord {
    /// The leased port.
    pub port: u16,
    /// The full JID that registered it: where its notices go (its bare JID is the
    /// owning account, DESIGN decision 6).
    pub owner: Jid,
    /// Ends after its first relay (§4.2).
    pub oneshot: bool,
    /// When it expires (§4.1) on the machine's clock, `None` for never. A host that
    /// stores it converts it to wall-clock time and back (the machine's clock
    /// starts again at each run).
    pub expires_at: Option<Instant>,
}

impl LeaseRecord {
    /// A record of the lease on `port` held by `owner`.
    pub fn new(port: u16, owner: Jid, oneshot: bool, expires_at: Option<Instant>) -> Self {
        LeaseRecord {
            port,
            owner,
            oneshot,
            expires_at,
        }
    }
}

/// A change of the lease table, for a host to write down as it happens
/// ([`LeaseMachine::poll_lease_change`](super::LeaseMachine::poll_lease_change)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaseChange {
    /// A lease was granted (its register result is queued as an action).
    Granted(LeaseRecord),
    /// The lease on this port ended: expired, used up, closed, idle, abandoned, or
    /// not restored.
    Ended {
        /// The port.
        port: u16,
    },
}
