//! The case-side toolkit: builds stanzas as users, routes what the service sends by
//! its `to`, opens connections, and turns every unexpected outcome into a precise
//! [`Failure`] (what was sent, what was expected, what came back).

use crate::harness::{ConnectError, Harness, HarnessError, ReadEvent, SockId, TargetInfo};
use crate::transcript::{Event, Recorder, Side, Transcript};
use crate::xep0086;
use crate::xmlfmt::{to_xml, to_xml_in};
use pass_core::ns;
use pass_core::stanza::ErrorType;
use pass_core::xml::Element;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::time::Duration;

/// How far a timed event (an expire notice, the drop of an unanswered caller) may be
/// from its due time either way, unless `--timing-tolerance` says otherwise.
pub const DEFAULT_TIMING_TOLERANCE: Duration = Duration::from_secs(1);

/// What a case's future yields.
pub type CaseFut<'a> = Pin<Box<dyn Future<Output = Result<(), Stop>> + 'a>>;

/// A step that did not go as the spec requires.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    /// What the case was doing.
    pub step: String,
    /// The last thing the case sent, if it matters (XML, or a description of bytes).
    pub sent: Option<String>,
    /// What the spec requires.
    pub expected: String,
    /// What came back (XML, or a description), `None` for nothing at all.
    pub got: Option<String>,
}

/// Why a case ended early.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The implementation did not do what the spec requires.
    Fail(Failure),
    /// The case could not be checked against this implementation (the reason says why).
    Skip(String),
    /// The harness itself broke down (stream lost, ...): the case fails with this.
    Harness(HarnessError),
}

impl Failure {
    /// A [`Stop::Fail`] at `step`, after `sent`.
    pub fn stop(
        step: &str,
        sent: Option<String>,
        expected: impl Into<String>,
        got: Option<String>,
    ) -> Stop {
        Stop::Fail(Failure {
            step: step.to_string(),
            sent,
            expected: expected.into(),
            got,
        })
    }
}

impl From<Failure> for Stop {
    fn from(f: Failure) -> Stop {
        Stop::Fail(f)
    }
}

impl From<HarnessError> for Stop {
    fn from(e: HarnessError) -> Stop {
        Stop::Harness(e)
    }
}

/// A lease the service granted.
#[derive(Clone, Debug)]
pub struct Lease {
    /// The full JID that registered it.
    pub owner: String,
    /// The advertised address, as `<server/>` gave it.
    pub addr: SocketAddr,
    /// The `<server/>` text verbatim.
    pub host: String,
}

/// An incoming-connection request (§3 listing 3) as the owner received it.
#[derive(Clone, Debug)]
pub struct Incoming {
    /// The request's id (the answer must carry it).
    pub id: String,
    /// The `<client/>` address.
    pub client: SocketAddr,
    /// The `<proxy/>` address to connect to.
    pub proxy: SocketAddr,
    /// The `<proxy/>` text verbatim.
    pub proxy_host: String,
    /// The whole stanza.
    pub stanza: Element,
}

/// One case's view of the harness.
pub struct Ctx {
    h: Box<dyn Harness>,
    index: usize,
    next_id: u32,
    inbox: Vec<Element>,
    last_sent: Option<String>,
    warnings: Vec<String>,
    leases: Vec<Lease>,
    socks: Vec<SockId>,
    tolerance: Duration,
    rec: Recorder,
    conns: Vec<ConnLog>,
}

/// What the transcript knows of one connection the case opened (DESIGN decision 44).
struct ConnLog {
    sock: SockId,
    /// The connection's number in the transcript (1 for the case's first).
    no: u64,
    /// The implementation's FIN or RST was recorded (a read after it only repeats it).
    impl_closed: bool,
    /// The runner's close was recorded.
    runner_closed: bool,
}

/// The bare part of a JID string.
fn bare(jid: &str) -> &str {
    jid.split('/').next().unwrap_or(jid)
}

/// An iq `type` attribute.
pub fn iq_type(el: &Element) -> &str {
    el.attr("type").unwrap_or("")
}

/// The `jabber:iq:pass` query of an IQ.
pub fn pass_query(el: &Element) -> Option<&Element> {
    el.get_child("query", ns::PASS)
}

/// An empty `<query xmlns='jabber:iq:pass'/>`.
pub fn query() -> Element {
    Element::new("query", ns::PASS)
}

/// A `jabber:iq:pass` child element.
pub fn pass_el(name: &str) -> Element {
    Element::new(name, ns::PASS)
}

/// A `<proxy port='..'>host</proxy>` (or another entity element).
pub fn entity(name: &str, host: &str, port: u16) -> Element {
    pass_el(name)
        .with_attr("port", &port.to_string())
        .with_text(host)
}

/// How `got` differs from the `want` written on the other side of a relay, as
/// (expected, got) for a [`Failure`]; `None` when they are equal.
pub fn bytes_differ(got: &[u8], want: &[u8]) -> Option<(String, String)> {
    let expected = format!(
        "the {} bytes written on the other side, unchanged",
        want.len()
    );
    if got.len() > want.len() {
        let more = got.len() - want.len();
        return Some((expected, format!("{more} bytes more than were written")));
    }
    if got == want {
        return None;
    }
    let at = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len());
    Some((
        expected,
        format!(
            "bytes differ from offset {at} (got {:?}, expected {:?})",
            got.get(at),
            want.get(at)
        ),
    ))
}

/// Reads a PassEntity child as an address; the error says what is wrong.
pub fn entity_addr(parent: &Element, name: &str) -> Result<(SocketAddr, String), String> {
    let e = parent
        .get_child(name, ns::PASS)
        .ok_or_else(|| format!("no <{name}/> element"))?;
    let host = e.text().trim().to_string();
    let ip: IpAddr = host
        .parse()
        .map_err(|_| format!("<{name}/> text {host:?} is not an IP address"))?;
    let port = e
        .attr("port")
        .ok_or_else(|| format!("<{name}/> has no port attribute"))?;
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("<{name}/> port {port:?} is not a port number (1-65535)"))?;
    Ok((SocketAddr::new(ip, port), host))
}

impl Ctx {
    /// A context for the case numbered `index` in this run.
    pub fn new(h: Box<dyn Harness>, index: usize) -> Ctx {
        let rec = Recorder::new(h.clock());
        Ctx {
            rec,
            conns: Vec::new(),
            h,
            index,
            next_id: 0,
            inbox: Vec::new(),
            last_sent: None,
            warnings: Vec::new(),
            leases: Vec::new(),
            socks: Vec::new(),
            tolerance: DEFAULT_TIMING_TOLERANCE,
        }
    }

    /// The same context with another timing tolerance.
    pub fn with_tolerance(mut self, tolerance: Duration) -> Ctx {
        self.tolerance = tolerance;
        self
    }

    /// How far a timed event may be from its due time either way (DESIGN decision 41).
    pub fn tolerance(&self) -> Duration {
        self.tolerance
    }

    /// The transcript so far: every stanza and TCP event of the case, times on the
    /// target's clock since the context was made (DESIGN decision 44).
    pub fn transcript(&self) -> &Transcript {
        self.rec.transcript()
    }

    /// Takes the transcript recorded so far (the runner stores it in the outcome).
    pub fn take_transcript(&mut self) -> Transcript {
        let start_over = Recorder::new(self.h.clock());
        std::mem::replace(&mut self.rec, start_over).finish()
    }

    /// Records a note in the transcript (something worth seeing in order).
    pub fn record_note(&mut self, text: impl Into<String>) {
        self.record(Event::Note { text: text.into() });
    }

    fn record(&mut self, event: Event) {
        let now = self.h.clock();
        self.rec.record(now, event);
    }

    /// The transcript's log of `s`, made on first sight.
    fn conn_log(&mut self, s: SockId) -> &mut ConnLog {
        let i = match self.conns.iter().position(|c| c.sock == s) {
            Some(i) => i,
            None => {
                let no = self.conns.len() as u64 + 1;
                self.conns.push(ConnLog {
                    sock: s,
                    no,
                    impl_closed: false,
                    runner_closed: false,
                });
                self.conns.len() - 1
            }
        };
        &mut self.conns[i]
    }

    // The harness calls below record what they did; every TCP call of a case goes
    // through them.

    async fn h_connect(&mut self, addr: SocketAddr) -> Result<(SockId, SocketAddr), ConnectError> {
        let r = self.h.connect(addr).await;
        match &r {
            Ok((s, local)) => {
                let conn = self.conn_log(*s).no;
                self.record(Event::Connect {
                    conn,
                    local: local.to_string(),
                    remote: addr.to_string(),
                });
            }
            Err(e) => self.record(Event::ConnectFailed {
                remote: addr.to_string(),
                error: e.to_string(),
            }),
        }
        r
    }

    async fn h_read(&mut self, s: SockId, wait: Duration) -> Result<ReadEvent, HarnessError> {
        let r = self.h.read(s, wait).await?;
        let log = self.conn_log(s);
        let conn = log.no;
        let event = match &r {
            ReadEvent::Data(d) => Some(Event::Bytes {
                conn,
                from: Side::Implementation,
                len: d.len(),
            }),
            ReadEvent::Eof | ReadEvent::Reset if log.impl_closed => None,
            ReadEvent::Eof => Some(Event::Fin {
                conn,
                by: Side::Implementation,
            }),
            ReadEvent::Reset => Some(Event::Reset {
                conn,
                by: Side::Implementation,
            }),
            ReadEvent::Timeout => None,
        };
        if matches!(r, ReadEvent::Eof | ReadEvent::Reset) {
            log.impl_closed = true;
        }
        if let Some(e) = event {
            self.record(e);
        }
        Ok(r)
    }

    async fn h_close(&mut self, s: SockId) {
        self.h.close(s).await;
        let log = self.conn_log(s);
        if !std::mem::replace(&mut log.runner_closed, true) {
            let conn = log.no;
            self.record(Event::Close {
                conn,
                by: Side::Runner,
            });
        }
    }

    /// Gives the harness back, with the deviations noted.
    pub fn into_parts(self) -> (Box<dyn Harness>, Vec<String>) {
        (self.h, self.warnings)
    }

    /// Facts about the target.
    pub fn info(&self) -> &TargetInfo {
        self.h.info()
    }

    /// The service JID.
    pub fn service(&self) -> String {
        self.h.info().service.clone()
    }

    /// A full user JID unique to this case, e.g. `owner-3@localhost/conformance`.
    /// On a target that logs in (c2s) it is a resource of one of its accounts
    /// ([`Harness::user_jid`]).
    pub fn user(&self, name: &str) -> String {
        self.h.user_jid(name, self.index)
    }

    /// How many registrations the case may make to exhaust the service's ports
    /// (`None`: not on this target).
    pub fn registration_budget(&self) -> Option<usize> {
        self.h.registration_budget()
    }

    /// Takes `jid` offline (c2s only): its server bounces what the service sends it.
    pub async fn go_offline(&mut self, jid: &str) -> Result<(), Stop> {
        self.h.go_offline(jid).await?;
        Ok(())
    }

    /// Brings `jid` online before it sends anything (c2s: logs it in).
    pub async fn go_online(&mut self, jid: &str) -> Result<(), Stop> {
        self.h.go_online(jid).await?;
        Ok(())
    }

    /// Notes a deviation the spec tolerates; the case ends WARN if it otherwise passes.
    pub fn warn(&mut self, msg: impl Into<String>) {
        self.warnings.push(msg.into());
    }

    /// A failure at `step`, quoting the last thing sent.
    pub fn fail(&self, step: &str, expected: impl Into<String>, got: Option<String>) -> Stop {
        Failure::stop(step, self.last_sent.clone(), expected, got)
    }

    /// Same, with a stanza as what came back.
    pub fn fail_el(&self, step: &str, expected: impl Into<String>, got: &Element) -> Stop {
        self.fail(step, expected, Some(to_xml(got)))
    }

    /// An `<iq/>` from `from` to the service, with a fresh id.
    pub fn iq(&mut self, kind: &str, from: &str, payload: Option<Element>) -> Element {
        self.next_id += 1;
        let id = format!("c{}-{}", self.index, self.next_id);
        let mut iq = Element::new("iq", ns::COMPONENT)
            .with_attr("type", kind)
            .with_attr("id", &id)
            .with_attr("from", from)
            .with_attr("to", &self.service());
        if let Some(p) = payload {
            iq = iq.with_child(p);
        }
        iq
    }

    /// Sends a stanza as a user.
    pub async fn send(&mut self, stanza: &Element) -> Result<(), Stop> {
        if let Some(from) = stanza.attr("from") {
            self.h.can_send_as(from).map_err(Stop::Skip)?;
        }
        self.last_sent = Some(to_xml(stanza));
        self.record(Event::StanzaSent {
            xml: to_xml_in(stanza, ns::COMPONENT),
        });
        self.h.send_stanza(stanza).await?;
        Ok(())
    }

    /// Sends an IQ and returns its id.
    pub async fn send_iq(&mut self, iq: Element) -> Result<String, Stop> {
        let id = iq.attr("id").unwrap_or("").to_string();
        self.send(&iq).await?;
        Ok(id)
    }

    /// The first stanza to `to` that `pred` accepts, waiting up to `wait`; others are
    /// kept for later. `None` when none came.
    pub async fn recv_within(
        &mut self,
        to: &str,
        wait: Duration,
        pred: &dyn Fn(&Element) -> bool,
    ) -> Result<Option<Element>, Stop> {
        let matches = |e: &Element| e.attr("to") == Some(to) && pred(e);
        if let Some(i) = self.inbox.iter().position(matches) {
            return Ok(Some(self.inbox.remove(i)));
        }
        let start = self.h.clock();
        // Bounded: a flood of unrelated stanzas cannot keep the case alive forever.
        for _ in 0..10_000 {
            let left = wait.saturating_sub(self.h.clock().saturating_duration_since(start));
            let next = self.h.next_stanza(left).await?;
            if let Some(e) = &next {
                self.record(Event::StanzaReceived {
                    xml: to_xml_in(e, ns::COMPONENT),
                });
            }
            match next {
                None => {
                    self.record_note(format!("no stanza to {to} within {} s", wait.as_secs_f32()));
                    return Ok(None);
                }
                Some(e) if matches(&e) => return Ok(Some(e)),
                Some(e) => {
                    self.inbox.push(e);
                    if self.inbox.len() > 1000 {
                        self.inbox.remove(0);
                    }
                }
            }
            if self.h.clock().saturating_duration_since(start) >= wait {
                self.record_note(format!("no stanza to {to} within {} s", wait.as_secs_f32()));
                return Ok(None);
            }
        }
        Ok(None)
    }

    /// The first stanza to `to` that `pred` accepts, or a failure naming `expected`.
    pub async fn recv(
        &mut self,
        step: &str,
        to: &str,
        expected: &str,
        pred: &dyn Fn(&Element) -> bool,
    ) -> Result<Element, Stop> {
        let wait = self.info().answer_wait;
        match self.recv_within(to, wait, pred).await? {
            Some(e) => Ok(e),
            None => {
                let got = self.silence(to, wait);
                Err(self.fail(step, expected, Some(got)))
            }
        }
    }

    /// What came instead of an expected stanza to `to`: nothing, or only stanzas to
    /// the same account (any resource: a stanza sent to the wrong resource shows up
    /// here rather than as plain silence).
    fn silence(&self, to: &str, wait: Duration) -> String {
        let others: Vec<String> = self
            .inbox
            .iter()
            .filter(|e| e.attr("to").is_some_and(|t| bare(t) == bare(to)))
            .map(to_xml)
            .collect();
        if others.is_empty() {
            format!("nothing within {} s", wait.as_secs_f32())
        } else {
            format!("only: {}", others.join(" "))
        }
    }

    /// The answer (result or error) to the IQ `id` sent by `to`.
    pub async fn answer(&mut self, step: &str, to: &str, id: &str) -> Result<Element, Stop> {
        let id = id.to_string();
        let expected =
            format!("an <iq type='result'/> or <iq type='error'/> with id '{id}' to {to}");
        self.recv(step, to, &expected, &move |e| {
            e.attr("id") == Some(&id) && matches!(iq_type(e), "result" | "error")
        })
        .await
    }

    /// The answer to `id`, which must be a result.
    pub async fn expect_result(&mut self, step: &str, to: &str, id: &str) -> Result<Element, Stop> {
        let a = self.answer(step, to, id).await?;
        if iq_type(&a) != "result" {
            return Err(self.fail_el(step, format!("<iq type='result' id='{id}'/>"), &a));
        }
        self.check_from_service(step, &a)?;
        Ok(a)
    }

    /// Fails unless the stanza comes from the service JID.
    pub fn check_from_service(&self, step: &str, e: &Element) -> Result<(), Stop> {
        let service = self.service();
        if e.attr("from") != Some(service.as_str()) {
            return Err(self.fail_el(step, format!("from='{service}'"), e));
        }
        Ok(())
    }

    /// The answer to `id`, which must be an error with this legacy code (see
    /// [`Ctx::check_error`]).
    pub async fn expect_error(
        &mut self,
        step: &str,
        to: &str,
        id: &str,
        code: u16,
    ) -> Result<Element, Stop> {
        let a = self.answer(step, to, id).await?;
        self.check_error(step, &a, code)?;
        Ok(a)
    }

    /// Checks an error IQ from the service against an error-table row (DESIGN
    /// decision 40). The legacy `code` is the requirement: wrong or missing, the case
    /// fails, as it does for an error from another JID, an undefined RFC 6120
    /// condition or an undefined `type`. The condition and `type` XEP-0086 maps the
    /// code to are advice: one missing or different is a warning naming both.
    pub fn check_error(&mut self, step: &str, a: &Element, code: u16) -> Result<(), Stop> {
        let service = self.service();
        let advice = xep0086::mapping(code);
        let want = match advice {
            Some((cond, kind)) => format!(
                "<iq type='error' from='{service}'> with <error code='{code}' type='{}'><{cond} xmlns='{}'/></error>",
                kind.as_str(),
                ns::XMPP_STANZAS
            ),
            None => format!("<iq type='error' from='{service}'> with <error code='{code}'/>"),
        };
        if iq_type(a) != "error" {
            return Err(self.fail_el(step, want, a));
        }
        if a.attr("from") != Some(service.as_str()) {
            return Err(self.fail_el(step, format!("{want} (sent by the service)"), a));
        }
        let Some(err) = a
            .get_child("error", a.namespace.as_str())
            .or_else(|| a.elements().find(|c| c.name == "error"))
        else {
            return Err(self.fail_el(step, want, a));
        };
        let got_code = err.attr("code").and_then(|c| c.trim().parse::<u16>().ok());
        if got_code != Some(code) {
            return Err(self.fail_el(
                step,
                format!("{want} (the legacy code is what XEP-0003's table requires)"),
                a,
            ));
        }
        let got_cond = err
            .elements()
            .find(|c| c.namespace == ns::XMPP_STANZAS && c.name != "text")
            .map(|c| c.name.clone());
        if let Some(name) = &got_cond {
            if xep0086::defined_condition(name).is_none() {
                return Err(self.fail_el(
                    step,
                    format!("{want} (<{name}/> is not an RFC 6120 condition)"),
                    a,
                ));
            }
        }
        let got_type = err.attr("type");
        if let Some(t) = got_type {
            if ErrorType::from_name(t).is_none() {
                return Err(self.fail_el(
                    step,
                    format!("{want} (type '{t}' is not an RFC 6120 error type)"),
                    a,
                ));
            }
        }
        let Some((cond, kind)) = advice else {
            return Ok(());
        };
        match got_cond.as_deref() {
            None => self.warn(format!(
                "{step}: error {code} has no RFC 6120 condition; XEP-0086 maps {code} to <{cond}/>"
            )),
            Some(name) if name != cond.as_str() => self.warn(format!(
                "{step}: error {code} has <{name}/>; XEP-0086 maps {code} to <{cond}/>"
            )),
            Some(_) => {}
        }
        match got_type {
            None => self.warn(format!(
                "{step}: error {code} has no type; XEP-0086 maps {code} to type '{}'",
                kind.as_str()
            )),
            Some(t) if t != kind.as_str() => self.warn(format!(
                "{step}: error {code} has type '{t}'; XEP-0086 maps {code} to type '{}'",
                kind.as_str()
            )),
            Some(_) => {}
        }
        Ok(())
    }

    /// Fails if a stanza to `to` accepted by `pred` arrives within `wait`.
    pub async fn expect_none(
        &mut self,
        step: &str,
        to: &str,
        wait: Duration,
        expected: &str,
        pred: &dyn Fn(&Element) -> bool,
    ) -> Result<(), Stop> {
        match self.recv_within(to, wait, pred).await? {
            None => Ok(()),
            Some(e) => Err(self.fail_el(step, expected, &e)),
        }
    }

    /// Registers a lease (§2 listing 1) and checks the result (listing 2).
    pub async fn register(
        &mut self,
        owner: &str,
        expire: Option<u64>,
        oneshot: bool,
    ) -> Result<Lease, Stop> {
        let step = "register a port (§2 listing 1)";
        let mut q = query();
        if let Some(s) = expire {
            q = q.with_child(pass_el("expire").with_text(&s.to_string()));
        }
        if oneshot {
            q = q.with_child(pass_el("oneshot"));
        }
        let iq = self.iq("set", owner, Some(q));
        let id = self.send_iq(iq).await?;
        let a = self.expect_result(step, owner, &id).await?;
        self.lease_from_result(step, owner, &a)
    }

    /// Reads the `<server/>` of a registration result (§2 listing 2).
    pub fn lease_from_result(
        &mut self,
        step: &str,
        owner: &str,
        a: &Element,
    ) -> Result<Lease, Stop> {
        let want = "<query xmlns='jabber:iq:pass'><server port='PORT'>IP</server></query>";
        let Some(q) = pass_query(a) else {
            return Err(self.fail_el(step, want, a));
        };
        match entity_addr(q, "server") {
            Ok((addr, host)) => {
                let lease = Lease {
                    owner: owner.to_string(),
                    addr,
                    host,
                };
                self.leases.push(lease.clone());
                Ok(lease)
            }
            Err(why) => Err(self.fail_el(step, format!("{want} ({why})"), a)),
        }
    }

    /// Sends a `<close/>` for the lease (§4.3 listing 9) from `from`; gives the IQ id.
    pub async fn send_close(&mut self, from: &str, host: &str, port: u16) -> Result<String, Stop> {
        let q = query()
            .with_child(pass_el("close"))
            .with_child(entity("proxy", host, port));
        let iq = self.iq("set", from, Some(q));
        self.send_iq(iq).await
    }

    /// Closes a lease as its owner and checks the acknowledgement (listing 10).
    pub async fn close_lease(&mut self, lease: &Lease) -> Result<Element, Stop> {
        let id = self
            .send_close(&lease.owner, &lease.host, lease.addr.port())
            .await?;
        let a = self
            .expect_result("close the port (§4.3 listing 9)", &lease.owner, &id)
            .await?;
        self.leases.retain(|l| l.addr != lease.addr);
        Ok(a)
    }

    /// Waits for the incoming-connection request (§3 listing 3) to `owner`.
    pub async fn expect_incoming(&mut self, owner: &str) -> Result<Incoming, Stop> {
        let step = "wait for the incoming-connection request (§3 listing 3)";
        let e = self
            .recv(step, owner, "<iq type='set'><query xmlns='jabber:iq:pass'><client port=..>IP</client><proxy port=..>IP</proxy></query></iq>", &|e| {
                iq_type(e) == "set" && pass_query(e).is_some_and(|q| q.get_child("client", ns::PASS).is_some())
            })
            .await?;
        self.check_from_service(step, &e)?;
        let q = pass_query(&e).cloned().unwrap_or_default();
        let client = match entity_addr(&q, "client") {
            Ok((a, _)) => a,
            Err(why) => {
                return Err(self.fail_el(
                    step,
                    format!("<client port='PORT'>IP</client>: {why}"),
                    &e,
                ))
            }
        };
        let (proxy, proxy_host) = match entity_addr(&q, "proxy") {
            Ok(p) => p,
            Err(why) => {
                return Err(self.fail_el(step, format!("<proxy port='PORT'>IP</proxy>: {why}"), &e))
            }
        };
        let id = e.attr("id").unwrap_or("").to_string();
        if id.is_empty() {
            return Err(self.fail_el(step, "an id attribute (an IQ set must carry one)", &e));
        }
        Ok(Incoming {
            id,
            client,
            proxy,
            proxy_host,
            stanza: e,
        })
    }

    /// Accepts an incoming connection (§3 listing 4).
    pub async fn accept(&mut self, owner: &str, inc: &Incoming) -> Result<(), Stop> {
        let iq = self.answer_iq("result", owner, &inc.id, Some(query()));
        self.send(&iq).await
    }

    /// An IQ answering the service's request `id`.
    pub fn answer_iq(&self, kind: &str, from: &str, id: &str, payload: Option<Element>) -> Element {
        let mut iq = Element::new("iq", ns::COMPONENT)
            .with_attr("type", kind)
            .with_attr("id", id)
            .with_attr("from", from)
            .with_attr("to", &self.service());
        if let Some(p) = payload {
            iq = iq.with_child(p);
        }
        iq
    }

    /// Denies an incoming connection as §5.2 listing 14 does (corrected: well-formed).
    pub async fn deny(&mut self, owner: &str, inc: &Incoming) -> Result<(), Stop> {
        let q = query()
            .with_child(entity(
                "client",
                &inc.client.ip().to_string(),
                inc.client.port(),
            ))
            .with_child(entity("proxy", &inc.proxy_host, inc.proxy.port()));
        let err = Element::new("error", ns::COMPONENT)
            .with_attr("code", "401")
            .with_attr("type", "auth")
            .with_child(Element::new("not-authorized", ns::XMPP_STANZAS));
        let iq = self
            .answer_iq("error", owner, &inc.id, Some(q))
            .with_child(err);
        self.send(&iq).await
    }

    /// Waits for an expire or oneshot notice (§4.1 listing 5, §4.2 listing 7) for
    /// `lease`, checks it (lenient on the rendered form, DESIGN decision 3).
    pub async fn expect_notice(
        &mut self,
        kind: &str,
        lease: &Lease,
        wait: Duration,
    ) -> Result<Element, Stop> {
        let listing = if kind == "expire" {
            "§4.1 listing 5"
        } else {
            "§4.2 listing 7"
        };
        let step = format!("wait for the {kind} notice ({listing})");
        let want = format!(
            "<iq type='set' to='{}'><query xmlns='jabber:iq:pass'><{kind}/><close/><proxy port='{}'>{}</proxy></query></iq>",
            lease.owner,
            lease.addr.port(),
            lease.host
        );
        let k = kind.to_string();
        let e = match self
            .recv_within(&lease.owner, wait, &move |e| {
                iq_type(e) == "set"
                    && pass_query(e).is_some_and(|q| q.get_child(&k, ns::PASS).is_some())
            })
            .await?
        {
            Some(e) => e,
            None => {
                let got = self.silence(&lease.owner, wait);
                return Err(self.fail(&step, want, Some(got)));
            }
        };
        self.check_from_service(&step, &e)?;
        let q = pass_query(&e).cloned().unwrap_or_default();
        let proxy = match entity_addr(&q, "proxy") {
            Ok(p) => p,
            Err(_) => match entity_addr(&e, "proxy") {
                Ok(p) => {
                    self.warn(format!(
                        "{step}: <proxy/> is outside <query/> (the Markdown rendering's form)"
                    ));
                    p
                }
                Err(why) => return Err(self.fail_el(&step, format!("{want} ({why})"), &e)),
            },
        };
        if proxy.0.port() != lease.addr.port() || proxy.0.ip() != lease.addr.ip() {
            return Err(self.fail_el(
                &step,
                format!(
                    "{want} (the <proxy/> must name the lease's address {})",
                    lease.addr
                ),
                &e,
            ));
        }
        if q.get_child("close", ns::PASS).is_none() {
            self.warn(format!(
                "{step}: no <close/> in the notice (the Markdown rendering's form)"
            ));
        }
        self.leases.retain(|l| l.addr != lease.addr);
        Ok(e)
    }

    /// Acknowledges a notice (§4.1 listing 6, §4.2 listing 8).
    pub async fn ack(&mut self, owner: &str, notice: &Element) -> Result<(), Stop> {
        let id = notice.attr("id").unwrap_or("").to_string();
        let iq = self.answer_iq("result", owner, &id, Some(query()));
        self.send(&iq).await
    }

    /// Opens a TCP connection as `who`; fails the case if it cannot.
    pub async fn connect(
        &mut self,
        who: &str,
        addr: SocketAddr,
    ) -> Result<(SockId, SocketAddr), Stop> {
        match self.h_connect(addr).await {
            Ok((s, local)) => {
                self.socks.push(s);
                Ok((s, local))
            }
            Err(e) => Err(self.fail(
                &format!("connect as {who} to {addr}"),
                format!("the service accepts a TCP connection on {addr}"),
                Some(e.to_string()),
            )),
        }
    }

    /// Fails unless connecting to `addr` is refused (the port is closed). A port that
    /// still accepts is retried for up to a second: a service may stop its listener
    /// just after it sent the notice or acknowledgement.
    pub async fn expect_refused(&mut self, step: &str, addr: SocketAddr) -> Result<(), Stop> {
        let want = format!("connection to {addr} refused (port closed)");
        for attempt in 0..10 {
            match self.h_connect(addr).await {
                Err(ConnectError::Refused) => return Ok(()),
                Ok((s, _)) => {
                    self.h_close(s).await;
                    if attempt == 9 {
                        return Err(self.fail(
                            step,
                            want,
                            Some("connection accepted (for 1 s after)".into()),
                        ));
                    }
                    self.h.sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(self.fail(step, want, Some(e.to_string()))),
            }
        }
        Err(self.fail(step, want, None))
    }

    /// Writes bytes.
    pub async fn write(&mut self, s: SockId, data: &[u8]) -> Result<(), Stop> {
        self.h.write(s, data).await?;
        let conn = self.conn_log(s).no;
        self.record(Event::Bytes {
            conn,
            from: Side::Runner,
            len: data.len(),
        });
        Ok(())
    }

    /// Half-closes.
    pub async fn shutdown_write(&mut self, s: SockId) -> Result<(), Stop> {
        self.h.shutdown_write(s).await?;
        let conn = self.conn_log(s).no;
        self.record(Event::Fin {
            conn,
            by: Side::Runner,
        });
        Ok(())
    }

    /// Closes.
    pub async fn close(&mut self, s: SockId) {
        self.h_close(s).await;
        self.socks.retain(|x| *x != s);
    }

    /// Reads exactly `n` bytes.
    pub async fn read_exact(&mut self, step: &str, s: SockId, n: usize) -> Result<Vec<u8>, Stop> {
        let mut buf = Vec::with_capacity(n);
        let wait = self.info().io_wait;
        while buf.len() < n {
            match self.h_read(s, wait).await? {
                ReadEvent::Data(d) => buf.extend_from_slice(&d),
                ReadEvent::Eof => {
                    return Err(self.fail(
                        step,
                        format!("{n} bytes"),
                        Some(format!("{} bytes, then the connection closed", buf.len())),
                    ))
                }
                ReadEvent::Reset => {
                    return Err(self.fail(
                        step,
                        format!("{n} bytes"),
                        Some(format!(
                            "{} bytes, then the connection was reset",
                            buf.len()
                        )),
                    ))
                }
                ReadEvent::Timeout => {
                    return Err(self.fail(
                        step,
                        format!("{n} bytes"),
                        Some(format!(
                            "{} bytes, then nothing for {} s",
                            buf.len(),
                            wait.as_secs_f32()
                        )),
                    ))
                }
            }
        }
        Ok(buf)
    }

    /// Reads exactly `want.len()` bytes and fails unless they equal `want`.
    pub async fn expect_bytes(&mut self, step: &str, s: SockId, want: &[u8]) -> Result<(), Stop> {
        let got = self.read_exact(step, s, want.len()).await?;
        match bytes_differ(&got, want) {
            Some((expected, got)) => Err(self.fail(step, expected, Some(got))),
            None => Ok(()),
        }
    }

    /// Fails unless the service closes the connection within `wait`, with no bytes
    /// before the EOF (nothing is relayed to a connection that is being dropped).
    pub async fn expect_eof(&mut self, step: &str, s: SockId, wait: Duration) -> Result<(), Stop> {
        match self.h_read(s, wait).await? {
            // A reset closes the connection too (the transcript says which it was).
            ReadEvent::Eof | ReadEvent::Reset => Ok(()),
            ReadEvent::Data(d) => Err(self.fail(
                step,
                "the service closes this connection (EOF, no bytes)",
                Some(format!(
                    "{} bytes: {:?}",
                    d.len(),
                    String::from_utf8_lossy(&d[..d.len().min(64)])
                )),
            )),
            ReadEvent::Timeout => Err(self.fail(
                step,
                "the service closes this connection",
                Some(format!("still open after {} s", wait.as_secs_f32())),
            )),
        }
    }

    /// One raw read (data, EOF or nothing within `wait`).
    pub async fn read_event(&mut self, s: SockId, wait: Duration) -> Result<ReadEvent, Stop> {
        Ok(self.h_read(s, wait).await?)
    }

    /// Opens a connection if the service accepts one; `None` when it refuses.
    pub async fn try_connect(&mut self, addr: SocketAddr) -> Option<SockId> {
        match self.h_connect(addr).await {
            Ok((s, _)) => {
                self.socks.push(s);
                Some(s)
            }
            Err(_) => None,
        }
    }

    /// Fails unless the connection stays open (no EOF) for `wait`.
    pub async fn expect_open(&mut self, step: &str, s: SockId, wait: Duration) -> Result<(), Stop> {
        match self.h_read(s, wait).await? {
            ReadEvent::Timeout => Ok(()),
            ReadEvent::Data(d) => Err(self.fail(
                step,
                "the connection stays open and silent",
                Some(format!("{} unexpected bytes", d.len())),
            )),
            ReadEvent::Eof => Err(self.fail(
                step,
                "the connection stays open",
                Some("the service closed it".into()),
            )),
            ReadEvent::Reset => Err(self.fail(
                step,
                "the connection stays open",
                Some("the service reset it".into()),
            )),
        }
    }

    /// Lets time pass.
    pub async fn sleep(&mut self, d: Duration) {
        self.h.sleep(d).await
    }

    /// Sets the stage: a lease for `owner`, a third party connected to it, the
    /// owner's incoming-connection request.
    pub async fn incoming(
        &mut self,
        owner: &str,
        expire: Option<u64>,
        oneshot: bool,
    ) -> Result<(Lease, SockId, SocketAddr, Incoming), Stop> {
        let lease = self.register(owner, expire, oneshot).await?;
        let (client, local) = self.connect("the third party", lease.addr).await?;
        let inc = self.expect_incoming(owner).await?;
        Ok((lease, client, local, inc))
    }

    /// A relay up and running: returns the lease, the third party's socket and the
    /// owner's socket on the proxy port.
    pub async fn relay(
        &mut self,
        owner: &str,
        expire: Option<u64>,
        oneshot: bool,
    ) -> Result<(Lease, SockId, SockId), Stop> {
        let (lease, client, _, inc) = self.incoming(owner, expire, oneshot).await?;
        self.accept(owner, &inc).await?;
        let (own, _) = self.connect("the owner (proxy port)", inc.proxy).await?;
        Ok((lease, client, own))
    }

    /// Ends the case: closes what it left open (best effort).
    pub async fn cleanup(&mut self) {
        for s in std::mem::take(&mut self.socks) {
            self.h_close(s).await;
        }
        for lease in std::mem::take(&mut self.leases) {
            if let Ok(id) = self
                .send_close(&lease.owner, &lease.host, lease.addr.port())
                .await
            {
                let _ = self
                    .recv_within(&lease.owner, Duration::from_millis(200), &|e| {
                        e.attr("id") == Some(id.as_str())
                    })
                    .await;
            }
        }
    }
}
