//! The replay file: a found mismatch as a line-based text a person reads and
//! `explore --replay FILE` reruns (DESIGN decision 132).
//!
//! ```text
//! # pass-conformance explore replay, format 1
//! # target: inproc (fault stale-expire-timer)
//! # seed: 7 (run 0); found at step 41, shrunk to 4 operations
//! # mismatch: an expire notice for port 40012, which has no live lease ...
//! register account=0 resource=0 expire=2 oneshot=no
//! close lease=0 by=owner
//! wait ms=2500
//! # transcript (ms on the target's clock, since the run started):
//! #|      0 sent      <iq type='set' .../>
//! ```
//!
//! Every line not starting with `#` is one operation ([`Op`]'s one-line form);
//! `#` lines are comments: the header, and the transcript of the shrunk run
//! (`#|` lines). Only the operations are read back.

use super::op::{Op, ParseOpError};
use crate::transcript::{Event, Side, Transcript};
use std::fmt::Write;

/// The first line of every replay file.
pub const MAGIC: &str = "# pass-conformance explore replay, format 1";

/// A found mismatch, ready to be written.
#[derive(Clone, Debug)]
pub struct Replay {
    /// The target's description.
    pub target: String,
    /// The seed and the run it was found in.
    pub seed: u64,
    /// The run (seed + run is the run's own seed).
    pub run: usize,
    /// The step of the run the mismatch first showed at.
    pub found_at: usize,
    /// What did not match (from the shrunk run).
    pub mismatch: String,
    /// The shrunk operations.
    pub ops: Vec<Op>,
    /// The shrunk run's transcript.
    pub transcript: Transcript,
}

impl Replay {
    /// The file's text.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{MAGIC}");
        let _ = writeln!(s, "# target: {}", self.target);
        let _ = writeln!(
            s,
            "# seed: {} (run {}); found at step {}, shrunk to {} operations",
            self.seed,
            self.run,
            self.found_at,
            self.ops.len()
        );
        for (i, line) in self.mismatch.lines().enumerate() {
            let _ = writeln!(s, "# {}{line}", if i == 0 { "mismatch: " } else { "  " });
        }
        for op in &self.ops {
            let _ = writeln!(s, "{op}");
        }
        let _ = writeln!(
            s,
            "# transcript (ms on the target's clock, since the run started):"
        );
        s.push_str(&render_transcript(&self.transcript));
        s
    }
}

/// The operations of a replay file.
pub fn parse(text: &str) -> Result<Vec<Op>, ParseOpError> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::parse)
        .collect()
}

fn side(s: Side) -> &'static str {
    match s {
        Side::Runner => "runner",
        Side::Implementation => "implementation",
    }
}

/// One `#|` line per transcript entry.
pub fn render_transcript(t: &Transcript) -> String {
    let mut s = String::new();
    for e in &t.entries {
        let what = match &e.event {
            Event::StanzaSent { xml } => format!("sent      {xml}"),
            Event::StanzaReceived { xml } => format!("received  {xml}"),
            Event::Connect {
                conn,
                local,
                remote,
            } => format!("connect   #{conn} {local} -> {remote}"),
            Event::ConnectFailed { remote, error } => format!("connect   {remote}: {error}"),
            Event::Accept {
                conn,
                local,
                remote,
            } => format!("accept    #{conn} {remote} -> {local}"),
            Event::Bytes { conn, from, len } => {
                format!("bytes     #{conn} {len} from the {}", side(*from))
            }
            Event::Fin { conn, by } => format!("fin       #{conn} by the {}", side(*by)),
            Event::Reset { conn, by } => format!("reset     #{conn} by the {}", side(*by)),
            Event::Close { conn, by } => format!("close     #{conn} by the {}", side(*by)),
            Event::Note { text } => format!("--        {text}"),
        };
        let _ = writeln!(s, "#| {:>6} {what}", e.at_ms);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::op::Closer;

    #[test]
    fn a_rendered_replay_parses_back_to_its_operations() {
        let r = Replay {
            target: "inproc".into(),
            seed: 3,
            run: 1,
            found_at: 9,
            mismatch: "two\nlines".into(),
            ops: vec![
                Op::Wait { ms: 100 },
                Op::Close {
                    lease: 0,
                    by: Closer::Owner,
                },
            ],
            transcript: Transcript::default(),
        };
        let text = r.render();
        assert!(text.starts_with(MAGIC));
        assert!(text.contains("# mismatch: two\n#   lines\n"));
        assert_eq!(parse(&text), Ok(r.ops.clone()));
        assert!(parse("bogus line").is_err());
    }
}
