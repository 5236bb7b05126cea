//! The spec file's shape, as serde reads it. Unknown keys are collected (`extra`) rather than
//! refused by serde, so that the loader reports them together with every other problem.

use std::collections::BTreeMap;

use serde::Deserialize;

pub(super) type Extra = BTreeMap<String, toml::Value>;

#[derive(Deserialize)]
pub(super) struct RawSpec {
    pub name: String,
    #[serde(rename = "where")]
    pub filter: Option<String>,
    pub topics: RawTopics,
    pub input: Option<super::input::RawInput>,
    pub event: RawEvent,
    #[serde(default)]
    pub derive: Vec<RawDerive>,
    pub window: RawWindow,
    pub aggregates: Vec<RawAggregate>,
    #[serde(default)]
    pub checks: Vec<RawCheck>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Deserialize)]
pub(super) struct RawTopics {
    pub input: String,
    pub output: String,
    pub dead_letter: String,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Deserialize)]
pub(super) struct RawEvent {
    pub key: Vec<String>,
    pub event_time: String,
    pub event_id: String,
    pub max_bytes: u64,
    pub max_future_skew: String,
    pub max_past_skew: String,
    pub fields: Vec<RawField>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(super) enum RawType {
    String,
    Integer,
    Decimal,
    Timestamp,
    Boolean,
}

#[derive(Deserialize)]
pub(super) struct RawField {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: RawType,
    #[serde(default = "yes")]
    pub required: bool,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub pattern: Option<String>,
    pub one_of: Option<Vec<String>>,
    pub scale: Option<u32>,
    pub min: Option<toml::Value>,
    pub max: Option<toml::Value>,
    pub exclusive_min: Option<toml::Value>,
    pub exclusive_max: Option<toml::Value>,
    pub generate: Option<RawGenerate>,
    #[serde(flatten)]
    pub extra: Extra,
}

fn yes() -> bool {
    true
}

/// How the generator (the producer Lambda, `processor local`) makes values for a field.
#[derive(Deserialize, Default)]
pub(super) struct RawGenerate {
    pub values: Option<Vec<String>>,
    pub cardinality: Option<u64>,
    pub prefix: Option<String>,
    pub unique: Option<bool>,
    pub min: Option<toml::Value>,
    pub max: Option<toml::Value>,
    pub walk: Option<String>,
    pub null_share: Option<f64>,
    pub true_share: Option<f64>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Deserialize)]
pub(super) struct RawDerive {
    pub name: String,
    pub expr: String,
    pub scale: Option<u32>,
    pub rounding: Option<String>,
    pub on_zero: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Deserialize)]
pub(super) struct RawWindow {
    #[serde(rename = "type")]
    pub ty: String,
    pub size: Option<String>,
    pub slide: Option<String>,
    pub gap: Option<String>,
    pub max_duration: Option<String>,
    pub allowed_lateness: String,
    pub idle_timeout: Option<String>,
    pub max_keys: Option<u64>,
    #[serde(default)]
    pub columns: Vec<RawWindowColumn>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Deserialize)]
pub(super) struct RawWindowColumn {
    pub name: String,
    pub function: String,
    pub of: Option<String>,
    pub zone: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Deserialize)]
pub(super) struct RawAggregate {
    pub name: String,
    pub function: String,
    pub field: Option<String>,
    pub weight: Option<String>,
    pub scale: Option<u32>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Deserialize)]
pub(super) struct RawCheck {
    pub rule: String,
    #[serde(flatten)]
    pub extra: Extra,
}
