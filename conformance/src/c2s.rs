//! The c2s target: the runner logs in to a real XMPP server as ordinary accounts and
//! reaches the service the way its users do (DESIGN decisions 120, 121).
//!
//! Each full JID a case acts as is its own c2s session, logged in on first use with
//! pass-client's login (tokio-xmpp, STARTTLS with rustls): the cases' users map to
//! resources of the accounts ([`C2sHarness::user_jid`]), so the server stamps every
//! `from` and delivers every answer and notice to the full JID the service named.
//! The stream is read as raw elements, not tokio-xmpp's typed stanzas: the verdicts
//! need what the service sent verbatim (xmpp-parsers drops an error's legacy `code`).
//! The TCP side is the component target's ([`Sockets`]).

use crate::catalogue::for_c2s;
use crate::harness::{ConnectError, Harness, HarnessError, ReadEvent, SockId, TargetInfo};
use crate::ibr;
use crate::runner::{run_suite, RunOptions, SuiteReport};
use crate::sockets::Sockets;
use crate::transcript::Event;
use crate::xmlfmt::to_xml;
use async_trait::async_trait;
use futures::{SinkExt as _, StreamExt as _};
use pass_client::srv::Server;
use pass_client::tls::ClientConfig;
use pass_client::xmpp::{authenticate, Login};
use pass_core::ns;
use pass_core::xml::{Element, Limits, Node};
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::timeout;
pub use tokio_xmpp::jid::BareJid;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element as XmppElement;
use tokio_xmpp::xmlstream::{ReadError, XmlStream};

/// Resource binding (RFC 6120 §7).
const NS_BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
/// How long a login (connect, TLS, SASL, bind) may take.
const LOGIN_WAIT: Duration = Duration::from_secs(15);
/// How long a logout waits for the server's closing of the stream.
const LOGOUT_WAIT: Duration = Duration::from_secs(3);

/// An account the runner logs in as.
#[derive(Clone, Debug)]
pub struct Account {
    /// Its bare JID.
    pub jid: BareJid,
    /// Its password.
    pub password: String,
}

/// How the runner reaches the service.
#[derive(Clone, Debug)]
pub struct C2sOptions {
    /// HOST:PORT of the XMPP server.
    pub server: String,
    /// The service's JID.
    pub service: String,
    /// The accounts: the first is the owner, the second the intruder (at least two).
    pub accounts: Vec<Account>,
    /// Register the accounts in band (XEP-0077) first and remove them at the end.
    pub register: bool,
    /// STARTTLS with these settings, or plain TCP (loopback only).
    pub tls: Option<Arc<ClientConfig>>,
    /// The most registrations `pass/2/no-ports-502` may make (`--exhaust N`).
    pub exhaust: Option<usize>,
    /// How long to wait for a stanza that should come.
    pub answer_wait: Duration,
    /// How long to wait for connects, bytes and EOFs.
    pub io_wait: Duration,
    /// The implementation's owner-answer timeout.
    pub impl_answer_timeout: Duration,
}

/// Why the run could not happen (exit code 2).
#[derive(Debug)]
#[non_exhaustive]
pub enum C2sError {
    /// The settings cannot be used (fewer than two accounts, a bad password file, ...).
    Setup(String),
    /// An account could not log in.
    Login(String),
    /// In-band registration (or removal) of an account failed.
    Register(String),
}

impl fmt::Display for C2sError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            C2sError::Setup(m) => f.write_str(m),
            C2sError::Login(m) => write!(f, "login failed: {m}"),
            C2sError::Register(m) => write!(f, "in-band registration: {m}"),
        }
    }
}

impl std::error::Error for C2sError {}

/// A password file line that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordFileError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub why: String,
}

impl fmt::Display for PasswordFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.why)
    }
}

impl std::error::Error for PasswordFileError {}

/// Reads a password file: one `JID PASSWORD` per line (the password is the rest of
/// the line after the first run of blanks); blank lines and `#` comments are skipped.
pub fn parse_password_file(text: &str) -> Result<Vec<Account>, PasswordFileError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let bad = |why: String| PasswordFileError { line: i + 1, why };
        let line = line.trim_start();
        let (jid, password) = match line.split_once(char::is_whitespace) {
            Some((j, p)) if !p.trim().is_empty() => (j, p.trim()),
            _ => {
                return Err(bad(format!(
                    "expected `JID PASSWORD`, got only {:?}",
                    line.split_whitespace().next().unwrap_or(line)
                )))
            }
        };
        let jid = BareJid::new(jid).map_err(|e| bad(format!("{jid:?} is not a JID: {e}")))?;
        if jid.node().is_none() {
            return Err(bad(format!(
                "{jid} is a domain, not an account (user@domain)"
            )));
        }
        out.push(Account {
            jid,
            password: password.to_owned(),
        });
    }
    Ok(out)
}

/// What a session task passes on.
enum SessionEvent {
    Stanza(Element),
    Lost { jid: String, why: String },
}

enum SessionCmd {
    Send(XmppElement),
    /// Close the stream, then say so.
    Close(oneshot::Sender<()>),
}

/// One logged-in full JID.
struct Session {
    tx: mpsc::UnboundedSender<SessionCmd>,
    task: JoinHandle<()>,
}

type RawStream = XmlStream<Box<dyn tokio_xmpp::connect::AsyncReadAndWrite + Send>, XmppElement>;

/// Logs `full` in and binds its resource; the stream reads raw elements.
pub(crate) async fn log_in(
    server: &str,
    tls: &Option<Arc<ClientConfig>>,
    account: &Account,
    full: &Jid,
) -> Result<RawStream, String> {
    let login = Login {
        // --server is HOST:PORT, connected as given (no SRV look-up).
        server: Server::Addr(server.to_owned()),
        jid: full.clone(),
        password: account.password.clone(),
        tls: tls.clone(),
    };
    let work = async {
        let (_, mut stream) = authenticate::<XmppElement>(&login)
            .await
            .map_err(|e| format!("{full} at {server}: {e}"))?;
        bind(&mut stream, full).await?;
        Ok::<_, String>(stream)
    };
    timeout(LOGIN_WAIT, work).await.unwrap_or_else(|_| {
        Err(format!(
            "{full} at {server}: no login within {LOGIN_WAIT:?}"
        ))
    })
}

/// Binds `full`'s resource (RFC 6120 §7); the server must bind exactly it, since the
/// cases name the full JID before it exists.
async fn bind(stream: &mut RawStream, full: &Jid) -> Result<(), String> {
    let resource = full.resource().map(|r| r.as_str()).unwrap_or_default();
    let resource: String = resource
        .chars()
        .filter(|c| !matches!(c, '<' | '>' | '&' | '\'' | '"'))
        .collect();
    let request: XmppElement = format!(
        "<iq xmlns='{}' type='set' id='bind'><bind xmlns='{NS_BIND}'><resource>{resource}</resource></bind></iq>",
        ns::CLIENT
    )
    .parse()
    .map_err(|e| format!("{full}: {e}"))?;
    stream
        .send(&request)
        .await
        .map_err(|e| format!("{full}: {e}"))?;
    loop {
        match stream.next().await {
            Some(Ok(el)) if el.name() == "iq" && el.attr("id") == Some("bind") => {
                let bound = el
                    .get_child("bind", NS_BIND)
                    .and_then(|b| b.get_child("jid", NS_BIND))
                    .map(|j| j.text());
                return match (el.attr("type"), bound) {
                    (Some("result"), Some(jid)) if jid == full.to_string() => Ok(()),
                    (Some("result"), Some(jid)) => Err(format!(
                        "the server bound {jid}, not the resource asked for ({full})"
                    )),
                    _ => Err(format!(
                        "{full}: resource binding refused: {}",
                        String::from(&el)
                    )),
                };
            }
            Some(Ok(_)) | Some(Err(ReadError::SoftTimeout)) => {}
            Some(Err(e)) => return Err(format!("{full}: while binding: {e}")),
            None => {
                return Err(format!(
                    "{full}: the server closed the stream while binding"
                ))
            }
        }
    }
}

/// Removes the `from` the server stamps, and puts the stanza in `jabber:client`.
fn for_client_stream(stanza: &Element) -> Result<XmppElement, HarnessError> {
    fn into_client_ns(el: &mut Element) {
        if el.namespace == ns::COMPONENT {
            el.namespace = ns::CLIENT.to_owned();
        }
        for child in el.children.iter_mut() {
            if let Node::Element(c) = child {
                into_client_ns(c);
            }
        }
    }
    let mut el = stanza.clone();
    el.attributes
        .retain(|a| !(a.name == "from" && a.namespace.is_empty()));
    into_client_ns(&mut el);
    to_xml(&el)
        .parse()
        .map_err(|e| HarnessError(format!("cannot hand a stanza to the XMPP library: {e}")))
}

/// Reads one session's stream and writes what the harness queues, until closed.
async fn run_session(
    jid: String,
    mut stream: RawStream,
    mut cmds: mpsc::UnboundedReceiver<SessionCmd>,
    events: mpsc::UnboundedSender<SessionEvent>,
) {
    let lost = |why: String| SessionEvent::Lost {
        jid: jid.clone(),
        why,
    };
    loop {
        tokio::select! {
            cmd = cmds.recv() => match cmd {
                Some(SessionCmd::Send(el)) => {
                    if let Err(e) = stream.send(&el).await {
                        let _ = events.send(lost(format!("write failed: {e}")));
                        return;
                    }
                }
                Some(SessionCmd::Close(done)) => {
                    let _ = stream.shutdown().await;
                    // The server's own footer: by then it has ended the session, and
                    // bounces what comes for this JID.
                    let _ = timeout(LOGOUT_WAIT, async {
                        while let Some(Ok(_) | Err(ReadError::SoftTimeout)) = stream.next().await {}
                    })
                    .await;
                    let _ = done.send(());
                    return;
                }
                None => {
                    let _ = stream.shutdown().await;
                    return;
                }
            },
            item = stream.next() => match item {
                Some(Ok(el)) => {
                    if el.name() == "error" && el.ns() == "http://etherx.jabber.org/streams" {
                        let _ = events.send(lost(format!("stream error {}", String::from(&el))));
                        return;
                    }
                    let text = String::from(&el);
                    match pass_core::parse_element(text.as_bytes(), &Limits::default()) {
                        Ok(e) => {
                            let _ = events.send(SessionEvent::Stanza(e));
                        }
                        Err(e) => {
                            let _ = events.send(lost(format!("unreadable stanza ({e}): {text}")));
                            return;
                        }
                    }
                }
                Some(Err(ReadError::SoftTimeout)) => {}
                Some(Err(e)) => {
                    let _ = events.send(lost(e.to_string()));
                    return;
                }
                None => {
                    let _ = events.send(lost("the server closed the stream".into()));
                    return;
                }
            },
        }
    }
}

/// The harness over c2s sessions.
pub struct C2sHarness {
    info: TargetInfo,
    server: String,
    tls: Option<Arc<ClientConfig>>,
    accounts: Vec<Account>,
    exhaust: Option<usize>,
    sessions: HashMap<String, Session>,
    events_tx: mpsc::UnboundedSender<SessionEvent>,
    events: mpsc::UnboundedReceiver<SessionEvent>,
    socks: Sockets,
    /// Logins, logouts and lost sessions of the current case, for its transcript.
    seen: Vec<(std::time::Instant, Event)>,
}

impl C2sHarness {
    /// A harness for these options; nobody is logged in yet.
    pub fn new(opts: &C2sOptions) -> Result<C2sHarness, C2sError> {
        if opts.accounts.len() < 2 {
            return Err(C2sError::Setup(format!(
                "the c2s target needs at least two accounts (the owner and an intruder), got {}",
                opts.accounts.len()
            )));
        }
        let (events_tx, events) = mpsc::unbounded_channel();
        Ok(C2sHarness {
            info: TargetInfo {
                service: opts.service.clone(),
                user_domain: opts.accounts[0].jid.domain().to_string(),
                answer_wait: opts.answer_wait,
                io_wait: opts.io_wait,
                impl_answer_timeout: opts.impl_answer_timeout,
            },
            server: opts.server.clone(),
            tls: opts.tls.clone(),
            accounts: opts.accounts.clone(),
            exhaust: opts.exhaust,
            sessions: HashMap::new(),
            events_tx,
            events,
            socks: Sockets::default(),
            seen: Vec::new(),
        })
    }

    fn account_of(&self, jid: &str) -> Option<&Account> {
        let bare = jid.split('/').next().unwrap_or(jid);
        self.accounts.iter().find(|a| a.jid.as_str() == bare)
    }

    /// Logs every account in once (and out): wrong passwords stop the run at once.
    pub async fn check_logins(&self) -> Result<(), C2sError> {
        for a in &self.accounts {
            let full = Jid::new(&format!("{}/pass-conformance-check", a.jid))
                .map_err(|e| C2sError::Setup(e.to_string()))?;
            let mut s = log_in(&self.server, &self.tls, a, &full)
                .await
                .map_err(C2sError::Login)?;
            let _ = s.shutdown().await;
        }
        Ok(())
    }

    /// The session of `jid`, logged in now if it is not yet.
    async fn session(&mut self, jid: &str) -> Result<&Session, HarnessError> {
        if !self.sessions.contains_key(jid) {
            let account = self
                .account_of(jid)
                .cloned()
                .ok_or_else(|| HarnessError(format!("no account for {jid}")))?;
            let full = Jid::new(jid).map_err(|e| HarnessError(format!("{jid}: {e}")))?;
            let stream = log_in(&self.server, &self.tls, &account, &full)
                .await
                .map_err(HarnessError)?;
            let (tx, rx) = mpsc::unbounded_channel();
            let task = tokio::spawn(run_session(
                jid.to_owned(),
                stream,
                rx,
                self.events_tx.clone(),
            ));
            self.sessions.insert(jid.to_owned(), Session { tx, task });
            self.note(format!("c2s: logged in as {jid}"));
        }
        self.sessions
            .get(jid)
            .ok_or_else(|| HarnessError(format!("no session for {jid}")))
    }

    /// Logs `jid` out, waiting (bounded) until the server has closed its side.
    async fn log_out(&mut self, jid: &str) {
        if let Some(s) = self.sessions.remove(jid) {
            let (done, closed) = oneshot::channel();
            if s.tx.send(SessionCmd::Close(done)).is_ok() {
                let _ = timeout(LOGOUT_WAIT * 2, closed).await;
            }
            s.task.abort();
            self.note(format!(
                "c2s: logged out {jid} (its server now answers what is sent to it)"
            ));
        }
    }

    fn note(&mut self, text: String) {
        self.seen
            .push((std::time::Instant::now(), Event::Note { text }));
    }
}

#[async_trait(?Send)]
impl Harness for C2sHarness {
    fn info(&self) -> &TargetInfo {
        &self.info
    }

    async fn send_stanza(&mut self, stanza: &Element) -> Result<(), HarnessError> {
        let from = stanza
            .attr("from")
            .ok_or_else(|| HarnessError("a stanza without a from: who sends it?".into()))?
            .to_owned();
        let el = for_client_stream(stanza)?;
        let session = self.session(&from).await?;
        session
            .tx
            .send(SessionCmd::Send(el))
            .map_err(|_| HarnessError(format!("{from}'s stream is gone")))
    }

    async fn next_stanza(&mut self, wait: Duration) -> Result<Option<Element>, HarnessError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Err(_) => return Ok(None),
                Ok(Some(SessionEvent::Stanza(e))) => return Ok(Some(e)),
                Ok(Some(SessionEvent::Lost { jid, why })) => {
                    // A session the harness closed on purpose is no news.
                    if self.sessions.remove(&jid).is_some() {
                        let why = format!("the XMPP server ended {jid}'s session: {why}");
                        self.note(format!("c2s: {why}"));
                        return Err(HarnessError(why));
                    }
                }
                Ok(None) => return Err(HarnessError("every session is gone".into())),
            }
        }
    }

    async fn connect(&mut self, addr: SocketAddr) -> Result<(SockId, SocketAddr), ConnectError> {
        self.socks.connect(addr, self.info.io_wait).await
    }

    async fn write(&mut self, sock: SockId, data: &[u8]) -> Result<(), HarnessError> {
        self.socks.write(sock, data)
    }

    async fn shutdown_write(&mut self, sock: SockId) -> Result<(), HarnessError> {
        self.socks.shutdown_write(sock)
    }

    async fn close(&mut self, sock: SockId) {
        self.socks.close(sock).await
    }

    async fn read(&mut self, sock: SockId, wait: Duration) -> Result<ReadEvent, HarnessError> {
        self.socks.read(sock, wait).await
    }

    async fn sleep(&mut self, d: Duration) {
        tokio::time::sleep(d).await;
    }

    async fn reset(&mut self) -> Result<(), HarnessError> {
        self.socks.close_all().await;
        // Each case logs in its own resources: the last case's are logged out, and
        // what was still on its way to them is nobody's business now.
        let jids: Vec<String> = self.sessions.keys().cloned().collect();
        for jid in jids {
            self.log_out(&jid).await;
        }
        while self.events.try_recv().is_ok() {}
        // The last case's logouts are housekeeping, not the next case's events.
        self.seen.clear();
        Ok(())
    }

    fn take_events(&mut self) -> Vec<(std::time::Instant, Event)> {
        std::mem::take(&mut self.seen)
    }

    /// The owner, the user and every other name are resources of the first account;
    /// the intruder is the second; `hogN` take the accounts in turn. The resource
    /// is `NAME-INDEX`, unique to the case (DESIGN decision 121).
    fn user_jid(&self, name: &str, index: usize) -> String {
        let n = self.accounts.len();
        let account = match name {
            "intruder" => 1 % n,
            _ => name
                .strip_prefix("hog")
                .and_then(|i| i.parse::<usize>().ok())
                .map_or(0, |i| i % n),
        };
        format!("{}/{name}-{index}", self.accounts[account].jid)
    }

    /// Resource `explore-rN` of the `account`-th account (DESIGN decision 135).
    fn explore_jid(&self, account: usize, resource: u8) -> Option<String> {
        self.accounts
            .get(account)
            .map(|a| format!("{}/explore-r{resource}", a.jid))
    }

    fn can_send_as(&self, jid: &str) -> Result<(), String> {
        match self.account_of(jid) {
            Some(_) if jid.contains('/') => Ok(()),
            _ => {
                let names: Vec<String> = self.accounts.iter().map(|a| a.jid.to_string()).collect();
                Err(format!(
                    "needs a sender address no account has ({jid}): the c2s target sends only \
                     as resources of its accounts ({}), and the server stamps the address",
                    names.join(", ")
                ))
            }
        }
    }

    fn registration_budget(&self) -> Option<usize> {
        self.exhaust
    }

    async fn go_offline(&mut self, jid: &str) -> Result<(), HarnessError> {
        self.log_out(jid).await;
        Ok(())
    }

    async fn go_online(&mut self, jid: &str) -> Result<(), HarnessError> {
        self.session(jid).await.map(|_| ())
    }
}

/// Runs the suite through the XMPP server: registers the accounts first with
/// `--register` (and removes them at the end), checks every login, runs the cases.
pub async fn run(copts: &C2sOptions, opts: &RunOptions) -> Result<SuiteReport, C2sError> {
    let harness = C2sHarness::new(copts)?;
    if copts.register {
        for (i, a) in copts.accounts.iter().enumerate() {
            if let Err(e) = ibr::register(&copts.server, &copts.tls, a).await {
                // The ones made so far are throwaway too.
                for made in &copts.accounts[..i] {
                    let _ = remove(copts, made).await;
                }
                return Err(C2sError::Register(e.to_string()));
            }
        }
    }
    let result = match harness.check_logins().await {
        Ok(()) => {
            let target = format!("c2s {} ({})", copts.server, copts.service);
            let (report, mut h) = run_suite(Box::new(harness), &target, &for_c2s(), opts).await;
            let _ = h.reset().await;
            Ok(report)
        }
        Err(e) => Err(e),
    };
    if copts.register {
        for a in &copts.accounts {
            let removed = remove(copts, a).await;
            if let (Err(e), Ok(_)) = (removed, &result) {
                return Err(C2sError::Register(format!(
                    "the run finished, but removing {} failed: {e}",
                    a.jid
                )));
            }
        }
    }
    result
}

/// Removes a registered account and checks it can no longer log in.
pub(crate) async fn remove(copts: &C2sOptions, a: &Account) -> Result<(), String> {
    ibr::unregister(&copts.server, &copts.tls, a)
        .await
        .map_err(|e| e.to_string())?;
    let full = Jid::new(&format!("{}/pass-conformance-check", a.jid)).map_err(|e| e.to_string())?;
    match log_in(&copts.server, &copts.tls, a, &full).await {
        Ok(mut s) => {
            let _ = s.shutdown().await;
            Err("the server still lets it log in".into())
        }
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_file_lines() {
        let accounts = parse_password_file(
            "# accounts\nowner@example.org  s3cret pass\n\nb@example.org x\r\n",
        )
        .expect("valid");
        assert_eq!(accounts.len(), 2);
        assert_eq!(accounts[0].jid.as_str(), "owner@example.org");
        assert_eq!(accounts[0].password, "s3cret pass");
        assert_eq!(accounts[1].password, "x");
    }

    #[test]
    fn a_bad_line_is_named() {
        let e = parse_password_file("a@example.org pw\nb@example.org\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().contains("line 2"), "{e}");
        let e = parse_password_file("example.org pw\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.why.contains("not an account"), "{e}");
        let e = parse_password_file("a@@b pw\n").unwrap_err();
        assert_eq!(e.line, 1);
    }
}
