//! The smoke test of docs/OPERATING.md's quick start: proves, with the real
//! `pass-client`, that a caller reaches a local service through a running node.
//!
//!   PASS_SMOKE_CLIENT=/usr/bin/pass-client \
//!     cargo run -p pass-client --example smoke -- C2S_ADDR USER@HOST PASSWORD SERVICE_JID
//!   (scripts/smoke.sh takes the same arguments and finds pass-client itself)
//!
//! It starts a local service on 127.0.0.1 that greets whoever connects and echoes
//! one line, runs `pass-client expose` in front of it as USER@HOST (clear text to
//! C2S_ADDR, which must be a loopback address: the quick start's throw-away host
//! has no certificate), reads the public address from the client's `registered`
//! event, calls it as a third party would, and checks the greeting and the echo.
//! Then it stops the client with SIGINT, which closes the lease (listing 9), and
//! requires exit 0. "smoke: ok" on success; a panic naming the failed step
//! otherwise, with the client's output.

use serde_json::Value;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, ChildStdout, Command};

const GREETING: &str = "hello from the local service";
const STEP: Duration = Duration::from_secs(20);

fn usage() -> ! {
    eprintln!("usage: smoke C2S_ADDR USER@HOST PASSWORD SERVICE_JID");
    std::process::exit(2)
}

/// The local service: greets, then echoes one line.
async fn local_service() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("local service: bind: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("local service: {e}"));
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (r, mut w) = s.into_split();
                let _ = w.write_all(format!("{GREETING}\n").as_bytes()).await;
                let mut line = String::new();
                let _ = BufReader::new(r).read_line(&mut line).await;
                let _ = w.write_all(format!("echo: {line}").as_bytes()).await;
            });
        }
    });
    addr
}

/// The next `--json` event of the client, within [`STEP`].
async fn next_event(events: &mut Lines<BufReader<ChildStdout>>, waiting_for: &str) -> Value {
    let line = tokio::time::timeout(STEP, events.next_line())
        .await
        .unwrap_or_else(|_| panic!("pass-client said nothing within {STEP:?} ({waiting_for})"))
        .unwrap_or_else(|e| panic!("reading pass-client's output: {e}"))
        .unwrap_or_else(|| panic!("pass-client ended before {waiting_for} (see its log above)"));
    serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("pass-client printed {line:?}, not a JSON event: {e}"))
}

/// Reads events until one named `name`.
async fn until(events: &mut Lines<BufReader<ChildStdout>>, name: &str) -> Value {
    loop {
        let event = next_event(events, name).await;
        if event["event"] == name {
            return event;
        }
        println!("smoke: pass-client: {event}");
    }
}

async fn read_line(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>, what: &str) -> String {
    let mut line = String::new();
    tokio::time::timeout(STEP, r.read_line(&mut line))
        .await
        .unwrap_or_else(|_| panic!("the caller got no {what} within {STEP:?}"))
        .unwrap_or_else(|e| panic!("caller: {e}"));
    line.trim_end().to_string()
}

fn signal(child: &Child, sig: &str) {
    let pid = child
        .id()
        .unwrap_or_else(|| panic!("pass-client ended early"));
    let ok = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap_or_else(|e| panic!("kill {sig}: {e}"));
    assert!(ok.success(), "kill {sig} {pid} failed");
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [c2s, jid, password, service] = args.as_slice() else {
        usage()
    };
    if c2s.parse::<SocketAddr>().is_err() {
        usage()
    }
    let bin = std::env::var("PASS_SMOKE_CLIENT").unwrap_or_else(|_| "pass-client".into());
    let local = local_service().await;

    let mut child = Command::new(&bin)
        .args([
            "expose",
            &local.to_string(),
            "--jid",
            jid,
            "--service",
            service,
        ])
        .args(["--server", c2s, "--tls", "none", "--json"])
        .env("PASS_CLIENT_PASSWORD", password)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {bin}: {e} (install the pass-client package)"));
    let stdout = child
        .stdout
        .take()
        .unwrap_or_else(|| panic!("pass-client's stdout"));
    let mut events = BufReader::new(stdout).lines();
    println!("smoke: pass-client exposes {local} as {jid}");

    let registered = until(&mut events, "registered").await;
    let public: SocketAddr = format!(
        "{}:{}",
        registered["ip"].as_str().unwrap_or(""),
        registered["port"]
    )
    .parse()
    .unwrap_or_else(|e| panic!("registered event {registered}: {e}"));
    println!("smoke: {service} leased {public}");

    // The third party calls the public address.
    let caller = tokio::time::timeout(STEP, TcpStream::connect(public))
        .await
        .unwrap_or_else(|_| panic!("calling {public} timed out"))
        .unwrap_or_else(|e| panic!("calling {public}: {e}"));
    let (r, mut w) = caller.into_split();
    let mut r = BufReader::new(r);
    let greeting = read_line(&mut r, "greeting").await;
    assert_eq!(greeting, GREETING, "the caller read something else");
    w.write_all(b"ping\n")
        .await
        .unwrap_or_else(|e| panic!("caller: {e}"));
    let echo = read_line(&mut r, "echo").await;
    assert_eq!(echo, "echo: ping", "the echo came back wrong");
    println!("smoke: the caller reached the local service through {service}");
    drop((r, w));

    // SIGINT: pass-client closes the lease and exits 0.
    signal(&child, "-INT");
    until(&mut events, "closed").await;
    let status = tokio::time::timeout(STEP, child.wait())
        .await
        .unwrap_or_else(|_| panic!("pass-client did not exit within {STEP:?} of SIGINT"))
        .unwrap_or_else(|e| panic!("waiting for pass-client: {e}"));
    assert!(
        status.success(),
        "pass-client exited with {status} after SIGINT"
    );
    println!("smoke: ok");
}
