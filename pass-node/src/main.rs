//! The `pass-node` binary: parse settings, set up logs and limits, run until SIGTERM
//! or Ctrl-C.

use pass_node::config::{self, Cli, Command, ConfigFile, LogFormat, SecretSource, Settings};
use std::process::ExitCode;
use tracing::{error, info, warn};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse_args();
    if let Some(Command::CheckConfig { config }) = &cli.command {
        return check_config(config);
    }
    let file = match &cli.config {
        Some(path) => match ConfigFile::load(path) {
            Ok(f) => f,
            Err(e) => return config_error(&e),
        },
        None => ConfigFile::default(),
    };
    let node_config = match config::resolve(&cli.settings, &file, SecretSource::Read) {
        Ok(c) => c,
        Err(e) => return config_error(&e),
    };
    init_logs(node_config.log_format, &node_config.log_level);
    raise_fd_limit();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            error!("cannot start the async runtime: {e}");
            return ExitCode::from(pass_node::EXIT_SETUP as u8);
        }
    };
    match runtime.block_on(pass_node::run(node_config, shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1))
        }
    }
}

fn config_error(e: &config::ConfigError) -> ExitCode {
    eprintln!("pass-node: configuration error: {e}");
    ExitCode::from(pass_node::EXIT_CONFIG as u8)
}

fn check_config(path: &std::path::Path) -> ExitCode {
    // Load errors already name the file; settings errors get it prefixed.
    let file = match ConfigFile::load(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(pass_node::EXIT_CONFIG as u8);
        }
    };
    match config::resolve(&Settings::default(), &file, SecretSource::Skip) {
        Ok(_) => {
            println!("{}: ok", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            ExitCode::from(pass_node::EXIT_CONFIG as u8)
        }
    }
}

fn init_logs(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Each relay holds two sockets and each port a listener per address: the default
/// soft limit (often 1024) would cap the node far below its configured limits.
fn raise_fd_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => info!(nofile = n, "file descriptor limit raised"),
        Err(e) => warn!("cannot raise the file descriptor limit: {e}"),
    }
}

/// Completes on SIGTERM or Ctrl-C (SIGINT).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => info!("SIGTERM received"),
                    _ = tokio::signal::ctrl_c() => info!("Ctrl-C received"),
                }
            }
            Err(e) => {
                warn!("cannot watch SIGTERM: {e}");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        info!("Ctrl-C received");
    }
}
