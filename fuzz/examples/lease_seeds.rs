//! Writes the hand-made `lease_machine` scenarios into `fuzz/corpus/lease_machine/`
//! as `seed-<name>`: `cargo run --manifest-path fuzz/Cargo.toml --example lease_seeds`.

use pass_fuzz::lease_machine::seeds;
use pass_fuzz::script_encoding::encode;
use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus/lease_machine");
    std::fs::create_dir_all(&dir)?;
    for (name, script) in seeds() {
        let path = dir.join(format!("seed-{name}"));
        std::fs::write(&path, encode(&script))?;
        println!("{}", path.display());
    }
    Ok(())
}
