//! `pass-conformance explore` against the in-process reference: it passes thousands
//! of random steps with no mismatch, a run is a function of its seed, and the
//! command line reports what it covered (issue 14, DESIGN decisions 130–134).

mod explore_support;

use explore_support::{block_on, explore_cmd, settings};
use pass_conformance::explore::targets;
use pass_conformance::explore::{explore, ExploreOptions, Outcome, Summary};

fn passes(seed: u64, steps: usize, runs: usize) -> Summary {
    let mut t = targets::inproc(None, settings(Some(64)));
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
    let (code, stdout, stderr) =
        explore_cmd(&["inproc", "--seed", "42", "--steps", "300", "--runs", "2"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stderr.contains("seed 42"), "{stderr}");
    assert!(stdout.contains("no mismatch in 600 steps"), "{stdout}");
    assert!(stdout.contains("seed: 42"), "{stdout}");
    assert!(stdout.contains("operations: register "), "{stdout}");
    assert!(stdout.contains("states reached"), "{stdout}");
}

#[test]
fn a_mismatch_is_shrunk_printed_saved_and_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let save = dir.path().to_str().unwrap();
    let (code, stdout, stderr) = explore_cmd(&[
        "inproc",
        "--fault",
        "no-expire-notice",
        "--seed",
        "1",
        "--save-dir",
        save,
    ]);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with(pass_conformance::explore::replay::MAGIC),
        "{stdout}"
    );
    assert!(stdout.contains("no expire notice (§4.1)"), "{stdout}");
    // Minimal: a lease with an expiry, then time passing.
    let ops = pass_conformance::explore::replay::parse(&stdout).unwrap();
    assert_eq!(ops.len(), 2, "{stdout}");
    assert_eq!(ops[0].name(), "register");
    assert_eq!(ops[1].name(), "wait");
    let file = dir.path().join("explore-seed1-run0.replay");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), stdout);
    let file = file.to_str().unwrap();
    // The replay fails again with the fault, and passes on the reference.
    let (code, again, _) =
        explore_cmd(&["inproc", "--fault", "no-expire-notice", "--replay", file]);
    assert_eq!(code, Some(1), "{again}");
    assert!(again.contains("no expire notice (§4.1)"), "{again}");
    let (code, fine, _) = explore_cmd(&["inproc", "--replay", file]);
    assert_eq!(code, Some(0), "{fine}");
    assert!(fine.contains("the 2 operations of"), "{fine}");
}

#[test]
fn a_bad_replay_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.replay");
    std::fs::write(&file, "register account=x\n").unwrap();
    let (code, _, stderr) = explore_cmd(&["inproc", "--replay", file.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("account=x is not a number"), "{stderr}");
}
