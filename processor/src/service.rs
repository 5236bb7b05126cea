//! `processor run`: the long-running service. Runs the engine batch after batch until told to
//! stop, keeps the health endpoint's state current, reports metrics, and on SIGTERM or SIGINT
//! (what ECS sends) stops fetching, lets the batch in hand commit, and leaves the group, within
//! a bounded time.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pipeline_core::Spec;
use pipeline_kafka::{IamContext, KafkaSettings};

use crate::engine::{Engine, EngineConfig, EngineError, EngineStats};
use crate::health::Health;
use crate::metrics::{EmfReporter, MetricsConfig, Observation};
use crate::sink::Forwarder;

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub engine: EngineConfig,
    pub metrics: MetricsConfig,
    /// Bound on asking the broker for each partition's end offset when reporting lag.
    pub lag_timeout: Duration,
}

/// Runs until `stop` is set or a batch fails. Each committed batch's aggregates go to `sink`
/// when there is one; on the way out, what it has queued is delivered before returning.
/// Metrics go to `metrics_out` (stdout in a container) at each interval and once more at the
/// end. Dropping the engine at the end closes the consumer, which leaves the group so that the
/// partitions move at once.
#[allow(clippy::too_many_arguments)]
pub fn run(
    spec: Arc<Spec>,
    settings: &KafkaSettings,
    iam: Option<IamContext>,
    mut config: ServiceConfig,
    sink: Option<Forwarder>,
    stop: &AtomicBool,
    health: &Health,
    metrics_out: &mut dyn Write,
) -> Result<EngineStats, EngineError> {
    config.engine.keep_committed_aggregates = sink.is_some();
    let mut engine = Engine::start(spec, settings, iam, config.engine.clone())?;
    health.set_started();
    tracing::info!(
        group = %config.engine.group_id,
        delivery = ?config.engine.delivery,
        transactional_id = %config.engine.transactional_id,
        "processor started"
    );
    let mut reporter = EmfReporter::new(config.metrics.clone());
    let mut next_report = Instant::now() + config.metrics.interval;
    let result = loop {
        if stop.load(Ordering::Acquire) {
            break Ok(());
        }
        if let Err(error) = engine.run_batch() {
            break Err(error);
        }
        if let Some(sink) = &sink
            && let Err(error) = sink.forward(engine.take_committed_aggregates())
        {
            break Err(error.into());
        }
        health.beat(engine.assigned().len());
        if Instant::now() >= next_report {
            report(
                &mut engine,
                sink.as_ref(),
                &mut reporter,
                config.lag_timeout,
                metrics_out,
            );
            next_report = Instant::now() + config.metrics.interval;
        }
    };
    health.set_stopping();
    let stats = engine.stats().clone();
    // Leave the group first, so the partitions move while the sink drains.
    let mut last = Observation {
        stats: stats.clone(),
        commit_latencies: engine.take_commit_latencies(),
        lag: engine.lag(config.lag_timeout),
        open_windows: engine.open_windows(),
        assigned: engine.assigned().len(),
        sink: None,
    };
    drop(engine);
    if let Some(sink) = sink {
        let counts = sink.finish();
        tracing::info!(sent = counts.sent, failed = counts.failed, "sink drained");
        last.sink = Some(counts);
    }
    write_report(&mut reporter, &last, metrics_out);
    match result {
        Ok(()) => {
            tracing::info!(
                records_in = stats.records_in,
                aggregates_out = stats.aggregates_out,
                dead_letters = stats.dead_letters_total(),
                "processor stopped; left the group"
            );
            Ok(stats)
        }
        Err(error) => Err(error),
    }
}

fn report(
    engine: &mut Engine,
    sink: Option<&Forwarder>,
    reporter: &mut EmfReporter,
    lag_timeout: Duration,
    out: &mut dyn Write,
) {
    let observation = Observation {
        stats: engine.stats().clone(),
        commit_latencies: engine.take_commit_latencies(),
        lag: engine.lag(lag_timeout),
        open_windows: engine.open_windows(),
        assigned: engine.assigned().len(),
        sink: sink.map(Forwarder::counts),
    };
    write_report(reporter, &observation, out);
}

fn write_report(reporter: &mut EmfReporter, observation: &Observation, out: &mut dyn Write) {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let written = reporter
        .report(now_ms, observation)
        .iter()
        .try_for_each(|line| writeln!(out, "{line}"))
        .and_then(|()| out.flush());
    if let Err(error) = written {
        tracing::warn!(%error, "could not write metrics");
    }
}

/// Stops the service on SIGTERM or SIGINT, and bounds how long stopping may take: if the
/// service has not finished `timeout` after the signal, the process exits at once with status
/// 2. Nothing is lost that way either: whatever was not committed is read again by the next
/// owner of the partitions.
#[derive(Debug)]
pub struct Shutdown {
    stop: Arc<AtomicBool>,
    /// Dropped when the service has finished, which ends the watchdog's wait.
    _finished: mpsc::Sender<()>,
}

/// The exit status when stopping took longer than its bound.
pub const EXIT_SHUTDOWN_TIMEOUT: i32 = 2;

impl Shutdown {
    pub fn on_signals(timeout: Duration) -> std::io::Result<Self> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let stop = Arc::new(AtomicBool::new(false));
        let (finished, wait) = mpsc::channel::<()>();
        let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])?;
        let flag = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("shutdown".into())
            .spawn(move || {
                let Some(signal) = signals.forever().next() else {
                    return;
                };
                flag.store(true, Ordering::Release);
                tracing::info!(
                    signal,
                    timeout_ms = timeout.as_millis() as u64,
                    "stopping: finishing the batch in hand, then leaving the group"
                );
                if let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(timeout) {
                    tracing::error!(
                        timeout_ms = timeout.as_millis() as u64,
                        "stopping took longer than allowed; exiting now (uncommitted work \
                         is read again by the next owner)"
                    );
                    std::process::exit(EXIT_SHUTDOWN_TIMEOUT);
                }
            })?;
        Ok(Self {
            stop,
            _finished: finished,
        })
    }

    /// Set once a signal has arrived.
    pub fn flag(&self) -> &AtomicBool {
        &self.stop
    }
}
