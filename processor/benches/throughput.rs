//! End-to-end processor throughput against a bare rdkafka consumer draining the same topic on
//! the same broker, side by side in one run; a soak run that reports the processor process's
//! memory at a steady input rate; latency from a window's end to its aggregate; and memory by
//! the number of open keys.
//!
//! ```text
//! cargo bench -p processor --bench throughput                      # embedded broker
//! BENCH_BROKERS=127.0.0.1:9092 cargo bench -p processor --bench throughput -- --no-transactions
//!                                                   # a broker without transactions, e.g. tansu
//! cargo bench -p processor --bench throughput -- soak 600 2000     # 10 min at 2,000 ticks/s
//! cargo bench -p processor --bench throughput -- latency 200 2000 200   # window end to readable
//! cargo bench -p processor --bench throughput -- keys 100 10000 100000  # peak RSS by open keys
//! ```
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it does one small round and one
//! open-keys run of 1,000, as a smoke test.

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

fn generator_config() -> GeneratorConfig {
    GeneratorConfig {
        tickers: DEFAULT_TICKERS.map(String::from).to_vec(),
        seed: 7,
        malformed_share: 0.01,
        disorder_share: 0.05,
        max_disorder_ms: 5_000,
    }
}

fn generator() -> TickGenerator {
    TickGenerator::new(generator_config())
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

/// `processor run` (exactly-once) in `group`, reporting metrics every `interval` seconds to
/// `stdout`.
fn spawn_processor(
    settings: &KafkaSettings,
    group: &str,
    interval: u64,
    stdout: Stdio,
) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_processor"))
        .args(["run", "--brokers", &settings.brokers, "--group", group])
        .args(["--health-addr", "127.0.0.1:0"])
        .args(["--metrics-interval-secs", &interval.to_string()])
        .env("RUST_LOG", "warn")
        .stdout(stdout)
        .stdin(Stdio::null())
        .spawn()
        .unwrap()
}

/// An embedded broker with the spec's topics, `partitions` each (one for the DLQ).
fn embedded(partitions: i32) -> (EmbeddedKafka, KafkaSettings) {
    let embedded = EmbeddedKafka::start(1).unwrap();
    for topic in ["ticks", "aggregates"] {
        embedded.create_topic(topic, partitions).unwrap();
    }
    embedded.create_topic("ticks.dlq", 1).unwrap();
    let settings = KafkaSettings::local(embedded.bootstrap_servers());
    (embedded, settings)
}

/// Peak RSS of `processor run` holding `keys` windows open: one tick for each of `keys`
/// tickers, all in one minute, so that no window closes; measured once it has taken them all in.
fn open_keys(keys: u64) -> (u64, u64) {
    let (_broker, settings) = embedded(12);
    let producer: ThreadedProducer<DefaultProducerContext> = settings
        .producer_config()
        .unwrap()
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .unwrap();
    let minute = chrono::Utc::now().timestamp_millis() / 60_000 * 60_000;
    for i in 0..keys {
        let ticker = format!("K{i:07}");
        let t = minute + (i % 50_000) as i64;
        let payload = format!(
            r#"{{"event_id":"e{i}","ticker":"{ticker}","price":101.25,"volume":10,"event_time":{t}}}"#
        );
        let mut record = BaseRecord::to("ticks")
            .key(&ticker)
            .payload(&payload)
            .timestamp(t);
        while let Err((_, back)) = producer.send(record) {
            record = back;
            producer.poll(Duration::from_millis(5));
        }
    }
    producer.flush(Duration::from_secs(60)).unwrap();
    let mut child = spawn_processor(&settings, "keys", 1, Stdio::piped());
    let lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let mut records_in = 0u64;
    for line in lines {
        let line = line.unwrap();
        let metrics: serde_json::Value = serde_json::from_str(&line).unwrap();
        records_in += metrics["RecordsIn"].as_u64().unwrap_or(0);
        if records_in >= keys {
            break;
        }
    }
    let memory = memory(child.id()).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    memory
}

/// Peak RSS with each number of open keys.
fn keys(counts: &[u64]) {
    println!(
        "{:>10} {:>14} {:>12}",
        "open keys", "peak RSS (MiB)", "RSS (MiB)"
    );
    for &n in counts {
        let (peak, now) = open_keys(n);
        println!(
            "{n:>10} {:>14.1} {:>12.1}",
            peak as f64 / 1024.0,
            now as f64 / 1024.0
        );
    }
}

/// Latency from a window's end to its aggregate being readable (read_committed) on the output
/// topic, with `processor run` (exactly-once) fed `rate` ticks a second over `tickers` tickers
/// at current event times for `seconds`.
fn latency(seconds: u64, rate: u64, tickers: usize) {
    let (_broker, settings) = embedded(PARTITIONS);
    let mut child = spawn_processor(&settings, "latency", 10, Stdio::null());
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = feed(&settings, rate, tickers, Arc::clone(&stop));
    let reader: BaseConsumer = settings
        .client_config()
        .unwrap()
        .set("group.id", "latency-reader")
        .set("isolation.level", "read_committed")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    reader.subscribe(&["aggregates"]).unwrap();
    let started = Instant::now();
    let mut lags = Vec::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        if let Some(Ok(m)) = reader.poll(Duration::from_millis(100)) {
            let now = chrono::Utc::now().timestamp_millis();
            // An aggregate's timestamp is its window's end.
            if let Some(end) = m.timestamp().to_millis() {
                lags.push(now - end);
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let sent = feeder.join().unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().unwrap();
    lags.sort_unstable();
    let at = |q: f64| lags[((lags.len() - 1) as f64 * q).round() as usize] as f64 / 1_000.0;
    let spec = spec();
    let bound = (spec.window.allowed_lateness_ms + 1_000) as f64 / 1_000.0;
    println!(
        "latency: {seconds} s at {rate} ticks/s over {tickers} tickers ({sent} ticks), {} aggregates",
        lags.len()
    );
    assert!(
        !lags.is_empty(),
        "no window closed: run for longer than {} s",
        60 + bound as u64
    );
    println!(
        "window end to readable: p50 {:.3} s, p99 {:.3} s, max {:.3} s; target p99 <= {bound:.1} s \
         (allowed lateness + 1 s): {}",
        at(0.5),
        at(0.99),
        at(1.0),
        if at(0.99) <= bound { "met" } else { "MISSED" }
    );
}

/// Produces `rate` ticks a second of wall-clock time with current event times over `tickers`
/// tickers until `stop`; returns how many it sent.
fn feed(
    settings: &KafkaSettings,
    rate: u64,
    tickers: usize,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    let settings = settings.clone();
    std::thread::spawn(move || {
        let producer: ThreadedProducer<DefaultProducerContext> =
            settings.producer_config().unwrap().create().unwrap();
        let mut generator = TickGenerator::new(GeneratorConfig {
            tickers: (0..tickers).map(|i| format!("T{i:04}")).collect(),
            ..generator_config()
        });
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
}

/// `processor run` (exactly-once) against the embedded broker while ticks arrive at `rate` a
/// second of wall-clock time with current event times, for `seconds`.
fn soak(seconds: u64, rate: u64) {
    let (_broker, settings) = embedded(PARTITIONS);
    let mut child = spawn_processor(&settings, "soak", 10, Stdio::null());
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = feed(&settings, rate, DEFAULT_TICKERS.len(), Arc::clone(&stop));
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
        [mode, seconds, rate, tickers] if mode.as_str() == "latency" => {
            latency(
                seconds.parse().unwrap(),
                rate.parse().unwrap(),
                tickers.parse().unwrap(),
            );
        }
        [mode, counts @ ..] if mode.as_str() == "keys" => {
            let counts: Vec<u64> = counts.iter().map(|c| c.parse().unwrap()).collect();
            keys(if counts.is_empty() {
                &[100, 10_000, 100_000]
            } else {
                &counts
            });
        }
        [] if !full => {
            throughput(full, transactions, partitions);
            keys(&[1_000]);
        }
        [] => throughput(full, transactions, partitions),
        _ => panic!(
            "usage: throughput [--no-transactions] [--partitions N] [soak SECONDS RATE | latency SECONDS RATE TICKERS | keys [N...]]"
        ),
    }
}
