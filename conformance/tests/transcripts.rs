//! Every case records a transcript (DESIGN decision 44): the stanzas and TCP events
//! in order, with times on the target's clock, virtual on inproc and so exact.

use pass_conformance::catalogue;
use pass_conformance::inproc::reference_host;
use pass_conformance::runner::{run_suite, Outcome, RunOptions, Status};
use pass_conformance::transcript::{Event, Side};

fn run_one(id: &str) -> Outcome {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let opts = RunOptions {
        only: vec![glob::Pattern::new(id).unwrap()],
        ..RunOptions::default()
    };
    let host = reference_host().unwrap();
    let report = rt
        .block_on(run_suite(Box::new(host), "inproc", &catalogue(), &opts))
        .0;
    assert_eq!(report.outcomes.len(), 1);
    let o = report.outcomes.into_iter().next().unwrap();
    assert_eq!(o.status, Status::Pass, "{id}: {:?}", o.failure_text());
    o
}

/// One short line per entry: time, kind and what identifies it.
fn lines(o: &Outcome) -> Vec<String> {
    o.transcript
        .entries
        .iter()
        .map(|e| {
            let what = match &e.event {
                Event::StanzaSent { xml } => format!("sent {}", head(xml)),
                Event::StanzaReceived { xml } => format!("received {}", head(xml)),
                Event::Connect {
                    conn,
                    local,
                    remote,
                } => format!("connect {conn} {local} -> {remote}"),
                Event::ConnectFailed { remote, error } => {
                    format!("connect failed {remote}: {error}")
                }
                Event::Bytes { conn, from, len } => format!("bytes {conn} {from:?} {len}"),
                Event::Fin { conn, by } => format!("fin {conn} {by:?}"),
                Event::Reset { conn, by } => format!("reset {conn} {by:?}"),
                Event::Close { conn, by } => format!("close {conn} {by:?}"),
                Event::Note { text } => format!("note {text}"),
                other => format!("{other:?}"),
            };
            format!("{} {what}", e.at_ms)
        })
        .collect()
}

/// The stanza's name, type and id, and the first PASS child, e.g. `iq set c3-1 server`.
fn head(xml: &str) -> String {
    let attr = |name: &str| {
        let k = format!(" {name}='");
        xml.find(&k)
            .map(|i| &xml[i + k.len()..])
            .and_then(|r| r.split('\'').next())
            .unwrap_or("")
            .to_string()
    };
    let child = xml
        .split("<query xmlns='jabber:iq:pass'>")
        .nth(1)
        .and_then(|r| r.strip_prefix('<'))
        .map(|r| r.split([' ', '/', '>']).next().unwrap_or(""))
        .unwrap_or("");
    format!("{} {} {child}", attr("type"), attr("id"))
        .trim_end()
        .to_string()
}

#[test]
fn a_relay_case_records_stanzas_connects_bytes_and_who_closed_first() {
    let o = run_one("pass/3/disconnect-third-party");
    // The case is the 10th of the catalogue: its ids are c10-N.
    let expected = [
        "0 sent set c10-1",
        "0 received result c10-1 server",
        "0 connect 1 203.0.113.7:30001 -> 127.0.0.1:40035",
        "0 received set pass-1 client",
        "0 sent result pass-1",
        "0 connect 2 203.0.113.7:30002 -> 127.0.0.1:40062",
        "0 bytes 1 Runner 40",
        "0 bytes 2 Implementation 40",
        // The third party hangs up first; the service then closes the owner's side.
        "0 close 1 Runner",
        "0 fin 2 Implementation",
        // Cleanup: the rest closed, the lease given back.
        "0 close 2 Runner",
        "0 sent set c10-2 close",
        "0 received result c10-2",
    ];
    assert_eq!(lines(&o), expected, "{:#?}", o.transcript);
    assert_eq!(o.transcript.first_to_close(1), Some(Side::Runner));
    assert_eq!(o.transcript.first_to_close(2), Some(Side::Implementation));
    // Stanzas are recorded whole.
    assert!(
        matches!(&o.transcript.entries[1].event, Event::StanzaReceived { xml }
            if xml == "<iq type='result' id='c10-1' from='pass.localhost' to='owner-10@localhost/conformance'><query xmlns='jabber:iq:pass'><server port='40035'>127.0.0.1</server></query></iq>"),
        "{:?}",
        o.transcript.entries[1]
    );
}

#[test]
fn times_are_exact_on_the_virtual_clock() {
    // The reference config's owner-answer timeout is 2 s: the service drops the
    // unanswered caller at exactly 2000 ms.
    let o = run_one("pass/3/no-answer-drops-client");
    let l = lines(&o);
    assert!(
        l.contains(&"2000 fin 1 Implementation".to_string()),
        "{l:#?}"
    );
    assert_eq!(
        o.transcript.first_to_close(1),
        Some(Side::Implementation),
        "{l:#?}"
    );
    // A 3 s lease: the expire notice comes at exactly 3000 ms, after the case
    // watched (in vain) for an early one.
    let o = run_one("pass/4.1/expire-notice");
    let l = lines(&o);
    let notice = l
        .iter()
        .position(|x| x.starts_with("3000 received set pass-1 expire"))
        .unwrap_or_else(|| panic!("{l:#?}"));
    assert!(
        l[..notice].iter().any(|x| x.contains("note no stanza to")),
        "{l:#?}"
    );
    let times: Vec<u64> = o.transcript.entries.iter().map(|e| e.at_ms).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

#[test]
fn a_refused_connect_is_recorded() {
    let o = run_one("pass/4.3/close-port-closed");
    let l = lines(&o);
    assert!(
        l.iter()
            .any(|x| x.contains("connect failed 127.0.0.1:40035: connection refused")),
        "{l:#?}"
    );
}

#[test]
fn every_case_records_a_transcript() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = rt
        .block_on(run_suite(
            Box::new(reference_host().unwrap()),
            "inproc",
            &catalogue(),
            &RunOptions::default(),
        ))
        .0;
    for o in &report.outcomes {
        assert!(
            o.transcript
                .entries
                .iter()
                .any(|e| matches!(e.event, Event::StanzaSent { .. })),
            "{}: {:#?}",
            o.id,
            o.transcript
        );
    }
}
