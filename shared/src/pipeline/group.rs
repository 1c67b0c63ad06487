//! Grouping: an interval's scored points from every shard formed into anomaly groups, the
//! execution completed, and the interval's working data removed.

use serde_json::{Value, json};

use super::detector::{Detector, Runtime, count_executions};
use super::status::{Failure, set_status};
use super::{NotifyTask, PipelineError, blob, codec};
use crate::group::{Grouper, Observation};
use crate::model::{DetectorStatus, ExecutionStatus, timestamp_string};
use crate::store::{Kind, Store, StoreError, keys, update};

/// Forms the interval's anomaly groups from every shard's scored points (one group per
/// measure with anomalies), stores them under ids that depend only on detector, measure and
/// interval, completes the execution, and moves a LEARNING detector to ACTIVE once warm.
pub(super) async fn group_interval<S: Store>(
    store: &S,
    d: &Detector,
    rt: &Runtime,
    interval: i64,
) -> Result<NotifyTask, PipelineError> {
    let arn = d.arn.as_str();
    let exec_key = keys::execution(arn, interval);
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
        let scored_key = keys::scored(arn, interval, shard);
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
        store.put(Kind::Group, &keys::group(arn, &id), doc).await?;
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
            ExecutionStatus::Failed
        } else {
            ExecutionStatus::Completed
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
pub(super) async fn tidy_grouped<S: Store>(
    store: &S,
    d: &Detector,
    rt: &Runtime,
    interval: i64,
) -> Result<(), PipelineError> {
    let arn = d.arn.as_str();
    for shard in 0..rt.shards {
        blob::delete(store, &keys::scored(arn, interval, shard)).await?;
    }
    store
        .delete(Kind::Pipeline, &keys::progress(arn, interval))
        .await?;
    if d.doc.status == Some(DetectorStatus::Learning)
        && rt.learned + count_executions(store, arn).await? >= rt.warmup
    {
        // Only from LEARNING: a deactivation meanwhile stays.
        let learning = Some(DetectorStatus::Learning);
        set_status(store, arn, learning, DetectorStatus::Active, Failure::Keep).await?;
    }
    Ok(())
}

/// The notify work of an interval whose groups are formed already (a replay).
pub(super) async fn grouped<S: Store>(
    store: &S,
    arn: &str,
    interval: i64,
) -> Result<Option<NotifyTask>, StoreError> {
    let exec_key = keys::execution(arn, interval);
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
