//! Plain-text reports for the terminal.

use std::fmt::Write as _;

use seismo_lab::eval::{EventScore, LabelledEvent};
use seismo_shared::backtest::BacktestReport;
use seismo_shared::group::GroupReport;

/// The top value of each dimension with its share, largest share first:
/// `region=EU 100%, channel=mobile 100%, plan=free 64%`.
pub(crate) fn drivers(g: &GroupReport) -> String {
    let mut tops: Vec<(String, String, f64)> = g
        .anomaly_group
        .metric_level_impact_list
        .iter()
        .flat_map(|i| &i.contribution_matrix.dimension_contribution_list)
        .filter_map(|d| {
            d.dimension_value_contribution_list.first().map(|v| {
                (
                    d.dimension_name.clone(),
                    v.dimension_value.clone(),
                    v.contribution_score,
                )
            })
        })
        .collect();
    tops.sort_by(|a, b| b.2.total_cmp(&a.2));
    tops.iter()
        .map(|(n, v, s)| format!("{n}={v} {s:.0}%"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The backtest's summary and its groups as a table.
pub(crate) fn table(r: &BacktestReport) -> String {
    let q = &r.quality;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Backtest of {} ({}): {} series x {} measures = {} metrics, {} rows from {} files",
        r.metric_set_name,
        r.frequency,
        r.time_series,
        r.metrics.checked_div(r.time_series).unwrap_or(0),
        r.metrics,
        q.rows_processed,
        r.files
    );
    let _ = writeln!(
        out,
        "  train      {} .. {} ({} intervals)",
        r.train.start, r.train.end, r.train.intervals
    );
    let _ = writeln!(
        out,
        "  inference  {} .. {} ({} intervals): {} points scored, {} missing, {} empty intervals",
        r.inference.start,
        r.inference.end,
        r.inference.intervals,
        r.points_scored,
        r.points_missing,
        r.empty_intervals
    );
    let completeness: Vec<String> = q
        .column_values
        .keys()
        .map(|c| format!("{c} {:.1}%", 100.0 * q.completeness(c)))
        .collect();
    let _ = writeln!(
        out,
        "  data quality: {} invalid rows, {} partial rows, {} empty files, {} unreadable files; completeness: {}",
        q.invalid_rows,
        q.partial_rows,
        q.empty_files,
        q.unreadable_files.len(),
        completeness.join(", ")
    );
    if !q.missing_columns.is_empty() {
        let _ = writeln!(
            out,
            "  missing columns: {}",
            q.missing_columns
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for f in q.unreadable_files.iter().take(5) {
        let _ = writeln!(out, "  unreadable: {f}");
    }
    if q.unreadable_files.len() > 5 {
        let _ = writeln!(
            out,
            "  ... and {} more unreadable files",
            q.unreadable_files.len() - 5
        );
    }
    if q.stray_rows > 0 {
        let _ = writeln!(
            out,
            "  {} rows left out: their timestamps lie far from the rest of the data (a mistyped year?)",
            q.stray_rows
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{} anomaly groups in the inference window:",
        r.groups.len()
    );
    if r.groups.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "{:>3}  {:<20}  {:<20}  {:<10}  {:>5}  {:<5}  {:>6}  {:<28}  drivers",
        "#", "start", "end", "measure", "score", "dir", "series", "root cause"
    );
    for (i, g) in r.groups.iter().enumerate() {
        let a = &g.anomaly_group;
        let _ = writeln!(
            out,
            "{:>3}  {:<20}  {:<20}  {:<10}  {:>5.1}  {:<5}  {:>6}  {:<28}  {}",
            i + 1,
            a.start_time,
            a.end_time,
            a.primary_metric_name,
            a.anomaly_group_score,
            g.direction,
            g.time_series.len(),
            if g.root_causes.is_empty() {
                "-".to_string()
            } else {
                g.root_causes.join("; ")
            },
            drivers(g)
        );
    }
    out
}

/// Whether a group's top contribution of every dimension in `slice` (`a=a1&b=b2`) is the
/// slice's value.
pub(crate) fn slice_on_top(g: &GroupReport, slice: &str) -> bool {
    let matrix = g
        .anomaly_group
        .metric_level_impact_list
        .iter()
        .flat_map(|i| &i.contribution_matrix.dimension_contribution_list);
    let tops: Vec<(&str, &str)> = matrix
        .filter_map(|d| {
            d.dimension_value_contribution_list
                .first()
                .map(|v| (d.dimension_name.as_str(), v.dimension_value.as_str()))
        })
        .collect();
    slice.split('&').all(|pair| {
        pair.split_once('=')
            .is_some_and(|(n, v)| tops.iter().any(|(tn, tv)| *tn == n && *tv == v))
    })
}

/// Whether two causes name the same pairs.
fn same_cause(a: &str, b: &str) -> bool {
    seismo_shared::rca::normalize_cause(a) == seismo_shared::rca::normalize_cause(b)
}

/// Each labelled event, the group that found it and whether its slice came out on top; then
/// precision, recall and F1.
pub(crate) fn labels(
    r: &BacktestReport,
    events: &[LabelledEvent],
    scores: &[EventScore],
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\nLabelled incidents:");
    for e in events {
        let found = r.groups.iter().position(|g| {
            g.anomaly_group.primary_metric_name == e.measure && g.start <= e.end && e.start <= g.end
        });
        let verdict = match (found, &e.dimensions) {
            (None, _) => "MISSED".to_string(),
            (Some(i), Some(slice)) if slice_on_top(&r.groups[i], slice) => {
                let exact = r.groups[i].root_causes.iter().any(|c| same_cause(c, slice));
                let cause = if exact {
                    "root cause exact"
                } else {
                    "root cause differs"
                };
                format!("found by #{}, {slice} on top, {cause}", i + 1)
            }
            (Some(i), Some(slice)) => format!("found by #{}, but {slice} is not on top", i + 1),
            (Some(i), None) => format!("found by #{}", i + 1),
        };
        let _ = writeln!(
            out,
            "  {:<10} {}  {}",
            e.measure,
            seismo_shared::model::timestamp_string(e.start),
            verdict
        );
    }
    let _ = writeln!(
        out,
        "\n{:<10} {:>6} {:>6} {:>6} {:>9} {:>7} {:>6}",
        "measure", "groups", "events", "found", "precision", "recall", "F1"
    );
    for s in scores {
        let _ = writeln!(
            out,
            "{:<10} {:>6} {:>6} {:>6} {:>9.3} {:>7.3} {:>6.3}",
            s.measure, s.groups, s.events, s.found_events, s.precision, s.recall, s.f1
        );
    }
    out
}
