//! The stream processor: the long-running consumer that replaces the Flink job, and `local`,
//! which runs the whole pipeline on one machine with an embedded broker; `replay` re-publishes
//! dead letters or a time range after a fix; `tail` follows a topic for debugging.

pub mod context;
pub mod dashboard;
pub mod engine;
pub mod health;
#[cfg(feature = "local")]
pub mod lake;
#[cfg(feature = "local")]
pub mod local;
pub mod metrics;
pub mod prometheus;
pub mod records;
pub mod registry;
pub mod replay;
pub mod service;
pub mod tail;

pub use engine::{Delivery, Engine, EngineConfig, EngineError, EngineStats};
