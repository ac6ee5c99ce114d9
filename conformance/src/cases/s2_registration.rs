//! §2 Registration/Setup: listings 1 and 2, the 502 error, re-listening.

use super::{case, greeting, pass_bytes, reconnect_for_incoming};
use crate::catalogue::Case;
use crate::ctx::{pass_el, query, CaseFut, Ctx, Stop};

/// The §2 cases.
pub fn cases() -> Vec<Case> {
    vec![
        case!("pass/2/register-listing-1", "2", Some(1), Must,
            &["The first step is to communicate with a PASS service to set it up.", "Registration request"],
            "The registration request of listing 1 (expire 600, id 'pass1') gets a result", register_listing_1),
        case!("pass/2/register-result", "2", Some(2), Must,
            &["Result from PASS Service", "At this point, the PASS service is now listening on the given IP and port for incoming connections on behalf of the Jabber Entity."],
            "A registration gets a result with <server port='..'>IP</server> naming the leased address", register_result),
        case!("pass/2/port-listening", "2", None, Must,
            &["At this point, the PASS service is now listening on the given IP and port for incoming connections on behalf of the Jabber Entity."],
            "The service listens on the address <server/> gave: a TCP connection there is accepted", port_listening),
        case!("pass/2/relisten-after-relay", "2", None, Must,
            &["If the service is not configured with an expire value, it will not timeout the connection, and will start listening on the port again after one of the two sides disconnects."],
            "A lease without expire or oneshot listens again after a relay ends (DESIGN decision 2)", relisten_after_relay),
        case!("pass/2/no-ports-502", "2", None, Must,
            &["502", "No more ports available. Try again later.", "The PASS service is listening on all of its available ports."],
            "When every port is taken, a registration gets error 502 (service-unavailable, wait)", no_ports_502),
    ]
}

fn register_listing_1(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let owner = c.user("user");
        let mut iq = c.iq(
            "set",
            &owner,
            Some(query().with_child(pass_el("expire").with_text("600"))),
        );
        iq.set_attr("id", "pass1");
        c.send(&iq).await?;
        let a = c
            .expect_result("send listing 1 verbatim", &owner, "pass1")
            .await?;
        c.lease_from_result("read the result (listing 2)", &owner, &a)?;
        Ok(())
    })
}

fn register_result(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let owner = c.user("user");
        let lease = c.register(&owner, None, false).await?;
        if lease.addr.ip().is_unspecified() {
            let got = Some(format!("<server>{}</server>", lease.host));
            return Err(c.fail(
                "read <server/>",
                "an address others can connect to (not 0.0.0.0 or ::)",
                got,
            ));
        }
        Ok(())
    })
}

fn port_listening(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let owner = c.user("user");
        let lease = c.register(&owner, Some(600), false).await?;
        c.connect("the third party", lease.addr).await?;
        Ok(())
    })
}

fn relisten_after_relay(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let owner = c.user("owner");
        let (lease, client, own) = c.relay(&owner, None, false).await?;
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
        c.expect_eof("end the relay (third party hangs up)", own, wait)
            .await?;
        c.close(own).await;
        reconnect_for_incoming(c, &owner, lease.addr).await?;
        Ok(())
    })
}

fn no_ports_502(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let Some(attempts) = c.registration_budget() else {
            return Err(Stop::Skip(
                "exhausting the ports takes as many registrations as the service has ports: \
                 through a deployed service only when told how many it may make (c2s --exhaust N)"
                    .into(),
            ));
        };
        for i in 0..attempts {
            // Distinct accounts, so a per-account limit does not answer first.
            let owner = c.user(&format!("hog{i}"));
            let iq = c.iq("set", &owner, Some(query()));
            let id = c.send_iq(iq).await?;
            let a = c
                .answer("register until the ports run out", &owner, &id)
                .await?;
            if crate::ctx::iq_type(&a) == "error" {
                c.check_error("register with every port taken", &a, 502)?;
                return Ok(());
            }
            c.lease_from_result("register until the ports run out", &owner, &a)?;
        }
        Err(Stop::Skip(format!(
            "no 502 after {attempts} leases: give the implementation a smaller port pool to check this"
        )))
    })
}
