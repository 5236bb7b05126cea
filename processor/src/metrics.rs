//! Metrics as CloudWatch Embedded Metric Format (EMF): one JSON document a line on stdout, which
//! the awslogs driver ships to CloudWatch Logs, where CloudWatch turns them into metrics with
//! no agent and no API calls.
//!
//! Each report covers the interval since the one before: counters are deltas, gauges are the
//! value now. Every line carries the `Pipeline` (the spec's name) and `Service` dimensions; three
//! kinds of line, by their further dimensions:
//! - none: `RecordsIn`, `EventsFiltered` (valid events the spec's `where` left out),
//!   `RecordsOut`, `WindowsEmitted`, `DeadLetters`, `LateEvents`, `IdleAdvances` (quiet
//!   partitions whose watermark the clock moved),
//!   `BatchesCommitted`, `CommitsDeferred`, `OpenWindows`, `AssignedPartitions`,
//!   `ConsumerLagTotal` (records not yet handled on this instance's partitions: what autoscaling
//!   tracks, averaged over the tasks), `ConsumerLagMax`, `StrandedBacklog` (the group's
//!   uncommitted records while this instance holds no partitions and nothing moves; 0 normally),
//!   and `CommitLatency` (milliseconds, one value per commit, at most 100 a line: more go on
//!   further lines);
//! - `Reason`: `DeadLetters` for each reject reason;
//! - `Partition`: `ConsumerLag` for each assigned input partition.

use std::collections::BTreeMap;
use std::time::Duration;

use pipeline_core::Reason;
use serde_json::{Map, Value, json};

use crate::engine::EngineStats;

/// How a metric behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Counts events: a delta per interval in EMF, a running total in Prometheus.
    Counter,
    /// A value now.
    Gauge,
    /// Milliseconds, one value per occurrence: EMF lists them, Prometheus buckets them.
    Latency,
}

/// One metric of the processor, as both outputs name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// The CloudWatch (EMF) name, in the namespace of the `Pipeline` and `Service` dimensions.
    pub emf: &'static str,
    /// The Prometheus name, with `pipeline` and `service` labels.
    pub prometheus: &'static str,
    pub kind: Kind,
    /// The dimension that splits it (EMF name, Prometheus label), if any.
    pub split: Option<(&'static str, &'static str)>,
    pub help: &'static str,
}

const fn metric(
    emf: &'static str,
    prometheus: &'static str,
    kind: Kind,
    split: Option<(&'static str, &'static str)>,
    help: &'static str,
) -> Metric {
    Metric {
        emf,
        prometheus,
        kind,
        split,
        help,
    }
}

/// The processor's metrics: what the EMF lines and the Prometheus endpoint carry, and what
/// the dashboards (CloudWatch's in Terraform, Grafana's in `infra/grafana/`) and
/// docs/operations/metrics.md may name. Tests hold each of those to it.
pub const CATALOGUE: &[Metric] = &[
    metric(
        "RecordsIn",
        "processor_records_in_total",
        Kind::Counter,
        None,
        "Records taken from the input topic.",
    ),
    metric(
        "EventsFiltered",
        "processor_events_filtered_total",
        Kind::Counter,
        None,
        "Valid events the spec's `where` left out.",
    ),
    metric(
        "RecordsOut",
        "processor_records_out_total",
        Kind::Counter,
        None,
        "Aggregates and dead letters sent.",
    ),
    metric(
        "WindowsEmitted",
        "processor_windows_emitted_total",
        Kind::Counter,
        None,
        "Aggregates sent (windows closed).",
    ),
    metric(
        "DeadLetters",
        "processor_dead_letters_total",
        Kind::Counter,
        Some(("Reason", "reason")),
        "Events sent to the dead-letter topic, by reason (EMF also carries the total).",
    ),
    metric(
        "LateEvents",
        "processor_late_events_total",
        Kind::Counter,
        None,
        "Events for windows already closed (dead-lettered as late).",
    ),
    metric(
        "BatchesCommitted",
        "processor_batches_committed_total",
        Kind::Counter,
        None,
        "Batches made durable (transactions, or flush and offset commit).",
    ),
    metric(
        "CommitsDeferred",
        "processor_commits_deferred_total",
        Kind::Counter,
        None,
        "At-least-once commits refused during a rebalance, left to the next.",
    ),
    metric(
        "IdleAdvances",
        "processor_idle_advances_total",
        Kind::Counter,
        None,
        "Quiet partitions whose watermark the clock moved.",
    ),
    metric(
        "OpenWindows",
        "processor_open_windows",
        Kind::Gauge,
        None,
        "Windows open on this instance's partitions.",
    ),
    metric(
        "AssignedPartitions",
        "processor_assigned_partitions",
        Kind::Gauge,
        None,
        "Input partitions this instance holds.",
    ),
    metric(
        "ConsumerLagTotal",
        "processor_consumer_lag_records",
        Kind::Gauge,
        None,
        "Records not yet handled on this instance's partitions (what autoscaling tracks).",
    ),
    metric(
        "ConsumerLagMax",
        "processor_consumer_lag_max_records",
        Kind::Gauge,
        None,
        "The largest lag of one of this instance's partitions.",
    ),
    metric(
        "ConsumerLag",
        "processor_partition_lag_records",
        Kind::Gauge,
        Some(("Partition", "partition")),
        "Records behind the end of an assigned input partition, from the last record taken in.",
    ),
    metric(
        "StrandedBacklog",
        "processor_stranded_backlog_records",
        Kind::Gauge,
        None,
        "The group's uncommitted records while this instance holds no partitions and nothing moves (0 normally).",
    ),
    metric(
        "CommitLatency",
        "processor_commit_latency_ms",
        Kind::Latency,
        None,
        "Milliseconds each commit took.",
    ),
];

/// The catalogue's entry for the EMF name `emf`.
///
/// # Panics
/// If the catalogue has no such metric: a programming error the catalogue tests catch.
pub fn catalogued(emf: &str) -> &'static Metric {
    CATALOGUE
        .iter()
        .find(|m| m.emf == emf)
        .unwrap_or_else(|| panic!("{emf} is not in the metrics catalogue"))
}

/// EMF allows at most 100 values for one metric in one document.
const MAX_VALUES: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// The CloudWatch namespace.
    pub namespace: String,
    /// The value of the `Pipeline` dimension: the spec's name.
    pub pipeline: String,
    /// The value of the `Service` dimension.
    pub service: String,
    /// How often to report.
    pub interval: Duration,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            namespace: "StreamingPipeline".into(),
            pipeline: "pipeline".into(),
            service: "processor".into(),
            interval: Duration::from_secs(60),
        }
    }
}

/// What the engine looks like now.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    pub stats: EngineStats,
    /// One per commit since the last report.
    pub commit_latencies: Vec<Duration>,
    pub lag: BTreeMap<i32, i64>,
    pub open_windows: usize,
    pub assigned: usize,
    /// The group's backlog while this instance is stranded (`service::Stranded`), else 0.
    pub stranded_backlog: i64,
}

/// What an observation reads as, by the catalogue's (EMF) names: the one derivation both the
/// EMF lines (as deltas between readings) and the Prometheus page (as they are) report, so the
/// two cannot disagree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Readings {
    /// Counters: running totals since the engine started.
    pub totals: Vec<(&'static str, u64)>,
    /// Dead letters by reason, every reason (zero when none), running totals.
    pub dead_letters: Vec<(Reason, u64)>,
    /// Gauges: values now; `None` when there is nothing to measure (no partition's lag).
    pub gauges: Vec<(&'static str, Option<i64>)>,
}

impl Readings {
    fn total(&self, name: &str) -> u64 {
        self.totals
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, v)| *v)
    }

    fn dead(&self, reason: Reason) -> u64 {
        self.dead_letters
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, v)| *v)
    }
}

impl Observation {
    pub fn readings(&self) -> Readings {
        let stats = &self.stats;
        let dead_letters: Vec<(Reason, u64)> = Reason::ALL
            .iter()
            .map(|r| (*r, stats.dead_letters.get(r.code()).copied().unwrap_or(0)))
            .collect();
        let dead = stats.dead_letters_total();
        let late = stats
            .dead_letters
            .get(Reason::Late.code())
            .copied()
            .unwrap_or(0);
        Readings {
            totals: vec![
                ("RecordsIn", stats.records_in),
                ("EventsFiltered", stats.filtered),
                ("RecordsOut", stats.aggregates_out + dead),
                ("WindowsEmitted", stats.aggregates_out),
                ("DeadLetters", dead),
                ("LateEvents", late),
                ("BatchesCommitted", stats.batches_committed),
                ("CommitsDeferred", stats.commits_deferred),
                ("IdleAdvances", stats.idle_advances),
            ],
            dead_letters,
            // Handled lag, not the committed offset's: the committed offset trails by the open
            // windows (a minute of input with one-minute windows) even when nothing waits.
            gauges: vec![
                ("OpenWindows", Some(self.open_windows as i64)),
                ("AssignedPartitions", Some(self.assigned as i64)),
                ("ConsumerLagTotal", Some(self.lag.values().sum::<i64>())),
                ("ConsumerLagMax", self.lag.values().max().copied()),
                ("StrandedBacklog", Some(self.stranded_backlog)),
            ],
        }
    }
}

/// Turns successive observations into EMF lines.
#[derive(Debug)]
pub struct EmfReporter {
    config: MetricsConfig,
    /// The last report's readings: counters are reported as the change since.
    last: Readings,
}

impl EmfReporter {
    pub fn new(config: MetricsConfig) -> Self {
        Self {
            config,
            last: Readings::default(),
        }
    }

    pub fn config(&self) -> &MetricsConfig {
        &self.config
    }

    /// The lines for the interval ending at `now_ms` (milliseconds since the epoch).
    pub fn report(&mut self, now_ms: i64, now: &Observation) -> Vec<String> {
        let readings = now.readings();
        let last = &self.last;
        // Counters only grow while the engine lives; saturate rather than wrap if handed an
        // older observation.
        let mut counters: Vec<(&str, &str, Value)> = readings
            .totals
            .iter()
            .map(|(name, total)| {
                let delta = total.saturating_sub(last.total(name));
                (*name, "Count", json!(delta))
            })
            .collect();
        counters.extend(
            readings
                .gauges
                .iter()
                .filter_map(|(name, value)| Some((*name, "Count", json!((*value)?)))),
        );
        let latencies: Vec<f64> = now
            .commit_latencies
            .iter()
            .map(|d| (d.as_secs_f64() * 1_000.0 * 1_000.0).round() / 1_000.0)
            .collect();
        let mut chunks = latencies.chunks(MAX_VALUES);
        if let Some(first) = chunks.next() {
            counters.push(("CommitLatency", "Milliseconds", json!(first)));
        }
        let mut lines = vec![self.document(now_ms, &[], counters)];
        for chunk in chunks {
            let metrics = vec![("CommitLatency", "Milliseconds", json!(chunk))];
            lines.push(self.document(now_ms, &[], metrics));
        }
        // Every reason, seen or not, so that an alarm on one always has data.
        for (r, total) in &readings.dead_letters {
            let count = total.saturating_sub(last.dead(*r));
            let metrics = vec![("DeadLetters", "Count", json!(count))];
            lines.push(self.document(now_ms, &[("Reason", r.code().into())], metrics));
        }
        for (partition, lag) in &now.lag {
            let metrics = vec![("ConsumerLag", "Count", json!(lag))];
            lines.push(self.document(now_ms, &[("Partition", partition.to_string())], metrics));
        }
        self.last = readings;
        lines
    }

    /// One EMF document: the `_aws` directive, the dimension values and the metric values.
    fn document(
        &self,
        now_ms: i64,
        dimensions: &[(&str, String)],
        metrics: Vec<(&str, &str, Value)>,
    ) -> String {
        let mut names = vec![Value::from("Pipeline"), Value::from("Service")];
        names.extend(dimensions.iter().map(|(name, _)| Value::from(*name)));
        let definitions: Vec<Value> = metrics
            .iter()
            .map(|(name, unit, _)| json!({"Name": name, "Unit": unit}))
            .collect();
        let mut document = Map::new();
        document.insert(
            "_aws".into(),
            json!({
                "Timestamp": now_ms,
                "CloudWatchMetrics": [{
                    "Namespace": self.config.namespace,
                    "Dimensions": [names],
                    "Metrics": definitions,
                }],
            }),
        );
        document.insert("Pipeline".into(), json!(self.config.pipeline));
        document.insert("Service".into(), json!(self.config.service));
        for (name, value) in dimensions {
            document.insert((*name).into(), json!(value));
        }
        for (name, _, value) in metrics {
            document.insert(name.into(), value);
        }
        Value::Object(document).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observation(records_in: u64, late: u64, aggregates: u64) -> Observation {
        let mut stats = EngineStats {
            records_in,
            filtered: records_in / 10,
            aggregates_out: aggregates,
            batches_committed: 2,
            ..EngineStats::default()
        };
        stats.dead_letters.insert("late", late);
        stats.dead_letters.insert("malformed", 1);
        Observation {
            stats,
            commit_latencies: vec![Duration::from_micros(2_500), Duration::from_millis(7)],
            lag: BTreeMap::from([(0, 5), (2, 40)]),
            open_windows: 3,
            assigned: 2,
            stranded_backlog: 0,
        }
    }

    fn parse(line: &str) -> Value {
        serde_json::from_str(line).unwrap()
    }

    /// Every metric a directive names has a value in its document, under the right dimensions,
    /// as CloudWatch requires to extract it.
    fn assert_valid(doc: &Value) {
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "StreamingPipeline");
        assert!(doc["_aws"]["Timestamp"].is_i64());
        for set in directive["Dimensions"].as_array().unwrap() {
            for name in set.as_array().unwrap() {
                assert!(doc[name.as_str().unwrap()].is_string(), "{doc}");
            }
        }
        for metric in directive["Metrics"].as_array().unwrap() {
            let value = &doc[metric["Name"].as_str().unwrap()];
            assert!(value.is_number() || value.is_array(), "{doc}");
        }
    }

    #[test]
    fn reports_deltas_per_interval_and_gauges_as_they_are() {
        let mut reporter = EmfReporter::new(MetricsConfig::default());
        let first = reporter.report(1_000, &observation(100, 2, 10));
        let second = reporter.report(61_000, &observation(250, 5, 12));
        for line in first.iter().chain(&second) {
            assert!(!line.contains('\n'));
            assert_valid(&parse(line));
        }
        let main = parse(&second[0]);
        assert_eq!(main["Service"], "processor");
        assert_eq!(main["Pipeline"], "pipeline");
        assert_eq!(main["RecordsIn"], 150);
        assert_eq!(main["EventsFiltered"], 15);
        assert_eq!(main["WindowsEmitted"], 2);
        assert_eq!(main["LateEvents"], 3);
        assert_eq!(main["DeadLetters"], 3);
        assert_eq!(main["RecordsOut"], 5);
        assert_eq!(main["BatchesCommitted"], 0);
        assert_eq!(main["OpenWindows"], 3);
        assert_eq!(main["ConsumerLagMax"], 40);
        assert_eq!(main["ConsumerLagTotal"], 45);
        assert_eq!(main["StrandedBacklog"], 0);
        assert_eq!(main["CommitLatency"], json!([2.5, 7.0]));
        assert_eq!(main["_aws"]["Timestamp"], 61_000);

        let by_reason: BTreeMap<String, u64> = second
            .iter()
            .map(|l| parse(l))
            .filter(|d| d["Reason"].is_string())
            .map(|d| {
                (
                    d["Reason"].as_str().unwrap().to_owned(),
                    d["DeadLetters"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            by_reason.len(),
            Reason::ALL.len(),
            "every reason, every time"
        );
        assert_eq!(by_reason["late"], 3);
        assert_eq!(by_reason["malformed"], 0);
        assert_eq!(by_reason["too_large"], 0);

        let lag: Vec<(String, i64)> = second
            .iter()
            .map(|l| parse(l))
            .filter(|d| d["Partition"].is_string())
            .map(|d| {
                (
                    d["Partition"].as_str().unwrap().to_owned(),
                    d["ConsumerLag"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(lag, vec![("0".into(), 5), ("2".into(), 40)]);
    }

    #[test]
    fn more_than_a_hundred_commit_latencies_spill_onto_further_lines() {
        let mut reporter = EmfReporter::new(MetricsConfig::default());
        let mut now = observation(1, 0, 0);
        now.commit_latencies = vec![Duration::from_millis(1); 250];
        let lines = reporter.report(0, &now);
        let counts: Vec<usize> = lines
            .iter()
            .map(|l| parse(l))
            .filter_map(|d| d["CommitLatency"].as_array().map(Vec::len))
            .collect();
        assert_eq!(counts, vec![100, 100, 50]);
        let no_commits = reporter.report(1, &Observation::default());
        let idle = parse(&no_commits[0]);
        assert!(idle.get("CommitLatency").is_none());
        // No partitions: the lag autoscaling averages is 0, not missing.
        assert_eq!(idle["ConsumerLagTotal"], 0);
    }
}
