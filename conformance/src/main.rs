//! `pass-conformance`: run the XEP-0003 conformance suite against an implementation.
//!
//! Exit codes (DESIGN decisions 42, 81 and 82): 0 when no case FAILed (with
//! `--strict`: every case PASSed or was an expected failure, XFAIL); 1 otherwise
//! (without `--strict` a FAIL; with it also any WARN or SKIP, an unexpected pass or a
//! stale expectation; with `--baseline` only cases that passed in the baseline count);
//! 2 the run could not happen (the message says why; also a bad `--expect` or
//! `--baseline` file).

use clap::{Args, Parser, Subcommand, ValueEnum};
use pass_conformance::baseline::Baseline;
use pass_conformance::c2s::{self, C2sOptions};
use pass_conformance::component::{self, ComponentOptions};
use pass_conformance::expect::Expectations;
use pass_conformance::faults::{self, KnownFault};
use pass_conformance::inproc::reference_host;
use pass_conformance::runner::{run_suite, RunOptions, SuiteReport};
use pass_conformance::{catalogue, report, selftest};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "pass-conformance",
    version,
    about = "XEP-0003 (jabber:iq:pass) conformance runner",
    after_help = "Outcomes: PASS, FAIL, WARN (a SHOULD/MAY not met or a tolerated deviation), \
SKIP (not checkable here; the reason is given), XFAIL (an expected failure, see --expect).\n\
Exit codes: 0 no case failed (with --strict: every case PASS or XFAIL); \
1 a case failed (with --strict: also any WARN or SKIP); with --strict also an \
unexpected pass or a stale expectation (--expect); with --baseline only cases that \
passed in the baseline count; 2 the run could not happen (also: a bad --expect or \
--baseline file)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the case catalogue (or, with --faults, which cases catch each fault).
    List {
        /// text or markdown.
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
        /// List the deliberate faults (`inproc --fault NAME`) and the cases declared
        /// to catch each, instead of the cases.
        #[arg(long)]
        faults: bool,
    },
    /// Run the suite against the in-process reference service (simulated network, virtual time).
    Inproc {
        #[command(flatten)]
        report: ReportArgs,
        /// Switch a fault on (an engine fault such as `deny-ignored`, or a host fault such as `host-corrupt-relay-byte`).
        #[arg(long)]
        fault: Option<String>,
    },
    /// Play the XMPP server (XEP-0114) for an implementation that connects as a component.
    Component {
        #[command(flatten)]
        target: ComponentArgs,
        #[command(flatten)]
        report: ReportArgs,
    },
    /// Log in to a real XMPP server as ordinary accounts and check the PASS service
    /// there the way its users reach it.
    C2s {
        #[command(flatten)]
        target: C2sArgs,
        #[command(flatten)]
        report: ReportArgs,
    },
    /// Run the suite in process against a PASS engine compiled to a WASI (wasip1) module.
    Wasm {
        /// The module (docs/ENGINE-ABI.md).
        module: PathBuf,
        /// Fuel (about one per wasm instruction) one call into the module may burn.
        #[arg(long, default_value_t = pass_conformance::wasm::GuestLimits::default().fuel_per_event)]
        fuel: u64,
        /// Most linear memory the module may grow to, in MiB.
        #[arg(long, default_value_t = pass_conformance::wasm::GuestLimits::default().memory_mib)]
        memory_mib: u64,
        #[command(flatten)]
        report: ReportArgs,
    },
    /// Spawn the reference pass-node next to this executable and run the suite against it.
    SelfTest {
        #[command(flatten)]
        report: ReportArgs,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ListFormat {
    Text,
    Markdown,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
    Junit,
}

#[derive(Args)]
struct ReportArgs {
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the report here instead of stdout (a table still goes to stdout).
    #[arg(long)]
    output: Option<PathBuf>,
    /// Run only cases whose id matches this glob (repeatable).
    #[arg(long)]
    only: Vec<String>,
    /// Leave out cases whose id matches this glob (repeatable).
    #[arg(long)]
    skip: Vec<String>,
    /// Anything but PASS fails the run: SHOULD/MAY failures and tolerated deviations
    /// become FAIL, and a SKIP (of any level) exits 1 too.
    #[arg(long)]
    strict: bool,
    /// Seconds a timed event may be early or late: the expire notice must come
    /// within expire ± this, an unanswered caller must not be dropped before the
    /// implementation's answer timeout − this.
    #[arg(long, value_name = "SECS", default_value_t = pass_conformance::ctx::DEFAULT_TIMING_TOLERANCE.as_secs_f64())]
    timing_tolerance: f64,
    /// Known failures: a TOML file of [[expect]] tables (case = id or glob, outcome =
    /// FAIL|WARN|SKIP, reason). A case with the expected outcome is XFAIL and never
    /// fails the run; an unexpected pass and an expectation matching no case are
    /// reported (and fail the run with --strict).
    #[arg(long, value_name = "FILE")]
    expect: Option<PathBuf>,
    /// An earlier JSON report (--format json): fail only on cases that passed in it
    /// and do not now.
    #[arg(long, value_name = "REPORT.json")]
    baseline: Option<PathBuf>,
}

#[derive(Args)]
struct ComponentArgs {
    /// Where the runner listens for the implementation's component connection.
    #[arg(long)]
    listen: String,
    /// The component's domain (the JID the implementation serves).
    #[arg(long)]
    domain: String,
    /// File holding the shared component secret.
    #[arg(long)]
    secret_file: PathBuf,
    /// Start the implementation with `sh -c COMMAND` (stopped at the end).
    #[arg(long)]
    spawn: Option<String>,
    #[command(flatten)]
    waits: Waits,
    /// Seconds to wait for the implementation to connect (and to reconnect).
    #[arg(long, default_value_t = 10.0)]
    connect_wait: f64,
}

#[derive(Args)]
struct C2sArgs {
    /// The XMPP server's client port, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    server: String,
    /// The PASS service's JID.
    #[arg(long, value_name = "JID")]
    service: String,
    /// An account to log in as (repeatable, at least two: the owner, then the
    /// intruder). With --register, accounts to create (throwaway names).
    #[arg(long, value_name = "JID", required = true)]
    account: Vec<String>,
    /// One `JID PASSWORD` per line for the --account JIDs (not read with --register).
    #[arg(long, value_name = "FILE", required_unless_present = "register")]
    password_file: Option<PathBuf>,
    /// Create the --account JIDs by in-band registration (XEP-0077) with random
    /// passwords first, and remove them at the end.
    #[arg(long)]
    register: bool,
    /// How the c2s connections are secured.
    #[arg(long, value_enum, default_value_t = C2sTls::Starttls)]
    tls: C2sTls,
    /// Trust only the CA certificates (PEM) in this file (STARTTLS).
    #[arg(long, value_name = "FILE", conflicts_with = "tls_insecure")]
    tls_ca: Option<PathBuf>,
    /// Do not verify the server's certificate (test servers only).
    #[arg(long)]
    tls_insecure: bool,
    /// Run pass/2/no-ports-502, registering at most N leases to use the ports up
    /// (SKIP without it: a deployed service's ports are other users' too).
    #[arg(long, value_name = "N")]
    exhaust: Option<usize>,
    #[command(flatten)]
    waits: Waits,
}

/// How long the network targets wait.
#[derive(Args)]
struct Waits {
    /// Seconds to wait for a stanza that should come.
    #[arg(long, default_value_t = 5.0)]
    answer_wait: f64,
    /// Seconds to wait for TCP connects, bytes and EOFs.
    #[arg(long, default_value_t = 5.0)]
    connect_timeout: f64,
    /// Seconds the implementation waits for an owner's answer before dropping the client.
    #[arg(long, default_value_t = 30.0)]
    impl_answer_timeout: f64,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum C2sTls {
    /// STARTTLS with rustls.
    Starttls,
    /// Plain TCP: only to a server on a loopback address.
    None,
}

/// The c2s options from the flags: accounts and passwords, TLS.
fn c2s_options(t: C2sArgs) -> Result<C2sOptions, String> {
    let mut accounts = Vec::new();
    let known = match (&t.password_file, t.register) {
        (Some(path), false) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read --password-file {}: {e}", path.display()))?;
            c2s::parse_password_file(&text)
                .map_err(|e| format!("--password-file {}: {e}", path.display()))?
        }
        _ => Vec::new(),
    };
    for a in &t.account {
        let jid = c2s::BareJid::new(a).map_err(|e| format!("--account {a:?}: {e}"))?;
        if jid.node().is_none() {
            return Err(format!("--account {a}: an account is user@domain"));
        }
        let password = if t.register {
            (0..24)
                .map(|_| format!("{:x}", rand::random::<u8>() & 0xf))
                .collect()
        } else {
            known
                .iter()
                .find(|k| k.jid == jid)
                .map(|k| k.password.clone())
                .ok_or_else(|| format!("--account {jid}: no line for it in the password file"))?
        };
        accounts.push(c2s::Account { jid, password });
    }
    let tls = match t.tls {
        C2sTls::Starttls => Some(
            pass_client::tls::client_config(t.tls_ca.as_deref(), t.tls_insecure)
                .map_err(|e| e.to_string())?,
        ),
        C2sTls::None => {
            use std::net::ToSocketAddrs as _;
            let addrs = t
                .server
                .to_socket_addrs()
                .map_err(|e| format!("--server {}: {e}", t.server))?;
            if let Some(remote) = addrs.into_iter().find(|a| !a.ip().is_loopback()) {
                return Err(format!(
                    "--tls none sends passwords in clear: refused for {} ({remote} is not a loopback address)",
                    t.server
                ));
            }
            None
        }
    };
    Ok(C2sOptions {
        server: t.server,
        service: t.service,
        accounts,
        register: t.register,
        tls,
        exhaust: t.exhaust,
        answer_wait: secs(t.waits.answer_wait),
        io_wait: secs(t.waits.connect_timeout),
        impl_answer_timeout: secs(t.waits.impl_answer_timeout),
    })
}

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::from_secs(5))
}

fn run_options(r: &ReportArgs) -> Result<RunOptions, String> {
    let globs = |v: &[String]| -> Result<Vec<glob::Pattern>, String> {
        v.iter()
            .map(|g| glob::Pattern::new(g).map_err(|e| format!("bad glob {g:?}: {e}")))
            .collect()
    };
    Ok(RunOptions {
        only: globs(&r.only)?,
        skip: globs(&r.skip)?,
        strict: r.strict,
        timing_tolerance: Duration::try_from_secs_f64(r.timing_tolerance).map_err(|_| {
            format!(
                "--timing-tolerance {}: not a number of seconds",
                r.timing_tolerance
            )
        })?,
        expectations: match &r.expect {
            Some(path) => Expectations::load(path).map_err(|e| e.to_string())?,
            None => Expectations::default(),
        },
        baseline: match &r.baseline {
            Some(path) => Some(Baseline::load(path).map_err(|e| e.to_string())?),
            None => None,
        },
    })
}

fn emit(report: &SuiteReport, args: &ReportArgs) -> Result<(), String> {
    let text = match args.format {
        Format::Table => report::table(report),
        Format::Json => report::json(report),
        Format::Junit => report::junit(report),
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            if !matches!(args.format, Format::Table) {
                print!("{}", report::table(report));
            }
        }
        None => print!("{text}"),
    }
    Ok(())
}

async fn run_inproc(fault: Option<&str>, opts: &RunOptions) -> Result<SuiteReport, String> {
    let cases = catalogue();
    let (report, _) = match fault {
        None => run_suite(Box::new(reference_host()?), "inproc", &cases, opts).await,
        Some(name) => {
            let Some(f) = KnownFault::from_name(name) else {
                let names: Vec<&str> = KnownFault::all().map(|f| f.name()).collect();
                return Err(format!(
                    "unknown fault {name:?}; known: {}",
                    names.join(", ")
                ));
            };
            let target = format!("inproc (fault {name})");
            run_suite(f.inproc_host()?, &target, &cases, opts).await
        }
    };
    Ok(report)
}

fn main() {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pass-conformance: cannot start the async runtime: {e}");
            std::process::exit(2);
        }
    };
    let result: Result<(SuiteReport, ReportArgs), String> = runtime.block_on(async {
        match cli.command {
            Command::List { format, faults } => {
                // Every case, the c2s target's own marked "(c2s target only)".
                let cases = catalogue::for_c2s();
                match (format, faults) {
                    (ListFormat::Text, false) => print!("{}", report::list_text(&cases)),
                    (ListFormat::Markdown, false) => print!("{}", report::list_markdown(&cases)),
                    (ListFormat::Text, true) => print!("{}", faults::list_text()),
                    (ListFormat::Markdown, true) => print!("{}", faults::list_markdown()),
                }
                std::process::exit(0);
            }
            Command::Inproc { report, fault } => {
                let opts = run_options(&report)?;
                Ok((run_inproc(fault.as_deref(), &opts).await?, report))
            }
            Command::Component { target, report } => {
                let opts = run_options(&report)?;
                let secret = std::fs::read_to_string(&target.secret_file).map_err(|e| {
                    format!(
                        "cannot read the secret file {}: {e}",
                        target.secret_file.display()
                    )
                })?;
                let copts = ComponentOptions {
                    listen: target.listen,
                    domain: target.domain,
                    secret: secret.trim().to_string(),
                    spawn: target.spawn,
                    answer_wait: secs(target.waits.answer_wait),
                    io_wait: secs(target.waits.connect_timeout),
                    impl_answer_timeout: secs(target.waits.impl_answer_timeout),
                    connect_wait: secs(target.connect_wait),
                };
                let r = component::run(&copts, &opts)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok((r, report))
            }
            Command::C2s { target, report } => {
                let opts = run_options(&report)?;
                let copts = c2s_options(target)?;
                let r = c2s::run(&copts, &opts).await.map_err(|e| e.to_string())?;
                Ok((r, report))
            }
            Command::Wasm {
                module,
                fuel,
                memory_mib,
                report,
            } => {
                let opts = run_options(&report)?;
                let limits = pass_conformance::wasm::GuestLimits {
                    fuel_per_event: fuel,
                    memory_mib,
                };
                let r = pass_conformance::wasm::run_wasm(&module, &opts, limits)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok((r, report))
            }
            Command::SelfTest { report } => {
                let opts = run_options(&report)?;
                let r = selftest::run(&opts).await.map_err(|e| e.to_string())?;
                Ok((r, report))
            }
        }
    });
    match result {
        Ok((r, args)) => {
            if let Err(e) = emit(&r, &args) {
                eprintln!("pass-conformance: {e}");
                std::process::exit(2);
            }
            std::process::exit(r.exit_code());
        }
        Err(e) => {
            eprintln!("pass-conformance: {e}");
            std::process::exit(2);
        }
    }
}
