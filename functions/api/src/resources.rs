//! The stored resources an operation acts on, looked up by ARN: detectors (and their status),
//! their metric sets and alerts, and whether a resource is still there.

use seismo_shared::model::{AlertDoc, DetectorDoc, DetectorStatus, Document, MetricSetDoc};
use seismo_shared::validate::Check;
use serde_json::Value;

use crate::error::ApiError;
use crate::state::Api;
use seismo_shared::store::{Kind, Store};

pub(crate) async fn detector<S: Store>(api: &Api<S>, arn: &str) -> Result<DetectorDoc, ApiError> {
    let doc = api
        .store
        .get(Kind::Detector, arn)
        .await?
        .ok_or_else(|| ApiError::not_found("AnomalyDetector", arn))?;
    read(doc)
}

/// A stored document, typed; one that does not read as its kind is an internal error.
pub(crate) fn read<D: Document>(doc: Value) -> Result<D, ApiError> {
    D::from_value(doc).map_err(|e| ApiError::Internal(e.to_string()))
}

/// A detector that is not being deleted (what a new metric set or alert may join).
pub(crate) async fn live_detector<S: Store>(
    api: &Api<S>,
    arn: &str,
) -> Result<DetectorDoc, ApiError> {
    let doc = detector(api, arn).await?;
    if status(&doc) == DetectorStatus::Deleting {
        return Err(ApiError::not_found("AnomalyDetector", arn));
    }
    Ok(doc)
}

/// A detector document's status (INACTIVE when it has none the API knows).
pub(crate) fn status(doc: &DetectorDoc) -> DetectorStatus {
    doc.status.unwrap_or(DetectorStatus::Inactive)
}

/// Whether a resource is still there after something was written for it: a delete that ran
/// meanwhile (a detector DELETING, or any resource gone) may have swept before the write, so
/// the writer removes what it wrote rather than leave it for a later resource of that name.
pub(crate) async fn stays<S: Store>(api: &Api<S>, kind: Kind, arn: &str) -> Result<bool, ApiError> {
    Ok(api.store.get(kind, arn).await?.is_some_and(|d| {
        kind != Kind::Detector
            || seismo_shared::pipeline::detector_status(Some(&d))
                .unwrap_or(DetectorStatus::Inactive)
                != DetectorStatus::Deleting
    }))
}

/// The resource an ARN names must exist (for tags).
pub(crate) async fn require_resource<S: Store>(api: &Api<S>, arn: &str) -> Result<(), ApiError> {
    let mut c = Check::default();
    c.arn("ResourceArn", arn);
    c.finish()?;
    for kind in [Kind::Detector, Kind::MetricSet, Kind::Alert] {
        if api.store.get(kind, arn).await?.is_some() {
            return Ok(());
        }
    }
    Err(ApiError::not_found("Resource", arn))
}

pub(crate) async fn metric_sets_of<S: Store>(
    api: &Api<S>,
    detector_arn: &str,
) -> Result<Vec<MetricSetDoc>, ApiError> {
    let name = detector_arn.rsplit(':').next().unwrap_or_default();
    let prefix = api.arn(&format!("MetricSet/{name}/"));
    api.store
        .list(Kind::MetricSet, &prefix)
        .await?
        .into_iter()
        .map(|(_, v)| read(v))
        .collect()
}

pub(crate) async fn alerts_of<S: Store>(
    api: &Api<S>,
    detector_arn: Option<&str>,
) -> Result<Vec<(String, Value)>, ApiError> {
    let all = api.store.list(Kind::Alert, &api.arn("Alert:")).await?;
    Ok(all
        .into_iter()
        .filter(|(_, a)| {
            detector_arn.is_none_or(|d| {
                AlertDoc::from_value(a.clone()).is_ok_and(|a| a.detector_arn() == d)
            })
        })
        .collect())
}
