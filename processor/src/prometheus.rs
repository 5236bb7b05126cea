//! The processor's metrics through the `metrics` facade, for a Prometheus server: the health
//! endpoint answers `GET /metrics` in the Prometheus text format (for EKS, Amazon Managed
//! Service for Prometheus or Grafana). The metrics are the catalogue's
//! ([`crate::metrics::CATALOGUE`]), under their Prometheus names, with `pipeline` and `service`
//! labels, and are updated with the EMF lines, at each metrics interval.

use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

use crate::metrics::{CATALOGUE, Kind, Observation, catalogued};

/// Bucket bounds of the commit latency histogram, in milliseconds.
const LATENCY_BUCKETS_MS: &[f64] = &[
    1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1_000.0, 2_500.0, 5_000.0, 10_000.0,
];

/// A recorder for the catalogue's metrics, labelled with the pipeline and service.
pub fn builder(pipeline: &str, service: &str) -> Result<PrometheusBuilder, BuildError> {
    let mut builder = PrometheusBuilder::new()
        .add_global_label("pipeline", pipeline)
        .add_global_label("service", service);
    for metric in CATALOGUE.iter().filter(|m| m.kind == Kind::Latency) {
        builder = builder
            .set_buckets_for_metric(Matcher::Full(metric.prometheus.into()), LATENCY_BUCKETS_MS)?;
    }
    Ok(builder)
}

/// Installs the recorder for the process and describes the catalogue's metrics; returns the
/// handle that renders the `/metrics` page.
pub fn install(pipeline: &str, service: &str) -> Result<PrometheusHandle, BuildError> {
    let handle = builder(pipeline, service)?.install_recorder()?;
    describe();
    Ok(handle)
}

/// Gives each catalogued metric its help text and unit (the `# HELP` and `# TYPE` lines).
pub fn describe() {
    for metric in CATALOGUE {
        let name = metric.prometheus;
        match metric.kind {
            Kind::Counter => metrics::describe_counter!(name, metric.help),
            Kind::Gauge => metrics::describe_gauge!(name, metric.help),
            Kind::Latency => {
                metrics::describe_histogram!(name, metrics::Unit::Milliseconds, metric.help)
            }
        }
    }
}

/// Records an observation into the facade (a no-op when no recorder is installed): counters
/// as the engine's running totals, gauges as they are now, each commit's latency.
pub fn record(observation: &Observation) {
    let readings = observation.readings();
    // A metric the catalogue splits by a label (DeadLetters by reason) is only recorded split:
    // an unlabelled total beside it would be counted twice by a sum.
    for (emf, total) in &readings.totals {
        let metric = catalogued(emf);
        if metric.split.is_none() {
            metrics::counter!(metric.prometheus).absolute(*total);
        }
    }
    // Every reason, seen or not, as in the EMF lines: a query or alert on one always has data.
    let dead = catalogued("DeadLetters");
    let label = dead.split.map_or("reason", |(_, label)| label);
    for (reason, total) in &readings.dead_letters {
        metrics::counter!(dead.prometheus, label => reason.code()).absolute(*total);
    }
    for (emf, value) in &readings.gauges {
        metrics::gauge!(catalogued(emf).prometheus).set(value.unwrap_or(0) as f64);
    }
    let lag = catalogued("ConsumerLag");
    let label = lag.split.map_or("partition", |(_, label)| label);
    for (partition, records) in &observation.lag {
        metrics::gauge!(lag.prometheus, label => partition.to_string()).set(*records as f64);
    }
    let latency = catalogued("CommitLatency").prometheus;
    for duration in &observation.commit_latencies {
        metrics::histogram!(latency).record(duration.as_secs_f64() * 1_000.0);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::time::Duration;

    use super::*;
    use crate::metrics::{EmfReporter, MetricsConfig};

    fn observation() -> Observation {
        let mut stats = crate::EngineStats {
            records_in: 1_000,
            filtered: 10,
            aggregates_out: 40,
            batches_committed: 7,
            ..crate::EngineStats::default()
        };
        stats.dead_letters.insert("late", 3);
        stats.dead_letters.insert("malformed", 2);
        Observation {
            stats,
            commit_latencies: vec![Duration::from_millis(3), Duration::from_millis(30)],
            lag: BTreeMap::from([(0, 5), (1, 12)]),
            open_windows: 4,
            assigned: 2,
            stranded_backlog: 0,
        }
    }

    /// The EMF lines carry exactly the catalogue's metrics, under the catalogue's dimensions.
    #[test]
    fn the_emf_lines_carry_the_catalogue() {
        let mut reporter = EmfReporter::new(MetricsConfig::default());
        let mut seen = BTreeSet::new();
        for line in reporter.report(0, &observation()) {
            let document: serde_json::Value = serde_json::from_str(&line).unwrap();
            let directive = &document["_aws"]["CloudWatchMetrics"][0];
            let dimensions: Vec<&str> = directive["Dimensions"][0]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_str().unwrap())
                .collect();
            for metric in directive["Metrics"].as_array().unwrap() {
                let name = metric["Name"].as_str().unwrap();
                let entry = catalogued(name);
                let split = dimensions.get(2).copied();
                assert!(
                    split.is_none() || split == entry.split.map(|(emf, _)| emf),
                    "{name} split by {split:?}"
                );
                seen.insert(name.to_owned());
            }
        }
        let catalogue: BTreeSet<String> = CATALOGUE.iter().map(|m| m.emf.to_owned()).collect();
        assert_eq!(seen, catalogue);
    }

    /// The `/metrics` page has every catalogued metric, typed, labelled and with its help.
    #[test]
    fn the_prometheus_page_carries_the_catalogue() {
        let recorder = builder("stock-ticks", "processor")
            .unwrap()
            .build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            describe();
            record(&observation());
        });
        let page = handle.render();
        for metric in CATALOGUE {
            let kind = match metric.kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
                Kind::Latency => "histogram",
            };
            assert!(
                page.contains(&format!("# TYPE {} {kind}", metric.prometheus)),
                "{} is not a {kind}:\n{page}",
                metric.prometheus
            );
            assert!(page.contains(&format!("# HELP {}", metric.prometheus)));
        }
        assert!(page.contains(
            r#"processor_records_in_total{pipeline="stock-ticks",service="processor"} 1000"#
        ));
        assert!(page.contains(
            r#"processor_dead_letters_total{pipeline="stock-ticks",service="processor",reason="late"} 3"#
        ));
        assert!(page.contains(
            r#"processor_partition_lag_records{pipeline="stock-ticks",service="processor",partition="1"} 12"#
        ));
        assert!(page.contains(
            r#"processor_commit_latency_ms_count{pipeline="stock-ticks",service="processor"} 2"#
        ));
    }
}
