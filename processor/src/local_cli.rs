//! The subcommands that run on this machine, built in with the `local` feature (on by default;
//! the container image leaves it out, and with it SQLite, Arrow and Parquet): `processor local`
//! (the whole pipeline on an embedded broker) and `processor lake` (the aggregates topic into a
//! local Parquet lake).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use pipeline_core::Spec;
use pipeline_core::generator::GeneratorConfig;
use processor::Delivery;
use processor::local::{self, LocalOptions, render_summary};
use processor::service::Shutdown;

use crate::{BrokerArgs, key_value};

#[derive(clap::Args)]
pub(crate) struct LocalArgs {
    /// Events to generate (1 to 1,000,000,000).
    #[arg(long, default_value_t = local::DEFAULT_EVENTS, allow_negative_numbers = true, value_parser = events)]
    pub(crate) events: u64,
    /// Events per second of simulated event time (1 to 10,000,000).
    #[arg(long, default_value_t = local::DEFAULT_RATE, allow_negative_numbers = true, value_parser = rate)]
    pub(crate) rate: u64,
    /// Distinct keys to generate, at least 1 [default: every combination of the key fields'
    /// listed values (`one_of`, `generate.values`), or 24 made-up ones]
    #[arg(long, allow_negative_numbers = true, value_parser = keys)]
    pub(crate) keys: Option<usize>,
    /// Share of deliberately broken events (0–1).
    #[arg(long, default_value_t = local::DEFAULT_MALFORMED, allow_negative_numbers = true, value_parser = share)]
    pub(crate) malformed: f64,
    /// Share of events delivered up to 5 s out of order (0–1).
    #[arg(long, default_value_t = local::DEFAULT_DISORDER, allow_negative_numbers = true, value_parser = share)]
    pub(crate) disorder: f64,
    #[arg(long, default_value_t = local::DEFAULT_SEED)]
    pub(crate) seed: u64,
    /// Partitions of the input and output topics (1 to 1,000).
    #[arg(long, default_value_t = local::DEFAULT_PARTITIONS, allow_negative_numbers = true, value_parser = partitions)]
    pub(crate) partitions: i32,
    /// Where to write the outputs: aggregates.jsonl, dead-letters.jsonl, the Parquet lake
    /// (lake/), the feature store (feature-store.sqlite) and report.html, each afresh.
    #[arg(long, default_value = "out")]
    pub(crate) out: PathBuf,
    /// The lake writes a partition's Parquet file once this many MiB of aggregates wait...
    #[arg(long, default_value_t = local::DEFAULT_LAKE_BUFFER_MIB)]
    pub(crate) lake_buffer_mib: usize,
    /// ... or once the first of them has waited this many seconds (Firehose's buffering).
    #[arg(long, default_value_t = local::DEFAULT_LAKE_BUFFER_SECONDS)]
    pub(crate) lake_buffer_seconds: u64,
    /// Use a Kafka broker on this machine (host:port) instead of the embedded one.
    #[arg(long)]
    pub(crate) brokers: Option<String>,
    #[arg(long, value_enum, default_value_t = Delivery::ExactlyOnce)]
    pub(crate) delivery: Delivery,
    /// The input's encoding [default: the spec's]. `avro` or `protobuf` on a JSON spec sends
    /// the events in that format in the Glue wire format, registered in the run's own
    /// registry (in memory); a spec that names a registry always uses that local registry, in
    /// the spec's wire format.
    #[arg(long, value_enum)]
    pub(crate) format: Option<Format>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    Json,
    Avro,
    Protobuf,
}

/// A whole number in `min..=max`; the message names the range (clap names the flag).
fn whole(text: &str, min: i64, max: i64) -> Result<i64, String> {
    let range = || format!("expected a whole number from {min} to {max}");
    let n: i64 = text.trim().parse().map_err(|_| range())?;
    if n < min || n > max {
        return Err(range());
    }
    Ok(n)
}

fn events(text: &str) -> Result<u64, String> {
    whole(text, 1, 1_000_000_000).map(|n| n as u64)
}

fn rate(text: &str) -> Result<u64, String> {
    whole(text, 1, 10_000_000).map(|n| n as u64)
}

fn keys(text: &str) -> Result<usize, String> {
    whole(text, 1, i64::from(u32::MAX)).map(|n| n as usize)
}

fn partitions(text: &str) -> Result<i32, String> {
    whole(text, 1, 1_000).map(|n| n as i32)
}

/// A share: a number from 0 to 1.
fn share(text: &str) -> Result<f64, String> {
    let expected = || "expected a share from 0 to 1 (0.01 is 1 %)".to_owned();
    let value: f64 = text.trim().parse().map_err(|_| expected())?;
    if !(0.0..=1.0).contains(&value) {
        return Err(expected());
    }
    Ok(value)
}

#[derive(clap::Args)]
pub(crate) struct LakeArgs {
    #[command(flatten)]
    pub(crate) broker: BrokerArgs,
    /// Consumer group: where the lake's progress is kept.
    #[arg(long, env = "LAKE_GROUP", default_value = "lake")]
    pub(crate) group: String,
    /// The lake's folder (the bucket's stand-in): tables and errors/ go under it.
    #[arg(long, default_value = "out/lake")]
    pub(crate) out: PathBuf,
    /// A partition's Parquet file is written once this many MiB of aggregates wait...
    #[arg(long, default_value_t = 64)]
    pub(crate) buffer_mib: usize,
    /// ... or once the first of them has waited this many seconds.
    #[arg(long, default_value_t = 60)]
    pub(crate) buffer_seconds: u64,
    /// Extra librdkafka consumer settings, KEY=VALUE, repeatable (e.g. session.timeout.ms=10000).
    #[arg(long = "consumer-config", env = "KAFKA_CONSUMER_CONFIG", value_delimiter = ',', value_parser = key_value)]
    pub(crate) consumer_config: Vec<(String, String)>,
}

pub(crate) fn local(spec: Arc<Spec>, args: LocalArgs) -> anyhow::Result<ExitCode> {
    let LocalArgs {
        events,
        rate,
        keys,
        malformed,
        disorder,
        seed,
        partitions,
        out,
        lake_buffer_mib,
        lake_buffer_seconds,
        brokers,
        delivery,
        format,
    } = args;
    let spec = with_format(spec, format);
    let options = LocalOptions {
        spec,
        brokers,
        delivery,
        events,
        rate,
        generator: GeneratorConfig {
            keys,
            seed,
            malformed_share: malformed,
            disorder_share: disorder,
            max_disorder_ms: local::MAX_DISORDER_MS,
        },
        partitions,
        out_dir: out,
        lake_buffer_bytes: lake_buffer_mib.saturating_mul(1024 * 1024),
        lake_buffer_interval: Duration::from_secs(lake_buffer_seconds),
        progress: true,
    };
    let summary = local::run(&options)?;
    print!("{}", render_summary(&summary));
    Ok(ExitCode::SUCCESS)
}

/// The spec with its input in `format`: JSON as it is; Avro or Protobuf behind a local Glue
/// registry for the spec's own schema (or the spec's registry, when it names one in that
/// format).
fn with_format(spec: Arc<Spec>, format: Option<Format>) -> Arc<Spec> {
    use pipeline_core::spec::{InputFormat, Registry, RegistrySpec, SchemaType, SchemaVersion};
    let schema_type = match format {
        None => return spec,
        Some(Format::Json) => None,
        Some(Format::Avro) => Some(SchemaType::Avro),
        Some(Format::Protobuf) => Some(SchemaType::Protobuf),
    };
    let input = match (schema_type, &spec.input) {
        (None, InputFormat::Json) => return spec,
        (Some(t), InputFormat::Registry(r)) if r.schema_type == t => return spec,
        (None, InputFormat::Registry(_)) => InputFormat::Json,
        (Some(schema_type), _) => InputFormat::Registry(RegistrySpec {
            schema_type,
            // The spec's own schema has one message type.
            message: None,
            registry: Registry::Glue {
                registry: "local".into(),
                schema: spec.name.clone(),
            },
            version: SchemaVersion::Latest,
        }),
    };
    let mut spec = (*spec).clone();
    spec.input = input;
    Arc::new(spec)
}

pub(crate) fn lake(spec: &Spec, args: LakeArgs) -> anyhow::Result<ExitCode> {
    let shutdown =
        Shutdown::on_signals(Duration::from_secs(25)).context("installing the signal handlers")?;
    let (settings, iam) = args.broker.connect()?;
    let config = pipeline_local::LakeConfig {
        buffer_bytes: args.buffer_mib.saturating_mul(1024 * 1024),
        buffer_interval: Duration::from_secs(args.buffer_seconds),
        ..pipeline_local::LakeConfig::new(&args.out)
    };
    let mut delivery = processor::lake::LakeDelivery::start(
        spec,
        &settings,
        iam,
        &args.group,
        config,
        &args.consumer_config,
    )?;
    tracing::info!(group = %args.group, out = %args.out.display(), "lake consumer started");
    let mut last = (delivery.progress(), std::time::Instant::now());
    while !shutdown.flag().load(std::sync::atomic::Ordering::Acquire) {
        delivery.pump(Duration::from_millis(200))?;
        let now = delivery.progress();
        // At most once a second, and only when something changed.
        if now != last.0 && last.1.elapsed() >= Duration::from_secs(1) {
            tracing::info!(
                consumed = now.consumed,
                buffered = now.buffered,
                files = delivery.report().files.len(),
                commits = now.commits,
                "lake progress"
            );
            last = (now, std::time::Instant::now());
        }
    }
    let report = delivery.finish()?;
    tracing::info!(
        rows = report.rows,
        files = report.files.len(),
        errors = report.errors,
        "lake consumer stopped; everything read is written and committed"
    );
    Ok(ExitCode::SUCCESS)
}
