//! §4.3 close: listings 9 and 10 and the four rows of its error table.

use super::case;
use crate::catalogue::Case;
use crate::ctx::{entity, pass_el, pass_query, query, CaseFut, Ctx};

/// The §4.3 cases.
pub fn cases() -> Vec<Case> {
    vec![
        case!("pass/4.3/close-port-closed", "4.3", Some(9), Must,
            &["This tells the server to explicitly shut down a listening port."],
            "The owner's <close/><proxy/> (listing 9) shuts the port down: a connection is refused", close_port_closed),
        case!("pass/4.3/close-ack", "4.3", Some(10), Must,
            &["The server sends back:", "Server acknowledges port closing request"],
            "The service acknowledges a close with a result carrying an empty query (listing 10)", close_ack),
        case!("pass/4.3/close-missing-proxy-400", "4.3", None, Must,
            &["400", "Missing <proxy/> specification.", "Sent a <close/> w/o a <proxy/>"],
            "A <close/> without <proxy/> gets error 400 (bad-request)", close_missing_proxy_400),
        case!("pass/4.3/close-not-owner-401", "4.3", None, Must,
            &["401", "Port not registered to your JID.", "You did not register this port with the server."],
            "A <close/> from another account gets error 401 (not-authorized) and the port stays open", close_not_owner_401),
        case!("pass/4.3/close-unknown-port-404", "4.3", None, Must,
            &["404", "Port not found in registry.", "The <proxy port=''/> was not a defined port."],
            "A <close/> naming a port that is not leased gets error 404 (item-not-found)", close_unknown_port_404),
        case!("pass/4.3/close-wrong-ip-405", "4.3", None, Must,
            &["405", "Proxy IP does not match.", "The IP sent in the <proxy/> does not match the IP of the pass-service"],
            "A <close/> whose <proxy/> IP is not the service's gets error 405 (not-allowed)", close_wrong_ip_405),
        case!("pass/4.3/close-other-resource", "4.3", None, Should,
            &[],
            "Another resource of the owner's account may close the lease (spec silent; DESIGN decision 6)", close_other_resource),
    ]
}

fn close_port_closed(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let owner = c.user("owner");
        let lease = c.register(&owner, None, false).await?;
        c.close_lease(&lease).await?;
        c.expect_refused("connect to the closed port", lease.addr)
            .await
    })
}

fn close_ack(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let owner = c.user("owner");
        let lease = c.register(&owner, Some(600), false).await?;
        let a = c.close_lease(&lease).await?;
        match pass_query(&a) {
            Some(q) if q.elements().next().is_none() => {}
            Some(_) => {
                c.warn("close acknowledgement: the query is not empty (listing 10 shows it empty)")
            }
            None => c.warn(
                "close acknowledgement: no <query xmlns='jabber:iq:pass'/> (listing 10 has one)",
            ),
        }
        Ok(())
    })
}

fn close_missing_proxy_400(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let owner = c.user("owner");
        c.register(&owner, None, false).await?;
        let iq = c.iq("set", &owner, Some(query().with_child(pass_el("close"))));
        let id = c.send_iq(iq).await?;
        c.expect_error("close without <proxy/>", &owner, &id, 400)
            .await?;
        Ok(())
    })
}

fn close_not_owner_401(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let owner = c.user("owner");
        let intruder = c.user("intruder");
        let lease = c.register(&owner, None, false).await?;
        let id = c
            .send_close(&intruder, &lease.host, lease.addr.port())
            .await?;
        c.expect_error("close someone else's port", &intruder, &id, 401)
            .await?;
        c.connect("the third party", lease.addr).await?;
        c.expect_incoming(&owner).await?;
        Ok(())
    })
}

fn close_unknown_port_404(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let owner = c.user("owner");
        let lease = c.register(&owner, None, false).await?;
        c.close_lease(&lease).await?;
        // The port was just released: it is certainly not leased now.
        let id = c.send_close(&owner, &lease.host, lease.addr.port()).await?;
        c.expect_error("close a port that is not leased", &owner, &id, 404)
            .await?;
        Ok(())
    })
}

fn close_wrong_ip_405(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let owner = c.user("owner");
        let lease = c.register(&owner, None, false).await?;
        // TEST-NET-1 (RFC 5737): never a service's address.
        let q = query().with_child(pass_el("close")).with_child(entity(
            "proxy",
            "192.0.2.1",
            lease.addr.port(),
        ));
        let iq = c.iq("set", &owner, Some(q));
        let id = c.send_iq(iq).await?;
        c.expect_error(
            "close with a <proxy/> IP that is not the service's",
            &owner,
            &id,
            405,
        )
        .await?;
        Ok(())
    })
}

fn close_other_resource(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let owner = c.user("owner");
        let lease = c.register(&owner, None, false).await?;
        let other = format!(
            "{}/other-resource",
            owner.split('/').next().unwrap_or(&owner)
        );
        let id = c.send_close(&other, &lease.host, lease.addr.port()).await?;
        c.expect_result(
            "close from another resource of the same account",
            &other,
            &id,
        )
        .await?;
        c.expect_refused("connect to the closed port", lease.addr)
            .await
    })
}
