//! Feedback on the series of an anomaly group: put and get.

use serde_json::{Value, json};

use super::results::{group, is_group_id};
use crate::clock::now_millis;
use crate::error::ApiError;
use crate::paging::{list_scope, page, paginate};
use crate::request::{arn_field, optional, required};
use crate::state::Api;
use seismo_shared::store::{Kind, Store, keys};

/// The required `AnomalyGroupTimeSeriesFeedback` object of a feedback request.
/// A `TimeSeriesId`: 1-520 characters, not only spaces.
fn time_series_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.len() > 520 || id.trim().is_empty() {
        return Err(ApiError::field(
            "AnomalyGroupTimeSeriesFeedback.TimeSeriesId",
            "1-520 characters, not only spaces",
        ));
    }
    Ok(())
}

/// The group id inside the feedback member, checked as a UUID (named with its full path).
fn feedback_group(fb: &Value) -> Result<(), ApiError> {
    let field = "AnomalyGroupTimeSeriesFeedback.AnomalyGroupId";
    match fb.get("AnomalyGroupId") {
        None | Some(Value::Null) => Err(ApiError::field(field, "required")),
        Some(Value::String(id)) if is_group_id(id) => Ok(()),
        Some(Value::String(id)) => Err(ApiError::field(field, format!("{id:?} is not a UUID"))),
        Some(_) => Err(ApiError::field(field, "must be a string")),
    }
}

fn feedback_member(req: &Value) -> Result<&Value, ApiError> {
    req.get("AnomalyGroupTimeSeriesFeedback")
        .filter(|v| v.is_object())
        .ok_or_else(|| ApiError::field("AnomalyGroupTimeSeriesFeedback", "required"))
}

/// Records feedback on one series of a group. It is kept with the group; the continuous
/// pipeline hands it to the engine (`SeriesState::feedback`).
pub(crate) async fn put_feedback<S: Store>(api: &Api<S>, req: &Value) -> Result<Value, ApiError> {
    let arn = arn_field(req, "AnomalyDetectorArn")?;
    let fb = feedback_member(req)?;
    let series = required(fb, "TimeSeriesId").map_err(|e| match e {
        ApiError::Validation(_) if fb.get("TimeSeriesId").is_some_and(|v| !v.is_null()) => {
            ApiError::field(
                "AnomalyGroupTimeSeriesFeedback.TimeSeriesId",
                "must be a string",
            )
        }
        _ => ApiError::field("AnomalyGroupTimeSeriesFeedback.TimeSeriesId", "required"),
    })?;
    time_series_id(series)?;
    feedback_group(fb)?;
    let Some(is_anomaly) = fb.get("IsAnomaly").and_then(Value::as_bool) else {
        return Err(ApiError::field(
            "AnomalyGroupTimeSeriesFeedback.IsAnomaly",
            "required: true or false",
        ));
    };
    let lookup = json!({"AnomalyDetectorArn": arn, "AnomalyGroupId": fb.get("AnomalyGroupId").cloned().unwrap_or(Value::Null)});
    let g = group(api, &lookup).await.map_err(|e| match e {
        ApiError::Validation(_) => ApiError::field(
            "AnomalyGroupTimeSeriesFeedback.AnomalyGroupId",
            "required: the group's UUID",
        ),
        other => other,
    })?;
    if !g.time_series.iter().any(|s| s.time_series_id == series) {
        return Err(ApiError::not_found("TimeSeries", series));
    }
    let id = &g.anomaly_group.anomaly_group_id;
    // When it was given, to the millisecond: detection applies feedback newer than its mark.
    let given = now_millis();
    let doc = json!({"TimeSeriesId": series, "IsAnomaly": is_anomaly, "UpdatedAt": given});
    api.store
        .put(Kind::Feedback, &keys::feedback(arn, id, series), doc)
        .await?;
    Ok(json!({}))
}

pub(crate) async fn get_feedback<S: Store>(api: &Api<S>, req: &Value) -> Result<Value, ApiError> {
    let arn = arn_field(req, "AnomalyDetectorArn")?;
    let q = feedback_member(req)?;
    feedback_group(q)?;
    if let Some(v) = q.get("TimeSeriesId").filter(|v| !v.is_null()) {
        match v.as_str() {
            Some(id) => time_series_id(id)?,
            None => {
                return Err(ApiError::field(
                    "AnomalyGroupTimeSeriesFeedback.TimeSeriesId",
                    "must be a string",
                ));
            }
        }
    }
    page(req)?;
    let lookup = json!({"AnomalyDetectorArn": arn, "AnomalyGroupId": q.get("AnomalyGroupId").cloned().unwrap_or(Value::Null)});
    let g = group(api, &lookup).await?;
    let (max, token) = page(req)?;
    let series = optional(q, "TimeSeriesId")?;
    let prefix = keys::feedback(
        arn,
        &g.anomaly_group.anomaly_group_id,
        series.unwrap_or_default(),
    );
    let all = api
        .store
        .list(Kind::Feedback, &prefix)
        .await?
        .into_iter()
        .map(|(k, f)| {
            let shown = json!({"TimeSeriesId": f["TimeSeriesId"], "IsAnomaly": f["IsAnomaly"]});
            (k, shown)
        })
        .collect();
    let (items, next) = paginate(all, max, token.as_deref(), &list_scope(req, "feedback"))?;
    Ok(json!({ "AnomalyGroupTimeSeriesFeedback": items, "NextToken": next }))
}
