//! The conformance suite through wasmtime against the same suite in process, and
//! what a guest instance costs to start.
//!
//! `cargo bench -p pass-wasi --bench wasm_vs_inproc [-- MODULE.wasm]`
//!
//! Without an argument (or `PASS_WASI_MODULE`) the module is built first with
//! `cargo build --release -p pass-wasi --target wasm32-wasip1` into
//! `<target>/wasm-guest/`. Prints one line per figure; docs/BENCHMARKS.md ("WASI")
//! records them.

use pass_conformance::inproc::{reference_config, reference_host};
use pass_conformance::wasm::{wasm_host, GuestLimits, WasmModule};
use pass_conformance::{catalogue, run_suite, RunOptions, Status};
use pass_core::engine::Engine;
use pass_core::lease::Action;
use pass_core::ns;
use pass_core::service::Service;
use pass_core::xml::Element;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// Suite runs per target.
const SUITE_RUNS: u32 = 30;
/// Instantiations measured.
const INSTANCES: u32 = 300;
/// Register / listen / close cycles driven straight through [`Engine`].
const CYCLES: u64 = 3000;

fn main() {
    if let Err(e) = run() {
        eprintln!("wasm_vs_inproc: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let path = module_path()?;
    let size = std::fs::metadata(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    println!(
        "module               {} ({} KiB)",
        path.display(),
        size / 1024
    );

    let start = Instant::now();
    let module = WasmModule::load(&path, GuestLimits::default()).map_err(|e| e.to_string())?;
    println!("compile (cranelift)  {:.1} ms", ms(start.elapsed()));

    let config = reference_config();
    let mut times = Vec::new();
    for _ in 0..INSTANCES {
        let start = Instant::now();
        let engine = module
            .instantiate(&config, None)
            .map_err(|e| e.to_string())?;
        times.push(start.elapsed());
        drop(engine);
    }
    times.sort();
    println!(
        "instantiate + config median {:.3} ms, p90 {:.3} ms ({INSTANCES} instances)",
        ms(times[times.len() / 2]),
        ms(times[times.len() * 9 / 10])
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let cases = catalogue();
    let opts = RunOptions::default();
    let suite = |wasm: bool| -> Result<Duration, String> {
        let start = Instant::now();
        for _ in 0..SUITE_RUNS {
            let report = if wasm {
                let host = wasm_host(&module, None).map_err(|e| e.to_string())?;
                rt.block_on(run_suite(Box::new(host), "wasm", &cases, &opts))
                    .0
            } else {
                let host = reference_host()?;
                rt.block_on(run_suite(Box::new(host), "inproc", &cases, &opts))
                    .0
            };
            if report.count(Status::Fail) != 0 {
                return Err(format!("{} cases failed", report.count(Status::Fail)));
            }
        }
        Ok(start.elapsed())
    };
    let native = suite(false)?;
    let guest = suite(true)?;
    let total = f64::from(SUITE_RUNS) * cases.len() as f64;
    let native_rate = total / native.as_secs_f64();
    let guest_rate = total / guest.as_secs_f64();
    println!(
        "inproc               {native_rate:.0} cases/s ({} cases x {SUITE_RUNS})",
        cases.len()
    );
    println!("wasm (wasmtime)      {guest_rate:.0} cases/s (each run on a fresh instance)");
    println!("ratio inproc/wasm    {:.2}", native_rate / guest_rate);

    let native = Service::new(config.clone()).map_err(|e| e.to_string())?;
    let native = cycles(native)?;
    let guest = cycles(
        module
            .instantiate(&config, None)
            .map_err(|e| e.to_string())?,
    )?;
    let per_event = |d: Duration| d.as_secs_f64() * 1e6 / (3 * CYCLES) as f64;
    println!(
        "engine alone, native {:.2} us/event (register, listen result, close)",
        per_event(native)
    );
    println!("engine alone, wasm   {:.2} us/event", per_event(guest));
    println!(
        "ratio wasm/native    {:.2}",
        guest.as_secs_f64() / native.as_secs_f64()
    );
    Ok(())
}

/// Drives `CYCLES` register / listen-ok / close cycles through the engine alone
/// (no harness), one second of virtual time apart so the rate limit never bites.
fn cycles<E: Engine>(mut engine: E) -> Result<Duration, String> {
    let start = Instant::now();
    for i in 0..CYCLES {
        let now = pass_core::time::Instant::from_millis(i * 1000);
        let iq = |kind: &str, id: String, query: Element| {
            Element::new("iq", ns::COMPONENT)
                .with_attr("type", kind)
                .with_attr("id", &id)
                .with_attr("from", "user@localhost/bench")
                .with_attr("to", "pass.localhost")
                .with_child(query)
        };
        let query = Element::new("query", ns::PASS);
        engine.handle_stanza(now, &iq("set", format!("r{i}"), query.clone()));
        let port = match engine.poll_action() {
            Some(Action::Listen { port }) => port,
            other => return Err(format!("cycle {i}: expected a listen, got {other:?}")),
        };
        while engine.poll_action().is_some() {}
        engine.handle_listen_result(now, port, Ok(()));
        while engine.poll_action().is_some() {}
        let proxy = Element::new("proxy", ns::PASS)
            .with_attr("port", &port.to_string())
            .with_text("127.0.0.1");
        let close = query
            .with_child(Element::new("close", ns::PASS))
            .with_child(proxy);
        engine.handle_stanza(now, &iq("set", format!("c{i}"), close));
        let mut answered = false;
        while let Some(a) = engine.poll_action() {
            answered |=
                matches!(a, Action::Send(ref r) if r.id == format!("c{i}") && r.error.is_none());
        }
        if !answered {
            return Err(format!("cycle {i}: close not acknowledged"));
        }
    }
    Ok(start.elapsed())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn module_path() -> Result<PathBuf, String> {
    if let Some(p) = std::env::args().skip(1).find(|a| !a.starts_with('-')) {
        return Ok(PathBuf::from(p));
    }
    if let Some(p) = std::env::var_os("PASS_WASI_MODULE") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let target = exe
        .ancestors()
        .nth(3)
        .ok_or("bench binary is not in <target>/<profile>/deps")?;
    let target = target.join("wasm-guest");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "pass-wasi",
            "--target",
            "wasm32-wasip1",
        ])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("building the module failed (is the target installed? `rustup target add wasm32-wasip1`)".into());
    }
    Ok(target.join("wasm32-wasip1/release/pass-wasi.wasm"))
}
