#![cfg_attr(not(feature = "faults"), allow(dead_code))]
//! Deliberate faults, to prove that `pass-conformance client` catches them (DESIGN
//! decision 114). Only a build with the non-default `faults` feature reads
//! `PASS_CLIENT_FAULT`; in any other build [`current`] is `None` and nothing here
//! runs. Each fault breaks one thing the client cases check; the cases that catch
//! each are declared in `conformance/src/client/faults.rs`.

use pass_core::stanza::{Condition, StanzaError};
use pass_core::{ns, Element, Iq, IqType};
use std::collections::HashMap;
use std::net::SocketAddr;

/// One way to break the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Never acknowledges an expire or oneshot notice.
    NoAck,
    /// Acknowledges a notice with another id.
    WrongAckId,
    /// Accepts a caller but never connects to the proxy port.
    AcceptWithoutConnecting,
    /// Denies a caller, then connects to its proxy port anyway.
    ConnectAfterDeny,
    /// Denies with `<forbidden/>` (403's condition) instead of 401's `<not-authorized/>`.
    DenyWrongCode,
    /// Denies without echoing the request's query.
    DenyWithoutQuery,
    /// Flips a byte of what the caller sends before it reaches the local service.
    CorruptForward,
    /// Exits on SIGTERM without closing its lease.
    NoCloseOnExit,
    /// Ignores `--allow-jid`: never asks, admits everyone.
    NoPeerCheck,
}

/// Every fault with its `PASS_CLIENT_FAULT` name.
pub const ALL: &[(&str, Fault)] = &[
    ("no-ack", Fault::NoAck),
    ("wrong-ack-id", Fault::WrongAckId),
    ("accept-without-connecting", Fault::AcceptWithoutConnecting),
    ("connect-after-deny", Fault::ConnectAfterDeny),
    ("deny-wrong-code", Fault::DenyWrongCode),
    ("deny-without-query", Fault::DenyWithoutQuery),
    ("corrupt-forward", Fault::CorruptForward),
    ("no-close-on-exit", Fault::NoCloseOnExit),
    ("no-peer-check", Fault::NoPeerCheck),
];

/// The fault this process runs with: `PASS_CLIENT_FAULT` in a `faults` build (an
/// unknown name is an error), never in another build.
pub fn current() -> Result<Option<Fault>, String> {
    #[cfg(feature = "faults")]
    {
        match std::env::var("PASS_CLIENT_FAULT") {
            Err(_) => Ok(None),
            Ok(name) => ALL
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, f)| Some(*f))
                .ok_or_else(|| {
                    let names: Vec<&str> = ALL.iter().map(|(n, _)| *n).collect();
                    format!(
                        "PASS_CLIENT_FAULT={name}: unknown; known: {}",
                        names.join(", ")
                    )
                }),
        }
    }
    #[cfg(not(feature = "faults"))]
    {
        Ok(None)
    }
}

/// What the fault needs to remember of the stanzas the client received.
#[derive(Debug, Default)]
pub struct Faulty {
    fault: Option<Fault>,
    /// Ids of notices (sets with `<close/>`) received.
    notices: Vec<String>,
    /// Ids of incoming-connection requests and their proxy address.
    requests: HashMap<String, SocketAddr>,
}

impl Faulty {
    /// Tracks stanzas for `fault`.
    pub fn new(fault: Option<Fault>) -> Faulty {
        Faulty {
            fault,
            ..Faulty::default()
        }
    }

    /// Whether `f` is the fault.
    pub fn is(&self, f: Fault) -> bool {
        self.fault == Some(f)
    }

    /// Notes a received stanza.
    pub fn received(&mut self, el: &Element) {
        if self.fault.is_none() || el.attr("type") != Some("set") {
            return;
        }
        let (Some(id), Some(q)) = (el.attr("id"), el.get_child("query", ns::PASS)) else {
            return;
        };
        if q.get_child("close", ns::PASS).is_some() {
            self.notices.push(id.to_string());
        }
        if q.get_child("client", ns::PASS).is_some() {
            if let Some(proxy) = q.get_child("proxy", ns::PASS) {
                let addr = format!(
                    "{}:{}",
                    proxy.text().trim(),
                    proxy.attr("port").unwrap_or("")
                );
                if let Ok(a) = addr.parse() {
                    self.requests.insert(id.to_string(), a);
                }
            }
        }
    }

    /// The IQ as the fault sends it (`None`: not at all); and a proxy address to
    /// connect to regardless.
    pub fn outgoing(&mut self, mut iq: Iq) -> (Option<Iq>, Option<SocketAddr>) {
        let Some(fault) = self.fault else {
            return (Some(iq), None);
        };
        let is_ack = iq.kind == IqType::Result && self.notices.contains(&iq.id);
        let deny = iq.kind == IqType::Error && self.requests.contains_key(&iq.id);
        match fault {
            Fault::NoAck if is_ack => return (None, None),
            Fault::WrongAckId if is_ack => iq.id.push_str("-wrong"),
            Fault::ConnectAfterDeny if deny => {
                let proxy = self.requests.get(&iq.id).copied();
                return (Some(iq), proxy);
            }
            Fault::DenyWrongCode if deny => iq.error = Some(StanzaError::new(Condition::Forbidden)),
            Fault::DenyWithoutQuery if deny => iq.payload = None,
            _ => {}
        }
        (Some(iq), None)
    }
}

/// Flips the first byte of `buf` (CorruptForward).
pub fn corrupt(buf: &mut [u8]) {
    if let Some(b) = buf.first_mut() {
        *b ^= 0x20;
    }
}
