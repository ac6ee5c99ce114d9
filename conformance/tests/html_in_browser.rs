//! The HTML report in a real browser (DESIGN decision 48): the report of a faulty
//! in-process run, opened in headless Chromium, shows every case with its verdict,
//! and renders to a screenshot kept in the test's temp dir.
//!
//! Needs `chromium` (Debian package; `bash scripts/setup.sh` installs it).

use pass_conformance::faults::KnownFault;
use pass_conformance::runner::{run_suite, RunOptions, Status, SuiteReport};
use pass_conformance::{catalogue, report};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The fault whose report the browser renders: a few MUST failures and a warning.
const FAULT: &str = "no-oneshot-notice";

fn faulty_report() -> SuiteReport {
    let fault = KnownFault::from_name(FAULT).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run_suite(
        fault.inproc_host().unwrap(),
        &format!("inproc (fault {FAULT})"),
        &catalogue(),
        &RunOptions::default(),
    ))
    .0
}

fn chromium() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("chromium"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "chromium is not installed: this test renders the HTML report in headless \
             Chromium. Install it with `bash scripts/setup.sh` (Debian package `chromium`)."
        )
    })
}

/// Runs headless Chromium on `page` with `args`, within a minute; its own profile
/// directory, so that runs in parallel do not share one.
fn run_chromium(bin: &Path, profile: &Path, args: &[String], page: &Path) -> Output {
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    // Read the output on threads so a full pipe cannot stall the browser.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut v).map(|_| v)
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut v).map(|_| v)
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: out.join().unwrap().unwrap(),
        stderr: err.join().unwrap().unwrap(),
    }
}

/// The start tag of the element carrying `attr`, e.g. `<tr id=... data-case="x" ...>`.
fn start_tag<'a>(dom: &'a str, attr: &str) -> Option<&'a str> {
    let at = dom.find(attr)?;
    let open = dom[..at].rfind('<')?;
    let close = at + dom[at..].find('>')?;
    Some(&dom[open..=close])
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    if png.len() < 24 || &png[..8] != b"\x89PNG\r\n\x1a\n" || &png[12..16] != b"IHDR" {
        return None;
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Some((be(&png[16..20]), be(&png[20..24])))
}

#[test]
fn a_faulty_runs_report_shows_every_case_and_verdict_in_chromium() {
    let bin = chromium();
    let r = faulty_report();
    assert!(
        r.count(Status::Fail) >= 2,
        "the fault must fail a few cases"
    );
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("html_in_browser");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("report.html");
    std::fs::write(&page, report::html(&r)).unwrap();

    let dump = run_chromium(
        &bin,
        &dir.join("profile-dom"),
        &["--dump-dom".to_string()],
        &page,
    );
    assert!(
        dump.status.success(),
        "chromium --dump-dom failed: {}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let dom = String::from_utf8(dump.stdout).unwrap();
    assert!(dom.contains("<h1>pass-conformance report</h1>"), "{dom}");
    for o in &r.outcomes {
        let tag = start_tag(&dom, &format!("data-case=\"{}\"", o.id))
            .unwrap_or_else(|| panic!("{} missing from the DOM", o.id));
        assert!(tag.starts_with("<tr "), "{tag}");
        assert!(
            tag.contains(&format!("data-status=\"{}\"", o.status)),
            "{}: want {} in {tag}",
            o.id,
            o.status
        );
    }
    // The verdicts are on the page as text too, and the counts add up.
    for s in [Status::Fail, Status::Warn, Status::Pass] {
        let badges = dom
            .matches(&format!("<span class=\"badge s-{s}\">{s}</span>"))
            .count();
        // One per case row, one per row of the not-passed list, one in the summary's head.
        let listed = if s == Status::Pass { 0 } else { r.count(s) };
        assert_eq!(badges, r.count(s) + listed + 1, "{s} badges");
    }
    let all = start_tag(&dom, "data-level=\"all\"").unwrap();
    let row = &dom[dom.find(all).unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains(&format!(
            "<td data-status=\"FAIL\">{}</td>",
            r.count(Status::Fail)
        )),
        "{row}"
    );
    // Every transcript is there, folded.
    let with_transcript = r
        .outcomes
        .iter()
        .filter(|o| !o.transcript.is_empty())
        .count();
    assert_eq!(with_transcript, r.outcomes.len());
    assert_eq!(dom.matches("<details>").count(), with_transcript);
    assert!(!dom.contains("<details open"), "transcripts start folded");

    let png = dir.join("failing.png");
    let shot = run_chromium(
        &bin,
        &dir.join("profile-shot"),
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,2000".to_string(),
        ],
        &page,
    );
    assert!(
        shot.status.success(),
        "chromium --screenshot failed: {}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let bytes =
        std::fs::read(&png).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", png.display()));
    assert_eq!(png_size(&bytes), Some((1280, 2000)));
    // A blank page of that size compresses to a few KB; text, tables and colour do not.
    assert!(
        bytes.len() > 50_000,
        "screenshot {} is only {} bytes",
        png.display(),
        bytes.len()
    );
    eprintln!("screenshot kept at {}", png.display());
}
