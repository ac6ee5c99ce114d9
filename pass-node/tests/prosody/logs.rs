//! Log files of child processes, for failure reports.

use std::io::Read as _;
use std::path::Path;

/// The last `n` lines of the file at `path` (empty if unreadable).
pub fn tail_file(path: &Path, n: usize) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
