//! Issue 15 item 2, leases survive a restart (docs/DESIGN.md decisions 52–55): the
//! node binary with a lease store, killed with SIGKILL and started again on the same
//! state directory, listens on the same ports, serves callers, keeps each lease's
//! original expiry, sends the expire notice of a lease that expired while it was
//! down, and ends a lease whose port is taken with a notice; an unreadable store
//! stops it with exit 6 unless `--reset-state`; `--no-state` keeps nothing; a
//! graceful stop drains and keeps the leases.

mod common;

use common::*;
use pass_core::stanza::{Iq, IqType, PassMessage};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const OWNER: &str = "owner@example/home";
const BIN: &str = env!("CARGO_BIN_EXE_pass-node");

/// The node binary as a child process; killed (SIGKILL) when dropped.
struct ChildNode {
    child: Child,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
}

impl ChildNode {
    /// Starts the binary against `server` on the pool `ports`, in the working
    /// directory `cwd`, with `args` (the store's flags).
    fn spawn(server: SocketAddr, ports: (u16, u16), cwd: &Path, args: &[&str]) -> ChildNode {
        let log_dir = tempfile::tempdir().unwrap();
        let log = log_dir.path().join("node.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(BIN)
            .args(["--server", &server.to_string(), "--domain", DOMAIN])
            .args(["--public-ip", "127.0.0.1", "--metrics", "off"])
            .args(["--ports", &format!("{}-{}", ports.0, ports.1)])
            .args(["--log-level", "debug", "--drain-timeout", "5"])
            .args(args)
            .current_dir(cwd)
            .env("PASS_NODE_SECRET", SECRET)
            .env_remove("STATE_DIRECTORY")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .unwrap();
        ChildNode {
            child,
            log,
            _log_dir: log_dir,
        }
    }

    /// SIGKILL: no drain, no goodbye.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM (a graceful stop).
    fn term(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("the `kill` command (procps) is needed");
        assert!(status.success());
    }

    /// Waits (bounded) for the process to exit by itself: its code and its log.
    fn wait_exit(&mut self) -> (Option<i32>, String) {
        for _ in 0..300 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return (status.code(), self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the node did not exit:\n{}", self.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ChildNode {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("===== pass-node log =====\n{}", self.log());
        }
    }
}

/// Whether something accepts connections at `addr` within the wait.
async fn listens(addr: SocketAddr) -> bool {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if TcpStream::connect(addr).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Whether a connection to `addr` is refused (nothing listens).
async fn refused(addr: SocketAddr) -> bool {
    matches!(
        tokio::time::timeout(WAIT, TcpStream::connect(addr)).await,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused
    )
}

/// A caller on `lease` reaches the owner: announced, accepted, and bytes relayed
/// both ways, verified.
async fn caller_reaches_the_owner(session: &mut Session, lease: SocketAddr) {
    let mut caller = connect(lease).await;
    let (notice, client, proxy) = session.expect_incoming().await;
    assert_eq!(client, caller.local_addr().unwrap());
    session.ack(&notice).await;
    let mut owner = connect_proxy(proxy).await;
    let there = random_bytes(4096);
    let back = random_bytes(4096);
    caller.write_all(&there).await.unwrap();
    owner.write_all(&back).await.unwrap();
    let mut got = vec![0; there.len()];
    tokio::time::timeout(WAIT, owner.read_exact(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, there);
    let mut got = vec![0; back.len()];
    tokio::time::timeout(WAIT, caller.read_exact(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, back);
}

/// The port of an expire notice, `None` for any other IQ.
fn expire_notice_port(iq: &Iq) -> Option<u16> {
    match PassMessage::from_iq(iq) {
        Ok(PassMessage::ExpireNotice { proxy }) if iq.kind == IqType::Set => Some(proxy.port()),
        _ => None,
    }
}

/// A node with a store in a fresh state directory; its server and its session.
struct Setup {
    server: FakeServer,
    ports: (u16, u16),
    state: tempfile::TempDir,
    cwd: tempfile::TempDir,
}

impl Setup {
    async fn new() -> Setup {
        Setup {
            server: FakeServer::bind(SECRET).await,
            ports: port_pool(),
            state: tempfile::tempdir().unwrap(),
            cwd: tempfile::tempdir().unwrap(),
        }
    }

    fn state_dir(&self) -> &str {
        self.state.path().to_str().unwrap()
    }

    /// Starts the node on the state directory (with `more` flags) and takes its
    /// stream.
    async fn start(&self, more: &[&str]) -> (ChildNode, Session) {
        let mut args = vec!["--state-dir", self.state_dir()];
        args.extend_from_slice(more);
        let node = ChildNode::spawn(self.server.addr, self.ports, self.cwd.path(), &args);
        let session = self.server.accept_ok().await;
        (node, session)
    }
}

#[tokio::test]
async fn after_a_kill_the_leases_listen_again_and_a_caller_reaches_the_owner() {
    let setup = Setup::new().await;
    let (mut node, mut session) = setup.start(&[]).await;
    let plain = session.register(OWNER, "").await;
    let timed = session.register(OWNER, "<expire>600</expire>").await;
    let oneshot = session.register(OWNER, "<oneshot/>").await;
    node.kill();
    for lease in [plain, timed, oneshot] {
        assert!(refused(lease).await, "{lease} listens with the node dead");
    }

    let started = Instant::now();
    let (_node, mut session) = setup.start(&[]).await;
    for lease in [plain, timed, oneshot] {
        assert!(
            listens(lease).await,
            "{lease} does not listen after the restart"
        );
    }
    eprintln!("restart to all listening: {:?}", started.elapsed());
    // The probes above were callers too; each was announced (or dropped on a busy
    // lease). Refuse them all, then call for real.
    while let Ok(Ok(pass_core::xml::StreamEvent::Stanza(e))) = tokio::time::timeout(
        Duration::from_millis(500),
        session.try_next_event(Duration::from_millis(500)),
    )
    .await
    {
        let iq = Iq::try_from(&e).unwrap();
        assert!(
            matches!(
                PassMessage::from_iq(&iq),
                Ok(PassMessage::IncomingConnection { .. })
            ),
            "no notice is due after a restart: {iq:?}"
        );
        let deny = format!(
            "<iq type='error' id='{}' from='{OWNER}' to='{DOMAIN}'><error type='auth'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
            iq.id
        );
        session.send_raw(&deny).await;
    }
    caller_reaches_the_owner(&mut session, timed).await;
    caller_reaches_the_owner(&mut session, plain).await;
    // The registering IQs of a new run get ports the restored leases do not hold.
    let fresh = session.register(OWNER, "").await;
    assert!(![plain, timed, oneshot].contains(&fresh));
}

#[tokio::test]
async fn the_original_expiry_is_kept_and_a_lease_expired_while_down_gets_its_notice() {
    let setup = Setup::new().await;
    let (mut node, mut session) = setup.start(&[]).await;
    let registered = Instant::now();
    let short = session.register(OWNER, "<expire>2</expire>").await;
    let long = session.register(OWNER, "<expire>6</expire>").await;
    node.kill();
    // Down past the short lease's expiry.
    tokio::time::sleep(Duration::from_millis(3000)).await;

    let (_node, mut session) = setup.start(&[]).await;
    let first = session.next_iq().await;
    assert_eq!(
        expire_notice_port(&first),
        Some(short.port()),
        "the first stanza after the restart is not the expire notice of the lease that expired while down: {first:?}"
    );
    assert!(refused(short).await, "the expired lease's port listens");
    assert!(listens(long).await);
    // A caller probe above may have been announced: it is no expire notice.
    let second = loop {
        let iq = tokio::time::timeout(Duration::from_secs(10), session.next_iq())
            .await
            .expect("no expire notice for the 6 s lease");
        if expire_notice_port(&iq).is_some() {
            break iq;
        }
    };
    let at = registered.elapsed();
    assert_eq!(expire_notice_port(&second), Some(long.port()));
    // 6 s from the registration, not from the restart (which would be 9 s or later).
    assert!(
        at >= Duration::from_millis(5500) && at < Duration::from_millis(8500),
        "the 6 s lease expired {at:?} after its registration"
    );
}

#[tokio::test]
async fn a_port_that_cannot_be_bound_again_ends_its_lease_with_a_notice() {
    let setup = Setup::new().await;
    let (mut node, mut session) = setup.start(&[]).await;
    let taken = session.register(OWNER, "").await;
    let kept = session.register(OWNER, "").await;
    node.kill();
    // Something else listens on the first lease's port meanwhile.
    let squatter = std::net::TcpListener::bind(taken).expect("bind the lease's port");

    let (_node, mut session) = setup.start(&[]).await;
    let first = session.next_iq().await;
    assert_eq!(
        expire_notice_port(&first),
        Some(taken.port()),
        "no expire notice for the lease whose port is taken: {first:?}"
    );
    caller_reaches_the_owner(&mut session, kept).await;
    drop(squatter);
}

#[tokio::test]
async fn an_unreadable_store_stops_the_node_with_exit_6_until_reset_state() {
    let setup = Setup::new().await;
    let file = setup.state.path().join("leases.redb");
    std::fs::write(&file, vec![0xa5; 16384]).unwrap();
    let mut node = ChildNode::spawn(
        setup.server.addr,
        setup.ports,
        setup.cwd.path(),
        &["--state-dir", setup.state_dir()],
    );
    let (code, log) = node.wait_exit();
    assert_eq!(code, Some(6), "{log}");
    assert!(log.contains(&file.display().to_string()), "{log}");
    assert!(log.contains("unreadable"), "{log}");
    assert!(log.contains("--reset-state"), "{log}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        vec![0xa5; 16384],
        "the file was touched"
    );

    let (mut node, mut session) = setup.start(&["--reset-state"]).await;
    let lease = session.register(OWNER, "").await;
    node.kill();
    // The reset store works as any other.
    let (_node, _session) = setup.start(&[]).await;
    assert!(listens(lease).await);
}

#[tokio::test]
async fn a_second_node_on_the_same_store_exits_6() {
    let setup = Setup::new().await;
    let (_node, _session) = setup.start(&[]).await;
    let mut second = ChildNode::spawn(
        setup.server.addr,
        port_pool(),
        setup.cwd.path(),
        &["--state-dir", setup.state_dir()],
    );
    let (code, log) = second.wait_exit();
    assert_eq!(code, Some(6), "{log}");
    assert!(log.contains("in use by another process"), "{log}");
}

#[tokio::test]
async fn no_state_keeps_nothing_and_writes_nothing() {
    let setup = Setup::new().await;
    let mut node = ChildNode::spawn(
        setup.server.addr,
        setup.ports,
        setup.cwd.path(),
        &["--no-state"],
    );
    let mut session = setup.server.accept_ok().await;
    let lease = session.register(OWNER, "").await;
    node.kill();
    let _node = ChildNode::spawn(
        setup.server.addr,
        setup.ports,
        setup.cwd.path(),
        &["--no-state"],
    );
    let _session = setup.server.accept_ok().await;
    assert!(refused(lease).await, "a lease came back with --no-state");
    let written: Vec<_> = std::fs::read_dir(setup.cwd.path()).unwrap().collect();
    assert!(written.is_empty(), "--no-state wrote {written:?}");
}

#[tokio::test]
async fn the_store_is_in_state_directory_else_under_the_working_directory() {
    let setup = Setup::new().await;
    // No flag: ./pass-node-state.
    let mut node = ChildNode::spawn(setup.server.addr, setup.ports, setup.cwd.path(), &[]);
    let _session = setup.server.accept_ok().await;
    node.kill();
    assert!(setup
        .cwd
        .path()
        .join("pass-node-state/leases.redb")
        .is_file());
    // $STATE_DIRECTORY, as systemd sets it from StateDirectory=.
    let log_dir = tempfile::tempdir().unwrap();
    let child = Command::new(BIN)
        .args([
            "--server",
            &setup.server.addr.to_string(),
            "--domain",
            DOMAIN,
        ])
        .args(["--public-ip", "127.0.0.1", "--metrics", "off"])
        .args(["--ports", &format!("{}-{}", setup.ports.0, setup.ports.1)])
        .current_dir(log_dir.path())
        .env("PASS_NODE_SECRET", SECRET)
        .env("STATE_DIRECTORY", setup.state.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut node = ChildNode {
        child,
        log: log_dir.path().join("none"),
        _log_dir: tempfile::tempdir().unwrap(),
    };
    let _session = setup.server.accept_ok().await;
    node.kill();
    assert!(setup.state.path().join("leases.redb").is_file());
    assert!(!log_dir.path().join("pass-node-state").exists());
}

#[tokio::test]
async fn a_graceful_stop_drains_relays_and_keeps_the_leases_without_a_notice() {
    let setup = Setup::new().await;
    let (mut node, mut session) = setup.start(&[]).await;
    let lease = session.register(OWNER, "").await;
    let mut caller = connect(lease).await;
    let (notice, _, proxy) = session.expect_incoming().await;
    session.ack(&notice).await;
    let mut owner = connect_proxy(proxy).await;

    node.term();
    // The relay keeps flowing while the node drains.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let data = random_bytes(8192);
    owner.write_all(&data).await.unwrap();
    let mut got = vec![0; data.len()];
    tokio::time::timeout(WAIT, caller.read_exact(&mut got))
        .await
        .expect("the relay stopped at the graceful stop")
        .unwrap();
    assert_eq!(got, data);
    assert!(
        refused(lease).await,
        "the lease port still listens while draining"
    );
    drop(caller);
    drop(owner);
    let (code, log) = node.wait_exit();
    assert_eq!(code, Some(0), "{log}");
    // No close notice: the lease is kept (DESIGN decision 53).
    if let Ok(pass_core::xml::StreamEvent::Stanza(e)) = session.try_next_event(WAIT).await {
        let iq = Iq::try_from(&e).unwrap();
        panic!("a stanza at a graceful stop with a store: {iq:?}");
    }

    let (_node, mut session) = setup.start(&[]).await;
    assert!(listens(lease).await);
    let (notice, _, _) = session.expect_incoming().await;
    assert_eq!(
        notice.to.as_ref().map(ToString::to_string).as_deref(),
        Some(OWNER)
    );
}
