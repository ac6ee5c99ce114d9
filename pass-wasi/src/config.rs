//! The configuration record: `config key=value ...` (ENGINE-ABI.md, "Configuration").

use pass_core::jid::Jid;
use pass_core::lease::Config;
use pass_core::time::Duration;
use std::net::IpAddr;
use std::string::{String, ToString};
use std::vec::Vec;

/// What the configuration record sets up: the service's settings and, optionally,
/// a fault to inject (by its pass-faults name).
#[derive(Debug, PartialEq, Eq)]
pub struct GuestConfig {
    /// The service's settings, validated.
    pub config: Config,
    /// `fault=NAME`, if given.
    pub fault: Option<String>,
}

/// Parses the fields after the `config` keyword.
pub fn parse_config(fields: &str) -> Result<GuestConfig, String> {
    let mut service = None;
    let mut advertised = None;
    let mut fault = None;
    let mut rest: Vec<(&str, &str)> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for field in fields.split(' ').filter(|f| !f.is_empty()) {
        let (key, value) = field
            .split_once('=')
            .ok_or_else(|| format!("config: field {field:?} is not key=value"))?;
        if seen.contains(&key) {
            return Err(format!("config: {key} given twice"));
        }
        seen.push(key);
        match key {
            "service" => {
                service = Some(Jid::new(value).map_err(|e| format!("config: service: {e}"))?)
            }
            "advertised" => advertised = Some(parse_ips(value)?),
            "fault" => fault = Some(value.to_string()),
            _ => rest.push((key, value)),
        }
    }
    let service = service.ok_or("config: service is required")?;
    let advertised = advertised.ok_or("config: advertised is required")?;
    let mut config = Config::new(service, advertised);
    for (key, value) in rest {
        match key {
            "ports" => {
                let (first, last) = value
                    .split_once('-')
                    .ok_or_else(|| format!("config: ports {value:?} is not FIRST-LAST"))?;
                config.first_port = number(key, first)?;
                config.last_port = number(key, last)?;
            }
            "max_leases" => config.max_leases = number(key, value)?,
            "max_leases_per_account" => config.max_leases_per_account = number(key, value)?,
            "max_relays" => config.max_relays = number(key, value)?,
            "max_expire_ms" => config.max_expire = Duration::from_millis(number(key, value)?),
            "answer_timeout_ms" => {
                config.answer_timeout = Duration::from_millis(number(key, value)?)
            }
            "proxy_window_ms" => config.proxy_window = Duration::from_millis(number(key, value)?),
            "seed" => config.seed = number(key, value)?,
            "quarantine_ms" => config.quarantine = Duration::from_millis(number(key, value)?),
            "iq_burst" => config.iq_burst = number(key, value)?,
            "iq_per_second" => config.iq_per_second = number(key, value)?,
            "call_burst" => config.call_burst = number(key, value)?,
            "call_per_second" => config.call_per_second = number(key, value)?,
            "max_stanza_bytes" => config.stanza_limits.max_stanza_bytes = number(key, value)?,
            "max_depth" => config.stanza_limits.max_depth = number(key, value)?,
            "max_attributes" => config.stanza_limits.max_attributes = number(key, value)?,
            "max_attribute_bytes" => config.stanza_limits.max_attribute_bytes = number(key, value)?,
            "max_text_bytes" => config.stanza_limits.max_text_bytes = number(key, value)?,
            _ => return Err(format!("config: unknown key {key:?}")),
        }
    }
    config.validate().map_err(|e| format!("config: {e}"))?;
    Ok(GuestConfig { config, fault })
}

fn parse_ips(value: &str) -> Result<Vec<IpAddr>, String> {
    value
        .split(',')
        .map(|ip| {
            ip.parse::<IpAddr>()
                .map_err(|_| format!("config: advertised: {ip:?} is not an IP address"))
        })
        .collect()
}

fn number<T: core::str::FromStr>(key: &str, value: &str) -> Result<T, String> {
    // Decimal digits only: `FromStr` for integers also takes a leading '+'.
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("config: {key}: {value:?} is not a decimal number"));
    }
    value
        .parse()
        .map_err(|_| format!("config: {key}: {value:?} is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_record_takes_defaults() {
        let c = parse_config("service=pass.example advertised=192.0.2.1").unwrap();
        let want = Config::new(
            Jid::new("pass.example").unwrap(),
            vec!["192.0.2.1".parse().unwrap()],
        );
        assert_eq!(
            c,
            GuestConfig {
                config: want,
                fault: None
            }
        );
    }

    #[test]
    fn every_key_is_read() {
        let c = parse_config(
            "service=p.x advertised=192.0.2.1,2001:db8::1 ports=5000-5009 max_leases=3 \
             max_leases_per_account=2 max_relays=4 max_expire_ms=60000 answer_timeout_ms=1500 \
             proxy_window_ms=2500 seed=99 quarantine_ms=7000 iq_burst=5 iq_per_second=6 \
             call_burst=3 call_per_second=4 max_stanza_bytes=9000 max_depth=7 max_attributes=8 max_attribute_bytes=900 \
             max_text_bytes=800 fault=ignore-close",
        )
        .unwrap();
        // No `..`: a new Config field fails to compile here until the ABI has its key.
        let Config {
            service,
            advertised,
            first_port,
            last_port,
            max_leases,
            max_leases_per_account,
            max_relays,
            max_expire,
            answer_timeout,
            proxy_window,
            seed,
            quarantine,
            iq_burst,
            iq_per_second,
            call_burst,
            call_per_second,
            stanza_limits,
        } = c.config;
        assert_eq!(service, Jid::new("p.x").unwrap());
        assert_eq!(advertised.len(), 2);
        assert_eq!((first_port, last_port), (5000, 5009));
        assert_eq!((max_leases, max_leases_per_account, max_relays), (3, 2, 4));
        assert_eq!(max_expire, Duration::from_secs(60));
        assert_eq!(answer_timeout, Duration::from_millis(1500));
        assert_eq!(proxy_window, Duration::from_millis(2500));
        assert_eq!(seed, 99);
        assert_eq!(quarantine, Duration::from_secs(7));
        assert_eq!((iq_burst, iq_per_second), (5, 6));
        assert_eq!((call_burst, call_per_second), (3, 4));
        assert_eq!(
            stanza_limits,
            pass_core::xml::Limits {
                max_stanza_bytes: 9000,
                max_depth: 7,
                max_attributes: 8,
                max_attribute_bytes: 900,
                max_text_bytes: 800,
            }
        );
        assert_eq!(c.fault.as_deref(), Some("ignore-close"));
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            ("advertised=192.0.2.1", "service is required"),
            ("service=p.x", "advertised is required"),
            ("service=p.x advertised=nope", "advertised"),
            ("service=p.x advertised=192.0.2.1 ports=9-1", "ports"),
            (
                "service=p.x advertised=192.0.2.1 ports=70000-70001",
                "ports",
            ),
            ("service=p.x advertised=192.0.2.1 seed=+1", "seed"),
            (
                "service=p.x advertised=192.0.2.1 colour=blue",
                "unknown key",
            ),
            ("service=p.x service=q.x advertised=192.0.2.1", "twice"),
            (
                "service=p.x advertised=192.0.2.1 max_relays=0",
                "max_relays",
            ),
            ("service=p.x advertised=192.0.2.1 bare", "key=value"),
        ];
        for (input, needle) in cases {
            let err = parse_config(input).unwrap_err();
            assert!(err.contains(needle), "{input}: {err}");
        }
    }
}
