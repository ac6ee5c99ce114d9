//! Typed stanzas: one module per element family, `TryFrom<&Element>` to parse and
//! `From<&T> for Element` to write, with precise error types.
//!
//! - [`iq`]: the IQ envelope (id, type, from, to, payload, error).
//! - [`error`]: stanza errors, the legacy `code` with the RFC 6120 condition and type.
//! - [`query`]: the schema level: `{jabber:iq:pass}query` and its six child kinds,
//!   exactly as `xsd/pass.xsd` (with the errata) allows.
//! - [`pass`]: the protocol level: register, registered, incoming connection, ...
//! - [`disco`] and [`ping`]: the neighbouring protocols the service answers.

pub mod disco;
pub mod error;
pub mod iq;
pub mod pass;
pub mod ping;
pub mod query;

pub use disco::DiscoInfo;
pub use error::{BadErrorElement, Condition, ErrorType, PassError, StanzaError};
pub use iq::{Iq, IqType, ParseIqError};
pub use pass::{Deviation, ParsePassError, PassMessage};
pub use query::{ParseQueryError, PassEntity, Query, QueryItem};
