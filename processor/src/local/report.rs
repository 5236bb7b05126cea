//! `out/report.html`: a picture of a local run in one self-contained file (its data, styles
//! and drawing code inline; nothing fetched). For each key, the aggregates over time (candles
//! with volume where the spec has first/max/min/last of one field, and a line for every other
//! numeric column); the dead letters by reason; and throughput and lag over the run.
//!
//! Written by hand rather than with a charting crate: the charts are drawn by the browser
//! from the embedded data (a key picker redraws them), which a Rust-side plotting crate,
//! rendering pictures once, would not do.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use pipeline_core::Spec;
use pipeline_core::spec::AggregateFn;

/// One point of the run's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Since the run started.
    pub at_ms: u64,
    pub produced: u64,
    pub processed: u64,
}

/// The aggregate columns that make a candle: first, max, min and last of one field, and the
/// first `sum` as the volume (if any).
fn candle_columns(spec: &Spec) -> Option<[String; 5]> {
    let of = |function: AggregateFn, field: Option<usize>| {
        spec.aggregates
            .iter()
            .find(|a| a.function == function && (field.is_none() || a.field == field))
    };
    let open = of(AggregateFn::First, None)?;
    let find = |function| of(function, open.field).map(|a| a.name.clone());
    let volume = spec
        .aggregates
        .iter()
        .find(|a| a.function == AggregateFn::Sum)
        .map_or(String::new(), |a| a.name.clone());
    Some([
        open.name.clone(),
        find(AggregateFn::Max)?,
        find(AggregateFn::Min)?,
        find(AggregateFn::Last)?,
        volume,
    ])
}

/// The page's data: the spec's columns, each key's aggregates by window start, the dead letters
/// by reason, and the samples.
fn data(
    spec: &Spec,
    aggregates: &str,
    dead_letters: &[(&str, u64)],
    samples: &[Sample],
) -> anyhow::Result<serde_json::Value> {
    use serde_json::{Value, json};
    let identifier = spec.record_identifier();
    let columns: Vec<&str> = spec.aggregates.iter().map(|a| a.name.as_str()).collect();
    let mut rows: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (n, line) in aggregates.lines().enumerate() {
        let object: serde_json::Map<String, Value> =
            serde_json::from_str(line).with_context(|| format!("aggregates line {}", n + 1))?;
        let key = match object.get(identifier) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => continue,
        };
        let start = object
            .get("window_start")
            .and_then(Value::as_str)
            .and_then(|t| pipeline_core::time::parse_rfc3339_millis(t).ok());
        let Some(start) = start else { continue };
        let mut row = vec![Value::from(start)];
        row.extend(
            columns
                .iter()
                .map(|c| object.get(*c).cloned().unwrap_or(Value::Null)),
        );
        rows.entry(key).or_default().push(Value::Array(row));
    }
    for list in rows.values_mut() {
        list.sort_by_key(|row| row[0].as_i64());
    }
    Ok(json!({
        "pipeline": spec.name,
        "key": identifier,
        "columns": columns,
        "candle": candle_columns(spec),
        "rows": rows,
        "dead_letters": dead_letters,
        "samples": samples.iter().map(|s| [s.at_ms, s.produced, s.processed]).collect::<Vec<_>>(),
    }))
}

/// Writes the report for a run whose aggregates are in `aggregates_file`.
pub fn write(
    path: &Path,
    spec: &Spec,
    aggregates_file: &Path,
    dead_letters: &[(&str, u64)],
    samples: &[Sample],
) -> anyhow::Result<()> {
    let aggregates = std::fs::read_to_string(aggregates_file)
        .with_context(|| format!("reading {}", aggregates_file.display()))?;
    let data = data(spec, &aggregates, dead_letters, samples)?;
    // Inside a <script> element, "</" could end it early: JSON allows writing it as "<\/".
    let data = data.to_string().replace("</", "<\\/");
    let title = format!("{}: local run", spec.name);
    let page = PAGE
        .replace("{{title}}", &html_escape(&title))
        .replace("{{data}}", &data);
    std::fs::write(path, page).with_context(|| format!("writing {}", path.display()))
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const PAGE: &str = include_str!("report.html");

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> Spec {
        let text = pipeline_core::SHIPPED_SPECS
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap()
            .1;
        Spec::from_toml(text, name).unwrap()
    }

    #[test]
    fn stock_ticks_make_candles_with_volume_and_orders_do_not() {
        assert_eq!(
            candle_columns(&spec("stock-ticks")),
            Some(["open", "high", "low", "close", "volume"].map(String::from))
        );
        assert_eq!(candle_columns(&spec("orders")), None);
    }

    #[test]
    fn rows_are_grouped_by_key_in_window_order() {
        let spec = spec("stock-ticks");
        let line = |ticker: &str, minute: u32, count: u32| {
            format!(
                r#"{{"ticker":"{ticker}","window_start":"2026-12-01T10:0{minute}:00.000Z","count":{count}}}"#
            )
        };
        let text = [line("B", 2, 3), line("A", 1, 1), line("B", 1, 2)].join("\n");
        let data = data(&spec, &text, &[("late", 4)], &[]).unwrap();
        let b = data["rows"]["B"].as_array().unwrap();
        assert_eq!(b.len(), 2);
        assert!(b[0][0].as_i64() < b[1][0].as_i64());
        assert_eq!(b[0][1], 2, "count is the first column");
        assert_eq!(data["rows"]["A"].as_array().unwrap().len(), 1);
        assert_eq!(data["dead_letters"][0][0], "late");
    }

    #[test]
    fn the_data_cannot_close_its_script_element() {
        let dir = std::env::temp_dir().join(format!("report-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let aggregates = dir.join("aggregates.jsonl");
        std::fs::write(
            &aggregates,
            r#"{"ticker":"</script><b>","window_start":"2026-12-01T10:00:00.000Z","count":1}"#,
        )
        .unwrap();
        let page = dir.join("report.html");
        write(&page, &spec("stock-ticks"), &aggregates, &[], &[]).unwrap();
        let html = std::fs::read_to_string(&page).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(!html.contains("</script><b>"));
        assert!(html.contains(r#"<\/script><b>"#));
    }
}
