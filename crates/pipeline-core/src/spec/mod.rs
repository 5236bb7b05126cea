//! The pipeline spec: one file per pipeline (`config/pipelines/<name>.toml`) that says what an
//! event is (its fields, their types and bounds, the key, the event time and id), what is
//! derived from it, which events count (`where`), how they are windowed and aggregated, what the
//! checker verifies, and which topics carry them. Loading is strict: unknown keys, wrong types
//! and impossible values fail with the file, the key and the reason, and every problem is
//! reported at once.
//!
//! The loader is split by concern: `raw` (the file's shape), `fields` (declared fields and their
//! generator hints), `derive` (derived fields and the filter), `aggregates` (the output columns
//! and checks) and `window`.

use std::fmt;
use std::path::Path;

use chrono_tz::Tz;
use regex::Regex;

use crate::expr::{Expr, Rounding, Type};
use crate::key::MAX_KEY_LEN;

mod aggregates;
mod derive;
mod fields;
mod input;
mod raw;
mod window;

pub(crate) use aggregates::column_type;
pub(crate) use derive::{MAX_TIME_MS, MIN_TIME_MS};
pub use input::{InputFormat, Registry, RegistrySpec, SchemaType, SchemaVersion};

/// The most fields an event may declare.
pub const MAX_FIELDS: usize = 32;
/// The most derived fields.
pub const MAX_DERIVED: usize = 16;
/// Declared and derived fields together: the decoded event's value slots.
pub const MAX_SLOTS: usize = MAX_FIELDS + MAX_DERIVED;
/// The largest fixed-point scale a decimal field may use.
pub const MAX_SCALE: u32 = 9;
/// The largest output scale of a derived field or an `avg`/`weighted_avg` column.
pub const MAX_OUTPUT_SCALE: u32 = 12;
/// The longest string a `min`/`max`/`first`/`last` column may hold (kept inline, no heap).
pub const MAX_INLINE_STRING: usize = 64;
/// The most aggregate columns (each window keeps one presence bit per accumulator).
pub const MAX_AGGREGATES: usize = 48;
/// Columns every aggregate carries ahead of its key fields' and the spec's own.
pub const FIXED_COLUMNS: [&str; 3] = ["aggregate_id", "window_start", "window_end"];
/// The column holding the joined key when the key has more than one field (the Kafka key,
/// and the Feature Group's record identifier).
pub const KEY_COLUMN: &str = "aggregate_key";
/// Between the values of a composite key, in the Kafka key and the aggregate id.
pub const KEY_SEPARATOR: char = '|';

/// A loaded, checked pipeline spec.
#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    pub topics: Topics,
    /// How the input's records are encoded (`[input]`; JSON when absent).
    pub input: InputFormat,
    pub event: EventSpec,
    /// Fields computed from the declared ones, in order; each may use the ones before it.
    pub derived: Vec<DerivedField>,
    /// Which valid events are windowed; the rest are counted as filtered, not dead-lettered.
    pub filter: Option<Filter>,
    pub window: WindowSpec,
    /// Columns computed from the window itself (e.g. a calendar date), after `window_end`.
    pub window_columns: Vec<WindowColumn>,
    /// The aggregate columns, in output order.
    pub aggregates: Vec<AggregateSpec>,
    /// Rules the checker verifies on each key's latest aggregate.
    pub checks: Vec<Check>,
    /// Every value an event carries, declared fields first (index = field index), then the
    /// derived ones.
    pub slots: Vec<Slot>,
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
    /// The key fields, in order: the window key and the Kafka key (joined by
    /// [`KEY_SEPARATOR`]).
    pub key: Vec<usize>,
    pub event_time: usize,
    /// The field whose stable hash breaks ties between events of the same millisecond.
    pub event_id: usize,
}

#[derive(Debug, Clone)]
pub struct FieldSpec {
    pub name: String,
    pub required: bool,
    pub kind: FieldKind,
    pub generate: Generate,
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
    Boolean,
}

/// One end of a decimal range, in units of the field's scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    pub units: i64,
    pub inclusive: bool,
}

impl FieldKind {
    /// The most characters a string value can have: `max_length`, or the longest allowed value
    /// when the field lists them.
    pub fn longest_string(&self) -> usize {
        match self {
            FieldKind::String {
                max_length, one_of, ..
            } => one_of
                .as_ref()
                .and_then(|values| values.iter().map(|v| v.chars().count()).max())
                .map_or(*max_length, |longest| longest.min(*max_length)),
            _ => 0,
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            FieldKind::String { .. } => "string",
            FieldKind::Integer { .. } => "integer",
            FieldKind::Decimal { .. } => "decimal",
            FieldKind::Timestamp => "timestamp",
            FieldKind::Boolean => "boolean",
        }
    }
}

/// How the generator makes a field's values (`generate = { … }` in the spec).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Generate {
    /// Values to pick from (strings, as written in the event).
    pub values: Option<Vec<String>>,
    /// This many distinct synthetic strings, `prefix` and a number.
    pub cardinality: Option<u64>,
    pub prefix: Option<String>,
    /// A new value for every event (an id).
    pub unique: bool,
    /// The range to draw numbers from, in the field's units (within its bounds).
    pub min: Option<i64>,
    pub max: Option<i64>,
    /// A random walk per key: each event moves the value by up to this share of itself.
    pub walk: Option<f64>,
    /// Share of events without this (optional) field.
    pub null_share: f64,
    /// Share of `true` for a boolean.
    pub true_share: f64,
}

/// A value's type in an event: a declared field's or a derived field's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotType {
    Integer,
    Decimal { scale: u32 },
    Timestamp,
    Boolean,
    String { max_length: usize },
}

impl SlotType {
    /// The type expressions see.
    pub fn expr_type(self) -> Type {
        match self {
            SlotType::Integer => Type::Number { scale: 0 },
            SlotType::Decimal { scale } => Type::Number { scale },
            SlotType::Timestamp => Type::Timestamp,
            SlotType::Boolean => Type::Boolean,
            SlotType::String { .. } => Type::String,
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, SlotType::Integer | SlotType::Decimal { .. })
    }

    /// Decimal places of a numeric value (0 for integers and timestamps).
    pub fn scale(self) -> u32 {
        match self {
            SlotType::Decimal { scale } => scale,
            _ => 0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Slot {
    pub name: String,
    pub ty: SlotType,
    /// Whether every valid event has a value here.
    pub always: bool,
    /// The smallest and largest units the value can take, when known (for overflow checks).
    pub range: Option<(i128, i128)>,
}

/// A field computed from the event's declared fields, exactly.
#[derive(Debug, Clone)]
pub struct DerivedField {
    pub name: String,
    /// The expression as written.
    pub text: String,
    pub expr: Expr,
    /// Decimal places of the result; a result with more is rounded with `rounding`.
    pub scale: u32,
    pub rounding: Rounding,
    /// What a division by zero gives.
    pub on_zero: OnZero,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnZero {
    /// The derived value is null (absent).
    Null,
    /// The event is dead-lettered (`invalid_value`).
    DeadLetter,
}

/// The event filter (`where`).
#[derive(Debug, Clone)]
pub struct Filter {
    pub text: String,
    pub expr: Expr,
}

/// Event-time windows. Tumbling windows have `slide_ms == size_ms`; session windows have a
/// `session`, and their `size_ms` and `slide_ms` are its `max_duration_ms` (a session never
/// crosses a multiple of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
    pub size_ms: i64,
    pub slide_ms: i64,
    /// Session windows: a key's events within `gap_ms` of each other make one window.
    pub session: Option<SessionSpec>,
    pub allowed_lateness_ms: i64,
    /// After this long (processing time) without a record on a partition, the processor moves
    /// the partition's watermark by the clock, so that its windows close on time.
    pub idle_timeout_ms: Option<i64>,
    /// The state budget: at most this many keys in one window of one partition. An event
    /// whose key is new to its (newest) window when the window is full is dead-lettered as
    /// `over_capacity`.
    pub max_keys: Option<usize>,
}

impl WindowSpec {
    pub fn is_tumbling(&self) -> bool {
        self.session.is_none() && self.size_ms == self.slide_ms
    }
}

/// `window.type = "session"`: a window per burst of one key's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSpec {
    /// Events of a key this close in event time are in one session; a session ends at its last
    /// event plus the gap.
    pub gap_ms: i64,
    /// Sessions are cut at every multiple of this (from the Unix epoch, UTC), so that none is
    /// longer and the cut does not depend on the order events arrive in.
    pub max_duration_ms: i64,
}

/// A column computed from the window: `date_of(window_start|window_end, zone)`.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowColumn {
    pub name: String,
    /// The window edge whose date it is.
    pub of: WindowEdge,
    pub zone: Tz,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowEdge {
    Start,
    End,
}

/// One aggregate column: a function over one key's events in one window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateSpec {
    pub name: String,
    pub function: AggregateFn,
    /// The slot aggregated (none for `count`).
    pub field: Option<usize>,
    /// The weight's slot (`weighted_avg`).
    pub weight: Option<usize>,
    /// Decimal places of an `avg` or `weighted_avg`.
    pub scale: u32,
    pub output: crate::ColumnType,
}

/// What an aggregate column computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggregateFn {
    /// Events (without a field), or events where the field has a value.
    Count,
    Sum,
    Min,
    Max,
    /// Σ value / number of values, rounded half to even at the column's scale.
    Avg,
    /// The value of the earliest event by event time (ties: the event id's hash, then the
    /// value).
    First,
    /// The value of the latest event.
    Last,
    /// Σ(value × weight) / Σ weight.
    WeightedAvg,
    /// The number of distinct values: exact (a set of the values' 64-bit hashes).
    CountDistinct,
}

impl AggregateFn {
    pub const NAMES: [&str; 9] = [
        "count",
        "sum",
        "min",
        "max",
        "avg",
        "first",
        "last",
        "weighted_avg",
        "count_distinct",
    ];

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "count" => Self::Count,
            "sum" => Self::Sum,
            "min" => Self::Min,
            "max" => Self::Max,
            "avg" => Self::Avg,
            "first" => Self::First,
            "last" => Self::Last,
            "weighted_avg" => Self::WeightedAvg,
            "count_distinct" => Self::CountDistinct,
            _ => return None,
        })
    }
}

/// A rule the checker verifies on each key's latest aggregate, e.g. `low <= open`. Its names
/// are output columns (slot = column index in [`Spec::output_columns`]).
#[derive(Debug, Clone)]
pub struct Check {
    pub rule: String,
    pub expr: Expr,
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

#[derive(Default)]
pub(crate) struct Problems(Vec<Problem>);

impl Problems {
    pub(crate) fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            key: key.into(),
            message: message.into(),
        });
    }

    /// One problem per key the file has but the spec does not know at `table`.
    fn unknown(&mut self, table: &str, extra: &raw::Extra, known: &[&str]) {
        for key in extra.keys() {
            let at = if table.is_empty() {
                key.clone()
            } else {
                format!("{table}.{key}")
            };
            self.push(
                at,
                format!("unknown key; expected one of: {}", known.join(", ")),
            );
        }
    }
}

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
        let raw: raw::RawSpec = toml::from_str(text).map_err(|e| SpecError {
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

    /// The key fields, in order.
    pub fn key_fields(&self) -> impl Iterator<Item = &FieldSpec> {
        self.event.key.iter().map(|&i| &self.event.fields[i])
    }

    /// The slot named `name`, if any.
    pub fn slot(&self, name: &str) -> Option<usize> {
        self.slots.iter().position(|s| s.name == name)
    }

    /// Where `processor replay` re-publishes records after a fix, for a backfill processor:
    /// `<input>.replay`.
    pub fn replay_topic(&self) -> String {
        format!("{}.replay", self.topics.input)
    }
}

/// The longest pipeline name: with the project and environment it names AWS resources, and
/// `<project>-<environment>-<pipeline>-feature-writer` must stay within Lambda's and IAM's 64
/// characters (Terraform allows a project of 16, an environment of 7).
pub const MAX_NAME_LEN: usize = 20;

fn check(raw: raw::RawSpec, problems: &mut Problems) -> Option<Spec> {
    problems.unknown(
        "",
        &raw.extra,
        &[
            "name",
            "where",
            "topics",
            "input",
            "event",
            "derive",
            "window",
            "aggregates",
            "checks",
        ],
    );
    let valid_name = !raw.name.is_empty()
        && raw.name.len() <= MAX_NAME_LEN
        && !raw.name.ends_with('-')
        && raw.name.starts_with(|c: char| c.is_ascii_lowercase())
        && raw
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid_name {
        problems.push(
            "name",
            format!(
                "`{}` is not a pipeline name; expected [a-z][a-z0-9-]*, at most {MAX_NAME_LEN} characters, not ending in - (it names the pipeline's AWS resources, whose names AWS bounds)",
                raw.name
            ),
        );
    }
    check_topics(&raw.topics, problems);
    let input = input::check_input(raw.input, problems);
    let event = fields::check_event(raw.event, problems);
    let window = window::check_window(&raw.window, problems);
    let window_columns = window::check_columns(raw.window.columns, problems);
    let (derived, slots, filter) = match &event {
        Some(event) => derive::check_derived(raw.derive, raw.filter, event, problems),
        None => (Vec::new(), Vec::new(), None),
    };
    let aggregates = match &event {
        Some(event) => aggregates::check_aggregates(raw.aggregates, event, &slots, problems),
        None => Vec::new(),
    };
    let mut spec = Spec {
        name: raw.name,
        topics: Topics {
            input: raw.topics.input,
            output: raw.topics.output,
            dead_letter: raw.topics.dead_letter,
        },
        input,
        event: event?,
        derived,
        filter,
        window: window?,
        window_columns,
        aggregates,
        checks: Vec::new(),
        slots,
    };
    aggregates::check_names(&spec, problems);
    check_texts(&spec, problems);
    spec.checks = aggregates::check_rules(raw.checks, &spec, problems);
    Some(spec)
}

/// The decoder keeps the text of at most [`crate::event::MAX_TEXTS`] string fields: those the
/// filter compares and the string `min`/`max`/`first`/`last` columns hold.
fn check_texts(spec: &Spec, problems: &mut Problems) {
    let mut used = Vec::new();
    if let Some(f) = &spec.filter {
        f.expr.slots(&mut used);
    }
    used.extend(spec.aggregates.iter().filter_map(|a| match a.function {
        AggregateFn::Count | AggregateFn::CountDistinct => None,
        _ => a.field,
    }));
    used.retain(|&s| matches!(spec.slots[s].ty, SlotType::String { .. }));
    used.sort_unstable();
    used.dedup();
    if used.len() > crate::event::MAX_TEXTS {
        problems.push(
            "aggregates",
            format!(
                "{} string fields are compared or kept; at most {}",
                used.len(),
                crate::event::MAX_TEXTS
            ),
        );
    }
}

fn check_topics(topics: &raw::RawTopics, problems: &mut Problems) {
    problems.unknown("topics", &topics.extra, &["input", "output", "dead_letter"]);
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

/// How many bytes a key field's value takes at most in the joined key.
pub(crate) fn key_width(kind: &FieldKind) -> usize {
    match kind {
        FieldKind::String { .. } => kind.longest_string(),
        FieldKind::Integer { .. } => 20,
        FieldKind::Boolean => 5,
        _ => MAX_KEY_LEN + 1,
    }
}

#[cfg(test)]
pub(crate) mod tests;
