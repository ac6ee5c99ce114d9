//! A small validated JID (`node@domain/resource`).
//!
//! The `jid` crate does not build for bare-metal targets (stringprep needs `std`), so
//! the core checks the RFC 7622 structure and lengths itself without normalising
//! (the XMPP server already stamps normalised JIDs on everything a component sees).
//! Under the `std` feature, [`Jid`] converts to and from [`jid::Jid`] (`TryFrom` both ways).

use alloc::string::String;
use core::fmt;
use core::str::FromStr;

/// Longest node, domain or resource part, in bytes (RFC 7622 §3.2–3.4).
pub const MAX_PART_BYTES: usize = 1023;

/// Characters RFC 7622 (via the UsernameCaseMapped profile) forbids in a node.
const NODE_FORBIDDEN: &[char] = &['"', '&', '\'', '/', ':', '<', '>', '@'];

/// A full or bare JID.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Jid {
    node: Option<String>,
    domain: String,
    resource: Option<String>,
}

/// Why a string is not a JID.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JidError {
    /// The domain part is empty.
    EmptyDomain,
    /// `@` with nothing before it.
    EmptyNode,
    /// `/` with nothing after it.
    EmptyResource,
    /// The domain has an empty label (`a..b`, `.a`, or more than one trailing dot).
    EmptyLabel,
    /// A part is longer than [`MAX_PART_BYTES`].
    PartTooLong,
    /// The node or domain holds a character that is not allowed there.
    ForbiddenChar(char),
}

impl fmt::Display for JidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JidError::EmptyDomain => f.write_str("JID has an empty domain"),
            JidError::EmptyNode => f.write_str("JID has an empty node before '@'"),
            JidError::EmptyResource => f.write_str("JID has an empty resource after '/'"),
            JidError::EmptyLabel => f.write_str("JID domain has an empty label"),
            JidError::PartTooLong => write!(f, "JID part longer than {MAX_PART_BYTES} bytes"),
            JidError::ForbiddenChar(c) => write!(f, "JID holds forbidden character {c:?}"),
        }
    }
}

impl core::error::Error for JidError {}

impl Jid {
    /// Parses and checks `s`.
    pub fn new(s: &str) -> Result<Jid, JidError> {
        // The resource may contain '@' and '/', so split it off first (RFC 7622 §3.1).
        let (bare, resource) = match s.find('/') {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        let (node, domain) = match bare.find('@') {
            Some(i) => (Some(&bare[..i]), &bare[i + 1..]),
            None => (None, bare),
        };
        if let Some(n) = node {
            if n.is_empty() {
                return Err(JidError::EmptyNode);
            }
            check_len(n)?;
            if let Some(c) = n
                .chars()
                .find(|c| NODE_FORBIDDEN.contains(c) || c.is_whitespace() || c.is_control())
            {
                return Err(JidError::ForbiddenChar(c));
            }
        }
        // One trailing dot is the DNS root (RFC 7622 §3.2: removed); any other empty
        // label would make the written JID read back as a different one.
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        if domain.is_empty() {
            return Err(JidError::EmptyDomain);
        }
        if domain.split('.').any(str::is_empty) {
            return Err(JidError::EmptyLabel);
        }
        check_len(domain)?;
        if let Some(c) = domain.chars().find(|c| {
            matches!(c, '@' | '/' | '<' | '>' | '"' | '\'' | '&')
                || c.is_whitespace()
                || c.is_control()
        }) {
            return Err(JidError::ForbiddenChar(c));
        }
        if let Some(r) = resource {
            if r.is_empty() {
                return Err(JidError::EmptyResource);
            }
            check_len(r)?;
            if let Some(c) = r.chars().find(|c| c.is_control()) {
                return Err(JidError::ForbiddenChar(c));
            }
        }
        Ok(Jid {
            node: node.map(String::from),
            domain: String::from(domain),
            resource: resource.map(String::from),
        })
    }

    /// The node (local) part, if any.
    pub fn node(&self) -> Option<&str> {
        self.node.as_deref()
    }

    /// The domain part.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The resource part, if any.
    pub fn resource(&self) -> Option<&str> {
        self.resource.as_deref()
    }

    /// This JID without its resource: the account a lease belongs to.
    pub fn to_bare(&self) -> Jid {
        Jid {
            node: self.node.clone(),
            domain: self.domain.clone(),
            resource: None,
        }
    }

    /// Whether the JID has no resource.
    pub fn is_bare(&self) -> bool {
        self.resource.is_none()
    }

    /// Whether both name the same account (node and domain, ignoring resources).
    pub fn same_account(&self, other: &Jid) -> bool {
        self.node == other.node && self.domain == other.domain
    }
}

fn check_len(part: &str) -> Result<(), JidError> {
    if part.len() > MAX_PART_BYTES {
        Err(JidError::PartTooLong)
    } else {
        Ok(())
    }
}

impl FromStr for Jid {
    type Err = JidError;
    fn from_str(s: &str) -> Result<Jid, JidError> {
        Jid::new(s)
    }
}

impl fmt::Display for Jid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(n) = &self.node {
            write!(f, "{n}@")?;
        }
        f.write_str(&self.domain)?;
        if let Some(r) = &self.resource {
            write!(f, "/{r}")?;
        }
        Ok(())
    }
}

#[cfg(feature = "std")]
impl TryFrom<Jid> for jid::Jid {
    type Error = jid::Error;
    /// Fails where the `jid` crate's stringprep is stricter than this type's checks.
    fn try_from(j: Jid) -> Result<jid::Jid, jid::Error> {
        use alloc::string::ToString;
        jid::Jid::new(&j.to_string())
    }
}

#[cfg(feature = "std")]
impl TryFrom<jid::Jid> for Jid {
    type Error = JidError;
    fn try_from(j: jid::Jid) -> Result<Jid, JidError> {
        use alloc::string::ToString;
        Jid::new(&j.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn parses_full_jid() {
        let j = Jid::new("user@jabber.org/resource").unwrap();
        assert_eq!(j.node(), Some("user"));
        assert_eq!(j.domain(), "jabber.org");
        assert_eq!(j.resource(), Some("resource"));
        assert_eq!(j.to_string(), "user@jabber.org/resource");
        assert_eq!(j.to_bare().to_string(), "user@jabber.org");
    }

    #[test]
    fn one_trailing_dot_is_removed_and_the_result_reads_back_the_same() {
        let j = Jid::new("u@x./r").unwrap();
        assert_eq!(j.domain(), "x");
        assert_eq!(Jid::new(&j.to_string()).unwrap(), j);
    }

    #[test]
    fn resource_may_hold_at_and_slash() {
        let j = Jid::new("pass.jabber.org/a@b/c").unwrap();
        assert_eq!(j.node(), None);
        assert_eq!(j.resource(), Some("a@b/c"));
    }

    #[test]
    fn refuses_malformed() {
        assert_eq!(Jid::new(""), Err(JidError::EmptyDomain));
        assert_eq!(Jid::new("@x"), Err(JidError::EmptyNode));
        assert_eq!(Jid::new("a@x/"), Err(JidError::EmptyResource));
        assert_eq!(Jid::new("a b@x"), Err(JidError::ForbiddenChar(' ')));
        assert_eq!(Jid::new("u@x.."), Err(JidError::EmptyLabel));
        assert_eq!(Jid::new("u@.x"), Err(JidError::EmptyLabel));
        assert_eq!(Jid::new("u@a..b"), Err(JidError::EmptyLabel));
        assert_eq!(Jid::new("."), Err(JidError::EmptyDomain));
        assert_eq!(Jid::new("a@x y"), Err(JidError::ForbiddenChar(' ')));
        let long = "a".repeat(1024);
        assert_eq!(Jid::new(&long), Err(JidError::PartTooLong));
    }

    #[test]
    fn same_account_ignores_resource() {
        let a = Jid::new("u@h/one").unwrap();
        let b = Jid::new("u@h/two").unwrap();
        assert!(a.same_account(&b));
        assert!(!a.same_account(&Jid::new("v@h/one").unwrap()));
    }

    #[cfg(feature = "std")]
    #[test]
    fn converts_to_jid_crate() {
        let j = Jid::new("u@h/r").unwrap();
        let k = jid::Jid::try_from(j.clone()).unwrap();
        assert_eq!(Jid::try_from(k).unwrap(), j);
    }
}
