//! Decoding and validating one event: raw bytes in, a typed [`Event`] or a [`Rejection`] out,
//! then the derived fields and the filter.
//!
//! The payload is scanned once (see `json`), borrowing from the input: each declared field is
//! checked against the spec as the scanner meets it; undeclared fields are skipped. A valid
//! event costs no heap allocation unless a string field holds escape sequences.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use crate::wire::{self, SchemaId};

use crate::expr::{self, Env, EvalError, Expr, Value};
use crate::json::{Json, Scanner};
use crate::key::{Key, KeyBuilder};
use crate::reject::{Reason, Rejection, quote};
use crate::spec::{DerivedField, FieldKind, FieldSpec, MAX_SLOTS, OnZero, SlotType, Spec};

mod check;
mod registered;
use check::check_field;
pub use registered::check_schema;
use registered::{BodyReader, RegistryInput};

/// The most string values an event keeps for its filter, string aggregates and composite key.
pub const MAX_TEXTS: usize = 16;
/// Not kept.
const NO_TEXT: u8 = u8::MAX;

/// What the core keeps of a valid event. It borrows nothing: the texts it keeps are byte
/// ranges of the payload it was decoded from (see [`Event::text`]), so the processor reuses one
/// `Event` for every record (see [`Decoder::decode_into`]).
#[derive(Debug, Clone)]
pub struct Event {
    /// The key fields' values (joined for a composite key): the Kafka key and the window key.
    pub key: Key,
    /// A stable 64-bit hash of the event id (FNV-1a), the tie-break between events in the same
    /// millisecond.
    pub id_hash: u64,
    pub event_time_ms: i64,
    /// Bit `i` set: slot `i` has a value.
    pub present: u64,
    /// Each slot's value: units of its scale for numbers, epoch ms for timestamps, 0 or 1 for
    /// booleans, the 64-bit hash of the text for strings.
    pub values: [i64; MAX_SLOTS],
    /// The kept texts (by [`Decoder::text_index`]): a byte range of the payload, or, for a
    /// string with escapes, `(ESCAPED, index into owned)`.
    texts: [(u32, u32); MAX_TEXTS],
    owned: Vec<String>,
    /// The event failed the spec's `where`: it is valid, but not windowed.
    pub filtered: bool,
}

/// Marks a kept text that lives in [`Event::owned`].
const ESCAPED: u32 = u32::MAX;

impl Default for Event {
    fn default() -> Self {
        Self {
            key: Key::default(),
            id_hash: 0,
            event_time_ms: 0,
            present: 0,
            values: [0; MAX_SLOTS],
            texts: [(0, 0); MAX_TEXTS],
            owned: Vec::new(),
            filtered: false,
        }
    }
}

impl Event {
    pub fn has(&self, slot: usize) -> bool {
        self.present & (1 << slot) != 0
    }

    /// Kept text `index` of the event decoded from `payload`.
    pub fn text<'s>(&'s self, index: usize, payload: &'s [u8]) -> &'s str {
        match self.texts[index] {
            (ESCAPED, i) => self.owned.get(i as usize).map_or("", String::as_str),
            (start, end) => payload
                .get(start as usize..end as usize)
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or_default(),
        }
    }

    // The Cow itself is the point: a borrowed text is kept as a range of the payload, an owned
    // (unescaped) one is copied.
    #[allow(clippy::ptr_arg)]
    fn keep(&mut self, index: usize, text: &Cow<'_, str>, payload: &[u8]) {
        self.texts[index] = match text {
            Cow::Borrowed(t) => {
                // The scanner hands out slices of the payload itself.
                let start = (t.as_ptr() as usize).wrapping_sub(payload.as_ptr() as usize);
                (start as u32, (start + t.len()) as u32)
            }
            Cow::Owned(t) => {
                self.owned.push(t.clone());
                (ESCAPED, (self.owned.len() - 1) as u32)
            }
        };
    }
}

/// Decodes events against a spec. Build one per partition (it remembers recent keys).
#[derive(Debug, Clone)]
pub struct Decoder {
    plan: Plan,
    /// For a one-field string key: keys that passed every check, so that a repeating key skips
    /// its regex.
    memo: KeyMemo,
    input: Input,
}

/// How records are encoded.
#[derive(Debug, Clone)]
enum Input {
    Json,
    Registry(Box<RegistryInput>),
}

/// Keys that passed every check, recently: a direct-mapped cache of [`MEMO_SLOTS`] keys by
/// their hash, each slot holding the last key that hashed there. Small enough to stay in
/// the core's cache: a few keys (tickers) always hit; with tens of thousands (users), a
/// lookup costs a probe of this table instead of a miss in a large set, and a key that is
/// not there is checked in full, as it would be anyway.
#[derive(Debug, Clone)]
struct KeyMemo {
    hasher: foldhash::fast::RandomState,
    slots: Vec<Option<Key>>,
}

const MEMO_SLOTS: usize = 1_024;

impl KeyMemo {
    fn new() -> Self {
        Self {
            hasher: foldhash::fast::RandomState::default(),
            slots: vec![None; MEMO_SLOTS],
        }
    }

    fn slot(&self, key: &Key) -> usize {
        self.hasher.hash_one(key) as usize % MEMO_SLOTS
    }

    fn contains(&self, key: &Key) -> bool {
        self.slots[self.slot(key)].as_ref() == Some(key)
    }

    fn insert(&mut self, key: Key) {
        let at = self.slot(&key);
        self.slots[at] = Some(key);
    }
}

/// What the decoder needs of the spec, laid out for the hot path.
#[derive(Debug, Clone)]
struct Plan {
    fields: Vec<FieldSpec>,
    slot_types: Vec<SlotType>,
    derived: Vec<DerivedField>,
    /// For each derived field that is the product of two numeric fields (`a * b`),
    /// those slots and their scales: computed directly, as the general evaluation would.
    products: Vec<Option<[(usize, u32); 2]>>,
    filter: Option<Expr>,
    /// The key fields.
    key: Vec<usize>,
    /// Which field's text is kept, and where.
    text_index: [u8; MAX_SLOTS],
    /// Bit `i` set: slot `i` (a string) is hashed.
    hashed: u64,
    event_time: usize,
    event_id: usize,
    /// Bit `i` set: field `i` is required.
    required: u64,
    single_string_key: bool,
    max_bytes: usize,
    max_future_skew_ms: i64,
    max_past_skew_ms: i64,
}

/// A checked field value, before it is placed in the event.
enum Checked<'a> {
    Text(Cow<'a, str>),
    Number(i64),
    Absent,
}

/// What `take` records besides the event.
#[derive(Default)]
struct Progress {
    /// Bit `i` set: field `i` appeared (possibly as null).
    seen: u64,
    /// The first field that failed its check; decoding reads on so that broken JSON later in
    /// the record still counts as malformed.
    first_error: Option<Rejection>,
}

impl Decoder {
    pub fn new(spec: &Spec) -> Self {
        let mut text_index = [NO_TEXT; MAX_SLOTS];
        let mut hashed = 0u64;
        let mut next_text = 0u8;
        let mut keep = |slot: usize, text_index: &mut [u8; MAX_SLOTS]| {
            if text_index[slot] == NO_TEXT && usize::from(next_text) < MAX_TEXTS {
                text_index[slot] = next_text;
                next_text += 1;
            }
        };
        let mut used = Vec::new();
        if let Some(f) = &spec.filter {
            f.expr.slots(&mut used);
        }
        for slot in used {
            if matches!(spec.slots[slot].ty, SlotType::String { .. }) {
                keep(slot, &mut text_index);
            }
        }
        for agg in &spec.aggregates {
            if let Some(f) = agg.field
                && matches!(spec.slots[f].ty, SlotType::String { .. })
            {
                match agg.function {
                    crate::spec::AggregateFn::CountDistinct => hashed |= 1 << f,
                    crate::spec::AggregateFn::Count => {}
                    _ => keep(f, &mut text_index),
                }
            }
        }
        let single_string_key = spec.event.key.len() == 1
            && matches!(spec.slots[spec.event.key[0]].ty, SlotType::String { .. });
        if spec.event.key.len() > 1 {
            for &k in &spec.event.key {
                if matches!(spec.slots[k].ty, SlotType::String { .. }) {
                    keep(k, &mut text_index);
                }
            }
        }
        let plan = Plan {
            fields: spec.event.fields.clone(),
            slot_types: spec.slots.iter().map(|s| s.ty).collect(),
            derived: spec.derived.clone(),
            products: spec
                .derived
                .iter()
                .map(|d| product_of_fields(&d.expr, &spec.slots))
                .collect(),
            filter: spec.filter.as_ref().map(|f| f.expr.clone()),
            key: spec.event.key.clone(),
            text_index,
            hashed,
            event_time: spec.event.event_time,
            event_id: spec.event.event_id,
            required: spec
                .event
                .fields
                .iter()
                .enumerate()
                .filter(|(_, f)| f.required)
                .fold(0, |mask, (i, _)| mask | 1 << i),
            single_string_key,
            max_bytes: spec.event.max_bytes,
            max_future_skew_ms: spec.event.max_future_skew_ms,
            max_past_skew_ms: spec.event.max_past_skew_ms,
        };
        let input = match &spec.input {
            crate::spec::InputFormat::Json => Input::Json,
            crate::spec::InputFormat::Registry(registry) => {
                Input::Registry(Box::new(RegistryInput {
                    wire: registry.registry.wire(),
                    schema_type: registry.schema_type,
                    message: registry.message.clone(),
                    schemas: HashMap::new(),
                    last: None,
                    scratch: Vec::new(),
                }))
            }
        };
        Self {
            plan,
            memo: KeyMemo::new(),
            input,
        }
    }

    /// The schema version `payload`'s header names, when it is one this decoder has not
    /// learnt: the caller resolves it through the registry and calls
    /// [`Decoder::learn_schema`] before decoding the record. `None` for JSON input, a record
    /// whose header cannot be read (it is dead-lettered `malformed`) and a known version.
    pub fn schema_to_learn(&self, payload: Option<&[u8]>) -> Option<SchemaId> {
        let Input::Registry(input) = &self.input else {
            return None;
        };
        let id = wire::parse(input.wire, payload?).ok()?.schema;
        // A run of records of one version costs a comparison, not a lookup.
        let known = input.last.as_ref().is_some_and(|(last, _)| *last == id)
            || input.schemas.contains_key(&id);
        (!known).then_some(id)
    }

    /// Learns schema version `id`: its schema text as the registry returned it, or why the
    /// registry could not return it (then its records are dead-lettered `unknown_schema` with
    /// that reason). A schema that does not compile is remembered the same way.
    pub fn learn_schema(&mut self, id: SchemaId, schema: Result<&str, String>) {
        let Input::Registry(input) = &mut self.input else {
            return;
        };
        let reader = schema.and_then(|text| {
            BodyReader::compile(
                input.schema_type,
                text,
                input.message.as_deref(),
                &self.plan.fields,
            )
            .map(Arc::new)
            .map_err(|e| format!("its schema cannot be read: {e}"))
        });
        input.schemas.insert(id, reader);
        input.last = None;
    }

    /// Where slot `slot`'s text is kept in [`Event::texts`], if it is.
    pub fn text_index(&self, slot: usize) -> Option<usize> {
        self.plan.text_index(slot)
    }

    /// Decodes and validates one Kafka record value, computes the derived fields and applies
    /// the filter. `record_time_ms` is the record's timestamp, the reference for the event-time
    /// skew check.
    pub fn decode(
        &mut self,
        payload: Option<&[u8]>,
        record_time_ms: i64,
    ) -> Result<Event, Rejection> {
        let mut event = Event::default();
        self.decode_into(payload, record_time_ms, &mut event)?;
        Ok(event)
    }

    /// [`Decoder::decode`] into an event kept from record to record (what the hot path does:
    /// nothing is allocated or copied for it).
    pub fn decode_into(
        &mut self,
        payload: Option<&[u8]>,
        record_time_ms: i64,
        event: &mut Event,
    ) -> Result<(), Rejection> {
        let bytes = match payload {
            None => return Err(Rejection::new(Reason::Empty, "the record has a null value")),
            Some([]) => return Err(Rejection::new(Reason::Empty, "the record value is empty")),
            Some(b) => b,
        };
        let Decoder { plan, memo, input } = self;
        if bytes.len() > plan.max_bytes {
            return Err(Rejection::new(
                Reason::TooLarge,
                format!("{} bytes; the spec allows {}", bytes.len(), plan.max_bytes),
            ));
        }
        event.present = 0;
        event.id_hash = 0;
        event.filtered = false;
        event.owned.clear();
        let mut progress = Progress::default();
        match input {
            Input::Json => plan.json_fields(memo, &mut progress, event, bytes)?,
            Input::Registry(input) => {
                plan.registry_fields(memo, &mut progress, event, bytes, input)?
            }
        }
        if let Some(rejection) = progress.first_error {
            return Err(rejection);
        }
        if event.present & plan.required != plan.required {
            // A required field that was null has been reported already; these were absent.
            let missing = (0..plan.fields.len())
                .find(|&i| plan.required & !event.present & (1 << i) != 0)
                .unwrap_or_default();
            return Err(Rejection::new(
                Reason::MissingField,
                format!("{} is required", plan.fields[missing].name),
            ));
        }
        event.event_time_ms = event.values[plan.event_time];
        let ahead = event.event_time_ms.saturating_sub(record_time_ms);
        if ahead > plan.max_future_skew_ms || ahead < -plan.max_past_skew_ms {
            let name = &plan.fields[plan.event_time].name;
            let (dir, limit) = if ahead > 0 {
                ("ahead of", plan.max_future_skew_ms)
            } else {
                ("behind", plan.max_past_skew_ms)
            };
            return Err(Rejection::new(
                Reason::TimeSkew,
                format!(
                    "{name} is {} {dir} the record timestamp; the spec allows {}",
                    crate::duration::describe_millis(ahead.saturating_abs()),
                    crate::duration::format_millis(limit)
                ),
            ));
        }
        if plan.key.len() > 1 {
            event.key = plan.composite_key(event, bytes)?;
        }
        plan.derive(event, bytes)?;
        if let Some(filter) = &plan.filter {
            event.filtered = !filter.truth(&EventEnv {
                event,
                plan,
                payload: bytes,
            });
        }
        Ok(())
    }
}

impl Plan {
    /// Reads a JSON record's fields into the event.
    fn json_fields(
        &self,
        memo: &mut KeyMemo,
        progress: &mut Progress,
        event: &mut Event,
        bytes: &[u8],
    ) -> Result<(), Rejection> {
        let plan = self;
        let fields = &plan.fields;
        // Producers write their fields in one order: try the field after the last one found
        // before looking through them all.
        let next = std::cell::Cell::new(0usize);
        let lookup = |name: &[u8]| {
            let guess = next.get();
            let found = match fields.get(guess) {
                Some(f) if f.name.as_bytes() == name => Some(guess),
                _ => fields.iter().position(|f| f.name.as_bytes() == name),
            };
            if let Some(i) = found {
                next.set(i + 1);
            }
            found
        };
        Scanner::new(bytes)
            .and_then(|mut scanner| {
                scanner.object(lookup, |i, scanner| {
                    if progress.seen & (1 << i) != 0 {
                        return Err(format!("duplicate key `{}`", fields[i].name));
                    }
                    progress.seen |= 1 << i;
                    let json = scanner.value()?;
                    if progress.first_error.is_none() {
                        plan.take(memo, progress, event, bytes, i, json);
                    }
                    Ok(())
                })
            })
            .map_err(|e| {
                Rejection::new(Reason::Malformed, format!("not a valid JSON object: {e}"))
            })?;
        Ok(())
    }

    fn text_index(&self, slot: usize) -> Option<usize> {
        let i = self.text_index[slot];
        (i != NO_TEXT).then_some(usize::from(i))
    }

    /// Checks field `i`'s value and places it in the event; the first failure is kept.
    fn take<'a>(
        &self,
        memo: &mut KeyMemo,
        progress: &mut Progress,
        event: &mut Event,
        payload: &[u8],
        i: usize,
        json: Json<'a>,
    ) {
        let field = &self.fields[i];
        if self.single_string_key
            && i == self.key[0]
            && let Json::Str(text) = &json
            && let Some(key) = Key::new(text).filter(|k| memo.contains(k))
        {
            event.present |= 1 << i;
            event.key = key;
            return;
        }
        let value = match check_field(field, json) {
            Err(rejection) => {
                progress.first_error = Some(rejection);
                return;
            }
            Ok(Checked::Absent) => return,
            Ok(value) => value,
        };
        event.present |= 1 << i;
        match value {
            Checked::Text(text) => {
                if self.single_string_key && i == self.key[0] {
                    match Key::new(&text) {
                        Some(key) => {
                            event.key = key;
                            memo.insert(key);
                        }
                        None => {
                            progress.first_error = Some(Rejection::new(
                                Reason::InvalidValue,
                                format!("{}: `{}` is too long for a key", field.name, quote(&text)),
                            ));
                            return;
                        }
                    }
                }
                if i == self.event_id {
                    event.id_hash = fnv1a(text.as_bytes());
                }
                if self.hashed & (1 << i) != 0 {
                    event.values[i] = fnv1a(text.as_bytes()) as i64;
                }
                if let Some(t) = self.text_index(i) {
                    event.keep(t, &text, payload);
                }
            }
            Checked::Number(n) => event.values[i] = n,
            Checked::Absent => {}
        }
    }

    /// The joined key of a composite key, from the event's values and kept texts.
    fn composite_key(&self, event: &Event, payload: &[u8]) -> Result<Key, Rejection> {
        let mut key = KeyBuilder::default();
        let mut number = String::new();
        for (i, &k) in self.key.iter().enumerate() {
            let part = match self.fields[k].kind {
                FieldKind::Boolean => {
                    if event.values[k] != 0 {
                        "true"
                    } else {
                        "false"
                    }
                }
                FieldKind::Integer { .. } => {
                    number.clear();
                    let _ = std::fmt::Write::write_fmt(
                        &mut number,
                        format_args!("{}", event.values[k]),
                    );
                    number.as_str()
                }
                _ => self.text_index(k).map_or("", |t| event.text(t, payload)),
            };
            key.push(i == 0, part);
        }
        key.finish().ok_or_else(|| {
            let parts: Vec<String> = self
                .key
                .iter()
                .map(|&k| match self.text_index(k) {
                    Some(t) => event.text(t, payload).to_owned(),
                    None => event.values[k].to_string(),
                })
                .collect();
            Rejection::new(
                Reason::InvalidValue,
                format!(
                    "the key ({}) is longer than {} bytes",
                    quote(&parts.join("|")),
                    crate::key::MAX_KEY_LEN
                ),
            )
        })
    }

    /// Computes the derived fields, in order.
    fn derive(&self, event: &mut Event, payload: &[u8]) -> Result<(), Rejection> {
        let first = self.fields.len();
        for (d, derived) in self.derived.iter().enumerate() {
            let slot = first + d;
            let zero_is_null = derived.on_zero == OnZero::Null;
            let result = match self.products[d] {
                // Two 64-bit units multiply exactly in 128 bits; a missing operand is null.
                Some([(a, scale_a), (b, scale_b)]) => {
                    Ok((event.has(a) && event.has(b)).then(|| {
                        (
                            i128::from(event.values[a]) * i128::from(event.values[b]),
                            scale_a + scale_b,
                        )
                    }))
                }
                None => derived.expr.number(
                    &EventEnv {
                        event,
                        plan: self,
                        payload,
                    },
                    derived.scale,
                    derived.rounding,
                    zero_is_null,
                ),
            };
            let value = match result {
                Ok(Some((units, scale))) => {
                    expr::rescale(units, scale, derived.scale, derived.rounding)
                        .ok()
                        .and_then(|u| i64::try_from(u).ok())
                        .ok_or(EvalError::Overflow)
                }
                Ok(None) => continue,
                Err(e) => Err(e),
            };
            match value {
                Ok(v) => {
                    event.values[slot] = v;
                    event.present |= 1 << slot;
                }
                Err(EvalError::DivideByZero) => {
                    return Err(Rejection::new(
                        Reason::InvalidValue,
                        format!("{} = {}: division by zero", derived.name, derived.text),
                    ));
                }
                Err(EvalError::Overflow) => {
                    return Err(Rejection::new(
                        Reason::OutOfRange,
                        format!(
                            "{} = {}: the result does not fit the fixed-point type",
                            derived.name, derived.text
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// An event as the expressions see it.
struct EventEnv<'e> {
    event: &'e Event,
    plan: &'e Plan,
    payload: &'e [u8],
}

impl Env for EventEnv<'_> {
    fn value(&self, slot: usize) -> Value<'_> {
        if !self.event.has(slot) {
            return Value::Null;
        }
        let v = self.event.values[slot];
        match self.plan.slot_types[slot] {
            SlotType::Integer => Value::Number(i128::from(v), 0),
            SlotType::Decimal { scale } => Value::Number(i128::from(v), scale),
            SlotType::Timestamp => Value::Timestamp(v),
            SlotType::Boolean => Value::Bool(v != 0),
            SlotType::String { .. } => match self.plan.text_index(slot) {
                Some(t) => Value::Str(self.event.text(t, self.payload)),
                None => Value::Null,
            },
        }
    }
}

/// The two numeric slots (and their scales) of an expression that multiplies two fields.
fn product_of_fields(expr: &Expr, slots: &[crate::spec::Slot]) -> Option<[(usize, u32); 2]> {
    let numeric = |e: &Expr| match e {
        Expr::Name { slot, .. } => match slots.get(*slot)?.ty {
            SlotType::Integer => Some((*slot, 0)),
            SlotType::Decimal { scale } => Some((*slot, scale)),
            _ => None,
        },
        _ => None,
    };
    match expr {
        Expr::Arith(expr::ArithOp::Mul, a, b) => Some([numeric(a)?, numeric(b)?]),
        _ => None,
    }
}

/// FNV-1a, 64-bit: stable across runs and machines, unlike the std hasher.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests;
