//! The command line's refusals, before any connection: exit codes as docs/CLIENT.md
//! lists them, and messages that say what to do.

use std::process::{Command, Output};

fn pass_client(args: &[&str], password: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pass-client"));
    cmd.args(args).env_remove("PASS_CLIENT_PASSWORD");
    if let Some(pw) = password {
        cmd.env("PASS_CLIENT_PASSWORD", pw);
    }
    cmd.output().expect("run pass-client")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `--tls none` to a server that is not on loopback: refused before any connection.
fn clear_text_to_a_remote_server() -> Output {
    pass_client(
        &[
            "expose",
            "127.0.0.1:8080",
            "--jid",
            "me@example.org",
            "--tls",
            "none",
            "--server",
            "192.0.2.1:5222",
        ],
        Some("pw"),
    )
}

#[test]
fn tls_none_to_a_remote_server_is_refused() {
    let out = clear_text_to_a_remote_server();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not a loopback address"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn logs_to_a_pipe_carry_no_colour_codes() {
    // The refusal is logged through tracing as well as printed (DESIGN decision 72).
    let out = clear_text_to_a_remote_server();
    let err = stderr(&out);
    assert!(err.contains("ERROR"), "no log line on stderr: {err}");
    assert!(!err.contains('\x1b'), "colour escapes on a pipe: {err:?}");
}

#[test]
fn an_unreadable_tls_ca_is_a_setup_error() {
    let out = pass_client(
        &[
            "expose",
            "127.0.0.1:8080",
            "--jid",
            "me@example.org",
            "--server",
            "127.0.0.1:5222",
            "--tls-ca",
            "/nonexistent/ca.pem",
        ],
        Some("pw"),
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("--tls-ca"), "{}", stderr(&out));
}

#[test]
fn no_password_is_refused_and_a_password_flag_does_not_exist() {
    let out = pass_client(
        &[
            "answer",
            "--jid",
            "me@example.org",
            "--tls",
            "none",
            "--server",
            "127.0.0.1:5222",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("PASS_CLIENT_PASSWORD"),
        "{}",
        stderr(&out)
    );
    let flag = pass_client(
        &["answer", "--jid", "me@example.org", "--password", "x"],
        None,
    );
    assert_eq!(flag.status.code(), Some(2), "clap refuses an unknown flag");
}

#[test]
fn a_bad_cidr_is_a_usage_error() {
    let out = pass_client(
        &[
            "expose",
            "127.0.0.1:8080",
            "--jid",
            "me@example.org",
            "--allow",
            "10.0.0.0/33",
        ],
        Some("pw"),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
