//! The `pass-conformance` binary: catalogue listing, formats, exit codes.

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pass-conformance"))
}

#[test]
fn list_prints_every_case() {
    let out = bin().arg("list").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for c in pass_conformance::catalogue() {
        assert!(text.contains(c.id), "{} missing from the list", c.id);
    }
    let md = bin()
        .args(["list", "--format", "markdown"])
        .output()
        .unwrap();
    let md = String::from_utf8(md.stdout).unwrap();
    assert!(md.contains("| `pass/4.3/close-not-owner-401` |"), "{md}");
}

#[test]
fn inproc_passes_and_writes_junit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.xml");
    let out = bin()
        .args(["inproc", "--format", "junit", "--output"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let xml = std::fs::read_to_string(&path).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let n = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .count();
    assert_eq!(n, pass_conformance::catalogue().len());
}

#[test]
fn a_fault_makes_exit_code_1() {
    let out = bin()
        .args(["inproc", "--fault", "deny-ignored", "--only", "pass/5.2/*"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("FAIL pass/5.2/deny-401-drops-client"),
        "{text}"
    );
}

#[test]
fn should_failures_warn_unless_strict() {
    let args = [
        "inproc",
        "--fault",
        "host-no-half-close",
        "--only",
        "pass/3/half-close",
    ];
    let lenient = bin().args(args).output().unwrap();
    assert_eq!(lenient.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&lenient.stdout).contains("WARN pass/3/half-close [SHOULD]"));
    let strict = bin().args(args).arg("--strict").output().unwrap();
    assert_eq!(strict.status.code(), Some(1));
}

#[test]
fn run_that_cannot_happen_exits_2_with_a_reason() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "x").unwrap();
    let out = bin()
        .args([
            "component",
            "--listen",
            &taken.local_addr().unwrap().to_string(),
            "--domain",
            "pass.localhost",
            "--secret-file",
        ])
        .arg(&secret)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("port in use"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn wasm_fuel_flag_bounds_a_looping_module() {
    // A module that loops forever: every case fails naming the fuel budget given on
    // the command line, and the run ends.
    let wat = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/loop.wat");
    let out = bin()
        .args(["wasm", "--fuel", "123456"])
        .arg(&wat)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("fuel budget of 123456"), "{text}");
}

#[test]
fn tolerated_deviation_warns_unless_strict() {
    // Every error type differs from XEP-0086's: a WARN (exit 0), FAIL under --strict.
    let args = [
        "inproc",
        "--fault",
        "wrong-error-type",
        "--only",
        "pass/4.3/close-wrong-ip-405",
    ];
    let lenient = bin().args(args).output().unwrap();
    let text = String::from_utf8_lossy(&lenient.stdout);
    assert_eq!(lenient.status.code(), Some(0), "{text}");
    assert!(
        text.contains("WARN pass/4.3/close-wrong-ip-405 [MUST]"),
        "{text}"
    );
    assert!(
        text.contains("type 'wait'; XEP-0086 maps 405 to type 'cancel'"),
        "{text}"
    );
    let strict = bin().args(args).arg("--strict").output().unwrap();
    let text = String::from_utf8_lossy(&strict.stdout);
    assert_eq!(strict.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL pass/4.3/close-wrong-ip-405 [MUST]"),
        "{text}"
    );
}

#[test]
fn skip_passes_the_run_unless_strict() {
    // No target skips a case on demand, so the verdict the binary exits with
    // (`SuiteReport::exit_code`) is checked on a report holding one SKIP of a MUST.
    use pass_conformance::runner::{Outcome, Status, SuiteReport};
    let skipped = |strict| SuiteReport {
        target: "test".into(),
        strict,
        outcomes: vec![Outcome {
            id: "pass/2/no-ports-502".into(),
            section: "2".into(),
            listing: None,
            level: pass_conformance::Level::Must,
            requirement: String::new(),
            description: String::new(),
            status: Status::Skip,
            notes: vec!["no 502 after 256 leases".into()],
            failure: None,
            duration_ms: 0,
            expected: None,
            transcript: Default::default(),
        }],
        impl_log_tail: None,
        stale_expectations: Vec::new(),
        baseline: None,
    };
    assert_eq!(skipped(false).exit_code(), 0);
    assert_eq!(skipped(true).exit_code(), 1);
    let mut xfail = skipped(true);
    xfail.outcomes[0].status = Status::Xfail;
    assert_eq!(
        xfail.exit_code(),
        0,
        "an expected failure never fails a run"
    );
}

#[test]
fn bad_timing_tolerance_exits_2() {
    let out = bin()
        .args(["inproc", "--timing-tolerance=-1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--timing-tolerance"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn help_states_outcomes_exit_codes_and_tolerance() {
    let top = bin().arg("--help").output().unwrap();
    let top = String::from_utf8_lossy(&top.stdout);
    for needle in [
        "PASS, FAIL, WARN",
        "SKIP (not checkable here; the reason is given)",
        "XFAIL",
        "Exit codes: 0 no case failed (with --strict: every case PASS or XFAIL)",
        "1 a case failed (with --strict: also any WARN or SKIP)",
        "2 the run could not happen",
    ] {
        assert!(top.contains(needle), "{needle:?} not in:\n{top}");
    }
    let sub = bin().args(["inproc", "--help"]).output().unwrap();
    let sub = String::from_utf8_lossy(&sub.stdout);
    assert!(sub.contains("--timing-tolerance <SECS>"), "{sub}");
    assert!(sub.contains("[default: 1]"), "{sub}");
    assert!(sub.contains("a SKIP (of any level) exits 1"), "{sub}");
}

#[test]
fn conformance_doc_lists_the_declared_faults_verbatim() {
    let out = bin()
        .args(["list", "--faults", "--format", "markdown"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    for f in pass_conformance::faults::KnownFault::all() {
        assert!(table.contains(&format!("| `{}` |", f.name())), "{table}");
    }
    let doc = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/CONFORMANCE.md");
    let doc = std::fs::read_to_string(doc).unwrap();
    assert!(
        doc.contains(&table),
        "docs/CONFORMANCE.md does not hold the output of \
         `pass-conformance list --faults --format markdown`; paste it in:\n{table}"
    );
    let text = bin().args(["list", "--faults"]).output().unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("host-ignore-unlisten"));
}

#[test]
fn verbose_shows_the_transcript_of_a_passing_case() {
    let run = |verbose: bool| {
        let mut cmd = bin();
        cmd.args(["inproc", "--only", "pass/2/register-result"]);
        if verbose {
            cmd.arg("--verbose");
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8(out.stdout).unwrap()
    };
    let quiet = run(false);
    assert!(!quiet.contains("transcript:"), "{quiet}");
    assert!(!quiet.contains("+0.000s"), "{quiet}");
    let verbose = run(true);
    let details = verbose
        .split("\nPASS pass/2/register-result [MUST] ")
        .nth(1)
        .unwrap_or_else(|| panic!("{verbose}"));
    assert!(
        details.contains("\n  transcript:\n    +0.000s  sent  <iq type='set'"),
        "{verbose}"
    );
    assert!(
        verbose.contains("+0.000s  recv  <iq type='result' id='c2-1' from='pass.localhost'"),
        "{verbose}"
    );
}

#[test]
fn format_html_writes_one_page_and_prints_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.html");
    let out = bin()
        .args([
            "inproc",
            "--only",
            "pass/4.3/*",
            "--format",
            "html",
            "--output",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("pass/4.3/close-ack"), "{stdout}");
    let page = std::fs::read_to_string(&path).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    assert!(
        page.contains("data-case=\"pass/4.3/close-ack\" data-status=\"PASS\""),
        "{page}"
    );
}

#[test]
fn conformance_doc_holds_the_client_cases_and_faults_verbatim() {
    let doc = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/CONFORMANCE.md");
    let doc = std::fs::read_to_string(doc).unwrap();
    for args in [
        &["list", "--target", "client", "--format", "markdown"][..],
        &[
            "list", "--target", "client", "--faults", "--format", "markdown",
        ][..],
    ] {
        let out = bin().args(args).output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            doc.contains(&text),
            "docs/CONFORMANCE.md does not hold the output of `pass-conformance {}`; paste it in:\n{text}",
            args.join(" ")
        );
    }
}

/// `explore c2s` acts only as its `--account`s: more `--accounts` than that is
/// refused before anything connects, saying how many there are (DESIGN decision 135).
#[test]
fn explore_c2s_refuses_more_accounts_than_given() {
    let dir = tempfile::tempdir().unwrap();
    let passwords = dir.path().join("passwords");
    std::fs::write(&passwords, "a@localhost pw-a\nb@localhost pw-b\n").unwrap();
    let out = bin()
        .args(["explore", "c2s", "--server", "127.0.0.1:1"])
        .args(["--service", "pass.localhost", "--tls", "none"])
        .args(["--account", "a@localhost", "--account", "b@localhost"])
        .arg("--password-file")
        .arg(&passwords)
        .args(["--accounts", "3"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--accounts 3") && stderr.contains("--accounts 2 at most"),
        "{stderr}"
    );
}
