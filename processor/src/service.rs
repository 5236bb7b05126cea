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

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub engine: EngineConfig,
    pub metrics: MetricsConfig,
    /// Bound on asking the broker for each partition's end offset when reporting lag.
    pub lag_timeout: Duration,
    /// How long this instance may hold no partitions while its group's input has records that
    /// nobody commits before it reports itself stranded (see [`Stranded`]).
    pub stranded_after: Duration,
}

/// Runs until `stop` is set or a batch fails. Metrics go to `metrics_out` (stdout in a
/// container) at each interval and once more at the end. Dropping the engine at the end closes
/// the consumer, which leaves the group so that the partitions move at once.
///
/// Nothing is kept in memory past a commit: aggregates reach the lake and the Feature Group by
/// being read from the output topic (Firehose's MSK source, the feature-writer's trigger).
#[allow(clippy::too_many_arguments)]
pub fn run(
    spec: Arc<Spec>,
    settings: &KafkaSettings,
    iam: Option<IamContext>,
    registry: Option<pipeline_registry::Resolver>,
    config: ServiceConfig,
    stop: &AtomicBool,
    health: &Health,
    metrics_out: &mut dyn Write,
) -> Result<EngineStats, EngineError> {
    let mut engine = Engine::start(spec, settings, iam, config.engine.clone())?;
    engine.set_registry(registry);
    health.set_started();
    tracing::info!(
        group = %config.engine.group_id,
        delivery = ?config.engine.delivery,
        transactional_id = %config.engine.transactional_id,
        max_poll_interval_ms = config.engine.max_poll_interval.as_millis() as u64,
        transaction_timeout_ms = config.engine.transaction_timeout.as_millis() as u64,
        "processor started"
    );
    let mut reporter = EmfReporter::new(config.metrics.clone());
    let mut next_report = Instant::now() + config.metrics.interval;
    let mut stranded = Stranded::new(config.stranded_after);
    let result = loop {
        if stop.load(Ordering::Acquire) {
            break Ok(());
        }
        if let Err(error) = engine.run_batch() {
            break Err(error);
        }
        let assigned = engine.assigned().len();
        health.beat(assigned);
        stranded.watch(&engine, assigned, Instant::now(), config.lag_timeout);
        health.set_stranded(stranded.behind().is_some());
        if Instant::now() >= next_report {
            let observation = observe(&mut engine, &stranded, config.lag_timeout);
            write_report(&mut reporter, &observation, metrics_out);
            next_report = Instant::now() + config.metrics.interval;
        }
    };
    health.set_stopping();
    let stats = engine.stats().clone();
    let last = observe(&mut engine, &stranded, config.lag_timeout);
    drop(engine);
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

fn observe(engine: &mut Engine, stranded: &Stranded, lag_timeout: Duration) -> Observation {
    Observation {
        stats: engine.stats().clone(),
        commit_latencies: engine.take_commit_latencies(),
        lag: engine.lag(lag_timeout),
        open_windows: engine.open_windows(),
        assigned: engine.assigned().len(),
        stranded_backlog: stranded.behind().unwrap_or(0),
    }
}

/// An instance can join its group and be given no partitions while the partitions are held by
/// a member that is gone (seen on tansu after a `kill -9`: minutes, across restarts) and
/// nobody reads them. Such an instance looks healthy and does nothing. `Stranded` tells it
/// apart from an instance that is simply spare (more tasks than partitions): it holds no
/// partitions for `after`, the group has records beyond its committed offsets, and those
/// offsets did not move in that time. Then it is stranded: it warns, stops answering ready
/// and reports the backlog as a metric, until it is given partitions or the group moves on.
#[derive(Debug)]
pub struct Stranded {
    after: Duration,
    /// Since when no partitions have been held, and the group's committed sum then.
    idle_since: Option<(Instant, Option<i64>)>,
    next_check: Option<Instant>,
    /// Records behind, once stranded.
    behind: Option<i64>,
}

impl Stranded {
    pub fn new(after: Duration) -> Self {
        Self {
            after,
            idle_since: None,
            next_check: None,
            behind: None,
        }
    }

    /// The group's backlog while stranded, else `None`.
    pub fn behind(&self) -> Option<i64> {
        self.behind
    }

    /// Called after each batch cycle with the partitions held now.
    pub fn watch(&mut self, engine: &Engine, assigned: usize, now: Instant, timeout: Duration) {
        if assigned > 0 {
            if let Some(behind) = self.behind.take() {
                tracing::info!(
                    behind,
                    assigned,
                    "partitions assigned again; no longer stranded"
                );
            }
            self.idle_since = None;
            self.next_check = None;
            return;
        }
        let Some((since, baseline)) = self.idle_since else {
            let committed = engine.group_backlog(timeout).map(|b| b.committed);
            self.idle_since = Some((now, committed));
            self.next_check = Some(now + self.after);
            return;
        };
        if self.next_check.is_some_and(|at| now < at) {
            return;
        }
        // Checked once per bound: each check asks the broker for every partition's offsets.
        self.next_check = Some(now + self.after);
        let Some(backlog) = engine.group_backlog(timeout) else {
            return;
        };
        let moved = baseline != Some(backlog.committed);
        if backlog.behind == 0 || moved {
            // Nothing waits, or another member is making progress: spare, not stranded.
            if self.behind.take().is_some() {
                tracing::info!("the group is moving again; no longer stranded");
            }
            self.idle_since = Some((now, Some(backlog.committed)));
            return;
        }
        tracing::warn!(
            behind = backlog.behind,
            idle_secs = now.duration_since(since).as_secs(),
            "stranded: this instance holds no partitions while the group has {} records that \
             nobody has committed for {} s; another member (perhaps one that is gone) holds \
             them. Not ready until partitions are assigned; see the processor-stalled runbook",
            backlog.behind,
            now.duration_since(since).as_secs()
        );
        self.behind = Some(backlog.behind);
    }
}

fn write_report(reporter: &mut EmfReporter, observation: &Observation, out: &mut dyn Write) {
    crate::prometheus::record(observation);
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
