//! Issue 15 item 5, exhaustion without harm (docs/DESIGN.md decision 51): more
//! callers than `--max-relays`, or than the node has file descriptors, are refused
//! while every established relay keeps moving verified bytes and the node keeps
//! answering IQs; once the flood stops, new callers are served.

mod common;

use common::*;
use pass_core::stanza::{Iq, IqType, PassMessage};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

const OWNER: &str = "owner@example/home";
const BIN: &str = env!("CARGO_BIN_EXE_pass-node");

/// A relay kept busy: the caller sends random chunks, the owner echoes them, the
/// caller checks every byte that comes back.
struct Flow {
    rounds: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: JoinHandle<Result<(), String>>,
}

impl Flow {
    async fn start(session: &mut Session, lease: SocketAddr) -> Flow {
        let mut caller = connect(lease).await;
        let notice = incoming_for(session, &caller).await;
        session.ack(&notice.0).await;
        let owner = connect_proxy(notice.1).await;
        tokio::spawn(async move {
            let (mut r, mut w) = owner.into_split();
            let _ = tokio::io::copy(&mut r, &mut w).await;
        });
        let rounds = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (Arc::clone(&rounds), Arc::clone(&stop));
        let task = tokio::spawn(async move {
            let mut back = vec![0u8; 1024];
            while !s.load(Ordering::Relaxed) {
                let chunk = random_bytes(1024);
                caller.write_all(&chunk).await.map_err(|e| e.to_string())?;
                tokio::time::timeout(WAIT, caller.read_exact(&mut back))
                    .await
                    .map_err(|_| "echo timed out".to_string())?
                    .map_err(|e| e.to_string())?;
                if back != chunk {
                    return Err("relayed bytes differ".to_string());
                }
                r.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok(())
        });
        Flow { rounds, stop, task }
    }

    /// Asserts bytes keep moving: more verified rounds after a short while.
    async fn assert_moving(&self, what: &str) {
        let before = self.rounds.load(Ordering::Relaxed);
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if self.rounds.load(Ordering::Relaxed) > before + 3 {
                return;
            }
            assert!(!self.task.is_finished(), "{what}: the relay stopped");
        }
        panic!("{what}: the relay stalled at {before} rounds");
    }

    async fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let r = tokio::time::timeout(WAIT, self.task)
            .await
            .expect("flow did not end")
            .expect("flow task panicked");
        r.unwrap_or_else(|e| panic!("relay failed: {e}"));
        self.rounds.load(Ordering::Relaxed)
    }
}

/// The incoming-connection notice for `caller`, skipping others (stale callers of
/// a flood); returns (notice, proxy).
async fn incoming_for(session: &mut Session, caller: &TcpStream) -> (Iq, SocketAddr) {
    let me = caller.local_addr().unwrap();
    loop {
        let (notice, client, proxy) = session.expect_incoming().await;
        if client == me {
            return (notice, proxy);
        }
    }
}

/// Sends a ping and waits for its answer, skipping notices meant for the owner.
async fn assert_answers_ping(session: &mut Session, id: &str) {
    session
        .send_iq(
            "someone@example/x",
            id,
            "get",
            "<ping xmlns='urn:xmpp:ping'/>",
        )
        .await;
    loop {
        let iq = session.next_iq().await;
        if iq.id == id {
            assert_eq!(iq.kind, IqType::Result, "ping answer: {iq:?}");
            return;
        }
        assert_eq!(iq.kind, IqType::Set, "unexpected stanza: {iq:?}");
    }
}

/// Opens `n` connections, spread over `targets`, and holds them.
async fn flood(targets: &[SocketAddr], n: usize) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(n);
    for i in 0..n {
        if let Ok(Ok(s)) = tokio::time::timeout(
            Duration::from_secs(2),
            TcpStream::connect(targets[i % targets.len()]),
        )
        .await
        {
            held.push(s);
        }
    }
    held
}

/// How many of `callers` the node closed within a short wait.
async fn count_closed(callers: &mut [TcpStream]) -> usize {
    let checks = callers.iter_mut().map(|s| async move {
        let mut buf = [0u8; 16];
        matches!(
            tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    });
    futures::future::join_all(checks)
        .await
        .into_iter()
        .filter(|c| *c)
        .count()
}

/// A new caller on `lease` is announced and relays verified bytes. A caller that is
/// not announced is tried again: the flood's last callers, still in the lease's
/// backlog, may hold the lease's one session for a moment. One that is announced
/// must be served: its owner is never refused (DESIGN decision 140).
async fn assert_serves_a_new_caller(session: &mut Session, lease: SocketAddr) {
    for _ in 0..10 {
        let mut caller = connect(lease).await;
        let me = caller.local_addr().unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        let found = loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match session.try_next_event(left).await {
                Ok(pass_core::xml::StreamEvent::Stanza(e)) => {
                    let iq = Iq::try_from(&e).expect("node sent a valid IQ");
                    if let Ok(PassMessage::IncomingConnection { client, proxy }) =
                        PassMessage::from_iq(&iq)
                    {
                        if client == me {
                            break Some((iq, proxy));
                        }
                    }
                }
                Ok(other) => panic!("unexpected {other:?}"),
                Err(_) => break None,
            }
        };
        let Some((notice, proxy)) = found else {
            continue;
        };
        session.ack(&notice).await;
        let mut owner = connect_proxy(proxy).await;
        let data = random_bytes(64 * 1024);
        caller.write_all(&data).await.unwrap();
        caller.shutdown().await.unwrap();
        let (got, clean) = read_to_end(&mut owner).await;
        assert!(
            clean && got == data,
            "new caller's bytes differ: {} of {} bytes, {}",
            got.len(),
            data.len(),
            if clean { "then EOF" } else { "then an error" }
        );
        return;
    }
    panic!("no new caller on {lease} was served after the flood");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_past_max_relays_are_refused_while_relays_flow_and_iqs_are_answered() {
    let (_server, mut session, node) = node_with(|c| {
        c.core.max_relays = 2;
        c.core.call_burst = 100_000;
        c.core.call_per_second = 100_000;
    })
    .await;
    let a = session.register(OWNER, "").await;
    let b = session.register(OWNER, "").await;
    let c = session.register(OWNER, "").await;
    let flow_a = Flow::start(&mut session, a).await;
    let flow_b = Flow::start(&mut session, b).await;
    // 200 callers: on the free lease (past max_relays) and on the busy ones.
    let mut callers = flood(&[c, a, b], 200).await;
    assert_eq!(callers.len(), 200, "the flood could not connect");
    flow_a.assert_moving("relay a during the flood").await;
    flow_b.assert_moving("relay b during the flood").await;
    assert_answers_ping(&mut session, "p1").await;
    let refused = count_closed(&mut callers).await;
    assert_eq!(refused, 200, "callers past max_relays not refused");
    // No caller of the flood was announced.
    assert_answers_ping(&mut session, "p2").await;
    drop(callers);
    flow_a.assert_moving("relay a after the flood").await;
    // A relay ends: the lease past the limit serves its next caller.
    assert!(flow_b.finish().await > 0);
    assert_serves_a_new_caller(&mut session, c).await;
    assert!(flow_a.finish().await > 0);
    node.stop().await.unwrap();
}

/// A node binary run as a child, logging to a file.
struct ChildNode {
    child: Child,
    log: tempfile::NamedTempFile,
    metrics: SocketAddr,
}

impl ChildNode {
    fn spawn(server: SocketAddr) -> ChildNode {
        let first = port_pool().0;
        let _ = port_pool();
        let last = port_pool().1;
        let metrics = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap();
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = Command::new(BIN)
            .args(["--server", &server.to_string(), "--domain", DOMAIN])
            .args(["--public-ip", "127.0.0.1", "--relay-mode", "copy"])
            .args(["--ports", &format!("{first}-{last}")])
            .args(["--metrics", &metrics.to_string()])
            .args(["--call-burst", "100000", "--call-per-second", "100000"])
            // Flood callers the owner never answers hold a descriptor this long.
            .args(["--answer-timeout", "3"])
            .arg("--no-state")
            .env("PASS_NODE_SECRET", SECRET)
            .stdout(Stdio::null())
            .stderr(Stdio::from(log.reopen().unwrap()))
            .spawn()
            .unwrap();
        ChildNode {
            child,
            log,
            metrics,
        }
    }

    fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap()
    }

    /// The open descriptor numbers.
    fn fds(&self) -> Vec<u32> {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect()
    }

    /// Waits until the node holds no more descriptors than `baseline`: the flood's
    /// callers it accepted are closed (those the owner never answered, at the answer
    /// timeout). A node that keeps them has leaked them.
    async fn settle_descriptors(&self, baseline: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let open = self.fds().len();
            if open <= baseline {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{open} descriptors open 15 s after the flood, {baseline} before it: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Lowers the soft descriptor limit so that exactly `spare` more can be opened.
    fn leave_descriptors(&self, spare: u32) {
        let open = self.fds();
        let mut free = 0;
        let mut limit = 0u32;
        while free < spare {
            if !open.contains(&limit) {
                free += 1;
            }
            limit += 1;
        }
        let (mut soft, mut hard) = (0, 0);
        rlimit::prlimit(
            self.pid(),
            rlimit::Resource::NOFILE,
            None,
            Some((&mut soft, &mut hard)),
        )
        .unwrap();
        rlimit::prlimit(
            self.pid(),
            rlimit::Resource::NOFILE,
            Some((u64::from(limit), hard)),
            None,
        )
        .unwrap();
    }

    /// One metric's value from the Prometheus endpoint.
    async fn metric(&self, line_start: &str) -> u64 {
        let mut s = connect(self.metrics).await;
        s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").await.unwrap();
        let (body, _) = read_to_end(&mut s).await;
        let body = String::from_utf8_lossy(&body);
        body.lines()
            .find_map(|l| l.strip_prefix(line_start)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {line_start} in {body}"))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// SIGTERM, then the exit code.
    fn stop(mut self) -> (Option<i32>, String) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..300 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return (status.code(), self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        (None, self.log())
    }
}

impl Drop for ChildNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_past_the_descriptor_limit_are_refused_and_served_once_the_flood_stops() {
    let server = FakeServer::bind(SECRET).await;
    let node = ChildNode::spawn(server.addr);
    let mut session = server.accept_ok().await;
    let a = session.register(OWNER, "").await;
    let targets = [
        session.register(OWNER, "").await,
        session.register(OWNER, "").await,
        session.register(OWNER, "").await,
    ];
    let flow = Flow::start(&mut session, a).await;
    flow.assert_moving("relay before the limit").await;
    // Room for one more session (caller, proxy listener, owner), no more.
    node.leave_descriptors(3);
    let baseline = node.fds().len();
    let cpu_before = cpu_ticks(node.pid());
    let t0 = std::time::Instant::now();
    let mut callers = flood(&targets, 300).await;
    flow.assert_moving("relay during the flood").await;
    assert_answers_ping(&mut session, "during").await;
    // A register needs a descriptor: it is answered all the same (502 if none).
    let reg = session.register_raw(OWNER, "reg-during", "").await;
    assert!(
        matches!(reg.kind, IqType::Result | IqType::Error),
        "{reg:?}"
    );
    // A lease granted now keeps its listening socket: one descriptor for good.
    let baseline = baseline + usize::from(reg.kind == IqType::Result);
    let refused = count_closed(&mut callers).await;
    assert!(refused > 0, "no caller refused: {}", node.log());
    // Never a busy loop: the node used well under a core while out of descriptors.
    let cpu = cpu_ticks(node.pid()) - cpu_before;
    let wall = t0.elapsed().as_secs_f64() * ticks_per_second();
    assert!(
        (cpu as f64) < wall * 0.5,
        "{cpu} ticks of CPU in {wall} ticks of wall time"
    );
    drop(callers);
    flow.assert_moving("relay after the flood").await;
    // "Once the flood stops" is once the node has let go of it: until then a new
    // session may find no descriptor for its proxy connection, which is refused.
    node.settle_descriptors(baseline).await;
    assert_serves_a_new_caller(&mut session, targets[0]).await;
    assert_answers_ping(&mut session, "after").await;
    assert!(flow.finish().await > 0);
    // Out-of-descriptor failures were seen and counted, and no pool port was set
    // aside for them (the port was not at fault).
    assert!(node.metric("pass_node_accept_errors_total ").await > 0);
    assert!(
        node.metric("pass_calls_refused_total{reason=\"descriptors\"} ")
            .await
            > 0,
        "{}",
        node.log()
    );
    assert_eq!(node.metric("pass_ports_quarantined ").await, 0);
    let (code, log) = node.stop();
    assert_eq!(code, Some(0), "{log}");
}

/// User plus system CPU time of a process, in clock ticks.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which is in parentheses): utime is the 12th.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn ticks_per_second() -> f64 {
    100.0
}
