//! The summary `processor local` prints at the end: what the run did and where each output is,
//! with one-liners over the spec's own columns.

use super::LocalSummary;
use crate::engine::dead_letters_by_reason;

/// The summary printed at the end of a local run.
pub fn render_summary(summary: &LocalSummary) -> String {
    let stats = &summary.stats;
    let seconds = summary.elapsed.as_secs_f64();
    let mut text = format!(
        "processed {} events in {seconds:.1} s ({:.0} events/s)\n  aggregates: {} → {}\n  \
         left out by `where`: {}\n  dead letters: {} → {}\n",
        stats.records_in,
        stats.records_in as f64 / seconds.max(1e-9),
        summary.aggregates_written,
        summary.aggregates_file.display(),
        stats.filtered,
        summary.dead_letters_written,
        summary.dead_letters_file.display(),
    );
    for (reason, count) in dead_letters_by_reason(stats) {
        text.push_str(&format!("    {:<14} {count}\n", reason.code()));
    }
    text.push_str(&format!(
        "  lake: {} rows in {} Parquet file{} → {}/ (year=/month=/day=/){}\n",
        summary.lake.rows,
        summary.lake.files.len(),
        if summary.lake.files.len() == 1 {
            ""
        } else {
            "s"
        },
        summary.lake_dir.display(),
        if summary.lake.errors > 0 {
            format!(", {} records refused → errors/", summary.lake.errors)
        } else {
            String::new()
        }
    ));
    text.push_str(&format!(
        "  feature store: {} records online, {} offline → {}\n",
        summary.feature_store.online,
        summary.feature_store.offline,
        summary.feature_store_file.display()
    ));
    text.push_str(&format!(
        "  report: {} (open it in a browser)\n",
        summary.report_file.display()
    ));
    text.push_str(&format!(
        "look at them with e.g.\n  head -3 {}\n  jq -r .reason {} | sort | uniq -c\n",
        summary.aggregates_file.display(),
        summary.dead_letters_file.display()
    ));
    // The queries name the spec's own columns: its record identifier and first aggregates.
    let spec = &summary.spec;
    let identifier = spec.record_identifier();
    let first = spec
        .aggregates
        .first()
        .map_or("window_start", |a| a.name.as_str());
    let shown: Vec<&str> = spec
        .aggregates
        .iter()
        .take(3)
        .map(|a| a.name.as_str())
        .collect();
    text.push_str(&format!(
        "  duckdb -c \"select {identifier}, count(*) windows, max({first}) from \
         read_parquet('{}/**/*.parquet', hive_partitioning = true) group by 1 order by 1\"\n",
        summary.lake_dir.display()
    ));
    text.push_str(&format!(
        "  sqlite3 {} 'select {identifier}, window_end, {} from online'\n",
        summary.feature_store_file.display(),
        shown.join(", ")
    ));
    text
}
