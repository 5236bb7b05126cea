//! The Feature Group's shape, generated from the spec, and the mapping of an aggregate (its JSON
//! on the output topic) to a feature record: the key field (or, for a composite key, the joined
//! key, `aggregate_key`) is the record identifier, `window_end` the event time, every column a
//! feature of the same name.

use crate::schema::WINDOW_END;
use crate::{ColumnType, Spec};
use serde_json::Value;

/// The Feature Store's feature types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureType {
    Integral,
    Fractional,
    String,
}

impl FeatureType {
    /// The name the Feature Store API and Terraform use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Integral => "Integral",
            Self::Fractional => "Fractional",
            Self::String => "String",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureDefinition {
    pub name: String,
    pub feature_type: FeatureType,
}

/// The feature group's definitions: one feature per output column. Timestamps and dates are
/// strings (ISO 8601, which the Feature Store accepts as an event time); decimals are
/// fractional; booleans are strings (`true`, `false`).
pub fn feature_definitions(spec: &Spec) -> Vec<FeatureDefinition> {
    spec.output_columns()
        .into_iter()
        .map(|column| FeatureDefinition {
            feature_type: match column.column_type {
                ColumnType::Integer => FeatureType::Integral,
                ColumnType::Decimal { .. } => FeatureType::Fractional,
                ColumnType::String
                | ColumnType::Timestamp
                | ColumnType::Date
                | ColumnType::Boolean => FeatureType::String,
            },
            name: column.name,
        })
        .collect()
}

/// The record identifier feature: the spec's key field, or `aggregate_key` for a composite key.
pub fn record_identifier_feature(spec: &Spec) -> &str {
    spec.record_identifier()
}

/// The event time feature: the window's end.
pub fn event_time_feature() -> &'static str {
    WINDOW_END
}

/// One feature record: feature names and their values as strings, as the Feature Store API
/// carries them. A feature with no value (e.g. an average over no values) is left out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeatureRecord {
    pub values: Vec<(String, String)>,
}

impl FeatureRecord {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why an aggregate could not become a feature record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not a JSON object: {0}")]
    NotAnObject(String),
    #[error("column `{0}` is missing")]
    Missing(String),
    #[error("column `{column}` should be {expected}, found {found}")]
    WrongType {
        column: String,
        expected: &'static str,
        found: String,
    },
    #[error("unknown column `{0}`, which the spec does not declare")]
    Unknown(String),
}

/// Maps one aggregate's JSON to a feature record, checking every column against the spec.
pub fn record_from_aggregate(spec: &Spec, json: &[u8]) -> Result<FeatureRecord, DecodeError> {
    let value: Value =
        serde_json::from_slice(json).map_err(|e| DecodeError::NotAnObject(e.to_string()))?;
    let Value::Object(mut object) = value else {
        return Err(DecodeError::NotAnObject(kind(&value).into()));
    };
    let mut record = FeatureRecord::default();
    for column in spec.output_columns() {
        let value = object
            .remove(&column.name)
            .ok_or_else(|| DecodeError::Missing(column.name.clone()))?;
        let wrong = |expected| DecodeError::WrongType {
            column: column.name.clone(),
            expected,
            found: kind(&value).into(),
        };
        // A column with no value (a ratio over zero, a minimum of nothing) is no feature.
        if value.is_null()
            && !matches!(
                column.role,
                crate::ColumnRole::AggregateId
                    | crate::ColumnRole::Key
                    | crate::ColumnRole::KeyField(_)
                    | crate::ColumnRole::WindowStart
                    | crate::ColumnRole::WindowEnd
            )
        {
            continue;
        }
        let text = match (column.column_type, &value) {
            (ColumnType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
            (ColumnType::Integer, _) => return Err(wrong("an integer")),
            (ColumnType::Decimal { .. }, Value::Number(n)) => n.to_string(),
            (ColumnType::Decimal { .. }, _) => return Err(wrong("a number or null")),
            (ColumnType::Boolean, Value::Bool(b)) => b.to_string(),
            (ColumnType::Boolean, _) => return Err(wrong("a boolean or null")),
            (_, Value::String(s)) if !s.is_empty() => s.clone(),
            (_, _) => return Err(wrong("a non-empty string")),
        };
        record.values.push((column.name, text));
    }
    if let Some(name) = object.keys().next() {
        return Err(DecodeError::Unknown(name.clone()));
    }
    Ok(record)
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::STOCK_TICKS_SPEC;

    fn spec() -> Spec {
        Spec::from_toml(STOCK_TICKS_SPEC, "built-in").unwrap()
    }

    const AGGREGATE: &str = r#"{"aggregate_id":"AMZN:1795271400000","ticker":"AMZN","window_start":"2026-11-21T14:30:00.000Z","window_end":"2026-11-21T14:31:00.000Z","session_date":"2026-11-21","count":3,"volume":300,"open":187.2500,"high":187.5000,"low":187.0000,"close":187.5000,"vwap":187.250000,"avg_price":187.250000,"notional":56175.0000}"#;

    #[test]
    fn definitions_come_from_the_spec() {
        let definitions = feature_definitions(&spec());
        let find = |name: &str| {
            definitions
                .iter()
                .find(|d| d.name == name)
                .unwrap()
                .feature_type
        };
        assert_eq!(definitions.len(), 5 + spec().aggregates.len());
        assert_eq!(find("session_date"), FeatureType::String);
        assert_eq!(find("ticker"), FeatureType::String);
        assert_eq!(find("window_end"), FeatureType::String);
        assert_eq!(find("count"), FeatureType::Integral);
        assert_eq!(find("volume"), FeatureType::Integral);
        assert_eq!(find("vwap"), FeatureType::Fractional);
        assert_eq!(record_identifier_feature(&spec()), "ticker");
        assert_eq!(event_time_feature(), "window_end");
    }

    #[test]
    fn an_aggregate_maps_to_every_feature() {
        let record = record_from_aggregate(&spec(), AGGREGATE.as_bytes()).unwrap();
        assert_eq!(record.values.len(), feature_definitions(&spec()).len());
        assert_eq!(record.get("ticker"), Some("AMZN"));
        assert_eq!(record.get("window_end"), Some("2026-11-21T14:31:00.000Z"));
        assert_eq!(record.get("count"), Some("3"));
        assert_eq!(record.get("vwap"), Some("187.25"));
    }

    #[test]
    fn a_null_ratio_is_left_out() {
        let json = AGGREGATE.replace("\"vwap\":187.250000", "\"vwap\":null");
        let record = record_from_aggregate(&spec(), json.as_bytes()).unwrap();
        assert_eq!(record.get("vwap"), None);
        assert_eq!(record.values.len(), feature_definitions(&spec()).len() - 1);
    }

    #[test]
    fn bad_aggregates_say_what_is_wrong() {
        let spec = spec();
        let cases = [
            ("[1,2]".to_owned(), "not a JSON object: an array"),
            ("{\"ticker\":".to_owned(), "not a JSON object"),
            (
                AGGREGATE.replace("\"count\":3,", ""),
                "column `count` is missing",
            ),
            (
                AGGREGATE.replace("\"count\":3", "\"count\":3.5"),
                "column `count` should be an integer, found a number",
            ),
            (
                AGGREGATE.replace("\"ticker\":\"AMZN\"", "\"ticker\":\"\""),
                "column `ticker` should be a non-empty string",
            ),
            (
                AGGREGATE.replace("\"high\":187.5000", "\"high\":\"187.5\""),
                "column `high` should be a number or null, found a string",
            ),
            (
                AGGREGATE.replace("{", "{\"extra\":1,"),
                "unknown column `extra`",
            ),
        ];
        for (json, expected) in cases {
            let error = record_from_aggregate(&spec, json.as_bytes()).unwrap_err();
            assert!(
                error.to_string().starts_with(expected),
                "{json}: got `{error}`, expected `{expected}`"
            );
        }
    }
}
