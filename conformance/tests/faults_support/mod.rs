//! The pass-node built with its `faults` feature, for the tests that prove faults
//! through the real binary (c2s_faults, explore_c2s, explore_node).

use std::path::{Path, PathBuf};
use std::process::Command;

/// pass-node built with `--features faults` (it takes `PASS_NODE_FAULT=NAME`):
/// `PASS_NODE_FAULTS_BIN`, or built now into `<target>/node-faults/` so that the
/// normal build is not rebuilt (scripts/test.sh builds it first and sets the variable).
pub fn faults_node() -> PathBuf {
    if let Some(path) = std::env::var_os("PASS_NODE_FAULTS_BIN") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "PASS_NODE_FAULTS_BIN={} is not a file",
            path.display()
        );
        return path;
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("node-faults");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(&cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "pass-node",
            "--features",
            "faults",
        ])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cargo:?}: {e}"));
    assert!(
        out.status.success(),
        "building pass-node --features faults failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bin = target.join("debug/pass-node");
    assert!(bin.is_file(), "cargo built no {}", bin.display());
    bin
}
