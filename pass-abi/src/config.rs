//! The configuration record (`docs/ENGINE-ABI.md`, "Configuration"): the first event.

use crate::error::{RecordError, RecordKind};
use crate::field::{malformed, number};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::IpAddr;
use pass_core::jid::Jid;
use pass_core::lease::Config;
use pass_core::time::Duration;

const RECORD: RecordKind = RecordKind::Config;

/// `config service=JID advertised=IP[,IP] [KEY=VALUE ...]`: the service's settings
/// and, for testing, a fault to inject.
///
/// Written with every key (so that a module's defaults never matter); read with
/// [`Config`]'s defaults for the keys left out, then
/// [validated](Config::validate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigRecord {
    /// The service's settings. `service` must be a JID without spaces (a component
    /// JID is a bare domain).
    pub config: Config,
    /// `fault=NAME`: one of `pass-faults`' broken behaviours, by name (a module
    /// without fault injection refuses the key).
    pub fault: Option<String>,
}

impl ConfigRecord {
    /// The record for `config`, without a fault.
    pub fn new(config: Config) -> ConfigRecord {
        ConfigRecord {
            config,
            fault: None,
        }
    }

    /// Reads the fields after the `config` keyword.
    pub(crate) fn decode_fields(fields: &str) -> Result<ConfigRecord, RecordError> {
        let mut service = None;
        let mut advertised = None;
        let mut fault = None;
        let mut rest: Vec<(&str, &str)> = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for field in fields.split(' ').filter(|f| !f.is_empty()) {
            let (key, value) = field
                .split_once('=')
                .ok_or_else(|| RecordError::NotKeyValue {
                    field: String::from(field),
                })?;
            if seen.contains(&key) {
                return Err(RecordError::RepeatedKey {
                    key: String::from(key),
                });
            }
            seen.push(key);
            match key {
                "service" => {
                    service = Some(Jid::new(value).map_err(|error| RecordError::Jid {
                        record: RECORD,
                        field: "service",
                        error,
                    })?)
                }
                "advertised" => advertised = Some(ips(value)?),
                "fault" => fault = Some(String::from(value)),
                _ => rest.push((key, value)),
            }
        }
        let service = service.ok_or(RecordError::MissingKey { key: "service" })?;
        let advertised = advertised.ok_or(RecordError::MissingKey { key: "advertised" })?;
        let mut config = Config::new(service, advertised);
        let ms = |key, value| number(RECORD, key, value).map(Duration::from_millis);
        for (key, value) in rest {
            match key {
                "ports" => {
                    let (first, last) = value
                        .split_once('-')
                        .ok_or_else(|| malformed(RECORD, "ports", value, "FIRST-LAST"))?;
                    config.first_port = number(RECORD, "ports", first)?;
                    config.last_port = number(RECORD, "ports", last)?;
                }
                "max_leases" => config.max_leases = number(RECORD, "max_leases", value)?,
                "max_leases_per_account" => {
                    config.max_leases_per_account = number(RECORD, "max_leases_per_account", value)?
                }
                "max_relays" => config.max_relays = number(RECORD, "max_relays", value)?,
                "max_expire_ms" => config.max_expire = ms("max_expire_ms", value)?,
                "answer_timeout_ms" => config.answer_timeout = ms("answer_timeout_ms", value)?,
                "proxy_window_ms" => config.proxy_window = ms("proxy_window_ms", value)?,
                "seed" => config.seed = number(RECORD, "seed", value)?,
                "quarantine_ms" => config.quarantine = ms("quarantine_ms", value)?,
                "iq_burst" => config.iq_burst = number(RECORD, "iq_burst", value)?,
                "iq_per_second" => config.iq_per_second = number(RECORD, "iq_per_second", value)?,
                "call_burst" => config.call_burst = number(RECORD, "call_burst", value)?,
                "call_per_second" => {
                    config.call_per_second = number(RECORD, "call_per_second", value)?
                }
                "max_idle_lease_ms" => config.max_idle_lease = ms("max_idle_lease_ms", value)?,
                "reconnect_grace_ms" => config.reconnect_grace = ms("reconnect_grace_ms", value)?,
                "max_stanza_bytes" => {
                    config.stanza_limits.max_stanza_bytes =
                        number(RECORD, "max_stanza_bytes", value)?
                }
                "max_depth" => config.stanza_limits.max_depth = number(RECORD, "max_depth", value)?,
                "max_attributes" => {
                    config.stanza_limits.max_attributes = number(RECORD, "max_attributes", value)?
                }
                "max_attribute_bytes" => {
                    config.stanza_limits.max_attribute_bytes =
                        number(RECORD, "max_attribute_bytes", value)?
                }
                "max_text_bytes" => {
                    config.stanza_limits.max_text_bytes = number(RECORD, "max_text_bytes", value)?
                }
                _ => {
                    return Err(RecordError::UnknownKey {
                        key: String::from(key),
                    })
                }
            }
        }
        config.validate().map_err(RecordError::InvalidConfig)?;
        Ok(ConfigRecord { config, fault })
    }
}

/// `IP[,IP]`.
fn ips(value: &str) -> Result<Vec<IpAddr>, RecordError> {
    value
        .split(',')
        .map(|ip| {
            ip.parse()
                .map_err(|_| malformed(RECORD, "advertised", ip, "an IP address"))
        })
        .collect()
}

/// The whole record, every key written, `fault=NAME` last if given.
impl fmt::Display for ConfigRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
            max_idle_lease,
            reconnect_grace,
            stanza_limits,
        } = &self.config;
        write!(f, "config service={service} advertised=")?;
        for (i, ip) in advertised.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{ip}")?;
        }
        write!(
            f,
            " ports={first_port}-{last_port} \
             max_leases={max_leases} max_leases_per_account={max_leases_per_account} \
             max_relays={max_relays} max_expire_ms={} answer_timeout_ms={} proxy_window_ms={} \
             seed={seed} quarantine_ms={} iq_burst={iq_burst} iq_per_second={iq_per_second} \
             call_burst={call_burst} call_per_second={call_per_second} max_idle_lease_ms={} \
             reconnect_grace_ms={} max_stanza_bytes={} \
             max_depth={} max_attributes={} max_attribute_bytes={} max_text_bytes={}",
            max_expire.as_millis(),
            answer_timeout.as_millis(),
            proxy_window.as_millis(),
            quarantine.as_millis(),
            max_idle_lease.as_millis(),
            reconnect_grace.as_millis(),
            stanza_limits.max_stanza_bytes,
            stanza_limits.max_depth,
            stanza_limits.max_attributes,
            stanza_limits.max_attribute_bytes,
            stanza_limits.max_text_bytes,
        )?;
        if let Some(name) = &self.fault {
            write!(f, " fault={name}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;
    use alloc::string::ToString;
    use alloc::vec;

    fn decode(fields: &str) -> Result<ConfigRecord, RecordError> {
        ConfigRecord::decode_fields(fields)
    }

    #[test]
    fn minimal_record_takes_defaults() {
        let c = decode("service=pass.example advertised=192.0.2.1").unwrap();
        let want = Config::new(
            Jid::new("pass.example").unwrap(),
            vec!["192.0.2.1".parse().unwrap()],
        );
        assert_eq!(c, ConfigRecord::new(want));
    }

    #[test]
    fn every_key_is_read() {
        let c = decode(
            "service=p.x advertised=192.0.2.1,2001:db8::1 ports=5000-5009 max_leases=3 \
             max_leases_per_account=2 max_relays=4 max_expire_ms=60000 answer_timeout_ms=1500 \
             proxy_window_ms=2500 seed=99 quarantine_ms=7000 iq_burst=5 iq_per_second=6 \
             call_burst=3 call_per_second=4 max_idle_lease_ms=0 reconnect_grace_ms=5000 max_stanza_bytes=9000 max_depth=7 max_attributes=8 max_attribute_bytes=900 \
             max_text_bytes=800 fault=ignore-close",
        )
        .unwrap();
        // Every field differs from its default, so a key left unread shows.
        let want = Config {
            service: Jid::new("p.x").unwrap(),
            advertised: vec!["192.0.2.1".parse().unwrap(), "2001:db8::1".parse().unwrap()],
            first_port: 5000,
            last_port: 5009,
            max_leases: 3,
            max_leases_per_account: 2,
            max_relays: 4,
            max_expire: Duration::from_secs(60),
            answer_timeout: Duration::from_millis(1500),
            proxy_window: Duration::from_millis(2500),
            seed: 99,
            quarantine: Duration::from_secs(7),
            iq_burst: 5,
            iq_per_second: 6,
            call_burst: 3,
            call_per_second: 4,
            max_idle_lease: Duration::ZERO,
            reconnect_grace: Duration::from_secs(5),
            stanza_limits: pass_core::xml::Limits {
                max_stanza_bytes: 9000,
                max_depth: 7,
                max_attributes: 8,
                max_attribute_bytes: 900,
                max_text_bytes: 800,
            },
        };
        assert_eq!(c.config, want);
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
            let err = decode(input).unwrap_err().to_string();
            assert!(err.starts_with("config: "), "{input}: {err}");
            assert!(err.contains(needle), "{input}: {err}");
        }
        assert_eq!(
            decode("service=p.x advertised=192.0.2.1 max_leases=0"),
            Err(RecordError::InvalidConfig(pass_core::lease::ConfigError {
                field: "max_leases",
                reason: "must be at least 1"
            }))
        );
        assert_eq!(
            decode("service=p.x advertised=192.0.2.1 colour=blue"),
            Err(RecordError::UnknownKey {
                key: "colour".to_string()
            })
        );
    }

    #[test]
    fn writes_every_key() {
        let config = Config::new(
            Jid::new("pass.example").unwrap(),
            vec!["192.0.2.1".parse().unwrap()],
        );
        let record = ConfigRecord {
            config,
            fault: Some("drop-notices".to_string()),
        };
        let r = record.to_string();
        assert!(
            r.starts_with("config service=pass.example advertised=192.0.2.1 ports=40000-40999 "),
            "{r}"
        );
        assert!(
            r.ends_with(
                " iq_burst=20 iq_per_second=10 call_burst=100 call_per_second=20 \
                 max_idle_lease_ms=86400000 reconnect_grace_ms=60000 \
                 max_stanza_bytes=65536 max_depth=32 \
                 max_attributes=32 max_attribute_bytes=4096 max_text_bytes=16384 \
                 fault=drop-notices"
            ),
            "{r}"
        );
        assert_eq!(Event::decode(r.as_bytes()), Ok(Event::Config(record)));
    }
}
