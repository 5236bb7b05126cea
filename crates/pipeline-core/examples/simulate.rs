//! Checks a pipeline spec and runs events generated from it through the core, without Kafka.
//!
//! ```text
//! cargo run --release -p pipeline-core --example simulate -- [--spec config/pipelines/stock-ticks.toml]
//!     [--events 100000] [--rate 1000] [--malformed 0.01] [--disorder 0.05] [--seed 42]
//!     [--keys 4]
//! ```
//!
//! Aggregates go to stdout as JSON lines; a summary (counts, dead letters by reason, throughput)
//! goes to stderr. A bad spec prints every problem with its key and exits with status 2.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use pipeline_core::generator::{EventGenerator, GeneratorConfig};
use pipeline_core::{Outcome, Partition, Reason, Record, Spec};

struct Args {
    spec: String,
    events: u64,
    rate: u64,
    generator: GeneratorConfig,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        spec: "config/pipelines/stock-ticks.toml".into(),
        events: 100_000,
        rate: 1_000,
        generator: GeneratorConfig {
            malformed_share: 0.01,
            disorder_share: 0.05,
            max_disorder_ms: 5_000,
            ..GeneratorConfig::default()
        },
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |what: &str| {
            value
                .parse::<f64>()
                .map_err(|_| format!("{flag}: `{value}` is not {what}"))
        };
        match flag.as_str() {
            "--spec" => args.spec = value.clone(),
            "--events" => args.events = number("a count")? as u64,
            "--rate" => args.rate = (number("events per second")? as u64).max(1),
            "--malformed" => args.generator.malformed_share = number("a share from 0 to 1")?,
            "--disorder" => args.generator.disorder_share = number("a share from 0 to 1")?,
            "--seed" => args.generator.seed = number("a number")? as u64,
            "--keys" => args.generator.keys = Some(number("a count")? as usize),
            _ => {
                return Err(format!(
                    "unknown flag {flag}; see the top of examples/simulate.rs"
                ));
            }
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("simulate: {e}");
            return ExitCode::from(2);
        }
    };
    let spec = match Spec::load(&args.spec) {
        Ok(spec) => spec,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "spec {} ok: {} fields, {} window, allowed lateness {} ms, {} aggregate columns",
        args.spec,
        spec.event.fields.len(),
        pipeline_core::duration::format_millis(spec.window.size_ms),
        spec.window.allowed_lateness_ms,
        spec.aggregates.len()
    );

    let mut generator = EventGenerator::new(&spec, args.generator);
    let mut partition = Partition::new(&spec);
    let mut closed = Vec::new();
    let mut payload = Vec::new();
    let mut dead = [0u64; Reason::ALL.len()];
    let mut filtered = 0u64;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let start_ms = chrono::Utc::now().timestamp_millis();
    let started = Instant::now();
    let mut aggregates = 0u64;
    for i in 0..args.events {
        let now = start_ms + (i * 1_000 / args.rate) as i64;
        generator.next_into(now, &mut payload);
        let record = Record {
            offset: i as i64,
            timestamp_ms: now,
            payload: Some(&payload),
        };
        match partition.process(record, &mut closed) {
            Outcome::Rejected(r) => dead[r.reason as usize] += 1,
            Outcome::Filtered => filtered += 1,
            _ => {}
        }
        if i + 1 == args.events {
            partition.close_all(&mut closed);
        }
        for aggregate in closed.drain(..) {
            aggregates += 1;
            if writeln!(out, "{}", aggregate.to_json(&spec)).is_err() {
                return ExitCode::from(1);
            }
        }
    }
    drop(out);
    let elapsed = started.elapsed().as_secs_f64();
    let stats = partition.stats();
    eprintln!(
        "{} events in {elapsed:.2} s ({:.0}/s): {} aggregated into {aggregates} aggregates, {filtered} filtered out, {} dead letters",
        args.events,
        args.events as f64 / elapsed,
        stats.accepted,
        dead.iter().sum::<u64>()
    );
    for reason in Reason::ALL {
        if dead[reason as usize] > 0 {
            eprintln!("  {:<14} {}", reason.code(), dead[reason as usize]);
        }
    }
    ExitCode::SUCCESS
}
