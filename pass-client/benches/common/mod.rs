//! What pass-client's benches share beyond the end-to-end tests' harness (a private
//! Prosody, pass-node in process, the `pass-client` binary as the owner) and
//! pass-node's bench measuring (`pass-node/benches/support/measure.rs`, included by
//! path as `measure`): the service name, the runtime, medians.

#![allow(dead_code)] // each bench uses part of it

/// The component domain.
pub const SERVICE: &str = "pass.localhost";

/// The median of unsorted figures.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// A runtime like the tests'.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Only warnings from the in-process node (the harness would log every stanza at
/// DEBUG, which costs time on the measured path); call before starting the world.
pub fn quiet_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_writer(std::io::stderr)
        .try_init();
}

/// `pass-client expose` flags for the benches: the service named, warnings only.
pub const EXPOSE: &[&str] = &["--service", SERVICE, "--log-level", "warn"];
