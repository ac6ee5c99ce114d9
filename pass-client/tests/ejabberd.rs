//! pass-client end to end next to a real ejabberd (pass-node's ejabberd harness,
//! included by path): register, relay byte-exact, deny by CIDR, SIGINT gives the port
//! back. One ejabberd serves the whole scenario (it boots in seconds).
//!
//! Needs `ejabberd` (scripts/setup.sh); without it the test fails saying so.

#![allow(dead_code)] // the shared harness has more than this test uses

#[path = "../../pass-node/tests/prosody/client.rs"]
mod client;
#[path = "../../pass-node/tests/prosody/info.rs"]
mod info;
#[path = "../../pass-node/tests/prosody/logs.rs"]
mod logs;
#[path = "../../pass-node/tests/prosody/ports.rs"]
mod ports;
#[path = "../../pass-node/tests/ejabberd/server.rs"]
mod server;

mod support;

use server::Ejabberd;
use support::{denied_caller, echo_server, random_bytes, round_trip, World};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expose_relays_denies_and_closes_next_to_ejabberd() {
    let domain = "pass.localhost".to_owned();
    let secret = format!("secret-{}", fastrand::u64(..));
    let ejabberd = Ejabberd::start(std::slice::from_ref(&domain), &[], &secret, &info::USERS);
    let world = World::start(ejabberd.info(&domain, &secret)).await;
    let echo = echo_server().await;

    let mut client = world.expose(echo, &["--service", &domain]);
    let public = client.registered().await;
    let data = random_bytes(1024 * 1024);
    assert!(round_trip(public, data.clone()).await == data, "byte-exact");
    client.until("session-ended").await;
    client.signal("-INT");
    client.until("closed").await;
    assert!(client.exit().await.success(), "SIGINT exits 0");
    assert!(
        TcpStream::connect(public).await.is_err(),
        "the port refuses"
    );

    let mut client = world.expose(echo, &["--service", &domain, "--allow", "10.0.0.0/8"]);
    let public = client.registered().await;
    assert!(
        denied_caller(public).await.is_empty(),
        "no byte for a denied caller"
    );
    assert_eq!(client.until("denied").await["reason"], "not-allowed");
}
