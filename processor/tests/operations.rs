//! The operations docs and the alarms agree: every alarm links a runbook that exists, every
//! runbook names alarms that exist, every metric an alarm or the autoscaling reads is in the
//! metrics catalogue, and every metric the catalogue says we emit is emitted by the code it
//! names.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use regex::Regex;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn captures(pattern: &str, text: &str) -> BTreeSet<String> {
    Regex::new(pattern)
        .unwrap()
        .captures_iter(text)
        .map(|c| c[1].to_owned())
        .collect()
}

/// The first two groups of each match.
fn captures2(pattern: &str, text: &str) -> BTreeSet<(String, String)> {
    Regex::new(pattern)
        .unwrap()
        .captures_iter(text)
        .map(|c| (c[1].to_owned(), c[2].to_owned()))
        .collect()
}

fn alarms_tf() -> String {
    read("infra/modules/observability/main.tf")
}

/// Alarm names without the `<project>-<env>-` prefix, as the Terraform defines them: a
/// pipeline's own with `<pipeline>-` before them, a pipeline's function's with
/// `<pipeline>-<crate>` after the alarm's kind.
fn alarm_names() -> BTreeSet<String> {
    let tf = alarms_tf();
    let shared_end = tf.find("metric_alarms = merge(").unwrap();
    let mut names = captures(r"(?m)^    ([a-z0-9-]+) = \{\n\s+runbook", &tf[..shared_end]);
    names.extend(
        captures(r"(?m)^    ([a-z0-9-]+) = \{\n\s+runbook", &tf[shared_end..])
            .into_iter()
            .map(|n| format!("<pipeline>-{n}")),
    );
    let functions = [
        "<pipeline>-producer",
        "<pipeline>-feature-writer",
        "<pipeline>-checker",
        "topic-creator",
    ];
    for kind in captures(r#""(lambda-[a-z-]+)-\$\{key\}" = \{"#, &tf) {
        names.extend(functions.iter().map(|f| format!("{kind}-{f}")));
    }
    names.extend(
        captures(
            r#"alarm_name\s*=\s*"\$\{var\.name\}-\$\{each\.key\}-([a-z0-9-]+)""#,
            &tf,
        )
        .into_iter()
        .map(|n| format!("<pipeline>-{n}")),
    );
    names
}

fn runbook_files() -> BTreeSet<String> {
    std::fs::read_dir(root().join("docs/operations/runbooks"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter_map(|f| f.strip_suffix(".md").map(str::to_owned))
        .collect()
}

#[test]
fn every_alarm_links_a_runbook_and_every_runbook_an_alarm() {
    let tf = alarms_tf();
    let linked: BTreeSet<String> = captures(r#"runbook\s*=\s*"([a-z0-9-]+)""#, &tf)
        .into_iter()
        .chain(captures(r"\$\{local\.runbook\}([a-z0-9-]+)\.md", &tf))
        .collect();
    let files = runbook_files();
    assert!(linked.len() >= 15, "{linked:?}");
    let missing: Vec<_> = linked.difference(&files).collect();
    assert!(
        missing.is_empty(),
        "alarms link runbooks that do not exist: {missing:?}"
    );
    let orphans: Vec<_> = files.difference(&linked).collect();
    assert!(orphans.is_empty(), "runbooks no alarm links: {orphans:?}");

    let alarms = alarm_names();
    assert!(alarms.len() >= 25, "{alarms:?}");
    let mut covered = BTreeSet::new();
    for file in &files {
        let text = read(&format!("docs/operations/runbooks/{file}.md"));
        let named = captures(r"`<project>-<env>-([a-z0-9<>-]+)`", &text);
        assert!(
            !named.is_empty(),
            "{file}.md names no alarm on its **Alarms:** line"
        );
        for alarm in &named {
            assert!(
                alarms.contains(alarm),
                "{file}.md names the alarm {alarm}, which the Terraform does not define"
            );
        }
        for heading in [
            "## What it means",
            "## First checks",
            "## Mitigate",
            "## Replay",
            "## Verify recovery",
        ] {
            assert!(text.contains(heading), "{file}.md has no `{heading}`");
        }
        covered.extend(named);
    }
    let uncovered: Vec<_> = alarms.difference(&covered).collect();
    assert!(
        uncovered.is_empty(),
        "alarms no runbook names: {uncovered:?}"
    );
}

#[test]
fn every_metric_the_alarms_read_is_in_the_catalogue_and_ours_are_emitted() {
    let catalogue = read("docs/operations/metrics.md");
    let rows = Regex::new(r"(?m)^\| `([A-Za-z0-9.]+)` \| `([^`]+)` \|.*\| ([^|]+) \|$").unwrap();
    let listed: Vec<(String, String, String)> = rows
        .captures_iter(&catalogue)
        .map(|c| (c[1].to_owned(), c[2].to_owned(), c[3].trim().to_owned()))
        .collect();
    assert!(listed.len() >= 25, "{} rows", listed.len());
    let names: BTreeSet<&str> = listed.iter().map(|(n, _, _)| n.as_str()).collect();

    let terraform = alarms_tf() + &read("infra/modules/processor/main.tf");
    let used: BTreeSet<String> = captures(r#"\bmetric\s*=\s*"([A-Za-z0-9.]+)""#, &terraform)
        .into_iter()
        .chain(captures(
            r#"metric_name\s*=\s*"([A-Za-z0-9.]+)""#,
            &terraform,
        ))
        .collect();
    assert!(used.len() >= 15, "{used:?}");
    for metric in &used {
        assert!(
            names.contains(metric.as_str()),
            "the Terraform reads {metric}, which docs/operations/metrics.md does not list"
        );
    }

    // The processor's rows are the code's catalogue, no more and no less; so is the Prometheus
    // table, name for name.
    let processor_rows: BTreeSet<&str> = listed
        .iter()
        .filter(|(_, _, source)| source == "processor EMF")
        .map(|(n, _, _)| n.as_str())
        .collect();
    let catalogued: BTreeSet<&str> = processor::metrics::CATALOGUE
        .iter()
        .map(|m| m.emf)
        .collect();
    assert_eq!(processor_rows, catalogued);
    let prometheus: BTreeSet<(String, String)> =
        captures2(r"(?m)^\| `([a-z_]+)` \| `([A-Za-z]+)` \|", &catalogue);
    let expected: BTreeSet<(String, String)> = processor::metrics::CATALOGUE
        .iter()
        .map(|m| (m.prometheus.to_owned(), m.emf.to_owned()))
        .collect();
    assert_eq!(prometheus, expected);

    let emf = read("processor/src/metrics.rs");
    let checker = read("lambdas/checker/src/lib.rs");
    let filters = alarms_tf();
    for (name, namespace, source) in &listed {
        let quoted = format!("\"{name}\"");
        let emitted = match source.as_str() {
            "processor EMF" => emf.contains(&quoted),
            "checker PutMetricData" => checker.contains(&quoted),
            s if s.starts_with("log metric filter") => {
                Regex::new(&format!(r"\bname\s*=\s*{quoted}"))
                    .unwrap()
                    .is_match(&filters)
            }
            s if s.starts_with("AWS service metric") => {
                namespace.starts_with("AWS/") || namespace.starts_with("ECS/")
            }
            other => panic!("{name}: unknown source `{other}`"),
        };
        assert!(
            emitted,
            "{name} ({source}) is not emitted where the catalogue says"
        );
    }
}
