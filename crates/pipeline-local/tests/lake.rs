//! The Parquet lake read back with the `parquet` crate: the files' schema is the generated Glue
//! schema, each file sits in the partition of its rows' event date, and every aggregate comes
//! back, value for value, exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arrow_array::cast::AsArray as _;
use arrow_array::types::{Date32Type, Int64Type, TimestampMillisecondType};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, SecondsFormat};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use pipeline_core::generator::{EventGenerator, GeneratorConfig};
use pipeline_core::{Partition, Record, SHIPPED_SPECS, STOCK_TICKS_SPEC, Spec};
use pipeline_local::{LakeConfig, ParquetLake};

fn spec() -> Spec {
    Spec::from_toml(STOCK_TICKS_SPEC, "built-in").unwrap()
}

/// Real aggregates: generated events through the core, from 23:45 on 2026-11-21 to 00:15 the
/// next day, so they fall in two daily partitions.
fn aggregates(spec: &Spec) -> Vec<String> {
    let start_ms = 1_795_304_700_000; // 2026-11-21T23:45:00Z
    let mut generator = EventGenerator::new(
        spec,
        GeneratorConfig {
            malformed_share: 0.0,
            ..GeneratorConfig::default()
        },
    );
    let mut partition = Partition::new(spec);
    let (mut closed, mut payload) = (Vec::new(), Vec::new());
    for i in 0..9_000 {
        let t = start_ms + i * 200;
        generator.next_into(t, &mut payload);
        partition.process(
            Record {
                offset: i,
                timestamp_ms: t,
                payload: Some(&payload),
            },
            &mut closed,
        );
    }
    partition.close_all(&mut closed);
    closed.iter().map(|a| a.to_json(spec)).collect()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lake-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn read(path: &Path) -> Vec<RecordBatch> {
    ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The Glue type an Arrow column stands for.
fn glue_type(data_type: &DataType) -> String {
    match data_type {
        DataType::Utf8 => "string".into(),
        DataType::Timestamp(TimeUnit::Millisecond, Some(zone)) if zone.as_ref() == "UTC" => {
            "timestamp".into()
        }
        DataType::Date32 => "date".into(),
        DataType::Int64 => "bigint".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Decimal128(precision, scale) => format!("decimal({precision},{scale})"),
        other => panic!("no Glue type for {other}"),
    }
}

/// Row `row` of `batch` written back as the aggregate's JSON (column order, decimals at their
/// scale, RFC 3339 times): equal to the input only if every value came back exactly.
fn row_json(batch: &RecordBatch, row: usize) -> String {
    let fields: Vec<String> = batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(field, column)| {
            let value = if column.is_null(row) {
                "null".to_owned()
            } else {
                match field.data_type() {
                    DataType::Utf8 => {
                        serde_json::to_string(column.as_string::<i32>().value(row)).unwrap()
                    }
                    DataType::Timestamp(..) => {
                        let ms = column.as_primitive::<TimestampMillisecondType>().value(row);
                        let time = DateTime::from_timestamp_millis(ms).unwrap();
                        format!("\"{}\"", time.to_rfc3339_opts(SecondsFormat::Millis, true))
                    }
                    DataType::Date32 => {
                        let days = column.as_primitive::<Date32Type>().value(row);
                        let date = NaiveDate::default() + chrono::Days::new(days as u64);
                        format!("\"{date}\"")
                    }
                    DataType::Int64 => column.as_primitive::<Int64Type>().value(row).to_string(),
                    DataType::Boolean => column.as_boolean().value(row).to_string(),
                    DataType::Decimal128(..) => column
                        .as_primitive::<arrow_array::types::Decimal128Type>()
                        .value_as_string(row),
                    other => panic!("unexpected {other}"),
                }
            };
            format!("\"{}\":{value}", field.name())
        })
        .collect();
    format!("{{{}}}", fields.join(","))
}

#[test]
fn the_lake_holds_every_aggregate_once_with_the_glue_schema_in_date_partitions() {
    for (name, text) in SHIPPED_SPECS {
        let spec = Spec::from_toml(text, name).unwrap();
        every_aggregate_comes_back_once(name, &spec);
    }
}

fn every_aggregate_comes_back_once(name: &str, spec: &Spec) {
    let aggregates = aggregates(spec);
    assert!(
        aggregates.len() > 100,
        "{name}: {} aggregates",
        aggregates.len()
    );
    let root = temp_dir(&format!("read-back-{name}"));
    let mut config = LakeConfig::new(&root);
    config.buffer_bytes = 4 * 1024; // several files per partition
    let mut lake = ParquetLake::new(spec, config);
    let now = Instant::now();
    for json in &aggregates {
        lake.push(json.as_bytes(), now).unwrap();
    }
    let report = lake.finish().unwrap();
    assert_eq!(report.rows, aggregates.len() as u64, "{name}");
    assert_eq!(report.errors, 0, "{name}");
    assert!(
        report.files.len() > 4,
        "{name}: {} files",
        report.files.len()
    );

    let glue = pipeline_core::catalog::schema_document(spec);
    let expected_columns: Vec<(String, String)> = glue["lake"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().into(),
                c["type"].as_str().unwrap().into(),
            )
        })
        .collect();

    // What is on disk is exactly the report's files: whole, none left half-written.
    let mut on_disk = Vec::new();
    let mut folders = vec![root.join("aggregates")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                on_disk.push(path);
            }
        }
    }
    let mut reported = report.files.clone();
    on_disk.sort();
    reported.sort();
    assert_eq!(on_disk, reported);

    let mut read_back = Vec::new();
    let mut partitions = std::collections::BTreeSet::new();
    for file in &report.files {
        let name = file.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with("aggregates-")
                && name.ends_with(".parquet")
                && name.matches('.').count() == 1,
            "{name}"
        );
        let relative = file.strip_prefix(root.join("aggregates")).unwrap();
        let partition = relative.parent().unwrap().to_str().unwrap().to_owned();
        for batch in read(file) {
            let columns: Vec<(String, String)> = batch
                .schema()
                .fields()
                .iter()
                .map(|f| (f.name().clone(), glue_type(f.data_type())))
                .collect();
            assert_eq!(columns, expected_columns, "{}", file.display());
            for row in 0..batch.num_rows() {
                let json = row_json(&batch, row);
                let value: serde_json::Value = serde_json::from_str(&json).unwrap();
                let end = value["window_end"].as_str().unwrap();
                assert_eq!(
                    partition,
                    format!(
                        "year={}/month={}/day={}",
                        &end[0..4],
                        &end[5..7],
                        &end[8..10]
                    ),
                    "{json} in {}",
                    file.display()
                );
                read_back.push(json);
            }
        }
        partitions.insert(partition);
    }
    assert_eq!(
        partitions.into_iter().collect::<Vec<_>>(),
        vec!["year=2026/month=11/day=21", "year=2026/month=11/day=22"]
    );
    let mut expected = aggregates.clone();
    expected.sort();
    read_back.sort();
    assert_eq!(read_back, expected);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_partition_rolls_when_its_first_record_has_waited_the_interval() {
    let spec = spec();
    let aggregates = aggregates(&spec);
    let root = temp_dir("interval");
    let mut config = LakeConfig::new(&root);
    config.buffer_interval = Duration::from_secs(60);
    let mut lake = ParquetLake::new(&spec, config);
    let t0 = Instant::now();
    lake.push(aggregates[0].as_bytes(), t0).unwrap();
    lake.push(aggregates[1].as_bytes(), t0 + Duration::from_secs(30))
        .unwrap();
    lake.flush_due(t0 + Duration::from_secs(59)).unwrap();
    assert!(
        lake.report().files.is_empty(),
        "written before the interval"
    );
    lake.flush_due(t0 + Duration::from_secs(60)).unwrap();
    assert_eq!(lake.report().files.len(), 1);
    assert_eq!(lake.report().rows, 2);
    // A new buffer starts with the next record.
    lake.push(aggregates[2].as_bytes(), t0 + Duration::from_secs(61))
        .unwrap();
    lake.flush_due(t0 + Duration::from_secs(100)).unwrap();
    assert_eq!(lake.report().files.len(), 1);
    let report = lake.finish().unwrap();
    assert_eq!((report.files.len(), report.rows), (2, 3));
    let rows: usize = report
        .files
        .iter()
        .flat_map(|f| read(f))
        .map(|b| b.num_rows())
        .sum();
    assert_eq!(rows, 3);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn records_that_cannot_be_converted_go_to_the_error_output_with_their_bytes() {
    let spec = spec();
    let good = aggregates(&spec)[0].clone();
    let wrong_type = good.replacen("\"count\":", "\"count\":\"many\",\"was\":", 1);
    let too_precise = {
        let value: serde_json::Value = serde_json::from_str(&good).unwrap();
        let open = value["open"].to_string();
        good.replacen(&format!("\"open\":{open}"), "\"open\":1.123456789", 1)
    };
    let no_event_time = good.replacen("\"window_end\":", "\"end\":", 1);
    let not_json = "{\"ticker\":".to_owned();
    let root = temp_dir("errors");
    let mut lake = ParquetLake::new(&spec, LakeConfig::new(&root));
    for json in [
        &good,
        &wrong_type,
        &too_precise,
        &no_event_time,
        &not_json,
        &good,
    ] {
        lake.push(json.as_bytes(), Instant::now()).unwrap();
    }
    let report = lake.finish().unwrap();
    assert_eq!((report.rows, report.errors), (2, 4));

    let lines = |kind: &str| -> Vec<serde_json::Value> {
        let path = root
            .join("errors")
            .join(kind)
            .join("aggregates-errors.jsonl");
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let conversion = lines("format-conversion-failed");
    let raw: Vec<String> = conversion
        .iter()
        .map(|l| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(l["rawData"].as_str().unwrap())
                .unwrap();
            String::from_utf8(bytes).unwrap()
        })
        .collect();
    assert_eq!(raw, vec![wrong_type, too_precise, not_json]);
    assert!(
        conversion[0]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("column `count`"),
        "{}",
        conversion[0]
    );
    let partitioning = lines("partitioning-failed");
    assert_eq!(partitioning.len(), 1);
    assert!(
        partitioning[0]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("window_end")
    );
    std::fs::remove_dir_all(&root).unwrap();
}
