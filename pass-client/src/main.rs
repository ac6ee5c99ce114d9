//! `pass-client`: reach a TCP service behind NAT through your XMPP account — the
//! reference client of XEP-0003 (PASS). A thin tokio shell around
//! [`pass_core::Client`]; the user's guide is docs/CLIENT.md.

mod bridge;
mod cli;
mod discover;
mod report;
mod shell;

// The c2s pieces live in the library (shared with pass-conformance's c2s target).
use pass_client::{exit, tls, xmpp};

use clap::Parser as _;
use cli::{Account, Cli, Command, LogFormat, Tls};
use exit::Fatal;
use pass_core::client::ClientConfig;
use pass_core::{Client, Jid};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs as _};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// The environment variable holding the password when `--password-file` is absent.
const PASSWORD_ENV: &str = "PASS_CLIENT_PASSWORD";
/// The c2s port when `--server` is not given.
const DEFAULT_C2S_PORT: u16 = 5222;

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
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
}

async fn run(cli: Cli) -> Result<(), Fatal> {
    match cli.command {
        Command::Expose(args) => {
            let (login, _) = login(&args.account)?;
            let mut link = xmpp::Link::start(login);
            let me = wait_online(&mut link).await?;
            let service = match &args.service {
                Some(s) => parse_jid(s, "--service")?,
                None => discover::find_service(&mut link, &me, me.domain()).await?,
            };
            let allow_jids = args
                .allow_jid
                .iter()
                .map(|j| parse_jid(j, "--allow-jid"))
                .collect::<Result<Vec<_>, _>>()?;
            let mut config =
                ClientConfig::new(me, service).with_policy(shell::policy(&args.allow, &allow_jids));
            config.id_seed = fastrand::u64(..);
            let reporter = report::Reporter { json: args.json };
            let shell = shell::Shell::new(Client::new(config), link, args.local, reporter);
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
            let ip = match args.ip {
                Some(ip) => ip,
                None => local_ip_towards(server)?,
            };
            let mut link = xmpp::Link::start(login);
            let me = wait_online(&mut link).await?;
            // The full JID is what exposers name with --allow-jid.
            println!("answering as {me} with {ip}");
            let domain = parse_jid(me.domain(), "the account's domain")?;
            let mut config = ClientConfig::new(me, domain).with_answer_ip(ip);
            config.id_seed = fastrand::u64(..);
            let reporter = report::Reporter { json: false };
            let shell = shell::Shell::new(Client::new(config), link, String::new(), reporter);
            shell.answer().await
        }
    }
}

/// The login details and the server's address, after the TLS and password rules.
fn login(account: &Account) -> Result<(xmpp::Login, SocketAddr), Fatal> {
    let bare = parse_jid(&account.jid, "--jid")?;
    if bare.node().is_none() {
        return Err(Fatal::new(exit::SETUP, "--jid must be user@domain"));
    }
    let server = account
        .server
        .clone()
        .unwrap_or_else(|| format!("{}:{DEFAULT_C2S_PORT}", bare.domain()));
    let addrs: Vec<SocketAddr> = server
        .to_socket_addrs()
        .map_err(|e| Fatal::new(exit::SETUP, format!("cannot resolve {server}: {e}")))?
        .collect();
    let first = *addrs
        .first()
        .ok_or_else(|| Fatal::new(exit::SETUP, format!("{server} resolves to nothing")))?;
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
