//! Shared by the `wasm_*` tests: the guest modules built from `pass-wasi` (as
//! shipped, and with fault injection), and the hand-written `.wat` modules in
//! `testdata/`.
// Each test binary uses only part of this module.
#![allow(dead_code)]

use pass_conformance::wasm::{GuestLimits, WasmModule};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// A `.wat` file in `conformance/testdata/`.
pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

/// `pass-wasi.wasm`, release build, as shipped (no fault injection).
/// `PASS_WASI_MODULE` names a prebuilt one; otherwise `cargo build --release -p
/// pass-wasi --target wasm32-wasip1` runs once per test binary into
/// `<target>/wasm-guest/` (its own target dir, so it never waits on the lock of the
/// build that runs this test); cargo itself decides whether the module is stale.
pub fn pass_wasi_module() -> PathBuf {
    static MODULE: OnceLock<PathBuf> = OnceLock::new();
    MODULE.get_or_init(|| build_module(&Guest::SHIPPED)).clone()
}

/// `pass-wasi.wasm` built with `--features faults` (it takes `fault=NAME`):
/// `PASS_WASI_FAULTS_MODULE`, or built as [`pass_wasi_module`] is, into
/// `<target>/wasm-guest-faults/` so that neither build overwrites the other.
pub fn pass_wasi_faults_module() -> PathBuf {
    static MODULE: OnceLock<PathBuf> = OnceLock::new();
    MODULE.get_or_init(|| build_module(&Guest::FAULTS)).clone()
}

/// One build of the guest: which variable names a prebuilt module, where cargo
/// builds it otherwise, with which features.
struct Guest {
    env: &'static str,
    target_subdir: &'static str,
    features: &'static [&'static str],
}

impl Guest {
    const SHIPPED: Guest = Guest {
        env: "PASS_WASI_MODULE",
        target_subdir: "wasm-guest",
        features: &[],
    };
    const FAULTS: Guest = Guest {
        env: "PASS_WASI_FAULTS_MODULE",
        target_subdir: "wasm-guest-faults",
        features: &["--features", "faults"],
    };
}

fn build_module(guest: &Guest) -> PathBuf {
    if let Some(path) = std::env::var_os(guest.env) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{}={} is not a file",
            guest.env,
            path.display()
        );
        return path;
    }
    let target = guest_target_dir().join(guest.target_subdir);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(&cargo)
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "pass-wasi",
            "--target",
            "wasm32-wasip1",
        ])
        .args(guest.features)
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cargo:?}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "building pass-wasi for wasm32-wasip1 failed{}:\n{stderr}",
        if stderr.contains("wasm32-wasip1") && stderr.contains("target may not be installed") {
            " (install the target: `rustup target add wasm32-wasip1`, or run scripts/setup.sh)"
        } else {
            ""
        }
    );
    let module = target.join("wasm32-wasip1/release/pass-wasi.wasm");
    assert!(module.is_file(), "cargo built no {}", module.display());
    module
}

/// `<target>`, which holds the running test binary
/// (`<target>/debug/deps/wasm_...`).
fn guest_target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("no current_exe: {e}"));
    let target = exe.ancestors().nth(3).unwrap_or_else(|| {
        panic!(
            "test binary {} is not in <target>/<profile>/deps",
            exe.display()
        )
    });
    target.to_path_buf()
}

/// [`pass_wasi_module`] compiled once per test binary (compiling takes seconds
/// with a debug build of wasmtime; instantiating takes well under a millisecond).
pub fn compiled_pass_wasi() -> &'static WasmModule {
    static COMPILED: OnceLock<WasmModule> = OnceLock::new();
    COMPILED.get_or_init(|| compile(&pass_wasi_module()))
}

/// [`pass_wasi_faults_module`], compiled once per test binary.
pub fn compiled_pass_wasi_faults() -> &'static WasmModule {
    static COMPILED: OnceLock<WasmModule> = OnceLock::new();
    COMPILED.get_or_init(|| compile(&pass_wasi_faults_module()))
}

fn compile(path: &Path) -> WasmModule {
    WasmModule::load(path, GuestLimits::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// What two targets must agree on for a case: id, verdict, notes, failure text.
pub fn verdicts(
    report: &pass_conformance::SuiteReport,
) -> Vec<(String, String, Vec<String>, Option<String>)> {
    report
        .outcomes
        .iter()
        .map(|o| {
            (
                o.id.clone(),
                o.status.to_string(),
                o.notes.clone(),
                o.failure_text(),
            )
        })
        .collect()
}

/// Runs a future on a fresh single-threaded runtime (the in-process targets use
/// virtual time, so nothing really sleeps).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"))
        .block_on(f)
}
