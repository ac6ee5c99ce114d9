//! Why bytes are not a record: which record, which field, what was wrong.

use alloc::string::String;
use core::fmt;
use pass_core::jid::JidError;
use pass_core::lease::ConfigError;
use pass_core::stanza::ParseIqError;
use pass_core::xml::XmlError;

/// A record of `docs/ENGINE-ABI.md`, by what it is rather than by its keyword
/// (`listen` is both an event and an action).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordKind {
    /// Event `config service=JID advertised=IP[,IP] [KEY=VALUE ...]`.
    Config,
    /// Event `stanza NOW XML`.
    Stanza,
    /// Event `listen NOW PORT ok|addr-in-use|other`.
    ListenResult,
    /// Event `conn NOW CONN PORT PEER`.
    Conn,
    /// Event `closed NOW CONN`.
    Closed,
    /// Event `timeout NOW`.
    Timeout,
    /// Event `shutdown NOW`.
    Shutdown,
    /// Output `send XML`.
    Send,
    /// Output `listen PORT`.
    Listen,
    /// Output `unlisten PORT`.
    Unlisten,
    /// Output `bridge CLIENT OWNER JID`.
    Bridge,
    /// Output `drop CONN`.
    Drop,
    /// Output `next MS|none`.
    Next,
    /// Output `error MESSAGE`.
    Error,
}

impl RecordKind {
    /// The keyword the record starts with.
    pub fn keyword(self) -> &'static str {
        match self {
            RecordKind::Config => "config",
            RecordKind::Stanza => "stanza",
            RecordKind::ListenResult | RecordKind::Listen => "listen",
            RecordKind::Conn => "conn",
            RecordKind::Closed => "closed",
            RecordKind::Timeout => "timeout",
            RecordKind::Shutdown => "shutdown",
            RecordKind::Send => "send",
            RecordKind::Unlisten => "unlisten",
            RecordKind::Bridge => "bridge",
            RecordKind::Drop => "drop",
            RecordKind::Next => "next",
            RecordKind::Error => "error",
        }
    }

    /// The record's form, as `docs/ENGINE-ABI.md` writes it.
    pub fn syntax(self) -> &'static str {
        match self {
            RecordKind::Config => "config service=JID advertised=IP[,IP] [KEY=VALUE ...]",
            RecordKind::Stanza => "stanza NOW XML",
            RecordKind::ListenResult => "listen NOW PORT ok|addr-in-use|other",
            RecordKind::Conn => "conn NOW CONN PORT PEER",
            RecordKind::Closed => "closed NOW CONN",
            RecordKind::Timeout => "timeout NOW",
            RecordKind::Shutdown => "shutdown NOW",
            RecordKind::Send => "send XML",
            RecordKind::Listen => "listen PORT",
            RecordKind::Unlisten => "unlisten PORT",
            RecordKind::Bridge => "bridge CLIENT OWNER JID",
            RecordKind::Drop => "drop CONN",
            RecordKind::Next => "next MS|none",
            RecordKind::Error => "error MESSAGE",
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// Why bytes are not a record (or an output not a well-formed answer).
///
/// The `Display` text is what a module writes after `error` when it refuses an
/// event, and what a host quotes when a module's output breaks the ABI.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    /// An event's bytes are not UTF-8.
    NotUtf8,
    /// An event holds a line break other than one trailing LF or CRLF.
    SeveralLines,
    /// An event whose keyword this version does not define.
    UnknownEvent {
        /// The first word of the record.
        keyword: String,
    },
    /// An output line whose keyword this version does not define.
    UnknownOutput {
        /// The first word of the line.
        keyword: String,
    },
    /// Too few or too many fields for the record.
    FieldCount {
        /// The record.
        record: RecordKind,
    },
    /// A field that is not of its form (a decimal number, `ADDRESS:PORT`, ...).
    Malformed {
        /// The record.
        record: RecordKind,
        /// The field, as `docs/ENGINE-ABI.md` names it (lower case).
        field: &'static str,
        /// What the field held.
        value: String,
        /// What it should be, e.g. `a decimal number`.
        expected: &'static str,
    },
    /// A decimal number too large for its field (a port over 65535, a time over
    /// 64 bits).
    OutOfRange {
        /// The record.
        record: RecordKind,
        /// The field.
        field: &'static str,
        /// What the field held.
        value: String,
    },
    /// The XML of a `stanza` or `send` record is not one well-formed element
    /// within the default [`Limits`](pass_core::xml::Limits).
    Xml {
        /// The record.
        record: RecordKind,
        /// Why.
        error: XmlError,
    },
    /// A `send` record's element is not an IQ.
    NotAnIq(ParseIqError),
    /// A JID field is not a JID.
    Jid {
        /// The record.
        record: RecordKind,
        /// The field (`service`, `account`).
        field: &'static str,
        /// Why.
        error: JidError,
    },
    /// A configuration field that is not `KEY=VALUE`.
    NotKeyValue {
        /// The field.
        field: String,
    },
    /// A configuration key this version does not define.
    UnknownKey {
        /// The key.
        key: String,
    },
    /// A configuration key given more than once.
    RepeatedKey {
        /// The key.
        key: String,
    },
    /// A required configuration key (`service`, `advertised`) is missing.
    MissingKey {
        /// The key.
        key: &'static str,
    },
    /// The configuration's values do not hang together
    /// ([`Config::validate`](pass_core::lease::Config::validate)).
    InvalidConfig(ConfigError),
    /// An output whose last line has no LF.
    NoFinalLineBreak,
    /// An output with lines after its `next`.
    AfterNext,
    /// An output without a `next` line.
    NoNext,
    /// An output with more than one `error` line.
    SeveralErrors,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::NotUtf8 => f.write_str("event is not UTF-8"),
            RecordError::SeveralLines => f.write_str("event holds more than one line"),
            RecordError::UnknownEvent { keyword } => write!(f, "unknown event {keyword:?}"),
            RecordError::UnknownOutput { keyword } => write!(f, "unknown record {keyword:?}"),
            RecordError::FieldCount { record } => write!(
                f,
                "{record}: wrong number of fields, expected `{}`",
                record.syntax()
            ),
            RecordError::Malformed {
                record,
                field,
                value,
                expected,
            } => write!(f, "{record}: {field} {value:?} is not {expected}"),
            RecordError::OutOfRange {
                record,
                field,
                value,
            } => write!(f, "{record}: {field} {value:?} is out of range"),
            RecordError::Xml { record, error } => write!(f, "{record}: not XML: {error}"),
            RecordError::NotAnIq(error) => write!(f, "send: not an IQ: {error}"),
            RecordError::Jid {
                record,
                field,
                error,
            } => write!(f, "{record}: {field}: {error}"),
            RecordError::NotKeyValue { field } => {
                write!(f, "config: field {field:?} is not key=value")
            }
            RecordError::UnknownKey { key } => write!(f, "config: unknown key {key:?}"),
            RecordError::RepeatedKey { key } => write!(f, "config: {key} given twice"),
            RecordError::MissingKey { key } => write!(f, "config: {key} is required"),
            RecordError::InvalidConfig(error) => write!(f, "config: {error}"),
            RecordError::NoFinalLineBreak => f.write_str("output does not end with a line break"),
            RecordError::AfterNext => f.write_str("records after `next`"),
            RecordError::NoNext => f.write_str("output has no `next` record"),
            RecordError::SeveralErrors => f.write_str("output has more than one `error` record"),
        }
    }
}

impl core::error::Error for RecordError {}
