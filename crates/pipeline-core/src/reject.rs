//! Why an event is refused. Every refusal becomes a dead letter carrying its [`Reason`] code and a
//! readable detail; nothing is dropped silently.

use std::fmt;

/// The reason code of a dead letter: stable, snake_case, and the value of the DLQ's
/// `dlq.reason` header and of the `reason` metric dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// No bytes at all, or a Kafka record with a null value.
    Empty,
    /// Larger than the spec's `event.max_bytes`.
    TooLarge,
    /// Not a JSON object: bad syntax, truncated, invalid UTF-8, raw control characters,
    /// a duplicate key, or another JSON type at the top. For Avro input: a wire-format header
    /// that cannot be read (truncated, an unknown version, compression or magic byte), a body
    /// that does not inflate, or a body that is not a record of its schema.
    Malformed,
    /// A required field is absent or `null`.
    MissingField,
    /// A field holds the wrong JSON type (a string where a number belongs, a fraction where an
    /// integer belongs).
    WrongType,
    /// The right type but a value the spec refuses: pattern, allowed values, length, too many
    /// decimal places, exponent notation, an impossible time.
    InvalidValue,
    /// A number outside the spec's bounds or beyond what the fixed-point type holds.
    OutOfRange,
    /// The event time is further from the record's timestamp than the spec allows.
    TimeSkew,
    /// Every window the event belongs to had already closed (watermark past its end).
    Late,
    /// Its key is new to its window, and the window already holds the spec's
    /// `window.max_keys` keys: the partition's state budget.
    OverCapacity,
    /// The record's wire-format header names a schema version the registry does not know or
    /// that cannot be read (Avro input only).
    UnknownSchema,
}

impl Reason {
    /// All reasons, in a stable order (for metrics and docs).
    pub const ALL: [Reason; 11] = [
        Reason::Empty,
        Reason::TooLarge,
        Reason::Malformed,
        Reason::MissingField,
        Reason::WrongType,
        Reason::InvalidValue,
        Reason::OutOfRange,
        Reason::TimeSkew,
        Reason::Late,
        Reason::OverCapacity,
        Reason::UnknownSchema,
    ];

    pub const fn code(self) -> &'static str {
        match self {
            Reason::Empty => "empty",
            Reason::TooLarge => "too_large",
            Reason::Malformed => "malformed",
            Reason::MissingField => "missing_field",
            Reason::WrongType => "wrong_type",
            Reason::InvalidValue => "invalid_value",
            Reason::OutOfRange => "out_of_range",
            Reason::TimeSkew => "time_skew",
            Reason::Late => "late",
            Reason::OverCapacity => "over_capacity",
            Reason::UnknownSchema => "unknown_schema",
        }
    }

    /// The reason for a code, as read back from a dead letter's header.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A refused event: its reason and a one-line human-readable detail. The detail quotes at most
/// [`MAX_QUOTE`] characters of the offending value, so a hostile payload cannot bloat headers or
/// logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: Reason,
    pub detail: String,
}

/// The most characters of a bad value quoted in a detail.
pub const MAX_QUOTE: usize = 40;

impl Rejection {
    pub fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.detail)
    }
}

/// A value shortened to [`MAX_QUOTE`] characters for a detail, with control characters escaped.
pub fn quote(value: &str) -> String {
    let mut out = String::new();
    for (i, c) in value.chars().enumerate() {
        if i == MAX_QUOTE {
            out.push('…');
            break;
        }
        out.extend(c.escape_debug());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        for reason in Reason::ALL {
            assert_eq!(Reason::from_code(reason.code()), Some(reason));
        }
        let mut codes: Vec<_> = Reason::ALL.iter().map(|r| r.code()).collect();
        codes.dedup();
        assert_eq!(codes.len(), Reason::ALL.len());
    }

    #[test]
    fn quotes_are_short_and_printable() {
        assert_eq!(quote("AMZN"), "AMZN");
        assert_eq!(quote("a\u{0}b"), "a\\0b");
        assert_eq!(quote(&"x".repeat(100)).chars().count(), MAX_QUOTE + 1);
    }
}
