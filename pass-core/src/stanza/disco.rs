//! XEP-0030 disco#info. (stub: the stanza work item fills this in)

/// The disco#info namespace.
pub const NS_DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
