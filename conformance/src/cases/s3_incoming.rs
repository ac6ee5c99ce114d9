//! §3 Incoming Connections: listings 3 and 4, the relay, disconnects, dropped clients.

use super::{case, greeting, pass_bytes};
use crate::catalogue::Case;
use crate::ctx::{CaseFut, Ctx};
use pass_core::ns;
use pass_core::xml::Element;

/// The §3 cases.
pub fn cases() -> Vec<Case> {
    vec![
        case!("pass/3/incoming-request", "3", Some(3), Must,
            &["When an incoming connection is attempted to that IP and port, the PASS service MUST send an IQ request to the entity on whose behalf it is listening:"],
            "A connection to a leased port makes the service send the owner an IQ set with <client/> and <proxy/>", incoming_request),
        case!("pass/3/client-is-remote-end", "3", None, Must,
            &["The client XML element provides the information about the remote end of the incoming socket."],
            "<client/> gives the IP and port of the remote end of the incoming socket", client_is_remote_end),
        case!("pass/3/accept-relay", "3", Some(4), Must,
            &["The entity SHOULD now immediately connect to the given proxy IP and port, and upon connection all data written to that socket will be copied to the client connection, and vice-versa."],
            "After the owner's result (listing 4) and its connection to <proxy/>, bytes flow both ways", accept_relay),
        case!("pass/3/relay-4mib-byte-exact", "3", None, Must,
            &["upon connection all data written to that socket will be copied to the client connection, and vice-versa."],
            "4 MiB of random bytes each way arrive unchanged through the relay", relay_4mib),
        case!("pass/3/disconnect-third-party", "3", None, Must,
            &["Any disconnect on either side MUST cause a disconnect on the other (initiated by the service)."],
            "The third party hanging up makes the service disconnect the owner", disconnect_third_party),
        case!("pass/3/disconnect-owner", "3", None, Must,
            &["Any disconnect on either side MUST cause a disconnect on the other (initiated by the service)."],
            "The owner hanging up makes the service disconnect the third party", disconnect_owner),
        case!("pass/3/owner-error-drops-client", "3", None, Must,
            &["If the IQ set to the entity fails or returns an error, the client socket MUST be dropped as well."],
            "An error answer to the incoming-connection IQ makes the service drop the client socket", owner_error_drops_client),
        case!("pass/3/no-answer-drops-client", "3", None, Must,
            &["If the IQ set to the entity fails or returns an error, the client socket MUST be dropped as well."],
            "No answer to the incoming-connection IQ drops the client socket at the service's answer timeout, not before it less the timing tolerance (DESIGN decision 7)", no_answer_drops_client),
        case!("pass/3/proxy-port-single-use", "3", None, Should,
            &[],
            "Once the owner is bridged, a second connection to the <proxy/> port is refused or dropped (spec silent; DESIGN decisions 1 and 10)", proxy_port_single_use),
        case!("pass/3/half-close", "3", None, Should,
            &[],
            "A half-close travels through the relay and the other direction keeps working (spec silent; TCP relay semantics)", half_close),
        case!("pass/3/first-eof-ends-session", "3", None, Should,
            &["will start listening on the port again after one of the two sides disconnects.",
              "Any disconnect on either side MUST cause a disconnect on the other (initiated by the service)."],
            "The first EOF of either side ends the session: a oneshot lease ends at once while the other direction still relays (§2; docs/DESIGN.md decision 17)", first_eof_ends_session),
    ]
}

fn incoming_request(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let owner = c.user("owner");
        c.incoming(&owner, Some(600), false).await?;
        Ok(())
    })
}

fn client_is_remote_end(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let owner = c.user("owner");
        let (_, _, local, inc) = c.incoming(&owner, None, false).await?;
        if inc.client != local {
            return Err(c.fail_el(
                "compare <client/> with the third party's address",
                format!("<client port='{}'>{}</client>", local.port(), local.ip()),
                &inc.stanza,
            ));
        }
        Ok(())
    })
}

fn accept_relay(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let owner = c.user("owner");
        let (_, client, own) = c.relay(&owner, None, false).await?;
        pass_bytes(
            c,
            "relay third party -> owner",
            client,
            own,
            &greeting("the third party"),
        )
        .await?;
        pass_bytes(
            c,
            "relay owner -> third party",
            own,
            client,
            &greeting("the owner"),
        )
        .await?;
        Ok(())
    })
}

fn relay_4mib(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        const SIZE: usize = 4 << 20;
        let owner = c.user("owner");
        let (_, client, own) = c.relay(&owner, None, false).await?;
        let up = random_bytes(SIZE);
        let down = random_bytes(SIZE);
        // Both directions in flight at once: a relay must not serialise them.
        c.write(client, &up).await?;
        c.write(own, &down).await?;
        c.expect_bytes("relay 4 MiB third party -> owner", own, &up)
            .await?;
        c.expect_bytes("relay 4 MiB owner -> third party", client, &down)
            .await?;
        Ok(())
    })
}

fn disconnect_third_party(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let owner = c.user("owner");
        let (_, client, own) = c.relay(&owner, None, false).await?;
        pass_bytes(
            c,
            "relay third party -> owner",
            client,
            own,
            &greeting("the third party"),
        )
        .await?;
        c.close(client).await;
        let wait = c.info().io_wait;
        c.expect_eof(
            "the third party hung up: the owner's side must close",
            own,
            wait,
        )
        .await
    })
}

fn disconnect_owner(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let owner = c.user("owner");
        let (_, client, own) = c.relay(&owner, None, false).await?;
        pass_bytes(
            c,
            "relay owner -> third party",
            own,
            client,
            &greeting("the owner"),
        )
        .await?;
        c.close(own).await;
        let wait = c.info().io_wait;
        c.expect_eof(
            "the owner hung up: the third party's side must close",
            client,
            wait,
        )
        .await
    })
}

fn owner_error_drops_client(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let owner = c.user("owner");
        let (_, client, _, inc) = c.incoming(&owner, None, false).await?;
        let err = Element::new("error", ns::COMPONENT)
            .with_attr("code", "503")
            .with_attr("type", "cancel")
            .with_child(Element::new("service-unavailable", ns::XMPP_STANZAS));
        let iq = c.answer_iq("error", &owner, &inc.id, None).with_child(err);
        c.send(&iq).await?;
        let wait = c.info().io_wait;
        c.expect_eof(
            "the owner answered an error: the client socket must be dropped",
            client,
            wait,
        )
        .await
    })
}

fn no_answer_drops_client(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let owner = c.user("owner");
        let (_, client, _, _) = c.incoming(&owner, None, false).await?;
        let timeout = c.info().impl_answer_timeout;
        let tol = c.tolerance();
        // Not before the service's answer timeout, less the tolerance (DESIGN decision 41).
        let patient = timeout.saturating_sub(tol);
        if !patient.is_zero() {
            c.expect_open(
                &format!(
                    "the owner has not answered yet: the client must stay connected for the \
                     service's answer timeout ({} s) − tolerance ({} s)",
                    timeout.as_secs_f32(),
                    tol.as_secs_f32()
                ),
                client,
                patient,
            )
            .await?;
        }
        let wait = timeout + c.info().io_wait - patient;
        c.expect_eof(
            "the owner never answers: the client socket must be dropped",
            client,
            wait,
        )
        .await
    })
}

fn half_close(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let owner = c.user("owner");
        let (_, client, own) = c.relay(&owner, None, false).await?;
        let up = greeting("the third party");
        c.write(client, &up).await?;
        c.shutdown_write(client).await?;
        c.expect_bytes("relay before the half-close", own, &up)
            .await?;
        let wait = c.info().io_wait;
        c.expect_eof(
            "the third party half-closed: the owner reads EOF",
            own,
            wait,
        )
        .await?;
        pass_bytes(
            c,
            "owner -> third party after the half-close",
            own,
            client,
            &greeting("the owner"),
        )
        .await
    })
}

fn first_eof_ends_session(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let owner = c.user("owner");
        let (lease, client, own) = c.relay(&owner, None, true).await?;
        // Bytes through first: the relay runs (a FIN before the bridge would end
        // the session before its relay, which is another case).
        pass_bytes(
            c,
            "relay third party -> owner",
            client,
            own,
            &greeting("the third party"),
        )
        .await?;
        c.shutdown_write(client).await?;
        let wait = c.info().io_wait;
        c.expect_eof(
            "the third party half-closed: the owner reads EOF",
            own,
            wait,
        )
        .await?;
        // §2: the port listens again "after one of the two sides disconnects"; for
        // a oneshot lease that is its end, while the owner has not closed yet.
        let wait = c.info().answer_wait;
        let notice = c.expect_notice("oneshot", &lease, wait).await?;
        c.ack(&lease.owner, &notice).await?;
        pass_bytes(
            c,
            "owner -> third party after the session ended",
            own,
            client,
            &greeting("the owner"),
        )
        .await
    })
}

/// `n` random bytes: a splitmix64 stream from a random seed (fast even unoptimised;
/// what matters is that no relay can pass it by luck or by pattern).
fn random_bytes(n: usize) -> Vec<u8> {
    let mut state: u64 = rand::random();
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(n);
    out
}

fn proxy_port_single_use(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let owner = c.user("owner");
        let (_, client, _, inc) = c.incoming(&owner, None, false).await?;
        c.accept(&owner, &inc).await?;
        let (own, _) = c.connect("the owner (proxy port)", inc.proxy).await?;
        pass_bytes(
            c,
            "relay third party -> owner",
            client,
            own,
            &greeting("the third party"),
        )
        .await?;
        if let Some(intruder) = c.try_connect(inc.proxy).await {
            c.write(intruder, b"second connection to the proxy port\n")
                .await?;
            let wait = c.info().io_wait;
            c.expect_eof(
                "a second connection to the proxy port must not be served",
                intruder,
                wait,
            )
            .await?;
        }
        // The first relay is untouched.
        pass_bytes(
            c,
            "relay owner -> third party",
            own,
            client,
            &greeting("the owner"),
        )
        .await
    })
}
