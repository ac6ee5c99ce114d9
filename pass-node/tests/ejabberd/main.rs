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
#[path = "../prosody/info.rs"]
mod info;
#[path = "../prosody/logs.rs"]
mod logs;
#[path = "../prosody/node.rs"]
mod node;
#[path = "../prosody/ports.rs"]
mod ports;
#[path = "../prosody/scenarios.rs"]
mod scenarios;

mod balancing;
mod server;

use scenarios::{bounded, USERS};
use server::{Balanced, Ejabberd};

/// A third user for the balanced domain. ejabberd picks an account's connection by
/// a hash of its bare JID (`erlang:phash`, stable across runs and machines): owner
/// and other land on one connection, carol on the other, so both nodes serve.
const MORE_USERS: [(&str, &str); 1] = [("carol", "carol-pw")];

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
        "balanced",
        "owner-gone",
        "restart",
    ];
    let domains: Vec<String> = names
        .iter()
        .map(|n| format!("{n}.pass.localhost"))
        .collect();
    let secret = format!("secret-{}", fastrand::u64(..));
    // "balanced" and "restart" are each served by two nodes at once.
    let balanced = [
        Balanced {
            domain: domains[8].clone(),
            nodes: 2,
        },
        Balanced {
            domain: domains[10].clone(),
            nodes: 2,
        },
    ];
    let users: Vec<(&str, &str)> = USERS.iter().copied().chain(MORE_USERS).collect();
    let ejabberd = Ejabberd::start(&domains, &balanced, &secret, &users);
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
    bounded(scenarios::owner_gone_ends_the_lease(&info(9))).await;
    bounded(balancing::nodes_sharing_one_domain_each_serve_their_accounts(&info(8), 2, &users))
        .await;
    // carol hashes apart from owner and other (see MORE_USERS).
    let carol = users.len() - 1;
    bounded(
        balancing::a_killed_node_restarts_with_its_leases_and_its_slot(&info(10), &users, carol),
    )
    .await;
}

/// The harness itself: a port that another process holds (c2s, component or the
/// Erlang distribution's) must be reported as taken, so that `Ejabberd::start`
/// tries fresh ports, and never mistaken for ejabberd because something accepts.
#[test]
fn a_port_held_by_another_process_is_reported_as_taken() {
    let secret = format!("secret-{}", fastrand::u64(..));
    let domains = ["held.pass.localhost".to_owned()];
    for which in ["c2s", "component", "dist"] {
        let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port to hold");
        let held = holder.local_addr().expect("held port").port();
        let mut ports = server::Ports::fresh();
        match which {
            "c2s" => ports.c2s = held,
            "component" => ports.component = held,
            _ => ports.dist = held,
        }
        match Ejabberd::start_on(ports, &domains, &[], &secret) {
            Ok(server) => panic!(
                "ejabberd reported ready although its {which} port {held} is held by the test:\n{}",
                server.logs()
            ),
            Err(server::PortTaken(logs)) => assert!(
                logs.contains("eaddrinuse"),
                "{which} port held: PortTaken without the reason in its logs:\n{logs}"
            ),
        }
    }
}
