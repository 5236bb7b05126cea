//! The local lake's cost, side by side with the cheapest way to keep the same aggregates on
//! disk (appending their JSON lines to a file), and the local feature store's per-record cost.
//!
//! ```sh
//! cargo bench -p pipeline-local --bench lake            # 100,000 aggregates, 5 rounds
//! cargo bench -p pipeline-local --bench lake -- 20000 3
//! ```
//! Under `cargo test` (no `--bench`), a small smoke run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::time::Instant;

use pipeline_core::features::record_from_aggregate;
use pipeline_core::generator::{EventGenerator, GeneratorConfig};
use pipeline_core::store::FeatureStore as _;
use pipeline_core::{Partition, Record, STOCK_TICKS_SPEC, Spec};
use pipeline_local::{LakeConfig, ParquetLake, SqliteFeatureStore};

/// Real aggregates: 1,000 keys, one event each every 0.5 s of event time, through the core.
fn aggregates(spec: &Spec, count: usize) -> Vec<String> {
    let mut generator = EventGenerator::new(
        spec,
        GeneratorConfig {
            keys: Some(1_000),
            malformed_share: 0.0,
            disorder_share: 0.0,
            ..GeneratorConfig::default()
        },
    );
    let mut partition = Partition::new(spec);
    let (mut closed, mut payload) = (Vec::new(), Vec::new());
    let mut t = 1_795_271_400_000;
    let mut offset = 0;
    while closed.len() < count {
        for _ in 0..1_000 {
            generator.next_into(t, &mut payload);
            partition.process(
                Record {
                    offset,
                    timestamp_ms: t,
                    payload: Some(&payload),
                },
                &mut closed,
            );
            offset += 1;
        }
        t += 500;
    }
    closed.truncate(count);
    closed.iter().map(|a| a.to_json(spec)).collect()
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let benching = std::env::args().any(|a| a == "--bench");
    let count: usize = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(if benching { 100_000 } else { 2_000 });
    let rounds: usize = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(if benching { 5 } else { 1 });
    let spec = Spec::from_toml(STOCK_TICKS_SPEC, "built-in").unwrap();
    let aggregates = aggregates(&spec, count);
    let bytes: usize = aggregates.iter().map(String::len).sum();
    let dir = std::env::temp_dir().join(format!("lake-bench-{}", std::process::id()));

    let (mut jsonl, mut parquet, mut store) = (Vec::new(), Vec::new(), Vec::new());
    let mut on_disk = (0, 0);
    for round in 0..rounds {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();

        let started = Instant::now();
        let mut file = std::io::BufWriter::new(std::fs::File::create(dir.join("a.jsonl")).unwrap());
        for json in &aggregates {
            writeln!(file, "{json}").unwrap();
        }
        file.into_inner().unwrap().sync_all().unwrap();
        jsonl.push(count as f64 / started.elapsed().as_secs_f64());

        let started = Instant::now();
        let mut lake = ParquetLake::new(&spec, LakeConfig::new(dir.join("lake")));
        let now = Instant::now();
        for json in &aggregates {
            lake.push(json.as_bytes(), now).unwrap();
        }
        let report = lake.finish().unwrap();
        parquet.push(count as f64 / started.elapsed().as_secs_f64());
        assert_eq!(report.rows as usize, count);
        on_disk = (
            std::fs::metadata(dir.join("a.jsonl")).unwrap().len(),
            report
                .files
                .iter()
                .map(|f| std::fs::metadata(f).unwrap().len())
                .sum(),
        );

        // The feature store is fed one record at a time, as the feature-writer's PutRecord is.
        let records: Vec<_> = aggregates
            .iter()
            .take(count / 10)
            .map(|json| record_from_aggregate(&spec, json.as_bytes()).unwrap())
            .collect();
        let sqlite =
            SqliteFeatureStore::open(&dir.join("features.sqlite"), &spec, "bench").unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let started = Instant::now();
        for record in &records {
            runtime
                .block_on(sqlite.put_record("bench", record))
                .unwrap();
        }
        store.push(records.len() as f64 / started.elapsed().as_secs_f64());
        eprintln!("round {} done", round + 1);
    }
    let _ = std::fs::remove_dir_all(&dir);

    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[0], v[v.len() - 1])
    };
    let ratios: Vec<f64> = parquet.iter().zip(&jsonl).map(|(p, j)| p / j).collect();
    let (j, jmin, jmax) = median(&mut jsonl);
    let (p, pmin, pmax) = median(&mut parquet);
    let (s, smin, smax) = median(&mut store);
    let (r, rmin, rmax) = median(&mut ratios.clone());
    println!(
        "{count} aggregates ({:.1} MiB of JSON), {rounds} rounds, medians (min–max)",
        bytes as f64 / 1_048_576.0
    );
    println!("  JSON lines to a file      {j:>12.0} aggregates/s ({jmin:.0}–{jmax:.0})");
    println!(
        "  Parquet lake              {p:>12.0} aggregates/s ({pmin:.0}–{pmax:.0}), {r:.2}× JSON lines ({rmin:.2}–{rmax:.2})"
    );
    println!(
        "  feature store (SQLite)    {s:>12.0} records/s ({smin:.0}–{smax:.0}), one upsert + one insert each"
    );
    println!(
        "  on disk: JSON lines {:.1} MiB, Parquet {:.1} MiB ({:.2}×)",
        on_disk.0 as f64 / 1_048_576.0,
        on_disk.1 as f64 / 1_048_576.0,
        on_disk.1 as f64 / on_disk.0 as f64
    );
}
