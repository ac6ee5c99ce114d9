//! `service_stanzas`: arbitrary bytes as stanzas into
//! [`Service::handle_stanza`](pass_core::service::Service): it never panics, and
//! every `<iq/>` with an `id` and a `from` that is a JID, and a type other than
//! result or error (get, set, and unknown or missing types, which RFC 6120 §8.3
//! answers with bad-request) gets exactly one answer (a result or an error with
//! that id, to that JID) once the host reports its listens; anything else
//! (results, errors, IQs with nobody to answer, other stanzas) gets none. The
//! simulated host of `pass_core::sim` listens at once, as the node does, and checks
//! the host contract on every action.
//!
//! Input layout: stanzas separated by NUL bytes (which XML cannot contain), at most
//! [`MAX_STANZAS`]; pieces that are not well-formed XML are skipped. Each stanza
//! comes one second after the previous one, so short expiries run out.

use pass_core::jid::Jid;
use pass_core::lease::{Action, Config};
use pass_core::service::Service;
use pass_core::sim::{Checks, Sim, SimConfig};
use pass_core::stanza::IqType;
use pass_core::time::Duration;
use pass_core::xml::{parse_element, Element, Limits};

/// Most stanzas read from one input.
pub const MAX_STANZAS: usize = 16;

/// A small pool (ports 40000–40003) and the default seed, so that a seed corpus
/// can name the ports that registrations get.
pub fn config() -> Config {
    let service = match Jid::new("pass.jabber.org") {
        Ok(j) => j,
        Err(e) => panic!("pass.jabber.org: {e}"),
    };
    let ips = vec![
        [1, 2, 3, 4].into(),
        "2001:db8::1".parse().unwrap_or([0u16; 8].into()),
    ];
    let mut c = Config::new(service, ips);
    c.first_port = 40000;
    c.last_port = 40003;
    c
}

/// How many answers `stanza` must get.
fn answers_expected(stanza: &Element) -> usize {
    let asks = stanza.name == "iq"
        && !matches!(stanza.attr("type"), Some("result" | "error"))
        && stanza.attr("id").is_some()
        && stanza.attr("from").is_some_and(|f| Jid::new(f).is_ok());
    usize::from(asks)
}

/// The service in a checked simulated host that keeps a log of its actions.
fn host() -> Sim<Service> {
    let c = config();
    let checks = Some(Checks::for_config(&c));
    let service = match Service::new(c) {
        Ok(s) => s,
        Err(e) => panic!("the fuzz configuration is invalid: {e}"),
    };
    Sim::new(
        service,
        SimConfig {
            checks,
            keep_log: true,
            ..SimConfig::default()
        },
    )
}

/// The actions since the last call; panics if the host contract broke.
fn carried_out(host: &mut Sim<Service>) -> Vec<Action> {
    if let Err(v) = host.check() {
        panic!("host contract broken: {v}");
    }
    host.take_log()
}

/// Checks one input; panics if a property fails.
pub fn check(data: &[u8]) {
    let mut host = host();
    for piece in data.split(|&b| b == 0).take(MAX_STANZAS) {
        let Ok(stanza) = parse_element(piece, &Limits::default()) else {
            continue;
        };
        // Listens succeed at once, as on a host with free ports.
        host.stanza(&stanza);
        let actions = carried_out(&mut host);
        let id = stanza.attr("id");
        let from = stanza.attr("from").and_then(|f| Jid::new(f).ok());
        let answers = actions
            .iter()
            .filter(|a| match a {
                Action::Send(iq) => {
                    matches!(iq.kind, IqType::Result | IqType::Error)
                        && Some(iq.id.as_str()) == id
                        && iq.to.is_some()
                        && iq.to == from
                }
                _ => false,
            })
            .count();
        assert_eq!(
            answers,
            answers_expected(&stanza),
            "wrong number of answers to {}\n  actions: {actions:?}",
            stanza.to_xml()
        );
        host.advance(Duration::from_secs(1));
        carried_out(&mut host);
    }
    host.shutdown();
    carried_out(&mut host);
}

#[cfg(test)]
mod tests {
    use super::*;
    use pass_core::stanza::{Iq, PassMessage};

    fn stanza(xml: &str) -> Element {
        parse_element(xml.as_bytes(), &Limits::default()).unwrap()
    }

    fn sent(actions: &[Action]) -> Vec<&Iq> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send(iq) => Some(iq),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_pool_of_the_seeds_is_small_enough_to_guess() {
        let mut host = host();
        host.stanza(&stanza(
            "<iq type='set' id='r' from='u@jabber.org/r'><query xmlns='jabber:iq:pass'/></iq>",
        ));
        let actions = carried_out(&mut host);
        let result = sent(&actions);
        let Ok(PassMessage::Registered { servers }) = PassMessage::from_iq(result[0]) else {
            panic!("no registration: {actions:?}");
        };
        let port = servers[0].port();
        assert!((40000..=40003).contains(&port));
        let close = format!(
            "<iq type='set' id='c' from='u@jabber.org/other'><query xmlns='jabber:iq:pass'>\
             <close/><proxy port='{port}'>1.2.3.4</proxy></query></iq>"
        );
        host.stanza(&stanza(&close));
        let actions = carried_out(&mut host);
        assert_eq!(sent(&actions)[0].kind, IqType::Result);
    }

    #[test]
    fn answers_are_expected_for_requests_with_someone_to_answer() {
        let cases = [
            ("<iq type='get' id='a' from='u@x'/>", 1),
            ("<iq type='put' id='a' from='u@x'/>", 1),
            ("<iq id='a' from='u@x'/>", 1),
            ("<iq type='result' id='a' from='u@x'/>", 0),
            ("<iq type='error' id='a' from='u@x'/>", 0),
            ("<iq type='get' from='u@x'/>", 0),
            ("<iq type='get' id='a' from='@'/>", 0),
            ("<iq type='get' id='a'/>", 0),
            ("<message type='get' id='a' from='u@x'/>", 0),
        ];
        for (xml, n) in cases {
            assert_eq!(answers_expected(&stanza(xml)), n, "{xml}");
            check(xml.as_bytes());
        }
    }
}
