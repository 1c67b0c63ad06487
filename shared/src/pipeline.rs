//! The continuous pipeline of a detector, one interval at a time:
//! [`activate`] learns from history, then for every interval [`ingest`] reads and aggregates
//! the interval's files into per-shard values, [`detect`] scores one shard of series against
//! its model state and, when the last shard of the interval is in, forms the anomaly groups,
//! and [`notify`](alert::notify) sends them to the alerts whose threshold and filters they pass.
//!
//! The stages are plain functions over the ports ([`Store`], [`Objects`], [`alert::Publisher`]):
//! the Lambda functions hand over between them through SQS, `seismo serve` calls them in
//! process. Every stage is keyed by detector, interval and shard and checks what is already
//! stored before it writes, so running any stage twice changes nothing the second time.

pub mod alert;
pub mod blob;
mod codec;
pub mod local;
pub mod schedule;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::data::{Aggregator, DataQuality, Schema};
use crate::engine::{EngineConfig, Feedback, Scored, Sensitivity, SeriesState};
use crate::group::{GroupReport, Grouper, Observation};
use crate::model::{CreateMetricSetRequest, timestamp_string};
use crate::objects::{ObjectError, Objects};
use crate::paths::expand_template;
use crate::store::{Kind, Store, StoreError, update};
use crate::time::{interval_start, intervals, next_interval};

/// Series per shard: one detect invocation scores at most this many series.
pub const SHARD_SERIES: usize = 2_000;

/// Why a stage could not run. [`PipelineError::Store`] is worth a retry; the others are
/// recorded and dropped (a retry would fail the same way).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The store failed (retry).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The detector, its metric set or its runtime is missing or unusable.
    #[error("{0}")]
    Config(String),
    /// The event names no usable interval or detector.
    #[error("bad event: {0}")]
    Event(String),
    /// Another run holds the work the event asks for (retry later: it is done by then, or
    /// that run is taken for lost).
    #[error("busy: {0}")]
    Busy(String),
}

/// What a detect invocation works on: one shard of one interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetectTask {
    /// The detector.
    pub anomaly_detector_arn: String,
    /// Interval start (epoch seconds).
    pub interval: i64,
    /// The shard.
    pub shard: u32,
}

/// What a notify invocation works on: the groups of one interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifyTask {
    /// The detector.
    pub anomaly_detector_arn: String,
    /// Interval start (epoch seconds).
    pub interval: i64,
    /// The groups formed for the interval.
    pub anomaly_group_ids: Vec<String>,
}

/// The detector's pipeline settings, fixed at activation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Runtime {
    /// Shards the series are spread over.
    pub shards: u32,
    /// Intervals learned from history at activation.
    pub learned: usize,
    /// Intervals needed before the detector is ACTIVE.
    pub warmup: usize,
    /// Last interval of the history (epoch seconds), if any.
    pub history_end: Option<i64>,
    /// When the detector was activated (epoch seconds): continuous detection starts with the
    /// last interval closed by then.
    #[serde(default)]
    pub activated_at: i64,
    /// What the model was built for (see [`model_fingerprint`]); a model built for the same
    /// series is kept when the detector is activated again. None: a model from before it was
    /// recorded, relearned.
    #[serde(default)]
    pub model: Option<String>,
}

/// What a detector's model depends on: its measures, dimensions, filters, frequency and time
/// zone. A detector deactivated to change something else (an alert, the Offset, a data path)
/// and activated again keeps its model; one whose series changed learns anew.
pub fn model_fingerprint(metric_set: &CreateMetricSetRequest) -> String {
    let basis = json!({
        "metrics": metric_set.metric_list,
        "dimensions": metric_set.dimension_list,
        "filters": metric_set.dimension_filter_list,
        "frequency": metric_set.metric_set_frequency,
        "timezone": metric_set.timezone,
    });
    format!(
        "{:016x}",
        crate::group::fnv1a(0, [basis.to_string().as_str()])
    )
}

/// Now, in epoch seconds.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A loaded detector: its metric set and schema.
#[derive(Debug)]
pub struct Detector {
    /// The detector's ARN.
    pub arn: String,
    /// The detector document.
    pub doc: Value,
    /// Its metric set.
    pub metric_set: CreateMetricSetRequest,
    /// The metric set's schema.
    pub schema: Schema,
    /// The engine configuration.
    pub engine: EngineConfig,
}

/// The ARN prefix of a detector's metric sets.
pub fn metric_set_prefix(detector_arn: &str) -> String {
    match detector_arn.rsplit_once(":AnomalyDetector:") {
        Some((head, name)) => format!("{head}:MetricSet/{name}/"),
        None => format!("{detector_arn}/MetricSet/"),
    }
}

/// The shard of a series (its dimension values), stable across runs.
pub fn shard_of(dimensions: &[String], shards: u32) -> u32 {
    let parts = dimensions.iter().map(String::as_str);
    (crate::group::fnv1a(0, parts) % u64::from(shards.max(1))) as u32
}

/// Loads a detector with its metric set.
pub async fn load<S: Store>(store: &S, arn: &str) -> Result<Detector, PipelineError> {
    let doc = store
        .get(Kind::Detector, arn)
        .await?
        .ok_or_else(|| PipelineError::Config(format!("no detector {arn}")))?;
    let ms = store
        .list(Kind::MetricSet, &metric_set_prefix(arn))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| PipelineError::Config(format!("{arn} has no metric set")))?
        .1;
    let metric_set: CreateMetricSetRequest = serde_json::from_value(ms)
        .map_err(|e| PipelineError::Config(format!("the metric set is unreadable: {e}")))?;
    let schema =
        Schema::from_metric_set(&metric_set).map_err(|e| PipelineError::Config(e.to_string()))?;
    let engine = EngineConfig::for_frequency(schema.frequency).with_threshold(Sensitivity::DEFAULT);
    Ok(Detector {
        arn: arn.to_string(),
        doc,
        metric_set,
        schema,
        engine,
    })
}

/// The detector's runtime (written at activation).
pub async fn runtime<S: Store>(store: &S, arn: &str) -> Result<Runtime, PipelineError> {
    let doc = store
        .get(Kind::Pipeline, &format!("{arn}/runtime"))
        .await?
        .ok_or_else(|| PipelineError::Config(format!("{arn} is not activated")))?;
    serde_json::from_value(doc).map_err(|e| PipelineError::Config(e.to_string()))
}

/// Which interval an ingest is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// The interval starting then (epoch seconds): a backfill, a replay, `seismo serve`.
    Interval(i64),
    /// The interval the detector's schedule firing then is for.
    FiredAt(i64),
}

/// The interval a schedule firing at `fired` is for: the last one that ended at least the
/// metric set's Offset before it.
fn interval_for_firing(d: &Detector, fired: i64) -> Option<i64> {
    let offset = d.metric_set.offset.unwrap_or(0);
    let zone = d.schema.zone;
    // A daily schedule runs at a local time, so the Offset is taken off the local time: on
    // the day clocks go forward, 03:00 is two hours after midnight, and taking three hours off
    // the instant named the day before yesterday (and yesterday was never ingested). Shorter
    // intervals fire every interval in absolute time (an hour repeated when clocks go back
    // has its own firing), so the Offset is taken off the instant.
    let local = (d.schema.frequency == crate::model::Frequency::P1d)
        .then(|| zone.epoch_to_local(fired))
        .flatten()
        .and_then(|local| local.checked_sub_signed(chrono::Duration::seconds(offset)))
        .and_then(|local| zone.local_to_epoch(local));
    let target = local.unwrap_or(fired - offset);
    let current = interval_start(target, d.schema.frequency, zone)?;
    interval_start(current - 1, d.schema.frequency, zone)
}

/// Sets the detector's status (and failure), keeping every other field.
pub async fn set_status<S: Store>(
    store: &S,
    arn: &str,
    status: &str,
    failure: Option<(&str, &str)>,
) -> Result<(), StoreError> {
    update(store, Kind::Detector, arn, |current| {
        Ok::<_, StoreError>(current.map(|c| {
            let mut doc = c.clone();
            doc["Status"] = json!(status);
            if let Value::Object(m) = &mut doc {
                m.remove("FailureType");
                m.remove("FailureReason");
                if let Some((kind, reason)) = failure {
                    m.insert("FailureType".into(), json!(kind));
                    m.insert("FailureReason".into(), json!(reason));
                }
            }
            doc
        }))
    })
    .await?;
    Ok(())
}

/// Moves the detector from `from` to `to`, only if it is still `from`.
async fn set_status_from<S: Store>(
    store: &S,
    arn: &str,
    from: &str,
    to: &str,
) -> Result<(), StoreError> {
    update(store, Kind::Detector, arn, |current| {
        Ok::<_, StoreError>(current.filter(|c| c["Status"] == from).map(|c| {
            let mut doc = c.clone();
            doc["Status"] = json!(to);
            doc
        }))
    })
    .await?;
    Ok(())
}

/// Reads every object under `path` into an aggregator: what could not be read is counted in
/// the data-quality figures; a missing path or a permission error is the returned reason
/// (`Ok(Err(reason))`). A failure that may pass (throttling, a network error, a 5xx, after the
/// SDK's own retries) is a retryable error, so the step runs again instead of recording the
/// interval as failed for good.
async fn read_path(
    objects: &dyn Objects,
    path: &str,
    aggregator: &mut Aggregator<'_>,
) -> Result<Result<usize, String>, PipelineError> {
    let transient = |e: String| PipelineError::Store(StoreError::Backend(e));
    let files = match objects.list(path).await {
        Ok(f) => f,
        Err(ObjectError::AccessDenied(p)) => return Ok(Err(format!("permission denied: {p}"))),
        Err(ObjectError::NotFound(p)) => return Ok(Err(format!("no data: nothing at {p}"))),
        Err(ObjectError::Other(e)) => return Err(transient(format!("listing {path}: {e}"))),
    };
    if files.is_empty() {
        return Ok(Err(format!("no data: nothing under {path}")));
    }
    for f in &files {
        let opened = match objects.open(f).await {
            Err(ObjectError::Other(e)) => return Err(transient(format!("reading {f}: {e}"))),
            other => other.map_err(|e| e.to_string()),
        };
        aggregator.read_object(f, opened);
    }
    Ok(Ok(files.len()))
}

/// Learns every series from the metric set's historical path (when it has one) and stores the
/// model state; the detector becomes LEARNING, or ACTIVE when history covered the warm-up.
/// Returns the runtime. A detector activated again keeps the model it built for the same series
/// (what it learned live included) and resumes with the interval closed last; one whose series
/// changed relearns from scratch.
pub async fn activate<S: Store>(
    store: &S,
    objects: &dyn Objects,
    arn: &str,
) -> Result<Runtime, PipelineError> {
    let d = load(store, arn).await?;
    if let Some(runtime) = resume(store, &d).await? {
        return Ok(runtime);
    }
    let history = d
        .metric_set
        .metric_source
        .s3_source_config
        .as_ref()
        .and_then(|s| s.historical_data_path_list.as_ref())
        .and_then(|l| l.first().cloned());
    let mut aggregator = Aggregator::new(&d.schema);
    if let Some(path) = &history
        && let Err(reason) = read_path(objects, path, &mut aggregator).await?
    {
        return Err(PipelineError::Config(format!("historical data: {reason}")));
    }
    let (data, quality) = aggregator.finish_with_quality();
    // The per-detector metric quota, as the backtest keeps it: learning more series than the
    // frequency allows would hold every one of them in every interval's detect run.
    crate::validate::metric_quota(&d.metric_set, quality.time_series as usize)
        .map_err(|e| PipelineError::Config(format!("historical data: {e}")))?;
    if let (Some(first), Some(last)) = (data.first(), data.last()) {
        let span = (last.start - first.start) / d.schema.frequency.seconds().max(1);
        if span > crate::backtest::MAX_TIMELINE {
            return Err(PipelineError::Config(format!(
                "historical data: the data spans {span} intervals ({} to {}), more than {}: check the timestamps at either end",
                timestamp_string(first.start),
                timestamp_string(last.start),
                crate::backtest::MAX_TIMELINE
            )));
        }
    }
    let warmup = d.schema.frequency.cold_start_intervals();
    let mut states: BTreeMap<Vec<String>, Vec<SeriesState>> = BTreeMap::new();
    let (mut learned, mut history_end) = (0, None);
    if let (Some(first), Some(last)) = (data.first(), data.last()) {
        let by_start: BTreeMap<i64, _> = data.iter().map(|i| (i.start, i)).collect();
        let timeline = intervals(first.start, last.start, d.schema.frequency, d.schema.zone);
        for dims in data.iter().flat_map(|i| i.series.keys()) {
            if !states.contains_key(dims) {
                let fresh = vec![SeriesState::new(&d.engine); d.schema.measures.len()];
                states.insert(dims.clone(), fresh);
            }
        }
        for &t in &timeline {
            let row = by_start.get(&t);
            for (dims, series) in states.iter_mut() {
                let values = row.and_then(|r| r.series.get(dims));
                for (m, state) in series.iter_mut().enumerate() {
                    state.observe(&d.engine, t, values.and_then(|v| v[m]));
                }
            }
        }
        learned = timeline.len();
        history_end = Some(last.start);
    }
    let runtime = install(store, arn, states, learned, history_end).await?;
    let status = if learned >= warmup {
        "ACTIVE"
    } else {
        "LEARNING"
    };
    set_status(store, arn, status, None).await?;
    Ok(runtime)
}

/// Resumes the detector's model when it was built for the detector's series as they are now:
/// the runtime is stamped with the new activation time and the detector is ACTIVE, or LEARNING
/// while the intervals it learned fall short of the warm-up. None when there is no such model.
async fn resume<S: Store>(store: &S, d: &Detector) -> Result<Option<Runtime>, PipelineError> {
    let key = format!("{}/runtime", d.arn);
    let Some(doc) = store.get(Kind::Pipeline, &key).await? else {
        return Ok(None);
    };
    let Ok(mut runtime) = serde_json::from_value::<Runtime>(doc) else {
        return Ok(None);
    };
    let fingerprint = model_fingerprint(&d.metric_set);
    if runtime.model.as_deref() != Some(fingerprint.as_str()) {
        return Ok(None);
    }
    runtime.activated_at = activation_time(store, &d.arn).await?;
    let doc = serde_json::to_value(&runtime).map_err(|e| PipelineError::Config(e.to_string()))?;
    store.put(Kind::Pipeline, &key, doc).await?;
    let seen = runtime.learned + count_executions(store, &d.arn).await?;
    let status = if seen >= runtime.warmup {
        "ACTIVE"
    } else {
        "LEARNING"
    };
    set_status(store, &d.arn, status, None).await?;
    Ok(Some(runtime))
}

/// When the detector was activated: when the activation running now was asked for (so the
/// intervals that closed while it learned are run after it), or now when no run was asked for
/// within [`RUN_LOST_AFTER`].
async fn activation_time<S: Store>(store: &S, arn: &str) -> Result<i64, StoreError> {
    let now = now();
    Ok(match run_requested_at(store, arn).await? {
        Some(asked) if asked <= now && now - asked <= RUN_LOST_AFTER => asked,
        _ => now,
    })
}

/// How long a one-time run (an activation, a backtest) asked for may take before it is taken
/// for lost (the ingest function's 15 minutes, and margin) and may be asked for again.
pub const RUN_LOST_AFTER: i64 = 1_200;

/// Records that the API asked for a one-time run of a detector: its token (which the run's
/// event carries) and when. Another request replaces it, so a run asked for earlier does not
/// start.
pub async fn ask_run<S: Store>(
    store: &S,
    arn: &str,
    token: &str,
    now: i64,
) -> Result<(), StoreError> {
    let doc = json!({ "token": token, "requestedAt": now });
    store.put(Kind::Pipeline, &format!("{arn}/run"), doc).await
}

/// When the detector's current one-time run was asked for.
pub async fn run_requested_at<S: Store>(store: &S, arn: &str) -> Result<Option<i64>, StoreError> {
    let doc = store.get(Kind::Pipeline, &format!("{arn}/run")).await?;
    Ok(doc.and_then(|d| d["requestedAt"].as_i64()))
}

/// Who runs the one-time work asked for.
enum RunClaim {
    /// This caller, under this claim.
    Ours(String),
    /// Another caller, less than [`RUN_LOST_AFTER`] ago (a duplicate event while it runs, or
    /// the retry of a run that failed and could not give its claim back).
    Held,
    /// Nobody: this event's run is not (or no longer) the one asked for.
    Outdated,
}

/// Claims the run asked for with `token` (`None`: whichever was asked for last), for exactly
/// one caller; a claim older than [`RUN_LOST_AFTER`] is a lost run's and is taken over.
async fn claim_run<S: Store>(
    store: &S,
    arn: &str,
    token: Option<&str>,
) -> Result<RunClaim, StoreError> {
    let claim = crate::objects::unique_suffix();
    let at = now();
    let lost = |c: &Value| c["claimedAt"].as_i64().unwrap_or(0) + RUN_LOST_AFTER < at;
    let asked = |c: &Value| token.is_none_or(|t| c["token"] == t);
    let after = update(store, Kind::Pipeline, &format!("{arn}/run"), |current| {
        Ok::<_, StoreError>(
            current
                .filter(|c| c["claim"].is_null() || lost(c))
                .filter(|c| asked(c))
                .map(|c| {
                    let mut next = c.clone();
                    next["claim"] = json!(claim);
                    next["claimedAt"] = json!(at);
                    next
                }),
        )
    })
    .await?;
    Ok(match after {
        Some(d) if d["claim"] == claim.as_str() => RunClaim::Ours(claim),
        Some(d) if asked(&d) && !d["claim"].is_null() => RunClaim::Held,
        _ => RunClaim::Outdated,
    })
}

/// Gives a claimed run back (its work failed on storage), so the retry of its event runs it.
async fn release_run<S: Store>(store: &S, arn: &str, claim: &str) -> Result<(), StoreError> {
    update(store, Kind::Pipeline, &format!("{arn}/run"), |current| {
        Ok::<_, StoreError>(current.filter(|c| c["claim"] == claim).map(|c| {
            let mut next = c.clone();
            next["claim"] = Value::Null;
            next
        }))
    })
    .await?;
    Ok(())
}

/// Clears the claim on a detector's one-time run, so it runs again: for `seismo serve` when it
/// starts, since no run of its own can be going then (one killed mid-way left the detector
/// ACTIVATING for twenty minutes).
pub async fn reset_run_claim<S: Store>(store: &S, arn: &str) -> Result<(), StoreError> {
    update(store, Kind::Pipeline, &format!("{arn}/run"), |current| {
        Ok::<_, StoreError>(current.filter(|c| !c["claim"].is_null()).map(|c| {
            let mut next = c.clone();
            next["claim"] = Value::Null;
            next
        }))
    })
    .await?;
    Ok(())
}

/// Runs the one-time work asked for while the detector is `running` (the API set that status
/// and scheduled this). Only the run asked for last with `token` (any, when `None`) runs, once:
/// another status, a duplicate or an outdated event changes nothing. A detector deleted while
/// it ran loses what the run stored. Returns the status after. Only a storage failure is an
/// error (retried).
async fn run_once<S: Store, F: Future<Output = Result<(), PipelineError>>>(
    store: &S,
    arn: &str,
    token: Option<&str>,
    running: &str,
    work: impl FnOnce() -> F,
) -> Result<String, PipelineError> {
    let status = status_of(store.get(Kind::Detector, arn).await?);
    if status != running {
        return Ok(status);
    }
    let claim = match claim_run(store, arn, token).await? {
        RunClaim::Ours(claim) => claim,
        RunClaim::Outdated => return Ok(status),
        // Not done, so not acknowledged: the event is retried (or dead-lettered), and runs
        // once that run is done or taken for lost.
        RunClaim::Held => return Err(PipelineError::Busy(format!("{arn}: {running} runs"))),
    };
    if let Err(e) = work().await {
        // Retried: the retry must find the run unclaimed (best effort: storage is failing).
        let _ = release_run(store, arn, &claim).await;
        return Err(e);
    }
    let after = status_of(store.get(Kind::Detector, arn).await?);
    if matches!(after.as_str(), "DELETED" | "DELETING") {
        forget(store, arn).await?;
        for (key, _) in store.list(Kind::Group, &format!("{arn}/")).await? {
            store.delete(Kind::Group, &key).await?;
        }
        store.delete(Kind::Quality, arn).await?;
    }
    Ok(after)
}

/// A detector document's status, `DELETED` when there is none.
fn status_of(doc: Option<Value>) -> String {
    doc.as_ref()
        .and_then(|d| d["Status"].as_str())
        .unwrap_or("DELETED")
        .to_string()
}

/// Runs the activation of a detector that is ACTIVATING (see [`run_once`]): learns from its
/// history and leaves it LEARNING or ACTIVE, or FAILED with the reason when the history cannot
/// be read or learned.
pub async fn run_activation<S: Store>(
    store: &S,
    objects: &dyn Objects,
    arn: &str,
    token: Option<&str>,
) -> Result<String, PipelineError> {
    run_once(store, arn, token, "ACTIVATING", || async {
        match activate(store, objects, arn).await {
            Ok(_) => Ok(()),
            Err(PipelineError::Store(e)) => Err(e.into()),
            Err(e) => {
                let reason = e.to_string();
                set_status(store, arn, "FAILED", Some(("ACTIVATION_FAILURE", &reason))).await?;
                Ok(())
            }
        }
    })
    .await
}

/// Runs the backtest of a detector that is BACK_TEST_ACTIVATING (see [`run_once`]): every file
/// under the metric set's historical path (or its template's fixed prefix) is read through
/// `objects`, the first 70% of the timeline trains the models and the rest is scored; the
/// groups replace the detector's earlier ones, with the data-quality figures, and the detector
/// becomes BACK_TEST_COMPLETE, or FAILED with the reason.
pub async fn run_backtest<S: Store>(
    store: &S,
    objects: &dyn Objects,
    arn: &str,
    token: Option<&str>,
) -> Result<String, PipelineError> {
    run_once(store, arn, token, "BACK_TEST_ACTIVATING", || async {
        let failure = match backtest_now(store, objects, arn).await {
            Ok(()) => return Ok(()),
            Err(PipelineError::Store(e)) => return Err(e.into()),
            Err(e) => e.to_string(),
        };
        let failed = Some(("BACK_TEST_ACTIVATION_FAILURE", failure.as_str()));
        set_status(store, arn, "FAILED", failed).await?;
        Ok(())
    })
    .await
}

/// The backtest itself: its groups and data quality stored, the detector BACK_TEST_COMPLETE.
/// Anything but a storage error is the reason it failed.
async fn backtest_now<S: Store>(
    store: &S,
    objects: &dyn Objects,
    arn: &str,
) -> Result<(), PipelineError> {
    let d = load(store, arn).await?;
    // The last backtest's groups go; groups the detector found live stay (groups stored before
    // backtests were marked are a backtest's when the detector never ran live).
    let ran_live = count_executions(store, arn).await? > 0;
    let mut live = std::collections::HashSet::new();
    for (key, group) in store.list(Kind::Group, &format!("{arn}/")).await? {
        if group.get(BACKTEST_MARK).map_or(!ran_live, |m| m == true) {
            store.delete(Kind::Group, &key).await?;
        } else {
            live.insert(key);
        }
    }
    let path = crate::backtest::source_path(&d.metric_set)
        .map_err(|e| PipelineError::Config(e.to_string()))?;
    // One object open at a time (an S3 object is a temporary file while it is read).
    let mut aggregator = Aggregator::new(&d.schema);
    let files = read_path(objects, &path, &mut aggregator)
        .await?
        .map_err(PipelineError::Config)?;
    let options = crate::backtest::BacktestOptions {
        namespace: arn.to_string(),
        ..Default::default()
    };
    let report = crate::backtest::run_read(
        &d.metric_set,
        &d.schema,
        aggregator,
        files,
        &options,
        &mut |_| {},
    )
    .map_err(|e| PipelineError::Config(e.to_string()))?;
    for g in &report.groups {
        let mut g = g.clone();
        g.keep_series(crate::group::MAX_STORED_SERIES);
        let key = format!("{arn}/{}", g.anomaly_group.anomaly_group_id);
        if live.contains(&key) {
            // The group found live for the same measure and start stays.
            continue;
        }
        let mut doc = serde_json::to_value(&g).map_err(|e| PipelineError::Config(e.to_string()))?;
        doc[BACKTEST_MARK] = json!(true);
        store.put(Kind::Group, &key, doc).await?;
    }
    let quality = json!({
        "train": report.train,
        "inference": report.inference,
        "quality": report.quality,
        "metricSetName": report.metric_set_name,
    });
    store.put(Kind::Quality, arn, quality).await?;
    set_status_from(store, arn, "BACK_TEST_ACTIVATING", "BACK_TEST_COMPLETE").await?;
    Ok(())
}

/// The member that marks a stored group as a backtest's.
const BACKTEST_MARK: &str = "backTest";

/// Stores a detector's model: the series' states as of `history_end`, spread over shards of
/// at most [`SHARD_SERIES`] series, and the runtime. (Activation calls it after learning from
/// history; the scale bench seeds a model with it.)
pub async fn install<S: Store>(
    store: &S,
    arn: &str,
    states: BTreeMap<Vec<String>, Vec<SeriesState>>,
    learned: usize,
    history_end: Option<i64>,
) -> Result<Runtime, PipelineError> {
    let d = load(store, arn).await?;
    let warmup = d.schema.frequency.cold_start_intervals();
    let shards = states.len().div_ceil(SHARD_SERIES).max(1) as u32;
    let runtime = Runtime {
        shards,
        learned,
        warmup,
        history_end,
        activated_at: activation_time(store, arn).await?,
        model: Some(model_fingerprint(&d.metric_set)),
    };
    // A new model replaces the old one whole (its shards may differ).
    blob::delete_under(store, &format!("{arn}/state/")).await?;
    let mut by_shard: Vec<Vec<(Vec<String>, Vec<SeriesState>)>> = vec![Vec::new(); shards as usize];
    for (dims, s) in states {
        by_shard[shard_of(&dims, shards) as usize].push((dims, s));
    }
    let at = history_end.unwrap_or(i64::MIN);
    for (shard, series) in by_shard.iter().enumerate() {
        write_state(store, arn, shard as u32, at, series, NO_FEEDBACK).await?;
    }
    let doc = serde_json::to_value(&runtime).map_err(|e| PipelineError::Config(e.to_string()))?;
    store
        .put(Kind::Pipeline, &format!("{arn}/runtime"), doc)
        .await?;
    Ok(runtime)
}

/// Writes a shard's state as of interval `at`: a blob under a key of its own first, then the
/// head that points at it (compare-and-swap), then the previous version is removed. A run that
/// loses the swap removes its own blob, so a duplicate or late run leaves nothing behind.
async fn write_state<S: Store>(
    store: &S,
    arn: &str,
    shard: u32,
    at: i64,
    series: &[(Vec<String>, Vec<SeriesState>)],
    feedback_at: f64,
) -> Result<bool, StoreError> {
    let head_key = format!("{arn}/state/{shard}");
    let current = store.get(Kind::Pipeline, &head_key).await?;
    let previous = current.as_ref().and_then(|h| h["at"].as_i64());
    if previous.is_some_and(|p| p >= at) && at != i64::MIN {
        return Ok(false);
    }
    let blob_key = format!(
        "{arn}/state/{shard}/{at}/{}",
        crate::objects::unique_suffix()
    );
    blob::put(store, &blob_key, &codec::encode_states(series)).await?;
    let head =
        json!({ "at": at, "blob": blob_key, "series": series.len(), "feedbackAt": feedback_at });
    match store
        .replace(Kind::Pipeline, &head_key, current.as_ref(), head)
        .await
    {
        Ok(()) => {}
        // Another run got there first: this blob is nobody's. Fine when that run wrote the
        // same interval (a duplicate of this step); otherwise retry this one later. (Another
        // error leaves the blob: the swap may have happened.)
        Err(StoreError::Changed) => {
            blob::delete(store, &blob_key).await?;
            let now = store.get(Kind::Pipeline, &head_key).await?;
            if now.as_ref().and_then(|h| h["at"].as_i64()) == Some(at) {
                return Ok(false);
            }
            return Err(StoreError::Changed);
        }
        Err(e) => return Err(e),
    }
    if let Some(old) = current.as_ref().and_then(|h| h["blob"].as_str()) {
        blob::delete(store, old).await?;
    }
    Ok(true)
}

/// A shard's model state: as of which interval, the series, and the time of the newest
/// feedback applied (feedback is applied once, in the order it was given).
struct ShardState {
    at: Option<i64>,
    series: codec::States,
    feedback_at: f64,
}

/// The feedback mark of a state that has applied none.
const NO_FEEDBACK: f64 = -1.0;

async fn read_state<S: Store>(
    store: &S,
    arn: &str,
    shard: u32,
) -> Result<ShardState, PipelineError> {
    let Some(head) = store
        .get(Kind::Pipeline, &format!("{arn}/state/{shard}"))
        .await?
    else {
        return Ok(ShardState {
            at: None,
            series: Vec::new(),
            feedback_at: NO_FEEDBACK,
        });
    };
    let mut head = head;
    // A concurrent run of the shard may swap the head and remove the blob it named between
    // the two reads: read the head again (a blob still missing then is lost for good).
    let mut bytes = None;
    for _ in 0..3 {
        let blob_key = head["blob"].as_str().unwrap_or_default().to_string();
        if let Some(b) = blob::get(store, &blob_key).await? {
            bytes = Some(b);
            break;
        }
        match store
            .get(Kind::Pipeline, &format!("{arn}/state/{shard}"))
            .await?
        {
            Some(now) if now != head => head = now,
            _ => break,
        }
    }
    let at = head["at"].as_i64().filter(|&t| t != i64::MIN);
    let blob_key = head["blob"].as_str().unwrap_or_default();
    let bytes =
        bytes.ok_or_else(|| PipelineError::Config(format!("state blob {blob_key} is missing")))?;
    let series = codec::decode_states(&bytes)
        .map_err(|e| PipelineError::Config(format!("state of shard {shard}: {e}")))?;
    let feedback_at = head["feedbackAt"].as_f64().unwrap_or(NO_FEEDBACK);
    Ok(ShardState {
        at,
        series,
        feedback_at,
    })
}

/// Applies the feedback given since the shard's state was written (PutFeedback on a series of
/// an anomaly group): each of the series' points in the group, to the measure's state.
/// Moves the state's feedback mark past every feedback read, this shard's or not.
async fn apply_feedback<S: Store>(
    store: &S,
    d: &Detector,
    rt: &Runtime,
    shard: u32,
    state: &mut ShardState,
) -> Result<usize, PipelineError> {
    let arn = d.arn.as_str();
    let mut applied = 0;
    let since = state.feedback_at;
    let mut newest = since;
    let mut groups: BTreeMap<String, Option<GroupReport>> = BTreeMap::new();
    for (k, fb) in store.list(Kind::Feedback, &format!("{arn}/")).await? {
        let is_anomaly = fb["IsAnomaly"].as_bool().unwrap_or(false);
        // Given before the state's mark: applied already (docs from before the mark existed
        // count as given at 0).
        let given = fb["UpdatedAt"].as_f64().unwrap_or(0.0);
        if given <= since {
            continue;
        }
        newest = newest.max(given);
        let Some((group_id, series_id)) = k[arn.len() + 1..].split_once('/') else {
            continue;
        };
        if !groups.contains_key(group_id) {
            let doc = store.get(Kind::Group, &format!("{arn}/{group_id}")).await?;
            groups.insert(
                group_id.to_string(),
                doc.and_then(|g| serde_json::from_value(g).ok()),
            );
        }
        let Some(Some(group)) = groups.get(group_id) else {
            continue;
        };
        let Some(series) = group
            .time_series
            .iter()
            .find(|s| s.time_series_id == series_id)
        else {
            continue;
        };
        let dims: Vec<String> = series
            .dimensions
            .iter()
            .map(|d| d.dimension_value.clone())
            .collect();
        let measure = d
            .schema
            .measures
            .iter()
            .position(|m| m.metric_name == group.anomaly_group.primary_metric_name);
        if shard_of(&dims, rt.shards) != shard {
            continue;
        }
        let (Some(m), Some((_, states))) =
            (measure, state.series.iter_mut().find(|(k, _)| *k == dims))
        else {
            continue;
        };
        for p in &series.points {
            let Ok(time) = chrono::DateTime::parse_from_rfc3339(&p.timestamp) else {
                continue;
            };
            let feedback = Feedback {
                time: time.timestamp(),
                z: p.z,
                is_anomaly,
            };
            states[m].feedback(&d.engine, feedback);
            applied += 1;
        }
    }
    state.feedback_at = newest;
    Ok(applied)
}

/// What ingest did with one interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Ingested {
    /// The detect work, one task per shard (empty when the detector is not running).
    pub tasks: Vec<DetectTask>,
    /// Why the interval has no (or only partial) data, if so.
    pub problem: Option<String>,
    /// Series with a value in the interval.
    pub series: usize,
}

/// Ingests one interval: reads the files under the templated path for the interval, keeps
/// the interval's rows, aggregates them per series, stores the values per shard and the
/// data-quality figures, records the execution, and returns the detect tasks. A missing or
/// unreadable path is recorded on the execution and the interval still goes on (every series
/// then sees a missing point), so the next interval runs as usual.
pub async fn ingest<S: Store>(
    store: &S,
    objects: &dyn Objects,
    arn: &str,
    when: When,
) -> Result<Ingested, PipelineError> {
    let d = load(store, arn).await?;
    let interval = match when {
        When::Interval(t) => t,
        When::FiredAt(fired) => interval_for_firing(&d, fired).ok_or_else(|| {
            PipelineError::Event(format!("no interval for {}", timestamp_string(fired)))
        })?,
    };
    let status = d.doc["Status"].as_str().unwrap_or_default();
    if !matches!(status, "ACTIVE" | "LEARNING") {
        return Ok(Ingested {
            tasks: Vec::new(),
            problem: Some(format!("the detector is {status}")),
            series: 0,
        });
    }
    let rt = runtime(store, arn).await?;
    let (f, z) = (d.schema.frequency, d.schema.zone);
    if interval_start(interval, f, z) != Some(interval) {
        return Err(PipelineError::Event(format!(
            "{} is not the start of a {} interval",
            timestamp_string(interval),
            f.as_str()
        )));
    }
    let end = next_interval(interval, f, z).unwrap_or(interval + f.seconds());
    let values_key = |shard: u32| format!("{arn}/values/{interval}/{shard}");
    let tasks: Vec<DetectTask> = (0..rt.shards)
        .map(|shard| DetectTask {
            anomaly_detector_arn: arn.to_string(),
            interval,
            shard,
        })
        .collect();
    let exec_key = format!("{arn}/{}", timestamp_string(interval));
    // A replay: the execution is recorded only after every shard's values are stored, so
    // the same work is handed over again and nothing is read or written.
    if let Some(exec) = store.get(Kind::Execution, &exec_key).await? {
        return Ok(Ingested {
            tasks,
            problem: exec["FailureReason"].as_str().map(str::to_string),
            series: exec["series"].as_u64().unwrap_or(0) as usize,
        });
    }
    let templates = d
        .metric_set
        .metric_source
        .s3_source_config
        .as_ref()
        .and_then(|s| s.templated_path_list.clone())
        .unwrap_or_default();
    let mut aggregator = Aggregator::new(&d.schema).with_window(interval, end);
    let mut problems = Vec::new();
    if templates.is_empty() {
        problems.push("the metric set has no TemplatedPathList".to_string());
    }
    for template in &templates {
        match expand_template(template, interval, z) {
            Ok(path) => {
                if let Err(reason) = read_path(objects, &path, &mut aggregator).await? {
                    problems.push(reason);
                }
            }
            Err(e) => problems.push(format!("template {template}: {e}")),
        }
    }
    let (data, quality) = aggregator.finish_with_quality();
    let mut shards: Vec<codec::Values> = vec![Vec::new(); rt.shards as usize];
    let mut series = 0;
    for i in data.iter().filter(|i| i.start == interval) {
        for (dims, values) in &i.series {
            series += 1;
            shards[shard_of(dims, rt.shards) as usize].push((dims.clone(), values.clone()));
        }
    }
    for f in &quality.unreadable_files {
        problems.push(format!("unreadable: {f}"));
    }
    if series == 0 && problems.is_empty() {
        problems.push("empty interval: no usable row".to_string());
    }
    for (shard, values) in shards.iter().enumerate() {
        blob::put(
            store,
            &values_key(shard as u32),
            &codec::encode_values(values),
        )
        .await?;
    }
    let problem = (!problems.is_empty()).then(|| problems.join("; "));
    let quality_doc = json!({
        "metricSetName": d.metric_set.metric_set_name,
        "interval": timestamp_string(interval),
        "quality": quality_json(&quality),
    });
    store.put(Kind::Quality, arn, quality_doc).await?;
    let mut exec = json!({
        "Timestamp": timestamp_string(interval),
        "Status": "IN_PROGRESS",
        "series": series,
    });
    if let Some(p) = &problem {
        exec["FailureReason"] = json!(p);
    }
    match store.create(Kind::Execution, &exec_key, exec).await {
        Ok(()) | Err(StoreError::Exists) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Ingested {
        tasks,
        problem,
        series,
    })
}

fn quality_json(q: &DataQuality) -> Value {
    serde_json::to_value(q).unwrap_or(Value::Null)
}

/// What detect did with one shard.
#[derive(Debug, Clone, PartialEq)]
pub struct Detected {
    /// Whether this run scored the shard (false: a replay, already done).
    pub scored: bool,
    /// Anomalous points in the shard.
    pub anomalies: usize,
    /// When this shard completed the interval: the notify work.
    pub notify: Option<NotifyTask>,
}

/// Scores one shard of one interval against its model state, stores the new state and the
/// scored points, and, when it is the last shard of the interval to finish, forms the
/// interval's anomaly groups and returns the notify work.
pub async fn detect<S: Store>(store: &S, task: &DetectTask) -> Result<Detected, PipelineError> {
    let arn = task.anomaly_detector_arn.as_str();
    let d = load(store, arn).await?;
    let rt = runtime(store, arn).await?;
    if task.shard >= rt.shards {
        return Err(PipelineError::Event(format!(
            "shard {} of {} does not exist",
            task.shard, rt.shards
        )));
    }
    let interval = task.interval;
    let values_key = format!("{arn}/values/{interval}/{}", task.shard);
    let mut shard_state = read_state(store, arn, task.shard).await?;
    let mut scored_now = false;
    let mut anomalies = 0;
    if shard_state.at.is_none_or(|a| a < interval) {
        apply_feedback(store, &d, &rt, task.shard, &mut shard_state).await?;
        let states = &mut shard_state.series;
        let values = blob::get(store, &values_key).await?.ok_or_else(|| {
            PipelineError::Config(format!(
                "no values for {} shard {}: ingest has not run",
                timestamp_string(interval),
                task.shard
            ))
        })?;
        let values = codec::decode_values(&values)
            .map_err(|e| PipelineError::Config(format!("values of shard {}: {e}", task.shard)))?;
        let measures = d.schema.measures.len();
        let mut index: BTreeMap<Vec<String>, usize> = states
            .iter()
            .enumerate()
            .map(|(i, (dims, _))| (dims.clone(), i))
            .collect();
        for (dims, _) in &values {
            if !index.contains_key(dims) {
                index.insert(dims.clone(), states.len());
                states.push((dims.clone(), vec![SeriesState::new(&d.engine); measures]));
            }
        }
        let by_dims: BTreeMap<&Vec<String>, &Vec<Option<f64>>> =
            values.iter().map(|(k, v)| (k, v)).collect();
        let mut scored: codec::Verdicts = Vec::new();
        for (dims, series) in states.iter_mut() {
            let row = by_dims.get(dims);
            let verdicts: Vec<Option<Scored>> = series
                .iter_mut()
                .enumerate()
                .map(|(m, state)| {
                    state.observe(
                        &d.engine,
                        interval,
                        row.and_then(|r| r.get(m).copied().flatten()),
                    )
                })
                .collect();
            anomalies += verdicts.iter().flatten().filter(|s| s.anomalous).count();
            if verdicts.iter().any(Option::is_some) {
                scored.push((dims.clone(), verdicts));
            }
        }
        let scored_key = format!("{arn}/scored/{interval}/{}", task.shard);
        blob::put(store, &scored_key, &codec::encode_scored(&scored)).await?;
        let swapped = write_state(
            store,
            arn,
            task.shard,
            interval,
            &shard_state.series,
            shard_state.feedback_at,
        )
        .await;
        // Another run scored this interval and its groups are formed (their cleanup already
        // ran): these scores are nobody's.
        if !matches!(swapped, Ok(true)) && grouped(store, arn, interval).await?.is_some() {
            blob::delete(store, &scored_key).await?;
        }
        scored_now = swapped?;
    } else if grouped(store, arn, interval).await?.is_none()
        && blob::head(store, &format!("{arn}/scored/{interval}/{}", task.shard))
            .await?
            .is_none()
    {
        // The shard's state is past this interval (a later interval ran first, or this is a
        // late retry): it can no longer be scored, so it counts as scored with nothing, and
        // the interval is still grouped from the other shards instead of failing for good.
        let scored_key = format!("{arn}/scored/{interval}/{}", task.shard);
        blob::put(store, &scored_key, &codec::encode_scored(&Vec::new())).await?;
        tracing::warn!(detector = %arn, interval, shard = task.shard, "skipped: the shard's state is past the interval");
    }
    // Scored, here or by an earlier run: the interval's values are no longer needed.
    blob::delete(store, &values_key).await?;
    let notify = finish_shard(store, &d, &rt, task).await?;
    Ok(Detected {
        scored: scored_now,
        anomalies,
        notify,
    })
}

/// Marks the shard done; the run that completes the interval forms its groups.
async fn finish_shard<S: Store>(
    store: &S,
    d: &Detector,
    rt: &Runtime,
    task: &DetectTask,
) -> Result<Option<NotifyTask>, PipelineError> {
    let arn = d.arn.as_str();
    let interval = task.interval;
    if let Some(done) = grouped(store, arn, interval).await? {
        // The groups are on record; the run that recorded them may have failed before its
        // clean-up (this is its retry): finish it, or the working data stays for good.
        tidy_grouped(store, d, rt, interval).await?;
        return Ok(Some(done));
    }
    let progress_key = format!("{arn}/progress/{interval}");
    let progress = update(store, Kind::Pipeline, &progress_key, |current| {
        let mut done: BTreeSet<u32> = current
            .and_then(|p| serde_json::from_value(p["done"].clone()).ok())
            .unwrap_or_default();
        done.insert(task.shard);
        Ok::<_, StoreError>(Some(json!({ "done": done })))
    })
    .await?;
    let done: BTreeSet<u32> = progress
        .and_then(|p| serde_json::from_value(p["done"].clone()).ok())
        .unwrap_or_default();
    if done.len() < rt.shards as usize {
        return Ok(None);
    }
    group_interval(store, d, rt, interval).await.map(Some)
}

/// Forms the interval's anomaly groups from every shard's scored points (one group per
/// measure with anomalies), stores them under ids that depend only on detector, measure and
/// interval, completes the execution, and moves a LEARNING detector to ACTIVE once warm.
async fn group_interval<S: Store>(
    store: &S,
    d: &Detector,
    rt: &Runtime,
    interval: i64,
) -> Result<NotifyTask, PipelineError> {
    let arn = d.arn.as_str();
    let exec_key = format!("{arn}/{}", timestamp_string(interval));
    if let Some(done) = grouped(store, arn, interval).await? {
        return Ok(done);
    }
    let measures: Vec<String> = d
        .schema
        .measures
        .iter()
        .map(|m| m.metric_name.clone())
        .collect();
    let mut all: codec::Verdicts = Vec::new();
    for shard in 0..rt.shards {
        let scored_key = format!("{arn}/scored/{interval}/{shard}");
        match blob::get(store, &scored_key).await? {
            Some(bytes) => all.extend(
                codec::decode_scored(&bytes)
                    .map_err(|e| PipelineError::Config(format!("scored shard {shard}: {e}")))?,
            ),
            // Another run grouped the interval and cleaned up meanwhile: its groups stand.
            None => match grouped(store, arn, interval).await? {
                Some(done) => return Ok(done),
                None => return Err(StoreError::Changed.into()),
            },
        }
    }
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let mut grouper = Grouper::new(arn, d.schema.dimensions.clone(), measures);
    grouper.push_interval(
        interval,
        all.iter().flat_map(|(dims, verdicts)| {
            verdicts.iter().enumerate().filter_map(move |(m, s)| {
                s.map(|scored| Observation {
                    measure: m,
                    dimensions: dims.as_slice(),
                    scored,
                })
            })
        }),
    );
    let mut groups = grouper.finish();
    let mut ids = Vec::new();
    for g in &mut groups {
        g.keep_series(crate::group::MAX_STORED_SERIES);
        let id = g.anomaly_group.anomaly_group_id.clone();
        let doc = serde_json::to_value(g).map_err(|e| PipelineError::Config(e.to_string()))?;
        store.put(Kind::Group, &format!("{arn}/{id}"), doc).await?;
        ids.push(id);
    }
    let recorded = |e: Option<&Value>| {
        e.and_then(|e| serde_json::from_value::<Vec<String>>(e["anomalyGroupIds"].clone()).ok())
    };
    let exec = update(store, Kind::Execution, &exec_key, |current| {
        // A concurrent run that recorded the interval first keeps its record.
        if recorded(current).is_some() {
            return Ok::<_, StoreError>(None);
        }
        let mut exec = current
            .cloned()
            .unwrap_or_else(|| json!({ "Timestamp": timestamp_string(interval) }));
        exec["Status"] = json!(if exec.get("FailureReason").is_some() {
            "FAILED"
        } else {
            "COMPLETED"
        });
        exec["anomalyGroupIds"] = json!(ids);
        Ok(Some(exec))
    })
    .await?;
    if let Some(done) = recorded(exec.as_ref())
        && done != ids
    {
        return Ok(NotifyTask {
            anomaly_detector_arn: arn.to_string(),
            interval,
            anomaly_group_ids: done,
        });
    }
    tidy_grouped(store, d, rt, interval).await?;
    Ok(NotifyTask {
        anomaly_detector_arn: arn.to_string(),
        interval,
        anomaly_group_ids: ids,
    })
}

/// What follows an interval's groups on record: its working data goes, and a LEARNING
/// detector that is warm now becomes ACTIVE. Safe to repeat (a retry finishes it).
async fn tidy_grouped<S: Store>(
    store: &S,
    d: &Detector,
    rt: &Runtime,
    interval: i64,
) -> Result<(), PipelineError> {
    let arn = d.arn.as_str();
    for shard in 0..rt.shards {
        blob::delete(store, &format!("{arn}/scored/{interval}/{shard}")).await?;
    }
    store
        .delete(Kind::Pipeline, &format!("{arn}/progress/{interval}"))
        .await?;
    if d.doc["Status"] == "LEARNING"
        && rt.learned + count_executions(store, arn).await? >= rt.warmup
    {
        // Only from LEARNING: a deactivation meanwhile stays.
        set_status_from(store, arn, "LEARNING", "ACTIVE").await?;
    }
    Ok(())
}

/// The notify work of an interval whose groups are formed already (a replay).
async fn grouped<S: Store>(
    store: &S,
    arn: &str,
    interval: i64,
) -> Result<Option<NotifyTask>, StoreError> {
    let exec_key = format!("{arn}/{}", timestamp_string(interval));
    Ok(store
        .get(Kind::Execution, &exec_key)
        .await?
        .and_then(|e| serde_json::from_value::<Vec<String>>(e["anomalyGroupIds"].clone()).ok())
        .map(|ids| NotifyTask {
            anomaly_detector_arn: arn.to_string(),
            interval,
            anomaly_group_ids: ids,
        }))
}

async fn count_executions<S: Store>(store: &S, arn: &str) -> Result<usize, StoreError> {
    Ok(store.list(Kind::Execution, &format!("{arn}/")).await?.len())
}

/// Removes everything the pipeline stored for a detector (on DeleteAnomalyDetector).
pub async fn forget<S: Store>(store: &S, arn: &str) -> Result<(), StoreError> {
    blob::delete_under(store, &format!("{arn}/")).await
}
