//! Reading a request: its JSON body, the members every operation requires, and typed readers
//! of single members (strings, ARNs) that name the member when it is wrong.

use axum::body::Bytes;
use seismo_shared::error::ValidationError;
use seismo_shared::validate::Check;
use serde_json::{Value, json};

use crate::error::ApiError;

/// Parses a body: empty is `{}`; anything but a JSON object is a ValidationException.
pub(crate) fn body(bytes: &Bytes) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(ValidationError::cannot_parse("the body must be a JSON object").into()),
        Err(e) => Err(ValidationError::cannot_parse(format!(
            "the body is not JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
        .into()),
    }
}

/// Each operation's required members (the model's `required`, body members only).
const REQUIRED: &[(&str, &[&str])] = &[
    ("ActivateAnomalyDetector", &["AnomalyDetectorArn"]),
    ("BackTestAnomalyDetector", &["AnomalyDetectorArn"]),
    (
        "CreateAlert",
        &["AlertName", "AnomalyDetectorArn", "Action"],
    ),
    (
        "CreateAnomalyDetector",
        &["AnomalyDetectorName", "AnomalyDetectorConfig"],
    ),
    (
        "CreateMetricSet",
        &[
            "AnomalyDetectorArn",
            "MetricSetName",
            "MetricList",
            "MetricSource",
        ],
    ),
    ("DeactivateAnomalyDetector", &["AnomalyDetectorArn"]),
    ("DeleteAlert", &["AlertArn"]),
    ("DeleteAnomalyDetector", &["AnomalyDetectorArn"]),
    ("DescribeAlert", &["AlertArn"]),
    (
        "DescribeAnomalyDetectionExecutions",
        &["AnomalyDetectorArn"],
    ),
    ("DescribeAnomalyDetector", &["AnomalyDetectorArn"]),
    ("DescribeMetricSet", &["MetricSetArn"]),
    (
        "DetectMetricSetConfig",
        &["AnomalyDetectorArn", "AutoDetectionMetricSource"],
    ),
    ("GetAnomalyGroup", &["AnomalyGroupId", "AnomalyDetectorArn"]),
    ("GetDataQualityMetrics", &["AnomalyDetectorArn"]),
    (
        "GetFeedback",
        &["AnomalyDetectorArn", "AnomalyGroupTimeSeriesFeedback"],
    ),
    (
        "ListAnomalyGroupRelatedMetrics",
        &["AnomalyDetectorArn", "AnomalyGroupId"],
    ),
    (
        "ListAnomalyGroupSummaries",
        &["AnomalyDetectorArn", "SensitivityThreshold"],
    ),
    (
        "ListAnomalyGroupTimeSeries",
        &["AnomalyDetectorArn", "AnomalyGroupId", "MetricName"],
    ),
    (
        "PutFeedback",
        &["AnomalyDetectorArn", "AnomalyGroupTimeSeriesFeedback"],
    ),
    ("UpdateAlert", &["AlertArn"]),
    ("UpdateAnomalyDetector", &["AnomalyDetectorArn"]),
    ("UpdateMetricSet", &["MetricSetArn"]),
];

/// Every required member missing from a request, named at once (the operation then checks
/// values, and nested members, itself).
pub(crate) fn required_members(operation: &str, req: &Value) -> Result<(), ApiError> {
    let Some((_, members)) = REQUIRED.iter().find(|(op, _)| *op == operation) else {
        return Ok(());
    };
    let mut c = seismo_shared::validate::Check::default();
    for m in *members {
        if req.get(*m).is_none_or(Value::is_null) {
            c.fail(*m, "required");
        }
    }
    Ok(c.finish()?)
}

/// A required string member.
pub(crate) fn required<'a>(req: &'a Value, field: &str) -> Result<&'a str, ApiError> {
    match req.get(field) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(ApiError::field(field, "required")),
        Some(_) => Err(ApiError::field(field, "must be a string")),
    }
}

/// An optional string member.
pub(crate) fn optional<'a>(req: &'a Value, field: &str) -> Result<Option<&'a str>, ApiError> {
    match req.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::field(field, "must be a string")),
    }
}

/// An optional ARN member (a filter), checked against the model's pattern when given.
pub(crate) fn optional_arn<'a>(req: &'a Value, field: &str) -> Result<Option<&'a str>, ApiError> {
    let arn = optional(req, field)?;
    if let Some(a) = arn {
        let mut c = Check::default();
        c.arn(field, a);
        c.finish()?;
    }
    Ok(arn)
}

/// A required ARN member, checked against the model's pattern.
pub(crate) fn arn_field<'a>(req: &'a Value, field: &str) -> Result<&'a str, ApiError> {
    let arn = required(req, field)?;
    let mut c = Check::default();
    c.arn(field, arn);
    c.finish()?;
    Ok(arn)
}
