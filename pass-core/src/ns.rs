//! Every XML namespace the project uses, in one place (the `xmpp-parsers` `ns` idiom).
//!
//! Other crates and tests name namespaces through this module rather than spelling
//! the URIs again, so a typo cannot silently create a namespace nobody answers
//! (docs/DESIGN.md decision 19). XML written out as test data may still spell them.

/// XEP-0003, Proxy Accept Socket Service.
pub const PASS: &str = "jabber:iq:pass";

/// The content namespace of an XEP-0114 component stream.
pub const COMPONENT: &str = "jabber:component:accept";
/// The content namespace of a client stream (RFC 6120 §4.8.3). Listings carry no
/// namespace; readers of IQs accept this, [`COMPONENT`], [`SERVER`] or none.
pub const CLIENT: &str = "jabber:client";
/// The content namespace of a server-to-server stream (RFC 6120 §4.8.3).
pub const SERVER: &str = "jabber:server";

/// The stream namespace (`stream:` prefix) of RFC 6120 §4.8.1.
pub const STREAM: &str = "http://etherx.jabber.org/streams";
/// Stream error conditions (RFC 6120 §4.9.3).
pub const XMPP_STREAMS: &str = "urn:ietf:params:xml:ns:xmpp-streams";
/// Stanza error conditions (RFC 6120 §8.3.3).
pub const XMPP_STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";

/// XEP-0030 service discovery, information.
pub const DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
/// XEP-0199 XMPP ping.
pub const PING: &str = "urn:xmpp:ping";

/// The namespace bound to the `xml` prefix (XML Namespaces §3).
pub const XML: &str = "http://www.w3.org/XML/1998/namespace";
/// The namespace bound to the `xmlns` prefix; nothing may be declared with it.
pub const XMLNS: &str = "http://www.w3.org/2000/xmlns/";
