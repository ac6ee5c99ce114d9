//! Several nodes under one component domain: ejabberd's `domain_balancing` (by bare
//! sender JID) spreads the accounts over the connected nodes, each with its own
//! port pool. Every account must be served end to end by whichever node it lands
//! on (its disco, its lease, the notice for its caller, the relay), and every node
//! must serve some account.

use pass_core::ns;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio_xmpp::parsers::iq::Iq;

use crate::client::{Kind, XmppClient};
use crate::node::{Node, NodeSettings};
use crate::ports;
use crate::scenarios::{
    connect, entity, pass_query, random_bytes, relay_both_ways, service_set, xml, ServerInfo,
    LOOPBACK, STEP,
};

/// Asks disco#info until the account's node answers (the server bounces stanzas
/// for a domain until a node for it is connected).
async fn wait_for_service(client: &mut XmppClient, service: &str, nodes: &mut [Node]) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        for n in nodes.iter_mut() {
            n.assert_running();
        }
        let query = xml(&format!("<query xmlns='{}'/>", ns::DISCO_INFO));
        match client.request(service, Kind::Get, query).await {
            Iq::Result { .. } => return,
            other => assert!(
                Instant::now() < deadline,
                "{service} never answered {}: {other:?}",
                client.jid
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Which of `pools` holds `port`.
fn pool_of(pools: &[(u16, u16)], port: u16) -> usize {
    pools
        .iter()
        .position(|&(first, last)| (first..=last).contains(&port))
        .unwrap_or_else(|| panic!("port {port} is in no node's pool {pools:?}"))
}

/// `nodes` pass-nodes connect as `server.service` (which the server balances over
/// that many connections); each of `users` registers, gets a caller, accepts,
/// and relays 64 KiB each way, on whichever node serves it.
pub async fn nodes_sharing_one_domain_each_serve_their_accounts(
    server: &ServerInfo,
    nodes: usize,
    users: &[(&str, &str)],
) {
    // Each account keeps its lease, and a caller needs a proxy port besides: room
    // for every account on any one node.
    let pool_len = u16::try_from(users.len() + 1).expect("a handful of users");
    let pools: Vec<(u16, u16)> = (0..nodes).map(|_| ports::free_range(pool_len)).collect();
    let mut running: Vec<Node> = pools
        .iter()
        .map(|&pool| {
            Node::start(&NodeSettings {
                domain: server.service.clone(),
                secret: server.secret.clone(),
                server: server.component,
                ports: pool,
                extra: Vec::new(),
            })
        })
        .collect();
    let mut served_by = Vec::new();
    for (i, (name, password)) in users.iter().enumerate() {
        let mut user = XmppClient::connect(server.c2s, name, &server.host, password).await;
        wait_for_service(&mut user, &server.service, &mut running).await;
        let lease = match user
            .request(&server.service, Kind::Set, pass_query(""))
            .await
        {
            Iq::Result {
                payload: Some(p), ..
            } => entity(&p, "server"),
            other => panic!("{name}: register failed: {other:?}"),
        };
        assert_eq!(lease.ip(), LOOPBACK);
        let node = pool_of(&pools, lease.port());
        served_by.push(node);

        let mut third = connect(lease).await;
        let me = third.local_addr().expect("local addr");
        let notice = user
            .expect_request(STEP, "incoming-connection notice")
            .await;
        let query = service_set(&server.service, &notice);
        assert_eq!(entity(query, "client"), me, "{name}: <client/>");
        let proxy: SocketAddr = entity(query, "proxy");
        assert_eq!(
            pool_of(&pools, proxy.port()),
            node,
            "{name}: the proxy port comes from the node that holds the lease"
        );
        user.reply_result(&notice, Some(pass_query("")));
        let mut owner_sock = connect(proxy).await;
        let up = random_bytes(64 << 10, 10 + i as u64);
        let down = random_bytes(64 << 10, 20 + i as u64);
        relay_both_ways(&mut third, &mut owner_sock, &up, &down).await;
    }
    for n in running.iter_mut() {
        n.assert_running();
    }
    served_by.sort_unstable();
    served_by.dedup();
    assert_eq!(
        served_by.len(),
        nodes,
        "the server sent every account to the same node(s) {served_by:?} of {nodes}: \
         balancing did not spread {users:?} (ejabberd hashes the bare JID; pick users \
         that hash apart if its hash changed)"
    );
}

/// Registers a lease for `user` at `service`; its address.
async fn register(user: &mut XmppClient, service: &str) -> SocketAddr {
    match user.request(service, Kind::Set, pass_query("")).await {
        Iq::Result {
            payload: Some(p), ..
        } => entity(&p, "server"),
        other => panic!("{}: register failed: {other:?}", user.jid),
    }
}

/// A caller on `lease` is announced to `user`, who accepts; 16 KiB relayed each
/// way. The accept reaches the node only if the server routes `user`'s IQs to the
/// node that holds the lease.
async fn call_and_relay(user: &mut XmppClient, service: &str, lease: SocketAddr, seed: u64) {
    let mut third = connect(lease).await;
    let me = third.local_addr().expect("local addr");
    // Probes that only checked the port listens were callers too: skip their notices.
    let notice = loop {
        let notice = user
            .expect_request(STEP, "incoming-connection notice")
            .await;
        if entity(service_set(service, &notice), "client") == me {
            break notice;
        }
    };
    let proxy: SocketAddr = entity(service_set(service, &notice), "proxy");
    user.reply_result(&notice, Some(pass_query("")));
    let mut owner_sock = connect(proxy).await;
    let up = random_bytes(16 << 10, seed);
    let down = random_bytes(16 << 10, seed + 1);
    relay_both_ways(&mut third, &mut owner_sock, &up, &down).await;
}

/// Whether something accepts connections at `addr` within [`STEP`].
async fn listens(addr: SocketAddr) -> bool {
    let deadline = Instant::now() + STEP;
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Issue 15 item 4 (docs/DESIGN.md decision 57): two nodes with lease stores share
/// `server.service`; the one serving `users[moved]`'s account is killed (SIGKILL).
/// Meanwhile its lease port refuses callers, and the account's IQs to the domain
/// get no answer at all (ejabberd 23.01 does not hand the dead node's slot to the
/// survivor: docs/OPERATING.md tells operators). Started again on its state
/// directory, the node takes its balancing slot back (the account's IQs reach it
/// again: its caller's accept does, and a new register gets a port of its pool)
/// and its lease (same port, serving).
pub async fn a_killed_node_restarts_with_its_leases_and_its_slot(
    server: &ServerInfo,
    users: &[(&str, &str)],
    moved: usize,
) {
    let service = server.service.as_str();
    let pool_len = u16::try_from(users.len() + 2).expect("a handful of users");
    let pools: Vec<(u16, u16)> = (0..2).map(|_| ports::free_range(pool_len)).collect();
    let states: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let settings = |i: usize| NodeSettings {
        domain: server.service.clone(),
        secret: server.secret.clone(),
        server: server.component,
        ports: pools[i],
        extra: vec![
            "--state-dir".into(),
            states[i].path().display().to_string(),
            "--answer-timeout".into(),
            "3".into(),
        ],
    };
    let mut running: Vec<Node> = (0..2).map(|i| Node::start(&settings(i))).collect();
    // Both connected before any account registers: with one route the server sends
    // every account to it, whatever its slot.
    for n in &running {
        wait_stream_up(n).await;
    }

    let (name, password) = users[moved];
    let mut user = XmppClient::connect(server.c2s, name, &server.host, password).await;
    wait_for_service(&mut user, service, &mut running).await;
    // Both nodes must be connected before the account's slot means anything: every
    // other account registers too, until both pools have served.
    let lease = register(&mut user, service).await;
    let k = pool_of(&pools, lease.port());
    let survivor = 1 - k;
    let mut served = [false, false];
    served[k] = true;
    for (i, (other, pw)) in users.iter().enumerate() {
        if i == moved {
            continue;
        }
        let mut u = XmppClient::connect(server.c2s, other, &server.host, pw).await;
        wait_for_service(&mut u, service, &mut running).await;
        served[pool_of(&pools, register(&mut u, service).await.port())] = true;
    }
    assert_eq!(served, [true, true], "balancing did not use both nodes");

    running[k].kill();
    assert!(
        connect_refused(lease).await,
        "the dead node's lease port accepts"
    );
    // Meanwhile the account's IQs to the domain are not answered, by either node.
    let lost = user.send_request(service, Kind::Set, pass_query(""));
    let answer = user.response_within(&lost, Duration::from_secs(3)).await;
    assert!(
        answer.is_none(),
        "{name}'s register was answered while its node was down: {answer:?} (if the \
         server now hands the slot to the survivor ({survivor}), update docs/OPERATING.md)"
    );
    running[k] = Node::start(&settings(k));
    assert!(
        listens(lease).await,
        "the restarted node does not listen on its lease's port {lease}"
    );
    // The slot is back: the accept of a caller on the restored lease reaches it.
    call_and_relay(&mut user, service, lease, 40).await;
    let again = register(&mut user, service).await;
    assert_eq!(
        pool_of(&pools, again.port()),
        k,
        "{name}'s IQs did not come back to the restarted node"
    );
    for n in running.iter_mut() {
        n.assert_running();
    }
}

/// Whether a connection to `addr` is refused (nothing listens).
async fn connect_refused(addr: SocketAddr) -> bool {
    matches!(
        tokio::time::timeout(STEP, tokio::net::TcpStream::connect(addr)).await,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused
    )
}

/// Waits (bounded) until `node` says its component stream is up.
async fn wait_stream_up(node: &Node) {
    let deadline = Instant::now() + STEP;
    while !node.logs().contains("XMPP component stream up") {
        assert!(
            Instant::now() < deadline,
            "the node's stream never came up:\n{}",
            node.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
