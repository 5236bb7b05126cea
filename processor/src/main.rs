//! `processor`: reads settings, builds the engine, runs it. See `processor --help`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use pipeline_core::Spec;
use pipeline_core::generator::{DEFAULT_TICKERS, GeneratorConfig};
use pipeline_kafka::KafkaSettings;
use processor::local::{LocalOptions, render_summary};
use processor::{Delivery, Engine, EngineConfig};

#[derive(Parser)]
#[command(
    version,
    about = "The stream processor: ticks in; aggregates and dead letters out, exactly once."
)]
struct Cli {
    /// The pipeline spec [default: config/pipeline.toml, else the built-in stock-ticks spec]
    #[arg(long, global = true)]
    spec: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole pipeline on this machine: embedded broker, generated ticks, processor,
    /// and the aggregates and dead letters written to files.
    Local {
        /// Ticks to generate.
        #[arg(long, default_value_t = 200_000)]
        events: u64,
        /// Ticks per second of simulated event time.
        #[arg(long, default_value_t = 1_000)]
        rate: u64,
        /// Comma-separated tickers.
        #[arg(long, value_delimiter = ',', default_values_t = DEFAULT_TICKERS.map(String::from))]
        tickers: Vec<String>,
        /// Share of deliberately broken ticks (0–1).
        #[arg(long, default_value_t = 0.01)]
        malformed: f64,
        /// Share of ticks delivered up to 5 s out of order (0–1).
        #[arg(long, default_value_t = 0.05)]
        disorder: f64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Partitions of the input and output topics.
        #[arg(long, default_value_t = 3)]
        partitions: i32,
        /// Where to write aggregates.jsonl and dead-letters.jsonl.
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// Use a Kafka broker on this machine (host:port) instead of the embedded one.
        #[arg(long)]
        brokers: Option<String>,
        #[arg(long, value_enum, default_value_t = Delivery::ExactlyOnce)]
        delivery: Delivery,
    },
    /// Run the processor against a broker until SIGTERM or SIGINT.
    Run {
        /// host:port[,host:port…] on this machine.
        #[arg(long)]
        brokers: String,
        #[arg(long, default_value = "processor")]
        group: String,
        #[arg(long, value_enum, default_value_t = Delivery::ExactlyOnce)]
        delivery: Delivery,
    },
}

fn load_spec(path: Option<PathBuf>) -> anyhow::Result<Spec> {
    let default = PathBuf::from("config/pipeline.toml");
    match path {
        Some(path) => Ok(Spec::load(path)?),
        None if default.exists() => Ok(Spec::load(default)?),
        None => Ok(Spec::from_toml(
            pipeline_core::STOCK_TICKS_SPEC,
            "built-in stock-ticks spec",
        )?),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("processor: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let spec = Arc::new(load_spec(cli.spec)?);
    match cli.command {
        Command::Local {
            events,
            rate,
            tickers,
            malformed,
            disorder,
            seed,
            partitions,
            out,
            brokers,
            delivery,
        } => {
            let options = LocalOptions {
                spec,
                brokers,
                delivery,
                events,
                rate,
                generator: GeneratorConfig {
                    tickers,
                    seed,
                    malformed_share: malformed,
                    disorder_share: disorder,
                    max_disorder_ms: 5_000,
                },
                partitions,
                out_dir: out,
                progress: true,
            };
            let summary = processor::local::run(&options)?;
            print!("{}", render_summary(&summary));
            Ok(())
        }
        Command::Run {
            brokers,
            group,
            delivery,
        } => {
            let stop = Arc::new(AtomicBool::new(false));
            for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
                signal_hook::flag::register(signal, Arc::clone(&stop))
                    .context("installing the signal handler")?;
            }
            let settings = KafkaSettings::local(brokers);
            let mut engine =
                Engine::start(spec, &settings, None, EngineConfig::new(group, delivery))?;
            while !stop.load(Ordering::Relaxed) {
                engine.run_batch()?;
            }
            eprintln!("processor: stopping; {:?}", engine.stats());
            Ok(())
        }
    }
}
