//! The producer Lambda's code path to the broker: `handle` (generate a minute of events, publish
//! them with the idempotent `Publisher`, wait for every delivery) as one invocation does it,
//! next to generating alone, side by side in one run.
//!
//! ```text
//! cargo bench -p producer --bench produce                                  # embedded broker
//! BENCH_BROKERS=127.0.0.1:9092 cargo bench -p producer --bench produce     # a broker with `ticks`
//! ```
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it does one small round.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use pipeline_aws::{BrokerSource, KafkaEndpoint};
use pipeline_kafka::{EmbeddedKafka, KafkaSettings, Publisher};
use producer::{Config, generate, handle};

fn config(brokers: &str, count: u32) -> Config {
    Config {
        kafka: KafkaEndpoint {
            brokers: BrokerSource::Given(brokers.into()),
            msk_iam: false,
            region: String::new(),
        },
        spec: std::sync::Arc::new(
            pipeline_core::Spec::from_toml(pipeline_core::STOCK_TICKS_SPEC, "stock-ticks").unwrap(),
        ),
        topic: "ticks".into(),
        keys: None,
        events_per_invocation: count,
        malformed_share: 0.01,
        delivery_timeout_secs: 60,
        seed: Some(3),
        registry_url: None,
        glue_zlib: false,
        glue_registry: None,
    }
}

fn median(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (
        values[values.len() / 2],
        values[0],
        values[values.len() - 1],
    )
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (count, rounds) = if full { (60_000, 5) } else { (2_000, 1) };
    let embedded;
    let (brokers, broker) = match std::env::var("BENCH_BROKERS") {
        Ok(brokers) => (brokers.clone(), brokers),
        Err(_) => {
            embedded = EmbeddedKafka::start(1).unwrap();
            embedded.create_topic("ticks", 3).unwrap();
            (
                embedded.bootstrap_servers(),
                "embedded (librdkafka mock cluster)".to_owned(),
            )
        }
    };
    let config = config(&brokers, count);
    let settings = KafkaSettings::local(brokers);
    let mut publisher = Publisher::new(&settings, None, Duration::from_secs(60)).unwrap();
    let mut generator = config.generator(Utc::now());
    let (mut generate_rates, mut handle_rates) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // Invocations one simulated minute apart, as the schedule makes them.
        let scheduled = DateTime::from_timestamp_millis(
            Utc::now().timestamp_millis() + i64::from(round) * 60_000,
        )
        .unwrap();
        let started = Instant::now();
        let (records, _) = generate(&mut generator, count, scheduled);
        let generated = started.elapsed();
        std::hint::black_box(records);
        let started = Instant::now();
        let summary = handle(&config, &mut generator, &mut publisher, scheduled).unwrap();
        let handled = started.elapsed();
        assert_eq!(summary.sent, u64::from(count));
        generate_rates.push(f64::from(count) / generated.as_secs_f64());
        handle_rates.push(f64::from(count) / handled.as_secs_f64());
        println!(
            "round {round}: generate {:>10.0} ticks/s, invocation (generate + publish + wait) {:>10.0} ticks/s",
            generate_rates[round as usize], handle_rates[round as usize]
        );
    }
    let (g, g_min, g_max) = median(generate_rates);
    let (h, h_min, h_max) = median(handle_rates);
    println!(
        "\nbroker: {broker}; {count} ticks an invocation; {rounds} round(s), median (min–max):"
    );
    println!("generate only              {g:>10.0} ticks/s ({g_min:.0}–{g_max:.0})");
    println!(
        "invocation, to the broker  {h:>10.0} ticks/s ({h_min:.0}–{h_max:.0})  {:.2}x generate",
        h / g
    );
}
