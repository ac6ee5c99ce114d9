//! pass-node end to end, next to a real Prosody.
//!
//! Each test starts its own Prosody on 127.0.0.1 ([`server`]: generated config, free
//! ports, a VirtualHost `localhost` with the users `owner` and `other`, a Component
//! with a secret), then runs one of the [`scenarios`]: the `pass-node` binary as that
//! component, both users logged in with a real XMPP client over c2s ([`client`]),
//! third parties as plain TCP sockets. Prosody and the node are killed when a test
//! ends, pass or fail, and their logs are printed on failure.
//!
//! Needs `prosody` (Debian package, installed by `scripts/setup.sh`); without it the
//! tests fail saying so.

mod client;
mod info;
mod logs;
mod node;
mod ports;
mod scenarios;
mod server;

use scenarios::bounded;
use server::Prosody;

const SERVICE: &str = "pass.localhost";

/// A fresh Prosody with [`scenarios::USERS`] and the component [`SERVICE`], and its details.
fn prosody() -> (Prosody, scenarios::ServerInfo) {
    Prosody::with_component(SERVICE)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_in_splice_mode() {
    let (_prosody, info) = prosody();
    bounded(scenarios::register_incoming_accept_relay_and_disconnect(
        &info, "splice",
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_in_copy_mode() {
    let (_prosody, info) = prosody();
    bounded(scenarios::register_incoming_accept_relay_and_disconnect(
        &info, "copy",
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_denies_incoming_connection() {
    let (_prosody, info) = prosody();
    bounded(scenarios::owner_denies_incoming_connection(&info)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_gone_ends_the_lease() {
    let (_prosody, info) = prosody();
    bounded(scenarios::owner_gone_ends_the_lease(&info)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expire_notice_closes_the_port() {
    let (_prosody, info) = prosody();
    bounded(scenarios::expire_notice_closes_the_port(&info)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oneshot_notice_after_one_relay() {
    let (_prosody, info) = prosody();
    bounded(scenarios::oneshot_notice_after_one_relay(&info)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_and_its_four_errors() {
    let (_prosody, info) = prosody();
    bounded(scenarios::close_and_its_four_errors(&info)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_pool_gets_502() {
    let (_prosody, info) = prosody();
    bounded(scenarios::exhausted_pool_gets_502(&info)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secret_is_refused() {
    let (_prosody, info) = prosody();
    bounded(scenarios::wrong_secret_is_refused(&info)).await;
}
