//! The reference module at the record level: the example session of
//! docs/ENGINE-ABI.md, and refusals of malformed records.

mod wasm_support;

use pass_conformance::inproc::reference_config;
use wasm_support::compiled_pass_wasi;

const REGISTER: &str = "stanza 1000 <iq xmlns='jabber:component:accept' type='set' id='r1' \
    from='user@localhost/home' to='pass.localhost'><query xmlns='jabber:iq:pass'>\
    <expire>600</expire></query></iq>";

#[test]
fn registration_session() {
    let mut engine = compiled_pass_wasi()
        .instantiate(&reference_config(), None)
        .unwrap();
    let out = engine.call_raw(REGISTER).unwrap();
    println!("> {REGISTER}\n{out}");
    let port: u16 = out
        .strip_prefix("listen ")
        .and_then(|rest| rest.strip_suffix("\nnext none\n"))
        .unwrap_or_else(|| panic!("{out:?}"))
        .parse()
        .unwrap();
    assert!((40000..=40063).contains(&port));
    let out = engine
        .call_raw(&format!("listen 1000 {port} ok\n"))
        .unwrap();
    println!("> listen 1000 {port} ok\n{out}");
    let (send, next) = out.split_once('\n').unwrap();
    assert!(send.starts_with("send <iq "), "{send}");
    for needle in [
        "type='result'",
        "id='r1'",
        "to='user@localhost/home'",
        "from='pass.localhost'",
    ] {
        assert!(send.contains(needle), "{needle} not in {send}");
    }
    assert!(
        send.contains(&format!("<server port='{port}'>127.0.0.1</server>")),
        "{send}"
    );
    // 600 s after t = 1 s.
    assert_eq!(next, "next 601000\n");

    let conn = format!("conn 5000 1 {port} 203.0.113.7:51000");
    let out = engine.call_raw(&conn).unwrap();
    println!("> {conn}\n{out}");
    // First a proxy port (DESIGN decision 1), then the notice once it listens.
    let proxy: u16 = out
        .strip_prefix("listen ")
        .and_then(|rest| rest.strip_suffix("\nnext 601000\n"))
        .unwrap_or_else(|| panic!("{out:?}"))
        .parse()
        .unwrap();
    assert_ne!(proxy, port);
    let listened = format!("listen 5000 {proxy} ok");
    let out = engine.call_raw(&listened).unwrap();
    println!("> {listened}\n{out}");
    assert!(
        out.contains("<client port='51000'>203.0.113.7</client>"),
        "{out}"
    );
    assert!(
        out.contains(&format!("<proxy port='{proxy}'>127.0.0.1</proxy>")),
        "{out}"
    );
    assert!(out.contains("to='user@localhost/home'"), "{out}");
    // The owner has answer_timeout (2 s in the reference config) to answer.
    assert!(out.ends_with("\nnext 7000\n"), "{out}");
}

#[test]
fn malformed_records_are_refused_without_effect() {
    let mut engine = compiled_pass_wasi()
        .instantiate(&reference_config(), None)
        .unwrap();
    for (record, why) in [
        ("timeout", "timeout: wrong number of fields"),
        (
            "conn 5 1 40000 nowhere",
            "conn: peer \"nowhere\" is not ADDRESS:PORT",
        ),
        ("stanza 5 <iq", "stanza: "),
        ("stanza 5 <!DOCTYPE x><iq/>", "stanza: "),
        (
            "config service=x advertised=127.0.0.1",
            "config: already configured",
        ),
        ("fly 5", "unknown event \"fly\""),
    ] {
        let out = engine.call_raw(record).unwrap();
        assert!(out.starts_with(&format!("error {why}")), "{record}: {out}");
        assert!(out.ends_with("\nnext none\n"), "{record}: {out}");
        assert_eq!(out.lines().count(), 2, "{record}: {out}");
    }
    // Still healthy: a registration works afterwards.
    assert!(engine.call_raw(REGISTER).unwrap().starts_with("listen "));
}
