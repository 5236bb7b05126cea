use super::*;
use crate::spec::tests::stock_spec;
use crate::time::parse_rfc3339_millis;

const MIN: i64 = 60_000;

/// The stock-ticks `count` of an aggregate.
fn count(a: &Aggregate) -> u64 {
    match a.value(&stock_spec(), "count") {
        Some(Cell::Integer(n)) => *n as u64,
        other => panic!("count is {other:?}"),
    }
}

/// A decimal column's units.
fn units(a: &Aggregate, name: &str) -> i128 {
    match a.value(&stock_spec(), name) {
        Some(Cell::Decimal(d)) => d.units,
        other => panic!("{name} is {other:?}"),
    }
}

fn t(text: &str) -> i64 {
    parse_rfc3339_millis(text).unwrap()
}

fn tick_json(ticker: &str, price: &str, volume: i64, ms: i64, id: &str) -> String {
    format!(
        r#"{{"event_id":"{id}","ticker":"{ticker}","price":{price},"volume":{volume},"event_time":{ms}}}"#
    )
}

/// Feeds JSON records at consecutive offsets from `first_offset`, using each event's own time
/// as the record timestamp; returns the outcomes and what closed.
struct Feeder {
    partition: Partition,
    offset: i64,
    closed: Vec<Aggregate>,
}

impl Feeder {
    fn new() -> Self {
        Self {
            partition: Partition::new(&stock_spec()),
            offset: 0,
            closed: Vec::new(),
        }
    }

    fn feed(&mut self, ticker: &str, price: &str, ms: i64) -> Outcome {
        let json = tick_json(ticker, price, 10, ms, &format!("id-{}", self.offset));
        let record = Record {
            offset: self.offset,
            timestamp_ms: ms,
            payload: Some(json.as_bytes()),
        };
        self.offset += 1;
        self.partition.process(record, &mut self.closed)
    }

    fn take_closed(&mut self) -> Vec<(String, i64, u64)> {
        self.closed
            .drain(..)
            .map(|a| (a.key.to_string(), a.window_start_ms, count(&a)))
            .collect()
    }
}

#[test]
fn an_event_exactly_on_a_boundary_opens_the_next_window() {
    let mut f = Feeder::new();
    assert!(matches!(
        f.feed("AMZN", "1", t("2026-11-21T14:31:00Z")),
        Outcome::Accepted { .. }
    ));
    f.partition.close_all(&mut f.closed);
    assert_eq!(
        f.take_closed(),
        [("AMZN".into(), t("2026-11-21T14:31:00Z"), 1)]
    );
}

#[test]
fn a_window_closes_when_the_watermark_reaches_its_end() {
    let mut f = Feeder::new();
    f.feed("AMZN", "1", t("2026-11-21T14:30:30Z"));
    // Watermark = 14:31:09.999 − 10 s = 14:30:59.999: still open.
    f.feed("AMZN", "1", t("2026-11-21T14:31:09.999Z"));
    assert!(f.take_closed().is_empty());
    assert_eq!(f.partition.watermark(), Some(t("2026-11-21T14:30:59.999Z")));
    // Watermark = 14:31:00.000 = the window's end: it closes.
    f.feed("AMZN", "1", t("2026-11-21T14:31:10Z"));
    assert_eq!(
        f.take_closed(),
        [("AMZN".into(), t("2026-11-21T14:30:00Z"), 1)]
    );
}

#[test]
fn late_by_one_millisecond_is_rejected_and_on_time_by_one_is_not() {
    let mut f = Feeder::new();
    f.feed("AMZN", "1", t("2026-11-21T14:31:09.999Z"));
    // The 14:30 window ends at 14:31:00.000 and the watermark is 14:30:59.999: 1 ms to spare.
    assert!(matches!(
        f.feed("AMZN", "1", t("2026-11-21T14:30:00Z")),
        Outcome::Accepted { .. }
    ));
    f.feed("AMZN", "1", t("2026-11-21T14:31:10Z"));
    assert_eq!(
        f.take_closed(),
        [("AMZN".into(), t("2026-11-21T14:30:00Z"), 1)]
    );
    match f.feed("AMZN", "1", t("2026-11-21T14:30:59.999Z")) {
        Outcome::Rejected(r) => {
            assert_eq!(r.reason, Reason::Late);
            assert!(
                r.detail.contains("closed at 2026-11-21T14:31:00.000Z"),
                "{}",
                r.detail
            );
        }
        other => panic!("expected late, got {other:?}"),
    }
    assert_eq!(f.partition.stats().rejected(Reason::Late), 1);
    assert!(
        f.take_closed().is_empty(),
        "a late event must not re-open its window"
    );
}

#[test]
fn out_of_order_within_lateness_lands_in_the_right_window() {
    let mut f = Feeder::new();
    f.feed("AMZN", "100", t("2026-11-21T14:30:58Z"));
    f.feed("AMZN", "101", t("2026-11-21T14:31:05Z"));
    f.feed("AMZN", "99", t("2026-11-21T14:30:20Z")); // earlier, still within lateness
    f.feed("AMZN", "102", t("2026-11-21T14:32:30Z"));
    let closed = std::mem::take(&mut f.closed);
    assert_eq!(closed.len(), 2);
    let first = &closed[0];
    assert_eq!(
        (first.window_start_ms, count(first)),
        (t("2026-11-21T14:30:00Z"), 2)
    );
    assert_eq!(
        (units(first, "open"), units(first, "close")),
        (990_000, 1_000_000),
        "open is the earliest by event time"
    );
    assert_eq!(closed[1].window_start_ms, t("2026-11-21T14:31:00Z"));
}

#[test]
fn a_gap_of_many_windows_closes_what_was_open_and_emits_no_empty_windows() {
    let mut f = Feeder::new();
    f.feed("AMZN", "1", t("2026-11-21T14:30:00Z"));
    f.feed("AAPL", "1", t("2026-11-21T14:30:01Z"));
    // Within the spec's 1 h skew of its own record timestamp, 45 minutes on.
    f.feed("AMZN", "1", t("2026-11-21T15:15:00Z"));
    assert_eq!(
        f.take_closed(),
        [
            ("AAPL".into(), t("2026-11-21T14:30:00Z"), 1),
            ("AMZN".into(), t("2026-11-21T14:30:00Z"), 1)
        ],
        "sorted by key within a window"
    );
    assert_eq!(f.partition.open_windows(), 1);
    assert_eq!(f.partition.stats().windows_closed, 1);
}

#[test]
fn windows_are_per_key() {
    let mut f = Feeder::new();
    for (i, ticker) in ["AMZN", "AAPL", "AMZN", "MSFT", "AMZN"].iter().enumerate() {
        f.feed(ticker, "1", t("2026-11-21T14:30:00Z") + i as i64);
    }
    f.partition.close_all(&mut f.closed);
    let counts: Vec<_> = f
        .take_closed()
        .into_iter()
        .map(|(k, _, c)| (k, c))
        .collect();
    assert_eq!(
        counts,
        [("AAPL".into(), 1), ("AMZN".into(), 3), ("MSFT".into(), 1)]
    );
}

#[test]
fn the_checkpoint_never_passes_the_first_event_of_an_open_window() {
    let mut f = Feeder::new();
    assert_eq!(f.partition.checkpoint(), None);
    f.feed("AMZN", "1", t("2026-11-21T14:30:00Z")); // offset 0, window 14:30
    f.feed("AMZN", "1", t("2026-11-21T14:31:00Z")); // offset 1, window 14:31
    let rejected = f.feed("AMZN", "-1", t("2026-11-21T14:31:01Z")); // offset 2, dead letter
    assert!(matches!(rejected, Outcome::Rejected(_)));
    assert_eq!(f.partition.checkpoint().unwrap().offset, 0);
    f.feed("AMZN", "1", t("2026-11-21T14:31:10Z")); // offset 3: closes 14:30
    let cp = f.partition.checkpoint().unwrap();
    assert_eq!(cp.offset, 1, "the 14:31 window still needs offset 1");
    assert_eq!(cp.high_water, 4);
    assert_eq!(cp.watermark_ms, Some(t("2026-11-21T14:31:00Z")));
    f.partition.close_all(&mut f.closed);
    assert_eq!(
        f.partition.checkpoint().unwrap().offset,
        4,
        "nothing open: the next offset"
    );
}

#[test]
fn checkpoint_metadata_round_trips_and_refuses_garbage() {
    let cp = Checkpoint {
        offset: 7,
        watermark_ms: Some(-5),
        high_water: 12,
    };
    assert_eq!(cp.metadata(), "v1;wm=-5;hw=12");
    assert_eq!(Checkpoint::from_metadata(7, &cp.metadata()), Ok(cp));
    let none = Checkpoint {
        watermark_ms: None,
        ..cp
    };
    assert_eq!(Checkpoint::from_metadata(7, &none.metadata()), Ok(none));
    assert!(Checkpoint::from_metadata(7, "").is_err());
    assert!(Checkpoint::from_metadata(7, "v2;wm=1;hw=9").is_err());
    assert!(Checkpoint::from_metadata(7, "v1;wm=x;hw=9").is_err());
    assert!(Checkpoint::from_metadata(13, "v1;wm=1;hw=12").is_err());
}

#[test]
fn resuming_replays_state_without_repeating_outputs() {
    let mut f = Feeder::new();
    f.feed("AMZN", "1", t("2026-11-21T14:30:00Z")); // 0
    f.feed("AMZN", "2", t("2026-11-21T14:31:00Z")); // 1
    f.feed("AMZN", "x", t("2026-11-21T14:31:01Z")); // 2: malformed
    f.feed("AMZN", "3", t("2026-11-21T14:31:10Z")); // 3: closes 14:30
    f.feed("AMZN", "4", t("2026-11-21T14:29:00Z")); // 4: late
    let cp = f.partition.checkpoint().unwrap();
    assert_eq!(cp.offset, 1);
    let emitted_before = f.take_closed();

    // A restart reads from offset 1 again.
    let records: Vec<(String, i64)> = [
        ("2", "2026-11-21T14:31:00Z"),
        ("x", "2026-11-21T14:31:01Z"),
        ("3", "2026-11-21T14:31:10Z"),
        ("4", "2026-11-21T14:29:00Z"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (p, time))| {
        (
            tick_json("AMZN", p, 10, t(time), &format!("id-{}", i + 1)),
            t(time),
        )
    })
    .collect();
    let mut resumed = Partition::resume(&stock_spec(), cp);
    let mut closed = Vec::new();
    for (i, (json, ms)) in records.iter().enumerate() {
        let record = Record {
            offset: i as i64 + 1,
            timestamp_ms: *ms,
            payload: Some(json.as_bytes()),
        };
        assert_eq!(resumed.process(record, &mut closed), Outcome::Replayed);
    }
    assert!(closed.is_empty(), "14:30 was emitted before the restart");
    assert_eq!(resumed.stats().replayed, 4);
    assert_eq!(resumed.checkpoint(), Some(cp));
    // New input continues as if nothing happened.
    resumed.close_all(&mut closed);
    f.partition.close_all(&mut f.closed);
    assert_eq!(closed, f.closed);
    assert_eq!(emitted_before.len(), 1);
}

#[test]
fn advancing_the_watermark_closes_idle_windows() {
    let mut f = Feeder::new();
    f.feed("AMZN", "1", t("2026-11-21T14:30:00Z"));
    f.partition
        .advance_watermark(t("2026-11-21T14:30:59.999Z"), &mut f.closed);
    assert!(f.closed.is_empty());
    f.partition
        .advance_watermark(t("2026-11-21T14:31:00Z"), &mut f.closed);
    assert_eq!(f.closed.len(), 1);
    f.partition.advance_watermark(0, &mut f.closed);
    assert_eq!(
        f.partition.watermark(),
        Some(t("2026-11-21T14:31:00Z")),
        "never moves back"
    );
}

#[test]
fn hopping_windows_hold_each_event_in_every_window_that_covers_it() {
    let text = crate::STOCK_TICKS_SPEC.replacen(
        "type = \"tumbling\"",
        "type = \"hopping\"\nslide = \"20s\"",
        1,
    );
    let spec = Spec::from_toml(&text, "hopping.toml").unwrap();
    let mut partition = Partition::new(&spec);
    let mut closed = Vec::new();
    let at = t("2026-11-21T14:30:45Z");
    let json = tick_json("AMZN", "1", 1, at, "a");
    let record = Record {
        offset: 0,
        timestamp_ms: at,
        payload: Some(json.as_bytes()),
    };
    assert_eq!(
        partition.process(record, &mut closed),
        Outcome::Accepted { missed_windows: 0 }
    );
    partition.close_all(&mut closed);
    let starts: Vec<_> = closed
        .iter()
        .map(|a| (a.window_start_ms - t("2026-11-21T14:29:00Z")) / 1_000)
        .collect();
    assert_eq!(
        starts,
        [60, 80, 100],
        "windows starting 14:30:00, 14:30:20 and 14:30:40"
    );
    assert!(
        closed
            .iter()
            .all(|a| a.window_end_ms - a.window_start_ms == MIN)
    );

    // An event whose earliest window has closed still joins the open ones.
    let mut partition = Partition::new(&spec);
    let mut closed = Vec::new();
    for (offset, ms) in [(0, at), (1, at + 25_000), (2, at - 5_000)] {
        let json = tick_json("AMZN", "1", 1, ms, &offset.to_string());
        let record = Record {
            offset,
            timestamp_ms: ms,
            payload: Some(json.as_bytes()),
        };
        let outcome = partition.process(record, &mut closed);
        if offset == 2 {
            assert_eq!(outcome, Outcome::Accepted { missed_windows: 1 });
        }
    }
    assert_eq!(partition.stats().missed_windows, 1);
}
