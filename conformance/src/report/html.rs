//! The report as one self-contained HTML page (`--format html`, DESIGN decision 47):
//! inline CSS, no script, nothing fetched; every text from the report escaped by maud.

use super::transcript_text::{event_text, time};
use crate::catalogue::{section_title, Level};
use crate::runner::{Outcome, Status, SuiteReport};
use crate::spec::SPEC_VERSION;
use maud::{html, Markup, PreEscaped, DOCTYPE};

/// Statuses in the order the page lists them: what fails a run first.
const SEVERITY: [Status; 5] = [
    Status::Fail,
    Status::Warn,
    Status::Skip,
    Status::Xfail,
    Status::Pass,
];

const LEVELS: [Level; 3] = [Level::Must, Level::Should, Level::May];

const CSS: &str = r#"
:root { --fail: #b3261e; --warn: #9a6700; --skip: #57606a; --xfail: #6f42c1; --pass: #1a7f37; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem auto;
  max-width: 78rem; padding: 0 1rem; color: #1f2328; background: #fff; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; } h2 { font-size: 1.2rem; margin-top: 2rem;
  border-bottom: 1px solid #d0d7de; padding-bottom: .25rem; }
.meta { color: #57606a; margin: 0 0 1rem; }
.verdict { font-size: 1.1rem; font-weight: 600; padding: .5rem .75rem; border-radius: 6px; }
.verdict.fails { background: #ffebe9; color: var(--fail); }
.verdict.passes { background: #dafbe1; color: var(--pass); }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; }
th, td { border: 1px solid #d0d7de; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
table.counts { width: auto; } table.counts td { text-align: right; min-width: 3.5rem; }
.badge { display: inline-block; font-weight: 700; font-size: .8rem; padding: .05rem .4rem;
  border-radius: 4px; color: #fff; }
.s-FAIL { background: var(--fail); } .s-WARN { background: var(--warn); }
.s-SKIP { background: var(--skip); } .s-XFAIL { background: var(--xfail); }
.s-PASS { background: var(--pass); }
tr.FAIL > td:first-child { border-left: 4px solid var(--fail); }
tr.WARN > td:first-child { border-left: 4px solid var(--warn); }
td.id { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; white-space: nowrap; }
blockquote { margin: .3rem 0; padding: .1rem .6rem; border-left: 3px solid #d0d7de; color: #424a53; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .1rem .6rem; margin: .3rem 0; }
dt { font-weight: 600; } dd { margin: 0; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .82rem;
  white-space: pre-wrap; word-break: break-all; }
details { margin: .3rem 0; } summary { cursor: pointer; color: #0969da; }
table.transcript td { border: none; border-bottom: 1px solid #eaeef2; padding: .1rem .4rem; }
table.transcript td.t { white-space: nowrap; color: #57606a; font-family: ui-monospace, monospace; font-size: .82rem; }
ul.notes { margin: .3rem 0; padding-left: 1.2rem; }
"#;

/// The report as a self-contained HTML document.
pub fn html(report: &SuiteReport) -> String {
    let fails = report.exit_code() != 0;
    let not_passed: Vec<&Outcome> = SEVERITY
        .iter()
        .filter(|s| **s != Status::Pass)
        .flat_map(|s| report.outcomes.iter().filter(move |o| o.status == *s))
        .collect();
    let doc = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "pass-conformance: " (report.target) }
                style { (PreEscaped(CSS)) }
            }
            body {
                h1 { "pass-conformance report" }
                p.meta {
                    "Target: " strong { (report.target) }
                    @if report.strict { " · strict" }
                    " · XEP-0003 " (SPEC_VERSION)
                    " · " (report.outcomes.len()) " cases"
                }
                p class={ "verdict " (if fails { "fails" } else { "passes" }) } {
                    @if fails { "The run fails (exit code 1)." } @else { "The run passes (exit code 0)." }
                }
                (summary(report))
                @if !not_passed.is_empty() {
                    h2 id="failures" { "Not passed" }
                    table {
                        thead { tr { th { "Case" } th { "Verdict" } th { "Level" } th { "What went wrong" } } }
                        tbody {
                            @for o in &not_passed {
                                tr class=(o.status) {
                                    td.id { a href={ "#" (anchor(&o.id)) } { (o.id) } }
                                    td { (badge(o.status)) }
                                    td { (o.level) }
                                    td { (headline(o)) }
                                }
                            }
                        }
                    }
                }
                (unmet(report))
                (extras(report))
                @for section in sections(report) {
                    (section_table(report, section))
                }
                @if let Some(tail) = &report.impl_log_tail {
                    h2 { "The implementation's output ends with" }
                    pre { (tail) }
                }
            }
        }
    };
    doc.into_string()
}

fn badge(s: Status) -> Markup {
    html! { span class={ "badge s-" (s) } { (s) } }
}

/// An element id for a case (ids hold `/` and `.`, which are fine in HTML ids; the
/// prefix keeps them apart from the page's own).
fn anchor(id: &str) -> String {
    format!("case-{id}")
}

/// One line for the list of cases that did not pass.
fn headline(o: &Outcome) -> String {
    match (&o.failure, o.notes.first()) {
        (Some(f), _) => f.step.clone(),
        (None, Some(n)) => n.clone(),
        (None, None) => o.description.clone(),
    }
}

/// Counts per status, overall and per level.
fn summary(report: &SuiteReport) -> Markup {
    let count = |l: Option<Level>, s: Status| {
        report
            .outcomes
            .iter()
            .filter(|o| o.status == s && l.is_none_or(|l| o.level == l))
            .count()
    };
    let total = |l: Option<Level>| {
        report
            .outcomes
            .iter()
            .filter(|o| l.is_none_or(|l| o.level == l))
            .count()
    };
    html! {
        h2 { "Summary" }
        table.counts {
            thead { tr { th { "Level" } @for s in SEVERITY { th { (badge(s)) } } th { "Total" } } }
            tbody {
                @for l in LEVELS {
                    tr data-level=(l) {
                        th { (l) }
                        @for s in SEVERITY { td data-status=(s) { (count(Some(l), s)) } }
                        td { (total(Some(l))) }
                    }
                }
                tr data-level="all" {
                    th { "All" }
                    @for s in SEVERITY { td data-status=(s) { (count(None, s)) } }
                    td { (total(None)) }
                }
            }
        }
    }
}

fn unmet(report: &SuiteReport) -> Markup {
    let unmet = report.requirements_not_met();
    html! {
        @if !unmet.is_empty() {
            h2 { "Requirements not met (XEP-0003 " (SPEC_VERSION) ")" }
            table {
                thead { tr { th { "§" } th { "XEP-0003 says" } th { "Cases" } } }
                tbody {
                    @for u in &unmet {
                        tr {
                            td { (u.section) }
                            td { blockquote { (u.quote) } }
                            td.id {
                                @for (i, c) in u.cases.iter().enumerate() {
                                    @if i > 0 { br; }
                                    a href={ "#" (anchor(c)) } { (c) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Unexpected passes, stale expectations and the baseline comparison.
fn extras(report: &SuiteReport) -> Markup {
    let unexpected = report.unexpected_passes();
    html! {
        @if !unexpected.is_empty() {
            h2 { "Unexpected passes" }
            ul {
                @for o in &unexpected {
                    li {
                        a href={ "#" (anchor(&o.id)) } { code { (o.id) } }
                        @if let Some(e) = &o.expected {
                            ": expected " (e.outcome) " (--expect line " (e.line) "): " (e.reason)
                        }
                    }
                }
            }
        }
        @if !report.stale_expectations.is_empty() {
            h2 { "Stale expectations (match no case)" }
            ul {
                @for e in &report.stale_expectations {
                    li { "line " (e.line) ": " code { (e.case) } ": " (e.reason) }
                }
            }
        }
        @if let Some(b) = &report.baseline {
            h2 { "Baseline" }
            p {
                code { (b.file) } ": " (b.regressions.len()) " regression(s) (passed there, not now)"
                @if !b.regressions.is_empty() { ": " (b.regressions.join(", ")) }
            }
            @if !b.known.is_empty() {
                p { "Not counted (did not pass there either): " (b.known.join(", ")) }
            }
        }
    }
}

/// The sections in catalogue order.
fn sections(report: &SuiteReport) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for o in &report.outcomes {
        if !out.contains(&o.section.as_str()) {
            out.push(&o.section);
        }
    }
    out
}

/// One table per spec section, its cases failures first (catalogue order within a
/// status).
fn section_table(report: &SuiteReport, section: &str) -> Markup {
    let rows: Vec<&Outcome> = SEVERITY
        .iter()
        .flat_map(|s| {
            report
                .outcomes
                .iter()
                .filter(move |o| o.section == section && o.status == *s)
        })
        .collect();
    html! {
        h2 id={ "section-" (section) } { "§" (section) " " (section_title(section)) }
        table.cases {
            thead { tr { th { "Case" } th { "Verdict" } th { "Level" } th { "Requirement, expected, got, transcript" } } }
            tbody {
                @for o in rows { (case_row(o)) }
            }
        }
    }
}

fn case_row(o: &Outcome) -> Markup {
    html! {
        tr id=(anchor(&o.id)) class=(o.status) data-case=(o.id) data-status=(o.status) {
            td.id {
                (o.id)
                @if let Some(n) = o.listing { br; "listing " (n) }
            }
            td { (badge(o.status)) }
            td { (o.level) }
            td {
                div { (o.description) }
                @if !o.requirement.is_empty() {
                    blockquote { "XEP-0003 " (SPEC_VERSION) " says: “" (o.requirement) "”" }
                }
                @if let Some(f) = &o.failure {
                    dl {
                        dt { "Step" } dd { (f.step) }
                        dt { "Expected" } dd { code { (f.expected) } }
                        dt { "Got" } dd { code { (f.got.as_deref().unwrap_or("nothing")) } }
                        @if let Some(sent) = &f.sent { dt { "Sent" } dd { code { (sent) } } }
                    }
                }
                @if !o.notes.is_empty() {
                    ul.notes { @for n in &o.notes { li { (n) } } }
                }
                @if let Some(e) = &o.expected {
                    p {
                        "Expected " (e.outcome) " (--expect line " (e.line) ", case " code { (e.case) } "): " (e.reason)
                    }
                }
                @if !o.transcript.is_empty() {
                    details {
                        summary { "Transcript (" (o.transcript.entries.len()) " events)" }
                        table.transcript {
                            @for (i, e) in o.transcript.entries.iter().enumerate() {
                                tr {
                                    td.t { (time(e.at_ms)) }
                                    td { code { (event_text(&o.transcript, i)) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctx::Failure;
    use crate::transcript::{Entry, Event, Transcript};

    fn outcome(id: &str, status: Status, section: &str) -> Outcome {
        Outcome {
            id: id.into(),
            section: section.into(),
            listing: None,
            level: Level::Must,
            requirement: "The service MUST <answer> & \"quote\".".into(),
            description: "a case".into(),
            status,
            notes: Vec::new(),
            failure: None,
            duration_ms: 0,
            expected: None,
            transcript: Transcript::default(),
        }
    }

    fn report(outcomes: Vec<Outcome>) -> SuiteReport {
        SuiteReport {
            target: "inproc <test>".into(),
            strict: false,
            outcomes,
            impl_log_tail: None,
            stale_expectations: Vec::new(),
            baseline: None,
        }
    }

    #[test]
    fn hostile_text_is_escaped_everywhere() {
        let evil = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'&";
        let mut o = outcome("pass/2/x\"><b>", Status::Fail, "2");
        o.failure = Some(Failure {
            step: evil.into(),
            sent: Some(evil.into()),
            expected: evil.into(),
            got: Some(evil.into()),
        });
        o.notes.push(evil.into());
        o.transcript = Transcript {
            entries: vec![
                Entry {
                    at_ms: 5,
                    event: Event::StanzaReceived {
                        xml: format!("<iq type='error'><text>{evil}</text></iq>"),
                    },
                },
                Entry {
                    at_ms: 6,
                    event: Event::Note { text: evil.into() },
                },
            ],
        };
        let mut r = report(vec![o]);
        r.impl_log_tail = Some(evil.into());
        let page = html(&r);
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains("<img"), "{page}");
        assert!(!page.contains("<b>"), "{page}");
        assert!(!page.contains("<iq"), "{page}");
        assert!(!page.contains("<text>"), "{page}");
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&quot;'&amp;"),
            "{page}"
        );
        assert!(
            page.contains("&lt;iq type='error'&gt;&lt;text&gt;&lt;script&gt;"),
            "{page}"
        );
        assert!(
            page.contains("data-case=\"pass/2/x&quot;&gt;&lt;b&gt;\""),
            "{page}"
        );
        assert!(page.contains("The service MUST &lt;answer&gt; &amp; &quot;quote&quot;."));
    }

    #[test]
    fn every_case_is_present_failures_first_and_nothing_is_fetched() {
        let mut outs = vec![
            outcome("pass/2/a", Status::Pass, "2"),
            outcome("pass/2/b", Status::Fail, "2"),
            outcome("pass/3/c", Status::Warn, "3"),
            outcome("pass/3/d", Status::Skip, "3"),
            outcome("pass/3/e", Status::Xfail, "3"),
        ];
        outs[1].failure = Some(Failure {
            step: "register".into(),
            sent: None,
            expected: "a result".into(),
            got: None,
        });
        outs[2].level = Level::Should;
        let r = report(outs);
        let page = html(&r);
        for o in &r.outcomes {
            let row = format!(
                "<tr id=\"case-{0}\" class=\"{1}\" data-case=\"{0}\" data-status=\"{1}\">",
                o.id, o.status
            );
            assert_eq!(page.matches(&row).count(), 1, "{row} in {page}");
        }
        // §2's table lists the failure before the pass.
        let b = page.find("data-case=\"pass/2/b\"").unwrap();
        let a = page.find("data-case=\"pass/2/a\"").unwrap();
        assert!(b < a);
        // The not-passed list comes before the section tables and holds 4 cases.
        assert!(page.find("id=\"failures\"").unwrap() < page.find("id=\"section-2\"").unwrap());
        // Counts per level: one MUST failure, one SHOULD warning.
        assert!(
            page.contains("<tr data-level=\"MUST\"><th>MUST</th><td data-status=\"FAIL\">1</td><td data-status=\"WARN\">0</td>"),
            "{page}"
        );
        assert!(
            page.contains("<tr data-level=\"SHOULD\"><th>SHOULD</th><td data-status=\"FAIL\">0</td><td data-status=\"WARN\">1</td>"),
            "{page}"
        );
        assert!(page.contains("The run fails (exit code 1)."));
        for external in [
            "src=", "http:", "https:", "@import", "url(", "<link", "<script",
        ] {
            assert!(!page.contains(external), "{external} in {page}");
        }
    }
}
