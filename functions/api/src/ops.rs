//! The operations: validate, then read or write the store. Every constraint of the model is
//! checked before anything is written.

use std::time::{SystemTime, UNIX_EPOCH};

use seismo_shared::group::GroupReport;
use seismo_shared::model::{CreateMetricSetRequest, Frequency};
use seismo_shared::pipeline::schedule::{Once, ScheduleSpec, once_name};
use seismo_shared::pipeline::{self, PipelineError};
use seismo_shared::validate::{self, Check};
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::paging::{list_scope, page, paginate};
use crate::request::{arn_field, optional, optional_arn, required};
use crate::state::Api;
use seismo_shared::store::{Kind, Store, StoreError};

/// Metric sets per detector (the old service's quota).
pub(crate) const METRIC_SETS_PER_DETECTOR: usize = 1;

pub(crate) fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64().floor())
        .unwrap_or(0.0)
}

/// Tags: 1-50, keys 1-128 characters, values up to 256.
pub(crate) fn check_tags(tags: &Value) -> Result<(), ApiError> {
    let Value::Object(map) = tags else {
        return Err(ApiError::field(
            "Tags",
            "must be a map of tag keys to values",
        ));
    };
    let mut c = Check::default();
    if map.is_empty() || map.len() > 50 {
        c.fail("Tags", format!("{} tags; 1-50 are allowed", map.len()));
    }
    for (k, v) in map {
        c.length(&format!("Tags.{k}"), k, 1, 128);
        match v.as_str() {
            Some(v) => {
                c.length(&format!("Tags.{k}"), v, 0, 256);
            }
            None => c.fail(format!("Tags.{k}"), "must be a string"),
        }
    }
    c.finish().map_err(Into::into)
}

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
    let key = format!("{detector_arn}/reserved/{what}");
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
    let key = format!("{detector_arn}/reserved/{what}");
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

pub(crate) async fn detector<S: Store>(api: &Api<S>, arn: &str) -> Result<Value, ApiError> {
    api.store
        .get(Kind::Detector, arn)
        .await?
        .ok_or_else(|| ApiError::not_found("AnomalyDetector", arn))
}

/// Whether a resource is still there after something was written for it: a delete that ran
/// meanwhile (a detector DELETING, or any resource gone) may have swept before the write, so
/// the writer removes what it wrote rather than leave it for a later resource of that name.
pub(crate) async fn stays<S: Store>(api: &Api<S>, kind: Kind, arn: &str) -> Result<bool, ApiError> {
    Ok(api
        .store
        .get(kind, arn)
        .await?
        .is_some_and(|d| kind != Kind::Detector || status(&d) != "DELETING"))
}

/// A detector that is not being deleted (what a new metric set or alert may join).
pub(crate) async fn live_detector<S: Store>(api: &Api<S>, arn: &str) -> Result<Value, ApiError> {
    let doc = detector(api, arn).await?;
    if status(&doc) == "DELETING" {
        return Err(ApiError::not_found("AnomalyDetector", arn));
    }
    Ok(doc)
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

pub(crate) fn status(doc: &Value) -> &str {
    doc.get("Status")
        .and_then(Value::as_str)
        .unwrap_or("INACTIVE")
}

pub(crate) async fn create_detector<S: Store>(
    api: &Api<S>,
    req: &Value,
) -> Result<Value, ApiError> {
    let mut c = Check::default();
    let name = required(req, "AnomalyDetectorName")?;
    c.name("AnomalyDetectorName", name);
    if let Some(d) = optional(req, "AnomalyDetectorDescription")? {
        c.text("AnomalyDetectorDescription", d, 1, 256);
    }
    let config = req
        .get("AnomalyDetectorConfig")
        .ok_or_else(|| ApiError::field("AnomalyDetectorConfig", "required"))?;
    if !config.is_object() {
        return Err(ApiError::field(
            "AnomalyDetectorConfig",
            "must be an object",
        ));
    }
    let frequency = config.get("AnomalyDetectorFrequency");
    match frequency
        .and_then(Value::as_str)
        .map(str::parse::<Frequency>)
    {
        Some(Ok(_)) => {}
        Some(Err(m)) => c.fail("AnomalyDetectorConfig.AnomalyDetectorFrequency", m),
        None => c.fail("AnomalyDetectorConfig.AnomalyDetectorFrequency", "required"),
    }
    check_kms(&mut c, req)?;
    c.finish()?;
    if let Some(tags) = req.get("Tags") {
        check_tags(tags)?;
    }
    let arn = api.arn(&format!("AnomalyDetector:{name}"));
    let t = now();
    let mut doc = json!({
        "AnomalyDetectorArn": arn,
        "AnomalyDetectorName": name,
        "AnomalyDetectorConfig": {"AnomalyDetectorFrequency": frequency},
        "CreationTime": t,
        "LastModificationTime": t,
        "Status": "INACTIVE",
    });
    for member in ["AnomalyDetectorDescription", "KmsKeyArn"] {
        if let Some(v) = req.get(member).filter(|v| !v.is_null()) {
            doc[member] = v.clone();
        }
    }
    match api.store.create(Kind::Detector, &arn, doc).await {
        Err(StoreError::Exists) => {
            return Err(ApiError::conflict(
                "AnomalyDetector",
                &arn,
                format!("an anomaly detector named {name} already exists"),
            ));
        }
        other => other?,
    }
    if let Some(tags) = req.get("Tags") {
        api.store.put(Kind::Tags, &arn, tags.clone()).await?;
    }
    Ok(json!({ "AnomalyDetectorArn": arn }))
}

pub(crate) async fn describe_detector<S: Store>(
    api: &Api<S>,
    req: &Value,
) -> Result<Value, ApiError> {
    let arn = arn_field(req, "AnomalyDetectorArn")?;
    detector(api, arn).await
}

pub(crate) async fn list_detectors<S: Store>(api: &Api<S>, req: &Value) -> Result<Value, ApiError> {
    let (max, token) = page(req)?;
    let prefix = api.arn("AnomalyDetector:");
    let all = api.store.list(Kind::Detector, &prefix).await?;
    let (items, next) = paginate(all, max, token.as_deref(), &list_scope(req, "detectors"))?;
    let mut summaries = Vec::new();
    for d in items {
        let mut s = Map::new();
        for m in [
            "AnomalyDetectorArn",
            "AnomalyDetectorName",
            "AnomalyDetectorDescription",
            "CreationTime",
            "LastModificationTime",
            "Status",
        ] {
            if let Some(v) = d.get(m) {
                s.insert(m.into(), v.clone());
            }
        }
        let arn = d
            .get("AnomalyDetectorArn")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if let Some(tags) = api.store.get(Kind::Tags, arn).await? {
            s.insert("Tags".into(), tags);
        }
        summaries.push(Value::Object(s));
    }
    Ok(json!({ "AnomalyDetectorSummaryList": summaries, "NextToken": next }))
}

/// `KmsKeyArn`, when given: the model's length and a KMS key ARN.
fn check_kms(c: &mut Check, req: &Value) -> Result<(), ApiError> {
    if let Some(kms) = optional(req, "KmsKeyArn")? {
        let ok = (20..=2048).contains(&kms.len())
            && kms.starts_with("arn:aws")
            && kms.contains(":kms:")
            && kms.contains(":key/");
        if !ok {
            c.fail("KmsKeyArn", format!("{kms:?} is not a KMS key ARN"));
        }
    }
    Ok(())
}

pub(crate) async fn update_detector<S: Store>(
    api: &Api<S>,
    req: &Value,
) -> Result<Value, ApiError> {
    let arn = arn_field(req, "AnomalyDetectorArn")?;
    // The request's own constraints first: a bad value is a ValidationException whether or
    // not the detector exists.
    let mut c = Check::default();
    if let Some(d) = optional(req, "AnomalyDetectorDescription")? {
        c.text("AnomalyDetectorDescription", d, 1, 256);
    }
    if req
        .get("AnomalyDetectorConfig")
        .is_some_and(|v| !v.is_null() && !v.is_object())
    {
        c.fail("AnomalyDetectorConfig", "must be an object");
    }
    check_kms(&mut c, req)?;
    c.finish()?;
    // The metric set's frequency is the detector's: a new one would score its data at the
    // wrong interval.
    let metric_set_frequencies: Vec<String> = metric_sets_of(api, arn)
        .await?
        .iter()
        .filter_map(|m| m["MetricSetFrequency"].as_str().map(str::to_string))
        .collect();
    let missing = || ApiError::not_found("AnomalyDetector", arn);
    modify(api, Kind::Detector, arn, None, missing, |doc| {
        let mut c = Check::default();
        if let Some(d) = optional(req, "AnomalyDetectorDescription")? {
            doc["AnomalyDetectorDescription"] = json!(d);
        }
        if let Some(k) = optional(req, "KmsKeyArn")? {
            doc["KmsKeyArn"] = json!(k);
        }
        if let Some(f) = req
            .get("AnomalyDetectorConfig")
            .and_then(|c| c.get("AnomalyDetectorFrequency"))
        {
            let state = status(doc).to_string();
            match f.as_str().map(str::parse::<Frequency>) {
                Some(Ok(new)) if metric_set_frequencies.iter().any(|m| m != new.as_str()) => {
                    c.fail(
                        "AnomalyDetectorConfig.AnomalyDetectorFrequency",
                        format!(
                            "{} differs from the metric set's {}; the metric set's MetricSetFrequency must change with it (delete and create it again)",
                            new.as_str(),
                            metric_set_frequencies.join(", ")
                        ),
                    )
                }
                Some(Ok(_))
                    if matches!(
                        state.as_str(),
                        "INACTIVE" | "DEACTIVATED" | "BACK_TEST_COMPLETE"
                    ) =>
                {
                    doc["AnomalyDetectorConfig"]["AnomalyDetectorFrequency"] = f.clone();
                }
                Some(Ok(_)) => c.fail(
                    "AnomalyDetectorConfig",
                    format!("the detector is {state}: deactivate it first"),
                ),
                Some(Err(m)) => c.fail("AnomalyDetectorConfig.AnomalyDetectorFrequency", m),
                None => c.fail(
                    "AnomalyDetectorConfig.AnomalyDetectorFrequency",
                    "must be a string",
                ),
            }
        }
        c.finish()?;
        doc["LastModificationTime"] = json!(now());
        Ok(())
    })
    .await?;
    Ok(json!({ "AnomalyDetectorArn": arn }))
}

pub(crate) async fn delete_detector<S: Store>(
    api: &Api<S>,
    req: &Value,
) -> Result<Value, ApiError> {
    let arn = arn_field(req, "AnomalyDetectorArn")?;
    let doc = detector(api, arn).await?;
    if status(&doc) == "DEACTIVATING" {
        return Err(ApiError::conflict(
            "AnomalyDetector",
            arn,
            "the detector is DEACTIVATING; try again when it settles",
        ));
    }
    // First: an activation or backtest running meanwhile sees it and removes what it stored.
    set_status(api, arn, "DELETING", None).await?;
    // Then no new work: the schedules go before the sweep.
    let once = [Once::Activate, Once::Backtest].map(|w| once_name(name_of(arn), w));
    for schedule in [name_of(arn), once[0].as_str(), once[1].as_str()] {
        api.schedules
            .delete(schedule)
            .await
            .map_err(ApiError::Internal)?;
    }
    for ms in metric_sets_of(api, arn).await? {
        if let Some(ms_arn) = ms.get("MetricSetArn").and_then(Value::as_str) {
            api.store.delete(Kind::MetricSet, ms_arn).await?;
            api.store.delete(Kind::Tags, ms_arn).await?;
        }
    }
    for (alert_arn, alert) in api.store.list(Kind::Alert, &api.arn("Alert:")).await? {
        if alert.get("AnomalyDetectorArn").and_then(Value::as_str) == Some(arn) {
            api.store.delete(Kind::Alert, &alert_arn).await?;
            api.store.delete(Kind::Tags, &alert_arn).await?;
        }
    }
    for kind in [Kind::Group, Kind::Execution, Kind::Feedback] {
        for (key, _) in api.store.list(kind, &format!("{arn}/")).await? {
            api.store.delete(kind, &key).await?;
        }
    }
    pipeline::forget(&api.store, arn).await?;
    api.store.delete(Kind::Quality, arn).await?;
    api.store.delete(Kind::Tags, arn).await?;
    api.store.delete(Kind::Detector, arn).await?;
    Ok(json!({}))
}

fn name_of(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

/// Activates a detector: status ACTIVATING, its interval schedule, and a one-time schedule that
/// has the ingest function learn every series from the historical path a minute later (then
/// LEARNING or ACTIVE, or FAILED with the reason, as the old service did). The call returns at
/// once, as the old service's did: a long history has the function's 15 minutes, not API
/// Gateway's 29 seconds. `seismo serve` learns at its next tick.
pub(crate) async fn activate<S: Store>(api: &Api<S>, req: &Value) -> Result<Value, ApiError> {
    let arn = arn_field(req, "AnomalyDetectorArn")?;
    let doc = detector(api, arn).await?;
    if matches!(
        status(&doc),
        "LEARNING" | "ACTIVE" | "BACK_TEST_ACTIVATING" | "BACK_TEST_ACTIVE"
    ) {
        return Err(ApiError::conflict(
            "AnomalyDetector",
            arn,
            format!("the detector is {} already", status(&doc)),
        ));
    }
    if matches!(status(&doc), "DEACTIVATING" | "DELETING") {
        return Err(ApiError::conflict(
            "AnomalyDetector",
            arn,
            format!(
                "the detector is {}; try again when it settles",
                status(&doc)
            ),
        ));
    }
    refuse_running(api, arn, &doc, "ACTIVATING").await?;
    if metric_sets_of(api, arn).await?.is_empty() {
        return Err(ApiError::field(
            "AnomalyDetectorArn",
            "the detector has no metric set",
        ));
    }
    start_once(
        api,
        arn,
        &doc,
        "ACTIVATING",
        "ACTIVATION_FAILURE",
        |d, now, token| {
            vec![
                pipeline::schedule::spec(d),
                pipeline::schedule::once_spec(d, Once::Activate, now, token),
            ]
        },
    )
    .await
}

/// Paths the API takes name S3 objects: `s3://` only (`file://` and plain paths are for the
/// command line's own metric sets), and no `.` or `..` segment (`seismo serve` keeps buckets
/// as folders, and such a segment would step out of them).
pub(crate) fn s3_paths_only(
    c: &mut Check,
    prefix: &str,
    s3: &seismo_shared::model::S3SourceConfig,
) {
    let lists = [
        ("TemplatedPathList", &s3.templated_path_list),
        ("HistoricalDataPathList", &s3.historical_data_path_list),
    ];
    for (member, list) in lists {
        for (i, p) in list.iter().flatten().enumerate() {
            let field = format!("{prefix}.{member}[{i}]");
            match p.strip_prefix("s3://") {
                None => c.fail(field, "must be an s3:// path"),
                Some(rest) if rest.split('/').any(|seg| seg == ".." || seg == ".") => {
                    c.fail(field, "must not have a . or .. segment")
                }
                Some(_) => {}
            }
        }
    }
}

/// Refuses to ask again for a one-time run (`running`: ACTIVATING or BACK_TEST_ACTIVATING) while
/// the one asked for may still be going; one asked for longer ago than the ingest function
/// can run (20 minutes) is lost (a crash, a timeout) and may be asked for again.
async fn refuse_running<S: Store>(
    api: &Api<S>,
    arn: &str,
    doc: &Value,
    running: &str,
) -> Result<(), ApiError> {
    if status(doc) != running {
        return Ok(());
    }
    let asked = pipeline::run_requested_at(&api.store, arn).await?;
    let now = chrono::Utc::now().timestamp();
    match asked {
        Some(t) if now - t < pipeline::RUN_LOST_AFTER => Err(ApiError::conflict(
            "AnomalyDetector",
            arn,
            format!(
                "the detector is {running} since {}; ask again if it has not finished 20 minutes after",
                seismo_shared::model::timestamp_string(t)
            ),
        )),
        _ => Ok(()),
    }
}

/// Moves a detector from status `from` (what a request was judged on) to `to`, atomically:
/// when another request changed it meanwhile, a ConflictException and nothing changes.
async fn transition<S: Store>(
    api: &Api<S>,
    arn: &str,
    from: &str,
    to: &str,
) -> Result<(), ApiError> {
    let missing = || ApiError::not_found("AnomalyDetector", arn);
    modify(api, Kind::Detector, arn, None, missing, |doc| {
        let current = status(doc).to_string();
        if current != from {
            return Err(ApiError::conflict(
                "AnomalyDetector",
                arn,
                format!("the detector became {current} meanwhile"),
            ));
        }
        write_status(doc, to, None);
        Ok(())
    })
    .await?;
    Ok(())
}

/// Starts work that a one-time schedule has the ingest function do: the detector's status
/// becomes `status` (only from the status of `judged`, the document the request was checked
/// against), the run is recorded with a token its event carries (so only this run
/// starts) and `specs` are created. A metric set that cannot be loaded, or a schedule that
/// cannot be created, leaves it FAILED with `failure` and the reason.
async fn start_once<S: Store>(
    api: &Api<S>,
    arn: &str,
    judged: &Value,
    status: &str,
    failure: &str,
    specs: impl FnOnce(&pipeline::Detector, i64, &str) -> Vec<ScheduleSpec>,
) -> Result<Value, ApiError> {
    let loaded = match pipeline::load(&api.store, arn).await {
        Ok(d) => d,
        Err(PipelineError::Store(e)) => return Err(e.into()),
        Err(e) => {
            set_status(api, arn, "FAILED", Some((failure, e.to_string()))).await?;
            return Ok(json!({}));
        }
    };
    let now = chrono::Utc::now().timestamp();
    let token = seismo_shared::objects::unique_suffix();
    // From the status the request was judged on, atomically: of two requests at once, one
    // starts the run and the other is told the detector changed.
    transition(api, arn, crate::ops::status(judged), status).await?;
    pipeline::ask_run(&api.store, arn, &token, now).await?;
    for spec in specs(&loaded, now, &token) {
        if let Err(e) = api.schedules.put(&spec).await {
            let reason = "the schedule could not be created".to_string();
            set_status(api, arn, "FAILED", Some((failure, reason))).await?;
            return Err(ApiError::Internal(format!("scheduler: {e}")));
        }
    }
    Ok(json!({}))
}

/// Deactivates a running detector: its schedule is deleted; model state and results stay.
pub(crate) async fn deactivate<S: Store>(api: &Api<S>, req: &Value) -> Result<Value, ApiError> {
    let arn = arn_field(req, "AnomalyDetectorArn")?;
    let doc = detector(api, arn).await?;
    // DEACTIVATING again: a deactivation whose schedule could not be deleted is retried.
    if !matches!(
        status(&doc),
        "LEARNING" | "ACTIVE" | "FAILED" | "DEACTIVATING"
    ) {
        return Err(ApiError::conflict(
            "AnomalyDetector",
            arn,
            format!(
                "the detector is {}: only a running detector deactivates",
                status(&doc)
            ),
        ));
    }
    transition(api, arn, status(&doc), "DEACTIVATING").await?;
    api.schedules
        .delete(name_of(arn))
        .await
        .map_err(ApiError::Internal)?;
    transition(api, arn, "DEACTIVATING", "DEACTIVATED").await?;
    Ok(json!({}))
}

pub(crate) async fn metric_sets_of<S: Store>(
    api: &Api<S>,
    detector_arn: &str,
) -> Result<Vec<Value>, ApiError> {
    let name = detector_arn.rsplit(':').next().unwrap_or_default();
    let prefix = api.arn(&format!("MetricSet/{name}/"));
    Ok(api
        .store
        .list(Kind::MetricSet, &prefix)
        .await?
        .into_iter()
        .map(|(_, v)| v)
        .collect())
}

pub(crate) async fn create_metric_set<S: Store>(
    api: &Api<S>,
    req: &Value,
) -> Result<Value, ApiError> {
    let detector_arn = arn_field(req, "AnomalyDetectorArn")?;
    for member in ["MetricSetName", "MetricList", "MetricSource"] {
        if req.get(member).is_none_or(Value::is_null) {
            return Err(ApiError::field(member, "required"));
        }
    }
    let ms: CreateMetricSetRequest = validate::parse(req, "")?;
    validate::metric_set(&ms)?;
    let mut c = Check::default();
    if let Some(s3) = &ms.metric_source.s3_source_config {
        s3_paths_only(&mut c, "MetricSource.S3SourceConfig", s3);
    }
    let doc = live_detector(api, detector_arn).await?;
    let detector_frequency = doc["AnomalyDetectorConfig"]["AnomalyDetectorFrequency"]
        .as_str()
        .unwrap_or_default();
    if let Some(f) = ms.metric_set_frequency
        && f.as_str() != detector_frequency
    {
        c.fail(
            "MetricSetFrequency",
            format!("{f} differs from the detector's {detector_frequency}"),
        );
    }
    c.finish()?;
    if let Some(tags) = req.get("Tags") {
        check_tags(tags)?;
    }
    let detector_name = detector_arn.rsplit(':').next().unwrap_or_default();
    let arn = api.arn(&format!("MetricSet/{detector_name}/{}", ms.metric_set_name));
    let existing: Vec<String> = metric_sets_of(api, detector_arn)
        .await?
        .iter()
        .filter_map(|m| m["MetricSetArn"].as_str().map(str::to_string))
        .collect();
    if existing.contains(&arn) {
        return Err(ApiError::conflict(
            "MetricSet",
            &arn,
            format!("a metric set named {} already exists", ms.metric_set_name),
        ));
    }
    reserve(
        api,
        detector_arn,
        "metric-sets",
        &arn,
        METRIC_SETS_PER_DETECTOR,
        &existing,
    )
    .await?;
    let mut stored = serde_json::to_value(&ms).map_err(|e| ApiError::Internal(e.to_string()))?;
    if let Value::Object(m) = &mut stored {
        m.remove("Tags");
        m.insert("MetricSetArn".into(), json!(arn));
        m.insert("MetricSetFrequency".into(), json!(detector_frequency));
        let t = now();
        m.insert("CreationTime".into(), json!(t));
        m.insert("LastModificationTime".into(), json!(t));
    }
    // Alerts created before the metric set filter on what it must have.
    let mut c = Check::default();
    let alerts = crate::more::alerts_of(api, Some(detector_arn)).await?;
    crate::more::alerts_fit(&mut c, &alerts, &stored);
    if let Err(e) = c.finish() {
        crate::ops::release(api, detector_arn, "metric-sets", &arn).await?;
        return Err(e.into());
    }
    match api.store.create(Kind::MetricSet, &arn, stored).await {
        Err(StoreError::Exists) => {
            return Err(ApiError::conflict(
                "MetricSet",
                &arn,
                format!("a metric set named {} already exists", ms.metric_set_name),
            ));
        }
        other => other?,
    }
    if let Some(tags) = req.get("Tags") {
        api.store.put(Kind::Tags, &arn, tags.clone()).await?;
    }
    if !stays(api, Kind::Detector, detector_arn).await? {
        api.store.delete(Kind::MetricSet, &arn).await?;
        api.store.delete(Kind::Tags, &arn).await?;
        return Err(ApiError::not_found("AnomalyDetector", detector_arn));
    }
    Ok(json!({ "MetricSetArn": arn }))
}

pub(crate) async fn describe_metric_set<S: Store>(
    api: &Api<S>,
    req: &Value,
) -> Result<Value, ApiError> {
    let arn = arn_field(req, "MetricSetArn")?;
    api.store
        .get(Kind::MetricSet, arn)
        .await?
        .ok_or_else(|| ApiError::not_found("MetricSet", arn))
}

pub(crate) async fn list_metric_sets<S: Store>(
    api: &Api<S>,
    req: &Value,
) -> Result<Value, ApiError> {
    let (max, token) = page(req)?;
    let all = match optional_arn(req, "AnomalyDetectorArn")? {
        Some(d) => {
            detector(api, d).await?;
            let name = d.rsplit(':').next().unwrap_or_default();
            api.store
                .list(Kind::MetricSet, &api.arn(&format!("MetricSet/{name}/")))
                .await?
        }
        None => {
            api.store
                .list(Kind::MetricSet, &api.arn("MetricSet/"))
                .await?
        }
    };
    let (items, next) = paginate(all, max, token.as_deref(), &list_scope(req, "metric-sets"))?;
    let summaries: Vec<Value> = items
        .iter()
        .map(|m| {
            let mut s = Map::new();
            for k in [
                "AnomalyDetectorArn",
                "MetricSetArn",
                "MetricSetName",
                "MetricSetDescription",
                "CreationTime",
                "LastModificationTime",
            ] {
                if let Some(v) = m.get(k) {
                    s.insert(k.into(), v.clone());
                }
            }
            Value::Object(s)
        })
        .collect();
    Ok(json!({ "MetricSetSummaryList": summaries, "NextToken": next }))
}

async fn set_status<S: Store>(
    api: &Api<S>,
    arn: &str,
    status: &str,
    failure: Option<(&str, String)>,
) -> Result<(), ApiError> {
    let missing = || ApiError::not_found("AnomalyDetector", arn);
    modify(api, Kind::Detector, arn, None, missing, |doc| {
        write_status(doc, status, failure.as_ref());
        Ok(())
    })
    .await?;
    Ok(())
}

/// A detector document's new status, with its failure or without any.
fn write_status(doc: &mut Value, status: &str, failure: Option<&(&str, String)>) {
    doc["Status"] = json!(status);
    doc["LastModificationTime"] = json!(now());
    match failure {
        Some((kind, reason)) => {
            doc["FailureType"] = json!(kind);
            doc["FailureReason"] = json!(reason);
        }
        None => {
            if let Value::Object(m) = doc {
                m.remove("FailureType");
                m.remove("FailureReason");
            }
        }
    }
}

/// Starts a backtest: status BACK_TEST_ACTIVATING, and a one-time schedule that has the ingest
/// function run it a minute later (then BACK_TEST_COMPLETE with the groups, or FAILED with the
/// reason, as the old service did). The call returns at once, as the old service's did: a
/// long history has the function's 15 minutes, not API Gateway's 29 seconds. `seismo serve`
/// runs it at its next tick.
pub(crate) async fn back_test<S: Store>(api: &Api<S>, req: &Value) -> Result<Value, ApiError> {
    let arn = arn_field(req, "AnomalyDetectorArn")?;
    let doc = detector(api, arn).await?;
    refuse_running(api, arn, &doc, "BACK_TEST_ACTIVATING").await?;
    if !matches!(
        status(&doc),
        "INACTIVE" | "BACK_TEST_COMPLETE" | "FAILED" | "DEACTIVATED" | "BACK_TEST_ACTIVATING"
    ) {
        return Err(ApiError::field(
            "AnomalyDetectorArn",
            format!(
                "the detector is {}: a backtest needs an inactive detector",
                status(&doc)
            ),
        ));
    }
    if metric_sets_of(api, arn).await?.is_empty() {
        return Err(ApiError::field(
            "AnomalyDetectorArn",
            "the detector has no metric set",
        ));
    }
    start_once(
        api,
        arn,
        &doc,
        "BACK_TEST_ACTIVATING",
        "BACK_TEST_ACTIVATION_FAILURE",
        |d, now, token| vec![pipeline::schedule::once_spec(d, Once::Backtest, now, token)],
    )
    .await
}

async fn groups<S: Store>(api: &Api<S>, arn: &str) -> Result<Vec<GroupReport>, ApiError> {
    detector(api, arn).await?;
    let mut out = Vec::new();
    for (_, v) in api.store.list(Kind::Group, &format!("{arn}/")).await? {
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
        .get(Kind::Group, &format!("{arn}/{id}"))
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
            .any(|m| m["MetricSetArn"] == ms);
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
        .and_then(|m| m.get("MetricSetArn").cloned())
        .unwrap_or(Value::Null);
    Ok(json!({
        "AnomalyDetectorDataQualityMetricList": [{
            // A backtest's inference window, or the interval continuous detection read last.
            "StartTimestamp": epoch(&q["inference"]["start"]).or_else(|| epoch(&q["interval"])),
            "MetricSetDataQualityMetricList": [{"MetricSetArn": ms_arn, "DataQualityMetricList": metrics}],
        }]
    }))
}
