//! `processor local`: the whole pipeline on one machine. An embedded broker (or one given with
//! `--brokers`), the topics, the event generator the producer Lambda uses (events generated
//! from the spec's field declarations), the processor, and
//! local sinks: the Parquet lake (a consumer of the aggregates topic that commits only what is
//! in whole files, as Firehose's MSK source reads it in AWS), the local feature store (fed from
//! the aggregates topic, as the feature-writer Lambda is), and JSON-lines files of the
//! aggregates and dead letters read back from Kafka.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use pipeline_core::Spec;
use pipeline_core::features::record_from_aggregate;
use pipeline_core::framer::{Framer, SchemaEncoder};
use pipeline_core::generator::GeneratorConfig;
use pipeline_core::spec::InputFormat;
use pipeline_core::store::FeatureStore as _;
use pipeline_kafka::{EmbeddedKafka, KafkaSettings};
use pipeline_local::{LakeConfig, LakeReport, SqliteFeatureStore, StoreCounts};
use rdkafka::Message;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use self::drain::{Drain, ReadProgress, join_drain, spawn_drain};
use self::produce::{
    Destination, EMBEDDED_BUDGET, Pacing, ReadPositions, event_producer, produce_events,
};
use crate::engine::{Delivery, Engine, EngineConfig, EngineStats, dead_letters_by_reason};
use crate::lake::{LakeDelivery, run_until};

mod drain;
mod produce;
pub mod report;
mod summary;

pub use self::summary::render_summary;

/// How long the run waits without progress before it fails.
const STALL_LIMIT: Duration = Duration::from_secs(60);
/// The consumers' longest wait for a fetch to fill. The broker answers a fetch with nothing to
/// give only after this wait (500 ms by default), which readers that keep up with their writer
/// would pay at every step; on loopback a fetch is cheap.
const QUICK_FETCH: (&str, &str) = ("fetch.wait.max.ms", "5");
/// How many bytes of aggregates or dead letters the processor may have written ahead of their
/// slowest reader on the embedded broker: a quarter of a partition's retention, leaving room for
/// what one batch writes on top.
const OUTPUT_BUDGET: u64 = EmbeddedKafka::PARTITION_RETENTION_BYTES / 4;
/// How often the run's progress is sampled for the report.
const SAMPLE_EVERY_MS: u64 = 50;
/// The feature group the local feature store holds.
pub const LOCAL_FEATURE_GROUP: &str = "local";

/// The default run: an hour of event time (for stock ticks, 24 tickers, 60 one-minute candles
/// each), in a few seconds.
pub const DEFAULT_EVENTS: u64 = 720_000;
/// Events per second of simulated event time by default.
pub const DEFAULT_RATE: u64 = 200;
/// The share of deliberately broken events by default.
pub const DEFAULT_MALFORMED: f64 = 0.01;
/// The share of events delivered out of order by default, each by up to [`MAX_DISORDER_MS`].
pub const DEFAULT_DISORDER: f64 = 0.05;
pub const MAX_DISORDER_MS: i64 = 5_000;
pub const DEFAULT_SEED: u64 = 42;
/// Partitions of the input and output topics by default.
pub const DEFAULT_PARTITIONS: i32 = 3;
/// The lake's buffering by default: Firehose's largest, 64 MiB or 60 s.
pub const DEFAULT_LAKE_BUFFER_MIB: usize = 64;
pub const DEFAULT_LAKE_BUFFER_SECONDS: u64 = 60;

#[derive(Debug, Clone)]
pub struct LocalOptions {
    pub spec: Arc<Spec>,
    /// An external broker on this machine instead of the embedded one.
    pub brokers: Option<String>,
    pub delivery: Delivery,
    pub events: u64,
    /// Events per second of (simulated) event time.
    pub rate: u64,
    pub generator: GeneratorConfig,
    pub partitions: i32,
    pub out_dir: PathBuf,
    /// The lake's buffering: a partition's file is written at this many bytes of aggregates...
    pub lake_buffer_bytes: usize,
    /// ... or when its first aggregate has waited this long.
    pub lake_buffer_interval: Duration,
    /// Print progress to stderr.
    pub progress: bool,
}

impl LocalOptions {
    /// What `processor local` runs with when given no flags but the output folder.
    pub fn defaults(spec: Arc<Spec>, out_dir: PathBuf) -> Self {
        Self {
            spec,
            brokers: None,
            delivery: Delivery::ExactlyOnce,
            events: DEFAULT_EVENTS,
            rate: DEFAULT_RATE,
            generator: GeneratorConfig {
                keys: None,
                seed: DEFAULT_SEED,
                malformed_share: DEFAULT_MALFORMED,
                disorder_share: DEFAULT_DISORDER,
                max_disorder_ms: MAX_DISORDER_MS,
            },
            partitions: DEFAULT_PARTITIONS,
            out_dir,
            lake_buffer_bytes: DEFAULT_LAKE_BUFFER_MIB * 1024 * 1024,
            lake_buffer_interval: Duration::from_secs(DEFAULT_LAKE_BUFFER_SECONDS),
            progress: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct LocalSummary {
    pub spec: Arc<Spec>,
    pub produced: u64,
    pub stats: EngineStats,
    pub elapsed: Duration,
    pub aggregates_file: PathBuf,
    pub dead_letters_file: PathBuf,
    pub aggregates_written: u64,
    pub dead_letters_written: u64,
    /// The lake's table folder and what was written there.
    pub lake_dir: PathBuf,
    pub lake: LakeReport,
    pub feature_store_file: PathBuf,
    pub feature_store: StoreCounts,
    /// The run drawn: out/report.html.
    pub report_file: PathBuf,
}

/// Runs the pipeline over `options.events` generated events and writes the outputs.
pub fn run(options: &LocalOptions) -> anyhow::Result<LocalSummary> {
    let started = Instant::now();
    let spec = &options.spec;
    let embedded;
    let settings = match &options.brokers {
        Some(brokers) => {
            let settings = KafkaSettings::local(brokers.clone());
            settings
                .check_reachable(KafkaSettings::REACH_TIMEOUT)
                .map_err(anyhow::Error::msg)?;
            create_topics(&settings, spec, options.partitions)?;
            settings
        }
        None => {
            embedded = EmbeddedKafka::start(1).context("starting the embedded Kafka broker")?;
            // Each group here has one member: nothing to wait for before assigning it.
            embedded
                .set_initial_rebalance_delay(Duration::ZERO)
                .context("configuring the embedded Kafka broker")?;
            for (topic, partitions) in [
                (&spec.topics.input, options.partitions),
                (&spec.topics.output, options.partitions),
                (&spec.topics.dead_letter, 1),
            ] {
                embedded
                    .create_topic(topic, partitions)
                    .with_context(|| format!("creating topic {topic}"))?;
            }
            KafkaSettings::local(embedded.bootstrap_servers())
        }
    };
    let event_producer = event_producer(&settings)?;
    let run_id = format!(
        "{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    );
    let mut config = EngineConfig::new(format!("processor-local-{run_id}"), options.delivery);
    config.transactional_id = format!("processor-local-{run_id}");
    config.consumer_overrides = quick_fetch();
    let (registry, framer) = local_registry(spec)?;
    let mut engine = Engine::start(Arc::clone(spec), &settings, None, config)?;
    engine.set_registry(registry);

    // Each run writes its lake and feature store afresh, as it does the JSON-lines files.
    let lake_root = options.out_dir.join("lake");
    let feature_store_file = options.out_dir.join("feature-store.sqlite");
    remove_previous(&lake_root, &feature_store_file)?;
    let delivery = LakeDelivery::start(
        spec,
        &settings,
        None,
        &format!("lake-local-{run_id}"),
        LakeConfig {
            buffer_bytes: options.lake_buffer_bytes,
            buffer_interval: options.lake_buffer_interval,
            ..LakeConfig::new(&lake_root)
        },
        &[],
    )?;
    let lake_dir = delivery.table_dir();
    // The lake reads the aggregates topic beside the processor, until it has read as many
    // aggregates as the processor committed (known once the input is done).
    let lake_stop = Arc::new(AtomicBool::new(false));
    let lake_expected = Arc::new(AtomicU64::new(u64::MAX));
    let lake_consumed = Arc::new(AtomicU64::new(0));
    let lake_thread = {
        let (stop, expected, consumed) = (
            Arc::clone(&lake_stop),
            Arc::clone(&lake_expected),
            Arc::clone(&lake_consumed),
        );
        std::thread::Builder::new()
            .name("lake".into())
            .spawn(move || run_until(delivery, &stop, &expected, &consumed))
            .context("starting the lake's thread")?
    };
    let lake_guard = StopOnDrop(Arc::clone(&lake_stop));

    // The feature-writer's part, and the JSON-lines files: readers of the output topics beside
    // the processor (the embedded broker keeps only the newest few MiB of a partition), until
    // they have read as many records as the processor committed.
    std::fs::create_dir_all(&options.out_dir)
        .with_context(|| format!("creating {}", options.out_dir.display()))?;
    let aggregates_file = options.out_dir.join("aggregates.jsonl");
    let dead_letters_file = options.out_dir.join("dead-letters.jsonl");
    let store = SqliteFeatureStore::open(&feature_store_file, spec, LOCAL_FEATURE_GROUP)?;
    let drain_stop = Arc::new(AtomicBool::new(false));
    let _drain_guard = StopOnDrop(Arc::clone(&drain_stop));
    let aggregates_expected = Arc::new(AtomicU64::new(u64::MAX));
    let aggregates_read = Arc::new(ReadProgress::default());
    let dead_letters_read = Arc::new(ReadProgress::default());
    let dead_letters_expected = Arc::new(AtomicU64::new(u64::MAX));
    let aggregates_thread = {
        let drain = Drain {
            settings: settings.clone(),
            topic: spec.topics.output.clone(),
            partitions: options.partitions,
            expected: Arc::clone(&aggregates_expected),
            stop: Arc::clone(&drain_stop),
            path: aggregates_file.clone(),
            progress: Arc::clone(&aggregates_read),
        };
        let spec = Arc::clone(spec);
        spawn_drain("aggregates", move || {
            let written = drain.run(|payload, message| {
                let record = record_from_aggregate(&spec, payload).with_context(|| {
                    format!(
                        "aggregate at offset {} of {}",
                        message.offset(),
                        message.topic()
                    )
                })?;
                futures_block_on(store.put_record(LOCAL_FEATURE_GROUP, &record))?;
                Ok(String::from_utf8_lossy(payload).into_owned())
            })?;
            let counts = store
                .counts()
                .context("counting the feature store's records")?;
            Ok((written, counts))
        })?
    };
    let dead_letters_thread = {
        let drain = Drain {
            settings: settings.clone(),
            topic: spec.topics.dead_letter.clone(),
            partitions: 1,
            expected: Arc::clone(&dead_letters_expected),
            stop: Arc::clone(&drain_stop),
            path: dead_letters_file.clone(),
            progress: Arc::clone(&dead_letters_read),
        };
        spawn_drain("dead letters", move || {
            let written = drain.run(|_, message| Ok(crate::records::dead_letter_json(message)))?;
            Ok((written, ()))
        })?
    };

    let produced = Arc::new(AtomicU64::new(0));
    let positions = Arc::new(ReadPositions::new(options.partitions as usize));
    // The embedded broker drops a partition's oldest records past its retention, read or not:
    // the producer keeps within a budget of what the processor has read. A broker of one's own
    // keeps what it is given.
    let pacing = options
        .brokers
        .is_none()
        .then(|| Pacing::new(options.partitions as usize, EMBEDDED_BUDGET));
    let producing_done = Arc::new(AtomicBool::new(false));
    let producer_stop = Arc::new(AtomicBool::new(false));
    let _producer_guard = StopOnDrop(Arc::clone(&producer_stop));
    let mut producer_thread = Some({
        let done = Arc::clone(&producing_done);
        let (produced, positions) = (Arc::clone(&produced), Arc::clone(&positions));
        let stop = Arc::clone(&producer_stop);
        let (options, topic) = (options.clone(), spec.topics.input.clone());
        let framer = framer.clone();
        std::thread::Builder::new()
            .name("producer".into())
            .spawn(move || -> anyhow::Result<()> {
                let to = Destination {
                    topic: &topic,
                    framer: framer.as_ref(),
                };
                let result = produce_events(
                    &event_producer,
                    to,
                    &options,
                    &produced,
                    &positions,
                    pacing,
                    &stop,
                );
                done.store(true, Ordering::Release);
                result
            })
            .context("starting the event producer's thread")?
    });

    let mut last_progress = Instant::now();
    let mut last_advance = (0, Instant::now());
    let mut samples = vec![report::Sample {
        at_ms: 0,
        produced: 0,
        processed: 0,
    }];
    loop {
        if options.brokers.is_none() {
            // The outputs, too, must stay within the embedded broker's retention of their
            // slowest reader (the lake, the feature store's reader, the files).
            let ahead = std::cell::Cell::new(0);
            wait_until(
                || {
                    let stats = engine.stats();
                    let lake_read = lake_consumed.load(Ordering::Acquire);
                    ahead.set(
                        aggregates_read
                            .unread_bytes(stats.aggregates_out, lake_read)
                            .max(
                                dead_letters_read
                                    .unread_bytes(stats.dead_letters_total(), u64::MAX),
                            ),
                    );
                    ahead.get() <= OUTPUT_BUDGET
                },
                || false,
                || std::thread::park_timeout(Duration::from_millis(2)),
                || {
                    format!(
                        "the outputs' readers stopped reading ({} bytes unread)",
                        ahead.get()
                    )
                },
            )?;
        }
        engine.run_batch()?;
        let records_in = engine.stats().records_in;
        positions.set(engine.high_waters());
        let at_ms = started.elapsed().as_millis() as u64;
        if samples
            .last()
            .is_some_and(|s| at_ms >= s.at_ms + SAMPLE_EVERY_MS)
        {
            samples.push(report::Sample {
                at_ms,
                produced: produced.load(Ordering::Acquire),
                processed: records_in,
            });
        }
        if producing_done.load(Ordering::Acquire)
            && let Some(thread) = producer_thread.take()
        {
            thread
                .join()
                .map_err(|_| anyhow::anyhow!("the event producer panicked"))??;
        }
        if producer_thread.is_none() && records_in >= produced.load(Ordering::Acquire) {
            break;
        }
        if records_in > last_advance.0 {
            last_advance = (records_in, Instant::now());
        } else if last_advance.1.elapsed() > STALL_LIMIT {
            bail!(
                "the processor has taken in {records_in} of {} events and nothing more for {} s",
                produced.load(Ordering::Acquire),
                STALL_LIMIT.as_secs()
            );
        }
        if options.progress && last_progress.elapsed() >= Duration::from_secs(1) {
            last_progress = Instant::now();
            progress(&engine, produced.load(Ordering::Relaxed), options.events);
        }
    }
    engine.close_all()?;
    let stats = engine.stats().clone();
    lake_expected.store(stats.aggregates_out, Ordering::Release);
    aggregates_expected.store(stats.aggregates_out, Ordering::Release);
    dead_letters_expected.store(stats.dead_letters_total(), Ordering::Release);
    let lake = wait_for_lake(lake_thread, &lake_consumed, stats.aggregates_out)?;
    drop(lake_guard);
    if options.progress {
        progress(&engine, produced.load(Ordering::Relaxed), options.events);
        eprintln!();
    }

    let (aggregates_written, feature_store) = join_drain(aggregates_thread, "aggregates")?;
    let (dead_letters_written, ()) = join_drain(dead_letters_thread, "dead letters")?;
    samples.push(report::Sample {
        at_ms: started.elapsed().as_millis() as u64,
        produced: produced.load(Ordering::Acquire),
        processed: stats.records_in,
    });
    let report_file = options.out_dir.join("report.html");
    let reasons: Vec<(&str, u64)> = dead_letters_by_reason(&stats)
        .into_iter()
        .map(|(reason, n)| (reason.code(), n))
        .collect();
    report::write(&report_file, spec, &aggregates_file, &reasons, &samples)?;
    Ok(LocalSummary {
        spec: Arc::clone(&options.spec),
        produced: produced.load(Ordering::Relaxed),
        stats,
        elapsed: started.elapsed(),
        aggregates_file,
        dead_letters_file,
        aggregates_written,
        dead_letters_written,
        lake_dir,
        lake,
        feature_store_file,
        feature_store,
        report_file,
    })
}

fn quick_fetch() -> Vec<(String, String)> {
    vec![(QUICK_FETCH.0.into(), QUICK_FETCH.1.into())]
}

/// Stops a reader's thread if the run ends early (an error), so that it does not outlive it.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Waits for the lake to have read `expected` aggregates and written them, failing if it stops
/// making progress for the stall limit.
fn wait_for_lake(
    thread: std::thread::JoinHandle<Result<LakeReport, crate::lake::LakeDeliveryError>>,
    consumed: &AtomicU64,
    expected: u64,
) -> anyhow::Result<LakeReport> {
    let mut last = (consumed.load(Ordering::Acquire), Instant::now());
    while !thread.is_finished() {
        let now = consumed.load(Ordering::Acquire);
        if now > last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > STALL_LIMIT {
            bail!(
                "the lake has read {now} of {expected} aggregates and nothing more for {} s",
                STALL_LIMIT.as_secs()
            );
        }
        std::thread::park_timeout(Duration::from_millis(20));
    }
    let report = thread
        .join()
        .map_err(|_| anyhow::anyhow!("the lake's thread panicked"))??;
    Ok(report)
}

/// Removes the lake folder and the feature store a previous run left in the output folder.
fn remove_previous(lake_root: &Path, feature_store_file: &Path) -> anyhow::Result<()> {
    match std::fs::remove_dir_all(lake_root) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            return Err(error).with_context(|| format!("removing {}", lake_root.display()));
        }
        _ => {}
    }
    for suffix in ["", "-wal", "-shm"] {
        let path = PathBuf::from(format!("{}{suffix}", feature_store_file.display()));
        match std::fs::remove_file(&path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(error).with_context(|| format!("removing {}", path.display()));
            }
            _ => {}
        }
    }
    Ok(())
}

fn progress(engine: &Engine, produced: u64, total: u64) {
    let stats = engine.stats();
    eprint!(
        "\r  produced {produced}/{total} · processed {} · open windows {} · aggregates {} · dead letters {}   ",
        stats.records_in,
        engine.open_windows(),
        stats.aggregates_out,
        stats.dead_letters_total()
    );
}

/// Creates the spec's topics on a broker (input and output with `partitions`, the DLQ with one);
/// topics that exist already are left as they are.
pub fn create_topics(settings: &KafkaSettings, spec: &Spec, partitions: i32) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = settings.client_config()?.create()?;
    let topics = [
        NewTopic::new(&spec.topics.input, partitions, TopicReplication::Fixed(1)),
        NewTopic::new(&spec.topics.output, partitions, TopicReplication::Fixed(1)),
        NewTopic::new(&spec.topics.dead_letter, 1, TopicReplication::Fixed(1)),
    ];
    let results = std::thread::scope(|s| {
        s.spawn(|| {
            futures_block_on(admin.create_topics(
                &topics,
                &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
            ))
        })
        .join()
    })
    .map_err(|_| anyhow::anyhow!("topic creation panicked"))?;
    for result in results.context("creating topics")? {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => bail!("creating topic {topic}: {code}"),
        }
    }
    Ok(())
}

/// Drives a future to completion on this thread (rdkafka's admin calls complete on their own
/// background thread, so no async runtime is needed).
fn futures_block_on<F: Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}

/// For an Avro or Protobuf spec: a registry in memory holding the spec's own schema (what the
/// local producer registers), checked against the spec as `processor run` checks the real one,
/// and the producer's framer. `(None, None)` for JSON.
fn local_registry(
    spec: &Spec,
) -> anyhow::Result<(Option<pipeline_registry::Resolver>, Option<Framer>)> {
    let InputFormat::Registry(input) = &spec.input else {
        return Ok((None, None));
    };
    let memory = pipeline_registry::Memory::new(input.registry.wire());
    let encoder = SchemaEncoder::for_spec(spec, input.schema_type).map_err(|e| {
        anyhow::anyhow!(
            "the spec's {} schema: {e}",
            input.schema_type.registry_name()
        )
    })?;
    let id = memory.register(encoder.schema_text());
    let options = pipeline_registry::Options {
        memory: Some(memory),
        ..Default::default()
    };
    let resolver = crate::registry::open(spec, &spec.name, &options)?;
    Ok((resolver, Some(Framer::new(encoder, id, false))))
}

/// How a wait bounded by [`STALL_LIMIT`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waited {
    Ready,
    Stopped,
}

/// Waits until `ready` holds, or `stopped` does, with `pause` between checks; once
/// [`STALL_LIMIT`] has passed without either, the run fails with what `stalled` says stopped.
fn wait_until(
    mut ready: impl FnMut() -> bool,
    stopped: impl Fn() -> bool,
    mut pause: impl FnMut(),
    stalled: impl FnOnce() -> String,
) -> anyhow::Result<Waited> {
    let waiting = Instant::now();
    loop {
        if ready() {
            return Ok(Waited::Ready);
        }
        if stopped() {
            return Ok(Waited::Stopped);
        }
        if waiting.elapsed() > STALL_LIMIT {
            bail!("{} for {} s", stalled(), STALL_LIMIT.as_secs());
        }
        pause();
    }
}
