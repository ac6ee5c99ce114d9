//! Who may connect through the lease: data the embedder gives (DESIGN decision 60).

use crate::jid::Jid;
use alloc::vec::Vec;
use core::net::IpAddr;
pub use ipnet::IpNet;

/// The callers a [`Client`](super::Client) accepts.
///
/// With no rule at all everybody is accepted. Otherwise a caller is accepted when
/// its IP is in one of [`allow`](Policy::allow), or equals the IP that one of
/// [`allow_jids`](Policy::allow_jids) answered to a §5.1 query; anybody else is
/// denied (listing 14). IPv4-mapped IPv6 callers count as their IPv4 address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// Networks whose callers are accepted.
    pub allow: Vec<IpNet>,
    /// Full JIDs whose current IP is accepted, learned by asking them (§5.1).
    pub allow_jids: Vec<Jid>,
}

/// What the policy says about a caller, given what the client knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Accept,
    Deny,
    /// Only an allowed JID's (fresh) answer can admit this caller.
    AskJids,
}

impl Policy {
    /// Everybody may connect.
    pub fn open() -> Policy {
        Policy::default()
    }

    /// Builder: accept callers from `net`.
    pub fn allow(mut self, net: IpNet) -> Policy {
        self.allow.push(net);
        self
    }

    /// Builder: accept callers at the IP `jid` answers.
    pub fn allow_jid(mut self, jid: Jid) -> Policy {
        self.allow_jids.push(jid);
        self
    }

    /// Whether there is no rule, so that everybody is accepted.
    pub fn is_open(&self) -> bool {
        self.allow.is_empty() && self.allow_jids.is_empty()
    }

    /// The verdict on `caller` from the rules that need no answer.
    pub(crate) fn judge(&self, caller: IpAddr) -> Verdict {
        let caller = caller.to_canonical();
        if self.is_open() || self.allow.iter().any(|n| n.contains(&caller)) {
            Verdict::Accept
        } else if self.allow_jids.is_empty() {
            Verdict::Deny
        } else {
            Verdict::AskJids
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn no_rule_accepts_everybody_and_any_rule_closes_the_door() {
        assert_eq!(Policy::open().judge(ip("203.0.113.9")), Verdict::Accept);
        let lan = Policy::open().allow("192.168.0.0/16".parse().unwrap());
        assert_eq!(lan.judge(ip("192.168.4.2")), Verdict::Accept);
        assert_eq!(lan.judge(ip("::ffff:192.168.4.2")), Verdict::Accept);
        assert_eq!(lan.judge(ip("203.0.113.9")), Verdict::Deny);
        let bob = lan.allow_jid(Jid::new("bob@example/phone").unwrap());
        assert_eq!(bob.judge(ip("203.0.113.9")), Verdict::AskJids);
        assert_eq!(bob.judge(ip("192.168.4.2")), Verdict::Accept);
    }
}
