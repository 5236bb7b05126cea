//! Per-window accumulators and the aggregate they become.
//!
//! Open and close are the prices of the earliest and latest events by event time. Events in the
//! same millisecond are ordered by a stable hash of their event id, then by price, so the result
//! does not depend on the order events arrive in. Sums are exact integers; VWAP and the average
//! price are exact ratios rounded half to even at the column's scale.

use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate};

use crate::decimal::Fixed;
use crate::enrich::notional;
use crate::key::Key;
use crate::spec::{AggregateColumn, AggregateFn, Spec};
use crate::tick::Tick;
use crate::time::write_rfc3339_millis;

/// An event's place in the open/close order: event time, then id hash, then price.
type Mark = (i64, u64, i64);

/// The running state of one key in one window. Fixed size, no heap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Accumulator {
    count: u64,
    volume: i128,
    price_sum: i128,
    notional: i128,
    first: Mark,
    last: Mark,
    high: i64,
    low: i64,
}

impl Accumulator {
    pub(crate) fn new(tick: &Tick) -> Self {
        let mark = (tick.event_time_ms, tick.id_hash, tick.price_units);
        Self {
            count: 1,
            volume: i128::from(tick.volume),
            price_sum: i128::from(tick.price_units),
            notional: notional(tick.price_units, tick.volume),
            first: mark,
            last: mark,
            high: tick.price_units,
            low: tick.price_units,
        }
    }

    pub(crate) fn add(&mut self, tick: &Tick) {
        let mark = (tick.event_time_ms, tick.id_hash, tick.price_units);
        self.count += 1;
        self.volume += i128::from(tick.volume);
        self.price_sum += i128::from(tick.price_units);
        self.notional += notional(tick.price_units, tick.volume);
        self.first = self.first.min(mark);
        self.last = self.last.max(mark);
        self.high = self.high.max(tick.price_units);
        self.low = self.low.min(tick.price_units);
    }

    pub(crate) fn finish(
        &self,
        key: Key,
        window_start_ms: i64,
        window_end_ms: i64,
        session_date: NaiveDate,
        price_scale: u32,
    ) -> Aggregate {
        Aggregate {
            key,
            window_start_ms,
            window_end_ms,
            session_date,
            count: self.count,
            volume: self.volume,
            price_sum: self.price_sum,
            notional: self.notional,
            open: self.first.2,
            close: self.last.2,
            high: self.high,
            low: self.low,
            price_scale,
        }
    }
}

/// One key's summary of one closed window. Prices are in units of `10^-price_scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aggregate {
    pub key: Key,
    pub window_start_ms: i64,
    pub window_end_ms: i64,
    /// The trading-session date of the window's start.
    pub session_date: NaiveDate,
    pub count: u64,
    pub volume: i128,
    pub price_sum: i128,
    /// Σ price × volume, in price units.
    pub notional: i128,
    pub open: i64,
    pub high: i64,
    pub low: i64,
    pub close: i64,
    pub price_scale: u32,
}

/// A column's value: an integer, an exact decimal, or nothing (a ratio over zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnValue {
    Integer(i128),
    Decimal(Fixed),
    Null,
}

impl Aggregate {
    /// The de-duplication id downstream: `<key>:<window start, epoch ms>`; the same window of
    /// the same key always gets the same id.
    pub fn aggregate_id(&self) -> String {
        format!("{}:{}", self.key, self.window_start_ms)
    }

    fn price(&self, units: i64) -> Fixed {
        Fixed::new(i128::from(units), self.price_scale)
    }

    /// Σ(price × volume) / Σ volume at `scale` decimals.
    pub fn vwap(&self, scale: u32) -> Option<Fixed> {
        Fixed::ratio(self.notional, self.price_scale, self.volume, scale)
    }

    /// Σ price / count at `scale` decimals.
    pub fn avg_price(&self, scale: u32) -> Option<Fixed> {
        Fixed::ratio(
            self.price_sum,
            self.price_scale,
            i128::from(self.count),
            scale,
        )
    }

    /// The value of one spec column.
    pub fn value(&self, column: &AggregateColumn) -> ColumnValue {
        let decimal = |v: Option<Fixed>| v.map_or(ColumnValue::Null, ColumnValue::Decimal);
        match column.function {
            AggregateFn::Count => ColumnValue::Integer(i128::from(self.count)),
            AggregateFn::SumVolume => ColumnValue::Integer(self.volume),
            AggregateFn::SumNotional => {
                ColumnValue::Decimal(Fixed::new(self.notional, self.price_scale))
            }
            AggregateFn::FirstPrice => ColumnValue::Decimal(self.price(self.open)),
            AggregateFn::LastPrice => ColumnValue::Decimal(self.price(self.close)),
            AggregateFn::MinPrice => ColumnValue::Decimal(self.price(self.low)),
            AggregateFn::MaxPrice => ColumnValue::Decimal(self.price(self.high)),
            AggregateFn::AvgPrice => decimal(self.avg_price(column.scale)),
            AggregateFn::Vwap => decimal(self.vwap(column.scale)),
        }
    }

    /// The aggregate as one line of JSON, columns in spec order: `aggregate_id`, the key field,
    /// `window_start`, `window_end` (RFC 3339, UTC), `session_date`, then the spec's aggregates.
    /// Decimals are JSON numbers written exactly with the column's scale.
    pub fn to_json(&self, spec: &Spec) -> String {
        let mut out = String::with_capacity(256);
        out.push_str("{\"aggregate_id\":\"");
        push_escaped(&mut out, self.key.as_str());
        let _ = write!(out, ":{}\",", self.window_start_ms);
        push_json_string(&mut out, &spec.key_field().name);
        out.push(':');
        push_json_string(&mut out, self.key.as_str());
        out.push_str(",\"window_start\":\"");
        write_rfc3339_millis(&mut out, self.window_start_ms);
        out.push_str("\",\"window_end\":\"");
        write_rfc3339_millis(&mut out, self.window_end_ms);
        let date = self.session_date;
        let _ = write!(
            out,
            "\",\"session_date\":\"{:04}-{:02}-{:02}\"",
            date.year(),
            date.month(),
            date.day()
        );
        for column in &spec.aggregates {
            out.push(',');
            push_json_string(&mut out, &column.name);
            let _ = match self.value(column) {
                ColumnValue::Integer(i) => write!(out, ":{i}"),
                ColumnValue::Decimal(d) => write!(out, ":{d}"),
                ColumnValue::Null => write!(out, ":null"),
            };
        }
        out.push('}');
        out
    }
}

/// Appends `text` as a JSON string literal, without allocating.
fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    push_escaped(out, text);
    out.push('"');
}

fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::tests::stock_spec;

    fn tick(ms: i64, id: u64, price: i64, volume: i64) -> Tick {
        Tick {
            key: Key::new("AMZN").unwrap(),
            id_hash: id,
            price_units: price,
            volume,
            event_time_ms: ms,
        }
    }

    #[test]
    fn open_close_follow_event_time_not_arrival() {
        let mut acc = Accumulator::new(&tick(30, 1, 1_000_000, 1));
        acc.add(&tick(10, 1, 2_000_000, 1));
        acc.add(&tick(50, 1, 3_000_000, 1));
        acc.add(&tick(20, 1, 500_000, 1));
        let agg = acc.finish(Key::new("AMZN").unwrap(), 0, 60_000, NaiveDate::MIN, 4);
        assert_eq!((agg.open, agg.close), (2_000_000, 3_000_000));
        assert_eq!((agg.low, agg.high), (500_000, 3_000_000));
    }

    #[test]
    fn ties_in_one_millisecond_break_by_id_then_price() {
        let a = tick(10, 7, 1_000_000, 1);
        let b = tick(10, 3, 2_000_000, 1);
        let mut ab = Accumulator::new(&a);
        ab.add(&b);
        let mut ba = Accumulator::new(&b);
        ba.add(&a);
        assert_eq!(ab, ba);
        let agg = ab.finish(Key::new("AMZN").unwrap(), 0, 60_000, NaiveDate::MIN, 4);
        assert_eq!((agg.open, agg.close), (2_000_000, 1_000_000));
    }

    #[test]
    fn vwap_and_average_are_exact() {
        // 10 @ 100.0001 and 20 @ 100.0002: VWAP = 100.000166…, average = 100.00015.
        let mut acc = Accumulator::new(&tick(0, 1, 1_000_001, 10));
        acc.add(&tick(1, 2, 1_000_002, 20));
        let agg = acc.finish(Key::new("AMZN").unwrap(), 0, 60_000, NaiveDate::MIN, 4);
        assert_eq!(agg.vwap(6), Some(Fixed::new(100_000_167, 6)));
        assert_eq!(agg.avg_price(6), Some(Fixed::new(100_000_150, 6)));
        assert_eq!(agg.notional, 10 * 1_000_001 + 20 * 1_000_002);
    }

    #[test]
    fn json_has_every_spec_column_in_order() {
        let spec = stock_spec();
        let mut acc = Accumulator::new(&tick(1_795_271_400_250, 1, 1_872_500, 100));
        acc.add(&tick(1_795_271_401_000, 2, 1_873_000, 300));
        let date = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        let agg = acc.finish(
            Key::new("AMZN").unwrap(),
            1_795_271_400_000,
            1_795_271_460_000,
            date,
            4,
        );
        assert_eq!(
            agg.to_json(&spec),
            concat!(
                r#"{"aggregate_id":"AMZN:1795271400000","ticker":"AMZN","#,
                r#""window_start":"2026-11-21T14:30:00.000Z","window_end":"2026-11-21T14:31:00.000Z","#,
                r#""session_date":"2026-11-21","count":2,"volume":400,"open":187.2500,"high":187.3000,"#,
                r#""low":187.2500,"close":187.3000,"vwap":187.287500,"avg_price":187.275000,"#,
                r#""notional":74915.0000}"#
            )
        );
        let parsed: serde_json::Value = serde_json::from_str(&agg.to_json(&spec)).unwrap();
        assert_eq!(parsed["count"], 2);
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut out = String::new();
        push_json_string(&mut out, "a\"b\\c\u{1}é");
        assert_eq!(out, r#""a\"b\\c\u0001é""#);
        assert_eq!(
            serde_json::from_str::<String>(&out).unwrap(),
            "a\"b\\c\u{1}é"
        );
    }
}
