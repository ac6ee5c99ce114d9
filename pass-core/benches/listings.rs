//! Parsing and writing the XEP-0003 listings: pass-core's typed parse (bytes →
//! Element → Iq → PassMessage) and write (PassMessage → Iq → Element → string),
//! against the reader alone, a minidom tree parse and a quick-xml event parse of the same bytes.
//!
//! Every listing gets `xmlns='jabber:client'` on its `<iq>` (minidom needs the root's
//! namespace); all four are fed those same bytes. Listing 14 is the corrected copy.
//!
//! Run: `cargo bench -p pass-core --bench listings -- --warm-up-time 1 --measurement-time 2`

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use pass_core::stanza::{Iq, PassMessage};
use pass_core::xml::{parse_element, Element, Limits};
use std::path::PathBuf;

/// (short name, bytes with `xmlns='jabber:client'` on the `<iq>`).
fn listings() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../xsd/examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("xsd/examples exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| {
            let n = p.file_name().map(|n| n.to_string_lossy().into_owned());
            // Listing 14 as published is not well-formed: use the corrected copy.
            n.is_some_and(|n| n.ends_with(".xml") && n != "14-deny-connection.xml")
        })
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).expect("listing is UTF-8");
            let text = text.replacen("<iq ", "<iq xmlns='jabber:client' ", 1);
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy()[..2].to_string())
                .unwrap_or_default();
            (name, text.into_bytes())
        })
        .collect()
}

fn typed_parse(bytes: &[u8], limits: &Limits) -> PassMessage {
    let e = parse_element(bytes, limits).expect("listing parses");
    let iq = Iq::try_from(&e).expect("listing is an IQ");
    PassMessage::from_iq(&iq).expect("listing is a PASS message")
}

fn quick_xml_events(bytes: &[u8]) -> usize {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut events = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => return events,
            Ok(_) => events += 1,
            Err(e) => panic!("quick-xml refused a listing: {e}"),
        }
    }
}

fn bench(c: &mut Criterion) {
    let limits = Limits::default();
    for (name, bytes) in listings() {
        let msg = typed_parse(&bytes, &limits);
        let iq = Iq::try_from(&parse_element(&bytes, &limits).expect("parses")).expect("IQ");
        let text = std::str::from_utf8(&bytes).expect("UTF-8");
        assert!(
            text.parse::<minidom::Element>().is_ok(),
            "minidom reads {name}"
        );

        let mut group = c.benchmark_group(format!("listing-{name}"));
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function("pass-core typed parse", |b| {
            b.iter(|| typed_parse(black_box(&bytes), &limits))
        });
        // The reader alone: the typed layers' share is the difference.
        group.bench_function("pass-core element parse", |b| {
            b.iter(|| parse_element(black_box(&bytes), &limits).expect("parses"))
        });
        group.bench_function("pass-core write", |b| {
            b.iter(|| {
                let out = black_box(&msg).to_iq(&iq.id, iq.from.clone(), iq.to.clone());
                Element::from(&out).to_xml()
            })
        });
        group.bench_function("minidom tree parse", |b| {
            b.iter(|| {
                black_box(text)
                    .parse::<minidom::Element>()
                    .expect("minidom parses")
            })
        });
        group.bench_function("quick-xml event parse", |b| {
            b.iter(|| quick_xml_events(black_box(&bytes)))
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
