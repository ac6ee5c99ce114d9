//! `pass-node/pass-node.service`, checked two ways: `systemd-analyze verify` accepts it
//! without a warning, and pass-node, run through the whole suite under strace (both
//! relay modes, metrics scraped), makes only system calls that the unit's
//! `SystemCallFilter=` allows and opens only sockets of the families that
//! `RestrictAddressFamilies=` allows. Anything outside would kill the service with
//! SIGSYS (or fail its socket) in production, on the first relay or the first scrape.
//!
//! Needs `systemd-analyze` (Debian's `systemd`) and `strace`, which
//! `scripts/setup.sh` installs, and `pass-node` built beside this test (as
//! `cargo test --workspace` does).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pass_conformance::runner::{RunOptions, Status};
use pass_conformance::{component, report, selftest};

/// Where the unit expects the binary; the tests point it at the one just built.
const INSTALLED_BINARY: &str = "/usr/bin/pass-node";

fn unit_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pass-node/pass-node.service");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn node_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    selftest::locate_node(&exe).unwrap_or_else(|| {
        panic!(
            "pass-node not found next to {}: `cargo build -p pass-node` first (same target dir)",
            exe.display()
        )
    })
}

fn require(tool: &str, package: &str) {
    let found = Command::new(tool).arg("--version").output().is_ok();
    assert!(
        found,
        "{tool} is not installed: run scripts/setup.sh (apt-get install {package})"
    );
}

#[test]
fn unit_file_passes_systemd_analyze_verify_without_warnings() {
    require("systemd-analyze", "systemd");
    let dir = tempfile::tempdir().expect("temp dir");
    let unit = dir.path().join("pass-node.service");
    let text = unit_text().replace(INSTALLED_BINARY, &node_binary().display().to_string());
    std::fs::write(&unit, text).expect("write unit");
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&unit)
        .output()
        .expect("run systemd-analyze");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{said}"
    );
    let about_unit: Vec<&str> = said
        .lines()
        .filter(|l| l.contains("pass-node.service"))
        .collect();
    assert!(
        about_unit.is_empty(),
        "systemd-analyze verify warns about the unit:\n{}",
        about_unit.join("\n")
    );
}

#[test]
fn node_stays_inside_the_units_system_call_filter() {
    require("systemd-analyze", "systemd");
    require("strace", "strace");
    let unit = unit_text();
    let allowed = allowed_syscalls(&unit);
    let families = allowed_families(&unit);
    let node = node_binary();
    let dir = tempfile::tempdir().expect("temp dir");

    // ExecStartPre runs under the same filter.
    let check_log = dir.path().join("check-config.trace");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pass-node/pass-node.example.toml");
    let status = Command::new("strace")
        .args(["-f", "-qq", "-o"])
        .arg(&check_log)
        .arg(&node)
        .arg("check-config")
        .arg("--config")
        .arg(&example)
        .status()
        .expect("run strace");
    assert!(
        status.success(),
        "check-config of the example config failed"
    );
    let (mut used, mut opened) = calls_in_trace(&check_log);

    for mode in ["copy", "splice"] {
        let log = dir.path().join(format!("node-{mode}.trace"));
        run_suite_traced(&node, mode, &log, dir.path());
        let (calls, sockets) = calls_in_trace(&log);
        used.extend(calls);
        opened.extend(sockets);
    }
    // The trace saw what matters: the node accepted callers, relayed, spliced.
    for expected in ["accept4", "splice"] {
        assert!(
            used.contains(expected),
            "the trace has no {expected}: did the suite relay? calls seen: {used:?}"
        );
    }
    let outside: Vec<&String> = used.difference(&allowed).collect();
    assert!(
        outside.is_empty(),
        "pass-node made system calls that the unit's SystemCallFilter forbids (the service \
         would die of SIGSYS): {outside:?}; widen the filter in pass-node/pass-node.service"
    );
    assert!(
        opened.contains("AF_INET"),
        "the trace opened no AF_INET socket: {opened:?}"
    );
    let refused: Vec<&String> = opened.difference(&families).collect();
    assert!(
        refused.is_empty(),
        "pass-node opened sockets of families that the unit's RestrictAddressFamilies= \
         refuses: {refused:?}"
    );
}

/// The families in the unit's `RestrictAddressFamilies=` (an allow list).
fn allowed_families(unit: &str) -> BTreeSet<String> {
    let families: BTreeSet<String> = unit
        .lines()
        .filter_map(|l| l.trim().strip_prefix("RestrictAddressFamilies="))
        .flat_map(|v| v.split_whitespace().map(str::to_owned))
        .collect();
    assert!(
        !families.is_empty() && families.iter().all(|f| f.starts_with("AF_")),
        "the unit's RestrictAddressFamilies= is not an allow list of AF_ names: {families:?}"
    );
    families
}

/// Runs the whole suite against the node under `strace -f -o log` (relay `mode`,
/// metrics on and scraped once).
fn run_suite_traced(node: &Path, mode: &str, log: &Path, dir: &Path) {
    let secret: String = (0..32)
        .map(|_| format!("{:x}", rand::random::<u8>() & 0xf))
        .collect();
    let secret_file = dir.join(format!("secret-{mode}"));
    std::fs::write(&secret_file, &secret).expect("write secret");
    let metrics = free_addr();
    let mut copts = selftest::options(node, &secret_file).expect("self-test options");
    copts.secret = secret;
    let spawn = copts.spawn.take().expect("a spawn command");
    let spawn = spawn
        .replacen(
            "exec ",
            &format!("exec strace -f -qq -o '{}' ", log.display()),
            1,
        )
        .replace("--metrics off", &format!("--metrics {metrics}"))
        // The lease store's system calls (file locks, fsync) are traced too.
        .replace(
            "--no-state",
            &format!(
                "--state-dir '{}'",
                dir.join(format!("state-{mode}")).display()
            ),
        );
    copts.spawn = Some(format!("{spawn} --relay-mode {mode}"));
    // strace slows every call; give the node's answers more time.
    copts.answer_wait = Duration::from_secs(15);
    copts.io_wait = Duration::from_secs(15);

    let scraper = std::thread::spawn(move || scrape_once(metrics));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // strace also delays the node's timers a little: a wider timing window.
    let opts = RunOptions {
        timing_tolerance: Duration::from_secs(2),
        ..RunOptions::default()
    };
    let report = rt
        .block_on(component::run(&copts, &opts))
        .unwrap_or_else(|e| panic!("the traced run ({mode}) could not happen: {e}"));
    let scraped = scraper.join().expect("scraper thread");
    assert!(
        scraped.contains("pass_"),
        "the metrics scrape ({mode}) got no pass_ metrics: {scraped:?}"
    );
    // The suite is the load, and it must still pass: a node that misbehaves only
    // under its system-call filter (or under strace) fails here.
    assert_eq!(
        report.outcomes.len(),
        pass_conformance::catalogue().len(),
        "the traced run ({mode}) did not run every case"
    );
    assert_eq!(
        report.count(Status::Fail),
        0,
        "under strace ({mode}), cases failed:\n{}",
        report::table(&report)
    );
}

/// An address on 127.0.0.1 that is free right now.
fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

/// GET /metrics once the node serves it (bounded: 30 s); the body, or "".
fn scrape_once(addr: SocketAddr) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut body = String::new();
            let _ = s.read_to_string(&mut body);
            return body;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    String::new()
}

/// The system call names in an `strace -f` output file, and the address families
/// of the sockets it opened (`socket(AF_INET, ...`, `socketpair(AF_UNIX, ...`).
fn calls_in_trace(path: &Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut calls = BTreeSet::new();
    let mut families = BTreeSet::new();
    for line in text.lines() {
        let Some(name) = syscall_of_line(line) else {
            continue;
        };
        if name == "socket" || name == "socketpair" {
            let args = line.split_once('(').map(|(_, a)| a).unwrap_or("");
            let family: String = args
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            families.insert(family);
        }
        calls.insert(name);
    }
    assert!(!calls.is_empty(), "empty trace {}", path.display());
    (calls, families)
}

/// `1234 epoll_wait(...) = 1` and `1234 read(5, <unfinished ...>` name a call;
/// resumed calls, signals (`---`) and exits (`+++`) do not.
fn syscall_of_line(line: &str) -> Option<String> {
    let (_pid, rest) = line.split_once(' ')?;
    let rest = rest.trim_start();
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty() && rest[name.len()..].starts_with('(')).then_some(name)
}

/// What the unit's `SystemCallFilter=` lines allow: the first line's allow list,
/// grown by later allow lines and shrunk by `~` lines, with systemd's `@groups`
/// resolved by `systemd-analyze syscall-filter`.
fn allowed_syscalls(unit: &str) -> BTreeSet<String> {
    let groups = syscall_groups();
    let mut allowed = BTreeSet::new();
    let mut lines = 0;
    for value in unit
        .lines()
        .filter_map(|l| l.trim().strip_prefix("SystemCallFilter="))
    {
        lines += 1;
        let (deny, list) = match value.strip_prefix('~') {
            Some(rest) => (true, rest),
            None => (false, value),
        };
        assert!(
            !(deny && lines == 1),
            "the unit's first SystemCallFilter= is a deny list; this test expects an allow list"
        );
        for item in list.split_whitespace() {
            let names = expand(item, &groups);
            if deny {
                allowed.retain(|n| !names.contains(n));
            } else {
                allowed.extend(names);
            }
        }
    }
    assert!(lines > 0, "the unit has no SystemCallFilter=");
    allowed
}

fn expand(item: &str, groups: &BTreeMap<String, Vec<String>>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if item.starts_with('@') {
        let members = groups
            .get(item)
            .unwrap_or_else(|| panic!("systemd knows no syscall group {item}"));
        for m in members {
            out.extend(expand(m, groups));
        }
    } else {
        out.insert(item.to_owned());
    }
    out
}

/// Every `@group` systemd knows, with its members (names and sub-groups).
fn syscall_groups() -> BTreeMap<String, Vec<String>> {
    let out = Command::new("systemd-analyze")
        .args(["syscall-filter", "--no-pager"])
        .output()
        .expect("run systemd-analyze syscall-filter");
    assert!(
        out.status.success(),
        "systemd-analyze syscall-filter failed"
    );
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if line.starts_with('@') {
            current = Some(line.trim().to_owned());
            groups.entry(line.trim().to_owned()).or_default();
        } else if let Some(member) = line.strip_prefix("    ") {
            let member = member.trim();
            if member.is_empty() || member.starts_with('#') {
                continue;
            }
            if let Some(g) = &current {
                groups.entry(g.clone()).or_default().push(member.to_owned());
            }
        } else {
            current = None;
        }
    }
    assert!(
        groups.contains_key("@system-service"),
        "systemd-analyze syscall-filter listed no @system-service"
    );
    groups
}
