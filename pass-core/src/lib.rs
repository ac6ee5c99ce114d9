//! Sans-IO protocol core for XEP-0003, Proxy Accept Socket Service (`jabber:iq:pass`).
//!
//! Layers, bottom up:
//! - [`xml`]: a strict reader and writer for the XML that XMPP allows, and an
//!   incremental framer for an XEP-0114 component stream.
//! - [`jid`]: a small validated JID type (the `jid` crate needs `std`).
//! - [`stanza`]: typed stanzas, at the schema level ([`stanza::query`]) and the
//!   protocol level ([`stanza::pass`]), plus stanza errors with their legacy codes.
//! - [`lease`]: the lease state machine (ports, leases, incoming connections), fed
//!   events with the current time and returning actions; no sockets, clock or threads.
//! - [`service`]: the component as a whole: routes stanzas to the lease machine and
//!   answers the neighbouring protocols (disco#info, ping, unknown namespaces).
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod engine;
pub mod jid;
pub mod lease;
pub mod service;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
pub mod stanza;
pub mod time;
mod token_bucket;
pub mod xml;

/// The XEP-0003 namespace.
pub const NS_PASS: &str = "jabber:iq:pass";
