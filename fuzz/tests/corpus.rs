//! Replays the committed corpus of every target through its check, on stable and
//! without a sanitizer: `cargo test --manifest-path fuzz/Cargo.toml`.

use std::path::PathBuf;

/// The inputs in `fuzz/corpus/<target>/`.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut inputs: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "{} is empty", dir.display());
    inputs
}

fn replay(target: &str, check: fn(&[u8])) {
    for (path, bytes) in corpus(target) {
        eprintln!("{}", path.display());
        check(&bytes);
    }
}

#[test]
fn xml_reader_corpus() {
    replay("xml_reader", pass_fuzz::xml_reader::check);
}

#[test]
fn stream_framer_corpus() {
    replay("stream_framer", pass_fuzz::stream_framer::check);
}

#[test]
fn stanza_roundtrip_corpus() {
    replay("stanza_roundtrip", pass_fuzz::stanza_roundtrip::check);
}

#[test]
fn service_stanzas_corpus() {
    replay("service_stanzas", pass_fuzz::service_stanzas::check);
}

/// Replays the lease_machine corpus and checks that, together, its scripts reach
/// every outcome the model knows.
#[test]
fn lease_machine_corpus() {
    use pass_core::sim::model::Summary;
    let mut total = Summary::default();
    for (path, bytes) in corpus("lease_machine") {
        eprintln!("{}", path.display());
        total.add(&pass_fuzz::lease_machine::check(&bytes));
    }
    eprintln!("{total:?}");
    for (what, n) in total.outcomes() {
        assert!(n > 0, "no script of the corpus reaches {what}: {total:?}");
    }
}
