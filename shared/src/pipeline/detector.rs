//! A loaded detector (its document, metric set, schema and engine configuration) and its
//! runtime: what every stage reads first.

use super::PipelineError;
use crate::data::Schema;
use crate::engine::{EngineConfig, Sensitivity};
pub use crate::ids::{model_fingerprint, shard_of};
use crate::model::{CreateMetricSetRequest, DetectorDoc, Document};
pub use crate::store::keys::metric_sets_of as metric_set_prefix;
use crate::store::{Kind, Store, StoreError, keys};
use serde::{Deserialize, Serialize};

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

/// Now, in epoch seconds.
pub(super) fn now() -> i64 {
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
    pub doc: DetectorDoc,
    /// Its metric set.
    pub metric_set: CreateMetricSetRequest,
    /// The metric set's schema.
    pub schema: Schema,
    /// The engine configuration.
    pub engine: EngineConfig,
}

/// Loads a detector with its metric set.
pub async fn load<S: Store>(store: &S, arn: &str) -> Result<Detector, PipelineError> {
    let doc = store
        .get(Kind::Detector, arn)
        .await?
        .ok_or_else(|| PipelineError::Config(format!("no detector {arn}")))?;
    let doc = DetectorDoc::from_value(doc).map_err(|e| PipelineError::Config(e.to_string()))?;
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
        .get(Kind::Pipeline, &keys::runtime(arn))
        .await?
        .ok_or_else(|| PipelineError::Config(format!("{arn} is not activated")))?;
    serde_json::from_value(doc).map_err(|e| PipelineError::Config(e.to_string()))
}

/// How many intervals the detector has on record (ingested live).
pub(super) async fn count_executions<S: Store>(store: &S, arn: &str) -> Result<usize, StoreError> {
    Ok(store
        .list(Kind::Execution, &keys::detector_prefix(arn))
        .await?
        .len())
}
