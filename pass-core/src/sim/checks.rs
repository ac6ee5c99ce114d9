//! The host contract as assertions: what every action must satisfy when a host
//! carries it out, checked by [`Sim`](super::Sim) when [`Checks`] are on.

use crate::jid::Jid;
use crate::lease::Config;
use crate::stanza::Iq;
use crate::xml::{parse_element, Element, Limits};
use alloc::format;
use alloc::string::{String, ToString};
use core::fmt;

/// What the checks need to know of the engine's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checks {
    /// The port pool, first and last inclusive: every `Listen` names a port in it,
    /// and free + quarantined + held by the host = its size.
    pub pool: (u16, u16),
    /// The engine's JID: the `from` of everything it sends.
    pub service: Jid,
}

impl Checks {
    /// The checks for an engine built from `config`.
    pub fn for_config(config: &Config) -> Checks {
        Checks {
            pool: (config.first_port, config.last_port),
            service: config.service.clone(),
        }
    }

    /// Whether `port` is in the pool.
    pub fn in_pool(&self, port: u16) -> bool {
        (self.pool.0..=self.pool.1).contains(&port)
    }

    /// The pool's size.
    pub fn pool_size(&self) -> usize {
        usize::from(self.pool.1.saturating_sub(self.pool.0)) + 1
    }

    /// An IQ the engine sent: it has the service's `from`, a `to`, and reads back
    /// unchanged after being written (writer → reader).
    pub(crate) fn sent(&self, iq: &Iq) -> Result<(), Violation> {
        if iq.from.as_ref() != Some(&self.service) {
            return Err(Violation::new(format!(
                "an IQ sent without the service's from: {iq:?}"
            )));
        }
        if iq.to.is_none() {
            return Err(Violation::new(format!("an IQ sent without a to: {iq:?}")));
        }
        let written = Element::from(iq).to_xml();
        let reread = parse_element(written.as_bytes(), &reread_limits())
            .map_err(|e| e.to_string())
            .and_then(|e| Iq::try_from(&e).map_err(|e| e.to_string()));
        if reread.as_ref() != Ok(iq) {
            return Err(Violation::new(format!(
                "a sent IQ does not read back: {reread:?}\n  written: {written}"
            )));
        }
        Ok(())
    }
}

/// Limits for re-reading what the writer produced: it may declare namespaces the
/// input had inherited, so attribute counts and sizes can grow; depth cannot.
fn reread_limits() -> Limits {
    Limits {
        max_stanza_bytes: usize::MAX,
        max_attributes: usize::MAX,
        max_attribute_bytes: usize::MAX,
        max_text_bytes: usize::MAX,
        ..Limits::default()
    }
}

/// A broken invariant: of the host contract (found by [`Checks`]) or of the lease
/// model ([`model`](super::model)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    message: String,
}

impl Violation {
    /// A violation described by `message`.
    pub fn new(message: impl Into<String>) -> Violation {
        Violation {
            message: message.into(),
        }
    }

    /// What was broken.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same violation, said to have happened in `context` (an event, a step).
    pub fn context(self, context: impl fmt::Display) -> Violation {
        Violation {
            message: format!("{context}: {}", self.message),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl core::error::Error for Violation {}
