//! The engine's counters and what it reports of the group's position.

use std::collections::BTreeMap;

use pipeline_core::Reason;

/// Counters since start, for progress, metrics and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineStats {
    pub records_in: u64,
    /// Valid events the spec's `where` left out.
    pub filtered: u64,
    pub aggregates_out: u64,
    pub dead_letters: BTreeMap<&'static str, u64>,
    pub batches_committed: u64,
    /// At-least-once commits the group refused while rebalancing, left to the next commit.
    pub commits_deferred: u64,
    /// Times an idle partition's watermark was moved by the clock (`window.idle_timeout`).
    pub idle_advances: u64,
}

/// The group's committed position on the input topic (see [`Engine::group_backlog`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupBacklog {
    /// The sum of the committed offsets (the earliest offset where none is committed): it
    /// grows whenever any member commits progress.
    pub committed: i64,
    /// Records between the committed offsets and the ends of the partitions.
    pub behind: i64,
}

/// What the engine last handed the broker for one partition: the offset to resume from and its
/// checkpoint metadata. Both delivery modes build it the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandedOffset {
    pub offset: i64,
    pub metadata: String,
}

impl EngineStats {
    pub fn dead_letters_total(&self) -> u64 {
        self.dead_letters.values().sum()
    }
}

/// How many dead letters of each reason, in the stable order of [`Reason::ALL`].
pub fn dead_letters_by_reason(stats: &EngineStats) -> Vec<(Reason, u64)> {
    Reason::ALL
        .into_iter()
        .filter_map(|r| stats.dead_letters.get(r.code()).map(|n| (r, *n)))
        .collect()
}
