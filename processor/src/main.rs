//! `processor`: reads settings, builds the engine, runs it. See `processor --help`.

use std::io::Write as _;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use pipeline_core::{Reason, Spec};
use pipeline_kafka::{IamContext, KafkaSettings};
use processor::health::{self, Health};
use processor::metrics::MetricsConfig;
use processor::replay::ReplayOptions;
use processor::service::{self, ServiceConfig, Shutdown};
use processor::{Delivery, EngineConfig};

#[derive(Parser)]
#[command(
    version,
    about = "The stream processor: events in; aggregates and dead letters out, exactly once."
)]
struct Cli {
    /// The pipeline spec: a file (config/pipelines/<name>.toml) [default:
    /// config/pipelines/stock-ticks.toml, else the built-in stock-ticks spec]
    #[arg(long, global = true, env = "PIPELINE_SPEC")]
    spec: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole pipeline on this machine: embedded broker, events generated from the
    /// spec's fields, processor, and the aggregates and dead letters written to files.
    #[cfg(feature = "local")]
    Local(local_cli::LocalArgs),
    /// Run the processor until SIGTERM or SIGINT: the service that runs in ECS. Every option
    /// can also be set by the environment variable named in its help.
    Run(RunArgs),
    /// Fill a Parquet lake from the aggregates topic, as Firehose's MSK source fills the S3 lake:
    /// an offset is committed only once every aggregate before it is in a whole file, so a
    /// crash loses nothing (the next run reads it again). Runs until SIGTERM or SIGINT, then
    /// writes what it holds and commits it.
    #[cfg(feature = "local")]
    Lake(local_cli::LakeArgs),
    /// Re-publish chosen records after a fix: dead letters (by reason and time) or a time range
    /// of any topic, checked against the current spec, sent to a backfill topic in one
    /// transaction with their keys, bytes, timestamps and partitions. `--dry-run` lists them
    /// (JSON lines on stdout) and sends nothing. See docs/operations/README.md, "Replay".
    Replay(ReplayArgs),
    /// Follow a topic and print its records: the aggregates (default), the dead letters with
    /// their reason, detail and source, the input, or any topic. Reads committed records only,
    /// joins no group and commits nothing. See docs/operations/README.md, "Tail".
    Tail(TailArgs),
    /// Print what Terraform needs of the spec as JSON: the pipeline's name and topics, the
    /// aggregates' schema for the lake (Glue columns, partitioning, timestamp format) and the
    /// Feature Group (features, identifier, event time). Terraform reads one file per spec,
    /// infra/pipelines/<name>.json, which ./scripts/pipeline-schemas regenerates.
    Schema,
    /// Print the Grafana dashboard of the processor's Prometheus metrics (JSON, from the metrics
    /// catalogue); infra/grafana/processor.json is this output, which ./scripts/pipeline-schemas
    /// regenerates.
    Grafana,
    /// Ask a processor's health endpoint; exits 0 if it answers 200. For a container health
    /// check in an image without curl.
    Probe {
        /// host:port of the health endpoint.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
        /// /health/live or /health/ready.
        #[arg(long, default_value = "/health/ready")]
        path: String,
    },
}

/// Where the brokers are and how to authenticate to them.
#[derive(clap::Args)]
struct BrokerArgs {
    /// Bootstrap brokers, host:port[,host:port…].
    #[arg(long, env = "KAFKA_BROKERS")]
    brokers: String,
    /// How to authenticate: none (plaintext, a broker on this machine) or msk-iam (SASL_SSL with
    /// IAM tokens from the standard AWS credential chain).
    #[arg(long, env = "KAFKA_AUTH", value_enum, default_value_t = Auth::None)]
    auth: Auth,
    /// AWS region of the MSK cluster (msk-iam).
    #[arg(long, env = "AWS_REGION")]
    region: Option<String>,
}

impl BrokerArgs {
    /// The settings, once a broker has been reached: a command that cannot reach any fails at
    /// once, naming each address and why.
    fn connect(self) -> anyhow::Result<(KafkaSettings, Option<IamContext>)> {
        let (settings, iam) = self.settings()?;
        settings
            .check_reachable(KafkaSettings::REACH_TIMEOUT)
            .map_err(anyhow::Error::msg)?;
        Ok((settings, iam))
    }

    fn settings(self) -> anyhow::Result<(KafkaSettings, Option<IamContext>)> {
        let (auth, region) = match self.auth {
            Auth::None => (pipeline_kafka::Auth::Plaintext, String::new()),
            Auth::MskIam => (
                pipeline_kafka::Auth::MskIam,
                self.region
                    .filter(|r| !r.trim().is_empty())
                    .context("--auth msk-iam needs a region: set --region or AWS_REGION")?,
            ),
        };
        Ok(KafkaSettings::with_auth(self.brokers, auth, &region)?)
    }
}

#[derive(clap::Args)]
struct ReplayArgs {
    #[command(flatten)]
    broker: BrokerArgs,
    #[command(flatten)]
    registry: RegistryArgs,
    /// The topic to read [default: the spec's dead-letter topic].
    #[arg(long)]
    from_topic: Option<String>,
    /// The topic to send to: a backfill topic a processor with its own group reads (the live
    /// input would refuse events of closed windows as late). It must exist. [default: the
    /// spec's replay topic, `<input>.replay`, which Terraform creates]
    #[arg(long)]
    to: Option<String>,
    /// Only records with a Kafka timestamp at or after this time (RFC 3339).
    #[arg(long, value_parser = rfc3339)]
    since: Option<i64>,
    /// Only records with a Kafka timestamp before this time (RFC 3339).
    #[arg(long, value_parser = rfc3339)]
    until: Option<i64>,
    /// Only dead letters with these reasons (comma-separated dlq.reason codes).
    #[arg(long, value_delimiter = ',', value_parser = reason)]
    reason: Vec<Reason>,
    /// Also send records the current spec still refuses.
    #[arg(long)]
    include_refused: bool,
    /// List what would be sent (JSON lines on stdout) and send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Seconds allowed for each broker request and for the next record while reading.
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
}

#[derive(clap::Args)]
struct TailArgs {
    #[command(flatten)]
    broker: BrokerArgs,
    /// aggregates, dead-letters, input or replay (the spec's topics), or a topic's name.
    #[arg(long, default_value = "aggregates")]
    topic: String,
    /// Where to start on each partition: end (only what arrives from now on), beginning, an
    /// offset, or an RFC 3339 time (the first record at or after it).
    #[arg(long, default_value = "end", value_parser = processor::tail::Start::parse)]
    from: processor::tail::Start,
    /// Only this partition.
    #[arg(long, allow_negative_numbers = true, value_parser = clap::value_parser!(i32).range(0..))]
    partition: Option<i32>,
    /// Only records with this key: the event's key fields joined by `|` (e.g. AMZN, or
    /// shop|/pricing).
    #[arg(long)]
    key: Option<String>,
    /// JSON lines (aggregates as they are; dead letters as in dead-letters.jsonl) instead of
    /// readable rows.
    #[arg(long)]
    json: bool,
    /// Stop after this many records.
    #[arg(long, allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
    /// Stop once each partition is read to its end, instead of following.
    #[arg(long)]
    no_follow: bool,
    /// Seconds allowed for each broker request.
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
}

fn rfc3339(text: &str) -> Result<i64, String> {
    pipeline_core::time::parse_rfc3339_millis(text)
        .map_err(|e| format!("expected an RFC 3339 time like 2026-12-01T09:00:00Z: {e}"))
}

fn reason(text: &str) -> Result<Reason, String> {
    Reason::from_code(text).ok_or_else(|| {
        let codes: Vec<&str> = Reason::ALL.iter().map(|r| r.code()).collect();
        format!("expected one of {}", codes.join(", "))
    })
}

#[derive(clap::Args)]
struct RunArgs {
    #[command(flatten)]
    broker: BrokerArgs,
    /// Read this topic instead of the spec's input: a backfill processor on the replay topic
    /// (`processor replay`), in its own group.
    #[arg(long, env = "PROCESSOR_INPUT_TOPIC")]
    input_topic: Option<String>,
    /// Consumer group (and prefix of the transactional id).
    #[arg(long, env = "PROCESSOR_GROUP", default_value = "processor")]
    group: String,
    #[arg(long, env = "PROCESSOR_DELIVERY", value_enum, default_value_t = Delivery::ExactlyOnce)]
    delivery: Delivery,
    /// Where the health endpoint listens.
    #[arg(long, env = "HEALTH_ADDR", default_value = "127.0.0.1:8080")]
    health_addr: String,
    /// Not live once this many seconds pass without a finished batch cycle.
    #[arg(long, env = "HEALTH_STALL_SECS", default_value_t = 90)]
    stall_secs: u64,
    /// Seconds allowed from SIGTERM to exit; past it the process exits at once (status 2).
    /// Keep it under the container's stop timeout (ECS: 30 s by default).
    #[arg(long, env = "SHUTDOWN_TIMEOUT_SECS", default_value_t = 25)]
    shutdown_timeout_secs: u64,
    /// Seconds between metric reports (EMF lines on stdout).
    #[arg(long, env = "METRICS_INTERVAL_SECS", default_value_t = 60)]
    metrics_interval_secs: u64,
    /// CloudWatch namespace of the metrics.
    #[arg(long, env = "METRICS_NAMESPACE", default_value = "StreamingPipeline")]
    metrics_namespace: String,
    /// Seconds this instance may hold no partitions while its group has records nobody
    /// commits before it warns, reports `StrandedBacklog` and stops answering ready.
    #[arg(long, env = "PROCESSOR_STRANDED_SECS", default_value_t = 120)]
    stranded_secs: u64,
    /// Extra librdkafka consumer settings, KEY=VALUE, repeatable (e.g. session.timeout.ms=10000).
    #[arg(long = "consumer-config", env = "KAFKA_CONSUMER_CONFIG", value_delimiter = ',', value_parser = key_value)]
    consumer_config: Vec<(String, String)>,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// Where an Avro spec's schema registry is, beyond what the spec says.
#[derive(clap::Args)]
struct RegistryArgs {
    /// Avro input behind a Confluent-compatible registry: its URL, instead of the spec's
    /// `input.confluent.url` (a `user:secret@` in it is sent as basic authentication). The
    /// Glue registry is reached with the AWS configuration (role, region, AWS_ENDPOINT_URL).
    #[arg(long, env = "SCHEMA_REGISTRY_URL")]
    registry_url: Option<String>,
    /// Avro input behind Glue: the registry's name, instead of the spec's `input.glue.registry`
    /// (Terraform sets it to the name it created: the environment's prefix, then the spec's).
    #[arg(long, env = "GLUE_REGISTRY_NAME")]
    glue_registry: Option<String>,
}

impl RegistryArgs {
    fn options(self) -> pipeline_registry::Options {
        pipeline_registry::Options {
            confluent_url: self.registry_url.filter(|u| !u.is_empty()),
            glue_registry: self.glue_registry.filter(|r| !r.is_empty()),
            ..Default::default()
        }
    }
}

fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.trim().to_owned()))
        }
        _ => Err(format!("expected KEY=VALUE, got `{text}`")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Auth {
    None,
    MskIam,
}

/// The spec a run without `--spec` uses, if it is there (run from the repository's root).
const DEFAULT_SPEC: &str = "config/pipelines/stock-ticks.toml";

/// The spec, and its file's name for messages.
fn load_spec(path: Option<PathBuf>) -> anyhow::Result<(Spec, String)> {
    let default = PathBuf::from(DEFAULT_SPEC);
    match path.or_else(|| default.exists().then_some(default)) {
        Some(path) => Ok((Spec::load(&path)?, path.display().to_string())),
        None => {
            let file = "built-in stock-ticks spec";
            Ok((
                Spec::from_toml(pipeline_core::STOCK_TICKS_SPEC, file)?,
                file.to_owned(),
            ))
        }
    }
}

#[cfg(feature = "local")]
mod local_cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = init_logging(&cli.command);
    match run(cli) {
        Ok(code) => code,
        // Once: as a log line where logs are JSON (the services), else as plain text.
        Err(error) if json => {
            tracing::error!("{}", describe(&error));
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("processor: {}", describe(&error));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes, each said once: librdkafka's errors repeat their cause in their own
/// text ("Transaction error: Timed out…, retry call to resume: Transaction error: Timed out…"),
/// so a `: `-separated part that an earlier part already holds is left out.
fn describe(error: &anyhow::Error) -> String {
    let full = format!("{error:#}");
    let mut kept: Vec<&str> = Vec::new();
    for part in full.split(": ") {
        if !kept.iter().any(|earlier| earlier.contains(part)) {
            kept.push(part);
        }
    }
    kept.join(": ")
}

/// JSON lines on stderr for the service (CloudWatch Logs); plain text, warnings only, for the
/// local run, whose progress and summary are the output, coloured only on a terminal.
/// `RUST_LOG` overrides the level. Returns whether the logs are JSON.
fn init_logging(command: &Command) -> bool {
    use tracing_subscriber::EnvFilter;
    let (default, json) = match command {
        Command::Run(_) => ("info", true),
        #[cfg(feature = "local")]
        Command::Lake(_) => ("info", true),
        #[cfg(feature = "local")]
        Command::Local(_) => ("warn", false),
        Command::Probe { .. }
        | Command::Schema
        | Command::Grafana
        | Command::Replay(_)
        | Command::Tail(_) => ("warn", false),
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init();
    } else {
        use std::io::IsTerminal as _;
        builder
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .init();
    }
    json
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Probe { addr, path } = &cli.command {
        let code = health::probe(addr, path, Duration::from_secs(3))
            .with_context(|| format!("asking http://{addr}{path}"))?;
        println!("{code}");
        return Ok(if code == 200 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let (mut spec, spec_file) = load_spec(cli.spec)?;
    if let Command::Run(RunArgs {
        input_topic: Some(input),
        ..
    }) = &cli.command
    {
        let topics = &spec.topics;
        anyhow::ensure!(
            input != &topics.output && input != &topics.dead_letter,
            "--input-topic {input}: the processor writes that topic; read another"
        );
        spec.topics.input = input.clone();
    }
    let spec = Arc::new(spec);
    match cli.command {
        #[cfg(feature = "local")]
        Command::Local(args) => local_cli::local(spec, args),
        Command::Run(args) => serve(spec, spec_file, args),
        #[cfg(feature = "local")]
        Command::Lake(args) => local_cli::lake(&spec, args),
        Command::Replay(args) => replay(&spec, &spec_file, args),
        Command::Tail(args) => tail(&spec, args),
        Command::Schema => {
            print!("{}", pipeline_core::catalog::schema_file(&spec));
            Ok(ExitCode::SUCCESS)
        }
        Command::Grafana => {
            let dashboard = processor::dashboard::grafana();
            println!("{}", serde_json::to_string_pretty(&dashboard)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Probe { .. } => unreachable!("answered above"),
    }
}

fn serve(spec: Arc<Spec>, spec_file: String, args: RunArgs) -> anyhow::Result<ExitCode> {
    let shutdown = Shutdown::on_signals(Duration::from_secs(args.shutdown_timeout_secs))
        .context("installing the signal handlers")?;
    // The service starts whether or not a broker answers yet (in ECS the cluster may still be
    // coming up, and the client retries); it says at once which cannot be reached, and why.
    let (settings, iam) = args.broker.settings()?;
    if let Err(problem) = settings.check_reachable(KafkaSettings::REACH_TIMEOUT) {
        tracing::warn!("{problem}; the client keeps trying");
    }
    let registry = processor::registry::open(&spec, &spec_file, &args.registry.options())?;
    let health = Arc::new(Health::new(Duration::from_secs(args.stall_secs)));
    let listener = TcpListener::bind(&args.health_addr)
        .with_context(|| format!("binding the health endpoint to {}", args.health_addr))?;
    let metrics = processor::prometheus::install(&spec.name, "processor")
        .context("installing the Prometheus recorder")?;
    health.expose_metrics(metrics);
    let addr = health::serve(listener, Arc::clone(&health))?;
    tracing::info!(%addr, metrics = "/metrics", "health endpoint listening");
    let mut engine = EngineConfig::new(args.group, args.delivery);
    engine.consumer_overrides = args.consumer_config;
    let config = ServiceConfig {
        engine,
        metrics: MetricsConfig {
            namespace: args.metrics_namespace,
            pipeline: spec.name.clone(),
            interval: Duration::from_secs(args.metrics_interval_secs.max(1)),
            ..MetricsConfig::default()
        },
        lag_timeout: Duration::from_secs(2),
        stranded_after: Duration::from_secs(args.stranded_secs.max(1)),
    };
    service::run(
        spec,
        &settings,
        iam,
        registry,
        config,
        shutdown.flag(),
        &health,
        &mut std::io::stdout().lock(),
    )?;
    Ok(ExitCode::SUCCESS)
}

fn tail(spec: &Spec, args: TailArgs) -> anyhow::Result<ExitCode> {
    use processor::tail::{TailError, TailOptions, resolve_topic};
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("installing the signal handlers")?;
    }
    let (settings, iam) = args.broker.connect()?;
    let (topic, shape) = resolve_topic(spec, &args.topic);
    let options = TailOptions {
        topic,
        shape,
        start: args.from,
        partition: args.partition,
        key: args.key,
        json: args.json,
        count: args.count,
        follow: !args.no_follow,
        timeout: Duration::from_secs(args.timeout_secs.max(1)),
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let result = processor::tail::tail(spec, &settings, iam, &options, &mut out, &stop, |what| {
        let hint = if options.follow {
            " (Ctrl-C to stop)"
        } else {
            ""
        };
        eprintln!("processor tail: {what}{hint}");
    });
    match result {
        Ok(_) => Ok(ExitCode::SUCCESS),
        // The reader went away (`| head`): done.
        Err(TailError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(e.into()),
    }
}

fn replay(spec: &Spec, spec_file: &str, args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let (settings, iam) = args.broker.connect()?;
    let options = ReplayOptions {
        source: args
            .from_topic
            .unwrap_or_else(|| spec.topics.dead_letter.clone()),
        target: args.to.unwrap_or_else(|| spec.replay_topic()),
        since_ms: args.since,
        until_ms: args.until,
        reasons: args.reason,
        include_refused: args.include_refused,
        dry_run: args.dry_run,
        timeout: Duration::from_secs(args.timeout_secs.max(1)),
    };
    let mut registry = processor::registry::open(spec, spec_file, &args.registry.options())?;
    let report = processor::replay::replay_with(spec, &settings, iam, &options, registry.as_mut())?;
    if options.dry_run {
        let mut out = std::io::stdout().lock();
        for chosen in &report.chosen {
            writeln!(out, "{}", chosen.to_json())?;
        }
    }
    eprint!("{}", report.summary(&options));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn a_repeated_cause_is_said_once() {
        let error = anyhow::anyhow!(
            "Transaction error: Timed out waiting for operation to finish, retry call to resume: \
             Transaction error: Timed out waiting for operation to finish, retry call to resume: \
             Timed out waiting for operation to finish"
        )
        .context("Kafka: initialising transactions");
        assert_eq!(
            describe(&error),
            "Kafka: initialising transactions: Transaction error: Timed out waiting for \
             operation to finish, retry call to resume"
        );
        let plain = anyhow::anyhow!("Connection refused").context("reading ticks");
        assert_eq!(describe(&plain), "reading ticks: Connection refused");
    }
}
