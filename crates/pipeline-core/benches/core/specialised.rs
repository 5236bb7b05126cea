//! The baseline the general core is measured against: the stock-ticks path as it was before the
//! spec became general (this project's own code at commit 820e6ac, trimmed to what the benchmark
//! drives): a decoder that keeps only key, id hash, price, volume and event time; a fixed
//! OHLC/VWAP accumulator; tumbling windows in a deque of buckets; the same JSON out. It runs on
//! the same bytes in the same process, so the ratio between the two is the cost of generality.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Write as _;

use pipeline_core::decimal::{self, Fixed};
use pipeline_core::enrich::SessionCalendar;
use pipeline_core::event::fnv1a;
use pipeline_core::json::{Json, Scanner};
use pipeline_core::spec::{FieldKind, FieldSpec, Spec};
use pipeline_core::time::write_rfc3339_millis;
use pipeline_core::{Key, Reason, Rejection};

#[derive(Clone, Copy)]
pub struct Tick {
    key: Key,
    id_hash: u64,
    price_units: i64,
    volume: i64,
    event_time_ms: i64,
}

/// The stock-ticks fields' places, read from the (general) spec once.
struct Roles {
    key: usize,
    event_time: usize,
    event_id: usize,
    price: usize,
    volume: usize,
}

pub struct Decoder {
    fields: Vec<FieldSpec>,
    roles: Roles,
    max_bytes: usize,
    max_future_skew_ms: i64,
    max_past_skew_ms: i64,
    /// Keys that passed their checks, so that a repeating key skips its regex (as before).
    memo: HashSet<Key, foldhash::fast::RandomState>,
}

impl Decoder {
    pub fn new(spec: &Spec) -> Self {
        let at = |name: &str| spec.slot(name).expect("a stock-ticks field");
        Self {
            fields: spec.event.fields.clone(),
            roles: Roles {
                key: spec.event.key[0],
                event_time: spec.event.event_time,
                event_id: spec.event.event_id,
                price: at("price"),
                volume: at("volume"),
            },
            max_bytes: spec.event.max_bytes,
            max_future_skew_ms: spec.event.max_future_skew_ms,
            max_past_skew_ms: spec.event.max_past_skew_ms,
            memo: HashSet::default(),
        }
    }

    pub fn decode(&mut self, payload: &[u8], record_time_ms: i64) -> Result<Tick, Rejection> {
        if payload.is_empty() || payload.len() > self.max_bytes {
            return Err(Rejection::new(Reason::TooLarge, "size"));
        }
        let mut tick = Tick {
            key: Key::default(),
            id_hash: 0,
            price_units: 0,
            volume: 0,
            event_time_ms: 0,
        };
        let mut present = 0u32;
        let mut error = None;
        let fields = &self.fields;
        let roles = &self.roles;
        let memo = &mut self.memo;
        Scanner::new(payload)
            .and_then(|mut scanner| {
                scanner.object(
                    |name| fields.iter().position(|f| f.name.as_bytes() == name),
                    |i, scanner| {
                        let json = scanner.value()?;
                        if error.is_some() {
                            return Ok(());
                        }
                        if i == roles.key
                            && let Json::Str(text) = &json
                            && let Some(key) = Key::new(text).filter(|k| memo.contains(k))
                        {
                            present |= 1 << i;
                            tick.key = key;
                            return Ok(());
                        }
                        match check(&fields[i], json) {
                            Ok(Value::Absent) => {}
                            Ok(value) => {
                                present |= 1 << i;
                                match value {
                                    Value::Text(text) if i == roles.key => {
                                        tick.key = Key::new(&text).unwrap_or_default();
                                        if memo.len() >= 16_384 {
                                            memo.clear();
                                        }
                                        memo.insert(tick.key);
                                    }
                                    Value::Text(text) if i == roles.event_id => {
                                        tick.id_hash = fnv1a(text.as_bytes());
                                    }
                                    Value::Number(n) if i == roles.price => tick.price_units = n,
                                    Value::Number(n) if i == roles.volume => tick.volume = n,
                                    Value::Number(n) if i == roles.event_time => {
                                        tick.event_time_ms = n;
                                    }
                                    _ => {}
                                }
                            }
                            Err(r) => error = Some(r),
                        }
                        Ok(())
                    },
                )
            })
            .map_err(|e| Rejection::new(Reason::Malformed, e))?;
        if let Some(r) = error {
            return Err(r);
        }
        if fields
            .iter()
            .enumerate()
            .any(|(i, f)| f.required && present & (1 << i) == 0)
        {
            return Err(Rejection::new(Reason::MissingField, "missing"));
        }
        let ahead = tick.event_time_ms.saturating_sub(record_time_ms);
        if ahead > self.max_future_skew_ms || ahead < -self.max_past_skew_ms {
            return Err(Rejection::new(Reason::TimeSkew, "skew"));
        }
        Ok(tick)
    }
}

enum Value<'a> {
    Text(Cow<'a, str>),
    Number(i64),
    Absent,
}

fn check<'a>(field: &FieldSpec, json: Json<'a>) -> Result<Value<'a>, Rejection> {
    let bad = |reason| Err(Rejection::new(reason, field.name.clone()));
    if let Json::Null = json {
        return if field.required {
            bad(Reason::MissingField)
        } else {
            Ok(Value::Absent)
        };
    }
    match (&field.kind, json) {
        (
            FieldKind::String {
                min_length,
                max_length,
                pattern,
                one_of,
            },
            Json::Str(text),
        ) => {
            let len = text.len();
            if len < *min_length || len > *max_length {
                return bad(Reason::InvalidValue);
            }
            if pattern.as_ref().is_some_and(|re| !re.is_match(&text)) {
                return bad(Reason::InvalidValue);
            }
            if one_of
                .as_ref()
                .is_some_and(|a| !a.iter().any(|v| *v == text))
            {
                return bad(Reason::InvalidValue);
            }
            Ok(Value::Text(text))
        }
        (FieldKind::Integer { min, max }, Json::Num(t)) => match t.parse::<i64>() {
            Ok(n) if n >= *min && n <= *max => Ok(Value::Number(n)),
            _ => bad(Reason::OutOfRange),
        },
        (
            FieldKind::Decimal {
                scale,
                lower,
                upper,
            },
            Json::Num(t),
        ) => {
            let units = decimal::parse_units(t, *scale)
                .map_err(|_| Rejection::new(Reason::InvalidValue, field.name.clone()))?;
            let below =
                lower.is_some_and(|b| units < b.units || (units == b.units && !b.inclusive));
            let above =
                upper.is_some_and(|b| units > b.units || (units == b.units && !b.inclusive));
            if below || above {
                return bad(Reason::OutOfRange);
            }
            Ok(Value::Number(units))
        }
        (FieldKind::Timestamp, Json::Num(t)) => t
            .parse::<i64>()
            .map(Value::Number)
            .map_err(|_| Rejection::new(Reason::OutOfRange, field.name.clone())),
        _ => bad(Reason::WrongType),
    }
}

type Mark = (i64, u64, i64);

#[derive(Clone, Copy)]
struct Accumulator {
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
    fn new(t: &Tick) -> Self {
        let mark = (t.event_time_ms, t.id_hash, t.price_units);
        Self {
            count: 1,
            volume: i128::from(t.volume),
            price_sum: i128::from(t.price_units),
            notional: i128::from(t.price_units) * i128::from(t.volume),
            first: mark,
            last: mark,
            high: t.price_units,
            low: t.price_units,
        }
    }

    fn add(&mut self, t: &Tick) {
        let mark = (t.event_time_ms, t.id_hash, t.price_units);
        self.count += 1;
        self.volume += i128::from(t.volume);
        self.price_sum += i128::from(t.price_units);
        self.notional += i128::from(t.price_units) * i128::from(t.volume);
        self.first = self.first.min(mark);
        self.last = self.last.max(mark);
        self.high = self.high.max(t.price_units);
        self.low = self.low.min(t.price_units);
    }
}

struct Bucket {
    start: i64,
    keys: HashMap<Key, Accumulator, foldhash::fast::RandomState>,
}

/// Tumbling windows over one partition's ticks, closing on the watermark, as before.
pub struct Partition {
    decoder: Decoder,
    size_ms: i64,
    lateness_ms: i64,
    calendar: SessionCalendar,
    buckets: VecDeque<Bucket>,
    watermark: Option<i64>,
    spare: Vec<HashMap<Key, Accumulator, foldhash::fast::RandomState>>,
}

impl Partition {
    pub fn new(spec: &Spec) -> Self {
        Self {
            decoder: Decoder::new(spec),
            size_ms: spec.window.size_ms,
            lateness_ms: spec.window.allowed_lateness_ms,
            calendar: SessionCalendar::new(spec.window_columns[0].zone),
            buckets: VecDeque::new(),
            watermark: None,
            spare: Vec::new(),
        }
    }

    /// Feeds one record; closed windows' aggregates go to `out` as JSON.
    pub fn process(&mut self, payload: &[u8], record_time_ms: i64, out: &mut Vec<String>) -> bool {
        let Ok(tick) = self.decoder.decode(payload, record_time_ms) else {
            return false;
        };
        let t = tick.event_time_ms;
        let start = t - t.rem_euclid(self.size_ms);
        if self.watermark.is_some_and(|wm| start + self.size_ms <= wm) {
            return false;
        }
        let at = self
            .buckets
            .iter()
            .rposition(|b| b.start <= start)
            .map_or(0, |i| i + 1);
        let bucket = if at > 0 && self.buckets[at - 1].start == start {
            &mut self.buckets[at - 1]
        } else {
            let keys = self.spare.pop().unwrap_or_default();
            self.buckets.insert(at, Bucket { start, keys });
            &mut self.buckets[at]
        };
        bucket
            .keys
            .entry(tick.key)
            .and_modify(|a| a.add(&tick))
            .or_insert_with(|| Accumulator::new(&tick));
        let candidate = t - self.lateness_ms;
        if self.watermark.is_none_or(|wm| candidate > wm) {
            self.watermark = Some(candidate);
        }
        self.close(out);
        true
    }

    pub fn close_all(&mut self, out: &mut Vec<String>) {
        if let Some(last) = self.buckets.back() {
            self.watermark = Some(last.start + self.size_ms);
        }
        self.close(out);
    }

    fn close(&mut self, out: &mut Vec<String>) {
        let Some(wm) = self.watermark else { return };
        while self
            .buckets
            .front()
            .is_some_and(|b| b.start + self.size_ms <= wm)
        {
            let Some(mut bucket) = self.buckets.pop_front() else {
                break;
            };
            let date = self.calendar.session_date(bucket.start);
            let mut rows: Vec<(Key, Accumulator)> = bucket.keys.drain().collect();
            rows.sort_unstable_by_key(|(k, _)| *k);
            for (key, acc) in rows {
                out.push(json(
                    key,
                    bucket.start,
                    bucket.start + self.size_ms,
                    date,
                    &acc,
                ));
            }
            if self.spare.len() < 2 {
                self.spare.push(bucket.keys);
            }
        }
    }
}

fn json(key: Key, start: i64, end: i64, date: chrono::NaiveDate, a: &Accumulator) -> String {
    use chrono::Datelike;
    let price = |u: i64| Fixed::new(i128::from(u), 4);
    let mut out = String::with_capacity(256);
    let _ = write!(
        out,
        "{{\"aggregate_id\":\"{key}:{start}\",\"ticker\":\"{key}\",\"window_start\":\""
    );
    write_rfc3339_millis(&mut out, start);
    out.push_str("\",\"window_end\":\"");
    write_rfc3339_millis(&mut out, end);
    let vwap = Fixed::ratio(a.notional, 4, a.volume, 6);
    let avg = Fixed::ratio(a.price_sum, 4, i128::from(a.count), 6);
    let show = |f: Option<Fixed>| f.map_or("null".to_owned(), |f| f.to_string());
    let _ = write!(
        out,
        "\",\"session_date\":\"{:04}-{:02}-{:02}\",\"count\":{},\"volume\":{},\"open\":{},\"high\":{},\"low\":{},\"close\":{},\"vwap\":{},\"avg_price\":{},\"notional\":{}}}",
        date.year(),
        date.month(),
        date.day(),
        a.count,
        a.volume,
        price(a.first.2),
        price(a.high),
        price(a.low),
        price(a.last.2),
        show(vwap),
        show(avg),
        Fixed::new(a.notional, 4)
    );
    out
}
