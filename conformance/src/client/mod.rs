//! The client target: the runner plays the XMPP server a PASS client logs into
//! ([`server`], opened by [`opening`], with the certificate of [`mod@tls`]), the PASS
//! service, a peer account and the callers ([`ctx`]), and runs the client cases
//! ([`cases`]) against a client it spawns with `sh -c COMMAND` per case (DESIGN
//! decisions 110–113).

pub mod cases;
pub mod ctx;
pub mod faults;
pub mod opening;
pub mod server;
pub mod tls;

pub use cases::client_catalogue;
pub use ctx::{ClientCtx, ClientSetup, Role, EXIT_UNSUPPORTED};
pub use server::{C2sServer, Inbound};

use crate::catalogue::Case;
use crate::component::RunError;
use crate::ctx::{Failure, Stop};
use crate::runner::{assemble, blank_outcome, conclude, RunOptions, Status, SuiteReport};
use std::time::{Duration, Instant};

/// How the client target runs.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// `sh -c` this for every case.
    pub exec: String,
    /// Where the c2s endpoint listens (port 0: a free port).
    pub listen: String,
    /// The XMPP domain of the accounts.
    pub domain: String,
    /// The PASS service's JID (default `pass.DOMAIN`).
    pub service: Option<String>,
    /// The longest one case may take.
    pub case_timeout: Duration,
    /// How long to wait for a stanza or a connection that should come.
    pub answer_wait: Duration,
    /// How long to wait for bytes or an EOF.
    pub io_wait: Duration,
}

impl ClientOptions {
    /// The options for `exec` with every default of the command line.
    pub fn new(exec: &str) -> ClientOptions {
        ClientOptions {
            exec: exec.to_string(),
            listen: "127.0.0.1:0".into(),
            domain: "localhost".into(),
            service: None,
            case_timeout: Duration::from_secs(30),
            answer_wait: Duration::from_secs(5),
            io_wait: Duration::from_secs(5),
        }
    }
}

/// Runs the client cases `opts` selects against the client `copts.exec` starts.
pub async fn run(copts: &ClientOptions, opts: &RunOptions) -> Result<SuiteReport, RunError> {
    run_cases(copts, &client_catalogue(), opts).await
}

/// Runs `cases` (those `opts` selects).
pub async fn run_cases(
    copts: &ClientOptions,
    cases: &[Case<ClientCtx>],
    opts: &RunOptions,
) -> Result<SuiteReport, RunError> {
    let service = copts
        .service
        .clone()
        .unwrap_or_else(|| format!("pass.{}", copts.domain));
    let password: String = (0..16)
        .map(|_| format!("{:x}", rand::random::<u8>() & 0xf))
        .collect();
    let mut server = C2sServer::start(&copts.listen, &copts.domain, &service, &password)
        .await
        .map_err(RunError::Listen)?;
    let setup = ClientSetup {
        exec: copts.exec.clone(),
        service,
        password,
        case_timeout: copts.case_timeout,
        answer_wait: copts.answer_wait,
        io_wait: copts.io_wait,
        login_wait: copts.answer_wait.max(Duration::from_secs(10)),
    };
    let target = format!("client `{}` (c2s {})", copts.exec, server.addr());
    let mut outcomes = Vec::new();
    let mut tail = None;
    for (index, case) in cases.iter().enumerate().filter(|(_, c)| opts.selects(c.id)) {
        let mut out = blank_outcome(case);
        let start = Instant::now();
        let mut ctx = ClientCtx::new(setup.clone(), server, index + 1, case.id);
        let result = match tokio::time::timeout(copts.case_timeout, (case.run)(&mut ctx)).await {
            Ok(r) => r,
            Err(_) => Err(Stop::Fail(Failure {
                step: "run the case".into(),
                sent: None,
                expected: format!(
                    "the case ends within --case-timeout ({} s)",
                    copts.case_timeout.as_secs_f32()
                ),
                got: Some("it did not".into()),
            })),
        };
        let (back, warnings, facts, transcript, log) = ctx.finish().await;
        server = back;
        out.duration_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        conclude(&mut out, result, warnings, opts);
        // Measurements are facts, not deviations: they go in the notes after the
        // verdict, which they do not change.
        out.notes.extend(facts);
        out.transcript = transcript;
        if matches!(out.status, Status::Fail) && !log.trim().is_empty() {
            tail = Some(format!("{}:\n{log}", out.id));
        }
        outcomes.push(out);
    }
    let mut report = assemble(&target, outcomes, cases, opts);
    report.impl_log_tail = tail;
    Ok(report)
}
