//! The aggregate's output schema, derived from the spec. It is the one column list behind the
//! aggregate's JSON, the Feature Group's feature definitions and the lake's table: every consumer
//! of aggregates maps these types instead of keeping a list of its own.

use crate::expr::Type;
use crate::spec::{AggregateFn, FIXED_COLUMNS, KEY_COLUMN, Spec};

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Text (the aggregate id, string keys and values).
    String,
    /// An instant, written as RFC 3339 UTC with milliseconds.
    Timestamp,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// A whole number (counts, sums of integers).
    Integer,
    /// An exact decimal with `scale` places.
    Decimal {
        scale: u32,
    },
    Boolean,
}

impl ColumnType {
    /// The type expressions over the column (the checker's rules) see.
    pub fn expr_type(self) -> Type {
        match self {
            ColumnType::String | ColumnType::Date => Type::String,
            ColumnType::Timestamp => Type::Timestamp,
            ColumnType::Integer => Type::Number { scale: 0 },
            ColumnType::Decimal { scale } => Type::Number { scale },
            ColumnType::Boolean => Type::Boolean,
        }
    }
}

/// Where a column comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnRole {
    /// `aggregate_id`: the key and the window start, unique per key and window.
    AggregateId,
    /// The joined key of a composite key (`aggregate_key`).
    Key,
    /// One key field (its index among the spec's key fields).
    KeyField(usize),
    WindowStart,
    WindowEnd,
    /// A `[[window.columns]]` entry (its index).
    Window(usize),
    /// An `[[aggregates]]` entry (its index) and what it computes.
    Aggregate(usize, AggregateFn),
}

/// One column of the aggregate, in output order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputColumn {
    pub name: String,
    pub column_type: ColumnType,
    pub role: ColumnRole,
}

/// The column that names the window's end: the Feature Store's event time.
pub const WINDOW_END: &str = FIXED_COLUMNS[2];

impl Spec {
    /// The aggregate's columns in the order [`crate::Aggregate::to_json`] writes them:
    /// `aggregate_id`, `aggregate_key` (only for a composite key), the key fields,
    /// `window_start`, `window_end`, the window columns, then the spec's aggregates.
    pub fn output_columns(&self) -> Vec<OutputColumn> {
        let [aggregate_id, window_start, window_end] = FIXED_COLUMNS;
        let column = |name: &str, column_type, role| OutputColumn {
            name: name.to_owned(),
            column_type,
            role,
        };
        let mut columns = vec![column(
            aggregate_id,
            ColumnType::String,
            ColumnRole::AggregateId,
        )];
        if self.event.key.len() > 1 {
            columns.push(column(KEY_COLUMN, ColumnType::String, ColumnRole::Key));
        }
        for (i, &field) in self.event.key.iter().enumerate() {
            let slot = &self.slots[field];
            columns.push(column(
                &slot.name,
                crate::spec::column_type(slot.ty),
                ColumnRole::KeyField(i),
            ));
        }
        columns.push(column(
            window_start,
            ColumnType::Timestamp,
            ColumnRole::WindowStart,
        ));
        columns.push(column(
            window_end,
            ColumnType::Timestamp,
            ColumnRole::WindowEnd,
        ));
        for (i, c) in self.window_columns.iter().enumerate() {
            columns.push(column(&c.name, ColumnType::Date, ColumnRole::Window(i)));
        }
        for (i, a) in self.aggregates.iter().enumerate() {
            columns.push(column(
                &a.name,
                a.output,
                ColumnRole::Aggregate(i, a.function),
            ));
        }
        columns
    }

    /// The Feature Group's record identifier: the key field, or `aggregate_key` for a
    /// composite key.
    pub fn record_identifier(&self) -> &str {
        match self.event.key.as_slice() {
            [single] => &self.event.fields[*single].name,
            _ => KEY_COLUMN,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::STOCK_TICKS_SPEC;

    #[test]
    fn output_columns_follow_the_aggregate_json() {
        let spec = Spec::from_toml(STOCK_TICKS_SPEC, "built-in").unwrap();
        let columns = spec.output_columns();
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();

        let mut generator = crate::generator::EventGenerator::new(
            &spec,
            crate::generator::GeneratorConfig::default(),
        );
        let mut partition = crate::Partition::new(&spec);
        let mut closed = Vec::new();
        let mut payload = Vec::new();
        for i in 0..200 {
            let t = 1_795_271_400_000 + i * 1_000;
            generator.next_into(t, &mut payload);
            let record = crate::Record {
                offset: i,
                timestamp_ms: t,
                payload: Some(&payload),
            };
            partition.process(record, &mut closed);
        }
        partition.close_all(&mut closed);
        let json: serde_json::Value = serde_json::from_str(&closed[0].to_json(&spec)).unwrap();
        // Compared as sets: serde_json's map order depends on its `preserve_order` feature.
        let mut keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut sorted_names = names.clone();
        sorted_names.sort_unstable();
        assert_eq!(keys, sorted_names);
        assert_eq!(
            &names[..5],
            [
                "aggregate_id",
                "ticker",
                "window_start",
                "window_end",
                "session_date"
            ]
        );
        let type_of = |name: &str| columns.iter().find(|c| c.name == name).unwrap().column_type;
        assert_eq!(type_of("count"), ColumnType::Integer);
        assert_eq!(type_of("vwap"), ColumnType::Decimal { scale: 6 });
        assert_eq!(type_of("high"), ColumnType::Decimal { scale: 4 });
        assert_eq!(type_of("session_date"), ColumnType::Date);
        assert_eq!(spec.record_identifier(), "ticker");
    }
}
