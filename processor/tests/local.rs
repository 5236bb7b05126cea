//! `processor local` end to end: generated ticks through the embedded broker and the processor
//! into the files, the Parquet lake and the feature store, with every tick accounted for.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use pipeline_core::generator::GeneratorConfig;
use pipeline_core::{STOCK_TICKS_SPEC, Spec};
use processor::Delivery;
use processor::local::{LocalOptions, render_summary, run};

#[test]
fn every_generated_tick_is_aggregated_or_dead_lettered() {
    let out_dir = std::env::temp_dir().join(format!("processor-local-test-{}", std::process::id()));
    let options = LocalOptions {
        spec: Arc::new(Spec::from_toml(STOCK_TICKS_SPEC, "config/pipeline.toml").unwrap()),
        brokers: None,
        delivery: Delivery::ExactlyOnce,
        // More than the generator may run ahead of the processor, so flow control is exercised.
        events: 25_000,
        rate: 200,
        generator: GeneratorConfig {
            malformed_share: 0.02,
            disorder_share: 0.05,
            max_disorder_ms: 5_000,
            ..GeneratorConfig::default()
        },
        partitions: 3,
        out_dir: out_dir.clone(),
        // Small enough that the lake rolls several files by size.
        lake_buffer_bytes: 1024,
        lake_buffer_interval: std::time::Duration::from_secs(60),
        progress: false,
    };
    let summary = run(&options).unwrap();
    assert_eq!(summary.produced, 25_000);
    assert_eq!(summary.stats.records_in, 25_000);

    let aggregates = std::fs::read_to_string(&summary.aggregates_file).unwrap();
    let counted: u64 = aggregates
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["count"]
                .as_u64()
                .unwrap()
        })
        .sum();
    let dead_letters = std::fs::read_to_string(&summary.dead_letters_file).unwrap();
    let dead = dead_letters.lines().count() as u64;
    assert_eq!(counted + dead, 25_000, "in = aggregated + dead-lettered");
    assert!(dead > 300, "about 2 % broken: {dead}");
    // 25,000 ticks at 200/s of event time span about two minutes: a few windows per ticker.
    let windows = aggregates.lines().count();
    assert!((8..=16).contains(&windows), "{windows} aggregates");
    for line in dead_letters.lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(
            value["reason"].is_string()
                && value["detail"].is_string()
                && value["source_offset"].is_string(),
            "{line}"
        );
    }

    // The lake holds every aggregate once, in Parquet files under their event date.
    let mut lake_rows = 0;
    for file in &summary.lake.files {
        assert!(
            file.starts_with(out_dir.join("lake/aggregates")),
            "{}",
            file.display()
        );
        let reader =
            parquet::file::reader::SerializedFileReader::new(std::fs::File::open(file).unwrap())
                .unwrap();
        lake_rows += parquet::file::reader::FileReader::metadata(&reader)
            .file_metadata()
            .num_rows();
    }
    assert_eq!(lake_rows as usize, windows);
    assert_eq!(summary.lake.rows as usize, windows);
    assert!(summary.lake.files.len() > 1, "rolled by size");
    assert_eq!(summary.lake.errors, 0);

    // The feature store: one online record per ticker, every aggregate offline.
    let tickers = GeneratorConfig::default().tickers.len() as u64;
    assert_eq!(summary.feature_store.online, tickers);
    assert_eq!(summary.feature_store.offline as usize, windows);
    // Online, each ticker's record is its latest window.
    let mut latest = std::collections::BTreeMap::<String, String>::new();
    for line in aggregates.lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let end = value["window_end"].as_str().unwrap().to_owned();
        let ticker = value["ticker"].as_str().unwrap().to_owned();
        let entry = latest.entry(ticker).or_default();
        if end > *entry {
            *entry = end;
        }
    }
    let store = pipeline_local::SqliteFeatureStore::open(
        &summary.feature_store_file,
        &options.spec,
        processor::local::LOCAL_FEATURE_GROUP,
    )
    .unwrap();
    let identifiers: Vec<String> = latest.keys().cloned().collect();
    let online = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(pipeline_aws::FeatureStore::get_records(
            &store,
            processor::local::LOCAL_FEATURE_GROUP,
            &identifiers,
        ))
        .unwrap();
    assert_eq!(online.len(), latest.len());
    for (ticker, record) in online {
        assert_eq!(
            record.get("window_end"),
            Some(latest[&ticker].as_str()),
            "{ticker}"
        );
    }

    let text = render_summary(&summary);
    assert!(text.contains("processed 25000 ticks"), "{text}");
    assert!(text.contains(&summary.aggregates_file.display().to_string()));
    assert!(
        text.contains("read_parquet(") && text.contains("sqlite3 "),
        "{text}"
    );
    std::fs::remove_dir_all(out_dir).unwrap();
}
