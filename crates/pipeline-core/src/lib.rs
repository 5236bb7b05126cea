//! The streaming core of the pipeline: pure functions and state machines, no I/O.
//!
//! Data flow for one Kafka partition:
//!
//! ```text
//! record bytes ─▶ event::Decoder (decode + validate against the Spec, derive, filter) ─▶ Event ─┐
//!                      │ Rejection (reason + detail) ─▶ dead letter                            │
//!                                                                                               ▼
//!            window::Partition: assign to event-time windows, accumulate the spec's
//!            aggregates, advance the watermark, close windows ─▶ Aggregate ─▶ to_json
//!            checkpoint(): the safe offset to commit + what a restart needs
//! ```
//!
//! A [`spec::Spec`] (`config/pipelines/<name>.toml`) drives every step: its fields, key,
//! derived values, filter, window and aggregates. Nothing here knows a domain; the example
//! below uses the shipped stock-ticks spec.
//!
//! How a consumer drives one partition:
//!
//! ```
//! use pipeline_core::{Outcome, Partition, Reason, Record, STOCK_TICKS_SPEC, Spec};
//!
//! let spec = Spec::from_toml(STOCK_TICKS_SPEC, "config/pipelines/stock-ticks.toml")?;
//! let mut partition = Partition::new(&spec);
//! let mut closed = Vec::new();
//! let tick = br#"{"event_id":"e1","ticker":"AMZN","price":187.25,"volume":100,
//!                 "event_time":"2026-11-21T14:30:05Z"}"#;
//! let record = Record { offset: 0, timestamp_ms: 1_795_271_405_000, payload: Some(tick) };
//! assert_eq!(partition.process(record, &mut closed), Outcome::Accepted { missed_windows: 0 });
//!
//! // A bad event comes back with its reason, for the dead-letter topic.
//! let bad = Record { offset: 1, timestamp_ms: 1_795_271_405_000, payload: Some(b"{\"price\":") };
//! match partition.process(bad, &mut closed) {
//!     Outcome::Rejected(rejection) => assert_eq!(rejection.reason, Reason::Malformed),
//!     other => panic!("{other:?}"),
//! }
//!
//! // Commit this offset (with its metadata) once the outputs so far are durable: the open
//! // 14:30 window still needs offset 0.
//! let checkpoint = partition.checkpoint().unwrap();
//! assert_eq!((checkpoint.offset, checkpoint.high_water), (0, 2));
//!
//! partition.close_all(&mut closed);
//! assert_eq!(closed[0].aggregate_id(), "AMZN:1795271400000");
//! assert!(closed[0].to_json(&spec).contains(r#""vwap":187.250000"#));
//! # Ok::<(), pipeline_core::SpecError>(())
//! ```

mod accumulate;
pub mod aggregate;
pub mod avro;
pub mod catalog;
pub mod checks;
pub mod decimal;
pub mod duration;
pub mod enrich;
pub mod event;
pub mod expr;
pub mod features;
pub mod framer;
pub mod generator;
/// The JSON scanner of the decoder. Public only for the core benchmark's baseline (the
/// specialised stock-ticks decoder the general one replaced); not an API.
#[doc(hidden)]
pub mod json;
pub mod key;
pub mod protobuf;
pub mod reject;
pub mod schema;
pub mod spec;
pub mod store;
pub mod time;
pub mod window;
pub mod wire;

pub use aggregate::{Aggregate, Cell};
pub use event::{Decoder, Event};
pub use key::Key;
pub use reject::{Reason, Rejection};
pub use schema::{ColumnRole, ColumnType, OutputColumn};
pub use spec::{Spec, SpecError};
pub use window::{Checkpoint, Outcome, Partition, PartitionStats, Record};

/// The stock-ticks spec shipped in `config/pipelines/stock-ticks.toml`, compiled in for tools
/// and tests that run without a config directory.
pub const STOCK_TICKS_SPEC: &str = include_str!("../../../config/pipelines/stock-ticks.toml");

include!(concat!(env!("OUT_DIR"), "/shipped_specs.rs"));

/// The shipped spec named `name` (its file stem in `config/pipelines/`), compiled in.
pub fn shipped_spec(name: &str) -> Option<&'static str> {
    SHIPPED_SPECS
        .iter()
        .find(|(stem, _)| *stem == name)
        .map(|(_, text)| *text)
}
