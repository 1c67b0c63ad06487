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
use serde_json::Value;

use crate::error::ApiError;
use crate::ops::{alert, detector, feedback, metric_set, results, source, tags};
use crate::request::{body, required_members};
use crate::state::Api;
use seismo_shared::store::Store;

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
        "CreateAnomalyDetector" => detector::create_detector(api, &req).await?,
        "DescribeAnomalyDetector" => detector::describe_detector(api, &req).await?,
        "ListAnomalyDetectors" => detector::list_detectors(api, &req).await?,
        "UpdateAnomalyDetector" => detector::update_detector(api, &req).await?,
        "DeleteAnomalyDetector" => detector::delete_detector(api, &req).await?,
        "CreateMetricSet" => metric_set::create_metric_set(api, &req).await?,
        "DescribeMetricSet" => metric_set::describe_metric_set(api, &req).await?,
        "ListMetricSets" => metric_set::list_metric_sets(api, &req).await?,
        "BackTestAnomalyDetector" => detector::back_test(api, &req).await?,
        "ActivateAnomalyDetector" => detector::activate(api, &req).await?,
        "DeactivateAnomalyDetector" => detector::deactivate(api, &req).await?,
        "ListAnomalyGroupSummaries" => results::list_group_summaries(api, &req).await?,
        "GetAnomalyGroup" => results::get_group(api, &req).await?,
        "ListAnomalyGroupTimeSeries" => results::list_group_time_series(api, &req).await?,
        "ListAnomalyGroupRelatedMetrics" => results::list_related(api, &req).await?,
        "GetDataQualityMetrics" => results::data_quality(api, &req).await?,
        "UpdateMetricSet" => metric_set::update_metric_set(api, &req).await?,
        "CreateAlert" => alert::create_alert(api, &req).await?,
        "DescribeAlert" => alert::describe_alert(api, &req).await?,
        "ListAlerts" => alert::list_alerts(api, &req).await?,
        "UpdateAlert" => alert::update_alert(api, &req).await?,
        "DeleteAlert" => alert::delete_alert(api, &req).await?,
        "PutFeedback" => feedback::put_feedback(api, &req).await?,
        "GetFeedback" => feedback::get_feedback(api, &req).await?,
        "DescribeAnomalyDetectionExecutions" => results::describe_executions(api, &req).await?,
        "GetSampleData" => source::get_sample_data(api, &req).await?,
        "DetectMetricSetConfig" => source::detect_metric_set_config(api, &req).await?,
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
    Ok(Json(tags::list_tags(api.as_ref(), &arn).await?))
}

async fn tag<S: Store>(
    State(api): State<Arc<Api<S>>>,
    Path(arn): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let req = body(&bytes)?;
    tags::tag_resource(api.as_ref(), &arn, &req).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn untag<S: Store>(
    State(api): State<Arc<Api<S>>>,
    Path(arn): Path<String>,
    query: Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let keys: Vec<String> = query
        .0
        .into_iter()
        .filter(|(k, _)| k == "tagKeys")
        .map(|(_, v)| v)
        .collect();
    tags::untag_resource(api.as_ref(), &arn, &keys).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
