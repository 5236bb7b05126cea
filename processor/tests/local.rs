//! `processor local` end to end for each shipped spec: generated events through the embedded
//! broker and the processor into the files, the Parquet lake and the feature store, with every
//! event accounted for (aggregated, left out by the spec's `where`, or dead-lettered).

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use pipeline_core::generator::GeneratorConfig;
use pipeline_core::spec::AggregateFn;
use pipeline_core::{SHIPPED_SPECS, Spec};
use processor::Delivery;
use processor::local::{LocalOptions, LocalSummary, render_summary, run};

fn options(name: &str, events: u64, rate: u64) -> LocalOptions {
    let text = SHIPPED_SPECS.iter().find(|(n, _)| *n == name).unwrap().1;
    LocalOptions {
        spec: Arc::new(Spec::from_toml(text, name).unwrap()),
        brokers: None,
        delivery: Delivery::ExactlyOnce,
        events,
        rate,
        generator: GeneratorConfig {
            malformed_share: 0.02,
            disorder_share: 0.05,
            max_disorder_ms: 5_000,
            ..GeneratorConfig::default()
        },
        partitions: 3,
        out_dir: std::env::temp_dir().join(format!(
            "processor-local-test-{name}-{}",
            std::process::id()
        )),
        // Small enough that the lake rolls several files by size.
        lake_buffer_bytes: 1024,
        lake_buffer_interval: std::time::Duration::from_secs(60),
        progress: false,
    }
}

#[test]
fn stock_ticks_every_event_is_aggregated_or_dead_lettered() {
    // More than the generator may run ahead of the processor, so flow control is exercised.
    let summary = check_and_clean(&options("stock-ticks", 25_000, 200));
    assert_eq!(summary.stats.filtered, 0, "stock-ticks has no `where`");
}

/// One partition taking about three times what the embedded broker keeps of a partition (the
/// producer's pacing itself is tested in `local::produce`): every tick is still accounted for.
#[test]
fn stock_ticks_past_the_embedded_retention_on_one_partition_lose_nothing() {
    let mut options = options("stock-ticks", 100_000, 1_000);
    options.partitions = 1;
    options.out_dir = options.out_dir.with_extension("one-partition");
    let summary = check_and_clean(&options);
    assert_eq!(summary.produced, 100_000);
}

#[test]
fn stock_ticks_as_avro_through_the_local_registry_reach_the_lake_and_the_feature_store() {
    use pipeline_core::spec::{InputFormat, Registry, RegistrySpec, SchemaType, SchemaVersion};
    let mut options = options("stock-ticks", 20_000, 200);
    let mut spec = (*options.spec).clone();
    spec.input = InputFormat::Registry(RegistrySpec {
        schema_type: SchemaType::Avro,
        message: None,
        registry: Registry::Confluent {
            url: "http://127.0.0.1:9".into(),
            subject: "ticks-value".into(),
        },
        version: SchemaVersion::Latest,
    });
    options.spec = Arc::new(spec);
    options.out_dir = options.out_dir.with_extension("avro");
    let summary = check(&options);
    let dead = std::fs::read_to_string(&summary.dead_letters_file).unwrap();
    std::fs::remove_dir_all(&options.out_dir).unwrap();
    for line in dead.lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(value["schema_version"], "1", "{line}");
    }
    assert!(
        summary.stats.dead_letters.contains_key("malformed"),
        "broken events that Avro cannot carry"
    );
}

/// Another domain in Protobuf, in the Glue wire format: orders, whose spec names its message
/// type, through the local registry into the lake and the feature store.
#[test]
fn orders_as_protobuf_through_the_local_registry_reach_the_lake_and_the_feature_store() {
    use pipeline_core::spec::{InputFormat, Registry, RegistrySpec, SchemaType, SchemaVersion};
    let mut options = options("orders", 8_000, 50);
    let mut spec = (*options.spec).clone();
    spec.input = InputFormat::Registry(RegistrySpec {
        schema_type: SchemaType::Protobuf,
        message: Some("shop.v1.Order".into()),
        registry: Registry::Glue {
            registry: "shop".into(),
            schema: "orders".into(),
        },
        version: SchemaVersion::Latest,
    });
    options.spec = Arc::new(spec);
    options.out_dir = options.out_dir.with_extension("protobuf");
    let summary = check(&options);
    let dead = std::fs::read_to_string(&summary.dead_letters_file).unwrap();
    std::fs::remove_dir_all(&options.out_dir).unwrap();
    assert!(!dead.is_empty(), "the broken orders are dead letters");
    for line in dead.lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let version = value["schema_version"].as_str().unwrap_or_default();
        assert_eq!(version.len(), 36, "a Glue version id: {line}");
    }
    assert!(summary.stats.filtered > 100, "{}", summary.stats.filtered);
}

#[test]
fn orders_are_aggregated_by_country_and_channel_without_the_cancelled() {
    let summary = check_and_clean(&options("orders", 8_000, 50));
    assert!(summary.stats.filtered > 100, "{}", summary.stats.filtered);
}

#[test]
fn sensor_readings_slide_and_leave_out_flat_batteries() {
    let summary = check_and_clean(&options("sensor-readings", 8_000, 50));
    assert!(summary.stats.filtered > 0, "{}", summary.stats.filtered);
}

#[test]
fn page_views_make_sessions_per_user() {
    let mut options = options("page-views", 20_000, 100);
    // Fewer users than the spec declares, so that users come back within and after the gap.
    options.generator.keys = Some(2_000);
    let summary = check(&options);
    assert!(
        summary.stats.filtered > 0,
        "health-check views are left out"
    );
    let aggregates = std::fs::read_to_string(&summary.aggregates_file).unwrap();
    std::fs::remove_dir_all(&options.out_dir).unwrap();
    // Sessions: as long as their views are apart plus the gap, and a user has several.
    let mut sessions: BTreeMap<String, Vec<(String, String, u64)>> = BTreeMap::new();
    for line in aggregates.lines() {
        let a: serde_json::Value = serde_json::from_str(line).unwrap();
        sessions
            .entry(a["user_id"].as_str().unwrap().to_owned())
            .or_default()
            .push((
                a["window_start"].as_str().unwrap().to_owned(),
                a["window_end"].as_str().unwrap().to_owned(),
                a["views"].as_u64().unwrap(),
            ));
    }
    assert!(sessions.len() <= 2_000);
    let multi_view = sessions.values().flatten().filter(|s| s.2 > 1).count();
    let users_with_several = sessions.values().filter(|s| s.len() > 1).count();
    assert!(
        multi_view > 100 && users_with_several > 100,
        "{multi_view} {users_with_several}"
    );
    let ms = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .unwrap()
            .timestamp_millis()
    };
    for list in sessions.values() {
        let mut list = list.clone();
        list.sort();
        for (start, end, _) in &list {
            let length = ms(end) - ms(start);
            assert!((1..=3_600_000).contains(&length), "{start} {end}");
        }
        // A user's sessions do not overlap.
        for pair in list.windows(2) {
            assert!(ms(&pair[0].1) <= ms(&pair[1].0), "{pair:?}");
        }
    }
}

/// Runs `options` and checks what any spec's run must show; returns the summary for the
/// spec's own checks.
fn check(options: &LocalOptions) -> LocalSummary {
    let spec = &options.spec;
    let events = options.events;
    let summary = run(options).unwrap();
    assert_eq!(summary.produced, events);
    assert_eq!(summary.stats.records_in, events);

    let aggregates = std::fs::read_to_string(&summary.aggregates_file).unwrap();
    let aggregates: Vec<serde_json::Value> = aggregates
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let windows = aggregates.len();
    assert!(windows > 0, "{}: no aggregates", spec.name);
    // Every event is counted once per window it belongs to: `size / slide` windows, as no
    // event is late (the disorder is within the allowed lateness).
    let count = spec
        .aggregates
        .iter()
        .find(|a| a.function == AggregateFn::Count && a.field.is_none())
        .unwrap();
    let counted: u64 = aggregates
        .iter()
        .map(|a| a[&count.name].as_u64().unwrap())
        .sum();
    let per_event = (spec.window.size_ms / spec.window.slide_ms) as u64;
    let dead_letters = std::fs::read_to_string(&summary.dead_letters_file).unwrap();
    let dead = dead_letters.lines().count() as u64;
    assert_eq!(dead, summary.stats.dead_letters_total());
    assert_eq!(
        counted / per_event + summary.stats.filtered + dead,
        events,
        "{}: in = aggregated + filtered + dead-lettered",
        spec.name
    );
    assert_eq!(counted % per_event, 0);
    assert!(
        dead > events / 100,
        "{}: about 2 % broken: {dead}",
        spec.name
    );
    for line in dead_letters.lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(
            value["reason"].is_string()
                && value["detail"].is_string()
                && value["source_topic"].is_string()
                && value["source_partition"].is_i64()
                && value["source_offset"].is_i64(),
            "{line}"
        );
    }

    // The lake holds every aggregate once, in Parquet files under their event date, with the
    // spec's columns.
    let columns: Vec<String> = spec.output_columns().into_iter().map(|c| c.name).collect();
    let mut lake_rows = 0;
    for file in &summary.lake.files {
        assert!(
            file.starts_with(options.out_dir.join("lake/aggregates")),
            "{}",
            file.display()
        );
        let reader =
            parquet::file::reader::SerializedFileReader::new(std::fs::File::open(file).unwrap())
                .unwrap();
        let metadata = parquet::file::reader::FileReader::metadata(&reader).file_metadata();
        let names: Vec<String> = metadata
            .schema_descr()
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        assert_eq!(names, columns, "{}", file.display());
        lake_rows += metadata.num_rows();
    }
    assert_eq!(lake_rows as usize, windows);
    assert_eq!(summary.lake.rows as usize, windows);
    assert!(summary.lake.files.len() > 1, "rolled by size");
    assert_eq!(summary.lake.errors, 0);

    // The feature store: one online record per key (the record identifier), every aggregate
    // offline, and online each key's latest window.
    let identifier = spec.record_identifier();
    let mut latest = BTreeMap::<String, String>::new();
    for value in &aggregates {
        let end = value["window_end"].as_str().unwrap().to_owned();
        let key = value[identifier].as_str().unwrap().to_owned();
        let entry = latest.entry(key).or_default();
        if end > *entry {
            *entry = end;
        }
    }
    let keys: BTreeSet<&String> = latest.keys().collect();
    assert!(keys.len() > 1, "{}: {keys:?}", spec.name);
    assert_eq!(summary.feature_store.online as usize, latest.len());
    assert_eq!(summary.feature_store.offline as usize, windows);
    let store = pipeline_local::SqliteFeatureStore::open(
        &summary.feature_store_file,
        spec,
        processor::local::LOCAL_FEATURE_GROUP,
    )
    .unwrap();
    let identifiers: Vec<String> = latest.keys().cloned().collect();
    let online = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(pipeline_core::store::FeatureStore::get_records(
            &store,
            processor::local::LOCAL_FEATURE_GROUP,
            &identifiers,
        ))
        .unwrap();
    assert_eq!(online.len(), latest.len());
    for (key, record) in online {
        assert_eq!(
            record.get("window_end"),
            Some(latest[&key].as_str()),
            "{key}"
        );
    }

    let text = render_summary(&summary);
    assert!(
        text.contains(&format!("processed {events} events")),
        "{text}"
    );
    assert!(text.contains(&summary.aggregates_file.display().to_string()));
    assert!(
        text.contains("read_parquet(") && text.contains("sqlite3 ") && text.contains(identifier),
        "{text}"
    );
    summary
}

/// [`check`], then the output folder removed.
fn check_and_clean(options: &LocalOptions) -> LocalSummary {
    let summary = check(options);
    std::fs::remove_dir_all(&options.out_dir).unwrap();
    summary
}
