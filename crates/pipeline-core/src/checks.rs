//! The spec's `[[checks]]` applied to a feature record, as the checker Lambda reads it back
//! from the Feature Group: each rule is a condition over the aggregate's columns
//! (`low <= open and open <= high`), checked against the record's values.
//!
//! A rule that reads a column the record has no value for (a ratio over zero weight, a minimum
//! over no values) is undecided, not failed, as SQL treats a comparison with null: it says
//! nothing about the record's sanity. A value that is not of its column's type is a failure of
//! its own.

use crate::expr::{Env, Value};
use crate::features::FeatureRecord;
use crate::{ColumnType, Spec};

/// The values of one record, by output column.
struct Columns<'r> {
    values: Vec<Value<'r>>,
}

impl Env for Columns<'_> {
    fn value(&self, slot: usize) -> Value<'_> {
        self.values.get(slot).copied().unwrap_or(Value::Null)
    }
}

/// What the checks found wrong with `record`, in words: failed rules (as written in the spec)
/// and values that are not of their column's type. Empty when the record is sane.
pub fn failed_checks(spec: &Spec, record: &FeatureRecord) -> Vec<String> {
    let mut problems = Vec::new();
    let values = spec
        .output_columns()
        .iter()
        .map(|column| match record.get(&column.name) {
            None => Value::Null,
            Some(text) => parse(column.column_type, text).unwrap_or_else(|| {
                problems.push(format!(
                    "{} is not {}: `{text}`",
                    column.name,
                    what(column.column_type)
                ));
                Value::Null
            }),
        })
        .collect();
    let columns = Columns { values };
    let mut read = Vec::new();
    for check in &spec.checks {
        read.clear();
        check.expr.slots(&mut read);
        let undecided = read
            .iter()
            .any(|&slot| matches!(columns.value(slot), Value::Null));
        if !undecided && !check.expr.truth(&columns) {
            problems.push(format!("fails `{}`", check.rule));
        }
    }
    problems
}

fn what(column_type: ColumnType) -> &'static str {
    match column_type {
        ColumnType::String | ColumnType::Date => "text",
        ColumnType::Timestamp => "an RFC 3339 time",
        ColumnType::Integer | ColumnType::Decimal { .. } => "a number",
        ColumnType::Boolean => "true or false",
    }
}

/// A stored feature value as the expression language sees its column's type.
fn parse(column_type: ColumnType, text: &str) -> Option<Value<'_>> {
    match column_type {
        ColumnType::String | ColumnType::Date => Some(Value::Str(text)),
        ColumnType::Timestamp => crate::time::parse_rfc3339_millis(text)
            .ok()
            .map(Value::Timestamp),
        ColumnType::Integer | ColumnType::Decimal { .. } => {
            number(text).map(|(units, scale)| Value::Number(units, scale))
        }
        ColumnType::Boolean => match text {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
    }
}

/// Most decimal places kept from a value the Feature Store wrote with an exponent.
const EXPONENT_SCALE: u32 = 9;

/// A number as units and scale: exactly for plain decimal text (`-187.25`); through `f64` for
/// the exponent form a Fractional feature may come back in (`1.2e-7`).
fn number(text: &str) -> Option<(i128, u32)> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let plain = !whole.is_empty()
        && whole.len() + fraction.len() <= 36
        && whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit());
    if plain {
        let units: i128 = format!("{whole}{fraction}").parse().ok()?;
        let units = if negative { -units } else { units };
        return Some((units, fraction.len() as u32));
    }
    let value: f64 = text.parse().ok()?;
    let scaled = (value * 10f64.powi(EXPONENT_SCALE as i32)).round();
    (scaled.is_finite() && scaled.abs() < 1e36).then_some((scaled as i128, EXPONENT_SCALE))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::features::record_from_aggregate;

    fn stock_ticks() -> Spec {
        Spec::from_toml(crate::STOCK_TICKS_SPEC, "stock-ticks").unwrap()
    }

    const AGGREGATE: &str = r#"{"aggregate_id":"AMZN:1795271400000","ticker":"AMZN","window_start":"2026-11-21T14:30:00.000Z","window_end":"2026-11-21T14:31:00.000Z","session_date":"2026-11-21","count":3,"volume":300,"open":187.2500,"high":187.5000,"low":187.0000,"close":187.5000,"vwap":187.250000,"avg_price":187.250000,"notional":56175.0000}"#;

    fn record(json: &str) -> FeatureRecord {
        record_from_aggregate(&stock_ticks(), json.as_bytes()).unwrap()
    }

    #[test]
    fn a_sane_record_passes_every_rule() {
        assert!(!stock_ticks().checks.is_empty());
        assert_eq!(
            failed_checks(&stock_ticks(), &record(AGGREGATE)),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_broken_rule_is_named_as_the_spec_writes_it() {
        let spec = stock_ticks();
        let json = AGGREGATE.replace("\"open\":187.2500", "\"open\":190.0000");
        let problems = failed_checks(&spec, &record(&json));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("fails `") && problems[0].contains("open"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_rule_over_a_missing_value_is_undecided() {
        let spec = stock_ticks();
        let json = AGGREGATE.replace("\"vwap\":187.250000", "\"vwap\":null");
        assert_eq!(failed_checks(&spec, &record(&json)), Vec::<String>::new());
    }

    #[test]
    fn a_value_of_the_wrong_type_is_a_problem() {
        let spec = stock_ticks();
        let mut stored = record(AGGREGATE);
        for (name, value) in &mut stored.values {
            if name == "high" {
                *value = "tall".into();
            }
        }
        let problems = failed_checks(&spec, &stored);
        assert_eq!(problems, vec!["high is not a number: `tall`".to_owned()]);
    }

    #[test]
    fn numbers_come_back_exactly_or_through_their_exponent() {
        assert_eq!(number("-187.25"), Some((-18_725, 2)));
        assert_eq!(number("3"), Some((3, 0)));
        assert_eq!(number("1.5e-3"), Some((1_500_000, 9)));
        assert_eq!(number("x"), None);
        assert_eq!(number("1e400"), None);
    }
}
