//! Session windows, case by case: merging, the gap's edge, the cut at `max_duration`, late
//! events, resuming in the middle of a long session, and the all-or-nothing idle advance. The
//! properties over generated streams are in `properties.rs`.

#![allow(clippy::unwrap_used)]

use pipeline_core::{Aggregate, Cell, Checkpoint, Outcome, Partition, Reason, Record, Spec};

const BASE_MS: i64 = 1_795_271_400_000; // 2026-11-21T14:30:00Z, a multiple of a minute

fn spec(gap: &str, lateness: &str) -> Spec {
    let text = format!(
        r#"name = "sessions"

[topics]
input = "in"
output = "out"
dead_letter = "dlq"

[event]
key = ["user"]
event_time = "at"
event_id = "id"
max_bytes = 1024
max_future_skew = "1h"
max_past_skew = "1d"

[[event.fields]]
name = "id"
type = "string"

[[event.fields]]
name = "user"
type = "string"
max_length = 8

[[event.fields]]
name = "n"
type = "integer"

[[event.fields]]
name = "at"
type = "timestamp"

[window]
type = "session"
gap = "{gap}"
max_duration = "1m"
allowed_lateness = "{lateness}"

[[aggregates]]
name = "events"
function = "count"

[[aggregates]]
name = "total"
function = "sum"
field = "n"

[[aggregates]]
name = "first_n"
function = "first"
field = "n"
"#
    );
    Spec::from_toml(&text, "sessions.toml").unwrap()
}

/// Events as (user, seconds after BASE_MS, n).
struct Feed {
    partition: Partition,
    closed: Vec<Aggregate>,
    offset: i64,
}

impl Feed {
    fn new(spec: &Spec) -> Self {
        Self {
            partition: Partition::new(spec),
            closed: Vec::new(),
            offset: 0,
        }
    }

    fn send(&mut self, user: &str, seconds: i64, n: i64) -> Outcome {
        let at = BASE_MS + seconds * 1_000;
        let payload = format!(
            r#"{{"id":"e{}","user":"{user}","n":{n},"at":{at}}}"#,
            self.offset
        );
        let record = Record {
            offset: self.offset,
            timestamp_ms: at,
            payload: Some(payload.as_bytes()),
        };
        self.offset += 1;
        self.partition.process(record, &mut self.closed)
    }

    /// (user, start s, end s, events, total, first n) of what closed so far.
    fn rows(&self) -> Vec<(String, i64, i64, i128, i128, i128)> {
        self.closed
            .iter()
            .map(|a| {
                let int = |c: &Cell| match c {
                    Cell::Integer(v) => *v,
                    other => panic!("{other:?}"),
                };
                (
                    a.key.to_string(),
                    (a.window_start_ms - BASE_MS) / 1_000,
                    (a.window_end_ms - BASE_MS) / 1_000,
                    int(&a.cells[0]),
                    int(&a.cells[1]),
                    int(&a.cells[2]),
                )
            })
            .collect()
    }
}

#[test]
fn an_event_between_two_sessions_merges_them() {
    let spec = spec("12s", "30s");
    let mut feed = Feed::new(&spec);
    feed.send("u", 0, 1);
    feed.send("u", 20, 2);
    assert_eq!(feed.partition.open_windows(), 2);
    // Less than the gap from both: one session from 0 to 20 + 12.
    feed.send("u", 10, 4);
    assert_eq!(feed.partition.open_windows(), 1);
    feed.partition.close_all(&mut feed.closed);
    assert_eq!(feed.rows(), [("u".to_string(), 0, 32, 3, 7, 1)]);
}

#[test]
fn events_exactly_the_gap_apart_are_two_sessions() {
    let spec = spec("10s", "30s");
    let mut feed = Feed::new(&spec);
    feed.send("u", 0, 1);
    feed.send("u", 10, 2);
    feed.send("v", 5, 3);
    feed.partition.close_all(&mut feed.closed);
    // Sorted by start, then key.
    assert_eq!(
        feed.rows(),
        [
            ("u".to_string(), 0, 10, 1, 1, 1),
            ("v".to_string(), 5, 15, 1, 3, 3),
            ("u".to_string(), 10, 20, 1, 2, 2),
        ]
    );
}

#[test]
fn a_session_is_cut_at_every_multiple_of_max_duration() {
    let spec = spec("8s", "30s");
    let mut feed = Feed::new(&spec);
    for s in [50, 55, 60, 65] {
        feed.send("u", s, 1);
    }
    feed.partition.close_all(&mut feed.closed);
    assert_eq!(
        feed.rows(),
        [
            ("u".to_string(), 50, 60, 2, 2, 1),
            ("u".to_string(), 60, 73, 2, 2, 1),
        ]
    );
}

#[test]
fn a_session_closes_when_the_watermark_reaches_its_end_and_later_events_are_late() {
    let spec = spec("8s", "0s");
    let mut feed = Feed::new(&spec);
    feed.send("u", 0, 1);
    feed.send("u", 5, 1);
    // The watermark reaches 13 (5 + 8): the session closes.
    feed.send("v", 13, 1);
    assert_eq!(feed.rows(), [("u".to_string(), 0, 13, 2, 2, 1)]);
    // An event for it is late, with what it would have ended at.
    let Outcome::Rejected(r) = feed.send("u", 4, 1) else {
        panic!("expected late")
    };
    assert_eq!(r.reason, Reason::Late);
    assert!(
        r.detail
            .contains("for a session that would have ended at 2026-11-21T14:30:12.000Z"),
        "{}",
        r.detail
    );
    // One that can still open a session is taken.
    assert!(matches!(feed.send("u", 6, 1), Outcome::Accepted { .. }));
}

/// Feeds `events` with a crash (checkpoint, resume) after record `crash`; returns everything
/// emitted.
fn run_with_crash(spec: &Spec, events: &[(&str, i64)], crash: Option<usize>) -> Vec<Aggregate> {
    let mut feed = Feed::new(spec);
    let mut emitted = Vec::new();
    for (i, (user, s)) in events.iter().enumerate() {
        feed.send(user, *s, i as i64);
        if Some(i + 1) == crash {
            let cp = feed.partition.checkpoint().unwrap();
            let cp = Checkpoint::from_metadata(cp.offset, &cp.metadata()).unwrap();
            emitted.append(&mut feed.closed);
            feed.partition = Partition::resume(spec, cp);
            // Replay what a restart reads again.
            feed.offset = cp.offset;
            for (user, s) in &events[cp.offset as usize..=i] {
                assert_eq!(feed.send(user, *s, feed.offset), Outcome::Replayed);
            }
        }
    }
    feed.partition.close_all(&mut feed.closed);
    emitted.append(&mut feed.closed);
    emitted
}

#[test]
fn a_restart_in_the_middle_of_a_long_session_rebuilds_it_whole() {
    // One long session of u (every 5 s, gap 8 s), while v's short sessions open and close;
    // at the crash the watermark (25 - 10) has passed u's first events' own gap.
    let spec = spec("8s", "10s");
    let events = [
        ("u", 0),
        ("v", 1),
        ("u", 5),
        ("u", 10),
        ("v", 14),
        ("u", 15),
        ("u", 20),
        ("u", 25),
        ("v", 40),
        ("u", 30),
        ("u", 55),
    ];
    let whole = run_with_crash(&spec, &events, None);
    for crash in 1..events.len() {
        assert_eq!(
            run_with_crash(&spec, &events, Some(crash)),
            whole,
            "crash after record {crash}"
        );
    }
    let cp = {
        let mut feed = Feed::new(&spec);
        for (i, (user, s)) in events[..8].iter().enumerate() {
            feed.send(user, *s, i as i64);
        }
        feed.partition.checkpoint().unwrap()
    };
    // The oldest open session is u's from offset 0, and the watermark before it was none.
    assert_eq!((cp.offset, cp.watermark_ms, cp.high_water), (0, None, 8));
}

#[test]
fn the_clock_closes_every_session_of_an_idle_partition_or_none() {
    let spec = spec("8s", "30s");
    let mut feed = Feed::new(&spec);
    feed.send("u", 0, 1);
    feed.send("v", 20, 1);
    let at = |s: i64| BASE_MS + s * 1_000;
    assert_eq!(feed.partition.idle_close_ms(), Some(at(28)));
    // Enough to close u's session but not v's: nothing moves.
    feed.partition.advance_watermark(at(27), &mut feed.closed);
    assert!(feed.closed.is_empty());
    assert_eq!(feed.partition.watermark(), Some(at(-10)));
    feed.partition.advance_watermark(at(28), &mut feed.closed);
    assert_eq!(feed.rows().len(), 2);
    let cp = feed.partition.checkpoint().unwrap();
    assert_eq!((cp.offset, cp.watermark_ms), (2, Some(at(28))));
}
