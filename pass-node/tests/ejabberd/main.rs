//! pass-node end to end, next to a real ejabberd: the same [`scenarios`] as the
//! Prosody test, against one private ejabberd instance ([`server`]) that declares a
//! component domain per scenario, run one after the other (ejabberd boots in
//! seconds, not milliseconds, so one instance serves them all).
//!
//! Needs `ejabberd` (Debian package, installed by `scripts/setup.sh`); without it the
//! test fails saying so. Runs as root, like CI: ejabberdctl switches to the
//! `ejabberd` user itself.

#[path = "../prosody/client.rs"]
mod client;
#[path = "../prosody/logs.rs"]
mod logs;
#[path = "../prosody/node.rs"]
mod node;
#[path = "../prosody/ports.rs"]
mod ports;
#[path = "../prosody/scenarios.rs"]
mod scenarios;
mod server;

use scenarios::{bounded, USERS};
use server::Ejabberd;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_next_to_ejabberd() {
    let names = [
        "relay-splice",
        "relay-copy",
        "deny",
        "expire",
        "oneshot",
        "close",
        "exhausted",
        "wrong-secret",
    ];
    let domains: Vec<String> = names
        .iter()
        .map(|n| format!("{n}.pass.localhost"))
        .collect();
    let secret = format!("secret-{}", fastrand::u64(..));
    let ejabberd = Ejabberd::start(&domains, &secret, &USERS);
    let info = |i: usize| ejabberd.info(&domains[i], &secret);

    bounded(scenarios::register_incoming_accept_relay_and_disconnect(
        &info(0),
        "splice",
    ))
    .await;
    bounded(scenarios::register_incoming_accept_relay_and_disconnect(
        &info(1),
        "copy",
    ))
    .await;
    bounded(scenarios::owner_denies_incoming_connection(&info(2))).await;
    bounded(scenarios::expire_notice_closes_the_port(&info(3))).await;
    bounded(scenarios::oneshot_notice_after_one_relay(&info(4))).await;
    bounded(scenarios::close_and_its_four_errors(&info(5))).await;
    bounded(scenarios::exhausted_pool_gets_502(&info(6))).await;
    bounded(scenarios::wrong_secret_is_refused(&info(7))).await;
}
