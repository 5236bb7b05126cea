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

use std::collections::HashMap;
use std::hash::BuildHasher;

use crate::accumulate::{Blocks, Layout};
use crate::event::Event;
use crate::key::Key;
use crate::spec::SessionSpec;

use super::ends::Ends;

/// No session: the end of a key's chain.
const NONE: u32 = u32::MAX;

/// One session (or a free slot for one), two cache lines. What an event touches is in the
/// first: the times, the chain, and the key's length and first 43 bytes (the comparison that
/// confirms the session is the event's key's); the rest is for merges, checkpoints and
/// closing. Slot `i`'s accumulators are block `i` of the arena, kept when the slot is freed and
/// reused: the block's place follows from the slot's number, so its loads need not wait for
/// the slot's.
#[derive(Debug)]
#[repr(C, align(64))]
struct Slot {
    start: i64,
    last: i64,
    /// The session's next in its chain (sessions of keys with the same hash).
    next: u32,
    key: Key,
    hash: u64,
    first_offset: i64,
    /// The watermark before the session's first record was fed: where a replay of the
    /// partition from `first_offset` starts.
    resume_watermark: Option<i64>,
}

/// What closing needs of a slot, kept apart from it in a vector of 16 bytes a slot (small
/// enough to stay in cache): a session's entry in `ends` comes up a few times before the session
/// closes (each time it had grown since), and only the last needs the slot itself.
#[derive(Debug, Clone, Copy, Default)]
struct Mark {
    /// Where the session ends now.
    end: i64,
    /// Bumped when the slot is freed, so that stale entries in `ends` are recognised.
    generation: u32,
    open: bool,
}

/// A closed session, as handed to the caller.
pub(crate) struct Closed<'a> {
    pub key: Key,
    pub start: i64,
    pub end: i64,
    pub blocks: &'a Blocks,
    /// The session's block in `blocks`.
    pub block: u32,
}

/// Why an event was not added.
pub(crate) struct Late {
    /// Where the session it would have opened ends.
    pub end: i64,
}

/// The open sessions of a partition. Their accumulators live in one arena, a block per slot,
/// reused as slots are; a key's sessions are found through a map from the key's hash (16 bytes
/// an entry, where a map from the key itself takes 72), each session checking its key.
#[derive(Debug)]
pub(crate) struct Sessions {
    spec: SessionSpec,
    slots: Vec<Slot>,
    /// Slot `i`'s end and state.
    marks: Vec<Mark>,
    free: Vec<u32>,
    arena: Blocks,
    /// A block to copy a session through when two merge (both are in the arena).
    scratch: Blocks,
    hasher: foldhash::fast::RandomState,
    /// The first open session of each key hash; the rest follow through `Slot::next`.
    by_hash: HashMap<u64, u32, foldhash::fast::RandomState>,
    /// `(end, slot, generation)` of open sessions, soonest first. Kept lazily: a session that
    /// grows keeps its old entry, which is pushed again with the new end when it comes up.
    ends: Ends,
    open: usize,
}

impl Sessions {
    pub(crate) fn new(spec: SessionSpec) -> Self {
        Self {
            spec,
            slots: Vec::new(),
            marks: Vec::new(),
            free: Vec::new(),
            arena: Blocks::default(),
            scratch: Blocks::default(),
            hasher: foldhash::fast::RandomState::default(),
            by_hash: HashMap::default(),
            ends: Ends::new(),
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
        let key = &event.key;
        // The event's key, in the same stretch between cuts, and less than the gap from the
        // session's events.
        let near = |s: &Slot| {
            s.start.div_euclid(d) == t.div_euclid(d)
                && t - s.last < gap
                && s.start - t < gap
                && s.key == *key
        };
        let hash = self.hasher.hash_one(key);
        // The first session the event is near takes it and every other one it is near.
        let mut target = NONE;
        let mut prev = NONE;
        let mut at = self.by_hash.get(&hash).copied().unwrap_or(NONE);
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
            target = self.open_slot(layout, *key, hash, t, offset, watermark);
        }
        let slot = &mut self.slots[target as usize];
        slot.start = slot.start.min(t);
        slot.last = slot.last.max(t);
        self.marks[target as usize].end = self.end(&self.slots[target as usize]);
        layout.add(&mut self.arena, target, event, payload);
        Ok(())
    }

    fn open_slot(
        &mut self,
        layout: &Layout,
        key: Key,
        hash: u64,
        t: i64,
        offset: i64,
        watermark: Option<i64>,
    ) -> u32 {
        let next = self.by_hash.get(&hash).copied().unwrap_or(NONE);
        let slot = Slot {
            start: t,
            last: t,
            next,
            first_offset: offset,
            resume_watermark: watermark,
            hash,
            key,
        };
        let end = self.end(&slot);
        let at = match self.free.pop() {
            Some(at) => {
                layout.reset(&mut self.arena, at);
                self.slots[at as usize] = slot;
                at
            }
            None => {
                let block = layout.open(&mut self.arena);
                debug_assert_eq!(block as usize, self.slots.len(), "one block a slot");
                self.slots.push(slot);
                self.marks.push(Mark::default());
                block
            }
        };
        let mark = &mut self.marks[at as usize];
        mark.end = end;
        mark.open = true;
        self.ends.push((end, at, mark.generation));
        self.by_hash.insert(hash, at);
        self.open += 1;
        at
    }

    /// Folds session `from` (already unlinked from its chain) into `into`.
    fn merge_into(&mut self, layout: &Layout, into: u32, from: u32) {
        // Both blocks are in the arena: copy `from` out (a merge into an empty block is a
        // copy), then fold the copy in. Merges are rare: an event that bridges two sessions.
        self.scratch.clear();
        let copy = layout.open(&mut self.scratch);
        layout.merge(&mut self.scratch, copy, &self.arena, from);
        layout.merge(&mut self.arena, into, &self.scratch, copy);
        let from_slot = &self.slots[from as usize];
        let (start, last, first_offset, resume_watermark) = (
            from_slot.start,
            from_slot.last,
            from_slot.first_offset,
            from_slot.resume_watermark,
        );
        let into_slot = &mut self.slots[into as usize];
        into_slot.start = into_slot.start.min(start);
        into_slot.last = into_slot.last.max(last);
        // Offsets and the watermark rise together, so the earlier record's watermark is the
        // lower one.
        if first_offset < into_slot.first_offset {
            into_slot.first_offset = first_offset;
            into_slot.resume_watermark = resume_watermark;
        }
        self.marks[into as usize].end = self.end(&self.slots[into as usize]);
        self.release(from);
    }

    /// Frees a slot (already unlinked); its block stays in the arena for the next session.
    fn release(&mut self, at: u32) {
        let mark = &mut self.marks[at as usize];
        mark.open = false;
        mark.generation = mark.generation.wrapping_add(1);
        self.free.push(at);
        self.open -= 1;
    }

    /// Removes a session from its chain.
    fn unlink(&mut self, at: u32) {
        let hash = self.slots[at as usize].hash;
        let next = self.slots[at as usize].next;
        let Some(head) = self.by_hash.get_mut(&hash) else {
            return;
        };
        if *head == at {
            if next == NONE {
                self.by_hash.remove(&hash);
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
        while let Some((_, at, generation)) = self.ends.pop_through(watermark) {
            let mark = self.marks[at as usize];
            if !mark.open || mark.generation != generation {
                continue;
            }
            let actual = mark.end;
            if actual > watermark {
                self.ends.push((actual, at, generation));
                continue;
            }
            let slot = &self.slots[at as usize];
            debug_assert_eq!(actual, self.end(slot));
            emit(Closed {
                key: slot.key,
                start: slot.start,
                end: actual,
                blocks: &self.arena,
                block: at,
            });
            self.unlink(at);
            self.release(at);
        }
    }

    /// The end of the session that ends last: the watermark that closes them all.
    pub(crate) fn last_end(&self) -> Option<i64> {
        self.marks.iter().filter(|m| m.open).map(|m| m.end).max()
    }

    /// The oldest open session's first offset and the watermark before it: where a restart
    /// resumes.
    pub(crate) fn resume_point(&self) -> Option<(i64, Option<i64>)> {
        self.slots
            .iter()
            .zip(&self.marks)
            .filter(|(_, m)| m.open)
            .map(|(s, _)| (s.first_offset, s.resume_watermark))
            .min_by_key(|(offset, _)| *offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_two_cache_lines_with_the_hot_fields_and_the_key_start_in_the_first() {
        assert_eq!(size_of::<Slot>(), 128);
        assert_eq!(align_of::<Slot>(), 64);
        assert_eq!(std::mem::offset_of!(Slot, key), 20);
    }
}
