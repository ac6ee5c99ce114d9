//! `pass-node` as a child process that the nemesis can `kill -9` and start again with
//! the same flags (ports, state directory), and whose memory and descriptors are read
//! from /proc.

use crate::info::ServerInfo;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The `pass-node` binary: `PASS_NODE_BIN`, or the one cargo built beside this test
/// (`cargo test --workspace` builds it; alone, `cargo build -p pass-node` first).
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("PASS_NODE_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("own path");
    // target/<profile>/deps/soak-HASH → target/<profile>/pass-node
    let candidate = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("pass-node"));
    match candidate {
        Some(p) if p.is_file() => p,
        _ => panic!(
            "pass-node not found beside {}: run `cargo build -p pass-node` (same profile) \
             first, or set PASS_NODE_BIN",
            exe.display()
        ),
    }
}

/// A node: its flags, and the running process if any.
pub struct Node {
    bin: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

/// Memory and descriptors of the node process.
#[derive(Clone, Copy, Debug)]
pub struct Usage {
    /// Resident set, KiB (VmRSS).
    pub rss_kib: u64,
    /// Open descriptors (entries of /proc/PID/fd).
    pub fds: usize,
}

impl Node {
    /// Starts the node as the component of `info` with the pool `ports` and `extra`
    /// flags; its files (secret, log) in `dir`, its output appended to the log.
    pub fn start(dir: &Path, info: &ServerInfo, ports: (u16, u16), extra: &[String]) -> Node {
        let secret_file = dir.join("node-secret");
        std::fs::write(&secret_file, &info.secret).expect("write secret");
        let mut args = crate::support::node_flags(info, &secret_file, ports);
        args.extend(["--log-level".into(), "debug".into()]);
        args.extend_from_slice(extra);
        let mut node = Node {
            bin: binary(),
            args,
            log: dir.join("node.log"),
            child: None,
        };
        node.spawn();
        node
    }

    fn spawn(&mut self) {
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("node log");
        let err = out.try_clone().expect("node log");
        let child = Command::new(&self.bin)
            .args(&self.args)
            .current_dir(self.log.parent().expect("log in a folder"))
            .env_remove("PASS_NODE_SECRET")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.bin.display()));
        self.child = Some(child);
    }

    /// SIGKILL, reaped; then the same command again.
    pub fn kill9_and_restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            // std's kill is SIGKILL on Unix.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Panics with the log if the node has exited.
    pub fn assert_running(&mut self) {
        let child = self.child.as_mut().expect("node started");
        if let Ok(Some(status)) = child.try_wait() {
            panic!("pass-node exited ({status}):\n{}", self.logs());
        }
    }

    /// The node's memory and descriptors now.
    pub fn usage(&self) -> Usage {
        let pid = self.child.as_ref().expect("node started").id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        let rss_kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS in /proc/PID/status");
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .expect("/proc/PID/fd")
            .count();
        Usage { rss_kib, fds }
    }

    /// The end of the node's log, for failure reports.
    pub fn logs(&self) -> String {
        crate::logs::tail_file(&self.log, 300)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            eprintln!("===== pass-node log (soak failed) =====\n{}", self.logs());
        }
    }
}
