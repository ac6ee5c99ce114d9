//! DESIGN decisions 51 and 140, at the accept loop: with no descriptor left, a
//! caller waiting on a lease port is refused on the spare descriptor, and an owner
//! waiting on a proxy port is admitted on it.
//!
//! Its own test binary: it lowers this process's descriptor limit, which would
//! break any test running beside it.

use pass_node::listen::{AcceptEnv, WhenOut};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The lowest descriptor number not in use (the one the next open gets): with the
/// soft limit set to it, the next descriptor this process opens fails with EMFILE.
fn lowest_free_descriptor() -> u64 {
    use std::os::fd::AsRawFd as _;
    let probe = std::fs::File::open("/dev/null").expect("open /dev/null");
    u64::try_from(probe.as_raw_fd()).expect("a descriptor number")
}

#[tokio::test(flavor = "current_thread")]
async fn an_owner_is_admitted_on_the_spare_and_a_caller_refused() {
    let env = AcceptEnv::new();
    let lease = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let proxy = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let mut caller = TcpStream::connect(lease.local_addr().unwrap())
        .await
        .expect("caller connects");
    let mut owner = TcpStream::connect(proxy.local_addr().unwrap())
        .await
        .expect("owner connects");

    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).expect("getrlimit");
    rlimit::setrlimit(rlimit::Resource::NOFILE, lowest_free_descriptor(), hard)
        .expect("lower the limit");

    // The lease port: every accept fails, the spare refuses the caller, and the
    // loop backs off without returning.
    let on_lease = tokio::time::timeout(
        Duration::from_millis(300),
        env.accept(&lease, 1, WhenOut::Refuse),
    )
    .await;
    // The proxy port: the owner is admitted on the spare.
    let on_proxy = tokio::time::timeout(
        Duration::from_secs(5),
        env.accept(&proxy, 2, WhenOut::Admit),
    )
    .await;

    rlimit::setrlimit(rlimit::Resource::NOFILE, soft, hard).expect("restore the limit");

    assert!(
        on_lease.is_err(),
        "nothing may be accepted on the lease port"
    );
    assert!(env.counters.failed.load(Ordering::Relaxed) > 0);
    assert_eq!(env.counters.refused.load(Ordering::Relaxed), 1);
    let mut buf = [0u8; 8];
    let got = tokio::time::timeout(Duration::from_secs(5), caller.read(&mut buf))
        .await
        .expect("the refused caller hears at once");
    assert!(
        matches!(got, Ok(0) | Err(_)),
        "the refused caller was closed: {got:?}"
    );

    let (mut admitted, _) = on_proxy.expect("the owner was admitted, not refused");
    assert_eq!(env.counters.admitted_on_spare.load(Ordering::Relaxed), 1);
    owner.write_all(b"owner").await.expect("write");
    let mut got = [0u8; 5];
    admitted.read_exact(&mut got).await.expect("read");
    assert_eq!(&got, b"owner", "the admitted connection is the owner's");
}
