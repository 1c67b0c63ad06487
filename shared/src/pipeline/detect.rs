//! The detect stage: one shard of one interval scored against its model state; the shard
//! that completes the interval has its groups formed.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::detector::{Detector, Runtime, load, runtime};
use super::feedback::apply_feedback;
use super::group::{group_interval, grouped, tidy_grouped};
use super::state::{read_state, write_state};
use super::{DetectTask, NotifyTask, PipelineError, blob, codec};
use crate::engine::{Scored, SeriesState};
use crate::model::timestamp_string;
use crate::store::{Kind, Store, StoreError, keys, update};

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
    let values_key = keys::values(arn, interval, task.shard);
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
        let scored_key = keys::scored(arn, interval, task.shard);
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
        && blob::head(store, &keys::scored(arn, interval, task.shard))
            .await?
            .is_none()
    {
        // The shard's state is past this interval (a later interval ran first, or this is a
        // late retry): it can no longer be scored, so it counts as scored with nothing, and
        // the interval is still grouped from the other shards instead of failing for good.
        let scored_key = keys::scored(arn, interval, task.shard);
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
    let progress_key = keys::progress(arn, interval);
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
