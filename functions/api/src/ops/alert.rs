//! Alerts: create, describe, list, update and delete, and whether an alert's filters fit the
//! detector's metric set.

use seismo_shared::model::{AlertDoc, AlertStatus, CreateMetricSetRequest, Document};
use seismo_shared::validate::Check;
use serde_json::{Value, json};

use super::tags::check_tags;
use crate::clock::now;
use crate::error::ApiError;
use crate::paging::{list_scope, page, paginate};
use crate::quota::{ALERTS_PER_DETECTOR, release, reserve};
use crate::request::{arn_field, optional_arn, required};
use crate::resources::{alerts_of, detector, live_detector, metric_sets_of, read, stays};
use crate::state::Api;
use crate::swap::modify_typed;
use seismo_shared::store::{Kind, Store, StoreError};

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
pub(crate) fn alerts_fit(
    c: &mut Check,
    alerts: &[(String, Value)],
    metric_set: &CreateMetricSetRequest,
) {
    let measures: Vec<&str> = metric_set
        .metric_list
        .iter()
        .map(|m| m.metric_name.as_str())
        .collect();
    let dimensions: Vec<&str> = metric_set
        .dimension_list
        .iter()
        .flatten()
        .map(String::as_str)
        .collect();
    for (_, alert) in alerts {
        // One that does not read as an alert filters on nothing.
        let Ok(alert) = AlertDoc::from_value(alert.clone()) else {
            continue;
        };
        let name = alert.name();
        let filters = alert.filters();
        for m in filters.metric_list.iter().flatten() {
            if !measures.contains(m) {
                c.fail(
                    "MetricList",
                    format!("alert {name} filters on the measure {m:?}: keep it, or update the alert first"),
                );
            }
        }
        for d in filters.dimension_filter_list.iter().flatten() {
            let d = d.dimension_name;
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
    if let Some(ms) = metric_sets_of(api, detector_arn).await?.first() {
        let ms = ms.spec().map_err(|e| ApiError::Internal(e.to_string()))?;
        let measures: Vec<String> = ms.metric_list.into_iter().map(|m| m.metric_name).collect();
        let dimensions = ms.dimension_list.unwrap_or_default();
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
        check_tags(tags)?;
    }
    live_detector(api, detector_arn).await?;
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
    reserve(
        api,
        detector_arn,
        "alerts",
        &arn,
        ALERTS_PER_DETECTOR,
        &existing,
    )
    .await?;
    let t = now();
    let mut doc = AlertDoc {
        alert_arn: Some(arn.clone()),
        alert_name: Some(name.to_string()),
        anomaly_detector_arn: Some(detector_arn.to_string()),
        action: Some(act.clone()),
        alert_type: Some(kind.to_string()),
        alert_status: Some(AlertStatus::Active),
        creation_time: Some(t),
        last_modification_time: Some(t),
        ..AlertDoc::default()
    };
    given_fields(&mut doc, req);
    match api.store.create(Kind::Alert, &arn, doc.to_value()).await {
        Err(StoreError::Exists) => {
            // Another detector's alert of that name: its place here is not taken.
            release(api, detector_arn, "alerts", &arn).await?;
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
    if !stays(api, Kind::Detector, detector_arn).await? {
        api.store.delete(Kind::Alert, &arn).await?;
        api.store.delete(Kind::Tags, &arn).await?;
        return Err(ApiError::not_found("AnomalyDetector", detector_arn));
    }
    Ok(json!({ "AlertArn": arn }))
}

/// The optional members a request gives (validated by [`alert_fields`]), stored as given.
fn given_fields(doc: &mut AlertDoc, req: &Value) {
    let given = |m: &str| req.get(m).filter(|v| !v.is_null());
    if let Some(d) = given("AlertDescription").and_then(Value::as_str) {
        doc.alert_description = Some(d.to_string());
    }
    if let Some(t) = given("AlertSensitivityThreshold").and_then(Value::as_number) {
        doc.alert_sensitivity_threshold = Some(t.clone());
    }
    if let Some(f) = given("AlertFilters") {
        doc.alert_filters = Some(f.clone());
    }
}

async fn alert<S: Store>(api: &Api<S>, req: &Value) -> Result<(String, AlertDoc), ApiError> {
    let arn = arn_field(req, "AlertArn")?;
    let doc = api
        .store
        .get(Kind::Alert, arn)
        .await?
        .ok_or_else(|| ApiError::not_found("Alert", arn))?;
    Ok((arn.to_string(), read(doc)?))
}

pub(crate) async fn describe_alert<S: Store>(api: &Api<S>, req: &Value) -> Result<Value, ApiError> {
    Ok(json!({ "Alert": alert(api, req).await?.1.to_value() }))
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
        let a: AlertDoc = read(a)?;
        // The summary (`AlertSummary`): the document less its action, description and filters.
        let summary = AlertDoc {
            action: None,
            alert_description: None,
            alert_filters: None,
            extra: Default::default(),
            ..a
        };
        let mut s = summary.to_value();
        if let Some(tags) = api.store.get(Kind::Tags, summary.arn()).await? {
            s["Tags"] = tags;
        }
        out.push(s);
    }
    Ok(json!({ "AlertSummaryList": out, "NextToken": next }))
}

pub(crate) async fn update_alert<S: Store>(api: &Api<S>, req: &Value) -> Result<Value, ApiError> {
    let (arn, current) = alert(api, req).await?;
    filters_fit(api, current.detector_arn(), req.get("AlertFilters")).await?;
    let missing = || ApiError::not_found("Alert", &arn);
    modify_typed(api, Kind::Alert, &arn, missing, |doc: &mut AlertDoc| {
        let mut c = Check::default();
        if let Some(act) = req.get("Action").filter(|v| !v.is_null()) {
            let kind = action(&mut c, act);
            doc.action = Some(act.clone());
            doc.alert_type = Some(kind.to_string());
        }
        alert_fields(&mut c, req);
        c.finish()?;
        given_fields(doc, req);
        doc.last_modification_time = Some(now());
        Ok(())
    })
    .await?;
    Ok(json!({ "AlertArn": arn }))
}

pub(crate) async fn delete_alert<S: Store>(api: &Api<S>, req: &Value) -> Result<Value, ApiError> {
    let (arn, doc) = alert(api, req).await?;
    api.store.delete(Kind::Alert, &arn).await?;
    api.store.delete(Kind::Tags, &arn).await?;
    if let Some(detector_arn) = &doc.anomaly_detector_arn {
        release(api, detector_arn, "alerts", &arn).await?;
    }
    Ok(json!({}))
}
