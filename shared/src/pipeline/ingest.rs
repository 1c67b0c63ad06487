//! The ingest stage: which interval an event is for, reading the interval's files and
//! aggregating them per series into per-shard values, with the data-quality figures and the
//! execution record.

use serde_json::{Value, json};

use super::detector::{Detector, load, runtime, shard_of};
use super::{DetectTask, PipelineError, blob, codec};
use crate::data::{Aggregator, DataQuality};
use crate::model::{DetectorStatus, ExecutionStatus, timestamp_string};
use crate::objects::{ObjectError, Objects};
use crate::paths::expand_template;
use crate::store::{Kind, Store, StoreError, keys};
use crate::time::{interval_start, next_interval};

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

/// Reads every object under `path` into an aggregator: what could not be read is counted in
/// the data-quality figures; a missing path or a permission error is the returned reason
/// (`Ok(Err(reason))`). A failure that may pass (throttling, a network error, a 5xx, after the
/// SDK's own retries) is a retryable error, so the step runs again instead of recording the
/// interval as failed for good.
pub(super) async fn read_path(
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
    let status = d.doc.status;
    if !status.is_some_and(DetectorStatus::is_running) {
        let status = status.map_or("", DetectorStatus::as_str);
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
    let values_key = |shard: u32| keys::values(arn, interval, shard);
    let tasks: Vec<DetectTask> = (0..rt.shards)
        .map(|shard| DetectTask {
            anomaly_detector_arn: arn.to_string(),
            interval,
            shard,
        })
        .collect();
    let exec_key = keys::execution(arn, interval);
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
    let (mut data, quality) = aggregator.finish_with_quality();
    let mut shards: Vec<codec::Values> = vec![Vec::new(); rt.shards as usize];
    let mut series = 0;
    let functions = d.schema.functions();
    for i in data.iter_mut().filter(|i| i.start == interval) {
        series += i.series.len();
        // Slice totals are scored in the shards like the leaves.
        crate::slices::extend(&functions, &mut i.series);
        for (dims, values) in &i.series {
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
        "Status": ExecutionStatus::InProgress,
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
