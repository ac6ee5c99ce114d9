//! An owner: a real `pass-client expose --json` process in front of a local service,
//! every event it prints kept with the time it came.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncBufReadExt as _;
use tokio::process::Child;
use tokio::sync::Notify;
use tokio::time::Instant;

/// One printed event.
#[derive(Clone, Debug)]
pub struct Event {
    pub at: Instant,
    pub value: serde_json::Value,
}

impl Event {
    pub fn name(&self) -> &str {
        self.value["event"].as_str().unwrap_or("")
    }

    /// The address of a `registered` (ip and port) or `expired` event.
    pub fn address(&self) -> Option<SocketAddr> {
        match self.name() {
            "registered" => format!(
                "{}:{}",
                self.value["ip"].as_str()?,
                self.value["port"].as_u64()?
            )
            .parse()
            .ok(),
            _ => self.value["address"].as_str()?.parse().ok(),
        }
    }
}

/// A running `pass-client expose`.
pub struct Owner {
    pub name: String,
    log: PathBuf,
    child: Child,
    events: Arc<Mutex<Vec<Event>>>,
    changed: Arc<Notify>,
}

impl Owner {
    /// `pass-client expose LOCAL --json --service SERVICE EXTRA…` as `name@localhost`,
    /// its log to `log`.
    pub fn spawn(
        c2s: SocketAddr,
        name: &str,
        password_file: &Path,
        local: SocketAddr,
        service: &str,
        extra: &[&str],
        log: &Path,
    ) -> Owner {
        let local = local.to_string();
        let mut args = vec!["expose", &local, "--json", "--service", service];
        args.extend_from_slice(extra);
        let (child, mut stdout) = crate::support::spawn_pass_client(
            c2s,
            &format!("{name}@localhost"),
            password_file,
            &args,
            std::fs::File::create(log).expect("client log").into(),
        );
        let events = Arc::new(Mutex::new(Vec::new()));
        let changed = Arc::new(Notify::new());
        let (ev, ch, who) = (events.clone(), changed.clone(), name.to_owned());
        tokio::spawn(async move {
            let mut line = String::new();
            loop {
                line.clear();
                match stdout.read_line(&mut line).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("{who}: not JSON: {line:?}: {e}"));
                ev.lock().expect("events").push(Event {
                    at: Instant::now(),
                    value,
                });
                ch.notify_waiters();
            }
            ch.notify_waiters();
        });
        Owner {
            name: name.to_owned(),
            log: log.to_owned(),
            child,
            events,
            changed,
        }
    }

    /// Every event so far.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().expect("events").clone()
    }

    /// The first event named `name` at or after index `from`, waiting at most
    /// `within`; with its index.
    pub async fn wait_for(
        &self,
        name: &str,
        from: usize,
        within: Duration,
    ) -> Option<(usize, Event)> {
        let deadline = Instant::now() + within;
        loop {
            let notified = self.changed.notified();
            if let Some(found) = self
                .events()
                .into_iter()
                .enumerate()
                .skip(from)
                .find(|(_, e)| e.name() == name)
            {
                return Some(found);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// The end of the client's log, for failure reports.
    pub fn logs(&self) -> String {
        crate::logs::tail_file(&self.log, 40)
    }

    /// Whether the process still runs; its exit status if not.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }
}
