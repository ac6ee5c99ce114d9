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
use pass_conformance::{catalogue, client, report, selftest};
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
        /// List the deliberate faults (`inproc --fault NAME`, or with `--target
        /// client` pass-client's PASS_CLIENT_FAULT values) and the cases declared to
        /// catch each, instead of the cases.
        #[arg(long)]
        faults: bool,
        /// Which catalogue: the service cases or the client cases.
        #[arg(long, value_enum, default_value_t = ListTarget::Service)]
        target: ListTarget,
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
    /// Check a PASS client: play its XMPP server, the PASS service, a peer and the
    /// callers, and run `sh -c COMMAND` per case with the PASS_* environment.
    Client {
        #[command(flatten)]
        target: ClientArgs,
        #[command(flatten)]
        report: ReportArgs,
    },
    /// Run the client cases against the pass-client next to this executable, through
    /// its shim.
    ClientSelfTest {
        #[command(flatten)]
        report: ReportArgs,
    },
    /// Drive an implementation with random operation sequences checked against the
    /// reference model; shrink a mismatch to a replay file (exit 1), or report what
    /// was covered (exit 0).
    Explore {
        #[command(subcommand)]
        target: ExploreTarget,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ListTarget {
    /// The cases run against a PASS service (inproc, component, wasm, self-test).
    Service,
    /// The cases run against a PASS client (client, client-self-test).
    Client,
}

#[derive(Args)]
struct ClientArgs {
    /// The client to check, started with `sh -c COMMAND` for each case (own process
    /// group, killed at the case's end); exit 89 means "unsupported" (SKIP).
    #[arg(long, value_name = "COMMAND")]
    exec: String,
    /// Where the runner's XMPP server (c2s) listens; port 0 picks a free port.
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:0")]
    listen: String,
    /// The XMPP domain of the accounts (PASS_JID is user@DOMAIN).
    #[arg(long, default_value = "localhost")]
    domain: String,
    /// The PASS service's JID (default: pass.DOMAIN).
    #[arg(long, value_name = "JID")]
    service: Option<String>,
    /// Seconds one case may take; the client is killed then.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    case_timeout: f64,
}

#[derive(Subcommand)]
enum ExploreTarget {
    /// The in-process reference service (virtual time; deterministic given --seed).
    Inproc {
        /// Switch a fault on (`pass-conformance list --faults`).
        #[arg(long)]
        fault: Option<String>,
        #[command(flatten)]
        explore: ExploreArgs,
    },
    /// A PASS engine compiled to a WASI module (virtual time; deterministic given --seed).
    Wasm {
        /// The module (docs/ENGINE-ABI.md).
        module: PathBuf,
        /// A fault of a module built with pass-wasi's `faults` feature.
        #[arg(long)]
        fault: Option<String>,
        #[command(flatten)]
        explore: ExploreArgs,
    },
    /// An implementation that connects as an XEP-0114 component (real time).
    Component {
        #[command(flatten)]
        target: ComponentArgs,
        /// Seconds the implementation keeps a proxy port open for the owner.
        #[arg(long, default_value_t = 30.0)]
        proxy_window: f64,
        #[command(flatten)]
        explore: ExploreArgs,
    },
    /// A service behind a real XMPP server, reached as ordinary accounts (real time):
    /// explore's accounts are the first --accounts of the --account JIDs, each
    /// acting as two logged-in resources.
    C2s {
        #[command(flatten)]
        target: C2sArgs,
        /// Seconds the implementation keeps a proxy port open for the owner.
        #[arg(long, default_value_t = 30.0)]
        proxy_window: f64,
        #[command(flatten)]
        explore: ExploreArgs,
    },
}

#[derive(Args)]
struct ExploreArgs {
    /// The seed (default: a fresh random one, printed). Run r draws from seed + r.
    #[arg(long)]
    seed: Option<u64>,
    /// Operations per run.
    #[arg(long, default_value_t = 200)]
    steps: usize,
    /// Runs, each from a fresh target.
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Stop after this many seconds (wall clock); the steps so far count.
    #[arg(long, value_name = "SECS")]
    time_budget: Option<f64>,
    /// The implementation's pool size: with it, a 502 while fewer ports are in use
    /// is a mismatch (without it, 502 is never judged).
    #[arg(long)]
    pool_size: Option<usize>,
    /// Accounts the operations act as (each with two resources).
    #[arg(long, default_value_t = 2)]
    accounts: u8,
    /// Rerun the operations of a replay file instead of exploring.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// Write the replay file of a mismatch into this directory.
    #[arg(long, value_name = "DIR")]
    save_dir: Option<PathBuf>,
    /// Output format of the summary.
    #[arg(long, value_enum, default_value_t = ExploreFormat::Text)]
    format: ExploreFormat,
    /// Seconds a timed event may be early or late.
    #[arg(long, value_name = "SECS", default_value_t = pass_conformance::ctx::DEFAULT_TIMING_TOLERANCE.as_secs_f64())]
    timing_tolerance: f64,
    /// Most fresh runs shrinking may try (0: no shrinking, the run as it went).
    #[arg(long, default_value_t = 300)]
    shrink_tries: usize,
    /// Most seconds shrinking may take (the shortest sequence so far is printed).
    #[arg(long, value_name = "SECS", default_value_t = 120.0)]
    shrink_time: f64,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ExploreFormat {
    Text,
    Json,
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
    /// One self-contained HTML page (no script, nothing fetched).
    Html,
}

#[derive(Args)]
struct ReportArgs {
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the report here instead of stdout (a table still goes to stdout).
    #[arg(long)]
    output: Option<PathBuf>,
    /// In the table, show the details and transcript of passing cases too (those of
    /// every other case are always shown).
    #[arg(long)]
    verbose: bool,
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
    let table = || report::table_with(report, report::TableOptions::verbose(args.verbose));
    let text = match args.format {
        Format::Table => table(),
        Format::Json => report::json(report),
        Format::Junit => report::junit(report),
        Format::Html => report::html(report),
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            if !matches!(args.format, Format::Table) {
                print!("{}", table());
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

/// `pass-conformance explore`: the exit code (0 no mismatch, 1 a mismatch).
async fn explore_main(target: ExploreTarget) -> Result<i32, String> {
    use pass_conformance::explore::targets::{self, Settings};
    use pass_conformance::explore::{self, replay, ExploreOptions, Outcome};
    let settings = |a: &ExploreArgs| -> Result<Settings, String> {
        Ok(Settings {
            pool_size: a.pool_size,
            tolerance: Duration::try_from_secs_f64(a.timing_tolerance).map_err(|_| {
                format!(
                    "--timing-tolerance {}: not a number of seconds",
                    a.timing_tolerance
                )
            })?,
        })
    };
    let (mut t, args): (Box<dyn explore::Target>, ExploreArgs) = match target {
        ExploreTarget::Inproc { fault, explore } => {
            let fault = match fault {
                Some(name) => Some(KnownFault::from_name(&name).ok_or_else(|| {
                    let names: Vec<&str> = KnownFault::all().map(|f| f.name()).collect();
                    format!("unknown fault {name:?}; known: {}", names.join(", "))
                })?),
                None => None,
            };
            let t = targets::inproc(fault, settings(&explore)?);
            (Box::new(t), explore)
        }
        ExploreTarget::Wasm {
            module,
            fault,
            explore,
        } => {
            let m = pass_conformance::wasm::WasmModule::load(
                &module,
                pass_conformance::wasm::GuestLimits::default(),
            )
            .map_err(|e| e.to_string())?;
            let label = module.display().to_string();
            let t = targets::wasm(m, &label, fault, settings(&explore)?);
            (Box::new(t), explore)
        }
        ExploreTarget::Component {
            target,
            proxy_window,
            explore,
        } => {
            let copts = component_options(&target)?;
            let t = targets::component(copts, secs(proxy_window), settings(&explore)?).await?;
            (Box::new(t), explore)
        }
        ExploreTarget::C2s {
            target,
            proxy_window,
            explore,
        } => {
            if target.exhaust.is_some() {
                return Err(
                    "--exhaust is for the catalogue's no-ports case: explore judges 502s \
                     with --pool-size"
                        .into(),
                );
            }
            let copts = c2s_options(target)?;
            if usize::from(explore.accounts) > copts.accounts.len() {
                return Err(format!(
                    "--accounts {}: the c2s target acts only as its --account JIDs, and {} \
                     were given: use --accounts {} at most, or give more --account",
                    explore.accounts,
                    copts.accounts.len(),
                    copts.accounts.len()
                ));
            }
            let t = targets::c2s(copts, secs(proxy_window), settings(&explore)?).await?;
            (Box::new(t), explore)
        }
    };
    if let Some(path) = &args.replay {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let ops = replay::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let found = explore::replay(t.as_mut(), &ops, args.accounts).await;
        t.finish().await;
        return match found? {
            Some(r) => {
                print!("{}", r.render());
                Ok(1)
            }
            None => {
                println!(
                    "explore: the {} operations of {} pass on {}",
                    ops.len(),
                    path.display(),
                    t.describe()
                );
                Ok(0)
            }
        };
    }
    let seed = args.seed.unwrap_or_else(rand::random);
    let opts = ExploreOptions {
        seed,
        steps: args.steps,
        runs: args.runs,
        time_budget: match args.time_budget {
            Some(s) => Some(
                Duration::try_from_secs_f64(s)
                    .map_err(|_| format!("--time-budget {s}: not a number of seconds"))?,
            ),
            None => None,
        },
        accounts: args.accounts,
        shrink_tries: args.shrink_tries,
        shrink_time: Duration::try_from_secs_f64(args.shrink_time).map_err(|_| {
            format!(
                "--shrink-time {}: not a number of seconds",
                args.shrink_time
            )
        })?,
    };
    eprintln!("explore: seed {seed} (rerun with --seed {seed})");
    let outcome = explore::explore(t.as_mut(), &opts).await;
    t.finish().await;
    let outcome = outcome?;
    match outcome {
        Outcome::Passed(summary) => {
            match args.format {
                ExploreFormat::Text => print!("{}", explore::summary_text(&summary)),
                ExploreFormat::Json => println!(
                    "{}",
                    serde_json::json!({ "result": "pass", "summary": summary })
                ),
            }
            Ok(0)
        }
        Outcome::Found(replay, summary) => {
            let text = replay.render();
            if let Some(dir) = &args.save_dir {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                let path = dir.join(format!("explore-seed{}-run{}.replay", seed, replay.run));
                std::fs::write(&path, &text)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                eprintln!("explore: replay file written to {}", path.display());
            }
            match args.format {
                ExploreFormat::Text => print!("{text}"),
                ExploreFormat::Json => println!(
                    "{}",
                    serde_json::json!({
                        "result": "mismatch",
                        "mismatch": replay.mismatch,
                        "replay": text,
                        "summary": summary,
                    })
                ),
            }
            Ok(1)
        }
    }
}

fn component_options(target: &ComponentArgs) -> Result<ComponentOptions, String> {
    let secret = std::fs::read_to_string(&target.secret_file).map_err(|e| {
        format!(
            "cannot read the secret file {}: {e}",
            target.secret_file.display()
        )
    })?;
    Ok(ComponentOptions {
        listen: target.listen.clone(),
        domain: target.domain.clone(),
        secret: secret.trim().to_string(),
        spawn: target.spawn.clone(),
        answer_wait: secs(target.waits.answer_wait),
        io_wait: secs(target.waits.connect_timeout),
        impl_answer_timeout: secs(target.waits.impl_answer_timeout),
        connect_wait: secs(target.connect_wait),
    })
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
            Command::List {
                format,
                faults,
                target: ListTarget::Service,
            } => {
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
            Command::List {
                format,
                faults,
                target: ListTarget::Client,
            } => {
                let cases = client::client_catalogue();
                match (format, faults) {
                    (ListFormat::Text, false) => print!("{}", report::list_text(&cases)),
                    (ListFormat::Markdown, false) => print!("{}", report::list_markdown(&cases)),
                    (ListFormat::Text, true) => print!("{}", client::faults::list_text()),
                    (ListFormat::Markdown, true) => print!("{}", client::faults::list_markdown()),
                }
                std::process::exit(0);
            }
            Command::Inproc { report, fault } => {
                let opts = run_options(&report)?;
                Ok((run_inproc(fault.as_deref(), &opts).await?, report))
            }
            Command::Component { target, report } => {
                let opts = run_options(&report)?;
                let copts = component_options(&target)?;
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
            Command::Explore { target } => {
                let code = explore_main(target).await?;
                std::process::exit(code);
            }
            Command::SelfTest { report } => {
                let opts = run_options(&report)?;
                let r = selftest::run(&opts).await.map_err(|e| e.to_string())?;
                Ok((r, report))
            }
            Command::Client { target, report } => {
                let opts = run_options(&report)?;
                let copts = client::ClientOptions {
                    listen: target.listen,
                    domain: target.domain,
                    service: target.service,
                    case_timeout: Duration::try_from_secs_f64(target.case_timeout).map_err(
                        |_| {
                            format!(
                                "--case-timeout {}: not a number of seconds",
                                target.case_timeout
                            )
                        },
                    )?,
                    ..client::ClientOptions::new(&target.exec)
                };
                let r = client::run(&copts, &opts)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok((r, report))
            }
            Command::ClientSelfTest { report } => {
                let opts = run_options(&report)?;
                let r = selftest::run_client(&opts)
                    .await
                    .map_err(|e| e.to_string())?;
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
