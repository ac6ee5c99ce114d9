//! The client cases' toolkit: spawns the client under test with the environment
//! contract, plays the PASS service and the peer on the runner's c2s endpoint, owns
//! the lease, proxy and forward ports and the callers, records every stanza and TCP
//! event into the case's [`Transcript`], and turns what went wrong into a [`Failure`].

use super::server::{bare, C2sServer, Inbound};
use crate::component::Spawned;
use crate::ctx::{bytes_differ, entity, pass_query, query, Failure, Stop};
use crate::transcript::{Event, Recorder, Side, Transcript};
use crate::xmlfmt::to_xml;
use pass_core::ns;
use pass_core::xml::Element;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The exit code by which a client says it does not support what a case asks: the
/// case is SKIP (unsupported).
pub const EXIT_UNSUPPORTED: i32 = 89;

/// What stays the same for every case of a run.
#[derive(Clone, Debug)]
pub struct ClientSetup {
    /// `sh -c` this to start the client.
    pub exec: String,
    /// The PASS service's JID.
    pub service: String,
    /// The accounts' password.
    pub password: String,
    /// The longest a case may take; the client is killed then.
    pub case_timeout: Duration,
    /// How long to wait for a stanza or a connection that should come.
    pub answer_wait: Duration,
    /// How long to wait for bytes or an EOF that should come.
    pub io_wait: Duration,
    /// How long the client may take to log in.
    pub login_wait: Duration,
}

/// The role a case asks of the client (`PASS_ROLE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Own a lease and bridge callers to `PASS_FORWARD_TO`.
    Expose,
    /// Answer §5.1 queries as a peer.
    Answer,
}

/// A TCP connection of the runner's, numbered in the transcript.
pub struct Sock {
    conn: u64,
    stream: TcpStream,
}

/// A lease the runner (as the service) granted.
pub struct Lease {
    /// The port callers connect to (the runner's own listener).
    pub listener: TcpListener,
    /// Its address, as `<server/>` gave it.
    pub addr: SocketAddr,
}

/// An incoming-connection request (§3 listing 3) the runner sent.
pub struct Incoming {
    /// The request's id.
    pub id: String,
    /// The caller's address (`<client/>`).
    pub client: SocketAddr,
    /// The proxy port the client should connect to (`<proxy/>`).
    pub proxy: TcpListener,
    /// Its address.
    pub proxy_addr: SocketAddr,
    /// The caller's socket.
    pub caller: Sock,
    /// The service's side of the caller's connection, relayed once the client is on
    /// the proxy port.
    pub service_side: TcpStream,
    /// The request as sent.
    pub stanza: Element,
    /// When it was sent.
    pub sent_at: Instant,
}

/// One client case's view of the run.
pub struct ClientCtx {
    setup: ClientSetup,
    server: C2sServer,
    index: usize,
    case_id: String,
    rec: Recorder,
    child: Option<Spawned>,
    client_jid: Option<String>,
    forward: Option<TcpListener>,
    inbox: Vec<Element>,
    last_sent: Option<String>,
    next_id: u32,
    next_conn: u64,
    warnings: Vec<String>,
    info: Vec<String>,
    relays: Vec<JoinHandle<()>>,
    /// The client's exit, once seen (the process group may outlive it).
    exit: Option<std::process::ExitStatus>,
    log_tail: String,
}

impl ClientCtx {
    /// A context for the case `case_id`, numbered `index` in this run.
    pub fn new(setup: ClientSetup, server: C2sServer, index: usize, case_id: &str) -> ClientCtx {
        ClientCtx {
            setup,
            server,
            index,
            case_id: case_id.to_string(),
            rec: Recorder::new(Instant::now()),
            child: None,
            client_jid: None,
            forward: None,
            inbox: Vec::new(),
            last_sent: None,
            next_id: 0,
            next_conn: 0,
            warnings: Vec::new(),
            info: Vec::new(),
            relays: Vec::new(),
            exit: None,
            log_tail: String::new(),
        }
    }

    /// Ends the case (kills the client's process group, closes what is open) and
    /// gives back the server, the deviations noted, the facts to report, the
    /// transcript and the client's last output lines.
    pub async fn finish(mut self) -> (C2sServer, Vec<String>, Vec<String>, Transcript, String) {
        for r in self.relays.drain(..) {
            r.abort();
        }
        if let Some(mut child) = self.child.take() {
            // SIGTERM, and as the service acknowledge the close it may send (§4.3),
            // so that a client that closes on exit is not waited for in vain.
            self.record(Event::Note {
                text: "end of the case: SIGTERM to the client's process group".into(),
            });
            child.terminate();
            let deadline = Instant::now() + Duration::from_secs(2);
            while self.exit.is_none() && child.exited().is_none() && Instant::now() < deadline {
                if let Some(Inbound::Stanza(e)) = self.server.next(Duration::from_millis(50)).await
                {
                    self.record(Event::StanzaReceived { xml: to_xml(&e) });
                    let is_close = e.attr("type") == Some("set")
                        && pass_query(&e).is_some_and(|q| q.get_child("close", ns::PASS).is_some());
                    if is_close {
                        let id = e.attr("id").unwrap_or("").to_string();
                        let ack = self.reply("result", None, &id, Some(query()));
                        let _ = self.send(&ack).await;
                    }
                }
            }
            self.log_tail = child.stop().await;
        }
        self.server.reset();
        (
            self.server,
            self.warnings,
            self.info,
            self.rec.finish(),
            self.log_tail,
        )
    }

    /// The setup of the run.
    pub fn setup(&self) -> &ClientSetup {
        &self.setup
    }

    /// The service's JID.
    pub fn service(&self) -> String {
        self.setup.service.clone()
    }

    /// The account this case's client logs in as (a bare JID unique to the case).
    pub fn account(&self) -> String {
        format!("client-{}@{}", self.index, self.server.domain())
    }

    /// The full JID of the runner's peer account for this case.
    pub fn peer(&self) -> String {
        format!("peer-{}@{}/conformance", self.index, self.server.domain())
    }

    /// The client's full JID, once it logged in.
    pub fn client_jid(&self) -> String {
        self.client_jid.clone().unwrap_or_else(|| self.account())
    }

    /// Notes a deviation (the case ends WARN if it otherwise passes).
    pub fn warn(&mut self, msg: impl Into<String>) {
        self.warnings.push(msg.into());
    }

    /// Notes a fact for the report that is no deviation (a measured delay).
    pub fn note(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        self.record(Event::Note { text: msg.clone() });
        self.info.push(msg);
    }

    fn record(&mut self, event: Event) {
        self.rec.record(Instant::now(), event);
    }

    /// A failure at `step`, quoting the last stanza sent.
    pub fn fail(&self, step: &str, expected: impl Into<String>, got: Option<String>) -> Stop {
        Failure::stop(step, self.last_sent.clone(), expected, got)
    }

    /// Same, with a stanza as what came.
    pub fn fail_el(&self, step: &str, expected: impl Into<String>, got: &Element) -> Stop {
        self.fail(step, expected, Some(to_xml(got)))
    }

    /// Starts the client in `role` with the contract's environment plus `extra`, and
    /// waits until it has logged in.
    pub async fn start(&mut self, role: Role, extra: &[(&str, String)]) -> Result<(), Stop> {
        let mut env: Vec<(String, String)> = vec![
            ("PASS_CASE".into(), self.case_id.clone()),
            ("PASS_XMPP_SERVER".into(), self.server.addr().to_string()),
            ("PASS_JID".into(), self.account()),
            ("PASS_PASSWORD".into(), self.setup.password.clone()),
            (
                "PASS_TLS_CA".into(),
                self.server.ca_path().display().to_string(),
            ),
            ("PASS_SERVICE".into(), self.setup.service.clone()),
            (
                "PASS_ROLE".into(),
                match role {
                    Role::Expose => "expose",
                    Role::Answer => "answer",
                }
                .into(),
            ),
        ];
        if role == Role::Expose {
            let forward = TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(|e| Stop::Harness(crate::harness::HarnessError(e.to_string())))?;
            let addr = forward
                .local_addr()
                .map_err(|e| Stop::Harness(crate::harness::HarnessError(e.to_string())))?;
            env.push(("PASS_FORWARD_TO".into(), addr.to_string()));
            self.forward = Some(forward);
        }
        for (k, v) in extra {
            env.push((k.to_string(), v.clone()));
        }
        let shown: Vec<String> = env
            .iter()
            .filter(|(k, _)| k != "PASS_PASSWORD")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        self.record(Event::Note {
            text: format!("start the client: {}", shown.join(" ")),
        });
        let child = Spawned::start_with(&self.setup.exec, &env).map_err(|e| {
            Stop::Harness(crate::harness::HarnessError(format!(
                "cannot start the client: {e}"
            )))
        })?;
        self.child = Some(child);
        let deadline = Instant::now() + self.setup.login_wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_event(left).await? {
                Some(Inbound::Online(jid)) if bare(&jid) == self.account() => {
                    self.record(Event::Note {
                        text: format!("the client logged in as {jid}"),
                    });
                    self.client_jid = Some(jid);
                    return Ok(());
                }
                Some(Inbound::OpeningFailed(why)) => self.record(Event::Note {
                    text: format!("a c2s opening failed: {why}"),
                }),
                Some(Inbound::Stanza(e)) => self.inbox.push(e),
                Some(_) => {}
                None => {
                    return Err(self.fail(
                        "start the client and wait for it to log in",
                        format!(
                            "the client logs in as {} to {} within {} s",
                            self.account(),
                            self.server.addr(),
                            self.setup.login_wait.as_secs_f32()
                        ),
                        Some("no login".into()),
                    ))
                }
            }
        }
    }

    /// The next server event within `wait`, watching the client: an exit with 89
    /// skips the case, any other exit fails it.
    async fn next_event(&mut self, wait: Duration) -> Result<Option<Inbound>, Stop> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let slice = left.min(Duration::from_millis(100));
            if let Some(ev) = self.server.next(slice).await {
                if let Inbound::Stanza(e) = &ev {
                    self.record(Event::StanzaReceived { xml: to_xml(e) });
                }
                return Ok(Some(ev));
            }
            let exited = match (&self.exit, self.child.as_mut()) {
                (None, Some(c)) => c.exited(),
                _ => None,
            };
            if let Some(status) = exited {
                self.exit = Some(status);
                self.record(Event::Note {
                    text: format!("the client exited: {status}"),
                });
                let tail = self.output();
                if status.code() == Some(EXIT_UNSUPPORTED) {
                    return Err(Stop::Skip(format!(
                        "unsupported: the client exited with {EXIT_UNSUPPORTED}{}",
                        last_line(&tail)
                    )));
                }
                return Err(self.fail(
                    "wait for the client",
                    "the client keeps running until its role is done",
                    Some(format!("it exited: {status}{}", last_line(&tail))),
                ));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }

    /// The first stanza from the client that `pred` accepts, within `wait`; others
    /// are kept for later.
    pub async fn recv_within(
        &mut self,
        wait: Duration,
        pred: &dyn Fn(&Element) -> bool,
    ) -> Result<Option<Element>, Stop> {
        if let Some(i) = self.inbox.iter().position(pred) {
            return Ok(Some(self.inbox.remove(i)));
        }
        let deadline = Instant::now() + wait;
        for _ in 0..10_000 {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_event(left).await? {
                None => return Ok(None),
                Some(Inbound::Stanza(e)) if pred(&e) => return Ok(Some(e)),
                Some(Inbound::Stanza(e)) => {
                    self.inbox.push(e);
                    if self.inbox.len() > 1000 {
                        self.inbox.remove(0);
                    }
                }
                Some(_) => {}
            }
        }
        Ok(None)
    }

    /// The first stanza from the client that `pred` accepts, or a failure.
    pub async fn recv(
        &mut self,
        step: &str,
        expected: &str,
        pred: &dyn Fn(&Element) -> bool,
    ) -> Result<Element, Stop> {
        let wait = self.setup.answer_wait;
        match self.recv_within(wait, pred).await? {
            Some(e) => Ok(e),
            None => {
                let got = if self.inbox.is_empty() {
                    format!("nothing within {} s", wait.as_secs_f32())
                } else {
                    let all: Vec<String> = self.inbox.iter().map(to_xml).collect();
                    format!("only: {}", all.join(" "))
                };
                Err(self.fail(step, expected, Some(got)))
            }
        }
    }

    /// The answer (result or error) to the IQ `id` the runner sent.
    pub async fn answer(&mut self, step: &str, id: &str) -> Result<Element, Stop> {
        let want = format!("an <iq type='result'/> or <iq type='error'/> with id '{id}'");
        let id = id.to_string();
        self.recv(step, &want, &move |e| {
            e.attr("id") == Some(id.as_str())
                && matches!(e.attr("type"), Some("result") | Some("error"))
        })
        .await
    }

    /// Sends a stanza to the client (as the service or the peer: its `from` says).
    pub async fn send(&mut self, stanza: &Element) -> Result<(), Stop> {
        let xml = to_xml(stanza);
        self.last_sent = Some(xml.clone());
        self.record(Event::StanzaSent { xml });
        if !self.server.deliver(stanza) {
            return Err(self.fail(
                "send a stanza to the client",
                "the client is online",
                Some("its session is gone".into()),
            ));
        }
        Ok(())
    }

    /// An IQ to the client from `from` (the service when `None`), with a fresh id.
    pub fn iq(&mut self, kind: &str, from: Option<&str>, payload: Option<Element>) -> Element {
        self.next_id += 1;
        let id = format!("r{}-{}", self.index, self.next_id);
        let from = from.map(str::to_string).unwrap_or_else(|| self.service());
        let mut iq = Element::new("iq", ns::CLIENT)
            .with_attr("type", kind)
            .with_attr("id", &id)
            .with_attr("from", &from)
            .with_attr("to", &self.client_jid());
        if let Some(p) = payload {
            iq = iq.with_child(p);
        }
        iq
    }

    /// An answer from the service (or `from`) to the client's IQ `id`.
    pub fn reply(
        &self,
        kind: &str,
        from: Option<&str>,
        id: &str,
        payload: Option<Element>,
    ) -> Element {
        let from = from.map(str::to_string).unwrap_or_else(|| self.service());
        let mut iq = Element::new("iq", ns::CLIENT)
            .with_attr("type", kind)
            .with_attr("id", id)
            .with_attr("from", &from)
            .with_attr("to", &self.client_jid());
        if let Some(p) = payload {
            iq = iq.with_child(p);
        }
        iq
    }

    /// Waits for the registration request (§2 listing 1) to the service.
    pub async fn expect_register(&mut self) -> Result<Element, Stop> {
        let service = self.service();
        self.recv(
            "wait for the registration request (§2 listing 1)",
            &format!("<iq type='set' to='{service}'><query xmlns='jabber:iq:pass'>…</query></iq>"),
            &move |e| {
                e.attr("type") == Some("set")
                    && e.attr("to") == Some(service.as_str())
                    && pass_query(e).is_some_and(|q| {
                        q.get_child("close", ns::PASS).is_none()
                            && q.get_child("client", ns::PASS).is_none()
                    })
            },
        )
        .await
    }

    /// Grants the registration `req` (listing 2): the runner listens on a fresh port
    /// and names it in `<server/>`.
    pub async fn grant(&mut self, req: &Element) -> Result<Lease, Stop> {
        let listener = self.listen().await?;
        let addr = local(&listener)?;
        let id = req.attr("id").unwrap_or("").to_string();
        let result = self.reply(
            "result",
            None,
            &id,
            Some(query().with_child(entity("server", &addr.ip().to_string(), addr.port()))),
        );
        self.send(&result).await?;
        Ok(Lease { listener, addr })
    }

    /// Starts an exposing client and grants its registration.
    pub async fn exposed(&mut self, extra: &[(&str, String)]) -> Result<Lease, Stop> {
        self.start(Role::Expose, extra).await?;
        let req = self.expect_register().await?;
        self.grant(&req).await
    }

    async fn listen(&mut self) -> Result<TcpListener, Stop> {
        TcpListener::bind("127.0.0.1:0").await.map_err(|e| {
            Stop::Harness(crate::harness::HarnessError(format!(
                "cannot listen on 127.0.0.1: {e}"
            )))
        })
    }

    /// A caller connects to the lease; the runner (as the service) accepts it, opens
    /// a proxy port and sends the incoming-connection request (§3 listing 3).
    pub async fn incoming(&mut self, lease: &Lease) -> Result<Incoming, Stop> {
        let stream = TcpStream::connect(lease.addr).await.map_err(|e| {
            Stop::Harness(crate::harness::HarnessError(format!(
                "the caller cannot connect to the runner's own lease port: {e}"
            )))
        })?;
        let client = stream.local_addr().map_err(harness)?;
        let caller = self.sock(stream, client, lease.addr, false);
        let (service_side, _) = lease.listener.accept().await.map_err(harness)?;
        let proxy = self.listen().await?;
        let proxy_addr = local(&proxy)?;
        let q = query()
            .with_child(entity("client", &client.ip().to_string(), client.port()))
            .with_child(entity(
                "proxy",
                &proxy_addr.ip().to_string(),
                proxy_addr.port(),
            ));
        let iq = self.iq("set", None, Some(q));
        self.send(&iq).await?;
        Ok(Incoming {
            id: iq.attr("id").unwrap_or("").to_string(),
            client,
            proxy,
            proxy_addr,
            caller,
            service_side,
            stanza: iq,
            sent_at: Instant::now(),
        })
    }

    /// The client's connection to the proxy port within `wait`; `None` if none.
    pub async fn proxy_connection(
        &mut self,
        inc: &Incoming,
        wait: Duration,
    ) -> Result<Option<TcpStream>, Stop> {
        match tokio::time::timeout(wait, inc.proxy.accept()).await {
            Err(_) => Ok(None),
            Ok(Err(e)) => Err(harness(e)),
            Ok(Ok((s, peer))) => {
                self.next_conn += 1;
                let conn = self.next_conn;
                self.record(Event::Accept {
                    conn,
                    local: inc.proxy_addr.to_string(),
                    remote: peer.to_string(),
                });
                Ok(Some(s))
            }
        }
    }

    /// Relays the caller's connection (the service's side of it) and the client's
    /// proxy connection, as the service would, until either ends.
    pub fn relay(&mut self, service_side: TcpStream, mut proxy: TcpStream) {
        self.record(Event::Note {
            text: "the runner, as the service, relays the caller and the proxy connection".into(),
        });
        let mut a = service_side;
        self.relays.push(tokio::spawn(async move {
            let _ = tokio::io::copy_bidirectional(&mut a, &mut proxy).await;
        }));
    }

    /// The client's connection to `PASS_FORWARD_TO` within `wait`.
    pub async fn forwarded(&mut self, wait: Duration) -> Result<Option<Sock>, Stop> {
        let Some(forward) = self.forward.as_ref() else {
            return Err(Stop::Harness(crate::harness::HarnessError(
                "no forward port (the role is not expose)".into(),
            )));
        };
        let local_addr = local(forward)?;
        match tokio::time::timeout(wait, forward.accept()).await {
            Err(_) => Ok(None),
            Ok(Err(e)) => Err(harness(e)),
            Ok(Ok((s, peer))) => Ok(Some(self.sock(s, local_addr, peer, true))),
        }
    }

    /// Accepts the client on the proxy port, relays it, and accepts its connection to
    /// the forward port: the session is up (caller ⇄ client ⇄ forward target).
    pub async fn session(&mut self, inc: Incoming) -> Result<(Sock, Sock), Stop> {
        let wait = self.setup.answer_wait;
        let Some(proxy) = self.proxy_connection(&inc, wait).await? else {
            return Err(self.fail(
                "wait for the client on the proxy port (§3)",
                format!("a TCP connection to {}", inc.proxy_addr),
                Some(format!("none within {} s", wait.as_secs_f32())),
            ));
        };
        self.relay(inc.service_side, proxy);
        let Some(fwd) = self.forwarded(wait).await? else {
            return Err(self.fail(
                "wait for the client's connection to PASS_FORWARD_TO",
                "the client connects to PASS_FORWARD_TO for the accepted caller",
                Some(format!("none within {} s", wait.as_secs_f32())),
            ));
        };
        Ok((inc.caller, fwd))
    }

    fn sock(
        &mut self,
        stream: TcpStream,
        local: SocketAddr,
        remote: SocketAddr,
        accepted: bool,
    ) -> Sock {
        self.next_conn += 1;
        let conn = self.next_conn;
        let (local, remote) = (local.to_string(), remote.to_string());
        self.record(if accepted {
            Event::Accept {
                conn,
                local,
                remote,
            }
        } else {
            Event::Connect {
                conn,
                local,
                remote,
            }
        });
        Sock { conn, stream }
    }

    /// Writes all of `data`.
    pub async fn write(&mut self, s: &mut Sock, data: &[u8]) -> Result<(), Stop> {
        s.stream.write_all(data).await.map_err(harness)?;
        self.record(Event::Bytes {
            conn: s.conn,
            from: Side::Runner,
            len: data.len(),
        });
        Ok(())
    }

    /// Half-closes (FIN).
    pub async fn shutdown_write(&mut self, s: &mut Sock) -> Result<(), Stop> {
        s.stream.shutdown().await.map_err(harness)?;
        self.record(Event::Fin {
            conn: s.conn,
            by: Side::Runner,
        });
        Ok(())
    }

    /// Closes the connection both ways.
    pub fn close(&mut self, s: Sock) {
        self.record(Event::Close {
            conn: s.conn,
            by: Side::Runner,
        });
        drop(s);
    }

    /// Reads `want.len()` bytes and fails unless they are `want`.
    pub async fn expect_bytes(
        &mut self,
        step: &str,
        s: &mut Sock,
        want: &[u8],
    ) -> Result<(), Stop> {
        let mut got = Vec::with_capacity(want.len());
        let wait = self.setup.io_wait;
        let deadline = Instant::now() + wait;
        let mut buf = vec![0u8; 64 * 1024];
        while got.len() < want.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            let n = match tokio::time::timeout(left, s.stream.read(&mut buf)).await {
                Err(_) => {
                    return Err(self.fail(
                        step,
                        format!("{} bytes", want.len()),
                        Some(format!(
                            "{} bytes, then nothing for {} s",
                            got.len(),
                            wait.as_secs_f32()
                        )),
                    ))
                }
                Ok(Err(e)) => return Err(harness(e)),
                Ok(Ok(n)) => n,
            };
            if n == 0 {
                self.record(Event::Fin {
                    conn: s.conn,
                    by: Side::Implementation,
                });
                return Err(self.fail(
                    step,
                    format!("{} bytes", want.len()),
                    Some(format!("{} bytes, then the connection closed", got.len())),
                ));
            }
            self.record(Event::Bytes {
                conn: s.conn,
                from: Side::Implementation,
                len: n,
            });
            got.extend_from_slice(&buf[..n]);
        }
        if let Some((expected, got)) = bytes_differ(&got, want) {
            return Err(self.fail(step, expected, Some(got)));
        }
        Ok(())
    }

    /// Fails unless the connection is closed (EOF, no bytes) within the I/O wait.
    pub async fn expect_eof(&mut self, step: &str, s: &mut Sock) -> Result<(), Stop> {
        let wait = self.setup.io_wait;
        let mut buf = [0u8; 1024];
        match tokio::time::timeout(wait, s.stream.read(&mut buf)).await {
            Err(_) => Err(self.fail(
                step,
                "the connection is closed",
                Some(format!("still open after {} s", wait.as_secs_f32())),
            )),
            Ok(Ok(0)) | Ok(Err(_)) => {
                self.record(Event::Fin {
                    conn: s.conn,
                    by: Side::Implementation,
                });
                Ok(())
            }
            Ok(Ok(n)) => Err(self.fail(
                step,
                "the connection is closed (EOF, no bytes)",
                Some(format!("{n} bytes")),
            )),
        }
    }

    /// Waits up to `wait` for the client to exit; its exit code (`None`: still
    /// running, or killed by a signal, which the text says).
    pub async fn exit_within(&mut self, wait: Duration) -> Result<Option<i32>, String> {
        let status = match (self.exit, self.child.as_mut()) {
            (Some(status), _) => status,
            (None, None) => return Err("the client is not running".into()),
            (None, Some(child)) => match child.wait_exit(wait).await {
                None => return Ok(None),
                Some(status) => {
                    self.exit = Some(status);
                    self.record(Event::Note {
                        text: format!("the client exited: {status}"),
                    });
                    status
                }
            },
        };
        status
            .code()
            .map(Some)
            .ok_or_else(|| format!("the client was killed: {status}"))
    }

    /// Whether the client is still running.
    pub fn running(&mut self) -> bool {
        self.exit.is_none() && self.child.as_mut().is_some_and(|c| c.exited().is_none())
    }

    /// Sends SIGTERM to the client's process group.
    pub fn terminate(&mut self) {
        self.record(Event::Note {
            text: "SIGTERM to the client's process group".into(),
        });
        if let Some(c) = self.child.as_ref() {
            c.terminate();
        }
    }

    /// The client's output so far (its last lines).
    pub fn output(&self) -> String {
        self.child.as_ref().map(Spawned::tail).unwrap_or_default()
    }
}

fn harness(e: std::io::Error) -> Stop {
    Stop::Harness(crate::harness::HarnessError(e.to_string()))
}

fn local(l: &TcpListener) -> Result<SocketAddr, Stop> {
    l.local_addr().map_err(harness)
}

/// ": LINE" for the last line of `tail`, or nothing.
fn last_line(tail: &str) -> String {
    tail.lines()
        .last()
        .map(|l| format!("; its output ends with: {l}"))
        .unwrap_or_default()
}
