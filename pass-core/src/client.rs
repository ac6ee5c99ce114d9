//! The client side of XEP-0003 as a sans-IO state machine: what a user behind NAT
//! runs to lease a public port and take its callers.
//!
//! The same shape as the [`Service`](crate::Service) (quinn-proto style): a
//! [`Client`] is fed stanzas from the user's XMPP stream, the outcomes of the
//! connections it asked for and the time; the host drains [`ClientAction`]s (I/O to
//! carry out) and [`ClientEvent`]s (outcomes to report to the user). The host opens
//! and bridges sockets and writes stanzas; every protocol decision is here.
//!
//! What it does, by listing of XEP-0003:
//! - [`Client::register`] sends listing 1 and reports the result (listing 2) as
//!   [`ClientEvent::Registered`] or the error (400, 401, 404, 405, 502, anything) as
//!   [`ClientEvent::RegistrationFailed`];
//! - an incoming-connection request (listing 3) from the service is accepted
//!   (listing 4, then [`ClientAction::Connect`] to the proxy and to the local
//!   service, then [`ClientAction::Bridge`]) or denied (listing 14) by the
//!   [`Policy`] (DESIGN decisions 60 and 61);
//! - expire and oneshot notices (listings 5, 7) are acknowledged (6, 8) and reported;
//! - [`Client::close`] sends listing 9 and takes its acknowledgement (10) or error;
//! - [`Client::ask_ip`] sends listing 11; a §5.1 query to this client is answered
//!   with listing 12 when [`ClientConfig::answer_ip`] is set.
//!
//! Every IQ the client sends has a unique id and a reply counts only if it comes
//! back with that id from the JID it was sent to (DESIGN decision 62); every get or
//! set it receives is answered exactly once; a request unanswered for
//! [`ClientConfig::request_timeout`] is reported as [`Failure::TimedOut`].
//!
//! # The host contract for a client
//!
//! - [`ClientAction::Send`]: write the IQ to the XMPP stream as it is.
//! - [`ClientAction::Connect`]: open a TCP connection to the endpoint and report the
//!   outcome once with [`Client::handle_connected`]. [`Endpoint::Local`] is the
//!   service being exposed; its address is the host's business.
//! - [`ClientAction::Bridge`]: relay both ways, byte-exact, with half-close; when the
//!   relay is over (both directions done, a reset or idle) close both and report
//!   either side once with [`Client::handle_closed`].
//! - [`ClientAction::Drop`]: close the connection, or abandon the attempt if it is
//!   still connecting; nothing more is reported for it.
//! - A connected, unbridged connection whose peer hangs up is reported with
//!   [`Client::handle_closed`]. Reports about connections the client does not know
//!   (any more) are ignored.

mod config;
mod machine;
mod output;
mod policy;
#[cfg(test)]
mod tests;

pub use config::ClientConfig;
pub use machine::{Client, CommandError};
pub use output::{ClientAction, ClientEvent, ConnectError, DenyReason, Endpoint, Failure};
pub use policy::{IpNet, Policy};
