//! `pass-client`: reach a TCP service behind NAT through your XMPP account — the
//! reference client of XEP-0003 (PASS). A thin tokio shell around
//! [`pass_core::Client`]; the user's guide is docs/CLIENT.md.

mod bridge;
mod cli;
mod discover;
mod faults;
mod report;
mod shell;

// The c2s pieces live in the library (shared with pass-conformance's c2s target).
use pass_client::{exit, srv, tls, xmpp};

use clap::Parser as _;
use cli::{Account, Cli, Command, LogFormat, Tls};
use exit::Fatal;
use pass_core::client::ClientConfig;
use pass_core::{Client, Jid};
use std::io::IsTerminal as _;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs as _};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// The environment variable holding the password when `--password-file` is absent.
const PASSWORD_ENV: &str = "PASS_CLIENT_PASSWORD";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let account = match &cli.command {
        Command::Expose(e) => &e.account,
        Command::Answer(a) => &a.account,
    };
    init_logs(account.log_format, &account.log_level);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => return fail(&Fatal::new(exit::SETUP, format!("no async runtime: {e}"))),
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(f) => fail(&f),
    }
}

fn fail(f: &Fatal) -> ExitCode {
    tracing::error!("{f}");
    eprintln!("pass-client: {f}");
    ExitCode::from(f.code)
}

fn init_logs(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only on a terminal, and never with NO_COLOR set (as pass-node does, DESIGN
    // decision 72): a file, a pipe or the journal would keep the escapes as text.
    let ansi = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
}

async fn run(cli: Cli) -> Result<(), Fatal> {
    let fault = faults::current().map_err(|e| Fatal::new(exit::SETUP, e))?;
    match cli.command {
        Command::Expose(args) => {
            let (login, _) = login(&args.account)?;
            let mut link = xmpp::Link::start(login);
            let me = wait_online(&mut link).await?;
            let service = match &args.service {
                Some(s) => parse_jid(s, "--service")?,
                None => discover::find_service(&mut link, &me, me.domain()).await?,
            };
            let mut allow_jids = args
                .allow_jid
                .iter()
                .map(|j| parse_jid(j, "--allow-jid"))
                .collect::<Result<Vec<_>, _>>()?;
            if fault == Some(faults::Fault::NoPeerCheck) {
                allow_jids.clear();
            }
            let mut config =
                ClientConfig::new(me, service).with_policy(shell::policy(&args.allow, &allow_jids));
            config.id_seed = fastrand::u64(..);
            let reporter = report::Reporter { json: args.json };
            let shell = shell::Shell::new(Client::new(config), link, args.local, reporter)
                .with_fault(fault);
            shell
                .expose(shell::Lease {
                    expire: args.expire,
                    oneshot: args.oneshot,
                    keep: args.keep,
                })
                .await
        }
        Command::Answer(args) => {
            let (login, server) = login(&args.account)?;
            let ip = match (args.ip, server) {
                (Some(ip), _) => ip,
                (None, Some(addr)) => local_ip_towards(addr)?,
                (None, None) => local_ip_of_a_connection(&login.server).await?,
            };
            let mut link = xmpp::Link::start(login);
            let me = wait_online(&mut link).await?;
            // The full JID is what exposers name with --allow-jid.
            println!("answering as {me} with {ip}");
            let domain = parse_jid(me.domain(), "the account's domain")?;
            let mut config = ClientConfig::new(me, domain).with_answer_ip(ip);
            config.id_seed = fastrand::u64(..);
            let reporter = report::Reporter { json: false };
            let shell = shell::Shell::new(Client::new(config), link, String::new(), reporter)
                .with_fault(fault);
            shell.answer().await
        }
    }
}

/// The login details and, when it is known before connecting (`--server`, or
/// `--tls none`), the server's first address; after the TLS and password rules.
fn login(account: &Account) -> Result<(xmpp::Login, Option<SocketAddr>), Fatal> {
    let bare = parse_jid(&account.jid, "--jid")?;
    if bare.node().is_none() {
        return Err(Fatal::new(exit::SETUP, "--jid must be user@domain"));
    }
    // Clear text never follows SRV records: the loopback check below must see the
    // address it will connect to (docs/DESIGN.md decision 95).
    let server = match (&account.server, account.tls) {
        (Some(addr), _) => srv::Server::Addr(addr.clone()),
        (None, Tls::None) => srv::Server::Addr(format!("{}:{}", bare.domain(), srv::FALLBACK_PORT)),
        (None, Tls::Starttls) => srv::Server::domain(bare.domain()),
    };
    let addrs: Vec<SocketAddr> = match &server {
        srv::Server::Addr(addr) => addr
            .to_socket_addrs()
            .map_err(|e| Fatal::new(exit::SETUP, format!("cannot resolve {addr}: {e}")))?
            .collect(),
        srv::Server::Domain { .. } => Vec::new(),
    };
    let first = match &server {
        srv::Server::Addr(addr) => Some(
            *addrs
                .first()
                .ok_or_else(|| Fatal::new(exit::SETUP, format!("{addr} resolves to nothing")))?,
        ),
        srv::Server::Domain { .. } => None,
    };
    let tls = match account.tls {
        Tls::Starttls => Some(tls::client_config(
            account.tls_ca.as_deref(),
            account.tls_insecure,
        )?),
        Tls::None => {
            if let Some(remote) = addrs.iter().find(|a| !a.ip().is_loopback()) {
                return Err(Fatal::new(
                    exit::SETUP,
                    format!(
                        "--tls none sends your password in clear: refused for {server} ({remote} is not a loopback address)"
                    ),
                ));
            }
            if account.tls_ca.is_some() || account.tls_insecure {
                tracing::warn!("--tls-ca and --tls-insecure have no effect with --tls none");
            }
            None
        }
    };
    let password = password(account)?;
    // A resource of our own, kept across reconnects: the lease belongs to the full JID.
    let resource = format!("pass-client-{:08x}", fastrand::u32(..));
    let full = format!("{}/{resource}", account.jid);
    let jid = full
        .parse()
        .map_err(|e| Fatal::new(exit::SETUP, format!("--jid {}: {e}", account.jid)))?;
    Ok((
        xmpp::Login {
            server,
            jid,
            password,
            tls,
        },
        first,
    ))
}

fn password(account: &Account) -> Result<String, Fatal> {
    let raw = match &account.password_file {
        Some(path) => std::fs::read_to_string(path).map_err(|e| {
            Fatal::new(
                exit::SETUP,
                format!("cannot read --password-file {}: {e}", path.display()),
            )
        })?,
        None => std::env::var(PASSWORD_ENV).map_err(|_| {
            Fatal::new(
                exit::SETUP,
                format!("no password: give --password-file FILE or set {PASSWORD_ENV}"),
            )
        })?,
    };
    let line = raw.lines().next().unwrap_or_default().to_owned();
    if line.is_empty() {
        return Err(Fatal::new(exit::SETUP, "the password is empty"));
    }
    Ok(line)
}

fn parse_jid(s: &str, what: &str) -> Result<Jid, Fatal> {
    Jid::new(s).map_err(|e| Fatal::new(exit::SETUP, format!("{what} {s:?}: {e}")))
}

/// Waits for the first login; its bound full JID.
async fn wait_online(link: &mut xmpp::Link) -> Result<Jid, Fatal> {
    loop {
        match link.next().await {
            None => return Err(Fatal::new(exit::SERVICE_GONE, "the XMPP stream ended")),
            Some(xmpp::LinkEvent::Fatal(f)) => return Err(f),
            Some(xmpp::LinkEvent::Online(jid)) => {
                tracing::info!("connected to the XMPP server as {jid}");
                return parse_jid(&jid, "the bound JID");
            }
            Some(_) => {}
        }
    }
}

/// The local address of a TCP connection to `server` (found through DNS SRV): the
/// address its c2s connection will have.
async fn local_ip_of_a_connection(server: &srv::Server) -> Result<IpAddr, Fatal> {
    let (tcp, _) = server
        .connect()
        .await
        .map_err(|e| Fatal::new(exit::SETUP, format!("cannot reach {server}: {e}")))?;
    tcp.local_addr()
        .map(|a| a.ip())
        .map_err(|e| Fatal::new(exit::SETUP, format!("cannot find the local IP: {e}")))
}

/// The local IP the route to `server` leaves from: the local address of the c2s
/// connection (a connected UDP socket sends nothing and asks the same routing table).
fn local_ip_towards(server: SocketAddr) -> Result<IpAddr, Fatal> {
    let any: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = std::net::UdpSocket::bind(any)
        .and_then(|s| s.connect(server).map(|()| s))
        .and_then(|s| s.local_addr())
        .map_err(|e| Fatal::new(exit::SETUP, format!("cannot find the local IP: {e}")))?;
    Ok(socket.ip())
}
