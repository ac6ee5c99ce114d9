//! One soak run: the world, the callers, the nemesis, the checks, and the report.

use crate::caller::{self, End, Session};
use crate::node::{Node, Usage};
use crate::owner::Owner;
use crate::server::{ComponentSpec, Prosody};
use crate::service::{self, Ledger};
use crate::stream::Header;
use crate::{info::ServerInfo, ports, support};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::RwLock;
use tokio::time::Instant;

/// The component domain.
const SERVICE: &str = "pass.localhost";
/// Soak length without `PASS_SOAK_SECS`: `.ci/run` takes about this plus 30 s.
const DEFAULT_SECS: u64 = 100;
/// Owners whose lease lasts the whole run and carries the callers.
const HOLDERS: usize = 5;
/// Owners with short leases (`--expire`, `--keep`): each expiry is a notice due.
const EXPIRING: usize = 2;
/// Their lease length, seconds (seeded in this range).
const EXPIRE_SECS: std::ops::RangeInclusive<u64> = 8..=16;
/// Bytes each way of a session (seeded in this range).
const SESSION_BYTES: std::ops::RangeInclusive<u32> = 1..=192 * 1024;
/// One session in this many is slow: a chunk (16 KiB) every [`SLOW_PACE_MS`], so
/// that relays are in flight across faults.
const SLOW_ONE_IN: usize = 8;
const SLOW_PACE_MS: std::ops::RangeInclusive<u64> = 100..=300;
/// Pause between one caller's sessions, ms (seeded), to leave the 2-core CI some air.
const PAUSE_MS: std::ops::RangeInclusive<u64> = 20..=200;
/// First fault, then the gaps between faults, seconds (seeded in these ranges).
const FIRST_FAULT: std::ops::RangeInclusive<u64> = 10..=20;
const FAULT_GAP: std::ops::RangeInclusive<u64> = 12..=24;
/// The last stretch of the run has no fault: traffic on a settled node, then the
/// resource check.
const CALM_TAIL: Duration = Duration::from_secs(20);
/// Bound on getting back to service after a fault (Prosody up, the node's component
/// stream and every owner's c2s link back, every lease answering a caller).
const RECOVERY: Duration = Duration::from_secs(90);
/// An expire notice delivered this much after its deadline is late: a lost notice.
/// The worst case is a deadline during a fault: the notice waits for the recovery.
const NOTICE_SLACK: Duration = Duration::from_secs(60);
/// Descriptors the node may hold at the end beyond its baseline (DESIGN decision 59).
const FD_MARGIN: usize = 0;
/// Resident memory the node may have grown by at the end (DESIGN decision 59).
const RSS_MARGIN_KIB: u64 = 16 * 1024;

/// What a run does: its seed and length.
pub struct Plan {
    pub seed: u64,
    pub secs: u64,
}

impl Plan {
    /// `PASS_SOAK_SEED` and `PASS_SOAK_SECS`, or a fresh seed and the default length.
    pub fn from_env() -> Plan {
        let num = |name: &str| {
            std::env::var(name).ok().map(|v| {
                v.trim()
                    .parse::<u64>()
                    .unwrap_or_else(|e| panic!("{name}={v:?}: {e}"))
            })
        };
        let seed = num("PASS_SOAK_SEED").unwrap_or_else(|| fastrand::u64(..));
        let secs = num("PASS_SOAK_SECS").unwrap_or(DEFAULT_SECS);
        assert!(
            secs >= 60,
            "PASS_SOAK_SECS must be at least 60 (faults, then a calm tail)"
        );
        Plan { seed, secs }
    }
}

/// The faults the nemesis injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// Prosody killed and started again on the same ports: the component stream and
    /// every owner's c2s link drop and come back.
    ProsodyRestart,
    /// `kill -9` of pass-node, started again with the same flags and state.
    NodeKill,
}

/// A fault, from its injection to the end of the recovery.
#[derive(Clone, Copy, Debug)]
struct Window {
    fault: Fault,
    start: Instant,
    end: Instant,
}

/// Everything a run saw.
pub struct Report {
    seed: u64,
    secs: u64,
    took: Duration,
    sessions: Vec<Session>,
    windows: Vec<Window>,
    probes: usize,
    lease_checks: usize,
    notices: usize,
    baseline: Option<Usage>,
    end_usage: Option<Usage>,
    problems: Vec<String>,
}

impl Report {
    /// Every loss: a session corrupted or failed outside a fault, a lease lost or
    /// moved, a notice missing or doubled, a resource not given back.
    pub fn lost(&self) -> Vec<String> {
        let mut lost = self.problems.clone();
        for s in &self.sessions {
            match &s.end {
                End::Complete => {}
                End::Corrupt(at) => lost.push(format!(
                    "session {} on {}: downstream differs at byte {at}",
                    s.id, s.lease
                )),
                End::Failed(why) if self.fault_during(s).is_none() => lost.push(format!(
                    "session {} on {} failed outside any fault: {why}",
                    s.id, s.lease
                )),
                End::Failed(_) => {}
            }
        }
        lost
    }

    fn fault_during(&self, s: &Session) -> Option<Fault> {
        self.windows
            .iter()
            .find(|w| s.started <= w.end && s.ended >= w.start)
            .map(|w| w.fault)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let complete: Vec<&Session> = self
            .sessions
            .iter()
            .filter(|s| s.end == End::Complete)
            .collect();
        let bytes: u64 = complete
            .iter()
            .map(|s| u64::from(s.up) + u64::from(s.down))
            .sum();
        let mut cut: BTreeMap<Fault, usize> = BTreeMap::new();
        let mut across: BTreeMap<Fault, usize> = BTreeMap::new();
        for s in &self.sessions {
            match (&s.end, self.fault_during(s)) {
                (End::Failed(_), Some(fault)) => *cut.entry(fault).or_default() += 1,
                (End::Complete, Some(fault)) => *across.entry(fault).or_default() += 1,
                _ => {}
            }
        }
        // Why sessions were cut: the first words of each failure.
        let mut why: BTreeMap<String, usize> = BTreeMap::new();
        for s in &self.sessions {
            if let End::Failed(text) = &s.end {
                let kind: String = text
                    .split(|c: char| c == ':' || c.is_ascii_digit())
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_owned();
                *why.entry(kind).or_default() += 1;
            }
        }
        let mut faults: BTreeMap<Fault, usize> = BTreeMap::new();
        for w in &self.windows {
            *faults.entry(w.fault).or_default() += 1;
        }
        let longest = self
            .windows
            .iter()
            .map(|w| w.end - w.start)
            .max()
            .unwrap_or_default();
        writeln!(f, "== chaos soak summary ==")?;
        writeln!(
            f,
            "seed: {} (replay: PASS_SOAK_SEED={} PASS_SOAK_SECS={})",
            self.seed, self.seed, self.secs
        )?;
        writeln!(
            f,
            "duration: {} s of soak, {:.0} s in all",
            self.secs,
            self.took.as_secs_f64()
        )?;
        writeln!(
            f,
            "sessions: {} started, {} completed byte-exact ({} of them during a fault {:?}), \
             {} cut by a fault in flight {:?}",
            self.sessions.len(),
            complete.len(),
            across.values().sum::<usize>(),
            across,
            cut.values().sum::<usize>(),
            cut
        )?;
        if !why.is_empty() {
            writeln!(f, "cut sessions by how they ended: {why:?}")?;
        }
        writeln!(
            f,
            "bytes verified: {} ({:.1} MiB) in completed sessions, both ends",
            bytes,
            bytes as f64 / (1024.0 * 1024.0)
        )?;
        writeln!(
            f,
            "faults injected: {} {:?}; longest back-to-service {:.1} s",
            self.windows.len(),
            faults,
            longest.as_secs_f64()
        )?;
        writeln!(
            f,
            "leases checked on their port after faults: {} ({} probe sessions)",
            self.lease_checks, self.probes
        )?;
        writeln!(f, "expire notices delivered exactly once: {}", self.notices)?;
        if let (Some(b), Some(e)) = (self.baseline, self.end_usage) {
            writeln!(
                f,
                "node at baseline: {} KiB RSS, {} fds; at the end: {} KiB RSS, {} fds \
                 (margins: +{RSS_MARGIN_KIB} KiB, +{FD_MARGIN} fds)",
                b.rss_kib, b.fds, e.rss_kib, e.fds
            )?;
        }
        write!(f, "lost: {}", self.lost().len())
    }
}

/// What the callers and the nemesis share.
struct Shared {
    seed: u64,
    /// Held (write) by the nemesis while new sessions must not start.
    gate: Arc<RwLock<()>>,
    /// Sessions between connect and end.
    in_flight: AtomicUsize,
    stop: AtomicBool,
    sessions: Mutex<Vec<Session>>,
    next_id: AtomicUsize,
}

/// Runs the soak described by `plan`.
pub async fn soak(plan: &Plan) -> Report {
    let began = Instant::now();
    say(&format!(
        "chaos soak: seed {} ({} s; replay with PASS_SOAK_SEED={})",
        plan.seed, plan.secs, plan.seed
    ));
    let mut rng = fastrand::Rng::with_seed(plan.seed);
    let mut problems = Vec::new();

    // Prosody with one account per owner and one for asking the service.
    let names: Vec<String> = (0..HOLDERS + EXPIRING)
        .map(|i| format!("soak{i}"))
        .collect();
    let mut users: Vec<(String, String)> = names
        .iter()
        .map(|n| (n.clone(), format!("{n}-pw")))
        .collect();
    users.push(("asker".into(), "asker-pw".into()));
    let user_refs: Vec<(&str, &str)> = users
        .iter()
        .map(|(n, p)| (n.as_str(), p.as_str()))
        .collect();
    let secret = format!("secret-{}", fastrand::u64(..));
    let mut prosody = Prosody::start(
        &[ComponentSpec {
            domain: SERVICE.into(),
            secret: secret.clone(),
        }],
        &user_refs,
        false,
    );
    let info = prosody.info(SERVICE, &secret);
    let dir = tempfile::Builder::new()
        .prefix("pass-soak-")
        .tempdir()
        .expect("temp dir");
    for (n, p) in &users {
        std::fs::write(dir.path().join(format!("{n}-pw")), p).expect("password file");
    }

    let pool = ports::free_range(32);
    // The lease store the node restarts on after each `kill -9`. A notice on its way
    // when Prosody dies is lost with it; its caller waits for the answer timeout, and
    // so does the probe of its lease: 5 s, not 30, keeps the recovery short.
    let extra: Vec<String> = [
        "--state-dir",
        &dir.path().join("state").display().to_string(),
        "--answer-timeout",
        "5",
        "--proxy-window",
        "5",
    ]
    .map(str::to_owned)
    .to_vec();
    let mut node = Node::start(dir.path(), &info, pool, &extra);
    back_in_service(&info).await;

    // Owners, each in front of its own checking service.
    let ledger: Ledger = Ledger::default();
    let mut owners = Vec::new();
    let mut leases = Vec::new();
    let mut expire_secs = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let local = service::start(plan.seed, ledger.clone()).await;
        let pw = dir.path().join(format!("{name}-pw"));
        let expire = (i >= HOLDERS).then(|| rng.u64(EXPIRE_SECS));
        let expire_arg = expire.map(|e| e.to_string());
        let extra: Vec<&str> = match &expire_arg {
            Some(e) => vec!["--expire", e, "--keep"],
            None => Vec::new(),
        };
        let log = dir.path().join(format!("{name}.log"));
        let owner = Owner::spawn(info.c2s, name, &pw, local, SERVICE, &extra, &log);
        let (_, reg) = owner
            .wait_for("registered", 0, Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("{name} did not register: {:?}", owner.events()));
        leases.push(reg.address().expect("registered address"));
        expire_secs.push(expire);
        owners.push(owner);
    }
    let holders: Vec<SocketAddr> = leases[..HOLDERS].to_vec();

    let shared = Arc::new(Shared {
        seed: plan.seed,
        gate: Arc::new(RwLock::new(())),
        in_flight: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        sessions: Mutex::new(Vec::new()),
        next_id: AtomicUsize::new(0),
    });
    let mut baseline =
        settle_and_measure(&shared, &node, &owners, &expire_secs, &mut problems).await;

    // Callers: one after another on each held lease (a lease serves one at a time).
    let mut callers = Vec::new();
    for (i, &lease) in holders.iter().enumerate() {
        let shared = shared.clone();
        let mut rng = fastrand::Rng::with_seed(plan.seed ^ (i as u64 + 1));
        callers.push(tokio::spawn(async move {
            while !shared.stop.load(Ordering::SeqCst) {
                let gate = shared.gate.clone().read_owned().await;
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                let h = Header {
                    session: shared.next_id.fetch_add(1, Ordering::SeqCst) as u64,
                    up: rng.u32(SESSION_BYTES),
                    down: rng.u32(SESSION_BYTES),
                };
                let pace = match rng.usize(..SLOW_ONE_IN) {
                    0 => Duration::from_millis(rng.u64(SLOW_PACE_MS)),
                    _ => Duration::ZERO,
                };
                shared.in_flight.fetch_add(1, Ordering::SeqCst);
                let s = caller::run(lease, shared.seed, h, pace, Some(gate)).await;
                shared.in_flight.fetch_sub(1, Ordering::SeqCst);
                shared.sessions.lock().expect("sessions").push(s);
                tokio::time::sleep(Duration::from_millis(rng.u64(PAUSE_MS))).await;
            }
        }));
    }

    // The nemesis, at seeded moments until the calm tail.
    let soak_end = began + Duration::from_secs(plan.secs);
    let kinds = [Fault::ProsodyRestart, Fault::NodeKill];
    let first_kind = rng.usize(..kinds.len());
    let mut windows = Vec::new();
    let mut probes = 0;
    let mut lease_checks = 0;
    let mut next = Instant::now() + Duration::from_secs(rng.u64(FIRST_FAULT));
    while next + RECOVERY.min(CALM_TAIL) < soak_end - CALM_TAIL {
        tokio::time::sleep_until(next).await;
        // Every kind once first (from a seeded one), then at random.
        let fault = if windows.len() < kinds.len() {
            kinds[(windows.len() + first_kind) % kinds.len()]
        } else {
            kinds[rng.usize(..kinds.len())]
        };
        let start = Instant::now();
        let marks: Vec<usize> = owners.iter().map(|o| o.events().len()).collect();
        say(&format!(
            "nemesis: {fault:?} at {:.1} s",
            (start - began).as_secs_f64()
        ));
        match fault {
            Fault::ProsodyRestart => prosody.restart(),
            Fault::NodeKill => node.kill9_and_restart(),
        }
        back_in_service(&info).await;
        if fault == Fault::ProsodyRestart {
            for (o, &mark) in owners.iter().zip(&marks) {
                if o.wait_for("reconnected", mark, RECOVERY).await.is_none() {
                    problems.push(format!("{} did not reconnect after {fault:?}", o.name));
                }
            }
        }
        // Every held lease answers a fresh caller on its port, the callers paused
        // (callers run on through the fault itself: a caller during an owner's c2s
        // outage costs that caller, not the lease, DESIGN decision 94).
        let paused = shared.gate.clone().write_owned().await;
        for &lease in &holders {
            match probe(&shared, lease).await {
                Ok(n) => {
                    probes += n;
                    lease_checks += 1;
                }
                Err(why) => problems.push(format!(
                    "lease {lease} not serving after {fault:?} at {:.1} s: {why}",
                    (start - began).as_secs_f64()
                )),
            }
        }
        let end = Instant::now();
        windows.push(Window { fault, start, end });
        say(&format!(
            "nemesis: back to service in {:.1} s",
            (end - start).as_secs_f64()
        ));
        if fault == Fault::NodeKill {
            // The baseline is the node's after its last start, once idle.
            baseline =
                settle_and_measure(&shared, &node, &owners, &expire_secs, &mut problems).await;
        }
        drop(paused);
        node.assert_running();
        next = Instant::now() + Duration::from_secs(rng.u64(FAULT_GAP));
    }

    // The calm tail: traffic on the settled node until the end, then the checks.
    tokio::time::sleep_until(soak_end).await;
    shared.stop.store(true, Ordering::SeqCst);
    for c in callers {
        c.await.expect("caller task");
    }
    node.assert_running();
    for &lease in &holders {
        match probe(&shared, lease).await {
            Ok(n) => {
                probes += n;
                lease_checks += 1;
            }
            Err(why) => problems.push(format!("lease {lease} not serving at the end: {why}")),
        }
    }
    let notices = check_owners(&mut owners, &holders, &expire_secs, &mut problems).await;
    let end_usage = settle_and_measure(&shared, &node, &owners, &expire_secs, &mut problems).await;
    if let (Some(b), Some(end_usage)) = (baseline, end_usage) {
        if end_usage.fds > b.fds + FD_MARGIN {
            problems.push(format!(
                "node descriptors: {} at the end, {} at baseline (margin {FD_MARGIN})",
                end_usage.fds, b.fds
            ));
        }
        if end_usage.rss_kib > b.rss_kib + RSS_MARGIN_KIB {
            problems.push(format!(
                "node memory: {} KiB at the end, {} KiB at baseline (margin {RSS_MARGIN_KIB} KiB)",
                end_usage.rss_kib, b.rss_kib
            ));
        }
    }
    check_ledger(&shared, &ledger, &mut problems).await;
    let sessions = std::mem::take(&mut *shared.sessions.lock().expect("sessions"));
    let report = Report {
        seed: plan.seed,
        secs: plan.secs,
        took: began.elapsed(),
        sessions,
        windows,
        probes,
        lease_checks,
        notices,
        baseline,
        end_usage,
        problems,
    };
    if !report.lost().is_empty() {
        for o in &owners {
            say(&format!(
                "----- {} (pass-client) log -----\n{}",
                o.name,
                o.logs()
            ));
        }
        // Every log in full, for the post-mortem.
        say(&format!("soak files kept in {}", dir.keep().display()));
    }
    report
}

/// A line on stderr past the test harness's capture: CI logs show the seed and the
/// faults as they happen, even if the run hangs.
pub fn say(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Waits until Prosody routes to the node again (bounded by [`RECOVERY`]).
async fn back_in_service(info: &ServerInfo) {
    support::wait_for_component(info, ("asker", "asker-pw"), RECOVERY).await;
}

/// A small session on `lease`, retried until it completes (bounded by
/// [`RECOVERY`]): how many it took, or the last failure.
async fn probe(shared: &Shared, lease: SocketAddr) -> Result<usize, String> {
    let deadline = Instant::now() + RECOVERY;
    let mut tries = 0;
    loop {
        tries += 1;
        // Probe ids are apart from the callers' (top bit set).
        let id = (1 << 63) | shared.next_id.fetch_add(1, Ordering::SeqCst) as u64;
        let h = Header {
            session: id,
            up: 1024,
            down: 1024,
        };
        let s = caller::run(lease, shared.seed, h, Duration::ZERO, None).await;
        match s.end {
            End::Complete => return Ok(tries),
            End::Corrupt(at) => return Err(format!("probe {id}: downstream differs at {at}")),
            End::Failed(why) if Instant::now() >= deadline => {
                return Err(format!("{tries} tries, the last: {why}"))
            }
            End::Failed(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Waits (bounded) until no session is in flight and every expiring owner holds a
/// lease not about to expire (so that the node's lease count is the same at every
/// measurement), then reads the node's memory and descriptors. An owner whose lease
/// is past its deadline without a notice is left out (that is [`check_owners`]'s to
/// report), and a node that does not settle is reported, not waited for forever.
async fn settle_and_measure(
    shared: &Shared,
    node: &Node,
    owners: &[Owner],
    expire_secs: &[Option<u64>],
    problems: &mut Vec<String>,
) -> Option<Usage> {
    let deadline = Instant::now() + RECOVERY;
    loop {
        let idle = shared.in_flight.load(Ordering::SeqCst) == 0;
        let steady = owners.iter().zip(expire_secs).all(|(o, e)| {
            let Some(secs) = e else { return true };
            let lease = Duration::from_secs(*secs);
            let last = o.events().into_iter().rev().find(is_lease_event);
            last.is_some_and(|last| {
                let age = last.at.elapsed();
                last.name() == "registered"
                    && (age > lease
                        || (age > Duration::from_secs(1) && age + Duration::from_secs(3) < lease))
            })
        });
        if idle && steady {
            // The node closes a relay's sockets just after its peers see the end.
            tokio::time::sleep(Duration::from_millis(500)).await;
            return Some(node.usage());
        }
        if Instant::now() >= deadline {
            problems.push(format!(
                "the node did not settle within {RECOVERY:?} (sessions in flight: {}, \
                 expiring owners steady: {steady})",
                shared.in_flight.load(Ordering::SeqCst)
            ));
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn is_lease_event(e: &crate::owner::Event) -> bool {
    matches!(e.name(), "registered" | "expired" | "closed")
}

/// Checks every owner's events: holders registered once and nothing else ended
/// their lease; expiring owners saw each lease registered, then expired exactly once
/// (at its own address), then registered again. Returns the notices counted.
async fn check_owners(
    owners: &mut [Owner],
    holders: &[SocketAddr],
    expire_secs: &[Option<u64>],
    problems: &mut Vec<String>,
) -> usize {
    let mut notices = 0;
    for (i, owner) in owners.iter_mut().enumerate() {
        if let Some(status) = owner.exited() {
            problems.push(format!("{} (pass-client) exited: {status}", owner.name));
        }
        let events = owner.events();
        let lease_events: Vec<_> = events.iter().filter(|e| is_lease_event(e)).collect();
        let Some(secs) = expire_secs[i] else {
            let addresses: Vec<_> = lease_events
                .iter()
                .map(|e| (e.name(), e.address()))
                .collect();
            if addresses != [("registered", Some(holders[i]))] {
                problems.push(format!(
                    "{} holds {}: its lease events were {addresses:?}",
                    owner.name, holders[i]
                ));
            }
            continue;
        };
        // registered, expired, registered, expired, …: a notice missing shows as two
        // registrations in a row (or a late last one), a notice doubled as two expiries.
        let mut held: Option<(SocketAddr, Instant)> = None;
        for e in &lease_events {
            match (e.name(), held) {
                ("registered", None) => held = e.address().map(|a| (a, e.at)),
                ("expired", Some((addr, since))) if e.address() == Some(addr) => {
                    let due = since + Duration::from_secs(secs);
                    if e.at > due + NOTICE_SLACK {
                        problems.push(format!(
                            "{}: the expire notice of {addr} came {:.1} s after its deadline",
                            owner.name,
                            (e.at - due).as_secs_f64()
                        ));
                    }
                    notices += 1;
                    held = None;
                }
                (name, _) => problems.push(format!(
                    "{}: {name} {:?} out of order (holding {held:?})",
                    owner.name,
                    e.address()
                )),
            }
        }
        if let Some((addr, since)) = held {
            let due = since + Duration::from_secs(secs);
            if Instant::now() > due {
                // Due: it has until the slack to come.
                let from = events.len();
                let left = (due + NOTICE_SLACK).saturating_duration_since(Instant::now());
                if owner.wait_for("expired", from, left).await.is_some() {
                    notices += 1;
                    continue;
                }
                problems.push(format!(
                    "{}: no expire notice for {addr}, due {:.1} s ago",
                    owner.name,
                    (Instant::now() - due).as_secs_f64()
                ));
            }
        }
    }
    notices
}

/// Every session the callers completed was complete at the service too, and no
/// service saw a byte out of place.
async fn check_ledger(shared: &Shared, ledger: &Ledger, problems: &mut Vec<String>) {
    // The service records a session's end just after the caller sees it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ledger = ledger.lock().expect("ledger");
    for (id, seen) in ledger.iter() {
        if let Some(at) = seen.corrupt_at {
            problems.push(format!(
                "session {id}: upstream differs at byte {at} at the service"
            ));
        }
    }
    for s in shared.sessions.lock().expect("sessions").iter() {
        if s.end != End::Complete {
            continue;
        }
        match ledger.get(&s.id) {
            Some(seen) if seen.complete && seen.received == u64::from(s.up) => {}
            other => problems.push(format!(
                "session {}: complete at the caller, at the service {other:?}",
                s.id
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: u64, started: Instant, secs: u64, end: End) -> Session {
        Session {
            id,
            lease: "127.0.0.1:1".parse().expect("address"),
            started,
            ended: started + Duration::from_secs(secs),
            up: 1,
            down: 1,
            received: 0,
            end,
        }
    }

    #[test]
    fn a_failure_counts_as_lost_unless_it_overlaps_a_fault_and_corruption_always_does() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let report = Report {
            seed: 0,
            secs: 60,
            took: Duration::ZERO,
            sessions: vec![
                session(1, at(0), 1, End::Complete),
                session(2, at(9), 2, End::Failed("reset".into())),
                session(3, at(20), 1, End::Failed("reset".into())),
                session(4, at(10), 1, End::Corrupt(5)),
            ],
            windows: vec![Window {
                fault: Fault::NodeKill,
                start: at(10),
                end: at(12),
            }],
            probes: 0,
            lease_checks: 0,
            notices: 0,
            baseline: None,
            end_usage: None,
            problems: vec!["a lease moved".into()],
        };
        let lost = report.lost();
        assert_eq!(lost.len(), 3, "{lost:?}");
        assert!(lost[0].contains("a lease moved"));
        assert!(lost[1].contains("session 3 ") && lost[1].contains("outside any fault"));
        assert!(lost[2].contains("session 4 ") && lost[2].contains("differs at byte 5"));
        assert!(report.to_string().ends_with("lost: 3"));
    }
}
