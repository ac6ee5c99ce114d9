//! `pass-node` as a child process, connected to the XMPP server as its component. The
//! guard kills and waits for it when dropped, and prints its log if the test failed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The settings a scenario varies.
pub struct NodeSettings {
    /// The component domain, e.g. `pass.localhost`.
    pub domain: String,
    /// The component secret.
    pub secret: String,
    /// The server's component port.
    pub server: SocketAddr,
    /// The port pool, inclusive.
    pub ports: (u16, u16),
    /// More flags, e.g. `["--answer-timeout", "2"]`.
    pub extra: Vec<String>,
}

/// A running node.
pub struct Node {
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Node {
    /// Starts `pass-node` with loopback addresses, the pool and no metrics endpoint
    /// (so parallel tests do not fight over its port). The secret goes in a file.
    pub fn start(settings: &NodeSettings) -> Node {
        let dir = tempfile::Builder::new()
            .prefix("pass-node-")
            .tempdir()
            .expect("temp dir");
        let secret_file = dir.path().join("secret");
        std::fs::write(&secret_file, &settings.secret).expect("write secret");
        let log = dir.path().join("node.log");
        let out = std::fs::File::create(&log).expect("node log");
        let err = out.try_clone().expect("node log");
        let (first, last) = settings.ports;
        let child = Command::new(env!("CARGO_BIN_EXE_pass-node"))
            .arg("--server")
            .arg(settings.server.to_string())
            .args(["--domain", &settings.domain])
            .arg("--secret-file")
            .arg(&secret_file)
            .args(["--public-ip", "127.0.0.1", "--bind", "127.0.0.1"])
            .args(["--ports", &format!("{first}-{last}")])
            .args(["--metrics", "off", "--log-level", "debug"])
            .args(state_args(&settings.extra))
            .args(&settings.extra)
            .env_remove("PASS_NODE_SECRET")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("spawn pass-node");
        Node {
            child,
            log,
            _dir: dir,
        }
    }

    /// Panics with the node's log if it has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("pass-node exited ({status}):\n{}", self.logs());
        }
    }

    /// Kills the node at once (SIGKILL: no drain, no goodbye) and waits for it.
    #[allow(dead_code)] // the Prosody test kills no node
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits up to `limit` for the node to exit by itself; its status, if it did.
    pub fn wait_exit(&mut self, limit: std::time::Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        None
    }

    /// The node's output so far.
    pub fn logs(&self) -> String {
        crate::logs::tail_file(&self.log, 300)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("===== pass-node log (test failed) =====\n{}", self.logs());
        }
    }
}

/// `--no-state` unless the scenario names a lease store itself: a test writes no
/// state into the working directory and shares none between runs.
fn state_args(extra: &[String]) -> &'static [&'static str] {
    if extra
        .iter()
        .any(|a| a == "--state-dir" || a == "--no-state")
    {
        &[]
    } else {
        &["--no-state"]
    }
}
