//! Session windows of one partition: each key's events less than the gap apart (in event time)
//! make one session, `[first event, last event + gap)`, cut at every multiple of the spec's
//! `max_duration` so that none is longer. A session closes when the watermark reaches its end.
//!
//! An event joins every open session of its key it is less than the gap from, merging them;
//! one that joins none opens a session, unless that session would already have closed (the
//! event is then `late`). Sessions of a key never come within the gap of each other, so an
//! event only ever merges the sessions it is itself near. Accumulators merge exactly (see
//! [`Layout::merge`]), so the sessions and their aggregates depend on the events, not on the
//! order they arrived in.
//!
//! Recovery: a session's end depends on events still to come, so a restart cannot judge a
//! replayed event against the watermark at the checkpoint. Each session keeps the watermark from
//! just before its first record; the checkpoint commits the oldest open session's first offset
//! with that watermark, and the replay recomputes the watermark record by record exactly as the
//! first run did, closing (without emitting) what closed before the restart.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::accumulate::{Blocks, Layout};
use crate::event::Event;
use crate::key::Key;
use crate::spec::SessionSpec;

/// No session: the end of a key's chain.
const NONE: u32 = u32::MAX;

/// Empty accumulators kept for the next sessions, at most this many.
const SPARE_LIMIT: usize = 1_024;

/// One session (or a free slot for one).
#[derive(Debug)]
struct Slot {
    key: Key,
    start: i64,
    last: i64,
    first_offset: i64,
    /// The watermark before the session's first record was fed: where a replay of the
    /// partition from `first_offset` starts.
    resume_watermark: Option<i64>,
    /// The key's next session.
    next: u32,
    /// Bumped when the slot is freed, so that stale entries in `ends` are recognised.
    generation: u32,
    open: bool,
    blocks: Blocks,
}

/// A closed session, as handed to the caller.
pub(crate) struct Closed<'a> {
    pub key: Key,
    pub start: i64,
    pub end: i64,
    pub blocks: &'a Blocks,
}

/// Why an event was not added.
pub(crate) struct Late {
    /// Where the session it would have opened ends.
    pub end: i64,
}

#[derive(Debug)]
pub(crate) struct Sessions {
    spec: SessionSpec,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Each key's first open session; the rest follow through `Slot::next`.
    by_key: HashMap<Key, u32, foldhash::fast::RandomState>,
    /// `(end, slot, generation)` of open sessions, soonest first. Kept lazily: a session that
    /// grows keeps its old entry, which is pushed again with the new end when it comes up.
    ends: BinaryHeap<Reverse<(i64, u32, u32)>>,
    spare: Vec<Blocks>,
    open: usize,
}

impl Sessions {
    pub(crate) fn new(spec: SessionSpec) -> Self {
        Self {
            spec,
            slots: Vec::new(),
            free: Vec::new(),
            by_key: HashMap::default(),
            ends: BinaryHeap::new(),
            spare: Vec::new(),
            open: 0,
        }
    }

    pub(crate) fn open(&self) -> usize {
        self.open
    }

    /// Where a session ends: its last event plus the gap, or the cut after its start.
    fn end(&self, slot: &Slot) -> i64 {
        (slot.last + self.spec.gap_ms).min(self.cut_after(slot.start))
    }

    /// The first multiple of `max_duration` after `t`.
    fn cut_after(&self, t: i64) -> i64 {
        let d = self.spec.max_duration_ms;
        t.div_euclid(d).saturating_add(1).saturating_mul(d)
    }

    /// Adds the event to its key's sessions; `watermark` is the partition's, before it.
    pub(crate) fn add(
        &mut self,
        layout: &Layout,
        event: &Event,
        payload: &[u8],
        offset: i64,
        watermark: Option<i64>,
    ) -> Result<(), Late> {
        let t = event.event_time_ms;
        let gap = self.spec.gap_ms;
        let cut = self.cut_after(t);
        let d = self.spec.max_duration_ms;
        // In the same stretch between cuts, and less than the gap from the session's events.
        let near = |s: &Slot| {
            s.start.div_euclid(d) == t.div_euclid(d) && t - s.last < gap && s.start - t < gap
        };
        // The first session the event is near takes it and every other one it is near.
        let mut target = NONE;
        let mut prev = NONE;
        let mut at = self.by_key.get(&event.key).copied().unwrap_or(NONE);
        while at != NONE {
            let next = self.slots[at as usize].next;
            if near(&self.slots[at as usize]) {
                if target == NONE {
                    target = at;
                    prev = at;
                } else {
                    // Unlink `at` (its predecessor is `prev`, which stays) and fold it in.
                    self.slots[prev as usize].next = next;
                    self.merge_into(layout, target, at);
                }
            } else {
                prev = at;
            }
            at = next;
        }
        if target == NONE {
            let end = (t + gap).min(cut);
            if watermark.is_some_and(|wm| end <= wm) {
                return Err(Late { end });
            }
            target = self.open_slot(layout, event.key, t, offset, watermark);
        }
        let slot = &mut self.slots[target as usize];
        slot.start = slot.start.min(t);
        slot.last = slot.last.max(t);
        layout.add(&mut slot.blocks, 0, event, payload);
        Ok(())
    }

    fn open_slot(
        &mut self,
        layout: &Layout,
        key: Key,
        t: i64,
        offset: i64,
        watermark: Option<i64>,
    ) -> u32 {
        let mut blocks = self.spare.pop().unwrap_or_default();
        layout.open(&mut blocks);
        let next = self.by_key.get(&key).copied().unwrap_or(NONE);
        let slot = Slot {
            key,
            start: t,
            last: t,
            first_offset: offset,
            resume_watermark: watermark,
            next,
            generation: 0,
            open: true,
            blocks,
        };
        let at = match self.free.pop() {
            Some(at) => {
                let generation = self.slots[at as usize].generation;
                self.slots[at as usize] = Slot { generation, ..slot };
                at
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.by_key.insert(key, at);
        let s = &self.slots[at as usize];
        self.ends.push(Reverse((self.end(s), at, s.generation)));
        self.open += 1;
        at
    }

    /// Folds session `from` (already unlinked from its key's chain) into `into`.
    fn merge_into(&mut self, layout: &Layout, into: u32, from: u32) {
        let (a, b) = (into as usize, from as usize);
        let (into_slot, from_slot) = if a < b {
            let (left, right) = self.slots.split_at_mut(b);
            (&mut left[a], &mut right[0])
        } else {
            let (left, right) = self.slots.split_at_mut(a);
            (&mut right[0], &mut left[b])
        };
        layout.merge(&mut into_slot.blocks, 0, &from_slot.blocks, 0);
        into_slot.start = into_slot.start.min(from_slot.start);
        into_slot.last = into_slot.last.max(from_slot.last);
        // Offsets and the watermark rise together, so the earlier record's watermark is the
        // lower one.
        if from_slot.first_offset < into_slot.first_offset {
            into_slot.first_offset = from_slot.first_offset;
            into_slot.resume_watermark = from_slot.resume_watermark;
        }
        self.release(from);
    }

    /// Frees a slot (already unlinked), keeping its accumulators' memory.
    fn release(&mut self, at: u32) {
        let slot = &mut self.slots[at as usize];
        slot.open = false;
        slot.generation = slot.generation.wrapping_add(1);
        let mut blocks = std::mem::take(&mut slot.blocks);
        if self.spare.len() < SPARE_LIMIT {
            blocks.clear();
            self.spare.push(blocks);
        }
        self.free.push(at);
        self.open -= 1;
    }

    /// Removes a session from its key's chain.
    fn unlink(&mut self, at: u32) {
        let key = self.slots[at as usize].key;
        let next = self.slots[at as usize].next;
        let Some(head) = self.by_key.get_mut(&key) else {
            return;
        };
        if *head == at {
            if next == NONE {
                self.by_key.remove(&key);
            } else {
                *head = next;
            }
            return;
        }
        let mut cursor = *head;
        while cursor != NONE {
            let following = self.slots[cursor as usize].next;
            if following == at {
                self.slots[cursor as usize].next = next;
                return;
            }
            cursor = following;
        }
    }

    /// Closes every session that ends at or before `watermark`, handing each to `emit`, in no
    /// particular order.
    pub(crate) fn close(&mut self, watermark: i64, mut emit: impl FnMut(Closed<'_>)) {
        while let Some(&Reverse((end, at, generation))) = self.ends.peek() {
            if end > watermark {
                break;
            }
            self.ends.pop();
            let slot = &self.slots[at as usize];
            if !slot.open || slot.generation != generation {
                continue;
            }
            let actual = self.end(slot);
            if actual > watermark {
                self.ends.push(Reverse((actual, at, generation)));
                continue;
            }
            emit(Closed {
                key: slot.key,
                start: slot.start,
                end: actual,
                blocks: &slot.blocks,
            });
            self.unlink(at);
            self.release(at);
        }
    }

    /// The end of the session that ends last: the watermark that closes them all.
    pub(crate) fn last_end(&self) -> Option<i64> {
        self.slots
            .iter()
            .filter(|s| s.open)
            .map(|s| self.end(s))
            .max()
    }

    /// The oldest open session's first offset and the watermark before it: where a restart
    /// resumes.
    pub(crate) fn resume_point(&self) -> Option<(i64, Option<i64>)> {
        self.slots
            .iter()
            .filter(|s| s.open)
            .map(|s| (s.first_offset, s.resume_watermark))
            .min_by_key(|(offset, _)| *offset)
    }
}
