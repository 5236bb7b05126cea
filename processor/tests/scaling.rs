//! What autoscaling tracks, under a steady input: the processor's own lag (`ConsumerLagTotal`:
//! records on its partitions it has not taken in yet) falls to zero once it keeps up, while the
//! lag of its committed offsets (what MSK's `SumOffsetLag` reports) stays at least the open
//! window's records, because the committed offset never passes the first event of an open
//! window. A target-tracking policy on the first scales in when the input is steady; on the
//! second it would hold tasks for the open window. (The policy itself is pinned by
//! `infra/tests/stack.tftest.hcl`; docs/deploy.md works the numbers for prod.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{cluster, engine, inputs, produce};
use processor::metrics::{EmfReporter, MetricsConfig, Observation};
use rdkafka::consumer::{BaseConsumer, Consumer};

#[test]
fn under_a_steady_input_the_tracked_lag_is_zero_while_the_committed_lag_holds_the_open_window() {
    let cluster = cluster();
    // 150 of the 180 seconds: the 14:32 windows are open (30 s of ticks on each partition).
    let inputs = inputs();
    let steady: Vec<_> = inputs
        .into_iter()
        .filter(|i| i.timestamp_ms < common::BASE_MS + 150_000)
        .collect();
    produce(&cluster.settings, "ticks", &steady);
    let mut engine = engine(&cluster.settings, "scaling");
    let end = |p: i32| steady.iter().filter(|i| i.partition == p).count() as i64;
    let deadline = Instant::now() + Duration::from_secs(60);
    while engine.high_waters().len() < 3 || engine.high_waters().iter().any(|(p, hw)| *hw < end(*p))
    {
        assert!(Instant::now() < deadline, "stalled: {:?}", engine.stats());
        engine.run_batch().unwrap();
    }

    // What each task reports and the policy averages: nothing waits.
    let lag = engine.lag(Duration::from_secs(10));
    let observation = Observation {
        stats: engine.stats().clone(),
        lag: lag.clone(),
        assigned: engine.assigned().len(),
        ..Observation::default()
    };
    let line = EmfReporter::new(MetricsConfig::default()).report(0, &observation)[0].clone();
    let main: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(main["ConsumerLagTotal"], 0, "{line}");

    // What the committed offsets say: at least the open window's 30 ticks a partition behind.
    let reader: BaseConsumer = cluster.settings.client_config().unwrap().create().unwrap();
    let mut committed_lag = 0;
    for (partition, handed) in engine.handed_offsets() {
        let (_, high) = reader
            .fetch_watermarks("ticks", *partition, Duration::from_secs(10))
            .unwrap();
        let behind = high - handed.offset;
        assert!(
            behind >= 30,
            "partition {partition}: the committed offset trails by the open window, {behind}"
        );
        committed_lag += behind;
    }
    assert!(committed_lag >= 90, "{committed_lag}");
}
