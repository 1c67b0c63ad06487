//! The backtest, as the old service ran it: read a metric set's history, train on the oldest 70%
//! of its intervals, score the newest 30%, and report the anomaly groups found there with the
//! data-quality figures and the train and inference windows.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::data::{Aggregator, DataQuality, IntervalData, Schema};
use crate::engine::{EngineConfig, Scored, Sensitivity, SeriesState};
use crate::error::ValidationError;
use crate::group::{GroupReport, Grouper, Observation};
use crate::model::{CreateMetricSetRequest, Frequency, timestamp_string};
use crate::paths::LocalResolver;
use crate::slices;
use crate::time::intervals;
use crate::validate;

/// Share of intervals used for training.
pub const TRAIN_FRACTION: f64 = 0.7;

/// Why a backtest could not run.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    /// The configuration breaks a constraint.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// A quota is exceeded.
    #[error("service quota exceeded: {0}")]
    Quota(String),
    /// There is nothing (usable) to read.
    #[error("no data: {0}")]
    NoData(String),
    /// The data spans more intervals than a run reads.
    #[error("{0}")]
    TooLong(String),
}

/// Options of a backtest.
#[derive(Debug, Clone)]
pub struct BacktestOptions {
    /// Severity from which a point is anomalous.
    pub threshold: Sensitivity,
    /// Namespace of group ids (the detector's ARN or name).
    pub namespace: String,
    /// Whether slice totals are scored besides the leaves ([`crate::slices`]).
    pub aggregates: bool,
}

impl Default for BacktestOptions {
    fn default() -> Self {
        BacktestOptions {
            threshold: Sensitivity::DEFAULT,
            namespace: "seismo-local".into(),
            aggregates: true,
        }
    }
}

/// Progress of a long backtest, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// `done` of `total` files read.
    Reading {
        /// Files read.
        done: usize,
        /// Files to read.
        total: usize,
    },
    /// `done` of `total` intervals scored.
    Scoring {
        /// Intervals done.
        done: usize,
        /// Intervals in all.
        total: usize,
    },
}

/// A window of intervals.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Window {
    /// First interval start.
    pub start: String,
    /// Last interval start.
    pub end: String,
    /// Intervals.
    pub intervals: usize,
}

/// What a backtest found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BacktestReport {
    /// Metric set.
    pub metric_set_name: String,
    /// Interval length.
    pub frequency: Frequency,
    /// Files read.
    pub files: usize,
    /// Training window (BACKTEST_TRAINING_DATA_START/END_TIME_STAMP).
    pub train: Window,
    /// Inference window (BACKTEST_INFERENCE_DATA_START/END_TIME_STAMP).
    pub inference: Window,
    /// Dimension combinations.
    pub time_series: usize,
    /// Metrics (measure x dimension combination).
    pub metrics: usize,
    /// Slice totals scored besides the leaves (see [`crate::slices`]).
    pub aggregates: usize,
    /// Points scored in the inference window.
    pub points_scored: usize,
    /// Points of the inference window with no data (a series silent in an interval).
    pub points_missing: usize,
    /// Intervals of the inference window with no rows at all.
    pub empty_intervals: usize,
    /// Everything read.
    pub quality: DataQuality,
    /// The anomaly groups of the inference window, oldest first.
    pub groups: Vec<GroupReport>,
}

/// The files a backtest reads: the historical path when given, else every file under the
/// templated path's fixed prefix (the part before the first `{{`).
pub fn source_files(
    ms: &CreateMetricSetRequest,
    resolver: &LocalResolver,
) -> Result<Vec<std::path::PathBuf>, BacktestError> {
    let path = source_path(ms)?;
    let files = resolver
        .list(&path)
        .map_err(|e| BacktestError::NoData(format!("{path}: {e}")))?;
    if files.is_empty() {
        return Err(BacktestError::NoData(format!(
            "nothing under {path} (resolved to {})",
            resolver.local_path(&path).unwrap_or_default().display()
        )));
    }
    Ok(files)
}

/// Intervals a backtest or an activation reads at most (9.5 years of 5-minute data).
pub const MAX_TIMELINE: i64 = 1_000_000;

/// Why no series came out of the rows read, in the user's terms.
pub fn no_usable_rows(files: usize, q: &crate::data::DataQuality) -> String {
    let mut why = vec![format!("{} invalid", q.invalid_rows)];
    if !q.unreadable_files.is_empty() {
        why.push(format!("unreadable: {}", q.unreadable_files.join("; ")));
    }
    if q.empty_files > 0 {
        why.push(format!("{} empty files", q.empty_files));
    }
    if q.rows_filtered > 0 {
        why.push(format!(
            "{} removed by DimensionFilterList",
            q.rows_filtered
        ));
    }
    if !q.missing_columns.is_empty() {
        let columns: Vec<&str> = q.missing_columns.iter().map(String::as_str).collect();
        why.push(format!("columns not in the files: {}", columns.join(", ")));
    }
    format!("{files} files read; rows: none usable ({})", why.join("; "))
}

/// The path a backtest reads: the historical path when given, else the templated path's fixed
/// prefix (the part before the first `{{`).
pub fn source_path(ms: &CreateMetricSetRequest) -> Result<String, BacktestError> {
    let s3 = ms.metric_source.s3_source_config.as_ref();
    s3.and_then(|s| s.historical_data_path_list.as_ref())
        .and_then(|l| l.first().cloned())
        .or_else(|| {
            s3.and_then(|s| s.templated_path_list.as_ref())
                .and_then(|l| l.first())
                .map(|t| t.split("{{").next().unwrap_or_default().to_string())
        })
        .ok_or_else(|| BacktestError::NoData("the metric set names no data path".into()))
}

/// Runs a backtest over local files.
pub fn run(
    ms: &CreateMetricSetRequest,
    resolver: &LocalResolver,
    options: &BacktestOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<BacktestReport, BacktestError> {
    // A broken configuration is named before any path is looked at.
    Schema::from_metric_set(ms)?;
    let files = source_files(ms, resolver)?;
    let opened = files.iter().map(|f| {
        let name = f.display().to_string();
        let reader = std::fs::File::open(f)
            .map(|r| Box::new(r) as crate::objects::ObjectReader)
            .map_err(|e| e.to_string());
        (name, reader)
    });
    run_objects(ms, opened, files.len(), options, progress)
}

/// Runs a backtest over opened objects (local files, S3 objects): `total` of them.
pub fn run_objects(
    ms: &CreateMetricSetRequest,
    files: impl IntoIterator<Item = (String, Result<crate::objects::ObjectReader, String>)>,
    total: usize,
    options: &BacktestOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<BacktestReport, BacktestError> {
    let schema = Schema::from_metric_set(ms)?;
    let mut aggregator = Aggregator::new(&schema);
    let mut count = 0;
    for (name, opened) in files {
        aggregator.read_object(&name, opened);
        count += 1;
        progress(Progress::Reading { done: count, total });
    }
    run_read(ms, &schema, aggregator, count, options, progress)
}

/// Runs a backtest over what `aggregator` read from `count` objects (a caller that opens them
/// one at a time, as the ingest function does, so only one is open at once).
pub fn run_read(
    ms: &CreateMetricSetRequest,
    schema: &Schema,
    aggregator: Aggregator<'_>,
    count: usize,
    options: &BacktestOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<BacktestReport, BacktestError> {
    if count == 0 {
        return Err(BacktestError::NoData(format!(
            "nothing under {}",
            source_path(ms)?
        )));
    }
    let (mut data, quality) = aggregator.finish_with_quality();
    validate::metric_quota(ms, quality.time_series as usize).map_err(BacktestError::Quota)?;
    let has_series = data.iter().any(|d| !d.series.is_empty());
    let (Some(first), Some(last), true) = (data.first(), data.last(), has_series) else {
        return Err(BacktestError::NoData(no_usable_rows(count, &quality)));
    };
    let span = (last.start - first.start) / schema.frequency.seconds().max(1);
    if span > MAX_TIMELINE {
        return Err(BacktestError::TooLong(format!(
            "the data spans {span} intervals ({} to {}), more than {MAX_TIMELINE}: check the timestamps at either end",
            crate::model::timestamp_string(first.start),
            crate::model::timestamp_string(last.start)
        )));
    }
    let timeline = intervals(first.start, last.start, schema.frequency, schema.zone);
    if timeline.len() < 2 {
        return Err(BacktestError::NoData(format!(
            "{} interval of data; a backtest needs history to train on",
            timeline.len()
        )));
    }
    if options.aggregates {
        let functions = schema.functions();
        for d in &mut data {
            slices::extend(&functions, &mut d.series);
        }
    }
    let n_train =
        ((timeline.len() as f64 * TRAIN_FRACTION).floor() as usize).clamp(1, timeline.len() - 1);
    let by_start: BTreeMap<i64, &IntervalData> = data.iter().map(|d| (d.start, d)).collect();

    // The engine learns from the training window; its warm-up is the old service's cold start,
    // or the whole training window when that is shorter.
    let config = EngineConfig::for_frequency(schema.frequency)
        .with_threshold(options.threshold)
        .with_warmup(schema.frequency.cold_start_intervals().min(n_train));
    let measures: Vec<String> = schema
        .measures
        .iter()
        .map(|m| m.metric_name.clone())
        .collect();
    let keys: Vec<&Vec<String>> = data
        .iter()
        .flat_map(|d| d.series.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut states = vec![vec![SeriesState::new(&config); measures.len()]; keys.len()];
    let mut grouper = Grouper::new(
        options.namespace.clone(),
        schema.dimensions.clone(),
        measures.clone(),
    )
    .with_interval_causes();
    let (mut points_scored, mut points_missing, mut empty_intervals) = (0, 0, 0);
    let mut verdicts: Vec<(usize, usize, Scored)> = Vec::new();
    for (i, &t) in timeline.iter().enumerate() {
        let row = by_start.get(&t).copied();
        let scoring = i >= n_train;
        if scoring && row.is_none_or(|r| r.series.is_empty()) {
            empty_intervals += 1;
        }
        verdicts.clear();
        for (k, (dims, series_states)) in keys.iter().zip(states.iter_mut()).enumerate() {
            let values = row.and_then(|r| r.series.get(*dims));
            let leaf = !slices::is_aggregate(dims);
            for (m, state) in series_states.iter_mut().enumerate() {
                let value = values.and_then(|v| v[m]);
                match state.observe(&config, t, value) {
                    Some(s) if scoring => {
                        points_scored += usize::from(leaf);
                        verdicts.push((m, k, s));
                    }
                    None if scoring && leaf && state.observed() > 0 => points_missing += 1,
                    _ => {}
                }
            }
        }
        if scoring {
            grouper.push_interval(
                t,
                verdicts.iter().map(|(m, k, s)| Observation {
                    measure: *m,
                    dimensions: keys[*k].as_slice(),
                    scored: *s,
                }),
            );
        }
        if i % 64 == 0 || i + 1 == timeline.len() {
            progress(Progress::Scoring {
                done: i + 1,
                total: timeline.len(),
            });
        }
    }
    let leaves = keys.iter().filter(|k| !slices::is_aggregate(k)).count();
    let window = |ts: &[i64]| Window {
        start: timestamp_string(ts[0]),
        end: timestamp_string(ts[ts.len() - 1]),
        intervals: ts.len(),
    };
    Ok(BacktestReport {
        metric_set_name: ms.metric_set_name.clone(),
        frequency: schema.frequency,
        files: count,
        train: window(&timeline[..n_train]),
        inference: window(&timeline[n_train..]),
        time_series: leaves,
        metrics: leaves * measures.len(),
        aggregates: keys.len() - leaves,
        points_scored,
        points_missing,
        empty_intervals,
        quality,
        groups: grouper.finish(),
    })
}
