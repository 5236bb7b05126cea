//! What Terraform needs of a spec, generated from it: the pipeline's name and topics, the one
//! schema of the aggregates outside Kafka (the Glue table that Firehose converts to Parquet
//! against: columns, partition keys, how timestamps parse, how a record finds its partition) and
//! the Feature Group's definitions. `processor schema` prints it; Terraform reads the committed
//! copies (`infra/pipelines/<name>.json`, one a spec) instead of keeping names and column lists.
//! It is the one place the spec's types map to Glue's and the Feature Store's; the local lake
//! maps the same [`ColumnType`]s to Arrow.

use crate::{ColumnType, Spec};
use serde::Serialize;
use serde_json::Value;

use crate::features::{event_time_feature, feature_definitions, record_identifier_feature};

/// How the aggregate's timestamps are written (`2026-11-21T14:31:00.000Z`), as a Joda-Time
/// pattern for Firehose's Hive JSON deserializer.
pub const TIMESTAMP_FORMAT: &str = "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'";

/// Total digits of every decimal column: room for exact sums over a window.
pub const DECIMAL_PRECISION: u32 = 38;

/// The Glue (Hive) type of a column.
pub fn glue_type(column_type: ColumnType) -> String {
    match column_type {
        ColumnType::String => "string".into(),
        ColumnType::Timestamp => "timestamp".into(),
        ColumnType::Date => "date".into(),
        ColumnType::Integer => "bigint".into(),
        ColumnType::Decimal { scale } => format!("decimal({DECIMAL_PRECISION},{scale})"),
        ColumnType::Boolean => "boolean".into(),
    }
}

/// The lake's partition keys, in path order (`year=2026/month=11/day=21/`), all strings, taken
/// from the window's end: the aggregate's event time.
pub const PARTITION_KEYS: [&str; 3] = ["year", "month", "day"];

/// The pipeline document, as `processor schema` prints it and `infra/pipelines/<name>.json`
/// holds it. Structs rather than JSON maps, so the file's key order is fixed whatever
/// serde_json's features.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchemaDocument {
    pub about: &'static str,
    /// The spec's name: it names the pipeline's resources.
    pub pipeline: String,
    pub topics: TopicNames,
    /// How the input is encoded, and the registry Terraform creates and grants for Avro.
    pub input: Input,
    pub lake: Lake,
    pub feature_group: FeatureGroup,
    /// The checker's rules, as written: the sanity alarm's description quotes them.
    pub checks: Vec<String>,
}

/// The input's encoding: `format` is `json` or `avro`; for Avro, `registry` is `glue` (with
/// the Glue registry and schema names and the schema the producer registers, which Terraform
/// creates as the schema's first version) or `confluent` (with its URL and subject). Fields that
/// do not apply are null.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Input {
    pub format: &'static str,
    pub registry: Option<&'static str>,
    pub glue_registry: Option<String>,
    pub glue_schema: Option<String>,
    /// The schema the spec implies (Avro's JSON or `.proto` text): the registry's first
    /// version.
    pub schema_definition: Option<String>,
    pub confluent_url: Option<String>,
    pub confluent_subject: Option<String>,
}

fn input(spec: &Spec) -> Input {
    use crate::spec::{InputFormat, Registry};
    let mut input = Input {
        format: "json",
        registry: None,
        glue_registry: None,
        glue_schema: None,
        schema_definition: None,
        confluent_url: None,
        confluent_subject: None,
    };
    if let InputFormat::Registry(registered) = &spec.input {
        input.format = registered.schema_type.name();
        input.schema_definition =
            crate::framer::SchemaEncoder::for_spec(spec, registered.schema_type)
                .ok()
                .map(|e| e.schema_text().to_owned());
        match &registered.registry {
            Registry::Glue { registry, schema } => {
                input.registry = Some("glue");
                input.glue_registry = Some(registry.clone());
                input.glue_schema = Some(schema.clone());
            }
            Registry::Confluent { url, subject } => {
                input.registry = Some("confluent");
                input.confluent_url = Some(url.clone());
                input.confluent_subject = Some(subject.clone());
            }
        }
    }
    input
}

/// The pipeline's topics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicNames {
    pub input: String,
    pub output: String,
    pub dead_letter: String,
    /// Where `processor replay` sends records for a backfill processor.
    pub replay: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lake {
    pub columns: Vec<Column>,
    pub partition_keys: Vec<Column>,
    /// For Firehose's Hive JSON deserializer.
    pub timestamp_formats: Vec<&'static str>,
    /// The jq query Firehose's dynamic partitioning runs on each record.
    pub partition_query: String,
    /// The S3 prefix built from the query's keys.
    pub prefix: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeatureGroup {
    pub record_identifier: String,
    pub event_time: &'static str,
    pub features: Vec<Column>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
}

pub fn schema(spec: &Spec) -> SchemaDocument {
    let columns = spec
        .output_columns()
        .into_iter()
        .map(|column| Column {
            type_name: glue_type(column.column_type),
            name: column.name,
        })
        .collect();
    let event_time = event_time_feature();
    // `window_end` is `YYYY-MM-DDTHH:MM:SS.sssZ`: the date's parts by position.
    let partition_query = format!(
        "{{year: .{event_time}[0:4], month: .{event_time}[5:7], day: .{event_time}[8:10]}}"
    );
    let prefix = PARTITION_KEYS
        .iter()
        .map(|key| format!("{key}=!{{partitionKeyFromQuery:{key}}}/"))
        .collect();
    SchemaDocument {
        about: "Generated from config/pipelines/<name>.toml by `processor schema`; do not edit. \
                ./scripts/pipeline-schemas regenerates every one.",
        pipeline: spec.name.clone(),
        topics: TopicNames {
            input: spec.topics.input.clone(),
            output: spec.topics.output.clone(),
            dead_letter: spec.topics.dead_letter.clone(),
            replay: spec.replay_topic(),
        },
        input: input(spec),
        lake: Lake {
            columns,
            partition_keys: PARTITION_KEYS
                .iter()
                .map(|key| Column {
                    name: (*key).to_owned(),
                    type_name: "string".into(),
                })
                .collect(),
            timestamp_formats: vec![TIMESTAMP_FORMAT],
            partition_query,
            prefix,
        },
        feature_group: FeatureGroup {
            record_identifier: record_identifier_feature(spec).to_owned(),
            event_time,
            features: feature_definitions(spec)
                .into_iter()
                .map(|d| Column {
                    name: d.name,
                    type_name: d.feature_type.as_str().to_owned(),
                })
                .collect(),
        },
        checks: spec.checks.iter().map(|c| c.rule.clone()).collect(),
    }
}

/// The document as JSON, for reading fields.
pub fn schema_document(spec: &Spec) -> Value {
    serde_json::to_value(schema(spec)).unwrap_or_default()
}

/// The document as the committed file holds it: pretty JSON ending in a newline.
pub fn schema_file(spec: &Spec) -> String {
    let mut text = serde_json::to_string_pretty(&schema(spec)).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::STOCK_TICKS_SPEC;

    fn spec() -> Spec {
        Spec::from_toml(STOCK_TICKS_SPEC, "built-in").unwrap()
    }

    #[test]
    fn every_output_column_becomes_a_lake_column_and_a_feature_in_order() {
        let spec = spec();
        let document = schema_document(&spec);
        let names = |list: &Value| -> Vec<String> {
            list.as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_owned())
                .collect()
        };
        let expected: Vec<String> = spec.output_columns().into_iter().map(|c| c.name).collect();
        assert_eq!(names(&document["lake"]["columns"]), expected);
        assert_eq!(names(&document["feature_group"]["features"]), expected);
        assert_eq!(document["feature_group"]["record_identifier"], "ticker");
        assert_eq!(document["feature_group"]["event_time"], "window_end");
    }

    #[test]
    fn types_map_to_glue_and_the_feature_store() {
        let document = schema_document(&spec());
        // The type of column `name` in a list of columns.
        let type_in = |columns: &Value, name: &str| {
            columns
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == name)
                .map(|c| c["type"].as_str().unwrap().to_owned())
                .unwrap()
        };
        let lake_type = |name: &str| type_in(&document["lake"]["columns"], name);
        assert_eq!(lake_type("aggregate_id"), "string");
        assert_eq!(lake_type("window_end"), "timestamp");
        assert_eq!(lake_type("session_date"), "date");
        assert_eq!(lake_type("count"), "bigint");
        assert_eq!(lake_type("open"), "decimal(38,4)");
        assert_eq!(lake_type("vwap"), "decimal(38,6)");
        let feature_type = |name: &str| type_in(&document["feature_group"]["features"], name);
        assert_eq!(feature_type("window_end"), "String");
        assert_eq!(feature_type("count"), "Integral");
        assert_eq!(feature_type("vwap"), "Fractional");
    }

    #[test]
    fn the_partition_query_reads_the_date_of_the_window_end() {
        let lake = &schema_document(&spec())["lake"];
        assert_eq!(
            lake["partition_query"],
            "{year: .window_end[0:4], month: .window_end[5:7], day: .window_end[8:10]}"
        );
        assert_eq!(
            lake["prefix"],
            "year=!{partitionKeyFromQuery:year}/month=!{partitionKeyFromQuery:month}/\
             day=!{partitionKeyFromQuery:day}/"
        );
    }

    /// What Terraform reads to create a Glue schema: the format, the registry and the schema
    /// the spec implies, which the processor's start check accepts.
    #[test]
    fn a_registry_spec_carries_its_format_and_schema_definition() {
        for (format, starts) in [("avro", "{"), ("protobuf", "syntax = \"proto3\"")] {
            let text = format!(
                "{STOCK_TICKS_SPEC}\n[input]\nformat = \"{format}\"\n[input.glue]\nregistry = \"shop\"\nschema = \"ticks\"\n"
            );
            let spec = Spec::from_toml(&text, "t").unwrap();
            let input = &schema_document(&spec)["input"];
            assert_eq!(input["format"], format);
            assert_eq!(input["registry"], "glue");
            assert_eq!(input["glue_registry"], "shop");
            let definition = input["schema_definition"].as_str().unwrap();
            assert!(definition.starts_with(starts), "{definition}");
            let registered = spec.input.registry().unwrap();
            crate::event::check_schema(registered, definition, &spec.event.fields).unwrap();
        }
        assert_eq!(
            schema_document(&spec())["input"]["schema_definition"],
            Value::Null
        );
    }
}
