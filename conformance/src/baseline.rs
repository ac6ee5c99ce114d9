//! Baselines (`--baseline REPORT.json`, docs/DESIGN.md decision 82): compare a run
//! with an earlier JSON report and fail only on cases that passed then and do not now.

use crate::runner::{Status, SuiteReport};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// The verdicts of an earlier run, from its JSON report.
#[derive(Clone, Debug)]
pub struct Baseline {
    file: String,
    statuses: BTreeMap<String, Status>,
}

/// Why a baseline report was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BaselineError {
    /// The file could not be read.
    Read(String),
    /// It is not a pass-conformance JSON report.
    Format(String),
}

impl fmt::Display for BaselineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BaselineError::Read(m) | BaselineError::Format(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for BaselineError {}

/// The part of a JSON report a baseline needs.
#[derive(Deserialize)]
struct Report {
    outcomes: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    id: String,
    status: Status,
}

/// How a run compares with its baseline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Comparison {
    /// The baseline report's path.
    pub file: String,
    /// Cases that passed in the baseline and now fail the run.
    pub regressions: Vec<String>,
    /// Cases that would fail the run but did not pass in the baseline either (or
    /// were not in it): not counted.
    pub known: Vec<String>,
    /// Cases that passed in the baseline, by id (only these can fail the run).
    #[serde(skip)]
    passed: Vec<String>,
}

impl Comparison {
    /// Whether the case passed in the baseline.
    pub fn passed(&self, id: &str) -> bool {
        self.passed.iter().any(|p| p == id)
    }
}

impl Baseline {
    /// Reads the JSON report at `path` (`--format json` of an earlier run).
    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| BaselineError::Read(format!("cannot read the baseline {file}: {e}")))?;
        Baseline::parse(&text, &file)
    }

    /// Parses a JSON report; `file` names it in messages.
    pub fn parse(text: &str, file: &str) -> Result<Baseline, BaselineError> {
        let report: Report = serde_json::from_str(text).map_err(|e| {
            BaselineError::Format(format!(
                "baseline {file}: not a pass-conformance JSON report (--format json): {e}"
            ))
        })?;
        Ok(Baseline {
            file: file.to_string(),
            statuses: report
                .outcomes
                .into_iter()
                .map(|e| (e.id, e.status))
                .collect(),
        })
    }

    /// The case's status in the baseline, if it was run.
    pub fn status(&self, id: &str) -> Option<Status> {
        self.statuses.get(id).copied()
    }

    /// Compares `report` with this baseline and records the result in it.
    pub fn apply(&self, report: &mut SuiteReport) {
        let passed: Vec<String> = report
            .outcomes
            .iter()
            .filter(|o| self.status(&o.id) == Some(Status::Pass))
            .map(|o| o.id.clone())
            .collect();
        let (regressions, known) = report
            .outcomes
            .iter()
            .filter(|o| report.fails_run(o.status))
            .map(|o| o.id.clone())
            .partition(|id| passed.contains(id));
        report.baseline = Some(Comparison {
            file: self.file.clone(),
            regressions,
            known,
            passed,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ids_and_statuses_of_a_json_report() {
        let b = Baseline::parse(
            r#"{"target":"x","outcomes":[{"id":"a","status":"PASS"},{"id":"b","status":"FAIL","notes":[]}]}"#,
            "b.json",
        )
        .unwrap();
        assert_eq!(b.status("a"), Some(Status::Pass));
        assert_eq!(b.status("b"), Some(Status::Fail));
        assert_eq!(b.status("c"), None);
    }

    #[test]
    fn refuses_what_is_not_a_report() {
        let e = Baseline::parse("[1, 2]", "b.json").unwrap_err().to_string();
        assert!(
            e.starts_with("baseline b.json: not a pass-conformance JSON report"),
            "{e}"
        );
        let e = Baseline::parse(r#"{"outcomes":[{"id":"a","status":"MAYBE"}]}"#, "b.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("MAYBE"), "{e}");
    }
}
