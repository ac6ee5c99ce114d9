//! The runner survives misbehaving implementations: small hostile fakes that
//! connect as components. Every test ends by itself (short waits, bounded loops).

use pass_conformance::component::{run, ComponentOptions, RunError};
use pass_conformance::runner::{RunOptions, Status, SuiteReport};
use pass_core::component::{component_header, handshake};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const DOMAIN: &str = "pass.localhost";
const SECRET: &str = "s3cret";

fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("127.0.0.1:{}", l.local_addr().unwrap().port())
}

fn options(listen: &str) -> ComponentOptions {
    ComponentOptions {
        listen: listen.to_string(),
        domain: DOMAIN.into(),
        secret: SECRET.into(),
        spawn: None,
        answer_wait: Duration::from_millis(300),
        io_wait: Duration::from_millis(300),
        impl_answer_timeout: Duration::from_millis(300),
        connect_wait: Duration::from_millis(1500),
    }
}

fn only(ids: &[&str]) -> RunOptions {
    RunOptions {
        only: ids.iter().map(|i| glob::Pattern::new(i).unwrap()).collect(),
        ..RunOptions::default()
    }
}

/// Reads until `needle` shows up (or 2 s pass); gives everything read.
async fn read_until(s: &mut TcpStream, needle: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    for _ in 0..100 {
        if String::from_utf8_lossy(&got).contains(needle) {
            break;
        }
        match timeout(Duration::from_secs(2), s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Connects to the runner as a component and handshakes with `secret`.
async fn fake_component(addr: &str, secret: &str) -> (TcpStream, String) {
    let mut s = None;
    for _ in 0..100 {
        if let Ok(c) = TcpStream::connect(addr).await {
            s = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut s = s.expect("the runner listens");
    let open = component_header(DOMAIN).to_open_tag();
    s.write_all(open.as_bytes()).await.unwrap();
    let header = read_until(&mut s, ">").await;
    let id = header
        .split("id='")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .expect("stream id")
        .to_string();
    let hs = handshake(&id, secret);
    s.write_all(hs.as_bytes()).await.unwrap();
    let answer = read_until(&mut s, "handshake").await;
    (s, answer)
}

async fn run_against<F>(opts: &RunOptions, listen: &str, fake: F) -> Result<SuiteReport, RunError>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let task = tokio::spawn(fake);
    let result = run(&options(listen), opts).await;
    task.abort();
    result
}

#[tokio::test]
async fn wrong_secret_is_a_handshake_failure() {
    let listen = free_addr();
    let l2 = listen.clone();
    let fake = tokio::spawn(async move { fake_component(&l2, "not-the-secret").await.1 });
    let err = run(&options(&listen), &RunOptions::default())
        .await
        .expect_err("the run cannot happen");
    assert_eq!(err.to_string(), "handshake failed: wrong secret");
    let answer = timeout(Duration::from_secs(5), fake)
        .await
        .unwrap()
        .unwrap();
    assert!(
        answer.contains("<not-authorized"),
        "stream error expected, got {answer}"
    );
}

#[tokio::test]
async fn nobody_connecting_is_reported() {
    let err = run(&options(&free_addr()), &RunOptions::default())
        .await
        .expect_err("no run");
    assert!(
        err.to_string().contains("never connected within 1.5 s"),
        "{err}"
    );
}

#[tokio::test]
async fn port_in_use_is_reported() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let err = run(&options(&listen), &RunOptions::default())
        .await
        .expect_err("no run");
    assert!(err.to_string().starts_with("port in use"), "{err}");
}

#[tokio::test]
async fn garbage_fails_the_case_and_the_next_case_runs_after_a_reconnect() {
    let listen = free_addr();
    let l2 = listen.clone();
    let opts = only(&["pass/2/register-result", "pass/2/port-listening"]);
    let report = run_against(&opts, &listen, async move {
        let (mut s, _) = fake_component(&l2, SECRET).await;
        read_until(&mut s, "</iq>").await;
        let _ = s
            .write_all(b"<iq type='result'>&undefined-entity;</iq>")
            .await;
        // Reconnect, then never answer anything.
        let (mut s, _) = fake_component(&l2, SECRET).await;
        read_until(&mut s, "never-comes").await;
    })
    .await
    .expect("the run happens");
    assert_eq!(report.outcomes.len(), 2);
    let first = &report.outcomes[0];
    assert_eq!(first.status, Status::Fail);
    assert!(first.notes.join(" ").contains("malformed XML"), "{first:?}");
    let second = &report.outcomes[1];
    assert_eq!(second.status, Status::Fail);
    let got = second
        .failure
        .as_ref()
        .and_then(|f| f.got.clone())
        .unwrap_or_default();
    assert!(
        got.contains("nothing within 0.3 s"),
        "the second case ran against the new stream: {got}"
    );
}

#[tokio::test]
async fn stream_closed_without_reconnect_fails_the_rest() {
    let listen = free_addr();
    let l2 = listen.clone();
    let opts = only(&["pass/2/*"]);
    let report = run_against(&opts, &listen, async move {
        let (mut s, _) = fake_component(&l2, SECRET).await;
        read_until(&mut s, "</iq>").await;
        drop(s);
    })
    .await
    .expect("the run happens");
    assert!(report.outcomes.len() >= 3);
    assert!(report.outcomes.iter().all(|o| o.status == Status::Fail));
    for o in &report.outcomes[1..] {
        assert!(
            o.notes.join(" ").contains("implementation disconnected"),
            "{}: {:?}",
            o.id,
            o.notes
        );
    }
    assert_eq!(report.exit_code(), 1);
}

#[tokio::test]
async fn advertised_port_that_never_opens_fails_with_refused() {
    let listen = free_addr();
    let l2 = listen.clone();
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let opts = only(&["pass/2/port-listening"]);
    let report = run_against(&opts, &listen, async move {
        let (mut s, _) = fake_component(&l2, SECRET).await;
        // Answer every request with a lease on a port nobody listens on.
        for _ in 0..20 {
            let got = read_until(&mut s, "</iq>").await;
            if got.is_empty() {
                return;
            }
            for iq in got.split("<iq ").skip(1) {
                let attr = |name: &str| iq.split(&format!("{name}='")).nth(1).and_then(|r| r.split('\'').next()).unwrap_or("").to_string();
                let answer = format!(
                    "<iq type='result' id='{}' from='{DOMAIN}' to='{}'><query xmlns='jabber:iq:pass'>\
                     <server port='{closed_port}'>127.0.0.1</server></query></iq>",
                    attr("id"),
                    attr("from")
                );
                if s.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    })
    .await
    .expect("the run happens");
    let o = &report.outcomes[0];
    assert_eq!(o.status, Status::Fail, "{o:?}");
    let got = o
        .failure
        .as_ref()
        .and_then(|f| f.got.clone())
        .unwrap_or_default();
    assert_eq!(got, "connection refused");
}
