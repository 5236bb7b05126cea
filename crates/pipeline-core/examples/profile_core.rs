//! Runs the general core over generated events of a shipped spec, for a profiler:
//! `cargo run --release -p pipeline-core --example profile_core -- stock-ticks 1000000 [rounds]`.
//! The events are generated as the core benchmark's are: 1 % broken, 5 % up to 5 s out of
//! order, the spec's own number of keys.
use pipeline_core::generator::{EventGenerator, GeneratorConfig};
use pipeline_core::{Partition, Record, Spec};

fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "stock-ticks".into());
    let n: i64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let spec = Spec::from_toml(
        pipeline_core::shipped_spec(&name).unwrap_or_default(),
        &name,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut generator = EventGenerator::new(
        &spec,
        GeneratorConfig {
            malformed_share: 0.01,
            disorder_share: 0.05,
            max_disorder_ms: 5_000,
            ..GeneratorConfig::default()
        },
    );
    let mut payloads = Vec::new();
    let mut buf = Vec::new();
    for i in 0..n {
        generator.next_into(1_795_271_400_000 + i, &mut buf);
        payloads.push(buf.clone());
    }
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let mut rates = Vec::new();
    let mut bytes = 0;
    for _ in 0..rounds.max(1) {
        let started = std::time::Instant::now();
        bytes = run(&spec, &payloads);
        rates.push(n as f64 / started.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "{name}: {:.0} events/s, median of {} (min {:.0}, max {:.0}; {bytes} bytes of aggregates)",
        rates[rates.len() / 2],
        rates.len(),
        rates[0],
        rates[rates.len() - 1],
    );
}

#[inline(never)]
fn run(spec: &Spec, payloads: &[Vec<u8>]) -> usize {
    let mut partition = Partition::new(spec);
    let mut closed = Vec::new();
    let mut bytes = 0;
    for (i, p) in payloads.iter().enumerate() {
        let record = Record {
            offset: i as i64,
            timestamp_ms: 1_795_271_400_000 + i as i64,
            payload: Some(p),
        };
        partition.process(record, &mut closed);
        bytes += closed
            .drain(..)
            .map(|a| a.to_json(spec).len())
            .sum::<usize>();
    }
    bytes
}
