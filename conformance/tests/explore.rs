//! `pass-conformance explore` against the in-process reference: it passes thousands
//! of random steps with no mismatch, a run is a function of its seed, and the
//! command line reports what it covered (issue 14, DESIGN decisions 130–134).

use pass_conformance::explore::targets::{self, Settings};
use pass_conformance::explore::{explore, ExploreOptions, Outcome, Summary};
use std::process::Command;
use std::time::Duration;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn settings() -> Settings {
    Settings {
        pool_size: Some(64),
        tolerance: Duration::from_secs(1),
    }
}

fn passes(seed: u64, steps: usize, runs: usize) -> Summary {
    let mut t = targets::inproc(None, settings());
    let opts = ExploreOptions {
        seed,
        steps,
        runs,
        ..ExploreOptions::default()
    };
    match block_on(explore(&mut t, &opts)).unwrap() {
        Outcome::Passed(s) => s,
        Outcome::Found(r, _) => panic!("the reference mismatched:\n{}", r.render()),
    }
}

#[test]
fn the_reference_passes_twenty_thousand_steps() {
    let s = passes(20261130, 1000, 20);
    assert_eq!(s.steps + s.skipped, 20_000);
    // Every operation of the in-process target was carried out (all but the nemesis).
    for name in pass_conformance::explore::op::Op::NAMES {
        let n = s.operations.get(name).copied().unwrap_or(0);
        assert_eq!(n > 0, name != "nemesis", "{name}: {n}");
    }
    for state in [
        "session:relaying",
        "lease:expired",
        "lease:oneshot-used",
        "lease:closed",
        "account:two-leases",
        "session:caller-dropped",
    ] {
        assert!(
            s.states.contains(state),
            "{state} not reached: {:?}",
            s.states
        );
    }
}

#[test]
fn a_run_is_a_function_of_its_seed() {
    let a = passes(7, 300, 2);
    let b = passes(7, 300, 2);
    let c = passes(8, 300, 2);
    assert_eq!(a.operations, b.operations);
    assert_eq!(a.states, b.states);
    assert_ne!(a.operations, c.operations);
}

#[test]
fn the_command_prints_the_seed_and_what_it_covered() {
    let out = Command::new(env!("CARGO_BIN_EXE_pass-conformance"))
        .args([
            "explore", "inproc", "--seed", "42", "--steps", "300", "--runs", "2",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stderr.contains("seed 42"), "{stderr}");
    assert!(stdout.contains("no mismatch in 600 steps"), "{stdout}");
    assert!(stdout.contains("seed: 42"), "{stdout}");
    assert!(stdout.contains("operations: register "), "{stdout}");
    assert!(stdout.contains("states reached"), "{stdout}");
}
