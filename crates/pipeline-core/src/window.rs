//! Event-time windows for one Kafka partition, and the offsets that make recovery exact.
//!
//! The processor owns one [`Partition`] per assigned partition and feeds it every record in
//! offset order. Invariants:
//! - The watermark is the highest valid event time seen on the partition minus the allowed
//!   lateness (or a value the caller advanced it to); it never goes back.
//! - A window `[start, end)` closes exactly when the watermark reaches `end`. Its aggregates are
//!   emitted once, sorted by key. An event all of whose windows have closed is rejected `late`.
//! - [`Partition::checkpoint`] names the lowest offset still needed by an open window (or the
//!   next offset when none is open). Committing it and resuming from it with
//!   [`Partition::resume`] rebuilds exactly the open windows, emits no closed window twice and
//!   repeats no dead letter: records below the checkpoint's high-water mark are replayed into
//!   state only.

use std::collections::{HashMap, VecDeque};

use crate::aggregate::{Accumulator, Aggregate};
use crate::enrich::SessionCalendar;
use crate::key::Key;
use crate::reject::{Reason, Rejection};
use crate::spec::{Spec, WindowSpec};
use crate::tick::{Decoder, Tick};
use crate::time::format_rfc3339_millis;

type KeyMap = HashMap<Key, Accumulator, foldhash::fast::RandomState>;

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
    /// Below the resume high-water mark: it was handled before the restart, so it only rebuilt
    /// window state and produces no output now.
    Replayed,
}

/// Where to resume a partition: committed as the Kafka offset plus its metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// The offset to commit: the first record a restart must read.
    pub offset: i64,
    /// The watermark when the checkpoint was taken.
    pub watermark_ms: Option<i64>,
    /// One past the last offset handled: records below it already had their outputs produced.
    pub high_water: i64,
}

impl Checkpoint {
    /// The commit metadata string, e.g. `v1;wm=1795271400000;hw=1042`.
    pub fn metadata(&self) -> String {
        match self.watermark_ms {
            Some(wm) => format!("v1;wm={wm};hw={}", self.high_water),
            None => format!("v1;wm=;hw={}", self.high_water),
        }
    }

    /// Reads back a checkpoint from a committed offset and its metadata.
    pub fn from_metadata(offset: i64, metadata: &str) -> Result<Checkpoint, String> {
        let bad =
            || format!("unrecognised checkpoint metadata `{metadata}`; expected v1;wm=…;hw=…");
        let rest = metadata.strip_prefix("v1;wm=").ok_or_else(bad)?;
        let (wm, hw) = rest.split_once(";hw=").ok_or_else(bad)?;
        let watermark_ms = if wm.is_empty() {
            None
        } else {
            Some(wm.parse().map_err(|_| bad())?)
        };
        let high_water: i64 = hw.parse().map_err(|_| bad())?;
        if high_water < offset {
            return Err(format!(
                "checkpoint high-water {high_water} is below its offset {offset}"
            ));
        }
        Ok(Checkpoint {
            offset,
            watermark_ms,
            high_water,
        })
    }
}

/// Counters of what a partition has seen, for metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionStats {
    pub accepted: u64,
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
}

/// The windowing state of one partition.
#[derive(Debug)]
pub struct Partition {
    decoder: Decoder,
    window: WindowSpec,
    price_scale: u32,
    calendar: SessionCalendar,
    /// Open windows, ordered by start time. Few are open at once and most events land in the
    /// newest, so a deque searched from the back beats a tree.
    buckets: VecDeque<Bucket>,
    watermark: Option<i64>,
    /// One past the last offset fed.
    next_offset: Option<i64>,
    /// Records below this offset are replays.
    replay_until: i64,
    /// Emptied key maps kept for reuse, so a steady stream of windows does not reallocate.
    spare: Vec<KeyMap>,
    stats: PartitionStats,
}

impl Partition {
    /// A partition with no history.
    pub fn new(spec: &Spec) -> Self {
        Self {
            decoder: Decoder::new(spec),
            window: spec.window,
            price_scale: spec.price_scale(),
            calendar: SessionCalendar::new(spec.session_timezone),
            buckets: VecDeque::new(),
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

    pub fn watermark(&self) -> Option<i64> {
        self.watermark
    }

    pub fn stats(&self) -> &PartitionStats {
        &self.stats
    }

    /// Open windows (key × window start) held right now.
    pub fn open_windows(&self) -> usize {
        self.buckets.iter().map(|b| b.keys.len()).sum()
    }

    /// Feeds one record (offsets must increase). Windows that close as a result are appended to
    /// `closed`, sorted by window start then key.
    pub fn process(&mut self, record: Record<'_>, closed: &mut Vec<Aggregate>) -> Outcome {
        debug_assert!(self.next_offset.is_none_or(|n| record.offset >= n));
        self.next_offset = Some(record.offset + 1);
        let replay = record.offset < self.replay_until;
        let outcome = match self.decoder.decode(record.payload, record.timestamp_ms) {
            Ok(tick) => self.add(&tick, record.offset),
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
            accepted => {
                self.stats.accepted += 1;
                accepted
            }
        };
        self.close_through_watermark(closed);
        outcome
    }

    fn add(&mut self, tick: &Tick, offset: i64) -> Outcome {
        let WindowSpec {
            size_ms,
            slide_ms,
            allowed_lateness_ms,
        } = self.window;
        let t = tick.event_time_ms;
        let last_start = t - t.rem_euclid(slide_ms);
        let mut open = 0;
        let mut missed = 0;
        let mut start = last_start;
        while start > t - size_ms {
            if self.watermark.is_some_and(|wm| start + size_ms <= wm) {
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
                    let bucket = Bucket {
                        start,
                        first_offset: offset,
                        keys: self.spare.pop().unwrap_or_default(),
                    };
                    self.buckets.insert(at, bucket);
                    &mut self.buckets[at]
                };
                bucket
                    .keys
                    .entry(tick.key)
                    .and_modify(|acc| acc.add(tick))
                    .or_insert_with(|| Accumulator::new(tick));
                open += 1;
            }
            start -= slide_ms;
        }
        if open == 0 {
            let end = last_start + size_ms;
            let watermark = self.watermark.unwrap_or(i64::MIN);
            return Outcome::Rejected(Rejection::new(
                Reason::Late,
                format!(
                    "event time {} is for a window that closed at {}; the watermark is {} ({} behind the latest event)",
                    format_rfc3339_millis(t),
                    format_rfc3339_millis(end),
                    format_rfc3339_millis(watermark),
                    crate::duration::format_millis(allowed_lateness_ms)
                ),
            ));
        }
        self.stats.missed_windows += missed;
        let candidate = t - allowed_lateness_ms;
        if self.watermark.is_none_or(|wm| candidate > wm) {
            self.watermark = Some(candidate);
        }
        Outcome::Accepted {
            missed_windows: missed as u32,
        }
    }

    /// Moves the watermark forward to `to_ms` (never back), closing what that closes: for a
    /// partition that has gone idle, or at the end of a bounded input.
    pub fn advance_watermark(&mut self, to_ms: i64, closed: &mut Vec<Aggregate>) {
        if self.watermark.is_none_or(|wm| to_ms > wm) {
            self.watermark = Some(to_ms);
        }
        self.close_through_watermark(closed);
    }

    /// Closes every open window, e.g. at the end of a bounded input.
    pub fn close_all(&mut self, closed: &mut Vec<Aggregate>) {
        if let Some(last) = self.buckets.back() {
            self.advance_watermark(last.start + self.window.size_ms, closed);
        }
    }

    fn close_through_watermark(&mut self, closed: &mut Vec<Aggregate>) {
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
            let session_date = self.calendar.session_date(start);
            let first = closed.len();
            closed.extend(
                bucket
                    .keys
                    .drain()
                    .map(|(key, acc)| acc.finish(key, start, end, session_date, self.price_scale)),
            );
            closed[first..].sort_unstable_by_key(|a| a.key);
            self.stats.windows_closed += 1;
            self.stats.aggregates_emitted += (closed.len() - first) as u64;
            if self.spare.len() < 2 {
                self.spare.push(bucket.keys);
            }
        }
    }

    /// The checkpoint to commit now; `None` before the first record.
    pub fn checkpoint(&self) -> Option<Checkpoint> {
        let next = self.next_offset?;
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
