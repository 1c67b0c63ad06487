//! What detection found: anomaly groups and their time series and related metrics, data
//! quality, and the detector's executions.

use seismo_shared::group::GroupReport;
use seismo_shared::validate::Check;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::paging::{list_scope, page, paginate};
use crate::request::{arn_field, optional, optional_arn, required};
use crate::resources::{detector, metric_sets_of};
use crate::state::Api;
use seismo_shared::store::{Kind, Store, keys};

async fn groups<S: Store>(api: &Api<S>, arn: &str) -> Result<Vec<GroupReport>, ApiError> {
    detector(api, arn).await?;
    let mut out = Vec::new();
    for (_, v) in api
        .store
        .list(Kind::Group, &keys::detector_prefix(arn))
        .await?
    {
        out.push(serde_json::from_value(v).map_err(|e| ApiError::Internal(e.to_string()))?);
    }
    Ok(out)
}

pub(crate) fn threshold(req: &Value) -> Result<f64, ApiError> {
    match req.get("SensitivityThreshold") {
        None | Some(Value::Null) => Err(ApiError::field("SensitivityThreshold", "required")),
        Some(v) => match v.as_i64() {
            Some(t @ 0..=100) => Ok(t as f64),
            _ => Err(ApiError::field(
                "SensitivityThreshold",
                format!("{v} is outside 0-100"),
            )),
        },
    }
}

pub(crate) async fn list_group_summaries<S: Store>(
    api: &Api<S>,
    req: &Value,
) -> Result<Value, ApiError> {
    let arn = arn_field(req, "AnomalyDetectorArn")?;
    let min = threshold(req)?;
    let (max, token) = page(req)?;
    let mut all: Vec<GroupReport> = groups(api, arn)
        .await?
        .into_iter()
        .filter(|g| g.anomaly_group.anomaly_group_score >= min)
        .collect();
    all.sort_by(|a, b| {
        b.start.cmp(&a.start).then(
            a.anomaly_group
                .anomaly_group_id
                .cmp(&b.anomaly_group.anomaly_group_id),
        )
    });
    let mut counts: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    for g in &all {
        *counts
            .entry(g.anomaly_group.primary_metric_name.clone())
            .or_default() += 1;
    }
    let evaluation_start = all.iter().map(|g| g.anomaly_group.start_time.clone()).min();
    let keyed: Vec<(String, Value)> = all
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let a = &g.anomaly_group;
            (
                format!("{i:08}"),
                json!({"AnomalyGroupId": a.anomaly_group_id, "AnomalyGroupScore": a.anomaly_group_score,
                       "StartTime": a.start_time, "EndTime": a.end_time, "PrimaryMetricName": a.primary_metric_name}),
            )
        })
        .collect();
    let (items, next) = paginate(keyed, max, token.as_deref(), &list_scope(req, "groups"))?;
    Ok(json!({
        "AnomalyGroupSummaryList": items,
        "AnomalyGroupStatistics": {
            "EvaluationStartDate": evaluation_start,
            "TotalCount": all.len(),
            "ItemizedMetricStats": counts.iter().map(|(m, n)| json!({"MetricName": m, "OccurrenceCount": n})).collect::<Vec<_>>(),
        },
        "NextToken": next,
    }))
}

/// An anomaly group id: the model's UUID pattern.
pub(crate) fn is_group_id(id: &str) -> bool {
    id.len() == 36
        && id
            .chars()
            .all(|c| c == '-' || c.is_ascii_lowercase() || c.is_ascii_digit())
}

pub(crate) async fn group<S: Store>(api: &Api<S>, req: &Value) -> Result<GroupReport, ApiError> {
    let arn = arn_field(req, "AnomalyDetectorArn")?;
    let id = required(req, "AnomalyGroupId")?;
    if !is_group_id(id) {
        return Err(ApiError::field(
            "AnomalyGroupId",
            format!("{id:?} is not a UUID"),
        ));
    }
    detector(api, arn).await?;
    let doc = api
        .store
        .get(Kind::Group, &keys::group(arn, id))
        .await?
        .ok_or_else(|| ApiError::not_found("AnomalyGroup", id))?;
    serde_json::from_value(doc).map_err(|e| ApiError::Internal(e.to_string()))
}

pub(crate) async fn get_group<S: Store>(api: &Api<S>, req: &Value) -> Result<Value, ApiError> {
    let g = group(api, req).await?;
    Ok(json!({ "AnomalyGroup": g.anomaly_group }))
}

pub(crate) async fn list_group_time_series<S: Store>(
    api: &Api<S>,
    req: &Value,
) -> Result<Value, ApiError> {
    let metric = required(req, "MetricName")?;
    let mut c = Check::default();
    c.name("MetricName", metric);
    if metric.len() > 256 {
        c.fail("MetricName", "length is outside 1-256");
    }
    c.finish()?;
    page(req)?;
    let g = group(api, req).await?;
    if metric != g.anomaly_group.primary_metric_name {
        return Err(ApiError::field(
            "MetricName",
            format!("the group is of {}", g.anomaly_group.primary_metric_name),
        ));
    }
    let (max, token) = page(req)?;
    let timestamps: Vec<String> = {
        let mut t: Vec<String> = g
            .time_series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.timestamp.clone()))
            .collect();
        t.sort();
        t.dedup();
        t
    };
    let series: Vec<(String, Value)> = g
        .time_series
        .iter()
        .map(|s| {
            let values: Vec<f64> = timestamps
                .iter()
                .map(|t| s.points.iter().find(|p| &p.timestamp == t).map_or(f64::NAN, |p| p.value))
                .map(|v| if v.is_finite() { v } else { 0.0 })
                .collect();
            (
                s.time_series_id.clone(),
                json!({"TimeSeriesId": s.time_series_id, "DimensionList": s.dimensions, "MetricValueList": values}),
            )
        })
        .collect();
    let (items, next) = paginate(series, max, token.as_deref(), &list_scope(req, "series"))?;
    Ok(json!({
        "AnomalyGroupId": g.anomaly_group.anomaly_group_id,
        "MetricName": metric,
        "TimestampList": timestamps,
        "TimeSeriesList": items,
        "NextToken": next,
    }))
}

pub(crate) async fn list_related<S: Store>(api: &Api<S>, req: &Value) -> Result<Value, ApiError> {
    let filter = optional(req, "RelationshipTypeFilter")?;
    page(req)?;
    if let Some(f) = filter
        && !matches!(
            f,
            "CAUSE_OF_INPUT_ANOMALY_GROUP" | "EFFECT_OF_INPUT_ANOMALY_GROUP"
        )
    {
        return Err(ApiError::field(
            "RelationshipTypeFilter",
            format!("{f:?} is not CAUSE_OF_INPUT_ANOMALY_GROUP or EFFECT_OF_INPUT_ANOMALY_GROUP"),
        ));
    }
    let g = group(api, req).await?;
    let (max, token) = page(req)?;
    let items: Vec<(String, Value)> = g
        .related
        .iter()
        .filter(|r| {
            filter.is_none_or(|f| {
                serde_json::to_value(r.relationship_type)
                    .ok()
                    .and_then(|v| v.as_str().map(|s| s == f))
                    .unwrap_or(false)
            })
        })
        .map(|r| {
            (
                r.anomaly_group_id.clone(),
                serde_json::to_value(r).unwrap_or(Value::Null),
            )
        })
        .collect();
    let (items, next) = paginate(items, max, token.as_deref(), &list_scope(req, "related"))?;
    Ok(json!({ "InterMetricImpactList": items, "NextToken": next }))
}

pub(crate) async fn data_quality<S: Store>(api: &Api<S>, req: &Value) -> Result<Value, ApiError> {
    let arn = arn_field(req, "AnomalyDetectorArn")?;
    let asked = optional_arn(req, "MetricSetArn")?;
    detector(api, arn).await?;
    // A metric set named must be this detector's (its only one).
    if let Some(ms) = asked {
        let ours = metric_sets_of(api, arn)
            .await?
            .iter()
            .any(|m| m.metric_set_arn.as_deref() == Some(ms));
        if !ours {
            return Err(ApiError::not_found("MetricSet", ms));
        }
    }
    let Some(q) = api.store.get(Kind::Quality, arn).await? else {
        return Ok(json!({ "AnomalyDetectorDataQualityMetricList": [] }));
    };
    let stats = &q["quality"];
    let rows = stats["rowsProcessed"].as_f64().unwrap_or(0.0);
    let mut metrics = vec![
        json!({"MetricType": "ROWS_PROCESSED", "MetricValue": rows, "MetricDescription": "rows read"}),
        json!({"MetricType": "INVALID_ROWS_COMPLIANCE", "MetricValue": stats["invalidRows"], "MetricDescription": "rows that could not be used"}),
        json!({"MetricType": "ROWS_PARTIAL_COMPLIANCE", "MetricValue": stats["partialRows"], "MetricDescription": "rows with a measure missing or not a number"}),
        json!({"MetricType": "TIME_SERIES_COUNT", "MetricValue": stats["timeSeries"], "MetricDescription": "dimension combinations"}),
    ];
    if let Some(Value::Object(cols)) = stats.get("columnValues") {
        for (col, n) in cols {
            let share = if rows > 0.0 {
                n.as_f64().unwrap_or(0.0) / rows
            } else {
                0.0
            };
            metrics.push(json!({"MetricType": "COLUMN_COMPLETENESS", "MetricValue": share, "RelatedColumnName": col, "MetricDescription": "share of rows with a usable value"}));
        }
    }
    let epoch = |s: &Value| {
        s.as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp() as f64)
    };
    for (kind, window, edge) in [
        ("BACKTEST_TRAINING_DATA_START_TIME_STAMP", "train", "start"),
        ("BACKTEST_TRAINING_DATA_END_TIME_STAMP", "train", "end"),
        (
            "BACKTEST_INFERENCE_DATA_START_TIME_STAMP",
            "inference",
            "start",
        ),
        ("BACKTEST_INFERENCE_DATA_END_TIME_STAMP", "inference", "end"),
    ] {
        if let Some(t) = epoch(&q[window][edge]) {
            metrics.push(json!({"MetricType": kind, "MetricValue": t}));
        }
    }
    let ms_arn = metric_sets_of(api, arn)
        .await?
        .first()
        .and_then(|m| m.metric_set_arn.clone())
        .map_or(Value::Null, Value::from);
    Ok(json!({
        "AnomalyDetectorDataQualityMetricList": [{
            // A backtest's inference window, or the interval continuous detection read last.
            "StartTimestamp": epoch(&q["inference"]["start"]).or_else(|| epoch(&q["interval"])),
            "MetricSetDataQualityMetricList": [{"MetricSetArn": ms_arn, "DataQualityMetricList": metrics}],
        }]
    }))
}

pub(crate) async fn describe_executions<S: Store>(
    api: &Api<S>,
    req: &Value,
) -> Result<Value, ApiError> {
    let arn = arn_field(req, "AnomalyDetectorArn")?;
    detector(api, arn).await?;
    let (max, token) = page(req)?;
    let at = optional(req, "Timestamp")?;
    if let Some(t) = at
        && (t.len() > 60 || chrono::DateTime::parse_from_rfc3339(t).is_err())
    {
        return Err(ApiError::field(
            "Timestamp",
            format!("{t:?} is not a timestamp like 2026-01-01T00:00:00Z"),
        ));
    }
    let mut all = api
        .store
        .list(Kind::Execution, &keys::detector_prefix(arn))
        .await?;
    if let Some(t) = at {
        all.retain(|(_, e)| e.get("Timestamp").and_then(Value::as_str) == Some(t));
    }
    all.reverse();
    // The API's ExecutionStatus shape; the pipeline's own fields stay inside.
    let all = all
        .into_iter()
        .map(|(k, e)| {
            let mut out = json!({ "Timestamp": e["Timestamp"], "Status": e["Status"] });
            if let Some(r) = e.get("FailureReason") {
                out["FailureReason"] = r.clone();
            }
            (k, out)
        })
        .collect();
    let (items, next) = paginate(all, max, token.as_deref(), &list_scope(req, "executions"))?;
    Ok(json!({ "ExecutionList": items, "NextToken": next }))
}
