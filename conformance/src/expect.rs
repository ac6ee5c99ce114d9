//! Expectations (`--expect FILE`, docs/DESIGN.md decision 81): an implementer's
//! declared known failures. A TOML file of `[[expect]]` tables, each with `case` (an
//! id or a glob), `outcome` (`FAIL`, `WARN` or `SKIP`) and `reason`. A case whose
//! outcome is the one expected becomes XFAIL; one expected to fail that passes is an
//! unexpected pass; an expectation whose pattern matches no case of the catalogue is
//! stale. The first expectation (in file order) that matches a case is the one that
//! applies to it.

use crate::catalogue::Case;
use crate::runner::Status;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;
use toml::Spanned;

/// An outcome an expectation may declare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ExpectedOutcome {
    /// The case FAILs (without `--strict`; with it, any FAIL matches).
    Fail,
    /// The case WARNs (also when `--strict` reports it FAIL).
    Warn,
    /// The case is SKIPped.
    Skip,
}

impl ExpectedOutcome {
    /// The status this outcome stands for.
    pub fn status(self) -> Status {
        match self {
            ExpectedOutcome::Fail => Status::Fail,
            ExpectedOutcome::Warn => Status::Warn,
            ExpectedOutcome::Skip => Status::Skip,
        }
    }
}

impl fmt::Display for ExpectedOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.status().fmt(f)
    }
}

/// One `[[expect]]` table.
#[derive(Clone, Debug)]
pub struct Expectation {
    /// The `case` as written (an id or a glob).
    pub case: String,
    /// The compiled pattern.
    pattern: glob::Pattern,
    /// The outcome expected.
    pub outcome: ExpectedOutcome,
    /// Why (the implementer's words; shown with every XFAIL).
    pub reason: String,
    /// The line of the file the table starts on (1-based).
    pub line: usize,
}

impl Expectation {
    /// Whether it applies to the case with this id.
    pub fn matches(&self, id: &str) -> bool {
        self.pattern.matches(id)
    }
}

/// The expectation a case was judged against, as reports show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Expected {
    /// The outcome expected.
    pub outcome: ExpectedOutcome,
    /// Why.
    pub reason: String,
    /// The `case` pattern that matched.
    pub case: String,
    /// Its line in the expectations file.
    pub line: usize,
}

/// An expectation whose pattern matches no case of the catalogue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Stale {
    /// The `case` as written.
    pub case: String,
    /// Its line in the expectations file.
    pub line: usize,
    /// Its reason.
    pub reason: String,
}

/// An expectations file, parsed and checked.
#[derive(Clone, Debug, Default)]
pub struct Expectations {
    entries: Vec<Expectation>,
}

/// Why an expectations file was refused (the message names the file, line and field).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExpectError {
    /// The file could not be read.
    Read(String),
    /// It is not valid TOML, or a table has a missing, unknown or ill-typed field.
    Syntax(String),
    /// A field has a value that cannot be used.
    Field(String),
}

impl fmt::Display for ExpectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectError::Read(m) | ExpectError::Syntax(m) | ExpectError::Field(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ExpectError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    expect: Vec<Spanned<Entry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    case: Spanned<String>,
    outcome: ExpectedOutcome,
    reason: Spanned<String>,
}

/// The 1-based line of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text.get(..at).map_or(0, |t| t.matches('\n').count()) + 1
}

impl Expectations {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Expectations, ExpectError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ExpectError::Read(format!(
                "cannot read the expectations file {}: {e}",
                path.display()
            ))
        })?;
        Expectations::parse(&text, &path.display().to_string())
    }

    /// Parses `text`; `name` names it in messages.
    pub fn parse(text: &str, name: &str) -> Result<Expectations, ExpectError> {
        let file: File = toml::from_str(text)
            .map_err(|e| ExpectError::Syntax(format!("{name}: {}", e.to_string().trim_end())))?;
        let mut entries = Vec::new();
        for (n, entry) in file.expect.into_iter().enumerate() {
            let line = line_of(text, entry.span().start);
            let entry = entry.into_inner();
            let at = |field: &Spanned<String>| line_of(text, field.span().start);
            let case = entry.case.get_ref().trim().to_string();
            let pattern = glob::Pattern::new(&case)
                .ok()
                .filter(|_| !case.is_empty())
                .ok_or_else(|| {
                    ExpectError::Field(format!(
                        "{name}:{}: [[expect]] #{}: field `case` = {case:?}: not a case id or glob",
                        at(&entry.case),
                        n + 1
                    ))
                })?;
            let reason = entry.reason.get_ref().trim().to_string();
            if reason.is_empty() {
                return Err(ExpectError::Field(format!(
                    "{name}:{}: [[expect]] #{}: field `reason` is empty; say why the case is expected to {}",
                    at(&entry.reason),
                    n + 1,
                    entry.outcome
                )));
            }
            entries.push(Expectation {
                case,
                pattern,
                outcome: entry.outcome,
                reason,
                line,
            });
        }
        Ok(Expectations { entries })
    }

    /// Every expectation, in file order.
    pub fn entries(&self) -> &[Expectation] {
        &self.entries
    }

    /// The expectation that applies to the case with this id: the first that matches.
    pub fn find(&self, id: &str) -> Option<&Expectation> {
        self.entries.iter().find(|e| e.matches(id))
    }

    /// The expectations that match no case of `cases` (the whole catalogue, not only
    /// the cases selected, so `--only` does not make them stale).
    pub fn stale<C>(&self, cases: &[Case<C>]) -> Vec<Stale> {
        self.entries
            .iter()
            .filter(|e| !cases.iter().any(|c| e.matches(c.id)))
            .map(|e| Stale {
                case: e.case.clone(),
                line: e.line,
                reason: e.reason.clone(),
            })
            .collect()
    }

    /// Judges a case: `lenient` is its status without `--strict`, `status` the one
    /// the run gave it. Returns the status to report (XFAIL when the expectation is
    /// met) and the expectation that applied, if any.
    pub fn judge(
        &self,
        id: &str,
        lenient: Status,
        status: Status,
        strict: bool,
    ) -> (Status, Option<Expected>) {
        let Some(e) = self.find(id) else {
            return (status, None);
        };
        let expected = Expected {
            outcome: e.outcome,
            reason: e.reason.clone(),
            case: e.case.clone(),
            line: e.line,
        };
        let met = e.outcome.status() == lenient
            || (strict && e.outcome == ExpectedOutcome::Fail && status == Status::Fail);
        (if met { Status::Xfail } else { status }, Some(expected))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[expect]]
case = "pass/2/no-ports-502"
outcome = "SKIP"
reason = "our pool has 60000 ports"

[[expect]]
case = "pass/4.3/*"
outcome = "WARN"
reason = "we answer errors with type cancel"
"#;

    #[test]
    fn parses_and_finds_the_first_match() {
        let x = Expectations::parse(GOOD, "x.toml").unwrap();
        assert_eq!(x.entries().len(), 2);
        assert_eq!(x.entries()[1].line, 7);
        let e = x.find("pass/4.3/close-ack").unwrap();
        assert_eq!(e.outcome, ExpectedOutcome::Warn);
        assert!(x.find("pass/3/half-close").is_none());
    }

    #[test]
    fn judge_turns_a_met_expectation_into_xfail() {
        let x = Expectations::parse(GOOD, "x.toml").unwrap();
        let id = "pass/4.3/close-ack";
        assert_eq!(
            x.judge(id, Status::Warn, Status::Warn, false).0,
            Status::Xfail
        );
        // Under --strict a WARN is reported FAIL; the expectation still holds.
        assert_eq!(
            x.judge(id, Status::Warn, Status::Fail, true).0,
            Status::Xfail
        );
        // A FAIL where a WARN was expected stays a FAIL.
        assert_eq!(
            x.judge(id, Status::Fail, Status::Fail, false).0,
            Status::Fail
        );
        let (s, e) = x.judge(id, Status::Pass, Status::Pass, false);
        assert_eq!(s, Status::Pass);
        assert_eq!(
            e.unwrap().line,
            7,
            "an unexpected pass keeps its expectation"
        );
        assert_eq!(
            x.judge("pass/3/half-close", Status::Fail, Status::Fail, false),
            (Status::Fail, None)
        );
    }

    #[test]
    fn errors_name_the_line_and_field() {
        let bad_outcome = "[[expect]]\ncase = \"pass/2/*\"\noutcome = \"PASS\"\nreason = \"x\"\n";
        let e = Expectations::parse(bad_outcome, "e.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("e.toml") && e.contains("line 3") && e.contains("PASS"),
            "{e}"
        );
        let no_reason = "[[expect]]\ncase = \"pass/2/*\"\noutcome = \"FAIL\"\n";
        let e = Expectations::parse(no_reason, "e.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1") && e.contains("reason"), "{e}");
        let empty_reason = "[[expect]]\ncase = \"pass/2/*\"\noutcome = \"FAIL\"\nreason = \" \"\n";
        let e = Expectations::parse(empty_reason, "e.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("e.toml:4: [[expect]] #1: field `reason`"),
            "{e}"
        );
        let bad_glob = "\n[[expect]]\ncase = \"pass/[\"\noutcome = \"FAIL\"\nreason = \"x\"\n";
        let e = Expectations::parse(bad_glob, "e.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("e.toml:3: [[expect]] #1: field `case`"),
            "{e}"
        );
        let unknown = "[[expect]]\ncase = \"a\"\noutcome = \"FAIL\"\nreason = \"x\"\nwhy = 1\n";
        let e = Expectations::parse(unknown, "e.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 5") && e.contains("why"), "{e}");
    }

    #[test]
    fn a_pattern_matching_no_case_is_stale() {
        let x = Expectations::parse(
            "[[expect]]\ncase = \"pass/9/*\"\noutcome = \"FAIL\"\nreason = \"gone\"\n",
            "x.toml",
        )
        .unwrap();
        let stale = x.stale(&crate::catalogue());
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].case, "pass/9/*");
        assert_eq!(stale[0].line, 1);
        assert!(Expectations::parse(GOOD, "x")
            .unwrap()
            .stale(&crate::catalogue())
            .is_empty());
    }
}
