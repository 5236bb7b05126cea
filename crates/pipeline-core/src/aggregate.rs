//! One key's summary of one closed window, and its JSON.

use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate};

use crate::decimal::Fixed;
use crate::key::Key;
use crate::spec::{FieldKind, Spec};
use crate::time::{write_date, write_rfc3339_millis};

/// A column's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// No value: a ratio over zero, a `min` of a field that never had one.
    Null,
    Integer(i128),
    Decimal(Fixed),
    /// Epoch milliseconds.
    Timestamp(i64),
    Date(NaiveDate),
    Boolean(bool),
    String(String),
}

/// One key's summary of one closed window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregate {
    pub key: Key,
    pub window_start_ms: i64,
    pub window_end_ms: i64,
    /// The window columns' values, then the aggregate columns', in spec order.
    pub cells: Vec<Cell>,
}

impl Aggregate {
    /// The de-duplication id downstream: `<key>:<window start, epoch ms>`; the same window of
    /// the same key always gets the same id.
    pub fn aggregate_id(&self) -> String {
        format!("{}:{}", self.key, self.window_start_ms)
    }

    /// The value of the aggregate column named `name`.
    pub fn value<'s>(&'s self, spec: &Spec, name: &str) -> Option<&'s Cell> {
        let windows = spec.window_columns.len();
        spec.window_columns
            .iter()
            .position(|c| c.name == name)
            .or_else(|| {
                spec.aggregates
                    .iter()
                    .position(|a| a.name == name)
                    .map(|i| windows + i)
            })
            .and_then(|i| self.cells.get(i))
    }

    /// The aggregate as one line of JSON, in the order of [`Spec::output_columns`]: decimals
    /// are JSON numbers written exactly with the column's scale, timestamps RFC 3339 in UTC,
    /// dates `YYYY-MM-DD`.
    pub fn to_json(&self, spec: &Spec) -> String {
        let mut out = String::with_capacity(512);
        out.push_str("{\"aggregate_id\":\"");
        push_escaped(&mut out, self.key.as_str());
        out.push(':');
        out.push_str(itoa::Buffer::new().format(self.window_start_ms));
        out.push('"');
        let key_fields = spec.event.key.len();
        if key_fields > 1 {
            out.push_str(",\"");
            out.push_str(crate::spec::KEY_COLUMN);
            out.push_str("\":");
            push_json_string(&mut out, self.key.as_str());
        }
        let mut push_part = |field: &crate::spec::FieldSpec, part: &str| {
            out.push(',');
            push_json_string(&mut out, &field.name);
            out.push(':');
            match field.kind {
                FieldKind::Integer { .. } | FieldKind::Boolean => out.push_str(part),
                _ => push_json_string(&mut out, part),
            }
        };
        if key_fields == 1 {
            // The key is the one field's value as written: nothing to split.
            spec.key_fields()
                .for_each(|field| push_part(field, self.key.as_str()));
        } else {
            let parts = self.key.parts(key_fields);
            for (field, part) in spec.key_fields().zip(&parts) {
                push_part(field, part);
            }
        }
        out.push_str(",\"window_start\":\"");
        write_rfc3339_millis(&mut out, self.window_start_ms);
        out.push_str("\",\"window_end\":\"");
        write_rfc3339_millis(&mut out, self.window_end_ms);
        out.push('"');
        let names = spec
            .window_columns
            .iter()
            .map(|c| c.name.as_str())
            .chain(spec.aggregates.iter().map(|a| a.name.as_str()));
        for (name, cell) in names.zip(&self.cells) {
            out.push(',');
            push_json_string(&mut out, name);
            out.push(':');
            push_cell(&mut out, cell);
        }
        out.push('}');
        out
    }
}

/// Appends one value as JSON. Numbers and dates are written digit by digit, not through the
/// formatter: a run of session windows closes an aggregate every few events.
fn push_cell(out: &mut String, cell: &Cell) {
    let mut digits = itoa::Buffer::new();
    match cell {
        Cell::Null => out.push_str("null"),
        Cell::Integer(i) => out.push_str(digits.format(*i)),
        Cell::Decimal(d) => push_decimal(out, d),
        Cell::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Cell::Timestamp(ms) => {
            out.push('"');
            write_rfc3339_millis(out, *ms);
            out.push('"');
        }
        Cell::Date(date) => {
            out.push('"');
            write_date(out, i64::from(date.year()), date.month(), date.day());
            out.push('"');
        }
        Cell::String(s) => push_json_string(out, s),
    }
}

/// Appends a decimal as [`Fixed`]'s `Display` writes it: the sign, the whole units, and
/// exactly `scale` decimals.
fn push_decimal(out: &mut String, d: &Fixed) {
    let magnitude = d.units.unsigned_abs();
    let Some(divisor) = 10u128.checked_pow(d.scale) else {
        let _ = write!(out, "{d}");
        return;
    };
    if d.units < 0 {
        out.push('-');
    }
    let mut digits = itoa::Buffer::new();
    out.push_str(digits.format(magnitude / divisor));
    if d.scale > 0 {
        out.push('.');
        let fraction = digits.format(magnitude % divisor);
        for _ in fraction.len()..d.scale as usize {
            out.push('0');
        }
        out.push_str(fraction);
    }
}

/// Appends `text` as a JSON string literal, without allocating.
pub(crate) fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    push_escaped(out, text);
    out.push('"');
}

/// Appends `text` escaped for a JSON string: runs that need no escape are copied whole.
fn push_escaped(out: &mut String, text: &str) {
    // Column names and most values need no escape: one pass without an early exit (which the
    // compiler vectorises) decides, and the text is copied whole.
    let needs_escape = |b: u8| b == b'"' || b == b'\\' || b < 0x20;
    if !text.bytes().fold(false, |any, b| any | needs_escape(b)) {
        out.push_str(text);
        return;
    }
    let mut rest = text;
    while let Some(at) = rest.bytes().position(needs_escape) {
        out.push_str(&rest[..at]);
        match rest.as_bytes()[at] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b => {
                let _ = write!(out, "\\u{b:04x}");
            }
        }
        // The byte at `at` is ASCII, so `at + 1` is a character boundary.
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_written_as_their_display() {
        for (units, scale) in [
            (0, 0),
            (-5, 0),
            (12_345, 2),
            (-12_345, 2),
            (5, 4),
            (-5, 4),
            (i128::MAX, 6),
            (i128::MIN, 6),
            (i128::MIN, 0),
            (1, 18),
            (-7, 30),
        ] {
            let d = Fixed::new(units, scale);
            let mut out = String::new();
            push_decimal(&mut out, &d);
            assert_eq!(out, d.to_string(), "{units} at scale {scale}");
        }
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut out = String::new();
        push_json_string(&mut out, "a\"b\\c\u{1}é");
        assert_eq!(out, r#""a\"b\\c\u0001é""#);
        assert_eq!(
            serde_json::from_str::<String>(&out).unwrap_or_default(),
            "a\"b\\c\u{1}é"
        );
    }
}
