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
