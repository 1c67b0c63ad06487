//! Compare-and-swap writes: a stored document read, changed and written back again if another
//! writer changed it meanwhile (`modify`), and a detector's status moved that way.

use seismo_shared::model::{DetectorDoc, DetectorStatus, Document};
use seismo_shared::pipeline::{Failure, write_status};
use serde_json::Value;

use crate::clock::now;
use crate::error::ApiError;
use crate::resources::{read, status};
use crate::state::Api;
use seismo_shared::store::{Kind, Store};

/// Reads, changes and writes back a document, again if another writer changed it meanwhile, so
/// no update is lost. An absent document starts from `default` (or is not found).
pub(crate) async fn modify<S: Store>(
    api: &Api<S>,
    kind: Kind,
    key: &str,
    default: Option<Value>,
    missing: impl Fn() -> ApiError,
    mut change: impl FnMut(&mut Value) -> Result<(), ApiError>,
) -> Result<Value, ApiError> {
    seismo_shared::store::update(&api.store, kind, key, |current| {
        let mut next = match (current, &default) {
            (Some(c), _) => c.clone(),
            (None, Some(d)) => d.clone(),
            (None, None) => return Err(missing()),
        };
        change(&mut next)?;
        Ok(Some(next))
    })
    .await?
    .ok_or_else(missing)
}

/// [`modify`] of a stored document, typed; an absent one is not found.
pub(crate) async fn modify_typed<S: Store, D: Document>(
    api: &Api<S>,
    kind: Kind,
    key: &str,
    missing: impl Fn() -> ApiError,
    mut change: impl FnMut(&mut D) -> Result<(), ApiError>,
) -> Result<D, ApiError> {
    let doc = modify(api, kind, key, None, missing, |doc| {
        let mut typed: D = read(doc.clone())?;
        change(&mut typed)?;
        *doc = typed.to_value();
        Ok(())
    })
    .await?;
    read(doc)
}

/// [`modify`] of a stored detector, typed.
pub(crate) async fn modify_detector<S: Store>(
    api: &Api<S>,
    arn: &str,
    change: impl FnMut(&mut DetectorDoc) -> Result<(), ApiError>,
) -> Result<DetectorDoc, ApiError> {
    let missing = || ApiError::not_found("AnomalyDetector", arn);
    modify_typed(api, Kind::Detector, arn, missing, change).await
}

/// Moves a detector from status `from` (what a request was judged on) to `to`, atomically:
/// when another request changed it meanwhile, a ConflictException and nothing changes.
pub(crate) async fn transition<S: Store>(
    api: &Api<S>,
    arn: &str,
    from: DetectorStatus,
    to: DetectorStatus,
) -> Result<(), ApiError> {
    modify_detector(api, arn, |doc| {
        let current = status(doc);
        if current != from {
            return Err(ApiError::conflict(
                "AnomalyDetector",
                arn,
                format!("the detector became {current} meanwhile"),
            ));
        }
        write_status(doc, to, Failure::Clear, Some(now()));
        Ok(())
    })
    .await?;
    Ok(())
}

/// Sets a detector's status, stamped, with its failure (type and reason) or without any.
pub(crate) async fn set_status<S: Store>(
    api: &Api<S>,
    arn: &str,
    status: DetectorStatus,
    failure: Option<(&str, String)>,
) -> Result<(), ApiError> {
    modify_detector(api, arn, |doc| {
        let failure = match &failure {
            Some((kind, reason)) => Failure::Set(kind, reason),
            None => Failure::Clear,
        };
        write_status(doc, status, failure, Some(now()));
        Ok(())
    })
    .await?;
    Ok(())
}
