//! Properties of the windowing core over generated streams:
//! - for any arrival order within the allowed lateness, the aggregates equal a naive
//!   recomputation from the whole set of events;
//! - for any arrival order at all, every record is accounted for (accepted or dead-lettered);
//! - crashing anywhere and resuming from the committed checkpoint gives exactly the outputs of
//!   an uninterrupted run: no window lost, none emitted twice, no dead letter repeated.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use pipeline_core::decimal::Fixed;
use pipeline_core::tick::fnv1a;
use pipeline_core::{Aggregate, Outcome, Partition, Reason, Record, STOCK_TICKS_SPEC, Spec};
use proptest::prelude::*;

const BASE_MS: i64 = 1_795_271_400_000; // 2026-11-21T14:30:00Z
const WINDOW_MS: i64 = 60_000;
const LATENESS_MS: i64 = 10_000;
const TICKERS: [&str; 4] = ["AAPL", "AMZN", "GOOGL", "MSFT"];

fn spec() -> Spec {
    Spec::from_toml(STOCK_TICKS_SPEC, "config/pipeline.toml").unwrap()
}

#[derive(Debug, Clone)]
struct Event {
    id: String,
    ticker: &'static str,
    price_units: i64,
    volume: i64,
    time_ms: i64,
    /// A payload the decoder must refuse, instead of the tick.
    broken: bool,
}

impl Event {
    fn payload(&self) -> Vec<u8> {
        if self.broken {
            return format!(
                r#"{{"event_id":"{}","ticker":"{}","price":"oops"}}"#,
                self.id, self.ticker
            )
            .into_bytes();
        }
        format!(
            r#"{{"event_id":"{}","ticker":"{}","price":{},"volume":{},"event_time":{},"exchange":"NYSE"}}"#,
            self.id,
            self.ticker,
            Fixed::new(i128::from(self.price_units), 4),
            self.volume,
            self.time_ms
        )
        .into_bytes()
    }
}

fn event() -> impl Strategy<Value = Event> {
    (
        0..TICKERS.len(),
        1i64..5_000_000,
        1i64..10_000,
        0i64..5 * WINDOW_MS,
    )
        .prop_map(|(t, price_units, volume, offset_ms)| Event {
            id: String::new(),
            ticker: TICKERS[t],
            price_units,
            volume,
            time_ms: BASE_MS + offset_ms,
            broken: false,
        })
}

/// Events in an arrival order where each one is at most `max_delay_ms` behind: sorted by event
/// time plus a random delay. With a delay below the lateness, no event is late.
fn stream(max_delay_ms: i64, broken_share: u32) -> impl Strategy<Value = Vec<Event>> {
    proptest::collection::vec((event(), 0..max_delay_ms, 0u32..100), 1..300).prop_map(
        move |items| {
            let mut items: Vec<_> = items
                .into_iter()
                .enumerate()
                .map(|(i, (mut e, delay, roll))| {
                    e.id = format!("e{i}");
                    e.broken = roll < broken_share;
                    (e.time_ms + delay, e)
                })
                .collect();
            items.sort_by_key(|(arrival, _)| *arrival);
            items.into_iter().map(|(_, e)| e).collect()
        },
    )
}

/// Everything a run produced: aggregates in emission order, and dead letters by offset.
#[derive(Debug, Default, PartialEq)]
struct Outputs {
    aggregates: Vec<Aggregate>,
    dead_letters: BTreeMap<i64, Reason>,
}

fn feed(partition: &mut Partition, events: &[Event], from: usize, to: usize, out: &mut Outputs) {
    for (offset, event) in events.iter().enumerate().take(to).skip(from) {
        let payload = event.payload();
        let record = Record {
            offset: offset as i64,
            timestamp_ms: event.time_ms,
            payload: Some(&payload),
        };
        if let Outcome::Rejected(r) = partition.process(record, &mut out.aggregates) {
            let previous = out.dead_letters.insert(offset as i64, r.reason);
            assert!(previous.is_none(), "offset {offset} dead-lettered twice");
        }
    }
}

/// The aggregates computed the obvious way: group the whole set, then summarise each group.
fn naive(spec: &Spec, events: &[Event]) -> Vec<Aggregate> {
    let mut groups: BTreeMap<(i64, &str), Vec<&Event>> = BTreeMap::new();
    for e in events {
        let start = e.time_ms - e.time_ms.rem_euclid(WINDOW_MS);
        groups.entry((start, e.ticker)).or_default().push(e);
    }
    groups
        .into_iter()
        .map(|((start, ticker), group)| {
            let order = |e: &&&Event| (e.time_ms, fnv1a(e.id.as_bytes()), e.price_units);
            let first = group.iter().min_by_key(order).unwrap();
            let last = group.iter().max_by_key(order).unwrap();
            let date = chrono::DateTime::from_timestamp_millis(start)
                .unwrap()
                .with_timezone(&spec.session_timezone)
                .date_naive();
            Aggregate {
                key: pipeline_core::Key::new(ticker).unwrap(),
                window_start_ms: start,
                window_end_ms: start + WINDOW_MS,
                session_date: date,
                count: group.len() as u64,
                volume: group.iter().map(|e| i128::from(e.volume)).sum(),
                price_sum: group.iter().map(|e| i128::from(e.price_units)).sum(),
                notional: group
                    .iter()
                    .map(|e| i128::from(e.price_units) * i128::from(e.volume))
                    .sum(),
                open: first.price_units,
                close: last.price_units,
                high: group.iter().map(|e| e.price_units).max().unwrap(),
                low: group.iter().map(|e| e.price_units).min().unwrap(),
                price_scale: 4,
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn aggregates_equal_a_naive_recomputation_in_any_order_within_lateness(events in stream(LATENESS_MS, 0)) {
        let spec = spec();
        let mut partition = Partition::new(&spec);
        let mut out = Outputs::default();
        feed(&mut partition, &events, 0, events.len(), &mut out);
        partition.close_all(&mut out.aggregates);
        prop_assert!(out.dead_letters.is_empty(), "{:?}", out.dead_letters);
        let mut got = out.aggregates;
        got.sort_by_key(|a| (a.window_start_ms, a.key));
        prop_assert_eq!(got, naive(&spec, &events));
    }

    #[test]
    fn every_record_is_accounted_for_in_any_order(events in stream(3 * WINDOW_MS, 10)) {
        let spec = spec();
        let mut partition = Partition::new(&spec);
        let mut out = Outputs::default();
        feed(&mut partition, &events, 0, events.len(), &mut out);
        partition.close_all(&mut out.aggregates);
        let aggregated: u64 = out.aggregates.iter().map(|a| a.count).sum();
        let stats = partition.stats();
        prop_assert_eq!(aggregated, stats.accepted);
        prop_assert_eq!(aggregated + out.dead_letters.len() as u64, events.len() as u64);
        for (offset, reason) in &out.dead_letters {
            let expected = if events[*offset as usize].broken { Reason::WrongType } else { Reason::Late };
            prop_assert_eq!(*reason, expected);
        }
    }

    #[test]
    fn resuming_from_the_checkpoint_reproduces_an_uninterrupted_run(
        events in stream(3 * WINDOW_MS, 5),
        crashes in proptest::collection::vec(0.0f64..1.0, 1..4),
    ) {
        let spec = spec();
        let mut expected = Outputs::default();
        let mut partition = Partition::new(&spec);
        feed(&mut partition, &events, 0, events.len(), &mut expected);
        partition.close_all(&mut expected.aggregates);

        // Crash after each chosen record; what was emitted before the crash counts as committed
        // along with the checkpoint, and the next run resumes from the checkpoint.
        let mut crash_points: Vec<usize> = crashes.iter().map(|c| (c * events.len() as f64) as usize).collect();
        crash_points.sort_unstable();
        let mut got = Outputs::default();
        let mut partition = Partition::new(&spec);
        let mut next = 0;
        for crash in crash_points {
            let crash = crash.max(next);
            feed(&mut partition, &events, next, crash, &mut got);
            let Some(checkpoint) = partition.checkpoint() else { continue };
            let metadata = checkpoint.metadata();
            let restored = pipeline_core::Checkpoint::from_metadata(checkpoint.offset, &metadata).unwrap();
            prop_assert!(restored.offset <= crash as i64);
            partition = Partition::resume(&spec, restored);
            next = restored.offset as usize;
        }
        feed(&mut partition, &events, next, events.len(), &mut got);
        partition.close_all(&mut got.aggregates);
        prop_assert_eq!(got, expected);
    }
}
