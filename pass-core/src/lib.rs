//! Sans-IO protocol core for XEP-0003, Proxy Accept Socket Service (`jabber:iq:pass`).
//!
//! Layers, bottom up:
//! - [`xml`]: a strict reader and writer for the XML that XMPP allows, and an
//!   incremental framer for an XEP-0114 component stream.
//! - [`component`]: XEP-0114, both sides of a component stream's opening and
//!   typed stream errors; [`ns`]: every namespace.
//! - [`jid`]: a small validated JID type (the `jid` crate needs `std`).
//! - [`stanza`]: typed stanzas, at the schema level ([`stanza::query`]) and the
//!   protocol level ([`stanza::pass`]), plus stanza errors with their legacy codes.
//! - [`lease`]: the lease state machine (ports, leases, incoming connections), fed
//!   events with the current time and returning actions; no sockets, clock or threads.
//! - [`service`]: the component as a whole: routes stanzas to the lease machine and
//!   answers the neighbouring protocols (disco#info, ping, unknown namespaces).
//! - [`client`]: the other side: a user's client that leases a port, accepts or
//!   denies its callers by policy and bridges them to a local service.
//!
//! # Embedding the service
//!
//! The types an embedder needs are re-exported here. A host feeds the [`Service`]
//! events with the current time and carries out the [`Action`]s it drains (the
//! contract: [`engine`]); here a registration, then a caller on the leased port:
//!
//! ```
//! use pass_core::{Action, Config, ConnId, Element, Instant, Jid, PassMessage, Service};
//!
//! let service_jid = Jid::new("pass.example").unwrap();
//! let config = Config::new(service_jid.clone(), vec!["192.0.2.1".parse().unwrap()]);
//! let mut service = Service::new(config).unwrap();
//! let owner = Jid::new("alice@example/laptop").unwrap();
//! let t0 = Instant::from_millis(0);
//!
//! // Alice asks for a port (listing 1, without <expire/>).
//! let register = PassMessage::Register { expire: None, oneshot: false };
//! let iq = register.to_iq("r1", Some(owner.clone()), Some(service_jid));
//! service.handle_stanza(t0, &Element::from(&iq));
//!
//! // The host listens where asked, reports it, and sends the result on.
//! let Some(Action::Listen { port }) = service.poll_action() else { panic!() };
//! service.handle_listen_result(t0, port, Ok(()));
//! let Some(Action::Send(result)) = service.poll_action() else { panic!() };
//! assert_eq!(result.to, Some(owner.clone()));
//!
//! // A caller connects to that port: the service opens a proxy port (decision 1),
//! // then asks Alice (listing 3).
//! let caller = "203.0.113.9:50000".parse().unwrap();
//! let t1 = Instant::from_millis(5);
//! service.handle_connection(t1, ConnId(1), port, caller);
//! let Some(Action::Listen { port: proxy }) = service.poll_action() else { panic!() };
//! service.handle_listen_result(t1, proxy, Ok(()));
//! let Some(Action::Send(notice)) = service.poll_action() else { panic!() };
//! let Ok(PassMessage::IncomingConnection { client, .. }) = PassMessage::from_iq(&notice)
//! else { panic!() };
//! assert_eq!(client, caller);
//! // Alice has `answer_timeout` to accept; that is the next deadline.
//! assert!(service.poll_timeout().is_some());
//! ```
//!
//! # Embedding the client
//!
//! The [`Client`] is the same shape: fed stanzas from the user's XMPP stream,
//! connection outcomes and the time; drained of [`ClientAction`]s (I/O) and
//! [`ClientEvent`]s (outcomes). Here a lease, then a caller bridged to the local
//! service:
//!
//! ```
//! use pass_core::client::{Endpoint, Policy};
//! use pass_core::{Client, ClientAction, ClientConfig, ClientEvent, Element, Instant, Jid};
//! use pass_core::PassMessage;
//!
//! let me = Jid::new("alice@example/laptop").unwrap();
//! let service = Jid::new("pass.example").unwrap();
//! let policy = Policy::open().allow("203.0.113.0/24".parse().unwrap());
//! let config = ClientConfig::new(me.clone(), service.clone()).with_policy(policy);
//! let mut client = Client::new(config);
//! let t0 = Instant::from_millis(0);
//!
//! // Listing 1 goes out; the service's result (listing 2) comes back.
//! client.register(t0, Some(600), false).unwrap();
//! let Some(ClientAction::Send(register)) = client.poll_action() else { panic!() };
//! let public = "192.0.2.1:40000".parse().unwrap();
//! let granted = PassMessage::Registered { servers: vec![public] };
//! let result = granted.to_iq(&register.id, Some(service.clone()), Some(me.clone()));
//! client.handle_stanza(t0, &Element::from(&result));
//! assert_eq!(client.poll_event(), Some(ClientEvent::Registered { servers: vec![public] }));
//!
//! // A caller the policy admits (listing 3): accepted with listing 4...
//! let call = PassMessage::IncomingConnection {
//!     client: "203.0.113.9:50000".parse().unwrap(),
//!     proxy: "192.0.2.1:40001".parse().unwrap(),
//! };
//! let t1 = Instant::from_millis(5);
//! client.handle_stanza(t1, &Element::from(&call.to_iq("c1", Some(service), Some(me))));
//! let Some(ClientAction::Send(accept)) = client.poll_action() else { panic!() };
//! assert_eq!((accept.id.as_str(), PassMessage::from_iq(&accept)), ("c1", Ok(PassMessage::Ack)));
//!
//! // ...then the host connects to the proxy and to the local service, and reports.
//! let Some(ClientAction::Connect { conn: proxy, to: Endpoint::Proxy(_) }) = client.poll_action()
//! else { panic!() };
//! let Some(ClientAction::Connect { conn: local, to: Endpoint::Local }) = client.poll_action()
//! else { panic!() };
//! client.handle_connected(t1, proxy, Ok(()));
//! client.handle_connected(t1, local, Ok(()));
//! assert_eq!(client.poll_action(), Some(ClientAction::Bridge { proxy, local }));
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod client;
pub mod component;
pub mod engine;
pub mod jid;
pub mod lease;
pub mod ns;
pub mod service;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
pub mod stanza;
pub mod time;
mod token_bucket;
pub mod xml;

// What an embedder needs, without knowing the module layout.
pub use client::{Client, ClientAction, ClientConfig, ClientEvent};
pub use component::{ComponentHandshake, ServerHandshake, StreamError};
pub use engine::Engine;
pub use jid::Jid;
pub use lease::{Action, Config, ConfigError, ConnId, ListenError, Stats};
pub use service::Service;
pub use stanza::{Condition, Iq, IqType, PassMessage, StanzaError};
pub use time::{Duration, Instant};
pub use xml::{parse_element, Element, Limits, StreamEvent, StreamFramer, XmlError};
