//! When open sessions end, soonest first, for a watermark that only rises.
//!
//! Every end pushed is after the watermark, and the ends a partition holds lie within the
//! allowed lateness plus the gap of it. A single binary heap over all of them (tens of
//! thousands with many keys) pays a cache miss at most levels of every push and pop. Here the
//! ends are sorted in two steps instead: into buckets of [`BUCKET_MS`] of event time (a
//! push appends to a vector, most often the newest bucket's, which stays in cache), and the
//! soonest bucket, once the watermark reaches it, into a small heap. Pops come out in exactly
//! the heap's order.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

/// The width of a bucket, in milliseconds of event time.
const BUCKET_MS: i64 = 1_024;

/// Emptied buckets' vectors kept for reuse, at most this many.
const SPARE_LIMIT: usize = 64;

/// An open session's end: `(end, slot, generation)`.
pub(crate) type End = (i64, u32, u32);

#[derive(Debug, Default)]
pub(crate) struct Ends {
    /// Every end below `near_limit`, soonest first.
    near: BinaryHeap<Reverse<End>>,
    /// The first end that does not go to `near`: the end of the bucket last moved into it.
    near_limit: i64,
    /// The other ends by bucket (`end.div_euclid(BUCKET_MS)`), in no order within one.
    far: BTreeMap<i64, Vec<End>>,
    spare: Vec<Vec<End>>,
}

impl Ends {
    pub(crate) fn new() -> Self {
        Self {
            near_limit: i64::MIN,
            ..Self::default()
        }
    }

    pub(crate) fn push(&mut self, end: End) {
        if end.0 < self.near_limit {
            self.near.push(Reverse(end));
            return;
        }
        let spare = &mut self.spare;
        self.far
            .entry(end.0.div_euclid(BUCKET_MS))
            .or_insert_with(|| spare.pop().unwrap_or_default())
            .push(end);
    }

    /// Takes the soonest end if it is at or before `watermark`.
    pub(crate) fn pop_through(&mut self, watermark: i64) -> Option<End> {
        loop {
            if let Some(&Reverse(end)) = self.near.peek() {
                // Everything in `far` ends after everything in `near`.
                if end.0 > watermark {
                    return None;
                }
                self.near.pop();
                return Some(end);
            }
            let mut first = self.far.first_entry()?;
            let bucket = *first.key();
            if bucket.saturating_mul(BUCKET_MS) > watermark {
                return None;
            }
            self.near.extend(first.get_mut().drain(..).map(Reverse));
            let emptied = first.remove();
            if self.spare.len() < SPARE_LIMIT {
                self.spare.push(emptied);
            }
            self.near_limit = bucket.saturating_add(1).saturating_mul(BUCKET_MS);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Against one binary heap: the same ends come out, in the same order, for any pushes
        /// (even before the watermark) and any rising watermarks.
        #[test]
        fn pops_what_one_heap_would(
            steps in proptest::collection::vec(
                (0i64..5_000, proptest::collection::vec(-5_000i64..40_000, 0..6)),
                1..200,
            ),
        ) {
            let mut ends = Ends::new();
            let mut heap = BinaryHeap::new();
            let mut watermark = -3_000i64;
            for (i, (rise, pushes)) in steps.into_iter().enumerate() {
                for (j, ahead) in pushes.into_iter().enumerate() {
                    let end = (watermark + ahead, i as u32, j as u32);
                    ends.push(end);
                    heap.push(Reverse(end));
                }
                watermark += rise;
                loop {
                    let expected = heap
                        .peek()
                        .filter(|Reverse(e)| e.0 <= watermark)
                        .map(|Reverse(e)| *e);
                    if expected.is_some() {
                        heap.pop();
                    }
                    prop_assert_eq!(ends.pop_through(watermark), expected);
                    if expected.is_none() {
                        break;
                    }
                }
            }
        }
    }
}
