//! End-to-end processor throughput against a bare rdkafka consumer draining the same topic on
//! the same broker, side by side in one run; and a soak run that reports the processor
//! process's memory at a steady input rate.
//!
//! ```text
//! cargo bench -p processor --bench throughput                      # embedded broker
//! BENCH_BROKERS=127.0.0.1:9092 cargo bench -p processor --bench throughput -- --no-transactions
//!                                                   # a broker without transactions, e.g. tansu
//! cargo bench -p processor --bench throughput -- soak 600 2000     # 10 min at 2,000 ticks/s
//! ```
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it does one small round, as a smoke
//! test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pipeline_core::generator::{DEFAULT_TICKERS, GeneratorConfig, TickGenerator};
use pipeline_core::{STOCK_TICKS_SPEC, Spec};
use pipeline_kafka::{EmbeddedKafka, KafkaSettings};
use processor::{Delivery, Engine, EngineConfig};
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

/// Partitions of the input and output topics unless `--partitions N` says otherwise.
const PARTITIONS: i32 = 3;

fn spec() -> Arc<Spec> {
    Arc::new(Spec::from_toml(STOCK_TICKS_SPEC, "built-in").unwrap())
}

fn generator() -> TickGenerator {
    TickGenerator::new(GeneratorConfig {
        tickers: DEFAULT_TICKERS.map(String::from).to_vec(),
        seed: 7,
        malformed_share: 0.01,
        disorder_share: 0.05,
        max_disorder_ms: 5_000,
    })
}

/// Produces `n` ticks, one simulated millisecond apart, ending now.
fn produce(settings: &KafkaSettings, n: u64) {
    let producer: ThreadedProducer<DefaultProducerContext> = settings
        .producer_config()
        .unwrap()
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .unwrap();
    let mut generator = generator();
    let mut payload = Vec::new();
    let start = chrono::Utc::now().timestamp_millis() - n as i64;
    for i in 0..n {
        let t = start + i as i64;
        let generated = generator.next_into(t, &mut payload);
        let key = generator.tickers()[generated.ticker].clone();
        let mut record = BaseRecord::to("ticks")
            .key(&key)
            .payload(&payload)
            .timestamp(t);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(5));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(120)).unwrap();
}

/// Records per second from the start of the poll (bare consumer) or batch (processor) that
/// brought the first record, to the last record. Joining the group and the broker's first
/// fetch (on the embedded broker sometimes a 500 ms `fetch.wait.max.ms`, on either side) are
/// not counted.
struct Rate {
    records: u64,
    elapsed: Duration,
}

impl Rate {
    fn per_second(&self) -> f64 {
        self.records as f64 / self.elapsed.as_secs_f64()
    }
}

fn bare_consumer(settings: &KafkaSettings, group: &str, n: u64) -> Rate {
    let consumer: BaseConsumer = settings
        .client_config()
        .unwrap()
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .set("partition.assignment.strategy", "cooperative-sticky")
        .create()
        .unwrap();
    consumer.subscribe(&["ticks"]).unwrap();
    let mut seen = 0u64;
    let mut bytes = 0usize;
    let mut last_seen = Instant::now();
    let mut first: Option<Instant> = None;
    while seen < n {
        let polled_at = Instant::now();
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) {
            first.get_or_insert(polled_at);
            bytes += message.payload().map_or(0, <[u8]>::len);
            seen += 1;
            last_seen = Instant::now();
        }
        assert!(
            last_seen.elapsed() < Duration::from_secs(30),
            "the bare consumer stalled at {seen} of {n} records: the broker lost some"
        );
    }
    std::hint::black_box(bytes);
    Rate {
        records: seen,
        elapsed: first.unwrap().elapsed(),
    }
}

fn processor(settings: &KafkaSettings, group: &str, n: u64, delivery: Delivery) -> Rate {
    let config = EngineConfig::new(group, delivery);
    let mut engine = Engine::start(spec(), settings, None, config).unwrap();
    let mut first: Option<Instant> = None;
    while engine.stats().records_in < n {
        let started = Instant::now();
        if engine.run_batch().unwrap() > 0 {
            first.get_or_insert(started);
        }
    }
    Rate {
        records: engine.stats().records_in,
        elapsed: first.unwrap().elapsed(),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn throughput(full: bool, transactions: bool, partitions: i32) {
    let embedded;
    let (settings, broker) = match std::env::var("BENCH_BROKERS") {
        Ok(brokers) => {
            let settings = KafkaSettings::local(brokers.clone());
            processor::local::create_topics(&settings, &spec(), partitions).unwrap();
            (settings, brokers)
        }
        Err(_) => {
            embedded = EmbeddedKafka::start(1).unwrap();
            for topic in ["ticks", "aggregates"] {
                embedded.create_topic(topic, partitions).unwrap();
            }
            embedded.create_topic("ticks.dlq", 1).unwrap();
            let settings = KafkaSettings::local(embedded.bootstrap_servers());
            (settings, "embedded (librdkafka mock cluster)".to_owned())
        }
    };
    // The embedded broker keeps about 5 MB a partition and loses records past it (60,000 stalled
    // the bare consumer): stay well under it there.
    let (n, rounds) = match (full, std::env::var_os("BENCH_BROKERS")) {
        (false, _) => (3_000, 1),
        (true, Some(_)) => (60_000, 3),
        (true, None) => (30_000, 3),
    };
    produce(&settings, n);
    let mut modes = vec![
        ("bare consumer", None),
        ("processor, at-least-once", Some(Delivery::AtLeastOnce)),
    ];
    if transactions {
        modes.push(("processor, exactly-once", Some(Delivery::ExactlyOnce)));
    }
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    for round in 0..rounds {
        for (i, (name, delivery)) in modes.iter().enumerate() {
            let group = format!("bench-{round}-{i}");
            let rate = match delivery {
                None => bare_consumer(&settings, &group, n),
                Some(d) => processor(&settings, &group, n, *d),
            };
            println!(
                "round {round}: {name:<26} {:>10.0} records/s",
                rate.per_second()
            );
            rates[i].push(rate.per_second());
        }
    }
    println!(
        "\nbroker: {broker}; {n} ticks on {partitions} partition(s); {rounds} round(s), median (min–max):"
    );
    let bare = median(rates[0].clone());
    for ((name, _), rates) in modes.iter().zip(rates) {
        let (min, max) = rates
            .iter()
            .fold((f64::MAX, 0f64), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
        let m = median(rates);
        println!(
            "{name:<26} {m:>10.0} records/s ({min:.0}–{max:.0})  {:.2}x bare",
            m / bare
        );
    }
}

/// Peak and current resident memory of a process, in KiB, from /proc.
fn memory(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

/// `processor run` (exactly-once) against the embedded broker while ticks arrive at `rate` a
/// second of wall-clock time with current event times, for `seconds`.
fn soak(seconds: u64, rate: u64) {
    let embedded = EmbeddedKafka::start(1).unwrap();
    for (topic, partitions) in [("ticks", PARTITIONS), ("aggregates", PARTITIONS)] {
        embedded.create_topic(topic, partitions).unwrap();
    }
    embedded.create_topic("ticks.dlq", 1).unwrap();
    let settings = KafkaSettings::local(embedded.bootstrap_servers());
    let mut child = Command::new(env!("CARGO_BIN_EXE_processor"))
        .args([
            "run",
            "--brokers",
            &settings.brokers,
            "--group",
            "soak",
            "--health-addr",
            "127.0.0.1:0",
            "--metrics-interval-secs",
            "10",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = {
        let stop = Arc::clone(&stop);
        let settings = settings.clone();
        std::thread::spawn(move || {
            let producer: ThreadedProducer<DefaultProducerContext> =
                settings.producer_config().unwrap().create().unwrap();
            let mut generator = generator();
            let mut payload = Vec::new();
            let started = Instant::now();
            let mut sent = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let due = started.elapsed().as_millis() as u64 * rate / 1_000;
                while sent < due {
                    let t = chrono::Utc::now().timestamp_millis();
                    let generated = generator.next_into(t, &mut payload);
                    let key = generator.tickers()[generated.ticker].clone();
                    let record = BaseRecord::to("ticks")
                        .key(&key)
                        .payload(&payload)
                        .timestamp(t);
                    if producer.send(record).is_ok() {
                        sent += 1;
                    }
                }
                // Pacing the feed to wall-clock time.
                std::thread::sleep(Duration::from_millis(5));
            }
            producer.flush(Duration::from_secs(30)).unwrap();
            sent
        })
    };
    let started = Instant::now();
    let mut samples = Vec::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_secs(5));
        if let Some((peak, now)) = memory(child.id()) {
            samples.push((started.elapsed().as_secs(), peak, now));
        }
    }
    stop.store(true, Ordering::Relaxed);
    let sent = feeder.join().unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    println!("soak: {seconds} s at {rate} ticks/s ({sent} ticks), processor exit {status}");
    println!("{:>6} {:>12} {:>12}", "t (s)", "RSS (MiB)", "peak (MiB)");
    let step = (samples.len() / 12).max(1);
    for (t, peak, now) in samples.iter().step_by(step).chain(samples.last()) {
        println!(
            "{t:>6} {:>12.1} {:>12.1}",
            *now as f64 / 1024.0,
            *peak as f64 / 1024.0
        );
    }
    if let (Some(first_minute), Some(last)) =
        (samples.iter().find(|(t, _, _)| *t >= 60), samples.last())
    {
        println!(
            "RSS after 1 min {:.1} MiB, at the end {:.1} MiB ({:.2}x); peak {:.1} MiB",
            first_minute.2 as f64 / 1024.0,
            last.2 as f64 / 1024.0,
            last.2 as f64 / first_minute.2 as f64,
            last.1 as f64 / 1024.0
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--bench");
    let transactions = !args.iter().any(|a| a == "--no-transactions");
    let partitions = args
        .iter()
        .position(|a| a == "--partitions")
        .map_or(PARTITIONS, |i| args[i + 1].parse().expect("--partitions N"));
    let free: Vec<&String> = args
        .iter()
        .enumerate()
        .filter(|(i, a)| !a.starts_with("--") && (*i == 0 || args[i - 1] != "--partitions"))
        .map(|(_, a)| a)
        .collect();
    match free.as_slice() {
        [mode, seconds, rate] if mode.as_str() == "soak" => {
            soak(seconds.parse().unwrap(), rate.parse().unwrap());
        }
        [] => throughput(full, transactions, partitions),
        _ => panic!("usage: throughput [--no-transactions] [--partitions N] [soak SECONDS RATE]"),
    }
}
