//! The schema, the merge and the validation, through the public entry points.

use super::*;
use clap::CommandFactory;
use std::net::{Ipv4Addr, Ipv6Addr};

fn file(text: &str) -> Result<ConfigFile, String> {
    ConfigFile::parse(text).map_err(|e| e.to_string())
}

fn given(secret: &str) -> SecretSource {
    SecretSource::Given(secret.into())
}

#[test]
fn port_range_errors_name_the_field() {
    let e = parse_port_range("5000-4000").unwrap_err();
    assert_eq!(
        e.to_string(),
        "ports: first port 5000 is greater than last port 4000"
    );
    assert!(parse_port_range("0-10").is_err());
    assert!(parse_port_range("a-b").is_err());
    assert_eq!(
        parse_port_range("40000-40010").unwrap(),
        PortRange {
            first: 40000,
            last: 40010
        }
    );
}

#[test]
fn the_lease_store_settings_and_their_conflicts() {
    let none = Settings::default();
    let base = file(BASE).unwrap();
    let in_file = file(&format!("{BASE}state_dir = '/srv/pass'\n")).unwrap();
    let c = resolve(&none, &in_file, given("s")).unwrap();
    assert_eq!(c.state.map(|s| s.dir), Some("/srv/pass".into()));
    // The flag over the file; --reset-state for this start.
    let flags = cli(&["--state-dir", "/x", "--reset-state"]).settings;
    let c = resolve(&flags, &in_file, given("s")).unwrap();
    assert_eq!(
        c.state,
        Some(StateSettings {
            dir: "/x".into(),
            reset: true
        })
    );
    let c = resolve(&cli(&["--no-state"]).settings, &base, given("s")).unwrap();
    assert_eq!(c.state, None);
    let e = resolve(&cli(&["--no-state"]).settings, &in_file, given("s")).unwrap_err();
    assert_eq!(e.field, "state_dir", "{e}");
    let flags = cli(&["--no-state", "--reset-state"]).settings;
    let e = resolve(&flags, &base, given("s")).unwrap_err();
    assert_eq!(e.field, "reset_state", "{e}");
    // A file cannot reset the store at every start.
    let e = file(&format!("{BASE}reset_state = true\n")).unwrap_err();
    assert!(e.contains("reset_state"), "{e}");
    // Embedding and in-process tests keep no store.
    let c = NodeConfig::new("a:1", "p.example", "s").unwrap();
    assert_eq!(c.state, None);
}

#[test]
fn unknown_key_is_rejected_by_name() {
    let e = file("server = 'a:1'\nmax_leeses = 3\n").unwrap_err();
    assert!(e.contains("max_leeses"), "{e}");
    // `--config` is a flag only: a file cannot name another file.
    let e = file("config = 'other.toml'\n").unwrap_err();
    assert!(e.contains("unknown field `config`"), "{e}");
}

#[test]
fn flags_override_file() {
    let f =
        file("server = 'a:1'\ndomain = 'p.example'\nmax_relays = 7\nports = '100-200'\n").unwrap();
    let args = Settings {
        max_relays: Some(9),
        ..Settings::default()
    };
    let c = resolve(&args, &f, given("s")).unwrap();
    assert_eq!(c.core.max_relays, 9);
    assert_eq!(c.core.first_port, 100);
    assert_eq!(c.core.last_port, 200);
    assert_eq!(c.server, "a:1");
    assert_eq!(c.metrics, Some(DEFAULT_METRICS.parse().unwrap()));
}

#[test]
fn limits_and_rates_map_onto_the_core_and_relays() {
    let f = file(
        "server = 'a:1'\ndomain = 'p.example'\niq_burst = 7\niq_rate = 3\n\
         call_burst = 6\ncall_rate = 2\n\
         max_stanza_bytes = 131072\nhalf_close_timeout = 9\n",
    )
    .unwrap();
    let args = Settings {
        iq_per_second: Some(4),
        ..Settings::default()
    };
    let c = resolve(&args, &f, given("s")).unwrap();
    assert_eq!(c.core.iq_burst, 7);
    assert_eq!((c.core.call_burst, c.core.call_per_second), (6, 2));
    assert_eq!(c.core.iq_per_second, 4);
    assert_eq!(c.limits.max_stanza_bytes, 131_072);
    assert_eq!(c.core.stanza_limits, c.limits);
    assert_eq!(c.relay.half_close_timeout, Duration::from_secs(9));
    let d = resolve(
        &Settings::default(),
        &file("server = 'a:1'\ndomain = 'p.example'\n").unwrap(),
        given("s"),
    )
    .unwrap();
    assert_eq!(d.relay.half_close_timeout, DEFAULT_HALF_CLOSE_TIMEOUT);
    assert_eq!(d.limits.max_stanza_bytes, DEFAULT_MAX_STANZA_BYTES);
    assert_eq!(d.core.stanza_limits, d.limits);
}

#[test]
fn relay_idle_timeout_defaults_and_zero_turns_it_off() {
    let base = "server = 'a:1'\ndomain = 'p.example'\n";
    let resolve_with = |extra: &str, flag: Option<u64>| {
        let args = Settings {
            relay_idle_timeout: flag,
            ..Settings::default()
        };
        let f = file(&format!("{base}{extra}")).unwrap();
        resolve(&args, &f, given("s")).unwrap().relay.idle_timeout
    };
    assert_eq!(resolve_with("", None), Some(DEFAULT_RELAY_IDLE_TIMEOUT));
    assert_eq!(
        resolve_with("relay_idle_timeout = 30\n", None),
        Some(Duration::from_secs(30))
    );
    assert_eq!(resolve_with("relay_idle_timeout = 0\n", None), None);
    // The flag wins over the file, both ways.
    assert_eq!(
        resolve_with("relay_idle_timeout = 0\n", Some(45)),
        Some(Duration::from_secs(45))
    );
    assert_eq!(resolve_with("relay_idle_timeout = 45\n", Some(0)), None);
}

#[test]
fn default_bind_follows_public_family() {
    let args = Settings {
        server: Some("h:5347".into()),
        domain: Some("p.example".into()),
        public_ip: Some(vec![
            "192.0.2.1".parse().unwrap(),
            "2001:db8::1".parse().unwrap(),
        ]),
        ..Settings::default()
    };
    let c = resolve(&args, &ConfigFile::default(), given("s")).unwrap();
    assert_eq!(
        c.bind,
        vec![
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        ]
    );
}

#[test]
fn bad_values_name_their_field() {
    let base = "server = 'h:1'\ndomain = 'p.example'\n";
    for (extra, field) in [
        ("max_leases = 0", "max_leases"),
        ("public_ip = ['1.2.3.4', '5.6.7.8']", "public_ip"),
        ("metrics = 'nope'", "metrics"),
        ("relay_rate = 0", "relay_rate"),
        (
            "public_ip = ['192.0.2.1', '2001:db8::1']\nbind = ['0.0.0.0']",
            "bind",
        ),
        ("answer_timeout = 0", "answer_timeout"),
        ("half_close_timeout = 0", "half_close_timeout"),
        ("max_stanza_bytes = 100", "max_stanza_bytes"),
        ("iq_burst = 0", "iq_burst"),
        ("iq_rate = 0", "iq_rate"),
        ("call_burst = 0", "call_burst"),
        ("call_rate = 0", "call_rate"),
        ("domain2 = 'x'", ""),
    ] {
        let text = format!("{base}{extra}\n");
        match file(&text) {
            Err(e) => assert!(field.is_empty(), "{extra}: {e}"),
            Ok(f) => {
                let e = resolve(&Settings::default(), &f, given("s")).unwrap_err();
                assert_eq!(e.field, field, "{extra}: {e}");
            }
        }
    }
}

const BASE: &str = "server = 'a:1'\ndomain = 'p.example'\n";

fn cli(args: &[&str]) -> Cli {
    let mut argv = vec!["pass-node"];
    argv.extend_from_slice(args);
    Cli::parse_args_from(argv).unwrap()
}

/// The aligned names: (setting, old spelling), flag and TOML key alike.
const ALIGNED: [(&str, &str); 3] = [
    ("max_leases_per_account", "max_leases_per_jid"),
    ("iq_per_second", "iq_rate"),
    ("call_per_second", "call_rate"),
];

#[test]
fn aligned_names_accept_both_spellings_as_key_and_flag() {
    let core_value = |c: &NodeConfig, setting: &str| match setting {
        "max_leases_per_account" => c.core.max_leases_per_account as u64,
        "iq_per_second" => u64::from(c.core.iq_per_second),
        "call_per_second" => u64::from(c.core.call_per_second),
        other => panic!("{other}"),
    };
    for (setting, old) in ALIGNED {
        for key in [setting, old] {
            let f = file(&format!("{BASE}{key} = 3\n")).unwrap();
            let c = resolve(&Settings::default(), &f, given("s")).unwrap();
            assert_eq!(core_value(&c, setting), 3, "{key} in the file");

            let flag = format!("--{}", key.replace('_', "-"));
            let flags = cli(&[&flag, "4"]).settings;
            let c = resolve(&flags, &f, given("s")).unwrap();
            assert_eq!(core_value(&c, setting), 4, "{flag} over the file");
        }
        // Both spellings at once is one setting given twice: refused by name.
        let e = file(&format!("{BASE}{setting} = 3\n{old} = 3\n")).unwrap_err();
        assert!(e.contains(&format!("duplicate field `{setting}`")), "{e}");
    }
}

#[test]
fn errors_name_the_setting_as_the_file_spells_it() {
    for (setting, old) in ALIGNED {
        for key in [setting, old] {
            let f = file(&format!("{BASE}{key} = 0\n")).unwrap();
            let e = resolve(&Settings::default(), &f, given("s")).unwrap_err();
            assert_eq!(e.to_string(), format!("{key}: must be at least 1"));
        }
    }
    // A setting given by flag is named by its setting name, whatever the file says.
    let flags = cli(&["--iq-rate", "0"]).settings;
    for text in [BASE.to_string(), format!("{BASE}iq_rate = 5\n")] {
        let e = resolve(&flags, &file(&text).unwrap(), given("s")).unwrap_err();
        assert_eq!(e.field, "iq_per_second");
    }
}

#[test]
fn every_flag_alias_is_a_key_alias_of_the_same_setting() {
    let command = Cli::command_with_defaults();
    let mut aliases = 0;
    for arg in command.get_arguments() {
        for alias in arg.get_all_aliases().into_iter().flatten() {
            let key = alias.replace('-', "_");
            let f = file(&format!("{key} = 1\n")).unwrap();
            assert_eq!(f.settings.given(), [arg.get_id().as_str()], "{key}");
            aliases += 1;
        }
    }
    assert_eq!(aliases, ALIGNED.len());
}

#[test]
fn every_setting_is_a_flag_and_a_key() {
    let command = Cli::command();
    for key in Settings::KEYS {
        let arg = command
            .get_arguments()
            .find(|a| a.get_id().as_str() == *key)
            .unwrap_or_else(|| panic!("{key} has no flag"));
        assert_eq!(arg.get_long(), Some(key.replace('_', "-").as_str()));
    }
}

#[test]
fn every_setting_has_a_default_but_the_required_unlimited_and_derived() {
    let no_default = [
        "server",
        "domain",
        "secret_file",
        "bind",
        "relay_rate",
        "total_rate",
        "state_dir",
        "reset_state",
    ];
    let defaulted: Vec<&str> = Settings::KEYS
        .iter()
        .copied()
        .filter(|k| !no_default.contains(k))
        .collect();
    assert_eq!(Settings::defaults().given(), defaulted);
    // `--help` shows each of them, from the same values.
    let shown = Settings::shown_defaults();
    assert_eq!(shown.iter().map(|(k, _)| *k).collect::<Vec<_>>(), defaulted);
    let command = Cli::command_with_defaults();
    for (key, value) in &shown {
        let arg = command
            .get_arguments()
            .find(|a| a.get_id().as_str() == *key)
            .unwrap();
        let help = arg.get_help().unwrap().to_string();
        assert!(help.ends_with(&format!("[default: {value}]")), "{help}");
    }
    assert!(shown.contains(&("max_leases", "1000".to_string())));
    assert!(shown.contains(&("public_ip", "127.0.0.1".to_string())));
    assert!(shown.contains(&("ports", "20000-20999".to_string())));
    assert!(shown.contains(&("relay_mode", "auto".to_string())));
}

#[test]
fn defaults_are_pass_cores_where_it_owns_the_setting() {
    let c = resolve(&Settings::default(), &file(BASE).unwrap(), given("s")).unwrap();
    let mut expected = CoreConfig::new(c.core.service.clone(), c.core.advertised.clone());
    expected.seed = c.core.seed;
    // The one default the node sets apart from the core's: its pool (DESIGN decision 70).
    expected.first_port = DEFAULT_PORTS.first;
    expected.last_port = DEFAULT_PORTS.last;
    expected.stanza_limits = c.core.stanza_limits.clone();
    assert_eq!(c.core, expected);
    assert_eq!(c.core.advertised, vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]);
    assert_eq!(c.drain_timeout, DEFAULT_DRAIN_TIMEOUT);
    assert_eq!(c.stanza_queue, DEFAULT_STANZA_QUEUE);
    assert_eq!(c.log_level, DEFAULT_LOG_LEVEL);
    assert_eq!(c.relay.mode, RelayMode::Auto);
    assert_eq!((c.relay.relay_rate, c.relay.total_rate), (None, None));
}

#[test]
fn repeated_flags_make_a_list() {
    let flags = cli(&[
        "--public-ip",
        "192.0.2.1",
        "--public-ip",
        "2001:db8::1",
        "--bind",
        "192.0.2.1",
        "--bind",
        "::",
    ])
    .settings;
    let c = resolve(&flags, &file(BASE).unwrap(), given("s")).unwrap();
    assert_eq!(c.core.advertised.len(), 2);
    assert_eq!(
        c.bind,
        vec![
            "192.0.2.1".parse::<IpAddr>().unwrap(),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        ]
    );
    // A bad --ports is refused when the flag is parsed, with the file's reason.
    let e = Cli::parse_args_from(["pass-node", "--ports", "5000-4000"]).unwrap_err();
    assert!(
        e.to_string()
            .contains("first port 5000 is greater than last port 4000"),
        "{e}"
    );
}

#[test]
fn example_file_lists_every_setting_by_its_name() {
    let example = include_str!("../../pass-node.example.toml");
    // Keys, set or commented out (`# relay_rate = ...`).
    let mut keys: Vec<&str> = example
        .lines()
        .map(|l| l.trim_start_matches("# "))
        .filter_map(|l| l.split_once(" = ").map(|(k, _)| k))
        .filter(|k| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect();
    keys.sort_unstable();
    let mut expected: Vec<&str> = Settings::KEYS
        .iter()
        .copied()
        .filter(|k| !Settings::FLAG_ONLY.contains(k))
        .collect();
    expected.sort_unstable();
    assert_eq!(keys, expected);
    // (An alias would show above as a key that is no setting's name.)
    assert!(file(example).is_ok());
}

/// A Linux host as shipped: ephemeral 32768–60999, nothing reserved, ports below
/// 1024 privileged, and this process without CAP_NET_BIND_SERVICE.
fn stock_host() -> Host {
    Host {
        ephemeral: Some(PortRange {
            first: 32768,
            last: 60999,
        }),
        reserved: Vec::new(),
        unprivileged_start: 1024,
        can_bind_privileged: Some(false),
    }
}

fn config_with(extra: &str) -> NodeConfig {
    resolve(
        &Settings::default(),
        &file(&format!("{BASE}{extra}")).unwrap(),
        given("s"),
    )
    .unwrap()
}

fn warned(extra: &str, host: &Host) -> Vec<String> {
    warnings(&config_with(extra), host)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn default_pool_is_below_the_ephemeral_range_and_the_old_one_still_works() {
    assert_eq!(
        DEFAULT_PORTS,
        PortRange {
            first: 20000,
            last: 20999
        }
    );
    let c = config_with("");
    assert_eq!((c.core.first_port, c.core.last_port), (20000, 20999));
    assert!(warned("", &stock_host()).is_empty());
    // The old default, configured, is accepted as before: a warning, not an error.
    let c = config_with("ports = '40000-40999'\n");
    assert_eq!((c.core.first_port, c.core.last_port), (40000, 40999));
}

#[test]
fn a_pool_in_the_ephemeral_range_is_warned_about_unless_reserved() {
    let w = warned("ports = '40000-40999'\n", &stock_host());
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with(
            "ports: 40000-40999 overlaps this host's ephemeral port range 32768-60999"
        ),
        "{w:?}"
    );
    assert!(w[0].contains("on 1000 port(s)"), "{w:?}");
    assert!(w[0].contains("ip_local_reserved_ports"), "{w:?}");
    // Partly inside: the ports inside are counted.
    let w = warned("ports = '32000-32799'\n", &stock_host());
    assert!(w[0].contains("on 32 port(s)"), "{w:?}");
    // Reserved ports are never handed out: no warning once the pool is reserved.
    let mut host = stock_host();
    host.reserved = vec![PortRange {
        first: 40000,
        last: 40999,
    }];
    assert!(warned("ports = '40000-40999'\n", &host).is_empty());
    host.reserved = vec![PortRange {
        first: 40000,
        last: 40499,
    }];
    assert!(warned("ports = '40000-40999'\n", &host)[0].contains("on 500 port(s)"));
    // No /proc: nothing to compare with.
    host.ephemeral = None;
    assert!(warned("ports = '40000-40999'\n", &host).is_empty());
}

#[test]
fn privileged_pool_ports_are_warned_about_without_the_capability() {
    let w = warned("ports = '80-90'\n", &stock_host());
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with(
            "ports: 80-90 has ports below 1024 and this process lacks CAP_NET_BIND_SERVICE"
        ),
        "{w:?}"
    );
    let mut host = stock_host();
    host.can_bind_privileged = Some(true);
    assert!(warned("ports = '80-90'\n", &host).is_empty());
    host.can_bind_privileged = None;
    assert!(warned("ports = '80-90'\n", &host).is_empty());
    // net.ipv4.ip_unprivileged_port_start moves the line.
    let mut host = stock_host();
    host.unprivileged_start = 0;
    assert!(warned("ports = '80-90'\n", &host).is_empty());
    host.unprivileged_start = 2000;
    assert!(!warned("ports = '1500-1600'\n", &host).is_empty());
}

#[test]
fn loopback_public_ip_with_an_outside_bind_is_warned_about() {
    let host = stock_host();
    let w = warned("public_ip = ['127.0.0.1']\nbind = ['0.0.0.0']\n", &host);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with(
            "public_ip: 127.0.0.1 is a loopback address but the ports listen on 0.0.0.0"
        ),
        "{w:?}"
    );
    let w = warned("public_ip = ['::1']\nbind = ['2001:db8::1']\n", &host);
    assert!(
        w[0].starts_with("public_ip: ::1 is a loopback address"),
        "{w:?}"
    );
    // The default (loopback advertised, loopback bound) and a public address are fine.
    assert!(warned("", &host).is_empty());
    assert!(warned("public_ip = ['127.0.0.1']\nbind = ['127.0.0.2']\n", &host).is_empty());
    assert!(warned("public_ip = ['192.0.2.1']\n", &host).is_empty());
}

#[test]
fn host_facts_are_read_from_proc_files() {
    let root = tempfile::tempdir().unwrap();
    let ipv4 = root.path().join("sys/net/ipv4");
    std::fs::create_dir_all(&ipv4).unwrap();
    std::fs::create_dir_all(root.path().join("self")).unwrap();
    std::fs::write(ipv4.join("ip_local_port_range"), "32768\t60999\n").unwrap();
    std::fs::write(ipv4.join("ip_local_reserved_ports"), "40000-40999,45000\n").unwrap();
    std::fs::write(ipv4.join("ip_unprivileged_port_start"), "1024\n").unwrap();
    std::fs::write(
        root.path().join("self/status"),
        "Name:\tpass-node\nCapEff:\t0000000000000400\n",
    )
    .unwrap();
    let host = Host::probe_at(root.path());
    assert_eq!(
        host.ephemeral,
        Some(PortRange {
            first: 32768,
            last: 60999
        })
    );
    assert_eq!(
        host.reserved,
        vec![
            PortRange {
                first: 40000,
                last: 40999
            },
            PortRange {
                first: 45000,
                last: 45000
            }
        ]
    );
    assert_eq!(host.unprivileged_start, 1024);
    assert_eq!(host.can_bind_privileged, Some(true));
    std::fs::write(
        root.path().join("self/status"),
        "CapEff:\t000001fffefffbff\n",
    )
    .unwrap();
    std::fs::write(ipv4.join("ip_local_reserved_ports"), "\n").unwrap();
    let host = Host::probe_at(root.path());
    assert_eq!(host.can_bind_privileged, Some(false));
    assert!(host.reserved.is_empty());
    // Nothing there: every check is skipped, the privileged line stays at 1024.
    let host = Host::probe_at(&root.path().join("absent"));
    assert_eq!(
        host,
        Host {
            unprivileged_start: 1024,
            ..Host::default()
        }
    );
}

#[test]
fn check_mode_warns_about_an_unreadable_secret_file_and_still_needs_a_source() {
    let f = file(&format!("{BASE}secret_file = '/nonexistent/pass-secret'\n")).unwrap();
    let c = resolve(&Settings::default(), &f, SecretSource::Check).unwrap();
    let w: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert!(
        w.iter()
            .any(|w| w.starts_with("secret_file: cannot read /nonexistent/pass-secret")),
        "{w:?}"
    );
    // Readable: no warning. Empty: a warning.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret");
    std::fs::write(&path, "s3cret\n").unwrap();
    let with_path = format!("{BASE}secret_file = '{}'\n", path.display());
    let c = resolve(
        &Settings::default(),
        &file(&with_path).unwrap(),
        SecretSource::Check,
    )
    .unwrap();
    assert!(
        c.warnings.iter().all(|w| w.field != "secret_file"),
        "{:?}",
        c.warnings
    );
    std::fs::write(&path, "\n").unwrap();
    let c = resolve(
        &Settings::default(),
        &file(&with_path).unwrap(),
        SecretSource::Check,
    )
    .unwrap();
    assert!(c.warnings.iter().any(|w| w
        .to_string()
        .starts_with("secret_file: the secret is empty")));
}
