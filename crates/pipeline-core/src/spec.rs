//! The pipeline spec: the one file (`config/pipeline.toml`) that says what an event is, how it is
//! validated, windowed and aggregated, and which topics carry it. Loading is strict: unknown
//! keys, wrong types and impossible values fail with the file, the key and the reason, and every
//! problem is reported at once.

use std::fmt;
use std::path::Path;

use chrono_tz::Tz;
use regex::Regex;
use serde::Deserialize;

use crate::decimal::{self, DecimalError, pow10};
use crate::duration::{format_millis, parse_millis};
use crate::key::MAX_KEY_LEN;

/// The most fields an event may declare (the decoder tracks them in a fixed array).
pub const MAX_FIELDS: usize = 32;
/// The largest fixed-point scale a decimal field may use.
pub const MAX_SCALE: u32 = 9;
/// The largest output scale of an `avg` or `vwap` column.
pub const MAX_OUTPUT_SCALE: u32 = 12;
/// The name of the derived `price × volume` field that aggregates may sum.
pub const NOTIONAL: &str = "notional";
/// Columns every aggregate carries ahead of the spec's own `aggregates`, besides the key field.
pub const FIXED_COLUMNS: [&str; 4] = ["aggregate_id", "window_start", "window_end", "session_date"];

/// A loaded, checked pipeline spec.
#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    pub topics: Topics,
    pub event: EventSpec,
    pub window: WindowSpec,
    /// IANA time zone whose calendar date is the trading-session date.
    pub session_timezone: Tz,
    /// The aggregate columns, in output order, after the fixed ones.
    pub aggregates: Vec<AggregateColumn>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    pub input: String,
    pub output: String,
    pub dead_letter: String,
}

#[derive(Debug, Clone)]
pub struct EventSpec {
    pub max_bytes: usize,
    /// How far an event time may run ahead of its record's timestamp.
    pub max_future_skew_ms: i64,
    /// How far an event time may trail its record's timestamp.
    pub max_past_skew_ms: i64,
    pub fields: Vec<FieldSpec>,
    pub roles: Roles,
}

/// Which declared field plays each part the core needs; indices into [`EventSpec::fields`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    pub key: usize,
    pub event_time: usize,
    pub event_id: usize,
    pub price: usize,
    pub volume: usize,
}

#[derive(Debug, Clone)]
pub struct FieldSpec {
    pub name: String,
    pub required: bool,
    pub kind: FieldKind,
}

#[derive(Debug, Clone)]
pub enum FieldKind {
    String {
        min_length: usize,
        max_length: usize,
        pattern: Option<Regex>,
        one_of: Option<Vec<String>>,
    },
    Integer {
        min: i64,
        max: i64,
    },
    Decimal {
        scale: u32,
        lower: Option<Bound>,
        upper: Option<Bound>,
    },
    /// RFC 3339 text or integer epoch milliseconds.
    Timestamp,
}

/// One end of a decimal range, in units of the field's scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    pub units: i64,
    pub inclusive: bool,
}

impl FieldKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            FieldKind::String { .. } => "string",
            FieldKind::Integer { .. } => "integer",
            FieldKind::Decimal { .. } => "decimal",
            FieldKind::Timestamp => "timestamp",
        }
    }
}

/// Event-time windows. Tumbling windows have `slide_ms == size_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
    pub size_ms: i64,
    pub slide_ms: i64,
    pub allowed_lateness_ms: i64,
}

impl WindowSpec {
    pub fn is_tumbling(&self) -> bool {
        self.size_ms == self.slide_ms
    }
}

/// One output column of an aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateColumn {
    pub name: String,
    pub function: AggregateFn,
    /// Decimal places of the output (price scale, or the column's `scale` for `avg`/`vwap`).
    pub scale: u32,
}

/// What a column computes over one key's events in one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateFn {
    Count,
    SumVolume,
    SumNotional,
    /// Price of the earliest event (ties: see [`crate::aggregate`]).
    FirstPrice,
    /// Price of the latest event.
    LastPrice,
    MinPrice,
    MaxPrice,
    /// Arithmetic mean of prices.
    AvgPrice,
    /// Σ(price × volume) / Σ volume.
    Vwap,
}

/// Everything wrong with a spec file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub file: String,
    pub problems: Vec<Problem>,
}

/// One problem: the dotted key it concerns (empty for a syntax error) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "invalid pipeline spec {}: {n} problem{}",
            self.file,
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            if p.key.is_empty() {
                write!(f, "\n  {}", p.message)?;
            } else {
                write!(f, "\n  {}: {}", p.key, p.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for SpecError {}

// ---- the file's shape -------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    name: String,
    topics: RawTopics,
    event: RawEvent,
    enrich: RawEnrich,
    window: RawWindow,
    aggregates: Vec<RawAggregate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopics {
    input: String,
    output: String,
    dead_letter: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    key: String,
    event_time: String,
    event_id: String,
    price: String,
    volume: String,
    max_bytes: u64,
    max_future_skew: String,
    max_past_skew: String,
    fields: Vec<RawField>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum RawType {
    String,
    Integer,
    Decimal,
    Timestamp,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    name: String,
    #[serde(rename = "type")]
    ty: RawType,
    #[serde(default = "yes")]
    required: bool,
    min_length: Option<u64>,
    max_length: Option<u64>,
    pattern: Option<String>,
    one_of: Option<Vec<String>>,
    scale: Option<u32>,
    min: Option<toml::Value>,
    max: Option<toml::Value>,
    exclusive_min: Option<toml::Value>,
    exclusive_max: Option<toml::Value>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnrich {
    session_timezone: String,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum RawWindowType {
    Tumbling,
    Hopping,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    #[serde(rename = "type")]
    ty: RawWindowType,
    size: String,
    slide: Option<String>,
    allowed_lateness: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAggregate {
    name: String,
    function: String,
    field: Option<String>,
    scale: Option<u32>,
}

// ---- loading ---------------------------------------------------------------------------

impl Spec {
    /// Reads and checks the spec at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Spec, SpecError> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| SpecError {
            file: file.clone(),
            problems: vec![Problem {
                key: String::new(),
                message: format!("cannot read the file: {e}"),
            }],
        })?;
        Spec::from_toml(&text, &file)
    }

    /// Parses and checks spec text; `file` names it in errors.
    pub fn from_toml(text: &str, file: &str) -> Result<Spec, SpecError> {
        let raw: RawSpec = toml::from_str(text).map_err(|e| SpecError {
            file: file.to_owned(),
            problems: vec![Problem {
                key: String::new(),
                message: e.to_string().trim_end().to_owned(),
            }],
        })?;
        let mut problems = Problems::default();
        let spec = check(raw, &mut problems);
        match spec {
            Some(spec) if problems.0.is_empty() => Ok(spec),
            _ => Err(SpecError {
                file: file.to_owned(),
                problems: problems.0,
            }),
        }
    }

    pub fn key_field(&self) -> &FieldSpec {
        &self.event.fields[self.event.roles.key]
    }

    pub fn price_scale(&self) -> u32 {
        match self.event.fields[self.event.roles.price].kind {
            FieldKind::Decimal { scale, .. } => scale,
            _ => 0,
        }
    }
}

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            key: key.into(),
            message: message.into(),
        });
    }
}

fn check(raw: RawSpec, problems: &mut Problems) -> Option<Spec> {
    if raw.name.trim().is_empty() {
        problems.push("name", "must not be empty");
    }
    check_topics(&raw.topics, problems);
    let event = check_event(raw.event, problems);
    let session_timezone = match raw.enrich.session_timezone.parse::<Tz>() {
        Ok(tz) => Some(tz),
        Err(_) => {
            problems.push(
                "enrich.session_timezone",
                format!(
                    "`{}` is not an IANA time zone name; expected e.g. \"America/New_York\"",
                    raw.enrich.session_timezone
                ),
            );
            None
        }
    };
    let window = check_window(&raw.window, problems);
    let aggregates = match &event {
        Some(event) => check_aggregates(raw.aggregates, event, problems),
        None => Vec::new(),
    };
    Some(Spec {
        name: raw.name,
        topics: Topics {
            input: raw.topics.input,
            output: raw.topics.output,
            dead_letter: raw.topics.dead_letter,
        },
        event: event?,
        window: window?,
        session_timezone: session_timezone?,
        aggregates,
    })
}

fn check_topics(topics: &RawTopics, problems: &mut Problems) {
    let names = [
        ("topics.input", &topics.input),
        ("topics.output", &topics.output),
        ("topics.dead_letter", &topics.dead_letter),
    ];
    for (key, name) in names {
        let legal = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if name.is_empty() || name.len() > 249 || !legal || name == "." || name == ".." {
            problems.push(
                key,
                format!("`{name}` is not a Kafka topic name; expected 1–249 of [a-zA-Z0-9._-]"),
            );
        }
    }
    for (i, (key, name)) in names.iter().enumerate() {
        if let Some((other, _)) = names[..i].iter().find(|(_, n)| n == name) {
            problems.push(
                *key,
                format!("`{name}` is also {other}; each topic must differ"),
            );
        }
    }
}

fn check_event(raw: RawEvent, problems: &mut Problems) -> Option<EventSpec> {
    if raw.max_bytes == 0 || raw.max_bytes > 16 * 1024 * 1024 {
        problems.push(
            "event.max_bytes",
            format!(
                "{} is out of range; expected 1 to 16777216 (16 MiB)",
                raw.max_bytes
            ),
        );
    }
    let max_future_skew_ms = duration(&raw.max_future_skew, "event.max_future_skew", problems);
    let max_past_skew_ms = duration(&raw.max_past_skew, "event.max_past_skew", problems);
    if raw.fields.len() > MAX_FIELDS {
        problems.push(
            "event.fields",
            format!(
                "{} fields declared; at most {MAX_FIELDS} are supported",
                raw.fields.len()
            ),
        );
    }
    let mut fields = Vec::with_capacity(raw.fields.len());
    for (i, field) in raw.fields.into_iter().enumerate() {
        let key = format!("event.fields[{i}]");
        if fields.iter().any(|f: &FieldSpec| f.name == field.name) {
            problems.push(
                format!("{key}.name"),
                format!("`{}` is declared twice", field.name),
            );
        }
        fields.push(check_field(field, &key, problems));
    }
    let role = |role: &str, name: &str, want: &str, problems: &mut Problems| -> Option<usize> {
        let key = format!("event.{role}");
        let Some(index) = fields.iter().position(|f| f.name == name) else {
            problems.push(
                key,
                format!("names `{name}`, which is not among event.fields"),
            );
            return None;
        };
        let field = &fields[index];
        if field.kind.type_name() != want {
            problems.push(
                key,
                format!(
                    "`{name}` is a {} field; expected a {want} field",
                    field.kind.type_name()
                ),
            );
            return None;
        }
        if !field.required {
            problems.push(key, format!("`{name}` must be required (required = true)"));
            return None;
        }
        Some(index)
    };
    let key = role("key", &raw.key, "string", problems);
    let event_time = role("event_time", &raw.event_time, "timestamp", problems);
    let event_id = role("event_id", &raw.event_id, "string", problems);
    let price = role("price", &raw.price, "decimal", problems);
    let volume = role("volume", &raw.volume, "integer", problems);
    if let Some(k) = key
        && let FieldKind::String { max_length, .. } = fields[k].kind
        && max_length > MAX_KEY_LEN
    {
        problems.push(
            format!("{}.max_length", field_key(k, &fields[k].name)),
            format!("the key field holds at most {MAX_KEY_LEN} bytes; found {max_length}"),
        );
    }
    if let Some(p) = price
        && let FieldKind::Decimal { upper, lower, .. } = fields[p].kind
    {
        if upper.is_none() {
            problems.push(
                field_key(p, &fields[p].name),
                "the price field needs an upper bound (max or exclusive_max) so that sums are exact",
            );
        }
        if lower.is_none_or(|b| b.units < 0 || (b.units == 0 && b.inclusive)) {
            problems.push(
                field_key(p, &fields[p].name),
                "the price field needs a positive lower bound (e.g. exclusive_min = \"0\")",
            );
        }
    }
    if let Some(v) = volume
        && let FieldKind::Integer { min, .. } = fields[v].kind
        && min < 1
    {
        problems.push(
            format!("{}.min", field_key(v, &fields[v].name)),
            format!("the volume field weighs the VWAP, so its min must be at least 1; found {min}"),
        );
    }
    if fields.iter().any(|f| f.name == NOTIONAL) {
        problems.push(
            "event.fields",
            format!("`{NOTIONAL}` is the derived price × volume; name the input field otherwise"),
        );
    }
    let roles = Roles {
        key: key?,
        event_time: event_time?,
        event_id: event_id?,
        price: price?,
        volume: volume?,
    };
    Some(EventSpec {
        max_bytes: raw.max_bytes as usize,
        max_future_skew_ms: max_future_skew_ms?,
        max_past_skew_ms: max_past_skew_ms?,
        fields,
        roles,
    })
}

fn duration(text: &str, key: &str, problems: &mut Problems) -> Option<i64> {
    parse_millis(text).map_err(|e| problems.push(key, e)).ok()
}

/// The key of a declared field in problems: `event.fields[2] (price)`.
fn field_key(index: usize, name: &str) -> String {
    format!("event.fields[{index}] ({name})")
}

/// Checks one field; the result is usable for the role checks even when problems were found.
fn check_field(raw: RawField, key: &str, problems: &mut Problems) -> FieldSpec {
    let valid_name = !raw.name.is_empty()
        && raw
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid_name {
        problems.push(
            format!("{key}.name"),
            format!("`{}` is not a field name; expected [A-Za-z0-9_]+", raw.name),
        );
    }
    let key = format!("{key} ({})", raw.name);
    let ty = match raw.ty {
        RawType::String => "string",
        RawType::Integer => "integer",
        RawType::Decimal => "decimal",
        RawType::Timestamp => "timestamp",
    };
    let allowed: &[&str] = match raw.ty {
        RawType::String => &["min_length", "max_length", "pattern", "one_of"],
        RawType::Integer => &["min", "max"],
        RawType::Decimal => &["scale", "min", "max", "exclusive_min", "exclusive_max"],
        RawType::Timestamp => &[],
    };
    let given = [
        ("min_length", raw.min_length.is_some()),
        ("max_length", raw.max_length.is_some()),
        ("pattern", raw.pattern.is_some()),
        ("one_of", raw.one_of.is_some()),
        ("scale", raw.scale.is_some()),
        ("min", raw.min.is_some()),
        ("max", raw.max.is_some()),
        ("exclusive_min", raw.exclusive_min.is_some()),
        ("exclusive_max", raw.exclusive_max.is_some()),
    ];
    for (name, present) in given {
        if present && !allowed.contains(&name) {
            problems.push(
                format!("{key}.{name}"),
                format!(
                    "does not apply to a {ty} field; it takes: {}",
                    list_or_none(allowed)
                ),
            );
        }
    }
    let kind = match raw.ty {
        RawType::String => {
            let min_length = raw.min_length.unwrap_or(0) as usize;
            let max_length = raw.max_length.unwrap_or(256) as usize;
            if min_length > max_length {
                problems.push(
                    format!("{key}.min_length"),
                    format!("{min_length} is above max_length {max_length}"),
                );
            }
            let pattern = raw.pattern.and_then(|p| match Regex::new(&p) {
                Ok(re) if p.starts_with('^') && p.ends_with('$') => Some(re),
                Ok(_) => {
                    problems.push(
                        format!("{key}.pattern"),
                        "anchor the pattern with ^ and $ so that it matches the whole value",
                    );
                    None
                }
                Err(e) => {
                    problems.push(format!("{key}.pattern"), format!("not a valid regex: {e}"));
                    None
                }
            });
            if raw.one_of.as_ref().is_some_and(Vec::is_empty) {
                problems.push(format!("{key}.one_of"), "must list at least one value");
            }
            FieldKind::String {
                min_length,
                max_length,
                pattern,
                one_of: raw.one_of,
            }
        }
        RawType::Integer => {
            let min = integer_bound(raw.min.as_ref(), &format!("{key}.min"), problems);
            let max = integer_bound(raw.max.as_ref(), &format!("{key}.max"), problems);
            let (min, max) = (min.unwrap_or(i64::MIN), max.unwrap_or(i64::MAX));
            if min > max {
                problems.push(format!("{key}.min"), format!("{min} is above max {max}"));
            }
            FieldKind::Integer { min, max }
        }
        RawType::Decimal => {
            let scale = raw.scale.unwrap_or(4);
            if scale > MAX_SCALE {
                problems.push(
                    format!("{key}.scale"),
                    format!("{scale} decimal places; at most {MAX_SCALE} are supported"),
                );
            }
            let scale = scale.min(MAX_SCALE);
            let mut bound =
                |inclusive: &Option<toml::Value>, exclusive: &Option<toml::Value>, side: &str| {
                    match (inclusive, exclusive) {
                        (Some(_), Some(_)) => {
                            problems.push(
                                format!("{key}.{side}"),
                                format!("give either {side} or exclusive_{side}, not both"),
                            );
                            None
                        }
                        (Some(v), None) => {
                            decimal_bound(v, scale, true, &format!("{key}.{side}"), problems)
                        }
                        (None, Some(v)) => decimal_bound(
                            v,
                            scale,
                            false,
                            &format!("{key}.exclusive_{side}"),
                            problems,
                        ),
                        (None, None) => None,
                    }
                };
            let lower = bound(&raw.min, &raw.exclusive_min, "min");
            let upper = bound(&raw.max, &raw.exclusive_max, "max");
            if let (Some(lo), Some(hi)) = (lower, upper) {
                let empty = lo.units > hi.units
                    || (lo.units == hi.units && !(lo.inclusive && hi.inclusive));
                if empty {
                    problems.push(
                        format!("{key}.min"),
                        "the range between min and max is empty",
                    );
                }
            }
            // Sums are exact in i128 as long as one price fits in i64 with room to spare.
            if upper.is_some_and(|b| b.units > i64::MAX / 1_000) {
                problems.push(
                    format!("{key}.max"),
                    "too large for exact sums at this scale; lower max or scale",
                );
            }
            FieldKind::Decimal {
                scale,
                lower,
                upper,
            }
        }
        RawType::Timestamp => FieldKind::Timestamp,
    };
    FieldSpec {
        name: raw.name,
        required: raw.required,
        kind,
    }
}

fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() {
        "nothing".to_owned()
    } else {
        items.join(", ")
    }
}

fn integer_bound(value: Option<&toml::Value>, key: &str, problems: &mut Problems) -> Option<i64> {
    match value? {
        toml::Value::Integer(i) => Some(*i),
        other => {
            problems.push(
                key,
                format!("expected an integer, found {}", other.type_str()),
            );
            None
        }
    }
}

fn decimal_bound(
    value: &toml::Value,
    scale: u32,
    inclusive: bool,
    key: &str,
    problems: &mut Problems,
) -> Option<Bound> {
    let text = match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => {
            problems.push(
                key,
                format!("write decimal bounds as strings so they stay exact, e.g. \"{f}\""),
            );
            return None;
        }
        other => {
            problems.push(
                key,
                format!(
                    "expected a decimal string such as \"0.01\", found {}",
                    other.type_str()
                ),
            );
            return None;
        }
    };
    match decimal::parse_units(&text, scale) {
        Ok(units) => Some(Bound { units, inclusive }),
        Err(DecimalError::TooPrecise { decimals }) => {
            problems.push(
                key,
                format!("`{text}` has {decimals} decimal places but the field's scale is {scale}"),
            );
            None
        }
        Err(_) => {
            problems.push(
                key,
                format!(
                    "`{text}` is not a plain decimal within ±{}",
                    i64::MAX / pow10(scale)
                ),
            );
            None
        }
    }
}

fn check_window(raw: &RawWindow, problems: &mut Problems) -> Option<WindowSpec> {
    let size = duration(&raw.size, "window.size", problems);
    let lateness = duration(&raw.allowed_lateness, "window.allowed_lateness", problems);
    let slide = match (raw.ty, &raw.slide) {
        (RawWindowType::Tumbling, None) => size,
        (RawWindowType::Tumbling, Some(_)) => {
            problems.push("window.slide", "applies only to type = \"hopping\"");
            None
        }
        (RawWindowType::Hopping, None) => {
            problems.push("window.slide", "hopping windows need a slide, e.g. \"30s\"");
            None
        }
        (RawWindowType::Hopping, Some(s)) => duration(s, "window.slide", problems),
    };
    let (size, slide, lateness) = (size?, slide?, lateness?);
    let mut ok = true;
    if size <= 0 || size > 86_400_000 {
        problems.push(
            "window.size",
            format!("{} is out of range; expected 1ms to 1d", raw.size),
        );
        ok = false;
    } else if slide <= 0 || slide > size || size % slide != 0 {
        problems.push(
            "window.slide",
            format!(
                "{} must be positive and divide the window size {} evenly",
                format_millis(slide),
                format_millis(size)
            ),
        );
        ok = false;
    } else if size / slide > 60 {
        problems.push(
            "window.slide",
            "puts each event in more than 60 windows; use a larger slide",
        );
        ok = false;
    }
    if !(0..=86_400_000).contains(&lateness) {
        problems.push("window.allowed_lateness", "expected 0s to 1d");
        ok = false;
    }
    ok.then_some(WindowSpec {
        size_ms: size,
        slide_ms: slide,
        allowed_lateness_ms: lateness,
    })
}

fn check_aggregates(
    raw: Vec<RawAggregate>,
    event: &EventSpec,
    problems: &mut Problems,
) -> Vec<AggregateColumn> {
    if raw.is_empty() {
        problems.push("aggregates", "list at least one aggregate column");
    }
    let price = &event.fields[event.roles.price];
    let volume = &event.fields[event.roles.volume];
    let key_name = &event.fields[event.roles.key].name;
    let price_scale = match price.kind {
        FieldKind::Decimal { scale, .. } => scale,
        _ => 0,
    };
    let mut columns: Vec<AggregateColumn> = Vec::with_capacity(raw.len());
    for (i, agg) in raw.into_iter().enumerate() {
        let key = format!("aggregates[{i}] ({})", agg.name);
        let valid_name = agg.name.len() <= 64
            && agg.name.starts_with(|c: char| c.is_ascii_lowercase())
            && !agg.name.ends_with('_')
            && agg
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid_name {
            problems.push(
                format!("{key}.name"),
                "expected a lowercase column name: [a-z][a-z0-9_]*, at most 64 characters, not ending in _",
            );
        }
        if FIXED_COLUMNS.contains(&agg.name.as_str())
            || &agg.name == key_name
            || columns.iter().any(|c| c.name == agg.name)
        {
            problems.push(
                format!("{key}.name"),
                format!("column `{}` already exists", agg.name),
            );
        }
        let field = agg.field.as_deref();
        let on_price = field == Some(price.name.as_str());
        let function = match (agg.function.as_str(), field) {
            ("count", None) => Some(AggregateFn::Count),
            ("sum", Some(f)) if f == volume.name => Some(AggregateFn::SumVolume),
            ("sum", Some(NOTIONAL)) => Some(AggregateFn::SumNotional),
            ("first", _) if on_price => Some(AggregateFn::FirstPrice),
            ("last", _) if on_price => Some(AggregateFn::LastPrice),
            ("min", _) if on_price => Some(AggregateFn::MinPrice),
            ("max", _) if on_price => Some(AggregateFn::MaxPrice),
            ("avg", _) if on_price => Some(AggregateFn::AvgPrice),
            ("vwap", _) if on_price => Some(AggregateFn::Vwap),
            _ => None,
        };
        let Some(function) = function else {
            problems.push(
                format!("{key}.function"),
                format!(
                    "`{}`{} is not supported; expected one of: count (no field), sum of `{}` or `{NOTIONAL}`, first/last/min/max/avg/vwap of `{}`",
                    agg.function,
                    field.map(|f| format!(" of `{f}`")).unwrap_or_default(),
                    volume.name,
                    price.name
                ),
            );
            continue;
        };
        let derived = matches!(function, AggregateFn::AvgPrice | AggregateFn::Vwap);
        let scale = match agg.scale {
            Some(s) if !derived => {
                problems.push(
                    format!("{key}.scale"),
                    format!(
                        "only avg and vwap take a scale; `{}` keeps the input's",
                        agg.function
                    ),
                );
                s
            }
            Some(s) if !(price_scale..=MAX_OUTPUT_SCALE).contains(&s) => {
                problems.push(
                    format!("{key}.scale"),
                    format!("{s} is out of range; expected {price_scale} (the price scale) to {MAX_OUTPUT_SCALE}"),
                );
                s
            }
            Some(s) => s,
            None => match function {
                AggregateFn::Count | AggregateFn::SumVolume => 0,
                _ => price_scale,
            },
        };
        columns.push(AggregateColumn {
            name: agg.name,
            function,
            scale,
        });
    }
    columns
}

#[cfg(test)]
pub(crate) mod tests;
