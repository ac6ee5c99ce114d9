//! The real binary: check-config, handshake outcomes, SIGTERM.

mod common;

use common::*;
use pass_core::stanza::{Condition, IqType, PassMessage};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_pass-node");

fn check_config(text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.toml");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(BIN)
        .args(["check-config", "--config"])
        .arg(&path)
        .env_remove("PASS_NODE_SECRET")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn example_config_is_accepted() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("pass-node.example.toml");
    let (ok, text) = check_config(&std::fs::read_to_string(example).unwrap());
    assert!(ok, "{text}");
    assert!(text.contains("ok"), "{text}");
}

#[test]
fn check_config_names_bad_fields() {
    let base = "server = 'localhost:5347'\ndomain = 'pass.example'\nsecret_file = '/x'\n";
    for (extra, expect) in [
        (
            "ports = '5000-4000'",
            "ports: first port 5000 is greater than last port 4000",
        ),
        ("max_leaes = 3", "max_leaes"),
        ("max_relays = 0", "max_relays: must be at least 1"),
        ("metrics = 'everywhere'", "metrics:"),
        ("public_ip = ['not-an-ip']", "public_ip"),
        ("relay_mode = 'teleport'", "relay_mode"),
        ("iq_rate = 0", "iq_rate: must be at least 1"),
        ("iq_per_second = 0", "iq_per_second: must be at least 1"),
        (
            "max_leases_per_jid = 0",
            "max_leases_per_jid: must be at least 1",
        ),
        (
            "max_leases_per_account = 0",
            "max_leases_per_account: must be at least 1",
        ),
        ("iq_rate = 3\niq_per_second = 3", "duplicate field"),
        ("iq_burst = 0", "iq_burst: must be at least 1"),
        ("iq_burst = -1", "iq_burst"),
        ("call_rate = 0", "call_rate: must be at least 1"),
        ("call_per_second = 0", "call_per_second: must be at least 1"),
        (
            "max_stanza_bytes = 1000",
            "max_stanza_bytes: must be at least 4096",
        ),
        (
            "half_close_timeout = 0",
            "half_close_timeout: must be at least 1 s",
        ),
    ] {
        let (ok, text) = check_config(&format!("{base}{extra}\n"));
        assert!(!ok, "{extra} accepted");
        assert!(text.contains(expect), "{extra}: {text}");
    }
    let (ok, text) = check_config("domain = 'pass.example'\nsecret_file = '/x'\n");
    assert!(!ok);
    assert!(text.contains("server: missing"), "{text}");
}

#[test]
fn help_explains_the_flags() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--server",
        "--domain",
        "--secret-file",
        "--public-ip",
        "--bind",
        "--ports",
        "--max-leases-per-jid",
        "--max-leases",
        "--max-relays",
        "--relay-rate",
        "--total-rate",
        "--answer-timeout",
        "--proxy-window",
        "--max-expire",
        "--relay-mode",
        "--metrics",
        "--log-format",
        "--log-level",
        "--drain-timeout",
        "--half-close-timeout",
        "--relay-idle-timeout",
        "--max-stanza-bytes",
        "--iq-burst",
        "--iq-rate",
        "--call-burst",
        "--call-rate",
        "--max-leases-per-account",
        "--iq-per-second",
        "--call-per-second",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    // The operator must learn why the stanza limit matters (clap rewraps lines).
    let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("at least the server's own stanza size limit"),
        "{help}"
    );
}

#[test]
fn check_config_accepts_the_new_settings() {
    let (ok, text) = check_config(
        "server = 'localhost:5347'\ndomain = 'pass.example'\nsecret_file = '/x'\n\
         half_close_timeout = 2\nmax_stanza_bytes = 262144\niq_burst = 50\niq_rate = 20\n\
         relay_idle_timeout = 0\n",
    );
    assert!(ok, "{text}");
}

#[test]
fn check_config_accepts_the_old_and_the_aligned_names() {
    let base = "server = 'localhost:5347'\ndomain = 'pass.example'\nsecret_file = '/x'\n";
    for names in [
        "max_leases_per_jid = 3\niq_rate = 5\ncall_rate = 7\n",
        "max_leases_per_account = 3\niq_per_second = 5\ncall_per_second = 7\n",
    ] {
        let (ok, text) = check_config(&format!("{base}{names}"));
        assert!(ok, "{names}: {text}");
    }
}

/// Whether the stream ends with a `<stream:error/>` naming `condition` (bounded).
async fn stream_cut_with(session: &mut Session, condition: &str) -> bool {
    for _ in 0..10 {
        match session.try_next_event(WAIT).await {
            Ok(pass_core::xml::StreamEvent::StreamError(e)) => {
                return e.elements().any(|c| c.name == condition);
            }
            Ok(pass_core::xml::StreamEvent::Stanza(_)) => continue,
            _ => return false,
        }
    }
    false
}

#[tokio::test]
async fn max_stanza_bytes_flag_sets_the_stream_limit() {
    let server = FakeServer::bind(SECRET).await;
    let child = spawn_node(server.addr, SECRET, &["--max-stanza-bytes", "8192"]);
    let mut session = server.accept_ok().await;
    // 12 KB: over the flag's 8 KiB, well under the 64 KiB default (which would
    // answer this ping with an IQ error on a stream that stays up).
    let ping = format!(
        "<iq type='get' id='big' from='someone@example/x' to='{DOMAIN}'>\
         <ping xmlns='urn:xmpp:ping'>{}</ping></iq>",
        "<x/>".repeat(3000)
    );
    session.send_raw(&ping).await;
    assert!(stream_cut_with(&mut session, "policy-violation").await);
    // The node comes back on a new stream (and then stops at once, not after a
    // handshake that never completes).
    let _session = server.accept_ok().await;
    stop(child).await;
}

#[tokio::test]
async fn iq_burst_and_rate_flags_set_the_rate_limit() {
    // The aligned name and its old spelling.
    for rate_flag in ["--iq-per-second", "--iq-rate"] {
        let server = FakeServer::bind(SECRET).await;
        let child = spawn_node(server.addr, SECRET, &["--iq-burst", "2", rate_flag, "1"]);
        let mut session = server.accept_ok().await;
        // Five requests at once from one account: the default burst (20) would
        // answer all of them, a burst of 2 refuses some with resource-constraint.
        for i in 0..5 {
            session
                .send_iq(
                    "flood@example/x",
                    &format!("d{i}"),
                    "get",
                    "<query xmlns='http://jabber.org/protocol/disco#info'/>",
                )
                .await;
        }
        let mut refused = 0;
        for _ in 0..5 {
            let iq = session.next_iq().await;
            if iq.error.as_ref().and_then(|e| e.condition) == Some(Condition::ResourceConstraint) {
                refused += 1;
            }
        }
        assert!(refused >= 2, "{rate_flag}: only {refused} of 5 refused");
        stop(child).await;
    }
}

/// SIGTERM then wait for the exit (bounded).
async fn stop(child: std::process::Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("the `kill` command (procps) is needed: apt-get install procps");
    assert!(status.success());
    let (code, stderr) = tokio::task::spawn_blocking(move || wait_exit(child))
        .await
        .unwrap();
    assert_eq!(code, Some(0), "{stderr}");
}

/// Starts the binary against `server` with `secret` in the environment.
fn spawn_node(server: std::net::SocketAddr, secret: &str, extra: &[&str]) -> std::process::Child {
    let (first, last) = port_pool();
    let mut args = vec![
        "--public-ip".to_string(),
        "127.0.0.1".into(),
        "--metrics".into(),
        "off".into(),
        "--ports".into(),
        format!("{first}-{last}"),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    spawn_bin(server, secret, &args)
}

/// `text` split at spaces: a command line's arguments.
fn words(text: &str) -> Vec<&str> {
    text.split_whitespace().collect()
}

/// Starts the binary against `server` (its domain is [`DOMAIN`]) with `args` and
/// `secret` in the environment; stdout and stderr piped.
fn spawn_bin(
    server: impl std::fmt::Display,
    secret: &str,
    args: &[impl AsRef<std::ffi::OsStr>],
) -> std::process::Child {
    // No lease store unless the test names one: tests write nothing into the
    // working directory and share nothing between runs.
    let named = args.iter().any(|a| {
        let a = a.as_ref();
        a == "--no-state" || a == "--state-dir"
    });
    Command::new(BIN)
        .args(["--server", &server.to_string(), "--domain", DOMAIN])
        .args(if named { &[][..] } else { &["--no-state"][..] })
        .args(args)
        .env("PASS_NODE_SECRET", secret)
        .env_remove("NO_COLOR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for the process to exit (bounded); returns (code, stderr).
fn wait_exit(mut child: std::process::Child) -> (Option<i32>, String) {
    for _ in 0..300 {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            return (
                status.code(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    panic!(
        "node did not exit; stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn wrong_secret_exits_3_with_a_clear_message() {
    let server = FakeServer::bind(SECRET).await;
    let child = spawn_node(server.addr, "not-the-secret", &[]);
    let (_session, outcome) = server.accept().await;
    assert_eq!(outcome, HandshakeOutcome::Refused);
    let (code, stderr) = tokio::task::spawn_blocking(move || wait_exit(child))
        .await
        .unwrap();
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("not-authorized"), "{stderr}");
    assert!(stderr.contains("handshake refused"), "{stderr}");
}

#[tokio::test]
async fn missing_secret_is_a_config_error() {
    let out = Command::new(BIN)
        .args(["--server", "127.0.0.1:1", "--domain", DOMAIN])
        .env_remove("PASS_NODE_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("secret_file: missing"));
}

#[tokio::test]
async fn sigterm_sends_close_notices_and_exits_0() {
    let server = FakeServer::bind(SECRET).await;
    let child = spawn_node(server.addr, SECRET, &["--drain-timeout", "2"]);
    let mut session = server.accept_ok().await;
    let lease = session.register("owner@example/home", "").await;
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("the `kill` command (procps) is needed: apt-get install procps");
    assert!(status.success());
    // The owner is told its port is closed.
    let iq = session.next_iq().await;
    assert_eq!(iq.kind, IqType::Set);
    match PassMessage::from_iq(&iq).unwrap() {
        PassMessage::ExpireNotice { proxy } | PassMessage::OneshotNotice { proxy } => {
            assert_eq!(proxy, lease)
        }
        PassMessage::Close { proxy } => assert!(proxy.is_some()),
        other => panic!("expected a close notice, got {other:?}"),
    }
    // Then the stream is closed.
    match session.try_next_event(WAIT).await {
        Ok(pass_core::xml::StreamEvent::End) | Err(_) => {}
        Ok(other) => panic!("expected the stream to end, got {other:?}"),
    }
    let (code, stderr) = tokio::task::spawn_blocking(move || wait_exit(child))
        .await
        .unwrap();
    assert_eq!(code, Some(0), "{stderr}");
}

#[tokio::test]
async fn metrics_address_in_use_exits_5() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let server = FakeServer::bind(SECRET).await;
    let (first, last) = port_pool();
    let child = Command::new(BIN)
        .args(["--server", &server.addr.to_string(), "--domain", DOMAIN])
        .args(["--metrics", &addr, "--ports", &format!("{first}-{last}")])
        .arg("--no-state")
        .env("PASS_NODE_SECRET", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (code, stderr) = tokio::task::spawn_blocking(move || wait_exit(child))
        .await
        .unwrap();
    assert_eq!(code, Some(5), "{stderr}");
    assert!(stderr.contains("metrics endpoint"), "{stderr}");
    drop(taken);
}

/// Runs `check-config` on `text` behind `wrapper` (a command such as `setpriv …`,
/// or nothing) with `flags` before the subcommand; returns (success, stdout, stderr).
fn check_config_run(text: &str, wrapper: &[&str], flags: &[&str]) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.toml");
    std::fs::write(&path, text).unwrap();
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(BIN);
            c
        }
        None => Command::new(BIN),
    };
    let out = command
        .args(flags)
        .args(["check-config", "--config"])
        .arg(&path)
        .env_remove("PASS_NODE_SECRET")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const CHECKED: &str = "server = 'localhost:5347'\ndomain = 'pass.example'\n";

#[test]
fn check_config_warns_about_a_missing_secret_and_a_loopback_public_ip_yet_exits_0() {
    let text = format!(
        "{CHECKED}secret_file = '/nonexistent/pass-secret'\n\
         public_ip = ['127.0.0.1']\nbind = ['0.0.0.0']\n"
    );
    let (ok, stdout, stderr) = check_config_run(&text, &[], &[]);
    assert!(ok, "{stderr}");
    assert!(stdout.ends_with(": ok\n"), "{stdout}");
    assert!(
        stderr.contains("warning: secret_file: cannot read /nonexistent/pass-secret"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "warning: public_ip: 127.0.0.1 is a loopback address but the ports listen on 0.0.0.0"
        ),
        "{stderr}"
    );
    // Nothing doubtful, nothing said.
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "s3cret\n").unwrap();
    let text = format!("{CHECKED}secret_file = '{}'\n", secret.display());
    let (ok, _, stderr) = check_config_run(&text, &[], &[]);
    assert!(ok && stderr.is_empty(), "{stderr}");
}

/// The unit's ExecStartPre passes the credential's path as the run does, so the
/// root-only file named in the config is not what check-config reads.
#[test]
fn check_config_reads_the_secret_file_given_as_a_flag() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "s3cret\n").unwrap();
    let text = format!("{CHECKED}secret_file = '/nonexistent/pass-secret'\n");
    let flag = secret.display().to_string();
    let (ok, _, stderr) = check_config_run(&text, &[], &["--secret-file", &flag]);
    assert!(ok, "{stderr}");
    assert!(!stderr.contains("secret_file"), "{stderr}");
}

#[test]
fn check_config_warns_about_a_pool_in_the_ephemeral_range() {
    let host = pass_node::config::Host::probe();
    let Some(eph) = host.ephemeral else {
        eprintln!("no /proc/sys/net/ipv4/ip_local_port_range: nothing to overlap");
        return;
    };
    let text = format!(
        "{CHECKED}secret_file = '/x'\nports = '{}-{}'\n",
        eph.first,
        eph.first.saturating_add(9).min(eph.last)
    );
    let (ok, _, stderr) = check_config_run(&text, &[], &[]);
    assert!(ok, "{stderr}");
    let reserved_all = host
        .reserved
        .iter()
        .any(|r| r.first <= eph.first && r.last >= eph.first + 9);
    if !reserved_all {
        assert!(
            stderr.contains(&format!(
                "warning: ports: {}-{} overlaps this host's ephemeral port range",
                eph.first,
                eph.first + 9
            )),
            "{stderr}"
        );
    }
    // The default pool is below it.
    let (ok, _, stderr) = check_config_run(&format!("{CHECKED}secret_file = '/x'\n"), &[], &[]);
    assert!(ok, "{stderr}");
    if eph.first > 20999 {
        assert!(!stderr.contains("ports:"), "{stderr}");
    }
}

#[test]
fn check_config_warns_about_privileged_ports_without_the_capability() {
    let text = format!("{CHECKED}secret_file = '/x'\nports = '80-90'\n");
    let warning = "warning: ports: 80-90 has ports below";
    // Without CAP_NET_BIND_SERVICE in the bounding set, even root lacks it.
    let drop_cap = ["setpriv", "--bounding-set", "-net_bind_service"];
    let (ok, _, stderr) = check_config_run(&text, &drop_cap, &[]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains(warning), "{stderr}");
    // With it (root here, or a user granted it), the pool is fine.
    if pass_node::config::Host::probe().can_bind_privileged == Some(true) {
        let (ok, _, stderr) = check_config_run(&text, &[], &[]);
        assert!(ok && !stderr.contains(warning), "{stderr}");
    }
}

/// A node whose stderr is a pipe (a file, the journal) writes no colour codes, and
/// warns at start about a loopback public_ip with an outside bind.
#[tokio::test]
async fn logs_off_a_terminal_have_no_colour_and_the_start_warns_about_loopback() {
    let server = FakeServer::bind(SECRET).await;
    let (first, last) = port_pool();
    let pool = format!("{first}-{last}");
    let child = spawn_bin(
        server.addr,
        SECRET,
        &words(&format!(
            "--public-ip 127.0.0.1 --bind 0.0.0.0 --metrics off --ports {pool} --log-format human"
        )),
    );
    let _session = server.accept_ok().await;
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let (code, stderr) = tokio::task::spawn_blocking(move || wait_exit(child))
        .await
        .unwrap();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("pass-node starting"), "{stderr}");
    assert!(
        !stderr.contains('\x1b'),
        "colour codes off a terminal:\n{stderr:?}"
    );
    let warning = stderr
        .lines()
        .find(|l| l.contains("public_ip: 127.0.0.1 is a loopback address"))
        .unwrap_or_else(|| panic!("no start-up warning:\n{stderr}"));
    assert!(warning.contains("WARN"), "{warning}");
}

/// On a terminal (a pseudo-terminal from `script`) the human format is coloured,
/// unless NO_COLOR says otherwise.
#[test]
fn logs_on_a_terminal_are_coloured_unless_no_color() {
    let run = |no_color: Option<&str>| {
        let node = format!(
            "timeout -s TERM 1 {BIN} --server 127.0.0.1:1 --domain {DOMAIN} \
             --metrics off --log-format human --no-state"
        );
        let mut c = Command::new("script");
        c.args(["-qec", &node, "/dev/null"])
            .env("PASS_NODE_SECRET", SECRET)
            .env_remove("NO_COLOR");
        if let Some(v) = no_color {
            c.env("NO_COLOR", v);
        }
        let out = c.output().expect("`script` (util-linux) is needed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let coloured = run(None);
    assert!(coloured.contains("pass-node starting"), "{coloured}");
    assert!(
        coloured.contains('\x1b'),
        "no colour on a terminal: {coloured:?}"
    );
    let plain = run(Some("1"));
    assert!(plain.contains("pass-node starting"), "{plain}");
    assert!(
        !plain.contains('\x1b'),
        "colour despite NO_COLOR: {plain:?}"
    );
}

/// Connections on `port` in TIME-WAIT, from /proc/net/tcp and tcp6 (state 06).
fn time_wait_on(port: u16) -> usize {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|t| t.lines().skip(1).map(str::to_string).collect::<Vec<_>>())
        .filter(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let local_port = cols
                .get(1)
                .and_then(|a| a.rsplit(':').next())
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            local_port == Some(port) && cols.get(3) == Some(&"06")
        })
        .count()
}

/// One scrape; the node answers and closes first, so the TIME-WAIT is on its port.
fn scrape(addr: std::net::SocketAddr) -> Option<String> {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

/// A restart at once after SIGTERM, with the previous run's scrapes in TIME-WAIT on
/// the metrics port, binds again: never exit 5 (DESIGN decision 73).
#[test]
fn restarts_at_once_with_time_wait_on_the_metrics_port() {
    let addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let mut saw_time_wait = false;
    for run in 0..8 {
        let (first, last) = port_pool();
        let (metrics, pool) = (addr.to_string(), format!("{first}-{last}"));
        let mut child = spawn_bin(
            "127.0.0.1:1",
            SECRET,
            &[
                "--metrics",
                &metrics,
                "--ports",
                &pool,
                "--drain-timeout",
                "1",
            ],
        );
        // Up within 5 s: the metrics endpoint answers.
        let mut answered = 0;
        for _ in 0..100 {
            if let Some(status) = child.try_wait().unwrap() {
                let out = child.wait_with_output().unwrap();
                panic!(
                    "run {run}: exited {status} at start; TIME-WAIT on the port: {}; stderr:\n{}",
                    time_wait_on(addr.port()),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            if scrape(addr).is_some_and(|b| b.contains("pass_leases")) {
                answered += 1;
                if answered == 3 {
                    break;
                }
            } else {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        assert_eq!(
            answered, 3,
            "run {run}: the metrics endpoint did not answer"
        );
        saw_time_wait |= time_wait_on(addr.port()) > 0;
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let (code, stderr) = wait_exit(child);
        assert_eq!(code, Some(0), "run {run}: {stderr}");
    }
    assert!(
        saw_time_wait,
        "no TIME-WAIT on the metrics port: the test proved nothing"
    );
}

/// The unit checks the secret the service reads (the credential copy, not the
/// root-only file the config names) and asks for logs without colour.
#[test]
fn unit_checks_the_credential_and_turns_colour_off() {
    let unit =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("pass-node.service"))
            .unwrap();
    let line = |key: &str| {
        unit.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in the unit"))
    };
    assert!(line("ExecStart=").contains("--secret-file %d/secret"));
    let pre = line("ExecStartPre=");
    assert!(
        pre.contains("--secret-file %d/secret check-config --config"),
        "{pre}"
    );
    assert!(
        unit.lines().any(|l| l == "Environment=NO_COLOR=1"),
        "{unit}"
    );
}

/// The same for a lease port: a one-port pool whose port has a dropped caller in
/// TIME-WAIT (the node closed first) is listened on again by the next run at once
/// (a refused listen would make the register's answer 502).
#[tokio::test]
async fn lease_port_binds_again_at_once_after_a_restart_with_time_wait() {
    let (port, _) = port_pool();
    for run in 0..3 {
        let server = FakeServer::bind(SECRET).await;
        let pool = format!("{port}-{port}");
        let child = spawn_bin(
            server.addr,
            SECRET,
            &words(&format!(
                "--public-ip 127.0.0.1 --metrics off --ports {pool}"
            )),
        );
        let mut session = server.accept_ok().await;
        // A 502 here (the port could not be listened on) fails the run.
        let lease = session.register("owner@example/home", "").await;
        assert_eq!(lease.port(), port, "run {run}");
        let mut caller = connect(lease).await;
        // No pool port is left for a proxy port: the node drops the caller, closing
        // first.
        assert!(closed_by_peer(&mut caller).await, "run {run}");
        drop(caller);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(time_wait_on(port) > 0, "run {run}: no TIME-WAIT on {port}");
        stop(child).await;
    }
}

/// docs/pass-node-help.md is `--help` of the binary and of its subcommand, verbatim
/// (the Debian package ships it: docs/DESIGN.md decision 102). After a change to a
/// flag, regenerate it: `PASS_BLESS=1 cargo test -p pass-node --test cli help_doc`.
#[test]
fn help_doc_is_the_binarys_help() {
    let help = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let text = format!(
        "# pass-node --help\n\n\
         Generated from the binary by pass-node/tests/cli.rs (`help_doc_is_the_binarys_help`);\n\
         do not edit. docs/OPERATING.md explains the settings.\n\n\
         ```text\n$ pass-node --help\n{}```\n\n\
         ```text\n$ pass-node check-config --help\n{}```\n",
        help(&["--help"]),
        help(&["check-config", "--help"]),
    );
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/pass-node-help.md");
    if std::env::var_os("PASS_BLESS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let doc = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        doc == text,
        "docs/pass-node-help.md differs from --help: \
         PASS_BLESS=1 cargo test -p pass-node --test cli help_doc"
    );
}

/// check-config says where the lease store would be, without opening it (DESIGN
/// decision 54); `--no-state` with a state directory is an error naming it.
#[test]
fn check_config_reports_the_lease_store() {
    let secret = "secret_file = '/nonexistent/pass-secret'\n";
    let text = format!("{CHECKED}{secret}state_dir = '/nonexistent/pass-state'\n");
    let (ok, stdout, stderr) = check_config_run(&text, &[], &[]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains(": lease store: /nonexistent/pass-state/leases.redb\n"),
        "{stdout}"
    );
    assert!(!std::path::Path::new("/nonexistent/pass-state").exists());
    let (ok, stdout, stderr) =
        check_config_run(&format!("{CHECKED}{secret}"), &[], &["--no-state"]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains(": lease store: none (no_state)\n"),
        "{stdout}"
    );
    let (ok, _, stderr) = check_config_run(&text, &[], &["--no-state"]);
    assert!(!ok);
    assert!(
        stderr.contains("state_dir: given with no_state"),
        "{stderr}"
    );
}

/// The fault switch (`--features faults`, DESIGN decision 124) is a test build's only:
/// the default build (the one the Debian package ships) has no trace of it.
#[cfg(not(feature = "faults"))]
#[test]
fn the_default_build_has_no_fault_switch() {
    let binary = std::fs::read(BIN).expect("read the pass-node binary");
    for needle in [
        &b"PASS_NODE_FAULT"[..],
        b"deny-ignored",
        b"notice-to-wrong-jid",
    ] {
        assert!(
            !binary.windows(needle.len()).any(|w| w == needle),
            "{} is in the default build",
            String::from_utf8_lossy(needle)
        );
    }
}
