//! What the explore tests share: a runtime, the model settings of the in-process
//! reference, and the command line.
// Each test binary includes the module and uses part of it.
#![allow(dead_code)]

use pass_conformance::explore::targets::Settings;
use std::time::Duration;

/// Runs a future on a current-thread runtime.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// The 1 s tolerance, and `pool` as `--pool-size` (the in-process reference's is 64).
pub fn settings(pool: Option<usize>) -> Settings {
    Settings {
        pool_size: pool,
        tolerance: Duration::from_secs(1),
    }
}

/// Runs `pass-conformance explore ARGS`: the exit code, stdout and stderr.
pub fn explore_cmd(args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pass-conformance"))
        .arg("explore")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
