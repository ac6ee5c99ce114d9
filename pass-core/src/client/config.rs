//! The client's settings.

use super::Policy;
use crate::jid::Jid;
use crate::time::Duration;
use core::net::IpAddr;

/// Settings of a [`Client`](super::Client).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The user's full JID: the `from` of everything the client sends.
    pub jid: Jid,
    /// The PASS service's JID: registrations and closes go there, and only it may
    /// announce callers and send notices.
    pub service: Jid,
    /// Who may connect (DESIGN decision 60).
    pub policy: Policy,
    /// The IP given to peers that ask (§5.1, listing 12); `None` answers their
    /// query service-unavailable.
    pub answer_ip: Option<IpAddr>,
    /// How long a request the client sent may go unanswered before it is reported
    /// as [`Failure::TimedOut`](super::Failure::TimedOut).
    pub request_timeout: Duration,
    /// How long a caller waits for the allowed JIDs' §5.1 answers before it is
    /// denied (DESIGN decision 61); keep it well under the service's answer timeout.
    pub ip_answer_wait: Duration,
    /// How long an allowed JID's answer vouches for its IP without asking again.
    pub ip_answer_ttl: Duration,
    /// Mixed into the ids of the IQs the client sends, so that a restarted client
    /// does not take the replies meant for its previous run (the host passes entropy
    /// or the start time).
    pub id_seed: u64,
}

impl ClientConfig {
    /// Default [`request_timeout`](ClientConfig::request_timeout).
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default [`ip_answer_wait`](ClientConfig::ip_answer_wait): a third of the
    /// service's default answer timeout (30 s).
    pub const DEFAULT_IP_ANSWER_WAIT: Duration = Duration::from_secs(10);
    /// Default [`ip_answer_ttl`](ClientConfig::ip_answer_ttl).
    pub const DEFAULT_IP_ANSWER_TTL: Duration = Duration::from_secs(60);

    /// Settings with the defaults: everybody may connect, no §5.1 answer.
    pub fn new(jid: Jid, service: Jid) -> ClientConfig {
        ClientConfig {
            jid,
            service,
            policy: Policy::default(),
            answer_ip: None,
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            ip_answer_wait: Self::DEFAULT_IP_ANSWER_WAIT,
            ip_answer_ttl: Self::DEFAULT_IP_ANSWER_TTL,
            id_seed: 0,
        }
    }

    /// Builder: who may connect.
    pub fn with_policy(mut self, policy: Policy) -> ClientConfig {
        self.policy = policy;
        self
    }

    /// Builder: the IP to answer §5.1 queries with.
    pub fn with_answer_ip(mut self, ip: IpAddr) -> ClientConfig {
        self.answer_ip = Some(ip);
        self
    }
}
