//! Proof the runner catches faults: every engine fault (pass-faults) and every host
//! fault of the simulated host makes at least one named case fail in process.

use pass_conformance::inproc::{reference_config, HostFault, InprocHost, SERVICE_JID};
use pass_conformance::runner::{run_suite, RunOptions, Status, SuiteReport};
use pass_conformance::{catalogue, Harness};
use pass_core::service::Service;
use pass_faults::{Fault, FaultyEngine};

fn run(host: Box<dyn Harness>) -> SuiteReport {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Strict: a fault caught only by a SHOULD case still counts as caught.
    let opts = RunOptions {
        strict: true,
        ..RunOptions::default()
    };
    rt.block_on(run_suite(host, "inproc", &catalogue(), &opts))
        .0
}

fn service() -> Service {
    Service::new(reference_config()).unwrap()
}

fn host<E: pass_core::engine::Engine + 'static>(engine: E) -> InprocHost<E> {
    let c = reference_config();
    InprocHost::new(engine, SERVICE_JID, c.advertised.clone(), c.answer_timeout)
}

fn caught(report: &SuiteReport) -> Vec<String> {
    report
        .outcomes
        .iter()
        .filter(|o| o.status == Status::Fail)
        .map(|o| format!("{} [{}]", o.id, o.level))
        .collect()
}

#[test]
fn every_engine_fault_is_caught() {
    let mut missed = Vec::new();
    for fault in Fault::ALL {
        let report = run(Box::new(host(FaultyEngine::new(service(), fault))));
        let by = caught(&report);
        eprintln!("fault {:<28} caught by {}", fault.name(), by.join(", "));
        if by.is_empty() {
            missed.push(fault.name());
        }
    }
    assert!(missed.is_empty(), "faults no case caught: {missed:?}");
}

#[test]
fn every_host_fault_is_caught() {
    let mut missed = Vec::new();
    for fault in HostFault::ALL {
        let report = run(Box::new(host(service()).with_fault(fault)));
        let by = caught(&report);
        eprintln!("fault {:<32} caught by {}", fault.name(), by.join(", "));
        if by.is_empty() {
            missed.push(fault.name());
        }
    }
    assert!(missed.is_empty(), "host faults no case caught: {missed:?}");
}

#[test]
fn no_fault_no_failure() {
    let report = run(Box::new(host(service())));
    assert!(
        caught(&report).is_empty(),
        "{}",
        pass_conformance::report::table(&report)
    );
}

#[test]
fn verdict_faults_are_caught_by_the_cases_meant_for_them() {
    // Each fault of issue 10's "right checks" and the cases whose new checks catch it
    // (docs/CONFORMANCE.md lists them).
    let expected: [(Fault, &[&str]); 5] = [
        (
            Fault::WrongErrorType,
            &[
                "pass/2/no-ports-502",
                "pass/4.3/close-missing-proxy-400",
                "pass/4.3/close-not-owner-401",
                "pass/4.3/close-unknown-port-404",
                "pass/4.3/close-wrong-ip-405",
            ],
        ),
        (
            Fault::ExpireNoticeEarly,
            &["pass/4.1/expire-notice", "pass/4.1/not-before-expiry"],
        ),
        (Fault::ExpireNoticeLate, &["pass/4.1/expire-notice"]),
        (
            Fault::CallerDroppedAtOnce,
            &["pass/3/incoming-request", "pass/3/no-answer-drops-client"],
        ),
        (
            Fault::ErrorFromWrongJid,
            &[
                "pass/2/no-ports-502",
                "pass/4.3/close-missing-proxy-400",
                "pass/4.3/close-not-owner-401",
                "pass/4.3/close-unknown-port-404",
                "pass/4.3/close-wrong-ip-405",
            ],
        ),
    ];
    for (fault, ids) in expected {
        let report = run(Box::new(host(FaultyEngine::new(service(), fault))));
        for id in ids {
            let o = report.outcomes.iter().find(|o| o.id == *id).unwrap();
            assert_eq!(
                o.status,
                Status::Fail,
                "fault {} not caught by {id}",
                fault.name()
            );
        }
    }
}
