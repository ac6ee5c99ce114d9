//! What only the c2s target can check (DESIGN decision 122): what a real XMPP server
//! adds between the user and the service — delivery to the full JID that registered,
//! and the bounce of an IQ to an owner who has gone offline. Listed in the catalogue
//! only for that target ([`crate::catalogue::for_c2s`]), never SKIP elsewhere.
//!
//! Two more checks the issue names run on c2s as the catalogue's own cases, with real
//! sessions: `pass/4.3/close-other-resource` (a second logged-in resource of the
//! owner's account closes the lease) and `pass/4.3/close-not-owner-401` (the intruder
//! is a second account: ownership is by account).

use super::{case, QUIET};
use crate::catalogue::Case;
use crate::ctx::{CaseFut, Ctx, Stop};
use std::time::Duration;

/// The c2s-only cases.
pub fn cases() -> Vec<Case> {
    vec![
        case!("pass/3/owner-offline-drops-client", "3", None, Must,
            &["If the IQ set to the entity fails or returns an error, the client socket MUST be dropped as well."],
            "(c2s target only) The owner has gone offline: its server bounces the incoming-connection IQ with an error, and the service drops the client socket", owner_offline_drops_client),
        case!("pass/4.1/notices-to-registering-jid", "4.1", None, Must,
            &["When an incoming connection is attempted to that IP and port, the PASS service MUST send an IQ request to the entity on whose behalf it is listening:",
              "After the timeout period, the PASS service MUST send an <iq/> to the JID to tell it that the port has been closed down."],
            "(c2s target only) The incoming-connection request and the expire notice reach the full JID that registered, with another resource of the account online (not that resource, not the bare JID)", notices_to_registering_jid),
    ]
}

fn owner_offline_drops_client(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let owner = c.user("owner");
        let lease = c.register(&owner, None, false).await?;
        c.go_offline(&owner).await?;
        let (client, _) = c.connect("the third party", lease.addr).await?;
        // The service's IQ goes to a full JID with no session: the server answers it
        // with an error (RFC 6120 §10.5.3.1: service-unavailable). The drop must
        // follow that error, not the service's own answer timeout (less the timing
        // tolerance), which would drop an unanswered caller anyway.
        let io = c.info().io_wait;
        let patience = c.info().impl_answer_timeout.saturating_sub(c.tolerance());
        let wait = if patience.is_zero() {
            io
        } else {
            io.min(patience)
        };
        c.expect_eof(
            &format!(
                "the owner is offline, its server bounced the request: the client socket \
                 must be dropped within {} s (before the service's answer timeout)",
                wait.as_secs_f32()
            ),
            client,
            wait,
        )
        .await
    })
}

fn notices_to_registering_jid(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let owner = c.user("owner");
        let elsewhere = c.user("elsewhere");
        if owner.split('/').next() != elsewhere.split('/').next() {
            return Err(Stop::Skip(
                "needs two resources of one account (the c2s target)".into(),
            ));
        }
        c.go_online(&elsewhere).await?;
        let tol = c.tolerance();
        let secs = super::s4_1_expire::lease_secs(tol);
        let lease = c.register(&owner, Some(secs), false).await?;
        let (client, _) = c.connect("the third party", lease.addr).await?;
        let inc = c.expect_incoming(&owner).await?;
        c.deny(&owner, &inc).await?;
        let wait = c.info().io_wait;
        c.expect_eof("the owner denied: the client is dropped", client, wait)
            .await?;
        c.expect_notice("expire", &lease, Duration::from_secs(secs) + tol * 2)
            .await?;
        c.expect_none(
            "after the request and the notice",
            &elsewhere,
            QUIET,
            "nothing for another resource of the owner's account",
            &|_| true,
        )
        .await
    })
}
