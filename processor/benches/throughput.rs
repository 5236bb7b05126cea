//! End-to-end processor throughput against a bare rdkafka consumer draining the same topic on
//! the same broker, side by side in one run; a soak run that reports the processor process's
//! memory at a steady input rate; latency from a window's end to its aggregate; and memory by
//! the number of open keys.
//!
//! ```text
//! cargo bench -p processor --bench throughput                      # embedded broker
//! BENCH_BROKERS=127.0.0.1:9092 cargo bench -p processor --bench throughput -- --no-transactions
//!                                                   # a broker without transactions, e.g. tansu
//! cargo bench -p processor --bench throughput -- soak 1800 2000 --out docs/soak
//!                                   # 30 min at 2,000 ticks/s: samples, plot, pass/fail
//! cargo bench -p processor --bench throughput -- latency 200 2000 200   # window end to readable
//! cargo bench -p processor --bench throughput -- keys 100 10000 100000  # peak RSS by open keys
//! cargo bench -p processor --bench throughput -- local 5        # the default local run against
//!                                                   # the engine on the embedded broker
//! cargo bench -p processor --bench throughput -- budget 100000     # peak RSS with window.max_keys,
//!                                                   # offered the budget and 10× it in keys
//! ```
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it does one small round and one
//! open-keys run of 1,000, as a smoke test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pipeline_core::generator::{DEFAULT_KEYS, EventGenerator, GeneratorConfig};
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
        keys: None,
        seed: 7,
        malformed_share: 0.01,
        disorder_share: 0.05,
        max_disorder_ms: 5_000,
    }
}

fn generator() -> EventGenerator {
    EventGenerator::new(&spec(), generator_config())
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
        let mut record = BaseRecord::to("ticks")
            .key(generator.key(generated.key))
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
/// brought the first record, to the last record (the `n`th, or the end of the batch holding
/// it). Joining the group and the broker's first
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

/// `median records/s (min–max)` of some rates.
fn spread(rates: &[f64]) -> String {
    let (min, max) = rates
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
    format!(
        "{:>10.0} records/s ({min:.0}–{max:.0})",
        median(rates.to_vec())
    )
}

/// The broker named by `BENCH_BROKERS` (with the spec's topics created), else an embedded one:
/// the settings, the broker's description, and the embedded broker to keep alive.
fn broker(partitions: i32) -> (KafkaSettings, String, Option<EmbeddedKafka>) {
    match std::env::var("BENCH_BROKERS") {
        Ok(brokers) => {
            let settings = KafkaSettings::local(brokers.clone());
            processor::local::create_topics(&settings, &spec(), partitions).unwrap();
            (settings, brokers, None)
        }
        Err(_) => {
            let (embedded, settings) = embedded(partitions);
            let name = "embedded (librdkafka mock cluster)".to_owned();
            (settings, name, Some(embedded))
        }
    }
}

fn throughput(full: bool, transactions: bool, partitions: i32) {
    let (settings, broker, _embedded) = broker(partitions);
    // The embedded broker keeps about 5 MB a partition and loses records past it (60,000 stalled
    // the bare consumer): stay well under it there.
    let (n, rounds) = match (full, std::env::var_os("BENCH_BROKERS")) {
        (false, _) => (3_000, 1),
        (true, Some(_)) => (60_000, 3),
        (true, None) => (24_000, 3),
    };
    // Both sides are timed over the first `n` records of `n` + 25 %: a steady state, with
    // records still to come. At the end of a finite input the processor's last batch would
    // wait out its batch timeout (100 ms) for records that never come, which is not throughput.
    produce(&settings, n + n / 4);
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
        println!(
            "{name:<26} {}  {:.2}x bare",
            spread(&rates),
            median(rates) / bare
        );
    }
}

/// The default `processor local` run (generator, embedded broker, processor, lake, feature
/// store and files, start-up included) against the engine's own rate on the embedded broker
/// (exactly-once, as [`throughput`] measures it), alternating, `rounds` of each.
fn local_run(rounds: usize) {
    let out = std::path::PathBuf::from("target/bench/local");
    let mut engine_rates = Vec::new();
    let mut local_rates = Vec::new();
    for round in 0..rounds {
        let (_embedded, settings) = embedded(PARTITIONS);
        let n = 24_000;
        produce(&settings, n + n / 4);
        let engine = processor(
            &settings,
            &format!("local-bench-{round}"),
            n,
            Delivery::ExactlyOnce,
        );
        drop(_embedded);
        let summary = processor::local::run(&processor::local::LocalOptions::defaults(
            spec(),
            out.clone(),
        ))
        .unwrap();
        assert_eq!(
            summary.stats.records_in, summary.produced,
            "the local run lost events"
        );
        let local = summary.produced as f64 / summary.elapsed.as_secs_f64();
        println!(
            "round {round}: engine on the embedded broker {:>9.0} records/s, default local run \
             {} events in {:.2} s: {local:>9.0} events/s",
            engine.per_second(),
            summary.produced,
            summary.elapsed.as_secs_f64()
        );
        engine_rates.push(engine.per_second());
        local_rates.push(local);
    }
    std::fs::remove_dir_all(&out).ok();
    println!("\n{rounds} round(s), median (min–max):");
    println!(
        "engine, embedded broker, exactly-once {}",
        spread(&engine_rates)
    );
    println!(
        "default local run, start-up included  {}  {:.2}x the engine",
        spread(&local_rates),
        median(local_rates.clone()) / median(engine_rates.clone())
    );
}

/// Throughput of `instances` processors (at-least-once, one thread each) in one group sharing
/// `partitions`: all join the group first, then `n` + 25 % ticks are produced, then the
/// instances process until they have taken `n` between them (as in [`throughput`], a steady
/// state); the rate runs from the first record any instance takes to the last.
fn instances_rate(
    settings: &KafkaSettings,
    group: &str,
    instances: usize,
    partitions: i32,
    n: u64,
) -> f64 {
    let mut engines: Vec<Engine> = (0..instances)
        .map(|_| {
            let mut config = EngineConfig::new(group, Delivery::AtLeastOnce);
            // A fetch already waiting when the feed starts would otherwise hold an instance's
            // start back by up to its 500 ms maximum wait, a large part of so short a run.
            config.consumer_overrides = vec![("fetch.wait.max.ms".into(), "10".into())];
            Engine::start(spec(), settings, None, config).unwrap()
        })
        .collect();
    // Polling drives the group join. Before the feed, every instance must hold partitions,
    // all partitions must be held, and what earlier rounds produced must be read (a new group
    // starts from the earliest offset).
    let joined = Instant::now();
    let settled = |engines: &[Engine]| {
        let held: usize = engines.iter().map(|e| e.assigned().len()).sum();
        held == partitions as usize
            && engines.iter().all(|e| {
                !e.assigned().is_empty()
                    && e.lag(Duration::from_secs(5)).values().all(|lag| *lag == 0)
            })
    };
    while !settled(&engines) {
        for engine in &mut engines {
            engine.run_batch().unwrap();
        }
        assert!(
            joined.elapsed() < Duration::from_secs(60),
            "the instances did not all join the group"
        );
    }
    produce(settings, n + n / 4);
    let total = std::sync::atomic::AtomicU64::new(0);
    let spans: Vec<(Instant, Instant)> = std::thread::scope(|scope| {
        let workers: Vec<_> = engines
            .into_iter()
            .map(|mut engine| {
                let total = &total;
                scope.spawn(move || {
                    let (mut first, mut last) = (None, Instant::now());
                    while total.load(Ordering::Relaxed) < n {
                        let started = Instant::now();
                        let taken = engine.run_batch().unwrap() as u64;
                        if taken > 0 {
                            first.get_or_insert(started);
                            last = Instant::now();
                            total.fetch_add(taken, Ordering::Relaxed);
                        }
                    }
                    (first.unwrap_or(last), last)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let first = spans.iter().map(|s| s.0).min().unwrap();
    let last = spans.iter().map(|s| s.1).max().unwrap();
    total.load(Ordering::Relaxed) as f64 / (last - first).as_secs_f64()
}

/// One processor instance against two in one group on the same partitions, side by side.
fn scaling(full: bool, partitions: i32) {
    let (settings, broker, _embedded) = broker(partitions);
    let (n, rounds) = match (full, std::env::var_os("BENCH_BROKERS")) {
        (false, _) => (3_000, 1),
        (true, Some(_)) => (120_000, 3),
        (true, None) => (30_000, 3),
    };
    let mut rates = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        for (i, instances) in [1, 2].into_iter().enumerate() {
            let group = format!("scaling-{round}-{instances}");
            let rate = instances_rate(&settings, &group, instances, partitions, n);
            println!("round {round}: {instances} instance(s) {rate:>10.0} records/s");
            rates[i].push(rate);
        }
    }
    let one = median(rates[0].clone());
    println!("\nbroker: {broker}; {partitions} partition(s); {rounds} round(s), median (min–max):");
    for (instances, rates) in [1, 2].into_iter().zip(rates) {
        println!(
            "{instances} instance(s) in one group {}  {:.2}x one",
            spread(&rates),
            median(rates) / one
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

/// `processor run` in `group` (exactly-once, or at-least-once without `transactions`),
/// reporting metrics every `interval` seconds to `stdout`.
fn spawn_processor(
    settings: &KafkaSettings,
    group: &str,
    interval: u64,
    stdout: Stdio,
    transactions: bool,
) -> std::process::Child {
    spawn_command(settings, group, interval, transactions)
        .stdout(stdout)
        .spawn()
        .unwrap()
}

/// The `processor run` command [`spawn_processor`] starts, to add to.
fn spawn_command(
    settings: &KafkaSettings,
    group: &str,
    interval: u64,
    transactions: bool,
) -> Command {
    let delivery = if transactions {
        "exactly-once"
    } else {
        "at-least-once"
    };
    let mut command = Command::new(env!("CARGO_BIN_EXE_processor"));
    command
        .args(["run", "--brokers", &settings.brokers, "--group", group])
        .args(["--delivery", delivery])
        .args(["--health-addr", "127.0.0.1:0"])
        .args(["--metrics-interval-secs", &interval.to_string()])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    command
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
    let (peak, now, _) = offered_keys(keys, 12, None);
    (peak, now)
}

/// [`open_keys`] on `partitions` partitions, with the spec at `spec` if given (the built-in
/// one otherwise); also returns the events refused as over capacity.
fn offered_keys(keys: u64, partitions: i32, spec: Option<&std::path::Path>) -> (u64, u64, u64) {
    let (_broker, settings) = embedded(partitions);
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
    let mut command = spawn_command(&settings, "keys", 1, true);
    if let Some(spec) = spec {
        command.arg("--spec").arg(spec);
    }
    let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
    let lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let (mut records_in, mut refused) = (0u64, 0u64);
    for line in lines {
        let line = line.unwrap();
        let metrics: serde_json::Value = serde_json::from_str(&line).unwrap();
        records_in += metrics["RecordsIn"].as_u64().unwrap_or(0);
        if metrics["Reason"] == "over_capacity" {
            refused += metrics["DeadLetters"].as_u64().unwrap_or(0);
        }
        if records_in >= keys && metrics["Reason"] == "over_capacity" {
            break;
        }
    }
    let (peak, now) = memory(child.id()).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    (peak, now, refused)
}

/// Peak RSS with a state budget of `budget` keys a window on each of 12 partitions, offered
/// the budget's worth of keys and ten times it, beside the same without a budget. (Twelve
/// partitions: the embedded broker keeps about 5 MB a partition.)
fn budget(budget: u64) {
    let dir = std::env::temp_dir().join(format!("budget-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let spec = dir.join("stock-ticks.toml");
    let text = STOCK_TICKS_SPEC.replace("max_keys = 100000", &format!("max_keys = {budget}"));
    std::fs::write(&spec, text).unwrap();
    let unbounded = dir.join("unbounded.toml");
    std::fs::write(
        &unbounded,
        STOCK_TICKS_SPEC.replace("max_keys = 100000\n", ""),
    )
    .unwrap();
    println!(
        "state budget {budget} keys a window a partition, 12 partitions: {:>12} {:>14} {:>14}",
        "keys offered", "peak RSS (MiB)", "over_capacity"
    );
    let at_budget = budget * 12;
    for (offered, path, label) in [
        (at_budget, &spec, "with the budget"),
        (at_budget * 10, &spec, "with the budget"),
        (at_budget * 10, &unbounded, "without a budget"),
    ] {
        let (peak, _, refused) = offered_keys(offered, 12, Some(path));
        println!(
            "{label:>56}: {offered:>12} {:>14.1} {refused:>14}",
            peak as f64 / 1024.0
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
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
/// topic, with `processor run` (exactly-once, or at-least-once without `transactions`) fed
/// `rate` ticks a second over `tickers` tickers at current event times for `seconds`.
fn latency(seconds: u64, rate: u64, tickers: usize, transactions: bool) {
    let (settings, broker, _embedded) = broker(PARTITIONS);
    let mut child = spawn_processor(&settings, "latency", 10, Stdio::null(), transactions);
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = feed(&settings, rate, tickers, Arc::clone(&stop));
    let reader: BaseConsumer = settings
        .client_config()
        .unwrap()
        .set("group.id", "latency-reader")
        .set("isolation.level", "read_committed")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        // The instrument should not add its own wait: a fetch that found nothing new waits up
        // to 500 ms by default before the broker answers (the embedded broker waits it out).
        .set("fetch.wait.max.ms", "10")
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
        "latency: broker {broker}, {}; {seconds} s at {rate} ticks/s over {tickers} tickers \
         ({sent} ticks), {} aggregates",
        if transactions {
            "exactly-once"
        } else {
            "at-least-once"
        },
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
        let mut generator = EventGenerator::new(
            &spec(),
            GeneratorConfig {
                keys: Some(tickers),
                ..generator_config()
            },
        );
        let mut payload = Vec::new();
        let started = Instant::now();
        let mut sent = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let due = started.elapsed().as_millis() as u64 * rate / 1_000;
            while sent < due {
                let t = chrono::Utc::now().timestamp_millis();
                let generated = generator.next_into(t, &mut payload);
                let record = BaseRecord::to("ticks")
                    .key(generator.key(generated.key))
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

/// One sample of a soak run, taken at each of the processor's 10-second metrics reports.
struct SoakSample {
    /// Seconds since the feed started.
    t: f64,
    rss_mib: f64,
    /// Records taken in per second over the report's interval.
    records_per_s: f64,
    /// The largest partition lag the processor reported (records behind the end).
    lag: f64,
}

/// A ticker no generated tick uses: one such tick per partition, an event time two minutes
/// ahead of the feed's last, moves every partition's watermark past every window the feed
/// opened, so that every fed tick is in a closed window's count at the end. Not counted.
const CLOSING_TICKER: &str = "ZZCLOSE";

/// Counts, read_committed and as they arrive (the embedded broker keeps only a few MB a
/// partition): the ticks counted in aggregates (but the closing ticks) and the dead letters.
fn count_outputs(
    settings: &KafkaSettings,
    expected: Arc<std::sync::atomic::AtomicU64>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(u64, u64)> {
    let settings = settings.clone();
    std::thread::spawn(move || {
        let reader: BaseConsumer = settings
            .client_config()
            .unwrap()
            .set("group.id", "soak-reader")
            .set("isolation.level", "read_committed")
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        reader.subscribe(&["aggregates", "ticks.dlq"]).unwrap();
        let (mut aggregated, mut dead) = (0u64, 0u64);
        let mut last_progress = Instant::now();
        loop {
            if let Some(Ok(m)) = reader.poll(Duration::from_millis(100)) {
                last_progress = Instant::now();
                if m.topic() == "ticks.dlq" {
                    dead += 1;
                } else {
                    let value: serde_json::Value =
                        serde_json::from_slice(m.payload().unwrap()).unwrap();
                    if value["ticker"] != CLOSING_TICKER {
                        aggregated += value["count"].as_u64().unwrap();
                    }
                }
            }
            // Once the feed has stopped: done when everything is accounted for, or when
            // nothing more has come for 30 s (then what is missing was lost).
            if stop.load(Ordering::Relaxed) {
                let expected = expected.load(Ordering::Relaxed);
                if aggregated + dead >= expected
                    || last_progress.elapsed() > Duration::from_secs(30)
                {
                    return (aggregated, dead);
                }
            }
        }
    })
}

/// One valid tick on each partition with an event (and record) time `ahead_ms` past now.
fn close_windows(settings: &KafkaSettings, partitions: i32, ahead_ms: i64) {
    let producer: ThreadedProducer<DefaultProducerContext> =
        settings.producer_config().unwrap().create().unwrap();
    let t = chrono::Utc::now().timestamp_millis() + ahead_ms;
    for p in 0..partitions {
        let payload = format!(
            r#"{{"event_id":"close-{p}","ticker":"{CLOSING_TICKER}","price":1,"volume":1,"event_time":{t}}}"#
        );
        producer
            .send(
                BaseRecord::to("ticks")
                    .key(CLOSING_TICKER)
                    .partition(p)
                    .payload(&payload)
                    .timestamp(t),
            )
            .map_err(|(e, _)| e)
            .unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

/// `processor run` (exactly-once) against the embedded broker while ticks arrive at `rate` a
/// second of wall-clock time with current event times, for `seconds`; samples the processor's
/// RSS, throughput and lag at each of its 10-second metrics reports, then closes every window
/// and counts: every tick fed must be in an aggregate's count or in the DLQ. Writes the samples
/// (CSV) and a plot (SVG) to `out`, and ends with a pass/fail line.
fn soak(seconds: u64, rate: u64, out: &std::path::Path) {
    let (_broker, settings) = embedded(PARTITIONS);
    let mut child = spawn_processor(&settings, "soak", 10, Stdio::piped(), true);
    let pid = child.id();
    let stop = Arc::new(AtomicBool::new(false));
    let expected = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = count_outputs(&settings, Arc::clone(&expected), Arc::clone(&stop));
    let started = Instant::now();
    let samples = Arc::new(std::sync::Mutex::new(Vec::<SoakSample>::new()));
    let lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let sampler = {
        let samples = Arc::clone(&samples);
        std::thread::spawn(move || {
            for line in lines {
                let Ok(metrics) = serde_json::from_str::<serde_json::Value>(&line.unwrap()) else {
                    continue;
                };
                // The `Service` line (the one with RecordsIn) of each report.
                let Some(records_in) = metrics["RecordsIn"].as_u64() else {
                    continue;
                };
                let Some((_, rss)) = memory(pid) else { break };
                samples.lock().unwrap().push(SoakSample {
                    t: started.elapsed().as_secs_f64(),
                    rss_mib: rss as f64 / 1024.0,
                    records_per_s: records_in as f64 / 10.0,
                    lag: metrics["ConsumerLagMax"].as_f64().unwrap_or(0.0),
                });
            }
        })
    };
    let stop_feed = Arc::new(AtomicBool::new(false));
    let feeder = feed(&settings, rate, DEFAULT_KEYS, Arc::clone(&stop_feed));
    std::thread::sleep(Duration::from_secs(seconds));
    stop_feed.store(true, Ordering::Relaxed);
    let sent = feeder.join().unwrap();
    close_windows(&settings, PARTITIONS, 120_000);
    expected.store(sent, Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    let (aggregated, dead) = counter.join().unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let status = child.wait().unwrap();
    sampler.join().unwrap();
    let samples = std::mem::take(&mut *samples.lock().unwrap());

    std::fs::create_dir_all(out).unwrap();
    let mut csv = String::from("t_s,rss_mib,records_per_s,lag_max\n");
    for s in &samples {
        csv += &format!(
            "{:.1},{:.2},{:.1},{}\n",
            s.t, s.rss_mib, s.records_per_s, s.lag
        );
    }
    std::fs::write(out.join("soak.csv"), csv).unwrap();
    let title = format!(
        "processor run, exactly-once, embedded broker: {rate} ticks/s for {} min ({})",
        seconds / 60,
        chrono::Utc::now().format("%Y-%m-%d")
    );
    std::fs::write(out.join("soak.svg"), plot(&title, &samples)).unwrap();

    // Bounded memory: the last third of the run peaks no more than 10 % above the middle
    // third (the first third includes warming up).
    let third = |k: usize| {
        let lo = seconds as f64 * k as f64 / 3.0;
        let hi = seconds as f64 * (k + 1) as f64 / 3.0;
        samples
            .iter()
            .filter(|s| s.t >= lo && s.t < hi)
            .map(|s| s.rss_mib)
            .fold(0f64, f64::max)
    };
    let (middle, last) = (third(1), third(2));
    let bounded = last > 0.0 && last <= middle * 1.10;
    let accounted = aggregated + dead;
    let lost = sent.saturating_sub(accounted);
    let duplicated = accounted.saturating_sub(sent);
    let lag_max = samples.iter().map(|s| s.lag).fold(0f64, f64::max);
    let rate_median = median(samples.iter().map(|s| s.records_per_s).collect());
    println!(
        "soak: {seconds} s at {rate} ticks/s, {} samples, processor exit {status}",
        samples.len()
    );
    println!(
        "in {sent} = aggregated {aggregated} + dead-lettered {dead}; lost {lost}, duplicated {duplicated}"
    );
    println!(
        "RSS peak {middle:.1} MiB in the middle third, {last:.1} MiB in the last; \
         records/s median {rate_median:.0}; lag max {lag_max:.0} records"
    );
    println!(
        "{}: memory {}, loss {}; samples and plot in {}",
        if bounded && lost == 0 && duplicated == 0 {
            "PASS"
        } else {
            "FAIL"
        },
        if bounded { "bounded" } else { "GROWING" },
        if lost == 0 && duplicated == 0 {
            "zero"
        } else {
            "NONZERO"
        },
        out.display()
    );
}

/// Three stacked line charts (RSS, records/s, lag) against time, as a self-contained SVG.
fn plot(title: &str, samples: &[SoakSample]) -> String {
    const W: f64 = 900.0;
    const PANEL: f64 = 180.0;
    const LEFT: f64 = 80.0;
    const TOP: f64 = 40.0;
    type Series = fn(&SoakSample) -> f64;
    let panels: [(&str, Series); 3] = [
        ("RSS (MiB)", |s| s.rss_mib),
        ("records in / s", |s| s.records_per_s),
        ("lag max (records)", |s| s.lag),
    ];
    let t_max = samples.iter().map(|s| s.t).fold(1f64, f64::max);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{LEFT}\" y=\"24\" font-size=\"14\">{title}</text>\n",
        TOP + 3.0 * (PANEL + 30.0) + 20.0
    );
    for (i, (label, value)) in panels.iter().enumerate() {
        let y0 = TOP + i as f64 * (PANEL + 30.0);
        let v_max = samples.iter().map(value).fold(0f64, f64::max).max(1.0) * 1.1;
        let width = W - LEFT - 20.0;
        let points: Vec<String> = samples
            .iter()
            .map(|s| {
                format!(
                    "{:.1},{:.1}",
                    LEFT + s.t / t_max * width,
                    y0 + PANEL - value(s) / v_max * PANEL
                )
            })
            .collect();
        svg += &format!(
            "<rect x=\"{LEFT}\" y=\"{y0}\" width=\"{width}\" height=\"{PANEL}\" fill=\"none\" stroke=\"#999\"/>\n\
             <text x=\"{}\" y=\"{}\">{label}</text>\n\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{v_max:.0}</text>\n\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">0</text>\n\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:.0} s</text>\n\
             <polyline fill=\"none\" stroke=\"#1f5fa8\" stroke-width=\"1.5\" points=\"{}\"/>\n",
            LEFT + 6.0,
            y0 + 16.0,
            LEFT - 6.0,
            y0 + 12.0,
            LEFT - 6.0,
            y0 + PANEL,
            W - 20.0,
            y0 + PANEL + 16.0,
            t_max,
            points.join(" ")
        );
    }
    svg + "</svg>\n"
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
        .filter(|(i, a)| {
            !a.starts_with("--")
                && (*i == 0 || (args[i - 1] != "--partitions" && args[i - 1] != "--out"))
        })
        .map(|(_, a)| a)
        .collect();
    match free.as_slice() {
        [mode, seconds, rate] if mode.as_str() == "soak" => {
            let out = args
                .iter()
                .position(|a| a == "--out")
                .map_or("target/soak".into(), |i| {
                    std::path::PathBuf::from(&args[i + 1])
                });
            soak(seconds.parse().unwrap(), rate.parse().unwrap(), &out);
        }
        [mode, seconds, rate, tickers] if mode.as_str() == "latency" => {
            latency(
                seconds.parse().unwrap(),
                rate.parse().unwrap(),
                tickers.parse().unwrap(),
                transactions,
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
        [mode, n] if mode.as_str() == "budget" => budget(n.parse().unwrap()),
        [mode] if mode.as_str() == "scaling" => scaling(full, partitions),
        [mode, rounds] if mode.as_str() == "local" => local_run(rounds.parse().unwrap()),
        [] if !full => {
            throughput(full, transactions, partitions);
            keys(&[1_000]);
            budget(50);
        }
        [] => throughput(full, transactions, partitions),
        _ => panic!(
            "usage: throughput [--no-transactions] [--partitions N] [scaling | local ROUNDS | soak SECONDS RATE [--out DIR] | latency SECONDS RATE KEYS | keys [N...] | budget N]"
        ),
    }
}
