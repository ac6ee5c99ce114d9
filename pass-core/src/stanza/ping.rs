//! XEP-0199 ping. (stub: the stanza work item fills this in)

/// The ping namespace.
pub const NS_PING: &str = "urn:xmpp:ping";
