//! Event-time windows for one Kafka partition, and the offsets that make recovery exact.
//!
//! The processor owns one [`Partition`] per assigned partition and feeds it every record in
//! offset order. Invariants:
//! - The watermark is the highest valid event time seen on the partition (filtered events
//!   included) minus the allowed lateness (or a value the caller advanced it to); it never goes
//!   back.
//! - A window `[start, end)` closes exactly when the watermark reaches `end`. Its aggregates are
//!   emitted once, sorted by key. An event all of whose windows have closed is rejected `late`.
//! - [`Partition::checkpoint`] names the lowest offset still needed by an open window (or the
//!   next offset when none is open). Committing it and resuming from it with
//!   [`Partition::resume`] rebuilds exactly the open windows, emits no closed window twice and
//!   repeats no dead letter: records below the checkpoint's high-water mark are replayed into
//!   state only.
//! - Session windows (`window.type = "session"`, see [`session`]) keep these invariants; their
//!   checkpoint carries the watermark from before its offset's record, and a replay recomputes
//!   the watermark as it goes.

use std::collections::{HashMap, VecDeque};

use crate::accumulate::{Blocks, Layout};
use crate::aggregate::{Aggregate, Cell};
use crate::enrich::SessionCalendar;
use crate::event::{Decoder, Event};
use crate::key::Key;
use crate::reject::{Reason, Rejection};
use crate::spec::{Spec, WindowEdge, WindowSpec};
use crate::time::format_rfc3339_millis;

mod checkpoint;
mod ends;
mod session;
pub use checkpoint::Checkpoint;
use session::Sessions;

/// Each key's block of accumulators in its window.
type KeyMap = HashMap<Key, u32, foldhash::fast::RandomState>;

/// One Kafka record as the core sees it.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    pub offset: i64,
    /// The record's timestamp (epoch ms); the reference for the event-time skew check.
    pub timestamp_ms: i64,
    /// The value; `None` for a record with a null value.
    pub payload: Option<&'a [u8]>,
}

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Added to its open window(s). `missed_windows` counts hopping windows it also belonged to
    /// that had already closed.
    Accepted { missed_windows: u32 },
    /// To the dead-letter topic, with its reason.
    Rejected(Rejection),
    /// Valid, but the spec's `where` leaves it out: counted, not windowed (it still moves the
    /// watermark: its event time is as good as any).
    Filtered,
    /// Below the resume high-water mark: it was handled before the restart, so it only rebuilt
    /// window state and produces no output now.
    Replayed,
}

/// Counters of what a partition has seen, for metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionStats {
    pub accepted: u64,
    pub filtered: u64,
    pub rejected: [u64; Reason::ALL.len()],
    pub replayed: u64,
    pub missed_windows: u64,
    pub windows_closed: u64,
    pub aggregates_emitted: u64,
}

impl PartitionStats {
    pub fn rejected(&self, reason: Reason) -> u64 {
        self.rejected[reason as usize]
    }
}

/// All windows of one window start, across keys.
#[derive(Debug)]
struct Bucket {
    start: i64,
    /// The lowest offset of an event in this bucket.
    first_offset: i64,
    keys: KeyMap,
    blocks: Blocks,
}

/// A bucket's memory, kept for the next window.
#[derive(Debug, Default)]
struct Spare {
    keys: KeyMap,
    blocks: Blocks,
}

/// The windowing state of one partition.
#[derive(Debug)]
pub struct Partition {
    decoder: Decoder,
    /// The event being processed, kept from record to record.
    event: Event,
    layout: Layout,
    window: WindowSpec,
    /// One calendar per window column, and which edge of the window it dates.
    calendars: Vec<(SessionCalendar, WindowEdge)>,
    /// Open windows, ordered by start time. Few are open at once and most events land in the
    /// newest, so a deque searched from the back beats a tree.
    buckets: VecDeque<Bucket>,
    /// Open sessions, for session windows (`buckets` then stays empty).
    sessions: Option<Box<Sessions>>,
    watermark: Option<i64>,
    /// One past the last offset fed.
    next_offset: Option<i64>,
    /// Records below this offset are replays.
    replay_until: i64,
    /// Emptied buckets kept for reuse, so a steady stream of windows does not reallocate.
    spare: Vec<Spare>,
    stats: PartitionStats,
}

impl Partition {
    /// A partition with no history.
    pub fn new(spec: &Spec) -> Self {
        let decoder = Decoder::new(spec);
        Self {
            layout: Layout::new(spec, &decoder),
            decoder,
            event: Event::default(),
            window: spec.window,
            calendars: spec
                .window_columns
                .iter()
                .map(|c| (SessionCalendar::new(c.zone), c.of))
                .collect(),
            buckets: VecDeque::new(),
            sessions: spec.window.session.map(|s| Box::new(Sessions::new(s))),
            watermark: None,
            next_offset: None,
            replay_until: i64::MIN,
            spare: Vec::new(),
            stats: PartitionStats::default(),
        }
    }

    /// A partition resuming from a committed checkpoint; feed it records from
    /// `checkpoint.offset` on.
    pub fn resume(spec: &Spec, checkpoint: Checkpoint) -> Self {
        let mut partition = Self::new(spec);
        partition.watermark = checkpoint.watermark_ms;
        partition.next_offset = Some(checkpoint.offset);
        partition.replay_until = checkpoint.high_water;
        partition
    }

    /// The schema version a record names that this partition has not learnt (Avro input):
    /// resolve it and [`Partition::learn_schema`] before [`Partition::process`]. See
    /// [`Decoder::schema_to_learn`].
    pub fn schema_to_learn(&self, payload: Option<&[u8]>) -> Option<crate::wire::SchemaId> {
        self.decoder.schema_to_learn(payload)
    }

    /// See [`Decoder::learn_schema`].
    pub fn learn_schema(&mut self, id: crate::wire::SchemaId, schema: Result<&str, String>) {
        self.decoder.learn_schema(id, schema);
    }

    pub fn watermark(&self) -> Option<i64> {
        self.watermark
    }

    pub fn stats(&self) -> &PartitionStats {
        &self.stats
    }

    /// Open windows (key × window start, or sessions) held right now.
    pub fn open_windows(&self) -> usize {
        match &self.sessions {
            Some(sessions) => sessions.open(),
            None => self.buckets.iter().map(|b| b.keys.len()).sum(),
        }
    }

    /// Feeds one record (offsets must increase). Windows that close as a result are appended to
    /// `closed`, sorted by window start then key.
    pub fn process(&mut self, record: Record<'_>, closed: &mut Vec<Aggregate>) -> Outcome {
        debug_assert!(self.next_offset.is_none_or(|n| record.offset >= n));
        self.next_offset = Some(record.offset + 1);
        let replay = record.offset < self.replay_until;
        let decoded =
            self.decoder
                .decode_into(record.payload, record.timestamp_ms, &mut self.event);
        let outcome = match decoded {
            Ok(()) if self.event.filtered => {
                self.advance_with(self.event.event_time_ms);
                Outcome::Filtered
            }
            Ok(()) if self.sessions.is_some() => {
                self.add_to_session(record.payload.unwrap_or_default(), record.offset)
            }
            Ok(()) => self.add(record.payload.unwrap_or_default(), record.offset),
            Err(rejection) => Outcome::Rejected(rejection),
        };
        let outcome = match outcome {
            _ if replay => {
                self.stats.replayed += 1;
                Outcome::Replayed
            }
            Outcome::Rejected(rejection) => {
                self.stats.rejected[rejection.reason as usize] += 1;
                Outcome::Rejected(rejection)
            }
            Outcome::Filtered => {
                self.stats.filtered += 1;
                Outcome::Filtered
            }
            accepted => {
                self.stats.accepted += 1;
                accepted
            }
        };
        if replay && self.sessions.is_some() {
            // Sessions that close in a replay were emitted before the restart.
            self.close_sessions(&mut Vec::new(), false);
        } else {
            self.close_through_watermark(closed);
        }
        outcome
    }

    /// Adds the event just decoded (`self.event`) to its key's sessions.
    fn add_to_session(&mut self, payload: &[u8], offset: i64) -> Outcome {
        let Some(sessions) = self.sessions.as_deref_mut() else {
            return Outcome::Accepted { missed_windows: 0 };
        };
        let t = self.event.event_time_ms;
        match sessions.add(&self.layout, &self.event, payload, offset, self.watermark) {
            Ok(()) => {
                self.advance_with(t);
                Outcome::Accepted { missed_windows: 0 }
            }
            Err(late) => {
                Outcome::Rejected(self.late(t, late.end, "a session that would have ended"))
            }
        }
    }

    /// The rejection of an event at `t` whose window would end at `end`.
    fn late(&self, t: i64, end: i64, what: &str) -> Rejection {
        Rejection::new(
            Reason::Late,
            format!(
                "event time {} is for {what} at {}; the watermark is {} ({} behind the latest event)",
                format_rfc3339_millis(t),
                format_rfc3339_millis(end),
                format_rfc3339_millis(self.watermark.unwrap_or(i64::MIN)),
                crate::duration::format_millis(self.window.allowed_lateness_ms)
            ),
        )
    }

    /// Adds the event just decoded (`self.event`) to its open windows.
    fn add(&mut self, payload: &[u8], offset: i64) -> Outcome {
        let WindowSpec {
            size_ms, slide_ms, ..
        } = self.window;
        let event = &self.event;
        let t = event.event_time_ms;
        let last_start = t - t.rem_euclid(slide_ms);
        // The state budget is judged on the event's newest window, the last of its windows to
        // close: whenever any of them is open after a restart, that one is, and it held the
        // same keys, so a replay decides as the first run did.
        let full = |bucket: &Bucket| {
            self.window.max_keys.is_some_and(|max| {
                bucket.keys.len() >= max && !bucket.keys.contains_key(&event.key)
            })
        };
        let newest_open = self.watermark.is_none_or(|wm| last_start + size_ms > wm);
        if newest_open
            && let Some(bucket) = self.buckets.iter().rev().find(|b| b.start == last_start)
            && full(bucket)
        {
            return Outcome::Rejected(Rejection::new(
                Reason::OverCapacity,
                format!(
                    "key `{}` would be window {}'s key {} on this partition; the spec allows {} (window.max_keys)",
                    crate::reject::quote(event.key.as_str()),
                    format_rfc3339_millis(last_start),
                    bucket.keys.len() + 1,
                    bucket.keys.len()
                ),
            ));
        }
        let mut open = 0;
        let mut missed = 0;
        let mut start = last_start;
        while start > t - size_ms {
            let at_capacity = start != last_start
                && self
                    .buckets
                    .iter()
                    .rev()
                    .find(|b| b.start == start)
                    .is_some_and(full);
            if self.watermark.is_some_and(|wm| start + size_ms <= wm) || at_capacity {
                // A closed window, or (hopping) an older one already full: the event misses it.
                missed += 1;
            } else {
                // Where a bucket for `start` is or goes: just after the last one not later.
                let at = self
                    .buckets
                    .iter()
                    .rposition(|b| b.start <= start)
                    .map_or(0, |i| i + 1);
                let bucket = if at > 0 && self.buckets[at - 1].start == start {
                    &mut self.buckets[at - 1]
                } else {
                    let spare = self.spare.pop().unwrap_or_default();
                    let bucket = Bucket {
                        start,
                        first_offset: offset,
                        keys: spare.keys,
                        blocks: spare.blocks,
                    };
                    self.buckets.insert(at, bucket);
                    &mut self.buckets[at]
                };
                let Bucket { keys, blocks, .. } = bucket;
                let block = *keys
                    .entry(event.key)
                    .or_insert_with(|| self.layout.open(blocks));
                self.layout.add(blocks, block, event, payload);
                open += 1;
            }
            start -= slide_ms;
        }
        if open == 0 {
            return Outcome::Rejected(self.late(t, last_start + size_ms, "a window that closed"));
        }
        self.stats.missed_windows += missed;
        self.advance_with(t);
        Outcome::Accepted {
            missed_windows: missed as u32,
        }
    }

    /// Moves the watermark for a valid event at `event_time_ms`.
    fn advance_with(&mut self, event_time_ms: i64) {
        let candidate = event_time_ms - self.window.allowed_lateness_ms;
        if self.watermark.is_none_or(|wm| candidate > wm) {
            self.watermark = Some(candidate);
        }
    }

    /// The watermark that [`Partition::advance_watermark`] must be given to close anything:
    /// where the oldest open window ends; for session windows, where the last open session
    /// ends, since an advance closes every session or none.
    pub fn idle_close_ms(&self) -> Option<i64> {
        match &self.sessions {
            Some(sessions) => sessions.last_end(),
            None => self
                .buckets
                .front()
                .map(|first| first.start + self.window.size_ms),
        }
    }

    /// Moves the watermark forward to `to_ms` (never back), closing what that closes: for a
    /// partition that has gone idle, or at the end of a bounded input. With session windows it
    /// does nothing unless it closes every open session: a watermark moved by the clock cannot
    /// be replayed, so no session may live on past one.
    pub fn advance_watermark(&mut self, to_ms: i64, closed: &mut Vec<Aggregate>) {
        if let Some(sessions) = &self.sessions
            && sessions.last_end().is_some_and(|end| to_ms < end)
        {
            return;
        }
        if self.watermark.is_none_or(|wm| to_ms > wm) {
            self.watermark = Some(to_ms);
        }
        self.close_through_watermark(closed);
    }

    /// Closes every open window, e.g. at the end of a bounded input.
    pub fn close_all(&mut self, closed: &mut Vec<Aggregate>) {
        // Where the last open window ends: the newest bucket's end, or the last session's.
        let end = match &self.sessions {
            Some(sessions) => sessions.last_end(),
            None => self
                .buckets
                .back()
                .map(|last| last.start + self.window.size_ms),
        };
        if let Some(end) = end {
            self.advance_watermark(end, closed);
        }
    }

    /// The window columns' cells of a window.
    /// The vector has room for the aggregate columns too, so that finishing it does not grow
    /// it.
    fn dates(
        calendars: &mut [(SessionCalendar, WindowEdge)],
        layout: &Layout,
        start: i64,
        end: i64,
    ) -> Vec<Cell> {
        let mut cells = Vec::with_capacity(calendars.len() + layout.columns());
        cells.extend(calendars.iter_mut().map(|(calendar, edge)| {
            Cell::Date(calendar.session_date(match edge {
                WindowEdge::Start => start,
                WindowEdge::End => end,
            }))
        }));
        cells
    }

    /// Closes the sessions the watermark has reached, emitting them (sorted by start, then key)
    /// or, in a replay, dropping them.
    fn close_sessions(&mut self, closed: &mut Vec<Aggregate>, emit: bool) {
        let (Some(sessions), Some(watermark)) = (self.sessions.as_deref_mut(), self.watermark)
        else {
            return;
        };
        let first = closed.len();
        let layout = &self.layout;
        let calendars = &mut self.calendars;
        let mut windows = 0;
        sessions.close(watermark, |session| {
            windows += 1;
            if emit {
                let mut cells = Self::dates(calendars, layout, session.start, session.end);
                layout.finish(session.blocks, session.block, &mut cells);
                closed.push(Aggregate {
                    key: session.key,
                    window_start_ms: session.start,
                    window_end_ms: session.end,
                    cells,
                });
            }
        });
        if emit {
            closed[first..].sort_unstable_by_key(|a| (a.window_start_ms, a.key));
            self.stats.windows_closed += windows;
            self.stats.aggregates_emitted += (closed.len() - first) as u64;
        }
    }

    fn close_through_watermark(&mut self, closed: &mut Vec<Aggregate>) {
        if self.sessions.is_some() {
            self.close_sessions(closed, true);
            return;
        }
        let Some(watermark) = self.watermark else {
            return;
        };
        while let Some(first) = self.buckets.front() {
            let start = first.start;
            let end = start + self.window.size_ms;
            if end > watermark {
                break;
            }
            let Some(mut bucket) = self.buckets.pop_front() else {
                break;
            };
            let dates = Self::dates(&mut self.calendars, &self.layout, start, end);
            let first = closed.len();
            let layout = &self.layout;
            let blocks = &bucket.blocks;
            closed.extend(bucket.keys.drain().map(|(key, block)| {
                let mut cells = Vec::with_capacity(dates.capacity());
                cells.extend(dates.iter().cloned());
                layout.finish(blocks, block, &mut cells);
                Aggregate {
                    key,
                    window_start_ms: start,
                    window_end_ms: end,
                    cells,
                }
            }));
            closed[first..].sort_unstable_by_key(|a| a.key);
            self.stats.windows_closed += 1;
            self.stats.aggregates_emitted += (closed.len() - first) as u64;
            if self.spare.len() < 2 {
                bucket.blocks.clear();
                self.spare.push(Spare {
                    keys: bucket.keys,
                    blocks: bucket.blocks,
                });
            }
        }
    }

    /// The checkpoint to commit now; `None` before the first record.
    pub fn checkpoint(&self) -> Option<Checkpoint> {
        let next = self.next_offset?;
        if let Some(sessions) = &self.sessions {
            let (offset, watermark_ms) = sessions.resume_point().unwrap_or((next, self.watermark));
            return Some(Checkpoint {
                offset,
                watermark_ms,
                high_water: next.max(self.replay_until),
            });
        }
        let offset = self
            .buckets
            .iter()
            .map(|b| b.first_offset)
            .min()
            .unwrap_or(next);
        Some(Checkpoint {
            offset,
            watermark_ms: self.watermark,
            high_water: next.max(self.replay_until),
        })
    }
}

#[cfg(test)]
mod tests;
