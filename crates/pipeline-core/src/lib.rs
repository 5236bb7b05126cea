//! The streaming core of the pipeline: pure functions and state machines, no I/O.
//!
//! Data flow for one Kafka partition:
//!
//! ```text
//! record bytes ─▶ tick::Decoder (decode + validate against the Spec) ─▶ Tick ─┐
//!                      │ Rejection (reason + detail) ─▶ dead letter           │
//!                                                                              ▼
//!            window::Partition: enrich (notional), assign to event-time windows,
//!            advance the watermark, close windows ─▶ Aggregate ─▶ to_json
//!            checkpoint(): the safe offset to commit + what a restart needs
//! ```
//!
//! The [`spec::Spec`] loaded from `config/pipeline.toml` drives every step.

pub mod aggregate;
pub mod decimal;
pub mod duration;
pub mod enrich;
pub mod generator;
mod json;
pub mod key;
pub mod reject;
pub mod spec;
pub mod tick;
pub mod time;
pub mod window;

pub use aggregate::{Aggregate, ColumnValue};
pub use key::Key;
pub use reject::{Reason, Rejection};
pub use spec::{Spec, SpecError};
pub use tick::{Decoder, Tick};
pub use window::{Checkpoint, Outcome, Partition, PartitionStats, Record};

/// The stock-ticks spec shipped in `config/pipeline.toml`, compiled in for tools and tests that
/// run without a config directory.
pub const STOCK_TICKS_SPEC: &str = include_str!("../../../config/pipeline.toml");
