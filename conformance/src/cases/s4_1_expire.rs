//! §4.1 expire: listings 5 and 6, the port closed after expiry.

use super::{case, QUIET};
use crate::catalogue::Case;
use crate::ctx::{iq_type, CaseFut, Ctx, Lease, Stop};
use std::time::Duration;

/// The §4.1 cases.
pub fn cases() -> Vec<Case> {
    vec![
        case!("pass/4.1/expire-notice", "4.1", Some(5), Must,
            "When <expire/> seconds have passed the service MUST send the owner <expire/><close/><proxy/>", expire_notice),
        case!("pass/4.1/expire-ack", "4.1", Some(6), Must,
            "The owner's acknowledgement (listing 6) is taken without an error in return", expire_ack),
        case!("pass/4.1/port-closed-after-expire", "4.1", None, Must,
            "After expiry the port is shut down: a connection is refused", port_closed_after_expire),
        case!("pass/4.1/not-before-expiry", "4.1", None, Must,
            "Before <expire/> seconds have passed there is no notice and the port still accepts", not_before_expiry),
    ]
}

/// Registers with a 1 s expiry and waits for the notice.
async fn expired(c: &mut Ctx) -> Result<(Lease, pass_core::xml::Element), Stop> {
    let owner = c.user("owner");
    let lease = c.register(&owner, Some(1), false).await?;
    let wait = Duration::from_secs(1) + c.info().answer_wait;
    let notice = c.expect_notice("expire", &lease, wait).await?;
    Ok((lease, notice))
}

fn expire_notice(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        expired(c).await?;
        Ok(())
    })
}

fn expire_ack(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let (lease, notice) = expired(c).await?;
        c.ack(&lease.owner, &notice).await?;
        c.expect_none(
            "acknowledge the notice (listing 6)",
            &lease.owner,
            QUIET,
            "no answer to an IQ result (RFC 6120 §8.2.3)",
            &|e| iq_type(e) == "error",
        )
        .await
    })
}

fn port_closed_after_expire(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let (lease, notice) = expired(c).await?;
        c.ack(&lease.owner, &notice).await?;
        c.expect_refused("connect to the expired port", lease.addr)
            .await
    })
}

fn not_before_expiry(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let owner = c.user("owner");
        let lease = c.register(&owner, Some(3), false).await?;
        c.expect_none(
            "wait 1 s of a 3 s lease",
            &owner,
            Duration::from_secs(1),
            "no expire notice before the expiry",
            &|e| iq_type(e) == "set",
        )
        .await?;
        c.connect("the third party", lease.addr).await?;
        c.expect_incoming(&owner).await?;
        Ok(())
    })
}
