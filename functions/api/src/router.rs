//! The router: `POST /<OperationName>` with a JSON body for every operation, and
//! `GET|POST|DELETE /tags/{resourceArn}` for tags.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use seismo_shared::error::ValidationError;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::request::{body, required_members};
use crate::state::Api;
use crate::{more, ops};
use seismo_shared::store::{Kind, Store};

/// The router over an API.
pub fn app<S: Store>(api: Arc<Api<S>>) -> Router {
    let keys = api.keys.clone();
    let router = Router::new()
        .route(
            "/tags/{arn}",
            get(list_tags::<S>).post(tag::<S>).delete(untag::<S>),
        )
        .route("/{operation}", post(dispatch::<S>))
        .fallback(no_operation)
        .with_state(api)
        .layer(axum::middleware::map_response(as_api_error));
    match keys {
        Some(keys) => router.layer(axum::middleware::from_fn(move |req, next| {
            crate::sigv4::check(keys.clone(), req, next)
        })),
        None => router,
    }
}

/// A path or method the API does not serve.
async fn no_operation(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ValidationError::cannot_parse(format!(
        "no operation at {method} {}: operations are POST /OperationName, tags /tags/ResourceArn",
        uri.path()
    ))
    .into()
}

/// Errors the HTTP layer answers itself (a body over the size limit, a path that is not
/// UTF-8, a method a route does not take) in the API's form, with its error type, instead of
/// the framework's plain text.
async fn as_api_error(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.headers().contains_key("x-amzn-ErrorType")
    {
        return response;
    }
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is too large".to_string(),
        StatusCode::METHOD_NOT_ALLOWED => {
            "this path takes another method: operations are POST /OperationName".to_string()
        }
        s if s.is_server_error() => return ApiError::Internal(format!("HTTP {s}")).into_response(),
        _ => "the request's path, query or body cannot be read".to_string(),
    };
    let mut out = ApiError::from(ValidationError::cannot_parse(message)).into_response();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        *out.status_mut() = status;
    }
    out
}

async fn dispatch<S: Store>(
    State(api): State<Arc<Api<S>>>,
    Path(operation): Path<String>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    let req = body(&bytes)?;
    required_members(&operation, &req)?;
    let api = api.as_ref();
    let out = match operation.as_str() {
        "CreateAnomalyDetector" => ops::create_detector(api, &req).await?,
        "DescribeAnomalyDetector" => ops::describe_detector(api, &req).await?,
        "ListAnomalyDetectors" => ops::list_detectors(api, &req).await?,
        "UpdateAnomalyDetector" => ops::update_detector(api, &req).await?,
        "DeleteAnomalyDetector" => ops::delete_detector(api, &req).await?,
        "CreateMetricSet" => ops::create_metric_set(api, &req).await?,
        "DescribeMetricSet" => ops::describe_metric_set(api, &req).await?,
        "ListMetricSets" => ops::list_metric_sets(api, &req).await?,
        "BackTestAnomalyDetector" => ops::back_test(api, &req).await?,
        "ActivateAnomalyDetector" => ops::activate(api, &req).await?,
        "DeactivateAnomalyDetector" => ops::deactivate(api, &req).await?,
        "ListAnomalyGroupSummaries" => ops::list_group_summaries(api, &req).await?,
        "GetAnomalyGroup" => ops::get_group(api, &req).await?,
        "ListAnomalyGroupTimeSeries" => ops::list_group_time_series(api, &req).await?,
        "ListAnomalyGroupRelatedMetrics" => ops::list_related(api, &req).await?,
        "GetDataQualityMetrics" => ops::data_quality(api, &req).await?,
        "UpdateMetricSet" => more::update_metric_set(api, &req).await?,
        "CreateAlert" => more::create_alert(api, &req).await?,
        "DescribeAlert" => more::describe_alert(api, &req).await?,
        "ListAlerts" => more::list_alerts(api, &req).await?,
        "UpdateAlert" => more::update_alert(api, &req).await?,
        "DeleteAlert" => more::delete_alert(api, &req).await?,
        "PutFeedback" => more::put_feedback(api, &req).await?,
        "GetFeedback" => more::get_feedback(api, &req).await?,
        "DescribeAnomalyDetectionExecutions" => more::describe_executions(api, &req).await?,
        "GetSampleData" => more::get_sample_data(api, &req).await?,
        "DetectMetricSetConfig" => more::detect_metric_set_config(api, &req).await?,
        other => {
            return Err(ValidationError {
                message: format!("unknown operation {other:?}"),
                reason: seismo_shared::error::ValidationReason::Other,
                fields: Vec::new(),
            }
            .into());
        }
    };
    Ok(Json(out))
}

async fn list_tags<S: Store>(
    State(api): State<Arc<Api<S>>>,
    Path(arn): Path<String>,
) -> Result<Json<Value>, ApiError> {
    ops::require_resource(api.as_ref(), &arn).await?;
    let tags = api
        .store
        .get(Kind::Tags, &arn)
        .await?
        .unwrap_or_else(|| json!({}));
    Ok(Json(json!({ "Tags": tags })))
}

async fn tag<S: Store>(
    State(api): State<Arc<Api<S>>>,
    Path(arn): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let req = body(&bytes)?;
    ops::require_resource(api.as_ref(), &arn).await?;
    let new = req
        .get("tags")
        .or_else(|| req.get("Tags"))
        .cloned()
        .unwrap_or(Value::Null);
    let Value::Object(new) = new else {
        return Err(ApiError::field(
            "Tags",
            "required: a map of tag keys to values",
        ));
    };
    let not_found = || ApiError::not_found("Resource", &arn);
    ops::modify(
        api.as_ref(),
        Kind::Tags,
        &arn,
        Some(json!({})),
        not_found,
        |tags| {
            if let Value::Object(t) = tags {
                t.extend(new.clone());
            }
            ops::check_tags(tags)
        },
    )
    .await?;
    // Deleted meanwhile: these tags are nobody's (a later resource of that name must not
    // inherit them).
    let mut stays = false;
    for kind in [Kind::Detector, Kind::MetricSet, Kind::Alert] {
        stays |= ops::stays(api.as_ref(), kind, &arn).await?;
    }
    if !stays {
        api.store.delete(Kind::Tags, &arn).await?;
        return Err(ApiError::not_found("Resource", &arn));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn untag<S: Store>(
    State(api): State<Arc<Api<S>>>,
    Path(arn): Path<String>,
    query: Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    ops::require_resource(api.as_ref(), &arn).await?;
    let keys: Vec<String> = query
        .0
        .into_iter()
        .filter(|(k, _)| k == "tagKeys")
        .map(|(_, v)| v)
        .collect();
    if keys.is_empty() {
        return Err(ApiError::field("TagKeys", "required: at least one tag key"));
    }
    // The model's limits: 1-50 keys of 1-128 characters.
    let mut c = seismo_shared::validate::Check::default();
    if keys.len() > 50 {
        c.fail("TagKeys", format!("{} keys; 1-50 are allowed", keys.len()));
    }
    for (i, k) in keys.iter().enumerate() {
        c.length(&format!("TagKeys[{i}]"), k, 1, 128);
    }
    c.finish()?;
    let not_found = || ApiError::not_found("Resource", &arn);
    ops::modify(
        api.as_ref(),
        Kind::Tags,
        &arn,
        Some(json!({})),
        not_found,
        |tags| {
            if let Value::Object(t) = tags {
                for k in &keys {
                    t.remove(k);
                }
            }
            Ok(())
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
