//! The schemas in xsd/ checked with a real validator, `xmllint --schema`
//! (libxml2-utils). xmllint validates a `{jabber:iq:pass}query` root only, so each
//! query is written to a file of its own; files are batched into one xmllint run
//! per schema and check.

use pass_core::stanza::{PassEntity, PassError, PassMessage, Query};
use pass_core::xml::{parse_element, Limits};
use quickcheck::{Arbitrary, Gen};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;

const INSTALL_HINT: &str = "install libxml2-utils (apt-get install libxml2-utils)";

fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(rel)
}

/// A scratch folder of this test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("pass-xsd-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    /// Writes `content` to `<name>.xml` and returns the path.
    fn write(&self, name: &str, content: &str) -> PathBuf {
        let p = self.0.join(format!("{name}.xml"));
        std::fs::write(&p, content).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `xmllint --noout --schema SCHEMA FILES...` and says, per file, whether it
/// validates; the messages of the failures are kept for assertions.
fn xmllint(schema: &str, files: &[PathBuf]) -> BTreeMap<PathBuf, Result<(), String>> {
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(repo_path(schema))
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run xmllint ({e}): {INSTALL_HINT}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("failed to compile") && !stderr.contains("WXS schema"),
        "schema {schema} does not compile:\n{stderr}"
    );
    files
        .iter()
        .map(|f| {
            let name = f.display().to_string();
            let verdict = if stderr.contains(&format!("{name} validates")) {
                Ok(())
            } else if stderr.contains(&format!("{name} fails to validate")) {
                let why: Vec<&str> = stderr
                    .lines()
                    .filter(|l| l.starts_with(&format!("{name}:")))
                    .collect();
                Err(why.join("\n"))
            } else {
                panic!("xmllint said nothing about {name}:\n{stderr}");
            };
            (f.clone(), verdict)
        })
        .collect()
}

/// The `<query .../>` of a listing, cut out of its text as published.
fn query_text(listing: &str) -> &str {
    let start = listing.find("<query").expect("listing has a query");
    let rest = &listing[start..];
    let tag_end = rest.find('>').unwrap();
    let end = if rest[..tag_end].ends_with('/') {
        tag_end + 1
    } else {
        rest.find("</query>").unwrap() + "</query>".len()
    };
    &rest[..end]
}

#[test]
fn xmllint_is_installed() {
    let ok = Command::new("xmllint")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(ok, "xmllint not found: {INSTALL_HINT}");
}

#[test]
fn listings_against_both_schemas() {
    let scratch = Scratch::new("listings");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(repo_path("xsd/examples")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".corrected") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        files.push((name.clone(), scratch.write(&name, query_text(&text))));
    }
    files.sort();
    assert_eq!(files.len(), 14);
    let paths: Vec<PathBuf> = files.iter().map(|(_, p)| p.clone()).collect();

    // The published schema: 43253/43523 are not xs:short, <expire/> is not an
    // xs:unsignedLong.
    let verbatim = xmllint("xsd/pass.xsd", &paths);
    let expect_fail: BTreeMap<&str, &[&str]> = [
        ("02-result-from-pass-service", &["xs:short"][..]),
        ("03-request-to-entity", &["xs:short"][..]),
        (
            "05-notification-of-expiration",
            &["xs:unsignedLong", "xs:short"][..],
        ),
        (
            "07-server-notifies-client-of-oneshot-port-closing",
            &["xs:short"][..],
        ),
        ("09-client-request-to-shut-down-port", &["xs:short"][..]),
        ("13-incoming-connection-to-deny", &["xs:short"][..]),
        ("14-deny-connection", &["xs:short"][..]),
    ]
    .into_iter()
    .collect();
    for (name, path) in &files {
        match (expect_fail.get(name.as_str()), &verbatim[path]) {
            (None, Ok(())) => {}
            (Some(types), Err(why)) => {
                for t in *types {
                    assert!(
                        why.contains(t),
                        "{name}: expected a complaint about {t}: {why}"
                    );
                }
            }
            (want, got) => panic!("{name}: expected failure {want:?}, got {got:?}"),
        }
    }
    assert_eq!(verbatim.values().filter(|v| v.is_err()).count(), 7);

    // The errata schema takes them all.
    for (path, verdict) in xmllint("xsd/pass-errata.xsd", &paths) {
        assert_eq!(verdict, Ok(()), "{}", path.display());
    }
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// One of each message kind, as the writer produces them.
fn every_message_kind() -> Vec<PassMessage> {
    vec![
        PassMessage::Register {
            expire: Some(600),
            oneshot: true,
        },
        PassMessage::Register {
            expire: None,
            oneshot: false,
        },
        PassMessage::Registered {
            servers: vec![sa("1.2.3.4:43253"), sa("[2001:db8::1]:65535")],
        },
        PassMessage::IncomingConnection {
            client: sa("4.3.2.1:1234"),
            proxy: sa("1.2.3.4:43523"),
        },
        PassMessage::Ack,
        PassMessage::Deny {
            client: Some(sa("4.3.2.1:1234")),
            proxy: Some(sa("1.2.3.4:43523")),
            error: PassError::Unauthorized.into(),
        },
        PassMessage::ExpireNotice {
            proxy: sa("1.2.3.4:43253"),
        },
        PassMessage::OneshotNotice {
            proxy: sa("[::1]:1"),
        },
        PassMessage::Close {
            proxy: Some(PassEntity::new("1.2.3.4", Some(43253))),
        },
        PassMessage::Close { proxy: None },
        PassMessage::ClientIpQuery,
        PassMessage::ClientIpAnswer {
            client: "4.3.2.1".parse().unwrap(),
        },
    ]
}

fn gen_ip(g: &mut Gen) -> IpAddr {
    if bool::arbitrary(g) {
        IpAddr::V4(Ipv4Addr::from(u32::arbitrary(g)))
    } else {
        IpAddr::V6(Ipv6Addr::from(u128::arbitrary(g)))
    }
}

fn gen_port(g: &mut Gen) -> u16 {
    u16::arbitrary(g).max(1)
}

fn gen_addr(g: &mut Gen) -> SocketAddr {
    SocketAddr::new(gen_ip(g), gen_port(g))
}

fn gen_message(g: &mut Gen) -> PassMessage {
    match u8::arbitrary(g) % 10 {
        0 => PassMessage::Register {
            expire: Option::<u64>::arbitrary(g),
            oneshot: bool::arbitrary(g),
        },
        1 => PassMessage::Registered {
            servers: (0..1 + usize::arbitrary(g) % 3)
                .map(|_| gen_addr(g))
                .collect(),
        },
        2 => PassMessage::IncomingConnection {
            client: gen_addr(g),
            proxy: gen_addr(g),
        },
        3 => PassMessage::Ack,
        4 => PassMessage::Deny {
            client: bool::arbitrary(g).then(|| gen_addr(g)),
            proxy: bool::arbitrary(g).then(|| gen_addr(g)),
            error: g.choose(&PassError::ALL).copied().unwrap().into(),
        },
        5 => PassMessage::ExpireNotice { proxy: gen_addr(g) },
        6 => PassMessage::OneshotNotice { proxy: gen_addr(g) },
        7 => PassMessage::Close {
            proxy: bool::arbitrary(g).then(|| {
                let host = if bool::arbitrary(g) {
                    gen_ip(g).to_string()
                } else {
                    format!("pass-{}.example", u16::arbitrary(g))
                };
                PassEntity::new(&host, bool::arbitrary(g).then(|| gen_port(g)))
            }),
        },
        8 => PassMessage::ClientIpQuery,
        _ => PassMessage::ClientIpAnswer { client: gen_ip(g) },
    }
}

#[test]
fn writer_output_validates_against_the_errata_schema() {
    let scratch = Scratch::new("writer");
    let mut g = Gen::new(64);
    let mut messages = every_message_kind();
    messages.extend((0..200).map(|_| gen_message(&mut g)));
    let paths: Vec<PathBuf> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| scratch.write(&format!("m{i:03}"), &m.to_query().to_xml()))
        .collect();
    let verdicts = xmllint("xsd/pass-errata.xsd", &paths);
    for (i, (m, p)) in messages.iter().zip(&paths).enumerate() {
        assert_eq!(verdicts[p], Ok(()), "message {i} {m:?}: {}", read(p));
        // And the parser takes back what the validator took.
        let e = parse_element(read(p).as_bytes(), &Limits::default()).unwrap();
        assert!(Query::try_from(&e).is_ok(), "{m:?}");
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

/// The query reader is exactly the errata schema: on awkward inputs it accepts what
/// xmllint accepts and refuses what xmllint refuses.
#[test]
fn query_reader_agrees_with_xmllint() {
    let children = [
        "<expire>600</expire>",
        "<expire> 07 </expire>",
        "<expire> </expire>",
        "<expire/>",
        "<expire>+5</expire>",
        "<expire>-0</expire>",
        "<expire>-1</expire>",
        "<expire>18446744073709551615</expire>",
        "<expire>18446744073709551616</expire>",
        "<expire>1 2</expire>",
        "<expire a='1'>1</expire>",
        "<proxy port='1'>1.2.3.4</proxy>",
        "<proxy port='65535'> ::1 </proxy>",
        "<proxy port='0'>1.2.3.4</proxy>",
        "<proxy port='65536'>1.2.3.4</proxy>",
        "<proxy port='+80'>1.2.3.4</proxy>",
        "<proxy port=' 80 '>1.2.3.4</proxy>",
        "<proxy port='080'>1.2.3.4</proxy>",
        "<proxy port=''>1.2.3.4</proxy>",
        "<proxy>a b</proxy>",
        "<proxy>fe80::1%eth0</proxy>",
        "<proxy/>",
        "<proxy host='x'>h</proxy>",
        "<client>h&#233;te</client>",
        "<server>x<close/></server>",
        "<close/>",
        "<close> </close>",
        "<close>x</close>",
        "<close a='1'/>",
        "<oneshot><close/></oneshot>",
        "<bogus/>",
        "<expire xmlns='urn:other'>1</expire>",
        "<close/><close/><expire>1</expire><expire/>",
    ];
    let scratch = Scratch::new("agree");
    let mut cases = Vec::new();
    for (i, c) in children.iter().enumerate() {
        let xml = format!("<query xmlns='jabber:iq:pass'>{c}</query>");
        cases.push((xml.clone(), scratch.write(&format!("c{i:02}"), &xml)));
    }
    for (i, xml) in [
        "<query xmlns='jabber:iq:pass' a='1'/>",
        "<query xmlns='jabber:iq:pass'>text</query>",
    ]
    .iter()
    .enumerate()
    {
        cases.push((xml.to_string(), scratch.write(&format!("q{i}"), xml)));
    }
    let paths: Vec<PathBuf> = cases.iter().map(|(_, p)| p.clone()).collect();
    let verdicts = xmllint("xsd/pass-errata.xsd", &paths);
    for (xml, p) in &cases {
        let e = parse_element(xml.as_bytes(), &Limits::default()).unwrap();
        let ours = Query::try_from(&e);
        assert_eq!(
            ours.is_ok(),
            verdicts[p].is_ok(),
            "{xml}: reader says {ours:?}, xmllint says {:?}",
            verdicts[p]
        );
    }
}
