//! The network target: the runner plays the XMPP server's side of XEP-0114.
//!
//! The implementation connects to `--listen` as it would to its XMPP server; the
//! runner checks the handshake (pass-core's [`ServerHandshake`]), then routes: the
//! stanzas it sends carry `from` = user JIDs, the stanzas the implementation sends
//! go to the case by their `to`. Third parties and owners are real TCP connections
//! to the addresses the implementation advertised.

use crate::catalogue::catalogue;
use crate::harness::{ConnectError, Harness, HarnessError, ReadEvent, SockId, TargetInfo};
use crate::runner::{run_suite, RunOptions, Status, SuiteReport};
use crate::sockets::Sockets;
use crate::xmlfmt::to_xml_in;
use async_trait::async_trait;
use pass_core::component::{ServerHandshake, ServerStep, StreamError, StreamErrorCondition};
use pass_core::ns;
use pass_core::xml::{Element, Limits, StreamEvent, StreamFramer, STREAM_CLOSE};
use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// How the runner reaches the implementation.
#[derive(Clone, Debug)]
pub struct ComponentOptions {
    /// Where to listen for the component connection (`IP:PORT`).
    pub listen: String,
    /// The component's domain: the service JID.
    pub domain: String,
    /// The shared secret.
    pub secret: String,
    /// A command starting the implementation (`sh -c`), stopped at the end.
    pub spawn: Option<String>,
    /// How long to wait for a stanza that should come.
    pub answer_wait: Duration,
    /// How long to wait for connects, bytes and EOFs.
    pub io_wait: Duration,
    /// The implementation's owner-answer timeout.
    pub impl_answer_timeout: Duration,
    /// How long to wait for the implementation to connect or reconnect.
    pub connect_wait: Duration,
}

/// Why the run could not happen (exit code 2).
#[derive(Debug)]
pub enum RunError {
    /// The listen address is taken or invalid.
    Listen(String),
    /// The implementation could not be started.
    Spawn(String),
    /// Nothing connected in time; with the implementation's output, if spawned.
    NeverConnected(String),
    /// The XEP-0114 handshake failed (e.g. wrong secret).
    Handshake(String),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Listen(m) => f.write_str(m),
            RunError::Spawn(m) => write!(f, "cannot start the implementation: {m}"),
            RunError::NeverConnected(m) => f.write_str(m),
            RunError::Handshake(m) => write!(f, "handshake failed: {m}"),
        }
    }
}

impl std::error::Error for RunError {}

/// What the stream reader passes on.
enum LinkEvent {
    Stanza(Element),
    Broken(String),
}

/// A handshaken component stream.
struct Link {
    writer: OwnedWriteHalf,
    events: mpsc::UnboundedReceiver<LinkEvent>,
    reader: JoinHandle<()>,
}

impl Drop for Link {
    fn drop(&mut self) {
        // Best effort: close the stream as a server would (never blocks).
        let _ = self.writer.try_write(STREAM_CLOSE.as_bytes());
        self.reader.abort();
    }
}

/// Reads the next framer event, feeding it from `r`; bounded by `wait`.
async fn next_event(
    r: &mut (impl AsyncRead + Unpin),
    framer: &mut StreamFramer,
    wait: Duration,
) -> Result<StreamEvent, String> {
    let read = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            if let Some(ev) = framer.next_event() {
                return ev.map_err(|e| format!("malformed XML from the implementation: {e}"));
            }
            let n = r
                .read(&mut buf)
                .await
                .map_err(|e| format!("connection error: {e}"))?;
            if n == 0 {
                return Err("the implementation closed the connection".into());
            }
            framer.feed(&buf[..n]);
        }
    };
    timeout(wait, read).await.unwrap_or_else(|_| {
        Err(format!(
            "nothing from the implementation for {} s",
            wait.as_secs_f32()
        ))
    })
}

/// Accepts the implementation's connection and runs the handshake.
async fn accept_link(
    listener: &TcpListener,
    domain: &str,
    secret: &str,
    wait: Duration,
) -> Result<Link, RunError> {
    let (stream, _) = match timeout(wait, listener.accept()).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            return Err(RunError::NeverConnected(format!(
                "accepting the implementation's connection failed: {e}"
            )))
        }
        Err(_) => {
            return Err(RunError::NeverConnected(format!(
                "the implementation never connected within {} s",
                wait.as_secs_f32()
            )))
        }
    };
    let (mut read, mut writer) = stream.into_split();
    let mut framer = StreamFramer::new(Limits::default());
    let id: String = (0..16)
        .map(|_| format!("{:x}", rand::random::<u8>() & 0xf))
        .collect();
    let mut opening = ServerHandshake::new(domain, secret, &id);
    let io = |e: std::io::Error| RunError::Handshake(format!("write failed: {e}"));
    loop {
        let ev = next_event(&mut read, &mut framer, wait)
            .await
            .map_err(RunError::Handshake)?;
        match opening.handle(ev) {
            Ok(ServerStep::Send(xml)) => writer.write_all(xml.as_bytes()).await.map_err(io)?,
            Ok(ServerStep::Accepted(xml)) => {
                writer.write_all(xml.as_bytes()).await.map_err(io)?;
                break;
            }
            Ok(ServerStep::Refused(xml)) => {
                let _ = writer.write_all(xml.as_bytes()).await;
                let _ = writer.shutdown().await;
                return Err(RunError::Handshake("wrong secret".into()));
            }
            Err(e) => return Err(RunError::Handshake(e.to_string())),
        }
    }
    let (tx, events) = mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        loop {
            let ev = match next_event(&mut read, &mut framer, Duration::from_secs(24 * 3600)).await
            {
                Ok(StreamEvent::Stanza(e)) => LinkEvent::Stanza(e),
                Ok(StreamEvent::StreamError(e)) => LinkEvent::Broken(format!(
                    "the implementation sent a stream error: {}",
                    crate::xmlfmt::to_xml(&e)
                )),
                Ok(StreamEvent::End) => {
                    LinkEvent::Broken("the implementation closed its stream".into())
                }
                Ok(StreamEvent::Header(_)) => LinkEvent::Broken("a second stream header".into()),
                Err(e) => LinkEvent::Broken(e),
            };
            let broken = matches!(ev, LinkEvent::Broken(_));
            if tx.send(ev).is_err() || broken {
                return;
            }
        }
    });
    Ok(Link {
        writer,
        events,
        reader,
    })
}

/// The harness over a component stream.
pub struct ComponentHarness {
    info: TargetInfo,
    listener: TcpListener,
    secret: String,
    connect_wait: Duration,
    link: Option<Link>,
    socks: Sockets,
}

impl ComponentHarness {
    /// Listens, then waits for the implementation and handshakes.
    pub async fn start(opts: &ComponentOptions) -> Result<ComponentHarness, RunError> {
        let listener = TcpListener::bind(&opts.listen).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                RunError::Listen(format!(
                    "port in use: cannot listen on {}: {e}",
                    opts.listen
                ))
            } else {
                RunError::Listen(format!("cannot listen on {}: {e}", opts.listen))
            }
        })?;
        Ok(ComponentHarness {
            info: TargetInfo {
                service: opts.domain.clone(),
                user_domain: "localhost".into(),
                answer_wait: opts.answer_wait,
                io_wait: opts.io_wait,
                impl_answer_timeout: opts.impl_answer_timeout,
            },
            listener,
            secret: opts.secret.clone(),
            connect_wait: opts.connect_wait,
            link: None,
            socks: Sockets::default(),
        })
    }

    /// Waits for the implementation's (first) connection.
    pub async fn connect_implementation(&mut self) -> Result<(), RunError> {
        let link = accept_link(
            &self.listener,
            &self.info.service,
            &self.secret,
            self.connect_wait,
        )
        .await?;
        self.link = Some(link);
        Ok(())
    }

    async fn break_link(&mut self, why: &str) -> HarnessError {
        if let Some(mut l) = self.link.take() {
            if why.starts_with("malformed") {
                let refusal = StreamError::new(StreamErrorCondition::NotWellFormed);
                let _ = l
                    .writer
                    .write_all(refusal.to_xml_closing().as_bytes())
                    .await;
            }
            let _ = l.writer.shutdown().await;
        }
        HarnessError(why.to_string())
    }

    /// Waits for the implementation to connect again; `why` prefixes the error.
    async fn accept_again(&mut self, why: &str) -> Result<(), HarnessError> {
        let link = accept_link(
            &self.listener,
            &self.info.service,
            &self.secret,
            self.connect_wait,
        )
        .await
        .map_err(|e| HarnessError(format!("{why}: {e}")))?;
        self.link = Some(link);
        Ok(())
    }

    fn disconnected() -> HarnessError {
        HarnessError("implementation disconnected".into())
    }
}

#[async_trait(?Send)]
impl Harness for ComponentHarness {
    fn info(&self) -> &TargetInfo {
        &self.info
    }

    async fn send_stanza(&mut self, stanza: &Element) -> Result<(), HarnessError> {
        let Some(link) = self.link.as_mut() else {
            return Err(Self::disconnected());
        };
        let xml = to_xml_in(stanza, ns::COMPONENT);
        if let Err(e) = link.writer.write_all(xml.as_bytes()).await {
            return Err(self
                .break_link(&format!("implementation disconnected: {e}"))
                .await);
        }
        Ok(())
    }

    async fn next_stanza(&mut self, wait: Duration) -> Result<Option<Element>, HarnessError> {
        let Some(link) = self.link.as_mut() else {
            return Err(Self::disconnected());
        };
        match timeout(wait, link.events.recv()).await {
            Err(_) => Ok(None),
            Ok(Some(LinkEvent::Stanza(e))) => Ok(Some(e)),
            Ok(Some(LinkEvent::Broken(why))) => Err(self.break_link(&why).await),
            Ok(None) => Err(self.break_link("implementation disconnected").await),
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
        if let Some(link) = self.link.as_mut() {
            // Leftovers of the last case are nobody's business now.
            loop {
                match link.events.try_recv() {
                    Ok(LinkEvent::Stanza(_)) => continue,
                    Ok(LinkEvent::Broken(_)) | Err(mpsc::error::TryRecvError::Disconnected) => {
                        self.link = None;
                        break;
                    }
                    Err(mpsc::error::TryRecvError::Empty) => break,
                }
            }
        }
        if self.link.is_none() {
            self.accept_again("implementation disconnected and did not reconnect")
                .await?;
        }
        Ok(())
    }

    async fn cut_stream(&mut self) -> Result<(), HarnessError> {
        if let Some(mut l) = self.link.take() {
            let _ = l.writer.shutdown().await;
            l.reader.abort();
        }
        self.accept_again("the stream was cut and not re-established")
            .await
    }
}

/// The implementation as a child process, with the tail of its output kept.
pub struct Spawned {
    child: tokio::process::Child,
    /// The process group's id (the shell's pid): kept, since the child's own id is
    /// gone once it has been reaped, while what it started may live on.
    pgid: Option<u32>,
    tail: Arc<Mutex<VecDeque<String>>>,
}

impl Spawned {
    /// Starts `sh -c command` in its own process group.
    pub fn start(command: &str) -> Result<Spawned, RunError> {
        Spawned::start_with(command, &[])
    }

    /// Starts `sh -c command` in its own process group, with `env` added to the
    /// environment.
    pub fn start_with(command: &str, env: &[(String, String)]) -> Result<Spawned, RunError> {
        let mut cmd = tokio::process::Command::new("sh");
        cmd.arg("-c")
            .arg(command)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| RunError::Spawn(format!("sh -c {command:?}: {e}")))?;
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let pgid = child.id();
        if let Some(out) = child.stdout.take() {
            keep_tail(out, tail.clone());
        }
        if let Some(err) = child.stderr.take() {
            keep_tail(err, tail.clone());
        }
        Ok(Spawned { child, pgid, tail })
    }

    /// The last lines the implementation wrote.
    pub fn tail(&self) -> String {
        self.tail
            .lock()
            .map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }

    /// The exit status, once the process has exited; `None` while it runs.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits up to `wait` for the process to exit.
    pub async fn wait_exit(&mut self, wait: Duration) -> Option<std::process::ExitStatus> {
        timeout(wait, self.child.wait())
            .await
            .ok()
            .and_then(|r| r.ok())
    }

    /// Sends SIGTERM to the process group (the shell and what it started).
    pub fn terminate(&self) {
        self.signal("-TERM");
    }

    fn signal(&self, which: &str) {
        if let Some(pgid) = self.pgid {
            let _ = std::process::Command::new("kill")
                .arg(which)
                .arg("--")
                .arg(format!("-{pgid}"))
                .stderr(std::process::Stdio::null())
                .status();
        }
    }

    /// Stops the process group (TERM, then KILL after 2 s) and waits for it; what is
    /// left of the group after the shell ends is killed too.
    pub async fn stop(mut self) -> String {
        self.terminate();
        let _ = timeout(Duration::from_secs(2), self.child.wait()).await;
        self.signal("-KILL");
        let _ = self.child.kill().await;
        self.tail()
    }
}

fn keep_tail(r: impl AsyncRead + Unpin + Send + 'static, tail: Arc<Mutex<VecDeque<String>>>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(r).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(mut t) = tail.lock() {
                t.push_back(line);
                while t.len() > 40 {
                    t.pop_front();
                }
            }
        }
    });
}

/// Runs the suite against an implementation that connects as a component.
pub async fn run(copts: &ComponentOptions, opts: &RunOptions) -> Result<SuiteReport, RunError> {
    let mut harness = ComponentHarness::start(copts).await?;
    let spawned = match &copts.spawn {
        Some(cmd) => Some(Spawned::start(cmd)?),
        None => None,
    };
    if let Err(e) = harness.connect_implementation().await {
        let e = match (e, spawned) {
            (RunError::NeverConnected(m), Some(s)) => {
                let tail = s.stop().await;
                RunError::NeverConnected(format!("{m}; its output ends with:\n{tail}"))
            }
            (e, Some(s)) => {
                s.stop().await;
                e
            }
            (e, None) => e,
        };
        return Err(e);
    }
    let target = format!("component {} ({})", copts.listen, copts.domain);
    let (mut report, harness) = run_suite(Box::new(harness), &target, &catalogue(), opts).await;
    // Stop a spawned implementation before closing its stream, so that it does not
    // spend its last moments reconnecting.
    if let Some(s) = spawned {
        let tail = s.stop().await;
        if report.count(Status::Fail) > 0 && !tail.is_empty() {
            report.impl_log_tail = Some(tail);
        }
    }
    drop(harness);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctx::Ctx;
    use crate::transcript::{Event, Side};

    /// A peer that closes cleanly is a FIN in the transcript, one that aborts
    /// (SO_LINGER 0) an RST (DESIGN decision 45).
    #[tokio::test]
    async fn fin_and_rst_from_the_peer_are_told_apart() {
        let opts = ComponentOptions {
            listen: "127.0.0.1:0".into(),
            domain: "pass.localhost".into(),
            secret: "s".into(),
            spawn: None,
            answer_wait: Duration::from_secs(5),
            io_wait: Duration::from_secs(5),
            impl_answer_timeout: Duration::from_secs(5),
            connect_wait: Duration::from_secs(5),
        };
        let harness = ComponentHarness::start(&opts).await.expect("listens");
        let peer = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let addr = peer.local_addr().expect("has an address");
        let mut c = Ctx::new(Box::new(harness), 1);
        let wait = Duration::from_secs(5);
        for abort in [false, true] {
            let (s, _) = c.connect("a third party", addr).await.expect("connects");
            let (stream, _) = timeout(wait, peer.accept())
                .await
                .expect("in time")
                .expect("accepts");
            if abort {
                stream.set_zero_linger().expect("sets SO_LINGER");
            }
            drop(stream);
            let ev = c.read_event(s, wait).await.expect("reads");
            let want = if abort {
                ReadEvent::Reset
            } else {
                ReadEvent::Eof
            };
            assert_eq!(ev, want);
        }
        let kinds: Vec<&Event> = c
            .transcript()
            .entries
            .iter()
            .map(|e| &e.event)
            .filter(|e| !matches!(e, Event::Connect { .. }))
            .collect();
        assert_eq!(
            kinds,
            [
                &Event::Fin {
                    conn: 1,
                    by: Side::Implementation
                },
                &Event::Reset {
                    conn: 2,
                    by: Side::Implementation
                }
            ]
        );
    }
}
