//! Writes the hand-made `lease_machine` scenarios (`pass_core::sim::seeds`) into
//! `fuzz/corpus/lease_machine/` as `seed-<name>`:
//! `cargo run --manifest-path fuzz/Cargo.toml --example lease_seeds`.

use pass_core::sim::seeds;
use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus/lease_machine");
    std::fs::create_dir_all(&dir)?;
    for (name, script) in seeds() {
        let path = dir.join(format!("seed-{name}"));
        std::fs::write(&path, script.encode())?;
        println!("{}", path.display());
    }
    Ok(())
}
