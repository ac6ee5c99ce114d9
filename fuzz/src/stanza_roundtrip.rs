//! `stanza_roundtrip`: bytes → element → [`Iq`] → [`PassMessage`]. At each level
//! that accepts the input, writing the value and reading it back gives the same
//! value (errors written in their full form: legacy code, type and condition, as
//! DESIGN decision 5 says writers do), and the lenient reader agrees with the
//! strict one when it reports no deviation.

use crate::reread_limits;
use pass_core::stanza::{Iq, PassMessage, Query, StanzaError};
use pass_core::xml::{parse_element, Element, Limits};

/// `error` as the writer puts it: code, type and condition all present.
pub fn written_form(error: &StanzaError) -> StanzaError {
    StanzaError {
        code: Some(error.effective_code()),
        kind: Some(error.effective_kind()),
        condition: Some(error.effective_condition()),
        text: error.text.clone(),
    }
}

fn iq_written_form(iq: &Iq) -> Iq {
    Iq {
        error: iq.error.as_ref().map(written_form),
        ..iq.clone()
    }
}

fn message_written_form(msg: &PassMessage) -> PassMessage {
    match msg {
        PassMessage::Deny {
            client,
            proxy,
            error,
        } => PassMessage::Deny {
            client: *client,
            proxy: *proxy,
            error: written_form(error),
        },
        other => other.clone(),
    }
}

/// Writes `element` and reads it back.
fn reread(element: &Element) -> Element {
    let written = element.to_xml();
    match parse_element(written.as_bytes(), &reread_limits()) {
        Ok(e) => e,
        Err(e) => panic!("the writer's output does not read back: {e}\n  output: {written}"),
    }
}

/// Checks one input; panics if a property fails.
pub fn check(data: &[u8]) {
    let Ok(element) = parse_element(data, &Limits::default()) else {
        return;
    };
    let lenient = PassMessage::from_element_lenient(&element);
    let Ok(iq) = Iq::try_from(&element) else {
        return;
    };
    let back = Iq::try_from(&reread(&iq.to_element()));
    assert_eq!(back, Ok(iq_written_form(&iq)), "IQ changed by write → read");

    if let Some(payload) = &iq.payload {
        if let Ok(query) = Query::try_from(payload) {
            let back = Query::try_from(&reread(&Element::from(&query)));
            assert_eq!(back, Ok(query), "query changed by write → read");
        }
    }

    let Ok(msg) = PassMessage::from_iq(&iq) else {
        return;
    };
    if let Ok((lenient_msg, deviations)) = &lenient {
        if deviations.is_empty() {
            assert_eq!(lenient_msg, &msg, "lenient and strict readers disagree");
        }
    }
    let canonical = msg.to_iq(&iq.id, iq.from.clone(), iq.to.clone());
    let back = Iq::try_from(&reread(&canonical.to_element()))
        .map_err(|e| e.to_string())
        .and_then(|iq| PassMessage::from_iq(&iq).map_err(|e| e.to_string()));
    assert_eq!(
        back,
        Ok(message_written_form(&msg)),
        "message changed by to_iq → write → read"
    );
    let items = Query::try_from(&msg.to_query());
    assert_eq!(
        items,
        Ok(msg.to_query_items()),
        "to_query and to_query_items disagree"
    );
}
