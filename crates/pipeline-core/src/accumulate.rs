//! The running state of one key in one window, for any spec.
//!
//! The spec's aggregate columns are compiled once into a [`Layout`]: the few accumulators they
//! need (shared: `avg` and `sum` of a field share its sum, every `count` of a required field is
//! the one event count), each at a fixed place in a block of 64-bit words. A window holds one
//! block per key in one vector, reused window after window, so adding an event to a window
//! never allocates; strings kept by `min`/`max`/`first`/`last` live in a byte arena beside it,
//! and `count_distinct` values inline in the block up to a few, then in a pool of hash sets,
//! both reused the same way.
//!
//! `first` and `last` order events by event time, then the event id's hash, then the value, so
//! the result does not depend on arrival order.

use std::collections::HashSet;

use crate::aggregate::Cell;
use crate::decimal::Fixed;
use crate::event::{Decoder, Event};
use crate::spec::{AggregateFn, MAX_INLINE_STRING, SlotType, Spec};

/// Bytes kept per string: its length and at most four bytes for each character the field
/// may hold (at most [`MAX_INLINE_STRING`]).
fn text_bytes(max_length: usize) -> usize {
    1 + 4 * max_length.min(MAX_INLINE_STRING)
}

/// Distinct values a `count_distinct` keeps in its block before it takes a hash set: most
/// windows of a key see few (a session's pages), and a set is a heap allocation and a cache
/// miss on every event.
const INLINE_DISTINCT: usize = 6;

/// A `count_distinct`'s first word once its values have moved to a set.
const SPILLED: u64 = u64::MAX;

type DistinctSet = HashSet<i64, foldhash::fast::RandomState>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Events.
    Count,
    /// Events with a value in the slot.
    CountPresent,
    Sum,
    Min,
    Max,
    First,
    Last,
    MinText,
    MaxText,
    FirstText,
    LastText,
    /// Σ value × weight and Σ weight.
    WeightedSum,
    Distinct,
}

impl Kind {
    /// Whether a candidate ordered `new` takes the place of the kept one ordered `old`: the
    /// least for `min` and `first`, the greatest for `max` and `last`. Adding an event and
    /// merging two blocks both decide by this, so a merge keeps what one block fed every event
    /// would have.
    fn prefers<T: Ord>(self, new: T, old: T) -> bool {
        match self {
            Kind::Min | Kind::First | Kind::MinText | Kind::FirstText => new < old,
            _ => new > old,
        }
    }

    /// Words the accumulator takes in a block.
    fn words(self) -> usize {
        match self {
            Kind::Count | Kind::CountPresent | Kind::Min | Kind::Max => 1,
            Kind::Sum => 2,
            Kind::First | Kind::Last => 3,
            // The string itself is in the byte arena, at a place computed from the block.
            Kind::MinText | Kind::MaxText => 0,
            // How many values are inline (or `SPILLED`), the set's place in the pool plus one
            // (0: none taken yet), then the inline values.
            Kind::Distinct => 2 + INLINE_DISTINCT,
            // The event time and id hash that ordered it.
            Kind::FirstText | Kind::LastText => 2,
            Kind::WeightedSum => 4,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Op {
    kind: Kind,
    slot: usize,
    weight: usize,
    /// Where the slot's text is in the event (text kinds).
    text: usize,
    /// Bytes the string takes in the byte arena (text kinds).
    text_bytes: usize,
    /// Where the string is among its block's bytes (text kinds).
    text_at: usize,
    /// The accumulator's first word in a block (after the presence word).
    at: usize,
}

/// How one aggregate column is read from the accumulators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    Count(usize),
    SumInteger(usize),
    SumDecimal(usize, u32),
    Value(usize, SlotType),
    Text(usize),
    Avg {
        sum: usize,
        count: usize,
        field_scale: u32,
        scale: u32,
    },
    Weighted {
        op: usize,
        field_scale: u32,
        scale: u32,
    },
    Distinct(usize),
}

/// The compiled accumulators of a spec.
///
/// Block `k` of a [`Blocks`] is the words `k × words ..` and the bytes `k × bytes ..`: every
/// place is computed from the block's number, none is stored, so that the loads of a block's
/// words and strings do not wait on each other (with many keys, each is a cache miss).
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    ops: Vec<Op>,
    /// Words of one key's block: the presence word, then every accumulator's.
    words: usize,
    /// Bytes of one key's block: every string's.
    bytes: usize,
    reads: Vec<Read>,
}

/// One window's accumulators, for every key in it.
#[derive(Debug, Default)]
pub(crate) struct Blocks {
    words: Vec<u64>,
    bytes: Vec<u8>,
    sets: Vec<DistinctSet>,
    sets_used: usize,
}

impl Blocks {
    /// Empties the blocks, keeping their memory.
    pub(crate) fn clear(&mut self) {
        self.words.clear();
        self.bytes.clear();
        for set in &mut self.sets[..self.sets_used] {
            set.clear();
        }
        self.sets_used = 0;
    }
}

impl Layout {
    pub(crate) fn new(spec: &Spec, decoder: &Decoder) -> Self {
        let mut ops: Vec<Op> = Vec::new();
        let mut words = 1;
        let mut bytes = 0;
        let mut op = |kind: Kind, slot: usize, weight: usize| -> usize {
            let text = decoder.text_index(slot).unwrap_or(0);
            let text_bytes = match spec.slots.get(slot).map(|s| s.ty) {
                Some(SlotType::String { max_length }) => text_bytes(max_length),
                _ => 0,
            };
            if let Some(i) = ops
                .iter()
                .position(|o| o.kind == kind && o.slot == slot && o.weight == weight)
            {
                return i;
            }
            ops.push(Op {
                kind,
                slot,
                weight,
                text,
                text_bytes,
                text_at: bytes,
                at: words,
            });
            words += kind.words();
            if matches!(
                kind,
                Kind::MinText | Kind::MaxText | Kind::FirstText | Kind::LastText
            ) {
                bytes += text_bytes;
            }
            ops.len() - 1
        };
        let mut reads = Vec::new();
        for agg in &spec.aggregates {
            let field = agg.field.unwrap_or(0);
            let ty = agg.field.map(|f| spec.slots[f].ty);
            let always = agg.field.is_none_or(|f| spec.slots[f].always);
            let count = |op: &mut dyn FnMut(Kind, usize, usize) -> usize| {
                if always {
                    op(Kind::Count, 0, 0)
                } else {
                    op(Kind::CountPresent, field, 0)
                }
            };
            let is_text = matches!(ty, Some(SlotType::String { .. }));
            let read = match agg.function {
                AggregateFn::Count => Read::Count(count(&mut op)),
                AggregateFn::Sum => match ty {
                    Some(SlotType::Decimal { scale }) => {
                        Read::SumDecimal(op(Kind::Sum, field, 0), scale)
                    }
                    _ => Read::SumInteger(op(Kind::Sum, field, 0)),
                },
                AggregateFn::Min | AggregateFn::Max | AggregateFn::First | AggregateFn::Last => {
                    let kind = match (agg.function, is_text) {
                        (AggregateFn::Min, false) => Kind::Min,
                        (AggregateFn::Max, false) => Kind::Max,
                        (AggregateFn::First, false) => Kind::First,
                        (AggregateFn::Last, false) => Kind::Last,
                        (AggregateFn::Min, true) => Kind::MinText,
                        (AggregateFn::Max, true) => Kind::MaxText,
                        (AggregateFn::First, true) => Kind::FirstText,
                        _ => Kind::LastText,
                    };
                    let o = op(kind, field, 0);
                    if is_text {
                        Read::Text(o)
                    } else {
                        Read::Value(o, ty.unwrap_or(SlotType::Integer))
                    }
                }
                AggregateFn::Avg => Read::Avg {
                    sum: op(Kind::Sum, field, 0),
                    count: count(&mut op),
                    field_scale: ty.map_or(0, SlotType::scale),
                    scale: agg.scale,
                },
                AggregateFn::WeightedAvg => {
                    let weight = agg.weight.unwrap_or(0);
                    Read::Weighted {
                        op: op(Kind::WeightedSum, field, weight),
                        field_scale: ty.map_or(0, SlotType::scale),
                        scale: agg.scale,
                    }
                }
                AggregateFn::CountDistinct => Read::Distinct(op(Kind::Distinct, field, 0)),
            };
            reads.push(read);
        }
        Self {
            ops,
            words,
            bytes,
            reads,
        }
    }

    /// The aggregate columns [`Layout::finish`] appends.
    pub(crate) fn columns(&self) -> usize {
        self.reads.len()
    }

    /// Starts a block for a new key in `blocks`; returns its number.
    pub(crate) fn open(&self, blocks: &mut Blocks) -> u32 {
        let block = blocks.words.len() / self.words;
        blocks.words.resize((block + 1) * self.words, 0);
        blocks.bytes.resize((block + 1) * self.bytes, 0);
        block as u32
    }

    /// Where an op's string is in the byte arena.
    fn text_place(&self, block: u32, op: &Op) -> usize {
        block as usize * self.bytes + op.text_at
    }

    /// Empties block `at` for reuse, as [`Layout::open`] left it, keeping its set, if it took
    /// one.
    pub(crate) fn reset(&self, blocks: &mut Blocks, at: u32) {
        let base = at as usize * self.words;
        let Blocks {
            words, bytes, sets, ..
        } = blocks;
        let block = &mut words[base..base + self.words];
        block[0] = 0;
        for op in &self.ops {
            let w = &mut block[op.at..op.at + op.kind.words()];
            match op.kind {
                Kind::MinText | Kind::MaxText | Kind::FirstText | Kind::LastText => {
                    w.fill(0);
                    bytes[self.text_place(at, op)] = 0;
                }
                Kind::Distinct => {
                    // Keep the set taken, if any, for this block's next use.
                    if w[1] != 0 {
                        sets[w[1] as usize - 1].clear();
                    }
                    w[0] = 0;
                }
                _ => w.fill(0),
            }
        }
    }

    /// Adds one event to block `at`.
    pub(crate) fn add(&self, blocks: &mut Blocks, at: u32, event: &Event, payload: &[u8]) {
        let base = at as usize * self.words;
        let Blocks {
            words,
            bytes,
            sets,
            sets_used,
        } = blocks;
        let block = &mut words[base..base + self.words];
        // The order of `first` and `last`: event time, the event id's hash, the value.
        let mark = |value: i64| (event.event_time_ms, event.id_hash, value);
        for (i, op) in self.ops.iter().enumerate() {
            let bit = 1u64 << i;
            if op.kind == Kind::Count {
                block[op.at] += 1;
                continue;
            }
            if !event.has(op.slot) {
                continue;
            }
            let seen = block[0] & bit != 0;
            let v = event.values[op.slot];
            let w = &mut block[op.at..op.at + op.kind.words()];
            match op.kind {
                Kind::Count => {}
                Kind::CountPresent => w[0] += 1,
                Kind::Sum => put_i128(w, get_i128(w).saturating_add(i128::from(v))),
                Kind::Min | Kind::Max => {
                    if !seen || op.kind.prefers(v, w[0] as i64) {
                        w[0] = v as u64;
                    }
                }
                Kind::First | Kind::Last => {
                    let new = mark(v);
                    if !seen || op.kind.prefers(new, value_mark(w)) {
                        w[0] = new.0 as u64;
                        w[1] = new.1;
                        w[2] = new.2 as u64;
                    }
                }
                Kind::WeightedSum => {
                    if !event.has(op.weight) {
                        continue;
                    }
                    let weight = i128::from(event.values[op.weight]);
                    let numerator = get_i128(&w[..2]).saturating_add(i128::from(v) * weight);
                    let denominator = get_i128(&w[2..]).saturating_add(weight);
                    put_i128(&mut w[..2], numerator);
                    put_i128(&mut w[2..], denominator);
                }
                Kind::Distinct => distinct_insert(w, sets, sets_used, v),
                Kind::MinText | Kind::MaxText | Kind::FirstText | Kind::LastText => {
                    let text = event.text(op.text, payload).as_bytes();
                    let place = self.text_place(at, op);
                    let stored = &mut bytes[place..place + op.text_bytes];
                    let old = &stored[1..1 + usize::from(stored[0])];
                    let better = op.kind.prefers(
                        text_key(w, || (event.event_time_ms, event.id_hash), text),
                        text_key(w, || text_mark(w), old),
                    );
                    if !seen || better {
                        let n = text.len().min(op.text_bytes - 1);
                        stored[0] = n as u8;
                        stored[1..1 + n].copy_from_slice(&text[..n]);
                        if matches!(op.kind, Kind::FirstText | Kind::LastText) {
                            w[0] = event.event_time_ms as u64;
                            w[1] = event.id_hash;
                        }
                    }
                }
            }
            block[0] |= bit;
        }
    }

    /// Folds the block at `from_at` in `from` into the block at `at` in `blocks`, as if every
    /// event added to it had been added to this one: for session windows that merge. The
    /// result does not depend on which block is folded into which.
    pub(crate) fn merge(&self, blocks: &mut Blocks, at: u32, from: &Blocks, from_at: u32) {
        let base = at as usize * self.words;
        let from_base = from_at as usize * self.words;
        let src = &from.words[from_base..from_base + self.words];
        let Blocks {
            words,
            bytes,
            sets,
            sets_used,
        } = blocks;
        let block = &mut words[base..base + self.words];
        for (i, op) in self.ops.iter().enumerate() {
            let bit = 1u64 << i;
            let range = op.at..op.at + op.kind.words();
            if op.kind == Kind::Count {
                block[op.at] += src[op.at];
                continue;
            }
            if src[0] & bit == 0 {
                continue;
            }
            let seen = block[0] & bit != 0;
            let theirs = &src[range.clone()];
            let w = &mut block[range];
            match op.kind {
                Kind::Count => {}
                Kind::CountPresent => w[0] += theirs[0],
                Kind::Sum => put_i128(w, get_i128(w).saturating_add(get_i128(theirs))),
                Kind::Min | Kind::Max => {
                    if !seen || op.kind.prefers(theirs[0] as i64, w[0] as i64) {
                        w[0] = theirs[0];
                    }
                }
                Kind::First | Kind::Last => {
                    if !seen || op.kind.prefers(value_mark(theirs), value_mark(w)) {
                        w.copy_from_slice(theirs);
                    }
                }
                Kind::WeightedSum => {
                    let numerator = get_i128(&w[..2]).saturating_add(get_i128(&theirs[..2]));
                    let denominator = get_i128(&w[2..]).saturating_add(get_i128(&theirs[2..]));
                    put_i128(&mut w[..2], numerator);
                    put_i128(&mut w[2..], denominator);
                }
                Kind::Distinct => {
                    if theirs[0] == SPILLED {
                        for &v in &from.sets[theirs[1] as usize - 1] {
                            distinct_insert(w, sets, sets_used, v);
                        }
                    } else {
                        for &v in &theirs[2..2 + theirs[0] as usize] {
                            distinct_insert(w, sets, sets_used, v as i64);
                        }
                    }
                }
                Kind::MinText | Kind::MaxText | Kind::FirstText | Kind::LastText => {
                    let their_place = self.text_place(from_at, op);
                    let their_stored = &from.bytes[their_place..their_place + op.text_bytes];
                    let text = &their_stored[1..1 + usize::from(their_stored[0])];
                    let place = self.text_place(at, op);
                    let stored = &mut bytes[place..place + op.text_bytes];
                    let old = &stored[1..1 + usize::from(stored[0])];
                    let better = op.kind.prefers(
                        text_key(theirs, || text_mark(theirs), text),
                        text_key(w, || text_mark(w), old),
                    );
                    if !seen || better {
                        stored.copy_from_slice(their_stored);
                        if matches!(op.kind, Kind::FirstText | Kind::LastText) {
                            w[0] = theirs[0];
                            w[1] = theirs[1];
                        }
                    }
                }
            }
            block[0] |= bit;
        }
    }

    /// The aggregate columns' values of the block at `at`, appended to `cells`.
    pub(crate) fn finish(&self, blocks: &Blocks, at: u32, cells: &mut Vec<Cell>) {
        let base = at as usize * self.words;
        let block = &blocks.words[base..base + self.words];
        let seen = |op: usize| self.ops[op].kind == Kind::Count || block[0] & (1 << op) != 0;
        let w = |op: usize| {
            let o = &self.ops[op];
            &block[o.at..o.at + o.kind.words()]
        };
        for read in &self.reads {
            let cell = match *read {
                Read::Count(op) => Cell::Integer(i128::from(w(op)[0])),
                Read::SumInteger(op) => Cell::Integer(if seen(op) { get_i128(w(op)) } else { 0 }),
                Read::SumDecimal(op, scale) => Cell::Decimal(Fixed::new(
                    if seen(op) { get_i128(w(op)) } else { 0 },
                    scale,
                )),
                Read::Value(op, _) if !seen(op) => Cell::Null,
                Read::Value(op, ty) => {
                    let kind = self.ops[op].kind;
                    let v = if matches!(kind, Kind::First | Kind::Last) {
                        w(op)[2] as i64
                    } else {
                        w(op)[0] as i64
                    };
                    match ty {
                        SlotType::Integer => Cell::Integer(i128::from(v)),
                        SlotType::Decimal { scale } => {
                            Cell::Decimal(Fixed::new(i128::from(v), scale))
                        }
                        SlotType::Timestamp => Cell::Timestamp(v),
                        SlotType::Boolean => Cell::Boolean(v != 0),
                        SlotType::String { .. } => Cell::Null,
                    }
                }
                Read::Text(op) if !seen(op) => Cell::Null,
                Read::Text(op) => {
                    let place = self.text_place(at, &self.ops[op]);
                    let stored = &blocks.bytes[place..place + self.ops[op].text_bytes];
                    let len = usize::from(stored[0]);
                    Cell::String(String::from_utf8_lossy(&stored[1..1 + len]).into_owned())
                }
                Read::Avg {
                    sum,
                    count,
                    field_scale,
                    scale,
                } => {
                    let n = i128::from(w(count)[0]);
                    let total = if seen(sum) { get_i128(w(sum)) } else { 0 };
                    Fixed::ratio(total, field_scale, n, scale).map_or(Cell::Null, Cell::Decimal)
                }
                Read::Weighted {
                    op,
                    field_scale,
                    scale,
                } => {
                    let words = w(op);
                    let (numerator, denominator) = (get_i128(&words[..2]), get_i128(&words[2..]));
                    // Σ(v·w) carries the weight's scale too; Σw carries it alone.
                    Fixed::ratio(numerator, field_scale, denominator, scale)
                        .map_or(Cell::Null, Cell::Decimal)
                }
                Read::Distinct(op) => {
                    let words = w(op);
                    let n = match words[0] {
                        _ if !seen(op) => 0,
                        SPILLED => blocks.sets[words[1] as usize - 1].len(),
                        inline => inline as usize,
                    };
                    Cell::Integer(n as i128)
                }
            };
            cells.push(cell);
        }
    }
}

/// What a numeric `first`/`last` orders by: event time, the event id's hash, the value.
fn value_mark(w: &[u64]) -> (i64, u64, i64) {
    (w[0] as i64, w[1], w[2] as i64)
}

/// The event time and id hash a string `first`/`last` keeps beside its string.
fn text_mark(w: &[u64]) -> (i64, u64) {
    (w[0] as i64, w[1])
}

/// What a string accumulator orders by: the text alone for `min`/`max` (whose words are
/// none); for `first`/`last`, the event time and id hash (`mark`), then the text.
fn text_key<'t>(
    w: &[u64],
    mark: impl FnOnce() -> (i64, u64),
    text: &'t [u8],
) -> ((i64, u64), &'t [u8]) {
    (if w.is_empty() { (0, 0) } else { mark() }, text)
}

/// Adds `v` to a `count_distinct`'s words: inline while there is room, then in a set of the
/// pool (taken once per block and kept while the block is reused).
fn distinct_insert(w: &mut [u64], sets: &mut Vec<DistinctSet>, sets_used: &mut usize, v: i64) {
    if w[0] != SPILLED {
        let n = w[0] as usize;
        if w[2..2 + n].contains(&(v as u64)) {
            return;
        }
        if n < INLINE_DISTINCT {
            w[2 + n] = v as u64;
            w[0] += 1;
            return;
        }
        if w[1] == 0 {
            if *sets_used == sets.len() {
                sets.push(DistinctSet::default());
            }
            *sets_used += 1;
            w[1] = *sets_used as u64;
        }
        let inline = &w[2..2 + n];
        sets[w[1] as usize - 1].extend(inline.iter().map(|&x| x as i64));
        w[0] = SPILLED;
    }
    sets[w[1] as usize - 1].insert(v);
}

fn get_i128(w: &[u64]) -> i128 {
    ((u128::from(w[1]) << 64) | u128::from(w[0])) as i128
}

fn put_i128(w: &mut [u64], v: i128) {
    let v = v as u128;
    w[0] = v as u64;
    w[1] = (v >> 64) as u64;
}
