//! The sequence faults (pass-faults, DESIGN decision 133): the catalogue misses
//! each (tests/catches_faults.rs: every case passes with them on); `explore` finds
//! each on the in-process target within its documented step budget
//! (docs/BENCHMARKS.md, "Steps to find"), with a fixed seed, and the shrunk replay
//! fails again on a fresh run with the fault and passes on the reference.

mod explore_support;

use explore_support::{block_on, explore_cmd, settings};
use pass_conformance::explore::targets;
use pass_conformance::explore::{explore, replay, ExploreOptions, Outcome};
use pass_conformance::faults::KnownFault;
use pass_faults::Fault;

/// Each sequence fault, the seed the test uses, the most steps explore may take to
/// find it, and what the mismatch says.
const BUDGETS: [(Fault, u64, usize, &str); 6] = [
    (Fault::StaleExpireTimer, 1, 1000, "no live lease"),
    (Fault::ProxyPortLeak, 1, 2000, "refused"),
    (Fault::CloseOtherLease, 1, 1000, ""),
    (
        Fault::NoticeToLatestResource,
        1,
        1000,
        "not the lease's owner",
    ),
    (Fault::ExpiryRestartedBySession, 1, 2000, "no expire notice"),
    (Fault::NoRelistenAfterOwnerHangUp, 1, 1000, "was refused"),
];

#[test]
fn explore_finds_every_sequence_fault_within_its_budget() {
    assert_eq!(
        BUDGETS.map(|b| b.0),
        Fault::SEQUENCE,
        "every sequence fault has a budget"
    );
    let mut report = Vec::new();
    for (fault, seed, budget, says) in BUDGETS {
        let known = KnownFault::Engine(fault);
        let mut t = targets::inproc(Some(known), settings(Some(64)));
        let opts = ExploreOptions {
            seed,
            steps: 1000,
            runs: budget.div_ceil(1000),
            shrink_tries: 200,
            ..ExploreOptions::default()
        };
        let (replay_file, summary) = match block_on(explore(&mut t, &opts)).unwrap() {
            Outcome::Found(r, s) => (r, s),
            Outcome::Passed(s) => panic!(
                "{}: not found in {} steps (seed {seed})",
                fault.name(),
                s.steps
            ),
        };
        assert!(
            summary.steps <= budget,
            "{}: found after {} steps, budget {budget}",
            fault.name(),
            summary.steps
        );
        assert!(
            replay_file.mismatch.contains(says),
            "{}: {}",
            fault.name(),
            replay_file.mismatch
        );
        // The replay file reads back and fails again on a fresh run ...
        let ops = replay::parse(&replay_file.render()).unwrap();
        assert_eq!(ops, replay_file.ops);
        let again = block_on(pass_conformance::explore::replay(&mut t, &ops, 2)).unwrap();
        assert!(again.is_some(), "{}: the replay passed", fault.name());
        // ... and passes on the reference: it is the fault that fails it.
        let mut reference = targets::inproc(None, settings(Some(64)));
        let clean = block_on(pass_conformance::explore::replay(&mut reference, &ops, 2)).unwrap();
        assert!(
            clean.is_none(),
            "{}: the reference fails the replay:\n{}",
            fault.name(),
            clean.map(|r| r.render()).unwrap_or_default()
        );
        report.push(format!(
            "{}: found after {} steps (seed {seed}), shrunk to {} operations",
            fault.name(),
            summary.steps,
            ops.len()
        ));
    }
    // Steps to find, for docs/BENCHMARKS.md (`cargo test ... -- --nocapture`).
    println!("{}", report.join("\n"));
}

#[test]
fn the_replay_of_a_sequence_fault_reproduces_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let (code, stdout, _) = explore_cmd(args);
        (code, stdout)
    };
    let save = dir.path().to_str().unwrap();
    let (code, found) = run(&[
        "inproc",
        "--fault",
        "stale-expire-timer",
        "--seed",
        "1",
        "--save-dir",
        save,
    ]);
    assert_eq!(code, Some(1), "{found}");
    let file = dir.path().join("explore-seed1-run0.replay");
    let file = file.to_str().unwrap();
    let (code, again) = run(&["inproc", "--fault", "stale-expire-timer", "--replay", file]);
    assert_eq!(code, Some(1), "{again}");
    assert!(again.contains("no live lease"), "{again}");
    let (code, clean) = run(&["inproc", "--replay", file]);
    assert_eq!(code, Some(0), "{clean}");
}

#[test]
fn the_documented_replay_file_is_what_explore_writes() {
    let (code, replay, _) = explore_cmd(&[
        "inproc",
        "--fault",
        "stale-expire-timer",
        "--seed",
        "5",
        "--pool-size",
        "64",
    ]);
    assert_eq!(code, Some(1));
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/CONFORMANCE.md"
    ))
    .unwrap();
    assert!(
        doc.contains(&replay),
        "docs/CONFORMANCE.md (\"Reading a replay file\") no longer shows what \
         `explore inproc --fault stale-expire-timer --seed 5 --pool-size 64` writes; \
         paste it in:\n{replay}"
    );
}
