//! The proof of the client target (DESIGN decision 114): pass-client built with its
//! `faults` feature, run once per fault (`PASS_CLIENT_FAULT`), fails exactly the cases
//! the fault declares (`conformance/src/client/faults.rs`) and passes every other.
//!
//! The faults build is `PASS_CLIENT_FAULTS_BIN` (scripts/build-faults.sh makes it and
//! scripts/test.sh sets it), or, run alone, built now into `target/client-faults` (its
//! own target directory, so that the normal build is not redone; the first build takes
//! minutes, later ones are incremental).

use pass_conformance::client::faults::{CLIENT_FAULTS, FAULT_ENV};
use pass_conformance::client::{self, ClientOptions};
use pass_conformance::selftest::{shim_command, shim_file};
use pass_conformance::{RunOptions, Status};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The faults build of pass-client: `PASS_CLIENT_FAULTS_BIN`, or built now.
fn faulty_client() -> PathBuf {
    if let Some(path) = std::env::var_os("PASS_CLIENT_FAULTS_BIN") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "PASS_CLIENT_FAULTS_BIN={} is not a file",
            path.display()
        );
        return path;
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = workspace.join("target").join("client-faults");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&workspace)
        .args([
            "build",
            "--quiet",
            "-p",
            "pass-client",
            "--features",
            "faults",
            "--target-dir",
        ])
        .arg(&target)
        .status()
        .expect("cargo runs");
    assert!(
        status.success(),
        "cargo build -p pass-client --features faults failed"
    );
    let bin = target.join("debug").join("pass-client");
    assert!(bin.is_file(), "{} was not built", bin.display());
    bin
}

#[test]
fn each_client_fault_fails_exactly_its_declared_cases() {
    let bin = faulty_client();
    let shim = shim_file().expect("the shim is written");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    // The runs are independent (each its own c2s endpoint and ports): all at once.
    let local = tokio::task::LocalSet::new();
    let reports = local.block_on(&runtime, async {
        let runs: Vec<_> = CLIENT_FAULTS
            .iter()
            .map(|f| {
                let exec = format!("{FAULT_ENV}={} {}", f.name, shim_command(&bin, shim.path()));
                tokio::task::spawn_local(async move {
                    let opts = RunOptions {
                        strict: true,
                        ..Default::default()
                    };
                    client::run(&ClientOptions::new(&exec), &opts).await
                })
            })
            .collect();
        let mut reports = Vec::new();
        for r in runs {
            reports.push(
                r.await
                    .expect("the run task ends")
                    .expect("the run happens"),
            );
        }
        reports
    });
    let mut wrong = Vec::new();
    for (f, report) in CLIENT_FAULTS.iter().zip(&reports) {
        let mut failed: Vec<&str> = report
            .outcomes
            .iter()
            .filter(|o| o.status != Status::Pass)
            .map(|o| o.id.as_str())
            .collect();
        failed.sort();
        if failed != f.caught_by {
            let detail: Vec<String> = report
                .outcomes
                .iter()
                .filter(|o| o.status != Status::Pass)
                .map(|o| format!("{} {}: {:?}", o.status, o.id, o.failure_text()))
                .collect();
            wrong.push(format!(
                "{}: declared {:?}, not passed {:?}\n{}",
                f.name,
                f.caught_by,
                failed,
                detail.join("\n")
            ));
        }
        assert_eq!(report.outcomes.len(), client::client_catalogue().len());
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

#[test]
fn an_unknown_fault_name_is_refused() {
    let bin = faulty_client();
    let out = Command::new(bin)
        .args([
            "answer",
            "--jid",
            "a@localhost",
            "--tls",
            "none",
            "--server",
            "127.0.0.1:1",
        ])
        .env(FAULT_ENV, "no-such-fault")
        .env("PASS_CLIENT_PASSWORD", "x")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-fault"));
}
