//! The core over a file of events, for comparisons with other engines on the same input
//! (`./scripts/bench flink`):
//!
//! ```text
//! cargo run --release -p pipeline-core --example from_file -- write EVENTS.jsonl N [RATE] [DISORDER]
//!     # N generated stock ticks, valid, RATE a second of event time (1,000), DISORDER of them
//!     # up to 5 s out of order (0.05); prints the stream's end (epoch ms)
//! cargo run --release -p pipeline-core --example from_file -- read EVENTS.jsonl END_MS OUT.jsonl
//!     # every line through one partition of the core (record timestamps END_MS), aggregates to
//!     # OUT.jsonl; prints `events N cpu_s C wall_s W`
//! ```
//!
//! CPU time is the process's (user + system, from /proc/self/stat) over the reading,
//! processing and writing, the same span the Flink job's CPU time covers.

use std::io::{BufRead as _, BufWriter, Write as _};
use std::process::ExitCode;
use std::time::Instant;

use pipeline_core::generator::{EventGenerator, GeneratorConfig};
use pipeline_core::{Partition, Record, STOCK_TICKS_SPEC, Spec};

/// This process's CPU seconds so far (Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which may hold spaces), in brackets.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime, fields 14 and 15 of stat(5), in clock ticks of 1/100 s on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

fn spec() -> std::io::Result<Spec> {
    Spec::from_toml(STOCK_TICKS_SPEC, "stock-ticks")
        .map_err(|e| std::io::Error::other(format!("the built-in spec: {e}")))
}

fn write(path: &str, events: u64, rate: u64, disorder: f64) -> std::io::Result<()> {
    let spec = spec()?;
    let mut generator = EventGenerator::new(
        &spec,
        GeneratorConfig {
            disorder_share: disorder,
            max_disorder_ms: 5_000,
            ..GeneratorConfig::default()
        },
    );
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    let mut payload = Vec::new();
    let end_ms = chrono::Utc::now().timestamp_millis();
    let start_ms = end_ms - (events * 1_000 / rate) as i64;
    for i in 0..events {
        generator.next_into(start_ms + (i * 1_000 / rate) as i64, &mut payload);
        out.write_all(&payload)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    println!("{end_ms}");
    Ok(())
}

fn read(path: &str, end_ms: i64, out_path: &str) -> std::io::Result<()> {
    let spec = spec()?;
    let (cpu, wall) = (cpu_seconds(), Instant::now());
    let mut partition = Partition::new(&spec);
    let mut closed = Vec::new();
    let mut out = BufWriter::new(std::fs::File::create(out_path)?);
    let mut events = 0u64;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let payload = line.strip_suffix(b"\n").unwrap_or(&line);
        let record = Record {
            offset: events as i64,
            timestamp_ms: end_ms,
            payload: Some(payload),
        };
        partition.process(record, &mut closed);
        events += 1;
        for aggregate in closed.drain(..) {
            writeln!(out, "{}", aggregate.to_json(&spec))?;
        }
    }
    partition.close_all(&mut closed);
    for aggregate in closed.drain(..) {
        writeln!(out, "{}", aggregate.to_json(&spec))?;
    }
    out.flush()?;
    println!(
        "events {events} cpu_s {:.3} wall_s {:.3}",
        cpu_seconds() - cpu,
        wall.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number =
        |i: usize, default: f64| args.get(i).map_or(Some(default), |a| a.parse::<f64>().ok());
    let done = match args.first().map(String::as_str) {
        Some("write") if args.len() >= 3 => {
            match (number(2, 0.0), number(3, 1_000.0), number(4, 0.05)) {
                (Some(n), Some(rate), Some(disorder)) => {
                    write(&args[1], n as u64, (rate as u64).max(1), disorder)
                }
                _ => return usage(),
            }
        }
        Some("read") if args.len() == 4 => match args[2].parse() {
            Ok(end_ms) => read(&args[1], end_ms, &args[3]),
            Err(_) => return usage(),
        },
        _ => return usage(),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("from_file: {error}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: from_file write FILE N [RATE] [DISORDER] | read FILE END_MS OUT (see the top of examples/from_file.rs)"
    );
    ExitCode::from(2)
}
