//! §5.2 Denying a Connection: listings 13 and 14 and the 401 row.

use super::{case, reconnect_for_incoming};
use crate::catalogue::Case;
use crate::ctx::{iq_type, pass_query, CaseFut, Ctx};
use pass_core::ns;

/// The §5.2 cases.
pub fn cases() -> Vec<Case> {
    vec![
        case!("pass/5.2/deny-401-drops-client", "5.2", Some(14), Must,
            &["It can return an error to the PASS service specifying the <proxy/> port and hangup on the active <client/> connection and start listening again.", "401", "Unauthorized", "The incoming <client/> does not match the <client/> from the client you want to exchange data with."],
            "The owner's 401 deny (listing 14, corrected to be well-formed) makes the service hang up on the client", deny_drops_client),
        case!("pass/5.2/deny-relisten", "5.2", Some(13), Must,
            &["It can return an error to the PASS service specifying the <proxy/> port and hangup on the active <client/> connection and start listening again."],
            "After a deny the service listens again: the next connection gets a new request (listing 13)", deny_relisten),
        case!("pass/5.2/deny-keeps-oneshot", "5.2", None, Must,
            &["This does not affect the <oneshot/> control."],
            "A deny does not use up a oneshot lease: no oneshot notice, the port still accepts", deny_keeps_oneshot),
    ]
}

fn deny_drops_client(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let owner = c.user("user");
        let (_, client, _, inc) = c.incoming(&owner, None, false).await?;
        c.deny(&owner, &inc).await?;
        // Whoever reaches the proxy port now must not be relayed to the client.
        if let Some(probe) = c.try_connect(inc.proxy).await {
            c.write(probe, b"relayed despite the deny\n").await?;
        }
        let wait = c.info().io_wait;
        c.expect_eof(
            "the owner denied: the client socket must be dropped, nothing relayed",
            client,
            wait,
        )
        .await
    })
}

fn deny_relisten(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let owner = c.user("user");
        let (lease, client, _, inc) = c.incoming(&owner, None, false).await?;
        c.deny(&owner, &inc).await?;
        let wait = c.info().io_wait;
        c.expect_eof(
            "the owner denied: the client socket must be dropped",
            client,
            wait,
        )
        .await?;
        reconnect_for_incoming(c, &owner, lease.addr).await?;
        Ok(())
    })
}

fn deny_keeps_oneshot(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let owner = c.user("user");
        let (lease, client, _, inc) = c.incoming(&owner, None, true).await?;
        c.deny(&owner, &inc).await?;
        let wait = c.info().io_wait;
        c.expect_eof(
            "the owner denied: the client socket must be dropped",
            client,
            wait,
        )
        .await?;
        c.expect_none(
            "after the deny",
            &owner,
            super::QUIET,
            "no oneshot notice: a deny does not use the lease up",
            &|e| {
                iq_type(e) == "set"
                    && pass_query(e).is_some_and(|q| q.get_child("oneshot", ns::PASS).is_some())
            },
        )
        .await?;
        reconnect_for_incoming(c, &owner, lease.addr).await?;
        Ok(())
    })
}
