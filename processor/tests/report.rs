//! The local run's `report.html`, loaded in headless Chromium (Debian's `chromium`, which
//! `./scripts/test` installs): every chart drew, as the page's own DOM says after its script
//! ran, with as many candles as the key has windows; and the page fetches nothing.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use pipeline_core::generator::GeneratorConfig;
use pipeline_core::{ColumnType, SHIPPED_SPECS, Spec};
use processor::local::{LocalOptions, run};
use regex::Regex;

/// The page's DOM after its scripts ran.
fn rendered(page: &Path) -> String {
    let profile = page.with_file_name("chromium-profile");
    let output = Command::new(pipeline_testkit::debian::tool("chromium", "CHROMIUM"))
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A small local run of the spec `name`: its summary, the report's DOM once drawn, and the
/// aggregates it wrote.
fn local_run(name: &str) -> (processor::local::LocalSummary, String, String) {
    let text = SHIPPED_SPECS.iter().find(|(n, _)| *n == name).unwrap().1;
    let spec = Arc::new(Spec::from_toml(text, name).unwrap());
    let out = std::env::temp_dir().join(format!("processor-report-{name}-{}", std::process::id()));
    let mut options = LocalOptions::defaults(spec, out.clone());
    options.events = 12_000;
    options.rate = 40;
    options.generator = GeneratorConfig {
        malformed_share: 0.02,
        ..options.generator
    };
    let summary = run(&options).unwrap();
    let dom = rendered(&summary.report_file);
    let html = std::fs::read_to_string(&summary.report_file).unwrap();
    let aggregates = std::fs::read_to_string(&summary.aggregates_file).unwrap();
    std::fs::remove_dir_all(&out).unwrap();
    // Self-contained: no script, style sheet, image or frame from anywhere.
    assert!(
        !Regex::new(r#"\s([Ss][Rr][Cc]|[Hh][Rr][Ee][Ff])\s*="#)
            .unwrap()
            .is_match(&html),
        "the page loads something"
    );
    (summary, dom, aggregates)
}

fn attribute(dom: &str, name: &str) -> Vec<String> {
    Regex::new(&format!(r#"{name}="([^"]*)""#))
        .unwrap()
        .captures_iter(dom)
        .map(|c| c[1].to_owned())
        .collect()
}

fn body_counts(dom: &str) -> (usize, usize) {
    let body = Regex::new(r#"<body data-charts="(\d+)" data-drawn="(\d+)""#)
        .unwrap()
        .captures(dom)
        .unwrap_or_else(|| panic!("the page's script did not finish: {dom}"));
    (body[1].parse().unwrap(), body[2].parse().unwrap())
}

#[test]
fn stock_ticks_draw_candles_volume_lines_and_the_run() {
    let (summary, dom, aggregates) = local_run("stock-ticks");
    // Candles, volume, then count, vwap, avg_price and notional as lines; throughput, lag and
    // dead letters by reason.
    assert_eq!(body_counts(&dom), (9, 9));
    let names = attribute(&dom, "data-name");
    assert_eq!(names[0], "open / high / low / close");
    assert_eq!(names[1], "volume");
    assert!(
        names.contains(&"dead letters by reason".to_owned()),
        "{names:?}"
    );
    let marks: Vec<usize> = attribute(&dom, "data-marks")
        .iter()
        .map(|m| m.parse().unwrap())
        .collect();
    assert!(marks.iter().all(|m| *m > 0), "{marks:?}");
    // One candle per window of the first key (the picker's first, in key order).
    let windows = aggregates
        .lines()
        .filter(|l| l.contains(r#""ticker":"AAPL""#))
        .count();
    assert!(windows > 5, "{windows}");
    assert_eq!(marks[0], windows);
    assert_eq!(dom.matches(r#"class="candle""#).count(), windows);
    assert!(
        dom.contains(r#"<option value="AAPL">"#),
        "AAPL is not the first key"
    );
    // The dead letters by reason: a bar per reason the run refused.
    let reasons = summary.stats.dead_letters.len();
    assert_eq!(*marks.last().unwrap(), reasons);
}

#[test]
fn any_spec_draws_a_line_per_numeric_aggregate() {
    let (summary, dom, _) = local_run("orders");
    let (charts, drawn) = body_counts(&dom);
    assert_eq!(charts, drawn);
    let numeric = summary
        .spec
        .aggregates
        .iter()
        .filter(|a| matches!(a.output, ColumnType::Integer | ColumnType::Decimal { .. }))
        .count();
    // Without first/max/min/last of one field there are no candles: a line per numeric
    // column (orders' last status and first order time are text), then the run's three charts.
    assert!(numeric >= 5 && numeric < summary.spec.aggregates.len());
    assert_eq!(charts, numeric + 3, "{:?}", attribute(&dom, "data-name"));
    assert_eq!(dom.matches(r#"class="candle""#).count(), 0);
}
