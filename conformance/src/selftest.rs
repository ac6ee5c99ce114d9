//! `pass-conformance self-test`: the zero-configuration run. Spawns the reference
//! `pass-node` found next to this executable with a fresh secret, free ports and
//! short timeouts, and runs the whole suite against it over the component target.

use crate::component::{self, ComponentOptions, RunError};
use crate::runner::{RunOptions, SuiteReport};
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The node's owner-answer timeout and proxy window in a self-test, in seconds.
pub const NODE_TIMEOUT_SECS: u64 = 2;
/// Size of the node's port pool in a self-test (small, so §2's 502 is reachable).
const POOL: u16 = 32;
/// The node's lease limit in a self-test: past it a register gets 502.
const MAX_LEASES: usize = 8;

/// Where `pass-node` should be: beside `exe`, or one level up when `exe` is a test
/// binary in `target/<profile>/deps`.
pub fn locate_node(exe: &Path) -> Option<PathBuf> {
    locate_beside(exe, "pass-node")
}

/// Where the executable `name` should be: beside `exe`, or one level up when `exe`
/// is a test binary in `target/<profile>/deps`.
pub fn locate_beside(exe: &Path, name: &str) -> Option<PathBuf> {
    let dir = exe.parent()?;
    let mut candidates = vec![dir.join(name)];
    if dir.file_name().is_some_and(|n| n == "deps") {
        if let Some(up) = dir.parent() {
            candidates.push(up.join(name));
        }
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// A free TCP port on 127.0.0.1 (the OS picks it).
pub fn free_port() -> Result<u16, RunError> {
    let l = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| RunError::Listen(format!("cannot find a free port: {e}")))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| RunError::Listen(e.to_string()))
}

/// `POOL` consecutive free ports, as `A-B`.
pub fn free_range() -> Result<(u16, u16), RunError> {
    for _ in 0..50 {
        let base = 20000 + rand::random::<u16>() % 30000;
        let all_free = (base..base + POOL).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok());
        if all_free {
            return Ok((base, base + POOL - 1));
        }
    }
    Err(RunError::Listen(format!(
        "no {POOL} consecutive free ports found on 127.0.0.1"
    )))
}

/// The options of a self-test against the node at `node`.
pub fn options(node: &Path, secret_file: &Path) -> Result<ComponentOptions, RunError> {
    let port = free_port()?;
    let (a, b) = free_range()?;
    let spawn = format!(
        "exec '{}' --server 127.0.0.1:{port} --domain pass.localhost --secret-file '{}' \
         --public-ip 127.0.0.1 --bind 127.0.0.1 --ports {a}-{b} --answer-timeout {t} \
         --proxy-window {t} --max-expire 3600 --max-leases {MAX_LEASES} --max-leases-per-account 4 --metrics off",
        node.display(),
        secret_file.display(),
        t = NODE_TIMEOUT_SECS
    );
    Ok(ComponentOptions {
        listen: format!("127.0.0.1:{port}"),
        domain: "pass.localhost".into(),
        secret: String::new(),
        spawn: Some(spawn),
        answer_wait: Duration::from_secs(5),
        io_wait: Duration::from_secs(5),
        impl_answer_timeout: Duration::from_secs(NODE_TIMEOUT_SECS),
        connect_wait: Duration::from_secs(10),
    })
}

/// Runs the self-test with the `pass-node` beside the current executable.
pub async fn run(opts: &RunOptions) -> Result<SuiteReport, RunError> {
    run_with_node(&beside_me("pass-node")?, opts).await
}

/// The executable `name` beside the current one, or an error saying how to build it.
fn beside_me(name: &str) -> Result<PathBuf, RunError> {
    let exe = std::env::current_exe()
        .map_err(|e| RunError::Spawn(format!("cannot find my own executable: {e}")))?;
    locate_beside(&exe, name).ok_or_else(|| {
        RunError::Spawn(format!(
            "{name} not found next to {}: build it: cargo build --release -p {name} \
             (or cargo build -p {name} for a debug run)",
            exe.display()
        ))
    })
}

/// Runs the self-test against the `pass-node` binary at `node`.
pub async fn run_with_node(node: &Path, opts: &RunOptions) -> Result<SuiteReport, RunError> {
    let secret: String = (0..32)
        .map(|_| format!("{:x}", rand::random::<u8>() & 0xf))
        .collect();
    let mut file = tempfile::NamedTempFile::new()
        .map_err(|e| RunError::Spawn(format!("cannot create the secret file: {e}")))?;
    file.write_all(secret.as_bytes())
        .map_err(|e| RunError::Spawn(format!("cannot write the secret file: {e}")))?;
    let mut copts = options(node, file.path())?;
    copts.secret = secret;
    component::run(&copts, opts).await
}

/// The shim that maps the client target's environment to pass-client's flags
/// (`conformance/shims/pass-client.sh`), built in so that `client-self-test` needs
/// nothing but the two executables.
pub const PASS_CLIENT_SHIM: &str = include_str!("../shims/pass-client.sh");

/// `client-self-test`: the client cases against the `pass-client` beside the current
/// executable, through its shim.
pub async fn run_client(opts: &RunOptions) -> Result<SuiteReport, RunError> {
    run_client_with(&beside_me("pass-client")?, opts).await
}

/// The client cases against the `pass-client` binary at `client`, through its shim.
pub async fn run_client_with(client: &Path, opts: &RunOptions) -> Result<SuiteReport, RunError> {
    let shim = shim_file()?;
    let copts = crate::client::ClientOptions::new(&shim_command(client, shim.path()));
    crate::client::run(&copts, opts).await
}

/// The `--exec` command that runs pass-client at `client` through the shim at `shim`.
pub fn shim_command(client: &Path, shim: &Path) -> String {
    format!(
        "PASS_CLIENT='{}' exec sh '{}'",
        client.display(),
        shim.display()
    )
}

/// The built-in shim, written to a temporary file.
pub fn shim_file() -> Result<tempfile::NamedTempFile, RunError> {
    let mut file = tempfile::Builder::new()
        .prefix("pass-client-shim-")
        .suffix(".sh")
        .tempfile()
        .map_err(|e| RunError::Spawn(format!("cannot write the shim: {e}")))?;
    file.write_all(PASS_CLIENT_SHIM.as_bytes())
        .and_then(|()| file.flush())
        .map_err(|e| RunError::Spawn(format!("cannot write the shim: {e}")))?;
    Ok(file)
}
