//! §4.2 oneshot: listings 7 and 8, the port closed after one connection.

use super::{case, greeting, pass_bytes, QUIET};
use crate::catalogue::Case;
use crate::ctx::{iq_type, CaseFut, Ctx, Lease, Stop};
use pass_core::xml::Element;

/// The §4.2 cases.
pub fn cases() -> Vec<Case> {
    vec![
        case!("pass/4.2/oneshot-notice", "4.2", Some(7), Must,
            &["This tells the server to listen once, and then close the port.", "When this happens the server notifies the client with the following packet:"],
            "After its one connection a oneshot lease closes and the owner gets <oneshot/><close/><proxy/>", oneshot_notice),
        case!("pass/4.2/oneshot-ack", "4.2", Some(8), Must,
            &["Client acknowledges closing of oneshot port"],
            "The owner's acknowledgement (listing 8) is taken without an error in return", oneshot_ack),
        case!("pass/4.2/port-closed-after-oneshot", "4.2", None, Must,
            &["This tells the server to listen once, and then close the port."],
            "After its one connection the oneshot port is shut down: a connection is refused", port_closed_after_oneshot),
        case!("pass/4.2/oneshot-overrides-expire", "4.2", None, Must,
            &["Even if the <expire/> has not been met, the <oneshot/> overrides that and shuts down the listening port."],
            "<oneshot/> closes the port even though <expire/> has not been met", oneshot_overrides_expire),
    ]
}

/// A oneshot lease used once through a relay; gives the lease and the notice.
async fn used_once(c: &mut Ctx, expire: Option<u64>) -> Result<(Lease, Element), Stop> {
    let owner = c.user("owner");
    let (lease, client, own) = c.relay(&owner, expire, true).await?;
    pass_bytes(
        c,
        "relay third party -> owner",
        client,
        own,
        &greeting("the third party"),
    )
    .await?;
    c.close(client).await;
    c.close(own).await;
    let wait = c.info().answer_wait;
    let notice = c.expect_notice("oneshot", &lease, wait).await?;
    Ok((lease, notice))
}

fn oneshot_notice(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        used_once(c, None).await?;
        Ok(())
    })
}

fn oneshot_ack(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let (lease, notice) = used_once(c, None).await?;
        c.ack(&lease.owner, &notice).await?;
        c.expect_none(
            "acknowledge the notice (listing 8)",
            &lease.owner,
            QUIET,
            "no answer to an IQ result (RFC 6120 §8.2.3)",
            &|e| iq_type(e) == "error",
        )
        .await
    })
}

fn port_closed_after_oneshot(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let (lease, notice) = used_once(c, None).await?;
        c.ack(&lease.owner, &notice).await?;
        c.expect_refused("connect to the used oneshot port", lease.addr)
            .await
    })
}

fn oneshot_overrides_expire(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let (lease, notice) = used_once(c, Some(600)).await?;
        c.ack(&lease.owner, &notice).await?;
        c.expect_refused(
            "connect to the used oneshot port (expire 600 not met)",
            lease.addr,
        )
        .await
    })
}
