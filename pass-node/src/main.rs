//! The `pass-node` binary: parse settings, set up logs and limits, run until SIGTERM
//! or Ctrl-C.

use pass_node::config::{self, Cli, Command, ConfigFile, SecretSource, Settings};
use std::process::ExitCode;
use tracing::{error, info, warn};

fn main() -> ExitCode {
    let cli = Cli::parse_args();
    if let Some(Command::CheckConfig { config }) = &cli.command {
        return check_config(config, &cli.settings);
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
    pass_node::logs::init(node_config.log_format, &node_config.log_level);
    for w in &node_config.warnings {
        warn!(setting = w.field, "{w}");
    }
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

/// Checks the file with the settings given as flags over it (the unit passes the
/// credential's path with `--secret-file`); warnings go to stderr, exit 0 still.
fn check_config(path: &std::path::Path, flags: &Settings) -> ExitCode {
    // Load errors already name the file; settings errors get it prefixed.
    let file = match ConfigFile::load(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(pass_node::EXIT_CONFIG as u8);
        }
    };
    match config::resolve(flags, &file, SecretSource::Check) {
        Ok(checked) => {
            for w in &checked.warnings {
                eprintln!("{}: warning: {w}", path.display());
            }
            match &checked.state {
                Some(s) => println!(
                    "{}: lease store: {}",
                    path.display(),
                    s.dir.join(pass_node::state::FILE_NAME).display()
                ),
                None => println!("{}: lease store: none (no_state)", path.display()),
            }
            println!("{}: ok", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            ExitCode::from(pass_node::EXIT_CONFIG as u8)
        }
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
