//! The state budget (`window.max_keys`) under a burst of distinct keys: a partition never holds
//! more than the budget's keys in a window, every event is accounted for (aggregated, or
//! dead-lettered as `over_capacity` with the others), existing keys keep aggregating, and a
//! restart in the middle of the burst decides exactly as an uninterrupted run.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use pipeline_core::{Checkpoint, Outcome, Partition, Reason, Record, STOCK_TICKS_SPEC, Spec};

const BUDGET: usize = 1_000;
const EVENTS: i64 = 1_000_000;
const BASE_MS: i64 = 1_795_271_400_000; // 2026-11-21T14:30:00Z

fn spec() -> Spec {
    let text = STOCK_TICKS_SPEC.replace("max_keys = 100000", &format!("max_keys = {BUDGET}"));
    let spec = Spec::from_toml(&text, "budget test").unwrap();
    assert_eq!(spec.window.max_keys, Some(BUDGET));
    spec
}

/// Event `i`: every tenth is one of ten steady tickers, the rest a burst of distinct keys
/// (`K1`, `K2`, …), one event a millisecond over about 17 minutes.
fn payload(i: i64) -> (i64, String) {
    let t = BASE_MS + i;
    let ticker = if i % 10 == 0 {
        format!("S{}", i / 10 % 10)
    } else {
        format!("K{i}")
    };
    (
        t,
        format!(
            r#"{{"event_id":"e{i}","ticker":"{ticker}","price":187.25,"volume":1,"event_time":{t}}}"#
        ),
    )
}

#[derive(Default, PartialEq, Debug)]
struct Run {
    aggregates: Vec<String>,
    dead: BTreeMap<Reason, u64>,
    accepted: u64,
    most_open: usize,
}

fn feed(spec: &Spec, partition: &mut Partition, from: i64, to: i64, run: &mut Run) {
    let mut closed = Vec::new();
    for i in from..to {
        let (t, text) = payload(i);
        let record = Record {
            offset: i,
            timestamp_ms: t,
            payload: Some(text.as_bytes()),
        };
        match partition.process(record, &mut closed) {
            Outcome::Accepted { .. } => run.accepted += 1,
            Outcome::Rejected(r) => *run.dead.entry(r.reason).or_default() += 1,
            Outcome::Filtered | Outcome::Replayed => {}
        }
        if i % 1_000 == 0 {
            run.most_open = run.most_open.max(partition.open_windows());
        }
        run.aggregates
            .extend(closed.drain(..).map(|a| a.to_json(spec)));
    }
    run.most_open = run.most_open.max(partition.open_windows());
}

#[test]
fn a_burst_of_distinct_keys_is_held_to_the_budget_and_every_event_accounted_for() {
    let spec = spec();
    let mut partition = Partition::new(&spec);
    let mut run = Run::default();
    feed(&spec, &mut partition, 0, EVENTS, &mut run);
    let mut closed = Vec::new();
    partition.close_all(&mut closed);
    run.aggregates
        .extend(closed.iter().map(|a| a.to_json(&spec)));

    // One-minute windows with ten seconds of lateness: at most two open at once.
    assert!(
        run.most_open <= 2 * BUDGET,
        "{} open windows",
        run.most_open
    );
    let refused = run.dead.get(&Reason::OverCapacity).copied().unwrap_or(0);
    assert_eq!(run.accepted + refused, EVENTS as u64, "{:?}", run.dead);
    // About 17 one-minute windows of 60,000 events, each admitting its budget of keys (the ten
    // steady tickers among them, whose 100,000 events all count).
    assert!(refused > 850_000, "{refused}");
    assert_eq!(run.dead.len(), 1, "{:?}", run.dead);

    // The steady tickers came first in every window, so every one of their events counted.
    let mut steady = 0;
    for json in &run.aggregates {
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        if value["ticker"].as_str().unwrap().starts_with('S') {
            steady += value["count"].as_u64().unwrap();
        }
    }
    assert_eq!(
        steady,
        EVENTS as u64 / 10,
        "the steady tickers lose nothing"
    );
}

#[test]
fn a_restart_in_the_middle_of_the_burst_decides_as_an_uninterrupted_run() {
    let spec = spec();
    let events = EVENTS / 5;
    let mut whole = Run::default();
    let mut partition = Partition::new(&spec);
    feed(&spec, &mut partition, 0, events, &mut whole);
    let mut closed = Vec::new();
    partition.close_all(&mut closed);
    whole
        .aggregates
        .extend(closed.iter().map(|a| a.to_json(&spec)));

    let mut resumed = Run::default();
    let mut partition = Partition::new(&spec);
    feed(&spec, &mut partition, 0, events / 2, &mut resumed);
    let checkpoint = partition.checkpoint().unwrap();
    let restored = Checkpoint::from_metadata(checkpoint.offset, &checkpoint.metadata()).unwrap();
    let mut partition = Partition::resume(&spec, restored);
    // The replay below the high-water mark rebuilds the windows, held to the same budget.
    let mut replayed = Run::default();
    feed(
        &spec,
        &mut partition,
        restored.offset,
        events,
        &mut replayed,
    );
    assert!(replayed.most_open <= 2 * BUDGET, "{}", replayed.most_open);
    let mut closed = Vec::new();
    partition.close_all(&mut closed);
    resumed
        .aggregates
        .extend(replayed.aggregates.iter().cloned());
    resumed
        .aggregates
        .extend(closed.iter().map(|a| a.to_json(&spec)));
    assert_eq!(resumed.aggregates, whole.aggregates);
    // Verdicts after the high-water mark are the uninterrupted run's; replayed records get
    // none (they were delivered before the restart).
    let after: u64 = replayed.dead.values().sum::<u64>() + replayed.accepted;
    assert_eq!(after, (events - checkpoint.high_water) as u64);
    let total = |run: &Run| run.dead.get(&Reason::OverCapacity).copied().unwrap_or(0);
    assert_eq!(total(&resumed) + total(&replayed), total(&whole));
}
