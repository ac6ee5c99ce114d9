//! The component as a whole: the router in front of the [`LeaseMachine`].
//!
//! [`Service::handle_stanza`] takes any element the host read from the XMPP stream:
//! - A stanza over [`Config::stanza_limits`] (nesting, attributes, text) is refused
//!   alone: a `get`/`set` with an `id` and a valid `from` is answered
//!   policy-violation (modify) naming the limit, anything else is ignored; the lease
//!   machine never sees it.
//! - Only `<iq/>` matters; messages, presence and anything else are ignored.
//! - An `<iq/>` that does not parse is answered bad-request (the text says why) when
//!   it has an `id` and a `from` and is not itself a result or error; otherwise it is
//!   ignored (there is nobody to answer).
//! - `get`/`set` requests count against a per-account (bare JID) token bucket
//!   ([`Config::iq_burst`], [`Config::iq_per_second`]); past it they are answered
//!   resource-constraint (500, wait).
//! - A `{jabber:iq:pass}query` payload goes to the lease machine; one that is not a
//!   valid protocol message gets bad-request with the precise reason (DESIGN
//!   decision 8: never silence). disco#info `get` is answered with the service's
//!   identity and features, a ping `get` with an empty result, any other payload
//!   with service-unavailable (503, cancel).
//! - `result`/`error` IQs go to the machine, which matches them to its own requests
//!   by id and by the JID it sent to; unmatched ones are ignored.
//! - Every IQ that parses, whatever its type, payload or rate, is first shown to
//!   the machine as a sign that its sender is online
//!   ([`LeaseMachine::handle_iq_seen`], DESIGN decision 94).

mod rate_limit;

use crate::engine::Engine;
use crate::jid::Jid;
use crate::lease::{
    Action, Config, ConfigError, ConnId, LeaseChange, LeaseMachine, LeaseRecord, ListenError, Stats,
};
use crate::ns;
use crate::stanza::{disco, ping, Condition, Iq, IqType, PassMessage, StanzaError};
use crate::time::Instant;
use crate::xml::{Element, Limit};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::net::SocketAddr;
use rate_limit::RateLimit;

/// A PASS service: stanza router, rate limit and [`LeaseMachine`], driven through
/// [`Engine`].
///
/// A registration, from the request to the result:
///
/// ```
/// use pass_core::jid::Jid;
/// use pass_core::lease::{Action, Config};
/// use pass_core::service::Service;
/// use pass_core::stanza::{IqType, PassMessage};
/// use pass_core::time::Instant;
/// use pass_core::xml::Element;
///
/// let config = Config::new(Jid::new("pass.example").unwrap(), vec!["192.0.2.1".parse().unwrap()]);
/// let mut service = Service::new(config).unwrap();
/// let now = Instant::from_millis(0);
///
/// // <iq type='set' id='r1' from='user@example/home'><query xmlns='jabber:iq:pass'>
/// //   <expire>600</expire></query></iq>
/// let request = Element::new("iq", "jabber:component:accept")
///     .with_attr("type", "set")
///     .with_attr("id", "r1")
///     .with_attr("from", "user@example/home")
///     .with_attr("to", "pass.example")
///     .with_child(
///         Element::new("query", "jabber:iq:pass")
///             .with_child(Element::new("expire", "jabber:iq:pass").with_text("600")),
///     );
/// service.handle_stanza(now, &request);
///
/// // The service asks the host to listen on a port drawn from the pool...
/// let Some(Action::Listen { port }) = service.poll_action() else { panic!("no Listen") };
/// // ...and answers once the host listens.
/// service.handle_listen_result(now, port, Ok(()));
/// let Some(Action::Send(result)) = service.poll_action() else { panic!("no result") };
/// assert_eq!(result.kind, IqType::Result);
/// assert_eq!(result.id, "r1");
/// assert_eq!(result.to.unwrap().to_string(), "user@example/home");
/// let servers = vec![std::net::SocketAddr::new("192.0.2.1".parse().unwrap(), port)];
/// assert_eq!(result.payload, Some(PassMessage::Registered { servers }.to_query()));
/// // The lease expires in 600 s: that is the next deadline.
/// assert_eq!(service.poll_timeout(), Some(Instant::from_millis(600_000)));
/// ```
#[derive(Debug)]
pub struct Service {
    machine: LeaseMachine,
    rate: RateLimit,
    /// The latest instant seen (time never goes back).
    now: Instant,
}

impl Service {
    /// A service with no leases, after checking `config`.
    pub fn new(config: Config) -> Result<Service, ConfigError> {
        config.validate()?;
        Ok(Service {
            rate: RateLimit::new(config.iq_burst, config.iq_per_second),
            machine: LeaseMachine::new(config),
            now: Instant::default(),
        })
    }

    /// Counters and gauges (errors include those the router sent).
    pub fn stats(&self) -> Stats {
        self.machine.stats()
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        self.machine.config()
    }

    /// The lease machine, for inspection.
    pub fn machine(&self) -> &LeaseMachine {
        &self.machine
    }

    fn advance(&mut self, now: Instant) -> Instant {
        if now > self.now {
            self.now = now;
        }
        self.now
    }

    /// An `<iq/>` that failed to parse: answered if it says who to answer.
    fn answer_malformed(&mut self, now: Instant, stanza: &Element, why: &str) {
        if matches!(stanza.attr("type"), Some("result" | "error")) {
            return;
        }
        let (Some(id), Some(from)) = (stanza.attr("id"), stanza.attr("from")) else {
            return;
        };
        let Ok(from) = Jid::new(from) else { return };
        if !self.rate.allow(&from.to_bare(), now) {
            return self.refuse_rate(&from, id);
        }
        let text = format!("malformed IQ: {why}");
        self.reply_error(
            &from,
            id,
            StanzaError::new(Condition::BadRequest).with_text(&text),
        );
    }

    /// A stanza over a strict per-element limit: answered if it is a request that
    /// says who to answer, like any request subject to the rate limit.
    fn refuse_over_limit(&mut self, now: Instant, stanza: &Element, limit: Limit) {
        if stanza.name != "iq" || !matches!(stanza.attr("type"), Some("get" | "set")) {
            return;
        }
        let (Some(id), Some(from)) = (stanza.attr("id"), stanza.attr("from")) else {
            return;
        };
        let Ok(from) = Jid::new(from) else { return };
        if !self.rate.allow(&from.to_bare(), now) {
            return self.refuse_rate(&from, id);
        }
        let text = format!("stanza exceeds the {} limit", limit.describe());
        self.reply_error(
            &from,
            id,
            StanzaError::new(Condition::PolicyViolation).with_text(&text),
        );
    }

    /// A `get` or `set`.
    fn handle_request(&mut self, now: Instant, iq: &Iq) {
        let Some(from) = iq.from.as_ref() else { return };
        if !self.rate.allow(&from.to_bare(), now) {
            return self.refuse_rate(from, &iq.id);
        }
        let Some(payload) = iq.payload.as_ref() else {
            let error = StanzaError::new(Condition::BadRequest)
                .with_text("an IQ get or set needs a payload");
            return self.reply_error(from, &iq.id, error);
        };
        if payload.is("query", ns::PASS) {
            match PassMessage::from_iq(iq) {
                Ok(msg) => self.machine.handle_pass(now, from, iq, msg),
                Err(e) => {
                    let text = format!("invalid jabber:iq:pass payload: {e}");
                    self.reply_error(
                        from,
                        &iq.id,
                        StanzaError::new(Condition::BadRequest).with_text(&text),
                    );
                }
            }
        } else if iq.kind == IqType::Get && disco::is_disco_info_query(payload) {
            self.reply_result(from, &iq.id, Some(disco::pass_service_info()));
        } else if ping::is_ping_request(iq) {
            self.reply_result(from, &iq.id, None);
        } else {
            let text = format!(
                "{{{}}}{} is not served here",
                payload.namespace, payload.name
            );
            let error = StanzaError::new(Condition::ServiceUnavailable).with_text(&text);
            self.reply_error(from, &iq.id, error);
        }
    }

    fn refuse_rate(&mut self, to: &Jid, id: &str) {
        let c = self.config();
        let text = format!(
            "too many requests: {} at once, then {} a second",
            c.iq_burst, c.iq_per_second
        );
        self.reply_error(
            to,
            id,
            StanzaError::new(Condition::ResourceConstraint).with_text(&text),
        );
    }

    fn reply_result(&mut self, to: &Jid, id: &str, payload: Option<Element>) {
        let iq = Iq {
            id: String::from(id),
            kind: IqType::Result,
            from: Some(self.config().service.clone()),
            to: Some(to.clone()),
            payload,
            error: None,
        };
        self.machine.send(iq);
    }

    fn reply_error(&mut self, to: &Jid, id: &str, error: StanzaError) {
        let iq = Iq {
            id: String::from(id),
            kind: IqType::Error,
            from: Some(self.config().service.clone()),
            to: Some(to.clone()),
            payload: None,
            error: Some(error),
        };
        self.machine.send(iq);
    }
}

/// The engine interface as inherent methods, so that an embedder calls them without
/// importing [`Engine`]; the [`Engine`] impl below forwards to these.
impl Service {
    /// Routes one element the host read from the XMPP stream; see the
    /// [module documentation](self). Same as [`Engine::handle_stanza`].
    pub fn handle_stanza(&mut self, now: Instant, stanza: &Element) {
        let now = self.advance(now);
        if let Some(limit) = self.config().stanza_limits.first_exceeded_by(stanza) {
            return self.refuse_over_limit(now, stanza, limit);
        }
        if stanza.name != "iq" {
            return;
        }
        let iq = match Iq::try_from(stanza) {
            Ok(iq) => iq,
            Err(e) => return self.answer_malformed(now, stanza, &e.to_string()),
        };
        // Any IQ from an owner's full JID says it is online (DESIGN decision 94).
        self.machine.handle_iq_seen(now, &iq);
        match iq.kind {
            IqType::Result | IqType::Error => self.machine.handle_answer(now, &iq),
            IqType::Get | IqType::Set => self.handle_request(now, &iq),
        }
    }

    /// The outcome of an [`Action::Listen`]. Same as [`Engine::handle_listen_result`].
    pub fn handle_listen_result(
        &mut self,
        now: Instant,
        port: u16,
        result: Result<(), ListenError>,
    ) {
        let now = self.advance(now);
        self.machine.handle_listen_result(now, port, result);
    }

    /// The host accepted `conn` on `local_port` from `peer`. Same as
    /// [`Engine::handle_connection`].
    pub fn handle_connection(
        &mut self,
        now: Instant,
        conn: ConnId,
        local_port: u16,
        peer: SocketAddr,
    ) {
        let now = self.advance(now);
        self.machine.handle_connection(now, conn, local_port, peer);
    }

    /// `conn` ended, or its session did (at the first EOF of a relay). Same as
    /// [`Engine::handle_closed`].
    pub fn handle_closed(&mut self, now: Instant, conn: ConnId) {
        let now = self.advance(now);
        self.machine.handle_closed(now, conn);
    }

    /// The deadline of [`Service::poll_timeout`] has passed. Same as
    /// [`Engine::handle_timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.advance(now);
        self.machine.handle_timeout(now);
    }

    /// The host is shutting down: tell owners, stop listening. Same as
    /// [`Engine::shutdown`].
    pub fn shutdown(&mut self, now: Instant) {
        let now = self.advance(now);
        self.machine.shutdown(now);
    }

    /// Takes up the leases a previous run kept and starts queueing lease changes:
    /// [`LeaseMachine::restore`] (DESIGN decision 52). Same as [`Engine::restore`].
    pub fn restore(&mut self, now: Instant, records: impl IntoIterator<Item = LeaseRecord>) {
        let now = self.advance(now);
        self.machine.restore(now, records);
    }

    /// The next change of the lease table: [`LeaseMachine::poll_lease_change`].
    /// Same as [`Engine::poll_lease_change`].
    pub fn poll_lease_change(&mut self) -> Option<LeaseChange> {
        self.machine.poll_lease_change()
    }

    /// Stopping, keeping the leases for the next run: [`LeaseMachine::suspend`]
    /// (DESIGN decision 53). Same as [`Engine::suspend`].
    pub fn suspend(&mut self, now: Instant) {
        let now = self.advance(now);
        self.machine.suspend(now);
    }

    /// The next action for the host, `None` when there is nothing to do. Same as
    /// [`Engine::poll_action`].
    pub fn poll_action(&mut self) -> Option<Action> {
        self.machine.poll_action()
    }

    /// When [`Service::handle_timeout`] should next be called. Same as
    /// [`Engine::poll_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.machine.poll_timeout()
    }
}

impl Engine for Service {
    fn handle_stanza(&mut self, now: Instant, stanza: &Element) {
        Service::handle_stanza(self, now, stanza);
    }

    fn handle_listen_result(&mut self, now: Instant, port: u16, result: Result<(), ListenError>) {
        Service::handle_listen_result(self, now, port, result);
    }

    fn handle_connection(&mut self, now: Instant, conn: ConnId, local_port: u16, peer: SocketAddr) {
        Service::handle_connection(self, now, conn, local_port, peer);
    }

    fn handle_closed(&mut self, now: Instant, conn: ConnId) {
        Service::handle_closed(self, now, conn);
    }

    fn handle_timeout(&mut self, now: Instant) {
        Service::handle_timeout(self, now);
    }

    fn shutdown(&mut self, now: Instant) {
        Service::shutdown(self, now);
    }

    fn poll_action(&mut self) -> Option<Action> {
        Service::poll_action(self)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Service::poll_timeout(self)
    }

    fn stats(&self) -> Stats {
        Service::stats(self)
    }

    fn restore(&mut self, now: Instant, records: Vec<LeaseRecord>) {
        Service::restore(self, now, records);
    }

    fn poll_lease_change(&mut self) -> Option<LeaseChange> {
        Service::poll_lease_change(self)
    }

    fn suspend(&mut self, now: Instant) {
        Service::suspend(self, now);
    }

    fn is_proxy_port(&self, port: u16) -> bool {
        self.machine.is_proxy_port(port)
    }

    fn lease_records(&self) -> Vec<LeaseRecord> {
        self.machine.lease_records().collect()
    }
}
