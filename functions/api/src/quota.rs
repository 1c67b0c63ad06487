//! Quotas: how many metric sets and alerts a detector may have, held by atomic reservations
//! so that concurrent creates cannot pass a quota together.

use serde_json::{Value, json};

use crate::clock::now;
use crate::error::ApiError;
use crate::state::Api;
use seismo_shared::store::{Kind, Store, keys};

/// Metric sets per detector (the old service's quota).
pub(crate) const METRIC_SETS_PER_DETECTOR: usize = 1;

/// Alerts per detector (the old service's quota).
pub(crate) const ALERTS_PER_DETECTOR: usize = 10;

/// How long a reservation for a resource being created holds without the resource (a create
/// that crashed between the two writes).
const RESERVATION_HOLDS: f64 = 60.0;

/// Reserves one of a detector's `max` places for `what` (`alerts`, `metric-sets`) for `arn`,
/// atomically, so concurrent creates cannot pass the quota together (16 at once once made two
/// metric sets, 16 alerts eleven). `existing` are the resources that exist now: places held
/// by anything else lapse after a minute. Over the quota: ServiceQuotaExceededException.
pub(crate) async fn reserve<S: Store>(
    api: &Api<S>,
    detector_arn: &str,
    what: &str,
    arn: &str,
    max: usize,
    existing: &[String],
) -> Result<(), ApiError> {
    let key = keys::reserved(detector_arn, what);
    let t = now();
    seismo_shared::store::update(&api.store, Kind::Pipeline, &key, |current| {
        let mut held: serde_json::Map<String, Value> = current
            .and_then(|c| c.as_object().cloned())
            .unwrap_or_default();
        held.retain(|a, at| {
            existing.contains(a) || t - at.as_f64().unwrap_or(0.0) < RESERVATION_HOLDS
        });
        for a in existing {
            held.entry(a.clone()).or_insert(json!(t));
        }
        if !held.contains_key(arn) && held.len() >= max {
            return Err(ApiError::Quota(format!(
                "a detector has at most {max} {}",
                what.replace('-', " ")
            )));
        }
        held.insert(arn.to_string(), json!(t));
        Ok(Some(Value::Object(held)))
    })
    .await?;
    Ok(())
}

/// Gives a detector's place held for `arn` back (its resource is deleted, or was not created).
pub(crate) async fn release<S: Store>(
    api: &Api<S>,
    detector_arn: &str,
    what: &str,
    arn: &str,
) -> Result<(), ApiError> {
    let key = keys::reserved(detector_arn, what);
    seismo_shared::store::update(&api.store, Kind::Pipeline, &key, |current| {
        Ok::<_, ApiError>(
            current
                .and_then(|c| c.as_object().cloned())
                .map(|mut held| {
                    held.remove(arn);
                    Value::Object(held)
                }),
        )
    })
    .await?;
    Ok(())
}
