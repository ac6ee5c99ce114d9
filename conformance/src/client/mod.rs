//! The client target: the runner plays the XMPP server a PASS client logs into
//! ([`server`], opened by [`opening`], with the certificate of [`mod@tls`]), the PASS
//! service, a peer account and the callers, and checks the client it spawns.

pub mod opening;
pub mod server;
pub mod tls;

pub use server::{C2sServer, Inbound};
