//! Feedback given on anomaly groups (PutFeedback), applied to a shard's model state once, in
//! the order it was given.

use std::collections::BTreeMap;

use super::PipelineError;
use super::detector::{Detector, Runtime, shard_of};
use super::state::ShardState;
use crate::engine::Feedback;
use crate::group::GroupReport;
use crate::slices::holds;
use crate::store::{Kind, Store, keys};

/// Applies the feedback given since the shard's state was written (PutFeedback on a series of
/// an anomaly group): each of the series' points in the group, to the measure's state.
/// Moves the state's feedback mark past every feedback read, this shard's or not.
pub(super) async fn apply_feedback<S: Store>(
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
    for (k, fb) in store
        .list(Kind::Feedback, &keys::detector_prefix(arn))
        .await?
    {
        let is_anomaly = fb["IsAnomaly"].as_bool().unwrap_or(false);
        // Given before the state's mark: applied already (docs from before the mark existed
        // count as given at 0).
        let given = fb["UpdatedAt"].as_f64().unwrap_or(0.0);
        if given <= since {
            continue;
        }
        newest = newest.max(given);
        let Some((group_id, series_id)) = keys::feedback_ids(arn, &k) else {
            continue;
        };
        if !groups.contains_key(group_id) {
            let doc = store.get(Kind::Group, &keys::group(arn, group_id)).await?;
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
        let Some(m) = d
            .schema
            .measures
            .iter()
            .position(|m| m.metric_name == group.anomaly_group.primary_metric_name)
        else {
            continue;
        };
        // The series, and the group's anomalous slice totals that hold it.
        let targets = std::iter::once((&dims, &series.points)).chain(
            group
                .slices
                .iter()
                .filter(|s| holds(&s.key, &dims))
                .map(|s| (&s.key, &s.points)),
        );
        for (key, points) in targets {
            if shard_of(key, rt.shards) != shard {
                continue;
            }
            let Some((_, states)) = state.series.iter_mut().find(|(k, _)| k == key) else {
                continue;
            };
            for p in points {
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
    }
    state.feedback_at = newest;
    Ok(applied)
}
