//! Properties of the core over generated specs and generated streams. Each case draws a spec:
//! one or two key fields, a decimal scale, an optional field, maybe a derived field (exact
//! arithmetic, a division that may be by zero), maybe a filter, tumbling, hopping or session
//! windows, and a list of aggregate columns from every function over every field it applies to.
//! Then:
//! - for any arrival order within the allowed lateness, the aggregates equal a naive
//!   recomputation from the whole set of events (written here, sharing no code with the core's
//!   accumulators);
//! - for any arrival order at all, every record is accounted for: aggregated, filtered or
//!   dead-lettered;
//! - crashing anywhere (also after quiet periods whose watermark the clock moved) and resuming
//!   from the committed checkpoint gives exactly the outputs of
//!   an uninterrupted run: no window lost, none emitted twice, no dead letter repeated;
//! - session windows merge the same whatever the arrival order.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use pipeline_core::decimal::Fixed;
use pipeline_core::event::fnv1a;
use pipeline_core::expr::Rounding;
use pipeline_core::{Aggregate, Cell, Outcome, Partition, Reason, Record, Spec};
use proptest::prelude::*;

const BASE_MS: i64 = 1_795_271_400_000; // 2026-11-21T14:30:00Z
const WINDOW_MS: i64 = 60_000;
const LATENESS_MS: i64 = 10_000;
/// Session windows: the gap, and the cut (`max_duration`).
const GAP_MS: i64 = 8_000;
const CUT_MS: i64 = 120_000;
const K1: [&str; 3] = ["a", "b", "c"];
const S1: [&str; 4] = ["a", "b", "c", "dd"];

/// One aggregate column: function and field (`""` for a plain count).
const CATALOGUE: [(&str, &str); 24] = [
    ("count", ""),
    ("count", "d2"),
    ("sum", "n1"),
    ("sum", "d1"),
    ("sum", "d2"),
    ("min", "n1"),
    ("max", "d1"),
    ("min", "d2"),
    ("min", "s1"),
    ("max", "s1"),
    ("first", "d1"),
    ("last", "n1"),
    ("first", "s1"),
    ("last", "s1"),
    ("first", "b1"),
    ("avg", "n1"),
    ("avg", "d1"),
    ("avg", "d2"),
    ("weighted_avg", "d1"),
    ("count_distinct", "s1"),
    ("count_distinct", "n1"),
    ("max", "event_time"),
    ("sum", "x"),
    ("min", "x"),
];

/// A generated spec's shape.
#[derive(Debug, Clone)]
struct Shape {
    two_keys: bool,
    scale: u32,
    /// 0: n1 * d1, 1: d1 + n1, 2: d1 / n1 (n1 may be 0: null).
    derive: Option<u8>,
    /// 0: b1, 1: n1 > 0, 2: s1 != 'c', 3: d2 is null or d2 < 5.
    filter: Option<u8>,
    aggregates: Vec<usize>,
    window: Windows,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Windows {
    Tumbling,
    Hopping,
    Session,
}

impl Shape {
    fn derived_scale(&self) -> u32 {
        match self.derive {
            Some(2) => 2,
            _ => self.scale,
        }
    }

    fn spec_text(&self) -> String {
        let key = if self.two_keys {
            r#"["k1", "k2"]"#
        } else {
            r#"["k1"]"#
        };
        let filter = match self.filter {
            None => String::new(),
            Some(0) => "where = \"b1\"\n".into(),
            Some(1) => "where = \"n1 > 0\"\n".into(),
            Some(2) => "where = \"s1 != 'c'\"\n".into(),
            Some(_) => "where = \"d2 is null or d2 < 5\"\n".into(),
        };
        let mut text = format!(
            r#"name = "generated"
{filter}
[topics]
input = "in"
output = "out"
dead_letter = "dlq"

[event]
key = {key}
event_time = "event_time"
event_id = "event_id"
max_bytes = 4096
max_future_skew = "1h"
max_past_skew = "1h"

[[event.fields]]
name = "event_id"
type = "string"

[[event.fields]]
name = "event_time"
type = "timestamp"

[[event.fields]]
name = "k1"
type = "string"
one_of = ["a", "b", "c"]

[[event.fields]]
name = "k2"
type = "integer"
min = 0
max = 2

[[event.fields]]
name = "n1"
type = "integer"
min = -50
max = 50

[[event.fields]]
name = "d1"
type = "decimal"
scale = {scale}
min = "-100"
max = "100"

[[event.fields]]
name = "d2"
type = "decimal"
scale = 2
required = false
min = "0"
max = "10"

[[event.fields]]
name = "w1"
type = "integer"
min = 0
max = 50

[[event.fields]]
name = "b1"
type = "boolean"

[[event.fields]]
name = "s1"
type = "string"
max_length = 4
"#,
            scale = self.scale
        );
        if let Some(d) = self.derive {
            let (expr, extra) = match d {
                0 => ("n1 * d1", ""),
                1 => ("d1 + n1", ""),
                _ => ("d1 / n1", "on_zero = \"null\"\n"),
            };
            text.push_str(&format!(
                "\n[[derive]]\nname = \"x\"\nexpr = \"{expr}\"\nscale = {}\n{extra}",
                self.derived_scale()
            ));
        }
        text.push_str(match self.window {
            Windows::Hopping => "\n[window]\ntype = \"hopping\"\nsize = \"1m\"\nslide = \"20s\"\nallowed_lateness = \"10s\"\n",
            Windows::Tumbling => "\n[window]\ntype = \"tumbling\"\nsize = \"1m\"\nallowed_lateness = \"10s\"\n",
            Windows::Session => "\n[window]\ntype = \"session\"\ngap = \"8s\"\nmax_duration = \"2m\"\nallowed_lateness = \"10s\"\n",
        });
        for (i, &a) in self.aggregates.iter().enumerate() {
            let (function, field) = CATALOGUE[a];
            text.push_str(&format!(
                "\n[[aggregates]]\nname = \"c{i}\"\nfunction = \"{function}\"\n"
            ));
            if !field.is_empty() {
                text.push_str(&format!("field = \"{field}\"\n"));
            }
            if function == "weighted_avg" {
                text.push_str("weight = \"w1\"\nscale = 6\n");
            }
            if function == "avg" {
                text.push_str("scale = 5\n");
            }
        }
        text
    }

    fn spec(&self) -> Spec {
        let text = self.spec_text();
        Spec::from_toml(&text, "generated").unwrap_or_else(|e| panic!("{e}\n{text}"))
    }
}

fn shape() -> impl Strategy<Value = Shape> {
    let aggregates = proptest::collection::vec(0..CATALOGUE.len(), 1..8);
    (
        any::<bool>(),
        0u32..4,
        proptest::option::of(0u8..3),
        proptest::option::of(0u8..4),
        aggregates,
        prop_oneof![
            Just(Windows::Tumbling),
            Just(Windows::Hopping),
            Just(Windows::Session)
        ],
    )
        .prop_map(|(two_keys, scale, derive, filter, aggregates, window)| {
            // The derived field's columns only when there is one.
            let aggregates = aggregates
                .into_iter()
                .filter(|&a| derive.is_some() || CATALOGUE[a].1 != "x")
                .collect::<Vec<_>>();
            Shape {
                two_keys,
                scale,
                derive,
                filter,
                aggregates: if aggregates.is_empty() {
                    vec![0]
                } else {
                    aggregates
                },
                window,
            }
        })
}

#[derive(Debug, Clone)]
struct Event {
    id: String,
    time_ms: i64,
    k1: usize,
    k2: i64,
    n1: i64,
    /// d1 in thousandths (within ±100); see [`Event::d1`].
    d1: i64,
    /// d2 in hundredths, or absent.
    d2: Option<i64>,
    w1: i64,
    b1: bool,
    s1: usize,
    /// A payload the decoder must refuse, instead of the event.
    broken: bool,
}

impl Event {
    /// d1 in units of the spec's scale (0 to 3 places), truncated.
    fn d1(&self, scale: u32) -> i64 {
        self.d1 / 10_i64.pow(3 - scale)
    }

    fn payload(&self, scale: u32) -> Vec<u8> {
        if self.broken {
            return format!(r#"{{"event_id":"{}","k1":"a","n1":"oops"}}"#, self.id).into_bytes();
        }
        let d2 = self
            .d2
            .map(|d| format!(",\"d2\":{}", Fixed::new(i128::from(d), 2)))
            .unwrap_or_default();
        format!(
            r#"{{"event_id":"{}","event_time":{},"k1":"{}","k2":{},"n1":{},"d1":{}{d2},"w1":{},"b1":{},"s1":"{}"}}"#,
            self.id,
            self.time_ms,
            K1[self.k1],
            self.k2,
            self.n1,
            number(self.d1(scale), scale),
            self.w1,
            self.b1,
            S1[self.s1]
        )
        .into_bytes()
    }
}

fn number(units: i64, scale: u32) -> String {
    if scale == 0 {
        units.to_string()
    } else {
        Fixed::new(i128::from(units), scale).to_string()
    }
}

fn event() -> impl Strategy<Value = Event> {
    (
        (0..K1.len(), 0i64..3, -50i64..=50, -100_000i64..=100_000),
        (
            proptest::option::of(0i64..=1_000),
            0i64..=50,
            any::<bool>(),
            0..S1.len(),
        ),
        0i64..5 * WINDOW_MS,
    )
        .prop_map(|((k1, k2, n1, d1), (d2, w1, b1, s1), offset_ms)| Event {
            id: String::new(),
            time_ms: BASE_MS + offset_ms,
            k1,
            k2,
            n1,
            d1,
            d2,
            w1,
            b1,
            s1,
            broken: false,
        })
}

/// Events in an arrival order where each one is at most `max_delay_ms` behind: sorted by event
/// time plus a random delay. With a delay below the lateness, no event is late.
fn stream(max_delay_ms: i64, broken_share: u32) -> impl Strategy<Value = Vec<Event>> {
    proptest::collection::vec((event(), 0..max_delay_ms, 0u32..100), 1..200).prop_map(
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

/// Everything a run produced: aggregates in emission order, dead letters by offset, and the
/// filtered offsets.
#[derive(Debug, Default, PartialEq)]
struct Outputs {
    aggregates: Vec<Aggregate>,
    dead_letters: BTreeMap<i64, Reason>,
    filtered: BTreeSet<i64>,
}

fn feed(
    partition: &mut Partition,
    shape: &Shape,
    events: &[Event],
    from: usize,
    to: usize,
    out: &mut Outputs,
) {
    feed_with_idles(partition, shape, events, (from, to), &[], 0, out);
}

/// [`feed`], with the watermark moved by the clock (an idle partition) before each record
/// `idles` names, to the time it gives; but not in a replay (below `replay_until`), where the
/// processor is never idle.
fn feed_with_idles(
    partition: &mut Partition,
    shape: &Shape,
    events: &[Event],
    (from, to): (usize, usize),
    idles: &[(usize, i64)],
    replay_until: usize,
    out: &mut Outputs,
) {
    for (offset, event) in events.iter().enumerate().take(to).skip(from) {
        let idle = idles
            .iter()
            .filter(|(at, _)| *at == offset && offset >= replay_until);
        for &(_, to_ms) in idle {
            partition.advance_watermark(to_ms, &mut out.aggregates);
        }
        let payload = event.payload(shape.scale);
        let record = Record {
            offset: offset as i64,
            timestamp_ms: event.time_ms,
            payload: Some(&payload),
        };
        match partition.process(record, &mut out.aggregates) {
            Outcome::Rejected(r) => {
                let previous = out.dead_letters.insert(offset as i64, r.reason);
                assert!(previous.is_none(), "offset {offset} dead-lettered twice");
            }
            Outcome::Filtered => {
                out.filtered.insert(offset as i64);
            }
            _ => {}
        }
    }
}

/// The derived value `x` of an event, in units of its scale, computed the obvious way.
fn derived(shape: &Shape, e: &Event) -> Option<i128> {
    let s = shape.scale;
    let d1 = i128::from(e.d1(s));
    let p = |n: u32| 10_i128.pow(n);
    match shape.derive? {
        0 => Some(i128::from(e.n1) * d1),
        1 => Some(d1 + i128::from(e.n1) * p(s)),
        _ if e.n1 == 0 => None,
        // d1·10^-s / n1 at 2 places: d1·10^(2-s) / n1.
        _ if s <= 2 => Rounding::HalfEven.divide(d1 * p(2 - s), i128::from(e.n1)),
        _ => Rounding::HalfEven.divide(d1, i128::from(e.n1) * p(s - 2)),
    }
}

fn passes(shape: &Shape, e: &Event) -> bool {
    match shape.filter {
        None => true,
        Some(0) => e.b1,
        Some(1) => e.n1 > 0,
        Some(2) => S1[e.s1] != "c",
        Some(_) => e.d2.is_none_or(|d| d < 500),
    }
}

/// A field's value of an event for a naive aggregate: (units, scale) for numbers; texts and
/// booleans apart.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum V {
    Num(i128),
    Text(String),
    Bool(bool),
}

fn value(shape: &Shape, e: &Event, field: &str) -> Option<V> {
    Some(match field {
        "n1" => V::Num(i128::from(e.n1)),
        "d1" => V::Num(i128::from(e.d1(shape.scale))),
        "d2" => V::Num(i128::from(e.d2?)),
        "s1" => V::Text(S1[e.s1].into()),
        "b1" => V::Bool(e.b1),
        "event_time" => V::Num(i128::from(e.time_ms)),
        "x" => V::Num(derived(shape, e)?),
        _ => unreachable!("{field}"),
    })
}

fn scale_of(shape: &Shape, field: &str) -> u32 {
    match field {
        "d1" => shape.scale,
        "d2" => 2,
        "x" => shape.derived_scale(),
        _ => 0,
    }
}

/// What a naive column holds, as the core writes it.
fn cell(shape: &Shape, field: &str, v: Option<V>) -> Cell {
    match v {
        None => Cell::Null,
        Some(V::Text(t)) => Cell::String(t),
        Some(V::Bool(b)) => Cell::Boolean(b),
        Some(V::Num(n)) if field == "event_time" => Cell::Timestamp(n as i64),
        Some(V::Num(n)) => match scale_of(shape, field) {
            0 if matches!(field, "n1" | "k2") => Cell::Integer(n),
            s => Cell::Decimal(Fixed::new(n, s)),
        },
    }
}

/// The aggregates computed the obvious way: group the whole set, then summarise each group.
/// The events of each window (start, key), grouped the obvious way.
fn groups<'a>(shape: &Shape, events: &'a [Event]) -> BTreeMap<(i64, String), Vec<&'a Event>> {
    let key = |e: &Event| {
        if shape.two_keys {
            format!("{}|{}", K1[e.k1], e.k2)
        } else {
            K1[e.k1].to_owned()
        }
    };
    let mut groups: BTreeMap<(i64, String), Vec<&Event>> = BTreeMap::new();
    let windowed = events.iter().filter(|e| passes(shape, e));
    if shape.window == Windows::Session {
        // Each key's events by time, in stretches between cuts, split where they are a gap or
        // more apart.
        let mut by_key: BTreeMap<(String, i64), Vec<&Event>> = BTreeMap::new();
        for e in windowed {
            by_key
                .entry((key(e), e.time_ms.div_euclid(CUT_MS)))
                .or_default()
                .push(e);
        }
        for ((key, _), mut list) in by_key {
            list.sort_by_key(|e| e.time_ms);
            let mut start = list[0].time_ms;
            let mut last = start;
            for e in list {
                if e.time_ms - last >= GAP_MS {
                    start = e.time_ms;
                }
                last = e.time_ms;
                groups.entry((start, key.clone())).or_default().push(e);
            }
        }
    } else {
        let slide = if shape.window == Windows::Hopping {
            20_000
        } else {
            WINDOW_MS
        };
        for e in windowed {
            let last = e.time_ms - e.time_ms.rem_euclid(slide);
            let mut start = last;
            while start > e.time_ms - WINDOW_MS {
                groups.entry((start, key(e))).or_default().push(e);
                start -= slide;
            }
        }
    }
    groups
}

fn naive(shape: &Shape, events: &[Event]) -> Vec<(String, i64, Vec<Cell>)> {
    groups(shape, events)
        .into_iter()
        .map(|((start, key), group)| {
            let cells = shape
                .aggregates
                .iter()
                .map(|&a| {
                    let (function, field) = CATALOGUE[a];
                    let values = || {
                        group
                            .iter()
                            .filter_map(|e| value(shape, e, field).map(|v| (e, v)))
                    };
                    let nums = || {
                        values().filter_map(|(_, v)| match v {
                            V::Num(n) => Some(n),
                            _ => None,
                        })
                    };
                    match function {
                        "count" if field.is_empty() => Cell::Integer(group.len() as i128),
                        "count" => Cell::Integer(values().count() as i128),
                        "sum" => {
                            let total: i128 = nums().sum();
                            if field == "n1" {
                                Cell::Integer(total)
                            } else {
                                Cell::Decimal(Fixed::new(total, scale_of(shape, field)))
                            }
                        }
                        "min" => cell(shape, field, values().map(|(_, v)| v).min()),
                        "max" => cell(shape, field, values().map(|(_, v)| v).max()),
                        "first" | "last" => {
                            let order = |(e, v): &(&&Event, V)| {
                                (e.time_ms, fnv1a(e.id.as_bytes()), v.clone())
                            };
                            let pick = if function == "first" {
                                values().min_by_key(order)
                            } else {
                                values().max_by_key(order)
                            };
                            cell(shape, field, pick.map(|(_, v)| v))
                        }
                        "avg" => {
                            let n = nums().count() as i128;
                            Fixed::ratio(nums().sum(), scale_of(shape, field), n, 5)
                                .map_or(Cell::Null, Cell::Decimal)
                        }
                        "weighted_avg" => {
                            let numerator: i128 = group
                                .iter()
                                .map(|e| i128::from(e.d1(shape.scale)) * i128::from(e.w1))
                                .sum();
                            let denominator: i128 = group.iter().map(|e| i128::from(e.w1)).sum();
                            Fixed::ratio(numerator, shape.scale, denominator, 6)
                                .map_or(Cell::Null, Cell::Decimal)
                        }
                        "count_distinct" => {
                            let distinct: BTreeSet<V> = values().map(|(_, v)| v).collect();
                            Cell::Integer(distinct.len() as i128)
                        }
                        other => unreachable!("{other}"),
                    }
                })
                .collect();
            (key, start, cells)
        })
        .collect()
}

/// Where each naive session ends: its last event plus the gap, or the cut.
fn session_ends(shape: &Shape, events: &[Event]) -> BTreeMap<(String, i64), i64> {
    groups(shape, events)
        .into_iter()
        .map(|((start, key), group)| {
            let last = group.iter().map(|e| e.time_ms).max().unwrap_or(start);
            let cut = (start.div_euclid(CUT_MS) + 1) * CUT_MS;
            ((key, start), (last + GAP_MS).min(cut))
        })
        .collect()
}

fn got(aggregates: Vec<Aggregate>) -> Vec<(String, i64, Vec<Cell>)> {
    let mut rows: Vec<_> = aggregates
        .into_iter()
        .map(|a| (a.key.to_string(), a.window_start_ms, a.cells))
        .collect();
    rows.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    rows
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn aggregates_equal_a_naive_recomputation_in_any_order_within_lateness(
        shape in shape(),
        events in stream(LATENESS_MS, 0),
    ) {
        let spec = shape.spec();
        let mut partition = Partition::new(&spec);
        let mut out = Outputs::default();
        feed(&mut partition, &shape, &events, 0, events.len(), &mut out);
        partition.close_all(&mut out.aggregates);
        prop_assert!(out.dead_letters.is_empty(), "{:?}", out.dead_letters);
        let mut want = naive(&shape, &events);
        want.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        if shape.window == Windows::Session {
            let ends = session_ends(&shape, &events);
            for a in &out.aggregates {
                let at = (a.key.to_string(), a.window_start_ms);
                prop_assert_eq!(Some(&a.window_end_ms), ends.get(&at), "{:?}", at);
            }
        }
        prop_assert_eq!(got(out.aggregates), want, "{}", shape.spec_text());
    }

    #[test]
    fn sessions_merge_the_same_in_any_order(
        shape in shape().prop_map(|s| Shape { window: Windows::Session, ..s }),
        events in stream(LATENESS_MS, 0),
        delays in proptest::collection::vec(0..LATENESS_MS, 200),
    ) {
        // The same events in another order within the lateness: sessions opened apart by early
        // arrivals are merged by later ones that fall between them.
        let mut reordered: Vec<(i64, Event)> = events
            .iter()
            .zip(&delays)
            .map(|(e, d)| (e.time_ms + d, e.clone()))
            .collect();
        reordered.sort_by_key(|(arrival, _)| *arrival);
        let reordered: Vec<Event> = reordered.into_iter().map(|(_, e)| e).collect();
        let spec = shape.spec();
        let run = |events: &[Event]| {
            let mut partition = Partition::new(&spec);
            let mut out = Outputs::default();
            feed(&mut partition, &shape, events, 0, events.len(), &mut out);
            partition.close_all(&mut out.aggregates);
            let mut rows: Vec<_> = out
                .aggregates
                .into_iter()
                .map(|a| (a.key.to_string(), a.window_start_ms, a.window_end_ms, a.cells))
                .collect();
            rows.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
            rows
        };
        prop_assert_eq!(run(&events), run(&reordered));
    }

    #[test]
    fn every_record_is_accounted_for_in_any_order(
        shape in shape(),
        events in stream(3 * WINDOW_MS, 10),
    ) {
        let spec = shape.spec();
        let mut partition = Partition::new(&spec);
        let mut out = Outputs::default();
        feed(&mut partition, &shape, &events, 0, events.len(), &mut out);
        partition.close_all(&mut out.aggregates);
        let stats = partition.stats();
        prop_assert_eq!(stats.filtered, out.filtered.len() as u64);
        prop_assert_eq!(
            stats.accepted + stats.filtered + out.dead_letters.len() as u64,
            events.len() as u64
        );
        for (offset, reason) in &out.dead_letters {
            let expected = if events[*offset as usize].broken { Reason::WrongType } else { Reason::Late };
            prop_assert_eq!(*reason, expected);
        }
        for offset in &out.filtered {
            prop_assert!(!passes(&shape, &events[*offset as usize]));
        }
    }

    #[test]
    fn resuming_from_the_checkpoint_reproduces_an_uninterrupted_run(
        shape in shape(),
        events in stream(3 * WINDOW_MS, 5),
        crashes in proptest::collection::vec(0.0f64..1.0, 1..4),
        idle_periods in proptest::collection::vec((0.0f64..1.0, 0i64..3 * WINDOW_MS), 0..3),
        budget in proptest::option::of(1usize..4),
    ) {
        // With a state budget (a few keys a window), the over-capacity verdicts too must be
        // the same after a restart.
        let budget = budget.filter(|_| shape.window != Windows::Session);
        let text = match budget {
            Some(n) => shape.spec_text().replace("\n[window]\n", &format!("\n[window]\nmax_keys = {n}\n")),
            None => shape.spec_text(),
        };
        let spec = Spec::from_toml(&text, "generated").unwrap();
        prop_assert_eq!(spec.window.max_keys, budget);
        // Quiet periods: before the chosen records, the clock moves the watermark to a while
        // after the previous event (as the processor does for an idle partition).
        let idles: Vec<(usize, i64)> = idle_periods
            .iter()
            .map(|(at, gap)| {
                let at = ((at * events.len() as f64) as usize).max(1).min(events.len().saturating_sub(1));
                (at, events[at.saturating_sub(1)].time_ms + gap)
            })
            .collect();
        let mut expected = Outputs::default();
        let mut partition = Partition::new(&spec);
        feed_with_idles(&mut partition, &shape, &events, (0, events.len()), &idles, 0, &mut expected);
        partition.close_all(&mut expected.aggregates);

        // Crash after each chosen record; what was emitted before the crash counts as committed
        // along with the checkpoint, and the next run resumes from the checkpoint.
        let mut crash_points: Vec<usize> = crashes.iter().map(|c| (c * events.len() as f64) as usize).collect();
        crash_points.sort_unstable();
        let mut got = Outputs::default();
        let mut partition = Partition::new(&spec);
        let mut next = 0;
        let mut replay_until = 0;
        for crash in crash_points {
            let crash = crash.max(next);
            feed_with_idles(&mut partition, &shape, &events, (next, crash), &idles, replay_until, &mut got);
            let Some(checkpoint) = partition.checkpoint() else { continue };
            let metadata = checkpoint.metadata();
            let restored = pipeline_core::Checkpoint::from_metadata(checkpoint.offset, &metadata).unwrap();
            prop_assert!(restored.offset <= crash as i64);
            partition = Partition::resume(&spec, restored);
            next = restored.offset as usize;
            replay_until = restored.high_water as usize;
        }
        feed_with_idles(&mut partition, &shape, &events, (next, events.len()), &idles, replay_until, &mut got);
        partition.close_all(&mut got.aggregates);
        // Replayed records below the high-water mark are not filtered or dead-lettered again.
        prop_assert_eq!(got.aggregates, expected.aggregates);
        prop_assert_eq!(got.dead_letters, expected.dead_letters);
    }
}
