//! The aggregate's output schema, derived from the spec. It is the one column list behind the
//! aggregate's JSON, the Feature Group's feature definitions and the lake's table: every consumer
//! of aggregates maps these types instead of keeping a list of its own.

use crate::spec::{AggregateFn, FIXED_COLUMNS, Spec};

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Text (the aggregate id, the key).
    String,
    /// An instant, written as RFC 3339 UTC with milliseconds.
    Timestamp,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// A whole number (counts, volumes).
    Integer,
    /// An exact decimal with `scale` places (prices, VWAP, notional).
    Decimal { scale: u32 },
}

/// One column of the aggregate, in output order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputColumn {
    pub name: String,
    pub column_type: ColumnType,
    /// For a spec aggregate, what it computes; `None` for the fixed columns.
    pub function: Option<AggregateFn>,
}

/// The column that names the window's end: the Feature Store's event time.
pub const WINDOW_END: &str = FIXED_COLUMNS[2];

impl Spec {
    /// The aggregate's columns in the order [`crate::Aggregate::to_json`] writes them:
    /// `aggregate_id`, the key field, `window_start`, `window_end`, `session_date`, then the
    /// spec's aggregates.
    pub fn output_columns(&self) -> Vec<OutputColumn> {
        let [aggregate_id, window_start, window_end, session_date] = FIXED_COLUMNS;
        let fixed = |name: &str, column_type| OutputColumn {
            name: name.to_owned(),
            column_type,
            function: None,
        };
        let mut columns = vec![
            fixed(aggregate_id, ColumnType::String),
            fixed(&self.key_field().name, ColumnType::String),
            fixed(window_start, ColumnType::Timestamp),
            fixed(window_end, ColumnType::Timestamp),
            fixed(session_date, ColumnType::Date),
        ];
        columns.extend(self.aggregates.iter().map(|column| OutputColumn {
            name: column.name.clone(),
            column_type: match column.function {
                AggregateFn::Count | AggregateFn::SumVolume => ColumnType::Integer,
                _ => ColumnType::Decimal {
                    scale: column.scale,
                },
            },
            function: Some(column.function),
        }));
        columns
    }

    /// The output column computing `function`, if the spec has one.
    pub fn column_for(&self, function: AggregateFn) -> Option<&str> {
        self.aggregates
            .iter()
            .find(|column| column.function == function)
            .map(|column| column.name.as_str())
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

        let mut generator =
            crate::generator::TickGenerator::new(crate::generator::GeneratorConfig::default());
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
        assert_eq!(
            columns
                .iter()
                .find(|c| c.name == "count")
                .unwrap()
                .column_type,
            ColumnType::Integer
        );
        assert_eq!(
            columns
                .iter()
                .find(|c| c.name == "vwap")
                .unwrap()
                .column_type,
            ColumnType::Decimal { scale: 6 }
        );
        assert_eq!(
            columns
                .iter()
                .find(|c| c.name == "high")
                .unwrap()
                .column_type,
            ColumnType::Decimal { scale: 4 }
        );
        assert_eq!(spec.column_for(AggregateFn::Vwap), Some("vwap"));
        assert_eq!(spec.column_for(AggregateFn::LastPrice), Some("close"));
    }
}
