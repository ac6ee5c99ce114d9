//! Expectations (`--expect`, DESIGN decision 81) and baselines (`--baseline`, DESIGN
//! decision 82), through the binary: exit codes, and what each report format shows.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pass-conformance"))
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `deny-ignored` fails exactly pass/5.2/deny-401-drops-client.
const DENY: [&str; 5] = ["inproc", "--fault", "deny-ignored", "--only", "pass/5.2/*"];

const EXPECT_DENY: &str = r#"# Our known bug.
[[expect]]
case = "pass/5.2/deny-401-*"
outcome = "FAIL"
reason = "we relay after a deny (bug 12)"
"#;

#[test]
fn a_met_expectation_is_xfail_and_passes_the_run_with_or_without_strict() {
    let dir = tempfile::tempdir().unwrap();
    let expect = write(dir.path(), "expect.toml", EXPECT_DENY);
    let without = bin().args(DENY).output().unwrap();
    assert_eq!(without.status.code(), Some(1), "{}", stdout(&without));
    for strict in [false, true] {
        let mut cmd = bin();
        cmd.args(DENY).arg("--expect").arg(&expect);
        if strict {
            cmd.arg("--strict");
        }
        let out = cmd.output().unwrap();
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(0), "strict {strict}: {text}");
        assert!(
            text.contains("XFAIL pass/5.2/deny-401-drops-client [MUST]"),
            "{text}"
        );
        assert!(
            text.contains(
                "expected FAIL (--expect line 2, case \"pass/5.2/deny-401-*\"): we relay after a deny (bug 12)"
            ),
            "{text}"
        );
        // What went wrong is still shown.
        assert!(text.contains("relayed despite the deny"), "{text}");
        assert!(text.contains("1 expected failures"), "{text}");
        // An expected failure is still a requirement not met.
        assert!(
            text.contains("Requirements not met")
                && text.contains("cases: pass/5.2/deny-401-drops-client"),
            "{text}"
        );
    }
}

#[test]
fn an_expectation_of_another_outcome_does_not_hide_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let expect = write(
        dir.path(),
        "expect.toml",
        &EXPECT_DENY.replace("\"FAIL\"", "\"WARN\""),
    );
    let out = bin()
        .args(DENY)
        .arg("--expect")
        .arg(&expect)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL pass/5.2/deny-401-drops-client"),
        "{text}"
    );
    assert!(text.contains("expected WARN (--expect line 2"), "{text}");
}

#[test]
fn an_expected_warn_is_xfail_under_strict_too() {
    // host-no-half-close makes the SHOULD case pass/3/half-close WARN (FAIL under --strict).
    let dir = tempfile::tempdir().unwrap();
    let expect = write(
        dir.path(),
        "expect.toml",
        "[[expect]]\ncase = \"pass/3/half-close\"\noutcome = \"WARN\"\nreason = \"our relay does not pass FIN on\"\n",
    );
    let out = bin()
        .args([
            "inproc",
            "--fault",
            "host-no-half-close",
            "--only",
            "pass/3/half-close",
            "--strict",
            "--expect",
        ])
        .arg(&expect)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("XFAIL pass/3/half-close [SHOULD]"), "{text}");
}

/// Runs §5.2 in process with this expectations file: exit 0 with `needles` in the
/// table, exit 1 under `--strict`.
fn reported_and_fails_only_under_strict(expect_text: &str, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let expect = write(dir.path(), "expect.toml", expect_text);
    let args = ["inproc", "--only", "pass/5.2/*", "--expect"];
    let out = bin().args(args).arg(&expect).output().unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    for needle in needles {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
    let strict = bin().args(args).arg(&expect).arg("--strict").output();
    let strict = strict.unwrap();
    assert_eq!(strict.status.code(), Some(1), "{}", stdout(&strict));
}

#[test]
fn an_unexpected_pass_is_reported_and_fails_only_under_strict() {
    reported_and_fails_only_under_strict(
        "[[expect]]\ncase = \"pass/5.2/deny-relisten\"\noutcome = \"FAIL\"\nreason = \"fixed since\"\n",
        &[
            "Unexpected passes (expected not to pass; update the expectations):\n  \
             pass/5.2/deny-relisten: expected FAIL (line 1",
            "1 unexpected passes",
        ],
    );
}

#[test]
fn a_stale_expectation_is_reported_and_fails_only_under_strict() {
    // Only §5.2 runs: --only does not make an expectation stale, the catalogue does.
    reported_and_fails_only_under_strict(
        "[[expect]]\ncase = \"pass/4.4/*\"\noutcome = \"SKIP\"\nreason = \"renamed section\"\n",
        &["Stale expectations (match no case):\n  line 1: case \"pass/4.4/*\": renamed section"],
    );
    let dir = tempfile::tempdir().unwrap();
    let not_stale = write(
        dir.path(),
        "expect.toml",
        "[[expect]]\ncase = \"pass/4.3/*\"\noutcome = \"SKIP\"\nreason = \"not selected\"\n",
    );
    let out = bin()
        .args(["inproc", "--only", "pass/5.2/*", "--strict", "--expect"])
        .arg(&not_stale)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(!stdout(&out).contains("Stale"), "{}", stdout(&out));
}

#[test]
fn json_and_junit_show_xfail_unexpected_passes_and_stale_expectations() {
    let dir = tempfile::tempdir().unwrap();
    let expect = write(
        dir.path(),
        "expect.toml",
        &format!(
            "{EXPECT_DENY}\n[[expect]]\ncase = \"pass/5.2/deny-relisten\"\noutcome = \"FAIL\"\nreason = \"was broken\"\n\
             \n[[expect]]\ncase = \"nothing/*\"\noutcome = \"SKIP\"\nreason = \"gone\"\n"
        ),
    );
    // The report in `format`, written with --output; the run passes.
    let report = |format: &str| {
        let path = dir.path().join(format!("report.{format}"));
        let out = bin()
            .args(DENY)
            .arg("--expect")
            .arg(&expect)
            .args(["--format", format, "--output"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
        std::fs::read_to_string(&path).unwrap()
    };
    let v: serde_json::Value = serde_json::from_str(&report("json")).unwrap();
    let case = |id: &str| {
        v["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == id)
            .unwrap()
            .clone()
    };
    let x = case("pass/5.2/deny-401-drops-client");
    assert_eq!(x["status"], "XFAIL");
    assert_eq!(x["expected"]["outcome"], "FAIL");
    assert_eq!(x["expected"]["reason"], "we relay after a deny (bug 12)");
    assert_eq!(x["expected"]["line"], 2);
    assert!(x["failure"]["got"].as_str().unwrap().contains("relayed"));
    assert_eq!(case("pass/5.2/deny-relisten")["status"], "PASS");
    assert_eq!(
        v["unexpected_passes"],
        serde_json::json!(["pass/5.2/deny-relisten"])
    );
    assert_eq!(v["stale_expectations"][0]["case"], "nothing/*");
    assert_eq!(v["stale_expectations"][0]["line"], 12);
    assert!(case("pass/5.2/deny-keeps-oneshot")
        .get("expected")
        .is_none());

    let xml = report("junit");
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let testcase = |name: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some(name))
            .unwrap()
    };
    let xfail = testcase("pass/5.2/deny-401-drops-client");
    let skipped = xfail
        .children()
        .find(|n| n.has_tag_name("skipped"))
        .unwrap();
    assert_eq!(
        skipped.attribute("message"),
        Some("XFAIL: expected FAIL: we relay after a deny (bug 12)")
    );
    assert!(xfail.children().all(|n| !n.has_tag_name("failure")));
    let unexpected = testcase("pass/5.2/deny-relisten");
    assert!(unexpected.descendants().any(|n| n.has_tag_name("property")
        && n.attribute("name") == Some("unexpected-pass")
        && n.attribute("value")
            .is_some_and(|v| v.starts_with("expected FAIL (line 7)"))));
    let stale = testcase("nothing/*");
    assert!(stale.children().any(|n| n.has_tag_name("skipped")));
    let root = doc.root_element();
    assert_eq!(root.attribute("tests"), Some("4"));
    assert_eq!(root.attribute("failures"), Some("0"));
}

#[test]
fn a_bad_expectations_file_exits_2_naming_the_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[[expect]]\ncase = \"pass/2/*\"\noutcome = \"PASS\"\nreason = \"x\"\n",
            &["line 3", "PASS", "FAIL", "WARN", "SKIP"][..],
        ),
        (
            "[[expect]]\ncase = \"pass/2/*\"\noutcome = \"FAIL\"\n",
            &["line 1", "missing field `reason`"][..],
        ),
        (
            "\n\n[[expect]]\ncase = \"pass/[\"\noutcome = \"FAIL\"\nreason = \"x\"\n",
            &["bad.toml:4: [[expect]] #1: field `case`"][..],
        ),
        (
            "[[expect]]\ncase = \"pass/2/*\"\noutcome = \"FAIL\"\nreason = \"\"\n",
            &["bad.toml:4: [[expect]] #1: field `reason` is empty"][..],
        ),
        ("[[expect]\ncase = 1\n", &["line 1"][..]),
    ];
    for (text, needles) in cases {
        let path = write(dir.path(), "bad.toml", text);
        let out = bin()
            .args(["inproc", "--expect"])
            .arg(&path)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert!(out.stdout.is_empty(), "no run happens: {}", stdout(&out));
        assert!(err.contains("bad.toml"), "{err}");
        for needle in needles {
            assert!(err.contains(needle), "{needle:?} not in: {err}");
        }
    }
    let missing = bin()
        .args(["inproc", "--expect", "/nonexistent/expect.toml"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("cannot read the expectations file /nonexistent/expect.toml"));
}

#[test]
fn a_baseline_fails_only_on_cases_that_passed_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("baseline.json");
    // The baseline: deny-ignored fails pass/5.2/deny-401-drops-client.
    let out = bin()
        .args([
            "inproc",
            "--fault",
            "deny-ignored",
            "--format",
            "json",
            "--output",
        ])
        .arg(&baseline)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    // The same failure again: not a regression.
    let out = bin()
        .args(["inproc", "--fault", "deny-ignored", "--baseline"])
        .arg(&baseline)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("FAIL pass/5.2/deny-401-drops-client"),
        "{text}"
    );
    assert!(
        text.contains("0 regression(s) (passed there, not now)"),
        "{text}"
    );
    assert!(
        text.contains("not counted (did not pass there either): pass/5.2/deny-401-drops-client"),
        "{text}"
    );
    // Another fault: pass/2/relisten-after-relay passed in the baseline and fails now.
    let out = bin()
        .args([
            "inproc",
            "--fault",
            "no-relisten",
            "--format",
            "json",
            "--baseline",
        ])
        .arg(&baseline)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        v["baseline"]["regressions"],
        serde_json::json!(["pass/2/relisten-after-relay"])
    );
    // --strict still counts a WARN of a case that passed in the baseline.
    let out = bin()
        .args([
            "inproc",
            "--fault",
            "host-no-half-close",
            "--strict",
            "--baseline",
        ])
        .arg(&baseline)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let lenient = bin()
        .args(["inproc", "--fault", "host-no-half-close", "--baseline"])
        .arg(&baseline)
        .output()
        .unwrap();
    assert_eq!(lenient.status.code(), Some(0), "{}", stdout(&lenient));
}

#[test]
fn a_bad_baseline_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let junit = write(dir.path(), "report.xml", "<testsuites/>");
    let out = bin()
        .args(["inproc", "--baseline"])
        .arg(&junit)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not a pass-conformance JSON report (--format json)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn every_target_subcommand_takes_expect_and_baseline() {
    for sub in ["inproc", "component", "wasm", "self-test"] {
        let out = bin().args([sub, "--help"]).output().unwrap();
        let text = stdout(&out);
        assert!(text.contains("--expect <FILE>"), "{sub}: {text}");
        assert!(text.contains("--baseline <REPORT.json>"), "{sub}: {text}");
    }
}
