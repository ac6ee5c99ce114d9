//! pass-client end to end: a real Prosody on 127.0.0.1 (pass-node's Prosody harness,
//! included by path, not copied), the real pass-node as its component (in process,
//! through its library), the `pass-client` binary as the user, and plain TCP sockets
//! as callers.
//!
//! Needs `prosody` (scripts/setup.sh); without it the tests fail saying so.

#![allow(dead_code)] // the shared harness has more than these tests use

#[path = "../../pass-node/tests/prosody/client.rs"]
mod client;
#[path = "../../pass-node/tests/prosody/info.rs"]
mod info;
#[path = "../../pass-node/tests/prosody/logs.rs"]
mod logs;
#[path = "../../pass-node/tests/prosody/ports.rs"]
mod ports;
#[path = "../../pass-node/tests/prosody/server.rs"]
mod server;

mod support;

use server::Prosody;
use std::time::Duration;
use support::{
    denied_caller, echo_server, http_server, random_bytes, round_trip, Gate, World, STEP,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const SERVICE: &str = "pass.localhost";

/// A fresh Prosody and pass-node as its component.
async fn world() -> (Prosody, World) {
    let (prosody, info) = Prosody::with_component(SERVICE);
    (prosody, World::start(info).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovers_registers_bridges_16_mib_each_way_and_sigint_closes_the_port() {
    let (_prosody, world) = world().await;
    let echo = echo_server().await;
    // No --service: found by disco on the account's server.
    let mut client = world.expose(echo, &[]);
    let public = client.registered().await;
    assert_ne!(public.port(), echo.port());

    let data = random_bytes(16 * 1024 * 1024);
    let back = round_trip(public, data.clone()).await;
    assert_eq!(back.len(), data.len(), "every byte came back");
    assert!(back == data, "byte-exact both ways");
    let conn = client.until("connection").await;
    assert!(conn["client"]
        .as_str()
        .expect("client")
        .starts_with("127.0.0.1:"));
    client.until("session-ended").await;

    client.signal("-INT");
    client.until("closed").await;
    assert!(client.exit().await.success(), "SIGINT exits 0");
    let refused = TcpStream::connect(public).await;
    assert!(refused.is_err(), "the port refuses after the close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_outside_allow_is_denied_and_gets_eof_without_a_byte() {
    let (_prosody, world) = world().await;
    let echo = echo_server().await;
    let mut client = world.expose(echo, &["--service", SERVICE, "--allow", "10.0.0.0/8"]);
    let public = client.registered().await;
    let got = denied_caller(public).await;
    assert!(got.is_empty(), "no byte reaches a denied caller: {got:?}");
    let denied = client.until("denied").await;
    assert_eq!(denied["reason"], "not-allowed");
    client.signal("-TERM");
    assert!(client.exit().await.success(), "SIGTERM exits 0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_is_acknowledged_and_exits_0() {
    let (_prosody, world) = world().await;
    let echo = echo_server().await;
    let mut client = world.expose(echo, &["--service", SERVICE, "--expire", "2"]);
    let public = client.registered().await;
    client.until("expired").await;
    assert!(client.exit().await.success(), "expiry exits 0");
    assert!(
        TcpStream::connect(public).await.is_err(),
        "the port is closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_oneshot_lease_serves_one_caller_then_exits_0() {
    let (_prosody, world) = world().await;
    let echo = echo_server().await;
    let mut client = world.expose(echo, &["--service", SERVICE, "--oneshot"]);
    let public = client.registered().await;
    let back = round_trip(public, b"once".to_vec()).await;
    assert_eq!(back, b"once");
    let closed = client.until("closed").await;
    assert_eq!(closed["reason"], "oneshot");
    assert!(client.exit().await.success(), "oneshot exits 0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_exits_4() {
    let (_prosody, world) = world().await;
    std::fs::write(world.password_file(), "not-the-password").expect("write");
    let echo = echo_server().await;
    let mut client = world.expose(echo, &["--service", SERVICE]);
    assert_eq!(client.exit().await.code(), Some(4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_jid_admits_the_caller_at_the_answered_ip() {
    let (_prosody, world) = world().await;
    let (_answerer, jid) = world.answer("127.0.0.1").await;
    let echo = echo_server().await;
    let mut client = world.expose(echo, &["--service", SERVICE, "--allow-jid", &jid]);
    let public = client.registered().await;
    let back = round_trip(public, b"friend".to_vec()).await;
    assert_eq!(back, b"friend");
    client.until("connection").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_jid_denies_a_caller_at_another_ip() {
    let (_prosody, world) = world().await;
    let (_answerer, jid) = world.answer("192.0.2.1").await;
    let echo = echo_server().await;
    let mut client = world.expose(echo, &["--service", SERVICE, "--allow-jid", &jid]);
    let public = client.registered().await;
    let got = denied_caller(public).await;
    assert!(got.is_empty(), "no byte reaches a denied caller: {got:?}");
    let denied = client.until("denied").await;
    assert_eq!(denied["reason"], "no-matching-answer");
}

/// DESIGN decisions 92 and 94: Prosody restarts mid-lease; the client comes back
/// only after the node, and a caller meanwhile gets its notice bounced: that caller
/// is dropped without a byte, the lease is kept, and once the client is back the
/// same public port serves at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_survives_an_xmpp_server_restart() {
    let (mut prosody, world) = world().await;
    let echo = echo_server().await;
    // The client logs in through a gate, so that the test decides when it is back.
    let gate = Gate::to(world.info.c2s).await;
    let mut client = world.expose_via(gate.addr, echo, &["--service", SERVICE]);
    let public = client.registered().await;
    assert_eq!(round_trip(public, b"before".to_vec()).await, b"before");

    gate.shut();
    prosody.restart();
    // The node is back as Prosody's component; the owner is not.
    world.wait_for_component().await;
    // A caller during the owner's outage: Prosody bounces the notice to its
    // offline full JID, and the node drops the caller without a byte.
    let got = denied_caller(public).await;
    assert!(
        got.is_empty(),
        "no byte reaches a caller of an offline owner"
    );

    gate.open();
    // Its backoff doubles from 0.5 s while the gate is shut: allow a minute.
    while client.event_within(Duration::from_secs(60)).await["event"] != "reconnected" {}
    // The lease outlived the bounce: the same port serves, at the first try.
    assert_eq!(round_trip(public, b"after".to_vec()).await, b"after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_registers_again_after_an_expiry_and_the_new_port_serves() {
    let (_prosody, world) = world().await;
    let echo = echo_server().await;
    let mut client = world.expose(echo, &["--service", SERVICE, "--expire", "2", "--keep"]);
    let first = client.registered().await;
    client.until("expired").await;
    let second = client.registered().await;
    assert_eq!(round_trip(second, b"again".to_vec()).await, b"again");
    assert!(
        client.child.try_wait().expect("try_wait").is_none(),
        "--keep stays up after an expiry (first lease was {first})"
    );
    client.signal("-INT");
    assert!(client.exit().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_with_a_private_ca_relays_and_an_unknown_ca_exits_5() {
    let (mut prosody, world) = world().await;
    let crt = prosody.install_certificate(world.dir());
    world.wait_for_component().await;
    let crt = crt.to_str().expect("UTF-8 path");
    let echo = echo_server().await;

    let mut untrusted = world.expose(echo, &["--service", SERVICE, "--tls", "starttls"]);
    assert_eq!(
        untrusted.exit().await.code(),
        Some(5),
        "an unknown CA is a TLS failure"
    );

    let tls = ["--service", SERVICE, "--tls", "starttls", "--tls-ca", crt];
    let mut client = world.expose(echo, &tls);
    let public = client.registered().await;
    assert_eq!(round_trip(public, b"secret".to_vec()).await, b"secret");
    client.signal("-INT");
    assert!(client.exit().await.success());

    let insecure = ["--service", SERVICE, "--tls", "starttls", "--tls-insecure"];
    let mut client = world.expose(echo, &insecure);
    client.registered().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_server_behind_the_client_answers_a_caller() {
    let (_prosody, world) = world().await;
    let http = http_server("hello through PASS").await;
    let mut client = world.expose(http, &["--service", SERVICE]);
    let public = client.registered().await;
    let mut caller = TcpStream::connect(public).await.expect("caller connects");
    caller
        .write_all(b"GET / HTTP/1.0\r\nHost: example\r\n\r\n")
        .await
        .expect("request");
    let mut response = String::new();
    tokio::time::timeout(STEP, caller.read_to_string(&mut response))
        .await
        .expect("response in time")
        .expect("read");
    assert!(response.starts_with("HTTP/1.0 200 OK\r\n"), "{response:?}");
    assert!(
        response.ends_with("\r\n\r\nhello through PASS"),
        "{response:?}"
    );
}
