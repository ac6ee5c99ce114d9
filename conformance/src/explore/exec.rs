//! Carries out operations against a target ([`Harness`]) and checks every
//! observation against the reference model ([`Reference`]) as it comes: after each
//! operation the explorer lets a short settle pass, takes every stanza the service
//! sent, checks that callers due to be dropped were, and that everything due by now
//! happened. The first mismatch ends the run.

use super::op::{Choices, How, Op, Side};
use crate::harness::{ConnectError, Harness, HarnessError, ReadEvent, SockId};
use crate::transcript::{self, Event, Recorder, Transcript};
use crate::xmlfmt::to_xml;
use pass_core::ns;
use pass_core::sim::reference::{Closer, Mismatch, OwnerAnswer, Reference, Seen, SessionView};
use pass_core::xml::Element;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

/// How the run of one operation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepError {
    /// The implementation did something no conforming one could.
    Mismatch(String),
    /// The harness broke down (the run cannot go on; not a verdict).
    Harness(String),
}

impl From<Mismatch> for StepError {
    fn from(m: Mismatch) -> StepError {
        StepError::Mismatch(m.0)
    }
}

impl From<HarnessError> for StepError {
    fn from(e: HarnessError) -> StepError {
        StepError::Harness(e.0)
    }
}

/// A session's connections.
#[derive(Clone, Copy, Debug)]
struct Call {
    caller: SockId,
    owner: Option<SockId>,
}

/// Timing of a target: how long the explorer waits for what.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// How long to collect stanzas after each operation.
    pub settle: Duration,
    /// How long to wait for bytes or an EOF that must come.
    pub io_wait: Duration,
}

/// One run's explorer: the target, the model and what it opened.
pub struct Explorer {
    h: Box<dyn Harness>,
    model: Reference,
    timing: Timing,
    accounts: u8,
    service: String,
    start: Instant,
    recorder: Recorder,
    next_id: u64,
    next_caller: u64,
    /// Live leases in the order they were granted.
    leases: Vec<u16>,
    calls: BTreeMap<u64, Call>,
    /// The address the last lease was granted on (ended ports are tried there).
    last_ip: Option<IpAddr>,
    step: u64,
    nemesis: bool,
    /// The full JIDs of each account's two resources, as the target names them
    /// (DESIGN decision 135): senders are taken from here and read back from here.
    jids: Vec<[String; 2]>,
    /// Who closes as another account when there is only one: `None` when the
    /// target cannot send as anyone but its accounts (c2s).
    intruder: Option<String>,
}

const UNADVERTISED: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));

impl Explorer {
    /// An explorer of a fresh target, its accounts' resources online (logged in,
    /// on c2s, before the first operation: notices to them must not bounce).
    pub async fn start(
        mut h: Box<dyn Harness>,
        model: Reference,
        timing: Timing,
        accounts: u8,
        nemesis: bool,
    ) -> Result<Explorer, StepError> {
        let info = h.info().clone();
        let accounts = accounts.max(1);
        let mut jids = Vec::new();
        for a in 0..usize::from(accounts) {
            let jid = |r: u8| {
                h.explore_jid(a, r).ok_or_else(|| {
                    StepError::Harness(format!(
                        "--accounts {accounts}: the target has no account {} to act as",
                        a + 1
                    ))
                })
            };
            jids.push([jid(0)?, jid(1)?]);
        }
        for jid in jids.iter().flatten() {
            h.go_online(jid).await?;
        }
        let intruder = format!("intruder@{}/x", info.user_domain);
        let intruder = h.can_send_as(&intruder).is_ok().then_some(intruder);
        let start = h.clock();
        Ok(Explorer {
            h,
            model,
            timing,
            accounts,
            service: info.service,
            start,
            recorder: Recorder::new(start),
            next_id: 0,
            next_caller: 0,
            leases: Vec::new(),
            calls: BTreeMap::new(),
            last_ip: None,
            step: 0,
            nemesis,
            jids,
            intruder,
        })
    }

    /// The model.
    pub fn model(&self) -> &Reference {
        &self.model
    }

    /// The transcript so far.
    pub fn transcript(&self) -> &Transcript {
        self.recorder.transcript()
    }

    /// The transcript.
    pub fn into_transcript(self) -> Transcript {
        self.recorder.finish()
    }

    fn now(&self) -> u64 {
        let d = self.h.clock().saturating_duration_since(self.start);
        u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
    }

    fn record(&mut self, event: Event) {
        let now = self.h.clock();
        self.recorder.record(now, event);
    }

    fn note(&mut self, text: String) {
        self.record(Event::Note { text });
    }

    /// What the generator may act on now.
    pub fn choices(&self) -> Choices {
        let views: Vec<SessionView> = self.model.sessions().map(|(_, v)| v).collect();
        Choices {
            leases: self.leases.len(),
            idle_leases: self.idle_leases().len(),
            asked: views
                .iter()
                .filter(|v| matches!(v, SessionView::Asked { .. }))
                .count(),
            accepted: views
                .iter()
                .filter(|v| matches!(v, SessionView::Accepted { .. }))
                .count(),
            relaying: views
                .iter()
                .filter(|v| matches!(v, SessionView::Relaying))
                .count(),
            sessions: self.calls.len(),
            ended: self.model.ended_ports().len(),
            nemesis: self.nemesis,
            other_account: self.accounts > 1 || self.intruder.is_some(),
        }
    }

    fn idle_leases(&self) -> Vec<u16> {
        self.leases
            .iter()
            .copied()
            .filter(|p| self.model.is_idle(*p))
            .collect()
    }

    /// Sessions in a state, oldest first.
    fn sessions_where(&self, f: impl Fn(&SessionView) -> bool) -> Vec<(u64, SessionView)> {
        self.model.sessions().filter(|(_, v)| f(v)).collect()
    }

    fn next_id(&mut self) -> String {
        self.next_id += 1;
        format!("x{}", self.next_id)
    }

    fn iq(&self, kind: &str, id: &str, from: &str) -> Element {
        Element::new("iq", ns::COMPONENT)
            .with_attr("type", kind)
            .with_attr("id", id)
            .with_attr("from", from)
            .with_attr("to", &self.service)
    }

    async fn send(&mut self, el: &Element) -> Result<(), StepError> {
        self.record(Event::StanzaSent { xml: to_xml(el) });
        self.h.send_stanza(el).await?;
        Ok(())
    }

    /// Resource `r` of account `a` (both modulo what there is).
    fn user(&self, a: u8, r: u8) -> String {
        let [r0, r1] = &self.jids[usize::from(a % self.accounts)];
        if r.is_multiple_of(2) { r0 } else { r1 }.clone()
    }

    /// The account and resource `jid` is (the owner of a lease: always one of them).
    fn account_of(&self, jid: &str) -> (u8, u8) {
        self.jids
            .iter()
            .enumerate()
            .find_map(|(a, rs)| {
                let r = rs.iter().position(|j| j == jid)?;
                Some((u8::try_from(a).ok()?, u8::try_from(r).ok()?))
            })
            .unwrap_or((0, 0))
    }

    /// Carries out one operation, then settles and checks. `Ok(false)`: the
    /// operation had nothing to act on and was skipped.
    pub async fn apply(&mut self, op: Op) -> Result<bool, StepError> {
        self.step += 1;
        self.note(format!("op {}: {op}", self.step));
        let done = self.perform(op).await?;
        if !done {
            self.note("(nothing to act on: skipped)".into());
        }
        let settle = self.timing.settle;
        self.pump(settle).await?;
        self.check_callers().await?;
        let now = self.now();
        self.model.check_due(now)?;
        Ok(done)
    }

    async fn perform(&mut self, op: Op) -> Result<bool, StepError> {
        match op {
            Op::Register {
                account,
                resource,
                expire,
                oneshot,
            } => {
                let from = self.user(account, resource);
                let id = self.next_id();
                let mut q = Element::new("query", ns::PASS);
                if let Some(s) = expire {
                    q = q.with_child(Element::new("expire", ns::PASS).with_text(&s.to_string()));
                }
                if oneshot {
                    q = q.with_child(Element::new("oneshot", ns::PASS));
                }
                let iq = self.iq("set", &id, &from).with_child(q);
                let now = self.now();
                self.model
                    .register_sent(now, &id, &from, expire.map(u64::from), oneshot);
                self.send(&iq).await?;
            }
            Op::Call { lease } => {
                let idle = self.idle_leases();
                let Some(port) = pick(&idle, lease) else {
                    return Ok(false);
                };
                let Some(ip) = self.model.lease_ips(port).first().copied() else {
                    return Ok(false);
                };
                let addr = SocketAddr::new(ip, port);
                match self.connect(addr).await? {
                    Some((sock, local)) => {
                        self.next_caller += 1;
                        let caller = self.next_caller;
                        let now = self.now();
                        self.model.called(now, caller, port, local);
                        self.calls.insert(
                            caller,
                            Call {
                                caller: sock,
                                owner: None,
                            },
                        );
                    }
                    None => {
                        let now = self.now();
                        self.model.refused(now, port)?;
                    }
                }
            }
            Op::Answer { session, how } => {
                let asked = self.sessions_where(|v| matches!(v, SessionView::Asked { .. }));
                let Some((caller, SessionView::Asked { id, client, proxy })) =
                    pick(&asked, session)
                else {
                    return Ok(false);
                };
                let Some(owner) = self.model.owner_of(caller).map(str::to_string) else {
                    return Ok(false);
                };
                let now = self.now();
                let stanza = match how {
                    How::Accept => Some(
                        self.iq("result", &id, &owner)
                            .with_child(Element::new("query", ns::PASS)),
                    ),
                    How::Deny => Some(deny(
                        self.iq("error", &id, &owner),
                        client,
                        proxy,
                        401,
                        "auth",
                        "not-authorized",
                    )),
                    How::Error => Some(deny(
                        self.iq("error", &id, &owner),
                        client,
                        proxy,
                        // Not a condition that says the owner is gone (DESIGN
                        // decision 100 ends the lease on those).
                        406,
                        "modify",
                        "not-acceptable",
                    )),
                    How::Silent => None,
                };
                // Silence is no stanza: the model's answer timeout judges it.
                if let Some(s) = stanza {
                    let answer = match how {
                        How::Accept => OwnerAnswer::Accept,
                        How::Deny => OwnerAnswer::Deny,
                        _ => OwnerAnswer::Error,
                    };
                    self.model.owner_answered(now, caller, answer);
                    self.send(&s).await?;
                }
            }
            Op::OwnerConnect { session } => {
                let accepted = self.sessions_where(|v| matches!(v, SessionView::Accepted { .. }));
                let Some((caller, SessionView::Accepted { proxy })) = pick(&accepted, session)
                else {
                    return Ok(false);
                };
                match self.connect(proxy).await? {
                    Some((sock, _)) => {
                        let now = self.now();
                        self.model.owner_connected(now, caller);
                        if let Some(c) = self.calls.get_mut(&caller) {
                            c.owner = Some(sock);
                        }
                    }
                    None => {
                        let now = self.now();
                        self.model.refused(now, proxy.port())?;
                    }
                }
            }
            Op::Bytes { session, from, len } => {
                let Some((caller, w, r)) = self.relay_sides(session, from) else {
                    return Ok(false);
                };
                let data = pattern(self.step, len);
                self.record(Event::Bytes {
                    conn: w.0,
                    from: transcript::Side::Runner,
                    len: data.len(),
                });
                self.h.write(w, &data).await?;
                self.expect_bytes(caller, r, &data).await?;
            }
            Op::HangUp { session, side } => {
                let callers: Vec<u64> = self.calls.keys().copied().collect();
                let Some(caller) = pick(&callers, session) else {
                    return Ok(false);
                };
                let Some(call) = self.calls.remove(&caller) else {
                    return Ok(false);
                };
                let relaying = self
                    .model
                    .sessions()
                    .any(|(c, v)| c == caller && v == SessionView::Relaying);
                let (gone, other) = match (side, call.owner) {
                    (Side::Owner, Some(o)) => (o, Some(call.caller)),
                    (_, o) => (call.caller, o),
                };
                self.record(Event::Close {
                    conn: gone.0,
                    by: transcript::Side::Runner,
                });
                self.h.close(gone).await;
                let now = self.now();
                self.model.session_ended(now, caller);
                if let (true, Some(other)) = (relaying, other) {
                    self.expect_eof(other, "the other side of a relay one side hung up")
                        .await?;
                }
                if let Some(o) = other {
                    self.h.close(o).await;
                }
            }
            Op::HalfClose { session, side } => {
                let Some((caller, w, r)) = self.relay_sides(session, side) else {
                    return Ok(false);
                };
                self.record(Event::Fin {
                    conn: w.0,
                    by: transcript::Side::Runner,
                });
                self.h.shutdown_write(w).await?;
                self.expect_eof(
                    r,
                    "the other side of a half-closed relay (the FIN is carried)",
                )
                .await?;
                self.calls.remove(&caller);
                let now = self.now();
                self.model.session_ended(now, caller);
                self.h.close(w).await;
                self.h.close(r).await;
            }
            Op::Close { lease, by } => {
                let owned: Vec<(u16, String)> = self
                    .leases
                    .iter()
                    .filter_map(|p| {
                        self.model
                            .leases()
                            .find(|(q, _, _)| q == p)
                            .map(|(q, o, _)| (q, o.to_string()))
                    })
                    .collect();
                let (port, owner) = match pick(&owned, lease) {
                    Some(x) => x,
                    None if matches!(by, Closer::UnknownPort | Closer::MissingProxy) => {
                        (0, self.user(0, 0))
                    }
                    None => return Ok(false),
                };
                let ip = self
                    .model
                    .lease_ips(port)
                    .first()
                    .copied()
                    .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
                let (account, resource) = self.account_of(&owner);
                let (from, port, ip) = match by {
                    Closer::Owner => (owner.clone(), Some(port), ip),
                    Closer::OtherResource => (self.user(account, resource + 1), Some(port), ip),
                    Closer::OtherAccount => {
                        let other = if self.accounts > 1 {
                            self.user(account + 1, resource)
                        } else if let Some(i) = &self.intruder {
                            i.clone()
                        } else {
                            // No one to send as (a replay file from another target).
                            return Ok(false);
                        };
                        (other, Some(port), ip)
                    }
                    Closer::WrongIp => (owner.clone(), Some(port), UNADVERTISED),
                    Closer::UnknownPort => (owner.clone(), Some(9), ip),
                    Closer::MissingProxy => (owner.clone(), None, ip),
                };
                let id = self.next_id();
                let mut q =
                    Element::new("query", ns::PASS).with_child(Element::new("close", ns::PASS));
                if let Some(p) = port {
                    q = q.with_child(
                        Element::new("proxy", ns::PASS)
                            .with_attr("port", &p.to_string())
                            .with_text(&ip.to_string()),
                    );
                }
                let iq = self.iq("set", &id, &from).with_child(q);
                let now = self.now();
                self.model.close_sent(now, &id, &from, port, by);
                self.send(&iq).await?;
            }
            Op::Malformed { kind } => {
                let from = self.user(0, 0);
                let id = self.next_id();
                let q = match kind % 3 {
                    0 => Element::new("query", ns::PASS)
                        .with_child(Element::new("expire", ns::PASS).with_text("soon")),
                    1 => Element::new("query", ns::PASS)
                        .with_child(Element::new("frobnicate", ns::PASS)),
                    _ => Element::new("query", ns::PASS)
                        .with_child(Element::new("expire", ns::PASS).with_text("5"))
                        .with_child(Element::new("expire", ns::PASS).with_text("6")),
                };
                let iq = self.iq("set", &id, &from).with_child(q);
                let now = self.now();
                self.model.invalid_sent(now, &id, &from);
                self.send(&iq).await?;
            }
            Op::UnknownNamespace => {
                let from = self.user(0, 1);
                let id = self.next_id();
                let iq = self
                    .iq("get", &id, &from)
                    .with_child(Element::new("query", "urn:example:pass-explore:unknown"));
                let now = self.now();
                self.model.invalid_sent(now, &id, &from);
                self.send(&iq).await?;
            }
            Op::Wait { ms } => {
                self.pump(Duration::from_millis(u64::from(ms))).await?;
            }
            Op::ConnectEnded { pick: which } => {
                let ended = self.model.ended_ports();
                let Some(port) = pick(&ended, which) else {
                    return Ok(false);
                };
                let ip = self
                    .model
                    .lease_ips(port)
                    .first()
                    .copied()
                    .or_else(|| self.any_ip())
                    .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
                if let Some((sock, _)) = self.connect(SocketAddr::new(ip, port)).await? {
                    self.h.close(sock).await;
                    let now = self.now();
                    self.model.stray_accepted(now, port)?;
                }
            }
            Op::Nemesis => {
                if !self.nemesis {
                    return Ok(false);
                }
                self.note("nemesis: the component stream is cut".into());
                self.h.cut_stream().await?;
            }
        }
        Ok(true)
    }

    /// An advertised address any lease was granted on.
    fn any_ip(&self) -> Option<IpAddr> {
        self.model
            .leases()
            .find_map(|(p, _, _)| self.model.lease_ips(p).first().copied())
            .or(self.last_ip)
    }

    /// A relaying session by position: its caller, the connection `side` writes on
    /// and the one the other side reads on.
    fn relay_sides(&self, session: u8, side: Side) -> Option<(u64, SockId, SockId)> {
        let relaying = self.sessions_where(|v| *v == SessionView::Relaying);
        let (caller, _) = pick(&relaying, session)?;
        let call = self.calls.get(&caller)?;
        let owner = call.owner?;
        Some(match side {
            Side::Caller => (caller, call.caller, owner),
            Side::Owner => (caller, owner, call.caller),
        })
    }

    async fn connect(
        &mut self,
        addr: SocketAddr,
    ) -> Result<Option<(SockId, SocketAddr)>, StepError> {
        match self.h.connect(addr).await {
            Ok((sock, local)) => {
                self.record(Event::Connect {
                    conn: sock.0,
                    local: local.to_string(),
                    remote: addr.to_string(),
                });
                Ok(Some((sock, local)))
            }
            Err(e) => {
                self.record(Event::ConnectFailed {
                    remote: addr.to_string(),
                    error: e.to_string(),
                });
                match e {
                    ConnectError::Refused => Ok(None),
                    other => Err(StepError::Mismatch(format!(
                        "connecting to {addr}: {other} (a port must accept or refuse)"
                    ))),
                }
            }
        }
    }

    /// Reads exactly `want` on `sock`.
    async fn expect_bytes(
        &mut self,
        caller: u64,
        sock: SockId,
        want: &[u8],
    ) -> Result<(), StepError> {
        let mut got = Vec::with_capacity(want.len());
        let wait = self.timing.io_wait;
        while got.len() < want.len() {
            match self.h.read(sock, wait).await? {
                ReadEvent::Data(d) => got.extend_from_slice(&d),
                other => {
                    return Err(StepError::Mismatch(format!(
                        "session {caller}: {} of {} relayed bytes, then {other:?}",
                        got.len(),
                        want.len()
                    )))
                }
            }
        }
        self.record(Event::Bytes {
            conn: sock.0,
            from: transcript::Side::Implementation,
            len: got.len(),
        });
        if got != want {
            let at = got
                .iter()
                .zip(want)
                .position(|(a, b)| a != b)
                .unwrap_or(want.len());
            return Err(StepError::Mismatch(format!(
                "session {caller}: relayed bytes differ from offset {at} ({} bytes read, {} written)",
                got.len(),
                want.len()
            )));
        }
        Ok(())
    }

    async fn expect_eof(&mut self, sock: SockId, what: &str) -> Result<(), StepError> {
        let wait = self.timing.io_wait;
        match self.h.read(sock, wait).await? {
            ReadEvent::Eof | ReadEvent::Reset => {
                self.record(Event::Close {
                    conn: sock.0,
                    by: transcript::Side::Implementation,
                });
                Ok(())
            }
            other => Err(StepError::Mismatch(format!(
                "{what}: expected an EOF, got {other:?}"
            ))),
        }
    }

    /// Callers the service dropped: too early is a mismatch; callers it must have
    /// dropped by now and did not are one too.
    async fn check_callers(&mut self) -> Result<(), StepError> {
        // Sessions the model stopped judging (their lease ended mid-relay) are hung up.
        let judged: Vec<u64> = self.model.sessions().map(|(c, _)| c).collect();
        let orphans: Vec<u64> = self
            .calls
            .keys()
            .copied()
            .filter(|c| !judged.contains(c))
            .collect();
        for c in orphans {
            if let Some(call) = self.calls.remove(&c) {
                self.hang_up(call).await;
            }
        }
        let waiting: Vec<(u64, SockId)> = self
            .model
            .sessions()
            .filter(|(_, v)| *v != SessionView::Relaying)
            .filter_map(|(c, _)| self.calls.get(&c).map(|call| (c, call.caller)))
            .collect();
        for (caller, sock) in waiting {
            match self.h.read(sock, Duration::ZERO).await? {
                ReadEvent::Eof | ReadEvent::Reset => {
                    self.record(Event::Close {
                        conn: sock.0,
                        by: transcript::Side::Implementation,
                    });
                    let now = self.now();
                    self.model.caller_dropped(now, caller)?;
                    self.calls.remove(&caller);
                    self.h.close(sock).await;
                }
                ReadEvent::Data(d) => {
                    return Err(StepError::Mismatch(format!(
                        "the caller of session {caller} got {} bytes before any relay",
                        d.len()
                    )))
                }
                ReadEvent::Timeout => {}
            }
        }
        let now = self.now();
        for (caller, why) in self.model.drops_due(now) {
            let Some(call) = self.calls.get(&caller).copied() else {
                continue;
            };
            // The due time includes the tolerance already: the EOF is there by now.
            match self.h.read(call.caller, Duration::from_millis(50)).await? {
                ReadEvent::Eof | ReadEvent::Reset => {
                    let now = self.now();
                    self.model.caller_dropped(now, caller)?;
                    self.calls.remove(&caller);
                    self.hang_up(call).await;
                }
                other => {
                    return Err(StepError::Mismatch(format!(
                        "session {caller}: {why}; the caller's connection gave {other:?}"
                    )))
                }
            }
        }
        Ok(())
    }

    /// Takes every stanza the service sends for `d`, checking each.
    async fn pump(&mut self, d: Duration) -> Result<(), StepError> {
        let start = self.h.clock();
        for _ in 0..10_000 {
            let left = d.saturating_sub(self.h.clock().saturating_duration_since(start));
            let Some(el) = self.h.next_stanza(left).await? else {
                break;
            };
            self.record(Event::StanzaReceived { xml: to_xml(&el) });
            let now = self.now();
            match self.model.received(now, &el)? {
                Some(Seen::Answer {
                    granted: Some(port),
                    ..
                }) => {
                    self.leases.push(port);
                    self.last_ip = self.model.lease_ips(port).first().copied();
                }
                Some(Seen::Ended { id, port }) => {
                    self.leases.retain(|p| *p != port);
                    let to = el.attr("to").unwrap_or("").to_string();
                    let ack = self
                        .iq("result", &id, &to)
                        .with_child(Element::new("query", ns::PASS));
                    self.send(&ack).await?;
                }
                Some(Seen::Answer { .. }) | Some(Seen::Incoming { .. }) | None => {}
            }
            // Leases the model ended (an acknowledged close) leave the list too.
            let live: Vec<u16> = self.model.leases().map(|(p, _, _)| p).collect();
            self.leases.retain(|p| live.contains(p));
            // Once the time is up the loop still takes what is already there (with
            // no wait): stanzas sent at the same instant all belong to this step.
        }
        Ok(())
    }

    /// Closes both connections of a session.
    async fn hang_up(&mut self, call: Call) {
        self.h.close(call.caller).await;
        if let Some(o) = call.owner {
            self.h.close(o).await;
        }
    }

    /// Ends the run: closes every connection and every lease (best effort; a network
    /// target is reused by the next run).
    pub async fn cleanup(&mut self) {
        for (_, call) in std::mem::take(&mut self.calls) {
            self.hang_up(call).await;
        }
        let leases: Vec<(u16, String)> = self
            .model
            .leases()
            .map(|(p, o, _)| (p, o.to_string()))
            .collect();
        let mut waiting = Vec::new();
        for (port, owner) in leases {
            let ip = self
                .model
                .lease_ips(port)
                .first()
                .copied()
                .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            let id = self.next_id();
            let q = Element::new("query", ns::PASS)
                .with_child(Element::new("close", ns::PASS))
                .with_child(
                    Element::new("proxy", ns::PASS)
                        .with_attr("port", &port.to_string())
                        .with_text(&ip.to_string()),
                );
            let iq = self.iq("set", &id, &owner).with_child(q);
            if self.h.send_stanza(&iq).await.is_ok() {
                waiting.push(id);
            }
        }
        // The answers, and whatever else is still on its way, belong to this run: a
        // network target's next run must not see them (bounded by the answer wait).
        let start = self.h.clock();
        let wait = self.h.info().answer_wait;
        for _ in 0..10_000 {
            let spent = self.h.clock().saturating_duration_since(start);
            let left = if waiting.is_empty() {
                self.timing.settle.saturating_sub(spent)
            } else {
                wait.saturating_sub(spent)
            };
            match self.h.next_stanza(left).await {
                Ok(Some(el)) => waiting.retain(|id| el.attr("id") != Some(id.as_str())),
                Ok(None) | Err(_) => break,
            }
        }
        let _ = self.h.reset().await;
    }

    /// The target back, for another run.
    pub fn into_harness(self) -> Box<dyn Harness> {
        self.h
    }
}

/// The element at `i` modulo the length.
fn pick<T: Clone>(v: &[T], i: u8) -> Option<T> {
    if v.is_empty() {
        return None;
    }
    v.get(usize::from(i) % v.len()).cloned()
}

/// A deny or another error answering an incoming-connection request (§5.2 listing
/// 14, corrected to be well-formed).
fn deny(
    iq: Element,
    client: SocketAddr,
    proxy: SocketAddr,
    code: u16,
    kind: &str,
    cond: &str,
) -> Element {
    let entity = |name: &str, a: SocketAddr| {
        Element::new(name, ns::PASS)
            .with_attr("port", &a.port().to_string())
            .with_text(&a.ip().to_string())
    };
    let q = Element::new("query", ns::PASS)
        .with_child(entity("client", client))
        .with_child(entity("proxy", proxy));
    let err = Element::new("error", ns::COMPONENT)
        .with_attr("code", &code.to_string())
        .with_attr("type", kind)
        .with_child(Element::new(cond, ns::XMPP_STANZAS));
    iq.with_child(q).with_child(err)
}

/// `len` bytes that differ from step to step (a relay that mixes up sessions shows).
fn pattern(step: u64, len: u16) -> Vec<u8> {
    (0..usize::from(len))
        .map(|i| {
            (i as u64)
                .wrapping_mul(31)
                .wrapping_add(step.wrapping_mul(7)) as u8
        })
        .collect()
}
