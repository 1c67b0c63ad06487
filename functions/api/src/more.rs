//! Alerts, feedback, executions and metric-set updates.

use seismo_shared::model::CreateMetricSetRequest;
use seismo_shared::validate::{self, Check};
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::ops::{detector, group, now, status};
use crate::paging::{list_scope, page, paginate};
use crate::request::{arn_field, optional, optional_arn, required};
use crate::state::Api;
use seismo_shared::store::{Kind, Store, StoreError};

/// Alerts per detector (the old service's quota).
pub(crate) const ALERTS_PER_DETECTOR: usize = 10;

/// Checks an alert's `Action` (exactly one of SNS or Lambda) and returns its type.
fn action(c: &mut Check, action: &Value) -> &'static str {
    if !action.is_object() {
        c.fail("Action", "must be an object");
        return "SNS";
    }
    let sns = action.get("SNSConfiguration").filter(|v| !v.is_null());
    let lambda = action.get("LambdaConfiguration").filter(|v| !v.is_null());
    for (v, name) in [(sns, "SNSConfiguration"), (lambda, "LambdaConfiguration")] {
        if v.is_some_and(|v| !v.is_object()) {
            c.fail(format!("Action.{name}"), "must be an object");
            return "SNS";
        }
    }
    let arn = |c: &mut Check, v: &Value, field: &str| match v
        .get(field.rsplit('.').next().unwrap_or(field))
        .and_then(Value::as_str)
    {
        Some(a) => c.arn(field, a),
        None => c.fail(field, "required"),
    };
    match (sns, lambda) {
        (Some(s), None) => {
            arn(c, s, "Action.SNSConfiguration.RoleArn");
            arn(c, s, "Action.SNSConfiguration.SnsTopicArn");
            if let Some(f) = s.get("SnsFormat").filter(|v| !v.is_null())
                && !matches!(f.as_str(), Some("LONG_TEXT" | "SHORT_TEXT" | "JSON"))
            {
                c.fail(
                    "Action.SNSConfiguration.SnsFormat",
                    format!("{f} is not LONG_TEXT, SHORT_TEXT or JSON"),
                );
            }
            "SNS"
        }
        (None, Some(l)) => {
            arn(c, l, "Action.LambdaConfiguration.RoleArn");
            arn(c, l, "Action.LambdaConfiguration.LambdaArn");
            "LAMBDA"
        }
        _ => {
            c.fail(
                "Action",
                "give exactly one of SNSConfiguration or LambdaConfiguration",
            );
            "SNS"
        }
    }
}

/// Checks the optional alert fields shared by create and update.
fn alert_fields(c: &mut Check, req: &Value) {
    match req.get("AlertDescription") {
        None | Some(Value::Null) => {}
        Some(Value::String(d)) => c.text("AlertDescription", d, 0, 256),
        Some(_) => c.fail("AlertDescription", "must be a string"),
    }
    if let Some(f) = req
        .get("AlertFilters")
        .filter(|v| !v.is_null() && !v.is_object())
    {
        c.fail("AlertFilters", format!("{f} must be an object"));
        return;
    }
    let filters = req.get("AlertFilters").filter(|v| v.is_object());
    for list in ["MetricList", "DimensionFilterList"] {
        if let Some(v) = filters
            .and_then(|f| f.get(list))
            .filter(|v| !v.is_null() && !v.is_array())
        {
            c.fail(
                format!("AlertFilters.{list}"),
                format!("{v} must be a list"),
            );
            return;
        }
    }
    for (i, m) in filters
        .and_then(|f| f.get("MetricList"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let field = format!("AlertFilters.MetricList[{i}]");
        match m.as_str() {
            Some(name) => c.name(&field, name),
            None => c.fail(field, "must be a string"),
        }
    }
    for (i, d) in filters
        .and_then(|f| f.get("DimensionFilterList"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let field = format!("AlertFilters.DimensionFilterList[{i}]");
        if !d.is_object() {
            c.fail(field, "must be an object");
            continue;
        }
        if let Some(values) = d.get("DimensionValueList") {
            match values.as_array() {
                None if !values.is_null() => {
                    c.fail(format!("{field}.DimensionValueList"), "must be a list")
                }
                _ => {
                    for (j, v) in values.as_array().into_iter().flatten().enumerate() {
                        let vf = format!("{field}.DimensionValueList[{j}]");
                        match v.as_str() {
                            Some(s) => c.text(&vf, s, 1, 255),
                            None => c.fail(vf, "must be a string"),
                        }
                    }
                }
            }
        }
    }
    if let Some(t) = req
        .get("AlertSensitivityThreshold")
        .filter(|v| !v.is_null())
        && !matches!(t.as_i64(), Some(0..=100))
    {
        c.fail("AlertSensitivityThreshold", format!("{t} is outside 0-100"));
    }
    if let Some(f) = req.get("AlertFilters").filter(|v| !v.is_null()) {
        if let Some(list) = f.get("MetricList").and_then(Value::as_array)
            && (list.is_empty() || list.len() > 5)
        {
            c.fail(
                "AlertFilters.MetricList",
                format!("{} measures; 1-5 are allowed", list.len()),
            );
        }
        if let Some(list) = f.get("DimensionFilterList").and_then(Value::as_array) {
            if list.is_empty() || list.len() > 5 {
                c.fail(
                    "AlertFilters.DimensionFilterList",
                    format!("{} filters; 1-5 are allowed", list.len()),
                );
            }
            for (i, d) in list.iter().enumerate() {
                match d.get("DimensionName").and_then(Value::as_str) {
                    Some(n) => c.name(
                        &format!("AlertFilters.DimensionFilterList[{i}].DimensionName"),
                        n,
                    ),
                    None => c.fail(
                        format!("AlertFilters.DimensionFilterList[{i}].DimensionName"),
                        "required",
                    ),
                }
                let values = d
                    .get("DimensionValueList")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                if !(1..=10).contains(&values) {
                    c.fail(
                        format!("AlertFilters.DimensionFilterList[{i}].DimensionValueList"),
                        format!("{values} values; 1-10 are allowed"),
                    );
                }
            }
        }
    }
}

pub(crate) async fn alerts_of<S: Store>(
    api: &Api<S>,
    detector_arn: Option<&str>,
) -> Result<Vec<(String, Value)>, ApiError> {
    let all = api.store.list(Kind::Alert, &api.arn("Alert:")).await?;
    Ok(all
        .into_iter()
        .filter(|(_, a)| {
            detector_arn
                .is_none_or(|d| a.get("AnomalyDetectorArn").and_then(Value::as_str) == Some(d))
        })
        .collect())
}

/// The strings of a JSON list, or of one member (`key`) of each of its objects.
fn names(list: &Value, key: Option<&str>) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| key.map_or(Some(v), |k| v.get(k)))
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// The detector's alerts still fit a metric set (new, or updated): each measure and dimension
/// an alert filters on is the metric set's; otherwise the alert could never fire again.
pub(crate) fn alerts_fit(c: &mut Check, alerts: &[(String, Value)], metric_set: &Value) {
    let measures = names(&metric_set["MetricList"], Some("MetricName"));
    let dimensions = names(&metric_set["DimensionList"], None);
    for (_, alert) in alerts {
        let name = alert["AlertName"].as_str().unwrap_or_default();
        let filters = &alert["AlertFilters"];
        for m in names(&filters["MetricList"], None) {
            if !measures.contains(&m) {
                c.fail(
                    "MetricList",
                    format!("alert {name} filters on the measure {m:?}: keep it, or update the alert first"),
                );
            }
        }
        for d in names(&filters["DimensionFilterList"], Some("DimensionName")) {
            if !dimensions.contains(&d) {
                c.fail(
                    "DimensionList",
                    format!("alert {name} filters on the dimension {d:?}: keep it, or update the alert first"),
                );
            }
        }
    }
}

/// An alert's filters name what the detector's metric set has: its measures and dimensions
/// (an alert filtered on a measure it does not have would never fire), and filter something.
async fn filters_fit<S: Store>(
    api: &Api<S>,
    detector_arn: &str,
    filters: Option<&Value>,
) -> Result<(), ApiError> {
    let Some(filters) = filters.filter(|f| f.is_object()) else {
        return Ok(());
    };
    let mut c = Check::default();
    let given = |m: &str| filters.get(m).filter(|v| !v.is_null());
    if given("MetricList").is_none() && given("DimensionFilterList").is_none() {
        c.fail(
            "AlertFilters",
            "give a MetricList, a DimensionFilterList or both (or leave AlertFilters out)",
        );
    }
    // Checked against the metric set when there is one (it may be created after the alert).
    if let Some(ms) = crate::ops::metric_sets_of(api, detector_arn).await?.first() {
        let measures = names(&ms["MetricList"], Some("MetricName"));
        let dimensions = names(&ms["DimensionList"], None);
        let metric_list = given("MetricList").cloned().unwrap_or(Value::Null);
        for (i, m) in names(&metric_list, None).iter().enumerate() {
            if !measures.contains(m) {
                c.fail(
                    format!("AlertFilters.MetricList[{i}]"),
                    format!(
                        "{m:?} is not a measure of the metric set ({})",
                        measures.join(", ")
                    ),
                );
            }
        }
        let dimension_filters = given("DimensionFilterList").cloned().unwrap_or(Value::Null);
        for (i, d) in names(&dimension_filters, Some("DimensionName"))
            .iter()
            .enumerate()
        {
            if !dimensions.contains(d) {
                c.fail(
                    format!("AlertFilters.DimensionFilterList[{i}].DimensionName"),
                    format!(
                        "{d:?} is not a dimension of the metric set ({})",
                        dimensions.join(", ")
                    ),
                );
            }
        }
    }
    Ok(c.finish()?)
}

pub(crate) async fn create_alert<S: Store>(api: &Api<S>, req: &Value) -> Result<Value, ApiError> {
    let name = required(req, "AlertName")?;
    let detector_arn = arn_field(req, "AnomalyDetectorArn")?;
    let Some(act) = req.get("Action").filter(|v| !v.is_null()) else {
        return Err(ApiError::field("Action", "required"));
    };
    let mut c = Check::default();
    c.name("AlertName", name);
    let kind = action(&mut c, act);
    alert_fields(&mut c, req);
    c.finish()?;
    if let Some(tags) = req.get("Tags") {
        crate::ops::check_tags(tags)?;
    }
    crate::ops::live_detector(api, detector_arn).await?;
    filters_fit(api, detector_arn, req.get("AlertFilters")).await?;
    let arn = api.arn(&format!("Alert:{name}"));
    let existing: Vec<String> = alerts_of(api, Some(detector_arn))
        .await?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    if existing.contains(&arn) {
        return Err(ApiError::conflict(
            "Alert",
            &arn,
            format!("an alert named {name} already exists"),
        ));
    }
    crate::ops::reserve(
        api,
        detector_arn,
        "alerts",
        &arn,
        ALERTS_PER_DETECTOR,
        &existing,
    )
    .await?;
    let t = now();
    let mut doc = json!({
        "AlertArn": arn, "AlertName": name, "AnomalyDetectorArn": detector_arn, "Action": act,
        "AlertType": kind, "AlertStatus": "ACTIVE", "CreationTime": t, "LastModificationTime": t,
    });
    for m in [
        "AlertDescription",
        "AlertSensitivityThreshold",
        "AlertFilters",
    ] {
        if let Some(v) = req.get(m).filter(|v| !v.is_null()) {
            doc[m] = v.clone();
        }
    }
    match api.store.create(Kind::Alert, &arn, doc).await {
        Err(StoreError::Exists) => {
            // Another detector's alert of that name: its place here is not taken.
            crate::ops::release(api, detector_arn, "alerts", &arn).await?;
            return Err(ApiError::conflict(
                "Alert",
                &arn,
                format!("an alert named {name} already exists"),
            ));
        }
        other => other?,
    }
    if let Some(tags) = req.get("Tags") {
        api.store.put(Kind::Tags, &arn, tags.clone()).await?;
    }
    if !crate::ops::stays(api, Kind::Detector, detector_arn).await? {
        api.store.delete(Kind::Alert, &arn).await?;
        api.store.delete(Kind::Tags, &arn).await?;
        return Err(ApiError::not_found("AnomalyDetector", detector_arn));
    }
    Ok(json!({ "AlertArn": arn }))
}

async fn alert<S: Store>(api: &Api<S>, req: &Value) -> Result<(String, Value), ApiError> {
    let arn = arn_field(req, "AlertArn")?;
    let doc = api
        .store
        .get(Kind::Alert, arn)
        .await?
        .ok_or_else(|| ApiError::not_found("Alert", arn))?;
    Ok((arn.to_string(), doc))
}

pub(crate) async fn describe_alert<S: Store>(api: &Api<S>, req: &Value) -> Result<Value, ApiError> {
    Ok(json!({ "Alert": alert(api, req).await?.1 }))
}

pub(crate) async fn list_alerts<S: Store>(api: &Api<S>, req: &Value) -> Result<Value, ApiError> {
    let (max, token) = page(req)?;
    let detector_arn = optional_arn(req, "AnomalyDetectorArn")?;
    if let Some(d) = detector_arn {
        detector(api, d).await?;
    }
    let (items, next) = paginate(
        alerts_of(api, detector_arn).await?,
        max,
        token.as_deref(),
        &list_scope(req, "alerts"),
    )?;
    let mut out = Vec::new();
    for a in items {
        let mut s = Map::new();
        for k in [
            "AlertArn",
            "AlertName",
            "AnomalyDetectorArn",
            "AlertSensitivityThreshold",
            "AlertStatus",
            "AlertType",
            "CreationTime",
            "LastModificationTime",
        ] {
            if let Some(v) = a.get(k) {
                s.insert(k.into(), v.clone());
            }
        }
        if let Some(tags) = api
            .store
            .get(Kind::Tags, a["AlertArn"].as_str().unwrap_or_default())
            .await?
        {
            s.insert("Tags".into(), tags);
        }
        out.push(Value::Object(s));
    }
    Ok(json!({ "AlertSummaryList": out, "NextToken": next }))
}

pub(crate) async fn update_alert<S: Store>(api: &Api<S>, req: &Value) -> Result<Value, ApiError> {
    let (arn, current) = alert(api, req).await?;
    let detector_arn = current["AnomalyDetectorArn"].as_str().unwrap_or_default();
    filters_fit(api, detector_arn, req.get("AlertFilters")).await?;
    let missing = || ApiError::not_found("Alert", &arn);
    crate::ops::modify(api, Kind::Alert, &arn, None, missing, |doc| {
        let mut c = Check::default();
        if let Some(act) = req.get("Action").filter(|v| !v.is_null()) {
            let kind = action(&mut c, act);
            doc["Action"] = act.clone();
            doc["AlertType"] = json!(kind);
        }
        alert_fields(&mut c, req);
        c.finish()?;
        for m in [
            "AlertDescription",
            "AlertSensitivityThreshold",
            "AlertFilters",
        ] {
            if let Some(v) = req.get(m).filter(|v| !v.is_null()) {
                doc[m] = v.clone();
            }
        }
        doc["LastModificationTime"] = json!(now());
        Ok(())
    })
    .await?;
    Ok(json!({ "AlertArn": arn }))
}

pub(crate) async fn delete_alert<S: Store>(api: &Api<S>, req: &Value) -> Result<Value, ApiError> {
    let (arn, doc) = alert(api, req).await?;
    api.store.delete(Kind::Alert, &arn).await?;
    api.store.delete(Kind::Tags, &arn).await?;
    if let Some(detector_arn) = doc["AnomalyDetectorArn"].as_str() {
        crate::ops::release(api, detector_arn, "alerts", &arn).await?;
    }
    Ok(json!({}))
}

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
        Some(Value::String(id)) if crate::ops::is_group_id(id) => Ok(()),
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
    let given = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as f64 / 1000.0)
        .unwrap_or(0.0);
    let doc = json!({"TimeSeriesId": series, "IsAnomaly": is_anomaly, "UpdatedAt": given});
    api.store
        .put(Kind::Feedback, &format!("{arn}/{id}/{series}"), doc)
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
    let prefix = format!(
        "{arn}/{}/{}",
        g.anomaly_group.anomaly_group_id,
        series.unwrap_or_default()
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
    let mut all = api.store.list(Kind::Execution, &format!("{arn}/")).await?;
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

/// Updates a metric set; only its description and offset change while its detector is active.
pub(crate) async fn update_metric_set<S: Store>(
    api: &Api<S>,
    req: &Value,
) -> Result<Value, ApiError> {
    let arn = arn_field(req, "MetricSetArn")?;
    let current = api
        .store
        .get(Kind::MetricSet, arn)
        .await?
        .ok_or_else(|| ApiError::not_found("MetricSet", arn))?;
    let detector_arn = current["AnomalyDetectorArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let detector_doc = detector(api, &detector_arn).await?;
    let active = !matches!(
        status(&detector_doc),
        "INACTIVE" | "DEACTIVATED" | "BACK_TEST_COMPLETE" | "FAILED"
    );
    let detector_frequency =
        detector_doc["AnomalyDetectorConfig"]["AnomalyDetectorFrequency"].clone();
    let alerts = alerts_of(api, Some(&detector_arn)).await?;
    // Compare-and-swap: a concurrent update of the same metric set is merged, never lost.
    let missing = || ApiError::not_found("MetricSet", arn);
    crate::ops::modify(api, Kind::MetricSet, arn, None, missing, |doc| {
        let mut c = Check::default();
        for m in [
            "MetricSetDescription",
            "Offset",
            "MetricList",
            "TimestampColumn",
            "DimensionList",
            "MetricSetFrequency",
            "MetricSource",
            "DimensionFilterList",
        ] {
            if let Some(v) = req.get(m).filter(|v| !v.is_null()) {
                if active
                    && !matches!(m, "MetricSetDescription" | "Offset")
                    && doc.get(m) != Some(v)
                {
                    c.fail(m, "the detector is active: deactivate it first (only MetricSetDescription and Offset change while active)");
                }
                doc[m] = v.clone();
            }
        }
        c.finish()?;
        let ms: CreateMetricSetRequest = validate::parse(doc, "")?;
        validate::metric_set(&ms)?;
        let mut c = Check::default();
        if let Some(s3) = &ms.metric_source.s3_source_config {
            crate::ops::s3_paths_only(&mut c, "MetricSource.S3SourceConfig", s3);
        }
        alerts_fit(&mut c, &alerts, doc);
        c.finish()?;
        if doc.get("MetricSetFrequency") != Some(&detector_frequency) {
            return Err(ApiError::field(
                "MetricSetFrequency",
                "must equal the detector's frequency",
            ));
        }
        doc["LastModificationTime"] = json!(now());
        Ok(())
    })
    .await?;
    // A running detector's schedule fires at interval end + Offset: a new Offset moves it
    // (left as it was, intervals between the two were never ingested).
    if active
        && req
            .get("Offset")
            .is_some_and(|o| !o.is_null() && current.get("Offset") != Some(o))
    {
        let loaded = seismo_shared::pipeline::load(&api.store, &detector_arn)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        if matches!(crate::ops::status(&loaded.doc), "LEARNING" | "ACTIVE") {
            api.schedules
                .put(&seismo_shared::pipeline::schedule::spec(&loaded))
                .await
                .map_err(|e| ApiError::Internal(format!("scheduler: {e}")))?;
        }
    }
    Ok(json!({ "MetricSetArn": arn }))
}

/// The first bytes of a source's first file (the historical path's first object, or the newest
/// object under the templated path's fixed prefix), read through the object port (local
/// folders, or S3 deployed), and whether it was gzip.
async fn first_file<S: Store>(
    api: &Api<S>,
    s3: &Value,
    field: &str,
) -> Result<(Vec<u8>, bool), ApiError> {
    let first = |name: &str| {
        s3.get(name)
            .and_then(Value::as_array)
            .and_then(|l| l.first())
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let (path, member, newest) = match (first("HistoricalDataPathList"), first("TemplatedPathList"))
    {
        (Some(p), _) => (p, "HistoricalDataPathList", false),
        (None, Some(t)) => (
            t.split("{{").next().unwrap_or_default().to_string(),
            "TemplatedPathList",
            true,
        ),
        (None, None) => {
            return Err(ApiError::field(
                &format!("{field}.TemplatedPathList"),
                "a TemplatedPathList or a HistoricalDataPathList is required",
            ));
        }
    };
    let nothing = || {
        ApiError::field(
            &format!("{field}.{member}"),
            format!("nothing under {path}"),
        )
    };
    let listed = match api.objects.list(&path).await {
        Ok(l) => l,
        Err(seismo_shared::objects::ObjectError::NotFound(_)) => return Err(nothing()),
        Err(seismo_shared::objects::ObjectError::AccessDenied(p)) => {
            return Err(ApiError::field(
                &format!("{field}.{member}"),
                format!("access denied to {p}"),
            ));
        }
        Err(e) => return Err(ApiError::Internal(e.to_string())),
    };
    let object = if newest {
        listed.last()
    } else {
        listed.first()
    };
    let Some(object) = object else {
        return Err(nothing());
    };
    let reader = api
        .objects
        .open(object)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let name = object.clone();
    let head = tokio::task::spawn_blocking(move || seismo_shared::sample::head_of(reader))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    match head {
        Ok(head) => Ok(head),
        // The file's own fault (a truncated or corrupt gzip): the caller's to fix, not a retry.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::InvalidData
                    | std::io::ErrorKind::InvalidInput
                    | std::io::ErrorKind::UnexpectedEof
            ) =>
        {
            let file = name.rsplit('/').next().unwrap_or(&name);
            Err(ApiError::field(
                &format!("{field}.{member}"),
                format!(
                    "{file} under {path} cannot be read: it is a truncated or corrupt gzip file"
                ),
            ))
        }
        Err(e) => Err(ApiError::Internal(e.to_string())),
    }
}

fn layout(descriptor: &Value) -> Result<seismo_shared::data::FileFormat, ApiError> {
    let byte = |v: Option<&Value>, default: u8, field: &str| match v
        .and_then(Value::as_str)
        .map(str::as_bytes)
    {
        None => Ok(default),
        Some([b]) => Ok(*b),
        Some(_) => Err(ApiError::field(field, "must be one character")),
    };
    if descriptor
        .get("JsonFormatDescriptor")
        .is_some_and(|v| !v.is_null())
    {
        return Ok(seismo_shared::data::FileFormat::JsonLines);
    }
    let csv = descriptor
        .get("CsvFormatDescriptor")
        .cloned()
        .unwrap_or_else(|| json!({}));
    Ok(seismo_shared::data::FileFormat::Csv {
        delimiter: byte(
            csv.get("Delimiter"),
            b',',
            "S3SourceConfig.FileFormatDescriptor.CsvFormatDescriptor.Delimiter",
        )?,
        quote: byte(
            csv.get("QuoteSymbol"),
            b'"',
            "S3SourceConfig.FileFormatDescriptor.CsvFormatDescriptor.QuoteSymbol",
        )?,
        contains_header: csv
            .get("ContainsHeader")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        header_list: csv
            .get("HeaderList")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .filter(|l: &Vec<String>| !l.is_empty()),
    })
}

/// The header and first 10 rows of a source's first file.
pub(crate) async fn get_sample_data<S: Store>(
    api: &Api<S>,
    req: &Value,
) -> Result<Value, ApiError> {
    let Some(s3) = req.get("S3SourceConfig").filter(|v| !v.is_null()) else {
        return Err(ApiError::field("S3SourceConfig", "required"));
    };
    let config: seismo_shared::model::S3SourceConfig = validate::parse(s3, "S3SourceConfig")?;
    let mut c = Check::default();
    if config.role_arn.is_none() {
        c.fail("S3SourceConfig.RoleArn", "required");
    }
    let zone = seismo_shared::time::Zone::UTC;
    validate::s3_source_config(&mut c, "S3SourceConfig", &config, zone, true);
    crate::ops::s3_paths_only(&mut c, "S3SourceConfig", &config);
    c.finish()?;
    let descriptor = s3.get("FileFormatDescriptor").filter(|v| v.is_object());
    let layout = layout(descriptor.unwrap_or(&Value::Null))?;
    let (bytes, _) = first_file(api, s3, "S3SourceConfig").await?;
    let (header, rows) = seismo_shared::sample::rows(&bytes, &layout, 10);
    Ok(json!({ "HeaderValues": header, "SampleRows": rows }))
}

fn detected(value: Value, confidence: &str, message: &str) -> Value {
    json!({"Value": value, "Confidence": confidence, "Message": message})
}

/// Detects the file format, delimiter, header and interval of a source.
pub(crate) async fn detect_metric_set_config<S: Store>(
    api: &Api<S>,
    req: &Value,
) -> Result<Value, ApiError> {
    let arn = arn_field(req, "AnomalyDetectorArn")?;
    let field = "AutoDetectionMetricSource.S3SourceConfig";
    let source = req
        .get("AutoDetectionMetricSource")
        .filter(|v| !v.is_null());
    if source.is_some_and(|v| !v.is_object()) {
        return Err(ApiError::field(
            "AutoDetectionMetricSource",
            "must be an object",
        ));
    }
    let Some(s3) = source
        .and_then(|m| m.get("S3SourceConfig"))
        .filter(|v| !v.is_null())
    else {
        return Err(ApiError::field(field, "required"));
    };
    let config: seismo_shared::model::S3SourceConfig = validate::parse(s3, field)?;
    let mut c = Check::default();
    let zone = seismo_shared::time::Zone::UTC;
    validate::s3_source_config(&mut c, field, &config, zone, false);
    crate::ops::s3_paths_only(&mut c, field, &config);
    c.finish()?;
    detector(api, arn).await?;
    let (bytes, gzip) = first_file(api, s3, "AutoDetectionMetricSource.S3SourceConfig").await?;
    let d = seismo_shared::sample::detect(&bytes, gzip);
    let compression = detected(
        json!({"S": if gzip { "GZIP" } else { "NONE" }}),
        "HIGH",
        "from the file's first bytes",
    );
    let charset = detected(
        json!({"S": d.charset.value}),
        d.charset.confidence,
        &d.charset.message,
    );
    let format = match &d.layout {
        seismo_shared::data::FileFormat::JsonLines => {
            json!({"JsonFormatDescriptor": {"FileCompression": compression, "Charset": charset}})
        }
        seismo_shared::data::FileFormat::Csv {
            delimiter,
            contains_header,
            ..
        } => {
            let (header, _) = seismo_shared::sample::rows(&bytes, &d.layout, 1);
            json!({"CsvFormatDescriptor": {
                "FileCompression": compression,
                "Charset": charset,
                "Delimiter": detected(json!({"S": (*delimiter as char).to_string()}), "HIGH", "splits every line alike"),
                "ContainsHeader": detected(json!({"S": contains_header.to_string()}), "HIGH", "first row against the next"),
                "HeaderList": detected(json!({"SS": header}), if *contains_header { "HIGH" } else { "LOW" }, "column names"),
                "QuoteSymbol": detected(json!({"S": "\""}), "LOW", "the default"),
            }})
        }
    };
    let frequency = match &d.frequency {
        Some(f) => detected(json!({"S": f.value.as_str()}), f.confidence, &f.message),
        None => detected(json!({"S": "PT1H"}), "NONE", "no timestamp column found"),
    };
    Ok(json!({"DetectedMetricSetConfig": {
        "Offset": detected(json!({"N": "0"}), "LOW", "lateness cannot be seen in one file; set the Offset to how late files arrive"),
        "MetricSetFrequency": frequency,
        "MetricSource": {"S3SourceConfig": {"FileFormatDescriptor": format}},
    }}))
}
