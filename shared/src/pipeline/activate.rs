//! Activation: a detector learns every series from its historical data (or resumes the model
//! it built for the same series), and its model is installed shard by shard.

use std::collections::BTreeMap;

use super::detector::{
    Detector, Runtime, count_executions, load, model_fingerprint, now, shard_of,
};
use super::ingest::read_path;
use super::runs::{RUN_LOST_AFTER, run_once, run_requested_at};
use super::state::{NO_FEEDBACK, write_state};
use super::status::{Failure, set_status};
use super::{PipelineError, SHARD_SERIES, blob};
use crate::data::Aggregator;
use crate::engine::SeriesState;
use crate::model::{DetectorStatus, timestamp_string};
use crate::objects::Objects;
use crate::store::{Kind, Store, StoreError, keys};
use crate::time::intervals;

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
    let (mut data, quality) = aggregator.finish_with_quality();
    // Slice totals learn from history as the leaves do (the backtest scores them too).
    let functions = d.schema.functions();
    for i in &mut data {
        crate::slices::extend(&functions, &mut i.series);
    }
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
        DetectorStatus::Active
    } else {
        DetectorStatus::Learning
    };
    set_status(store, arn, None, status, Failure::Clear).await?;
    Ok(runtime)
}

/// Resumes the detector's model when it was built for the detector's series as they are now:
/// the runtime is stamped with the new activation time and the detector is ACTIVE, or LEARNING
/// while the intervals it learned fall short of the warm-up. None when there is no such model.
async fn resume<S: Store>(store: &S, d: &Detector) -> Result<Option<Runtime>, PipelineError> {
    let key = keys::runtime(&d.arn);
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
        DetectorStatus::Active
    } else {
        DetectorStatus::Learning
    };
    set_status(store, &d.arn, None, status, Failure::Clear).await?;
    Ok(Some(runtime))
}

/// When the detector was activated: when the activation running now was asked for (so the
/// intervals that closed while it learned are run after it), or now when no run was asked for
/// within [`RUN_LOST_AFTER`].
pub(super) async fn activation_time<S: Store>(store: &S, arn: &str) -> Result<i64, StoreError> {
    let now = now();
    Ok(match run_requested_at(store, arn).await? {
        Some(asked) if asked <= now && now - asked <= RUN_LOST_AFTER => asked,
        _ => now,
    })
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
    run_once(store, arn, token, DetectorStatus::Activating, || async {
        match activate(store, objects, arn).await {
            Ok(_) => Ok(()),
            Err(PipelineError::Store(e)) => Err(e.into()),
            Err(e) => {
                let reason = e.to_string();
                let failure = Failure::Set("ACTIVATION_FAILURE", &reason);
                set_status(store, arn, None, DetectorStatus::Failed, failure).await?;
                Ok(())
            }
        }
    })
    .await
}

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
    blob::delete_under(store, &keys::states(arn)).await?;
    let mut by_shard: Vec<Vec<(Vec<String>, Vec<SeriesState>)>> = vec![Vec::new(); shards as usize];
    for (dims, s) in states {
        by_shard[shard_of(&dims, shards) as usize].push((dims, s));
    }
    let at = history_end.unwrap_or(i64::MIN);
    for (shard, series) in by_shard.iter().enumerate() {
        write_state(store, arn, shard as u32, at, series, NO_FEEDBACK).await?;
    }
    let doc = serde_json::to_value(&runtime).map_err(|e| PipelineError::Config(e.to_string()))?;
    store.put(Kind::Pipeline, &keys::runtime(arn), doc).await?;
    Ok(runtime)
}
