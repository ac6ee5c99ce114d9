//! The JSON and JUnit reports of a fixed in-process run: snapshots (timings
//! redacted), and checks with real parsers.

use pass_conformance::inproc::{reference_config, InprocHost, SERVICE_JID};
use pass_conformance::runner::{run_suite, RunOptions, Status, SuiteReport};
use pass_conformance::{catalogue, report};
use pass_core::service::Service;
use pass_faults::{Fault, FaultyEngine};

/// §4.3 and §5.2 against a service that answers 404 where 401 is due: a fixed mix
/// of passes and failures. Durations zeroed so the reports are reproducible.
fn fixed_run() -> SuiteReport {
    let c = reference_config();
    let engine = FaultyEngine::new(Service::new(c.clone()).unwrap(), Fault::WrongErrorCode);
    let host = InprocHost::new(engine, SERVICE_JID, c.advertised.clone(), c.answer_timeout);
    let opts = RunOptions {
        only: vec![
            glob::Pattern::new("pass/4.3/*").unwrap(),
            glob::Pattern::new("pass/5.1/*").unwrap(),
        ],
        skip: vec![glob::Pattern::new("pass/4.3/close-ack").unwrap()],
        strict: false,
        ..RunOptions::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut r = rt
        .block_on(run_suite(
            Box::new(host),
            "inproc (fault wrong-error-code)",
            &catalogue(),
            &opts,
        ))
        .0;
    for o in &mut r.outcomes {
        o.duration_ms = 0;
    }
    r
}

#[test]
fn json_report_snapshot_and_shape() {
    let r = fixed_run();
    let text = report::json(&r);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let outcomes = v["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len(), 8);
    assert!(
        outcomes.iter().all(|o| o["id"] != "pass/4.3/close-ack"),
        "--skip ignored"
    );
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|o| o["status"] == "FAIL")
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["pass/4.3/close-not-owner-401"]);
    let f = &outcomes.iter().find(|o| o["status"] == "FAIL").unwrap()["failure"];
    assert!(
        f["expected"].as_str().unwrap().contains("code='401'"),
        "{f}"
    );
    assert!(f["got"].as_str().unwrap().contains("code='404'"), "{f}");
    assert!(f["sent"].as_str().unwrap().contains("<close/>"), "{f}");
    // The requirement, verbatim, with the spec version, and the unmet list.
    let failed = outcomes.iter().find(|o| o["status"] == "FAIL").unwrap();
    assert_eq!(
        failed["requirement"],
        "401 … Port not registered to your JID. … You did not register this port with the server."
    );
    assert_eq!(v["spec_version"], "1.4");
    let unmet = v["requirements_not_met"].as_array().unwrap();
    assert_eq!(unmet.len(), 1, "{unmet:?}");
    assert_eq!(unmet[0]["section"], "4.3");
    assert_eq!(unmet[0]["cases"][0], "pass/4.3/close-not-owner-401");
    assert_eq!(r.exit_code(), 1);
    // Every case carries its transcript: flat entries, times on the virtual clock.
    assert!(outcomes.iter().all(|o| o["transcript"].is_array()));
    let t = failed["transcript"].as_array().unwrap();
    let kinds: Vec<&str> = t.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "stanza-sent",
            "stanza-received",
            "stanza-sent",
            "stanza-received",
            "stanza-sent",
            "stanza-received"
        ]
    );
    assert_eq!(t[3]["at_ms"], 0);
    assert!(
        t[3]["xml"].as_str().unwrap().contains("<error code='404'"),
        "{}",
        t[3]
    );
    insta::assert_snapshot!("json_report", text);
}

#[test]
fn junit_report_snapshot_and_shape() {
    let r = fixed_run();
    let text = report::junit(&r);
    let doc = roxmltree::Document::parse(&text).unwrap();
    let suites: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 2, "one testsuite per section");
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), r.outcomes.len());
    let failures: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .collect();
    assert_eq!(failures.len(), r.count(Status::Fail));
    let body = failures[0].text().unwrap();
    assert!(
        body.contains("<error code='401'"),
        "escaped XML must come back verbatim: {body}"
    );
    assert!(
        body.contains("XEP-0003 1.4 says: \"401 … Port not registered to your JID."),
        "the failure quotes the requirement: {body}"
    );
    assert_eq!(
        failures[0].parent().unwrap().attribute("name"),
        Some("pass/4.3/close-not-owner-401")
    );
    // Every case that quotes the spec carries the quote, passing or not.
    let quoted = doc
        .descendants()
        .filter(|n| n.has_tag_name("property") && n.attribute("name") == Some("requirement"))
        .count();
    assert_eq!(
        quoted,
        r.outcomes
            .iter()
            .filter(|o| !o.requirement.is_empty())
            .count()
    );
    insta::assert_snapshot!("junit_report", text);
}

#[test]
fn table_names_section_expected_and_got() {
    let t = report::table(&fixed_run());
    assert!(
        t.contains("FAIL pass/4.3/close-not-owner-401 [MUST]"),
        "{t}"
    );
    assert!(t.contains("§4.3: close someone else's port"), "{t}");
    assert!(
        t.contains("XEP-0003 1.4 says: \"401 … Port not registered to your JID."),
        "{t}"
    );
    assert!(
        t.contains("Requirements not met (XEP-0003 1.4):\n  §4.3 \"401 … Port not registered")
            && t.contains("    cases: pass/4.3/close-not-owner-401"),
        "{t}"
    );
    assert!(
        t.contains("expected:") && t.contains("got:") && t.contains("sent:"),
        "{t}"
    );
}

#[test]
fn table_prints_transcripts_of_failures_and_with_verbose_of_passes() {
    let r = fixed_run();
    let t = report::table(&r);
    let failing = t
        .split("\nFAIL pass/4.3/close-not-owner-401")
        .nth(1)
        .unwrap_or_else(|| panic!("{t}"));
    assert!(
        failing.contains("  transcript:\n    +0.000s  sent  <iq type='set' id='c28-1'"),
        "{t}"
    );
    assert!(
        failing.contains("    +0.000s  recv  <iq type='error' id='c28-2' from='pass.localhost'"),
        "{t}"
    );
    // A passing case shows neither details nor transcript without --verbose...
    assert!(!t.contains("PASS pass/4.3/close-port-closed"), "{t}");
    assert_eq!(
        t.matches("  transcript:").count(),
        r.outcomes
            .iter()
            .filter(|o| o.status != Status::Pass)
            .count()
    );
    // ...and both with it.
    let v = report::table_with(&r, report::TableOptions::verbose(true));
    assert!(
        v.contains("\nPASS pass/4.3/close-port-closed [MUST]"),
        "{v}"
    );
    assert_eq!(v.matches("  transcript:").count(), r.outcomes.len());
    insta::assert_snapshot!("table_report", t);
}
