//! The c2s target against the reference node behind a real ejabberd on loopback
//! (pass-node's ejabberd harness, included by path): every case PASS with --strict.
//!
//! Needs `ejabberd` (scripts/setup.sh); without it the test fails saying so.

#![allow(dead_code)] // the shared harnesses have more than this test uses

#[path = "../../pass-node/tests/prosody/client.rs"]
mod client;
#[path = "../../pass-node/tests/prosody/info.rs"]
mod info;
#[path = "../../pass-node/tests/prosody/logs.rs"]
mod logs;
#[path = "../../pass-node/tests/prosody/ports.rs"]
mod ports;
#[path = "../../pass-node/tests/ejabberd/server.rs"]
mod server;

mod c2s_support;

use c2s_support::{account_args, assert_success, reference_node, run_c2s, Node};
use server::Ejabberd;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_passes_through_ejabberd() {
    let domain = "pass.localhost".to_owned();
    let secret = format!("secret-{}", fastrand::u64(..));
    let ejabberd = Ejabberd::start(std::slice::from_ref(&domain), &[], &secret, &info::USERS);
    let info = ejabberd.info(&domain, &secret);
    let node = Node::start(&reference_node(), &info, &[]).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut args = account_args(dir.path(), &info);
    args.extend(["--exhaust".into(), "20".into(), "--strict".into()]);
    let (out, _) = run_c2s(&info, &args);
    println!("{}", String::from_utf8_lossy(&out.stdout));
    if !out.status.success() {
        eprintln!("{}", ejabberd.logs());
    }
    assert_success(&out);
    drop(node);
}
