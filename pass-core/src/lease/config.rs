//! The machine's settings: the port pool, the advertised addresses, the limits.

use crate::jid::Jid;
use crate::time::Duration;
use crate::xml::Limits;
use alloc::vec::Vec;
use core::fmt;
use core::net::IpAddr;

/// Settings of a [`LeaseMachine`](super::LeaseMachine).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The component's JID: the `from` of everything the service sends.
    pub service: Jid,
    /// Addresses advertised in `<server/>` and `<proxy/>` (DESIGN decision 9): at
    /// most one IPv4 and one IPv6. A `<close/>` whose proxy IP is none of these gets 405.
    pub advertised: Vec<IpAddr>,
    /// First port of the pool (lease ports and proxy ports are both drawn from it).
    pub first_port: u16,
    /// Last port of the pool, inclusive.
    pub last_port: u16,
    /// Most leases at once over all accounts; past it a register gets 502.
    pub max_leases: usize,
    /// Most leases one account (bare JID) may hold; past it a register gets
    /// resource-constraint (500, wait).
    pub max_leases_per_account: usize,
    /// Most relays at once; an incoming connection past it is dropped unannounced.
    pub max_relays: usize,
    /// Longest expiry granted; longer requests are clamped to it.
    pub max_expire: Duration,
    /// How long the owner has to answer an incoming-connection IQ (decision 7).
    pub answer_timeout: Duration,
    /// How long a proxy port waits for the owner after it accepted (decision 1).
    pub proxy_window: Duration,
    /// Seed for drawing ports at random (decision 10); the host passes entropy.
    pub seed: u64,
    /// How long a port whose listen failed is kept out of the pool (something else
    /// probably holds it).
    pub quarantine: Duration,
    /// IQ requests (get/set) one account may send in a burst before the rate limit
    /// answers resource-constraint (hostile-input protection).
    pub iq_burst: u32,
    /// IQ requests per second one account may send once its burst is spent.
    pub iq_per_second: u32,
    /// Incoming connections one lease may announce in a burst; past it (and the
    /// refill below) a caller is dropped unannounced, as on a busy lease, so that a
    /// caller who hangs up and calls again cannot flood the owner with notices.
    pub call_burst: u32,
    /// Incoming connections per second one lease may announce once its burst is
    /// spent.
    pub call_per_second: u32,
    /// How long a lease may go with no caller and no `jabber:iq:pass` request or
    /// answer from its account before it ends with an expire notice (DESIGN
    /// decision 101); zero turns the check off.
    pub max_idle_lease: Duration,
    /// How long a lease outlives a bounced incoming-connection notice (its owner's
    /// server says the owner's full JID is offline): any IQ from that full JID in
    /// the meantime keeps the lease, else it ends when this runs out (DESIGN
    /// decisions 100 and 94); zero ends it at the first bounce.
    pub reconnect_grace: Duration,
    /// Strict per-element limits on each stanza from the stream; a stanza over them
    /// is refused alone (policy-violation to a request's sender), the stream stays
    /// up. The host's framer gets [`Limits::relaxed_for_framing`] of these.
    pub stanza_limits: Limits,
}

impl Config {
    /// Default [`first_port`](Config::first_port).
    pub const DEFAULT_FIRST_PORT: u16 = 40000;
    /// Default [`last_port`](Config::last_port).
    pub const DEFAULT_LAST_PORT: u16 = 40999;
    /// Default [`max_leases`](Config::max_leases).
    pub const DEFAULT_MAX_LEASES: usize = 1000;
    /// Default [`max_leases_per_account`](Config::max_leases_per_account).
    pub const DEFAULT_MAX_LEASES_PER_ACCOUNT: usize = 10;
    /// Default [`max_relays`](Config::max_relays).
    pub const DEFAULT_MAX_RELAYS: usize = 500;
    /// Default [`max_expire`](Config::max_expire): a day.
    pub const DEFAULT_MAX_EXPIRE: Duration = Duration::from_secs(24 * 3600);
    /// Default [`answer_timeout`](Config::answer_timeout).
    pub const DEFAULT_ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default [`proxy_window`](Config::proxy_window).
    pub const DEFAULT_PROXY_WINDOW: Duration = Duration::from_secs(30);
    /// Default [`iq_burst`](Config::iq_burst).
    pub const DEFAULT_IQ_BURST: u32 = 20;
    /// Default [`iq_per_second`](Config::iq_per_second).
    pub const DEFAULT_IQ_PER_SECOND: u32 = 10;
    /// Default [`call_burst`](Config::call_burst). A lease serves one session at a
    /// time, each behind an XMPP round trip: no client of a lease meets 100 calls at
    /// once or 20 a second, while a hang-up-and-call-again loop is held to 20
    /// notices a second.
    pub const DEFAULT_CALL_BURST: u32 = 100;
    /// Default [`call_per_second`](Config::call_per_second).
    pub const DEFAULT_CALL_PER_SECOND: u32 = 20;

    /// Default [`max_idle_lease`](Config::max_idle_lease): a day, as
    /// [`DEFAULT_MAX_EXPIRE`](Config::DEFAULT_MAX_EXPIRE): no working client waits
    /// longer than that for a caller without hearing from the service.
    pub const DEFAULT_MAX_IDLE_LEASE: Duration = Duration::from_secs(24 * 3600);

    /// Default [`reconnect_grace`](Config::reconnect_grace): a minute, longer than
    /// a client's c2s reconnect after a server restart (pass-client backs off from
    /// 0.5 s, DESIGN decision 92), short enough that a port of a crashed client is
    /// soon back in the pool.
    pub const DEFAULT_RECONNECT_GRACE: Duration = Duration::from_secs(60);

    /// Settings with the defaults for everything but the names and addresses.
    pub fn new(service: Jid, advertised: Vec<IpAddr>) -> Config {
        Config {
            service,
            advertised,
            first_port: Self::DEFAULT_FIRST_PORT,
            last_port: Self::DEFAULT_LAST_PORT,
            max_leases: Self::DEFAULT_MAX_LEASES,
            max_leases_per_account: Self::DEFAULT_MAX_LEASES_PER_ACCOUNT,
            max_relays: Self::DEFAULT_MAX_RELAYS,
            max_expire: Self::DEFAULT_MAX_EXPIRE,
            answer_timeout: Self::DEFAULT_ANSWER_TIMEOUT,
            proxy_window: Self::DEFAULT_PROXY_WINDOW,
            seed: 0x5eed,
            quarantine: Duration::from_secs(60),
            iq_burst: Self::DEFAULT_IQ_BURST,
            iq_per_second: Self::DEFAULT_IQ_PER_SECOND,
            call_burst: Self::DEFAULT_CALL_BURST,
            call_per_second: Self::DEFAULT_CALL_PER_SECOND,
            max_idle_lease: Self::DEFAULT_MAX_IDLE_LEASE,
            reconnect_grace: Self::DEFAULT_RECONNECT_GRACE,
            stanza_limits: Limits::default(),
        }
    }

    /// Checks the settings hang together; the error names the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.advertised.is_empty() {
            return Err(ConfigError::new(
                "advertised",
                "at least one public address is needed",
            ));
        }
        if self.advertised.iter().filter(|a| a.is_ipv4()).count() > 1
            || self.advertised.iter().filter(|a| a.is_ipv6()).count() > 1
        {
            return Err(ConfigError::new(
                "advertised",
                "at most one IPv4 and one IPv6 address",
            ));
        }
        if self.first_port == 0 || self.first_port > self.last_port {
            return Err(ConfigError::new("ports", "need 1 <= first <= last"));
        }
        if self.max_leases == 0 {
            return Err(ConfigError::new("max_leases", "must be at least 1"));
        }
        if self.max_leases_per_account == 0 {
            return Err(ConfigError::new(
                "max_leases_per_account",
                "must be at least 1",
            ));
        }
        if self.max_relays == 0 {
            return Err(ConfigError::new("max_relays", "must be at least 1"));
        }
        if self.max_expire < Duration::from_secs(1) {
            return Err(ConfigError::new("max_expire", "must be at least 1 s"));
        }
        if self.answer_timeout.is_zero() {
            return Err(ConfigError::new("answer_timeout", "must be more than 0"));
        }
        if self.proxy_window.is_zero() {
            return Err(ConfigError::new("proxy_window", "must be more than 0"));
        }
        if self.iq_burst == 0 {
            return Err(ConfigError::new("iq_burst", "must be at least 1"));
        }
        if self.iq_per_second == 0 {
            return Err(ConfigError::new("iq_per_second", "must be at least 1"));
        }
        if self.call_burst == 0 {
            return Err(ConfigError::new("call_burst", "must be at least 1"));
        }
        if self.call_per_second == 0 {
            return Err(ConfigError::new("call_per_second", "must be at least 1"));
        }
        Ok(())
    }
}

/// A setting that does not hang together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The field at fault.
    pub field: &'static str,
    /// Why.
    pub reason: &'static str,
}

impl ConfigError {
    fn new(field: &'static str, reason: &'static str) -> Self {
        ConfigError { field, reason }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl core::error::Error for ConfigError {}
