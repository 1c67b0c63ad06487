//! Anomaly detectors: create, describe, list, update, delete, and the runs a detector starts
//! (activate, deactivate, backtest).

use seismo_shared::ids;
use seismo_shared::model::{DetectorConfig, DetectorDoc, DetectorStatus, Document, Frequency};
use seismo_shared::pipeline::schedule::{Once, ScheduleSpec, once_name};
use seismo_shared::pipeline::{self, PipelineError};
use seismo_shared::validate::Check;
use serde_json::{Value, json};

use super::tags::check_tags;
use crate::clock::{epoch_seconds, now};
use crate::error::ApiError;
use crate::paging::{list_scope, page, paginate};
use crate::request::{arn_field, optional, required};
use crate::resources::{detector, metric_sets_of, read, status};
use crate::state::Api;
use crate::swap::{modify_detector, set_status, transition};
use seismo_shared::store::{Kind, Store, StoreError, keys};

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
    let frequency = match config
        .get("AnomalyDetectorFrequency")
        .and_then(Value::as_str)
        .map(str::parse::<Frequency>)
    {
        Some(Ok(f)) => Some(f),
        Some(Err(m)) => {
            c.fail("AnomalyDetectorConfig.AnomalyDetectorFrequency", m);
            None
        }
        None => {
            c.fail("AnomalyDetectorConfig.AnomalyDetectorFrequency", "required");
            None
        }
    };
    check_kms(&mut c, req)?;
    c.finish()?;
    if let Some(tags) = req.get("Tags") {
        check_tags(tags)?;
    }
    let arn = api.arn(&format!("AnomalyDetector:{name}"));
    let t = now();
    let doc = DetectorDoc {
        anomaly_detector_arn: Some(arn.clone()),
        anomaly_detector_name: Some(name.to_string()),
        anomaly_detector_description: optional(req, "AnomalyDetectorDescription")?
            .map(str::to_string),
        anomaly_detector_config: frequency.map(|f| DetectorConfig {
            anomaly_detector_frequency: f,
        }),
        kms_key_arn: optional(req, "KmsKeyArn")?.map(str::to_string),
        creation_time: Some(t),
        last_modification_time: Some(t),
        status: Some(DetectorStatus::Inactive),
        ..DetectorDoc::default()
    };
    match api.store.create(Kind::Detector, &arn, doc.to_value()).await {
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
    Ok(detector(api, arn).await?.to_value())
}

pub(crate) async fn list_detectors<S: Store>(api: &Api<S>, req: &Value) -> Result<Value, ApiError> {
    let (max, token) = page(req)?;
    let prefix = api.arn("AnomalyDetector:");
    let all = api.store.list(Kind::Detector, &prefix).await?;
    let (items, next) = paginate(all, max, token.as_deref(), &list_scope(req, "detectors"))?;
    let mut summaries = Vec::new();
    for d in items {
        let d: DetectorDoc = read(d)?;
        // The summary (`AnomalyDetectorSummary`): the document less its configuration,
        // key and failure.
        let summary = DetectorDoc {
            anomaly_detector_arn: d.anomaly_detector_arn,
            anomaly_detector_name: d.anomaly_detector_name,
            anomaly_detector_description: d.anomaly_detector_description,
            creation_time: d.creation_time,
            last_modification_time: d.last_modification_time,
            status: d.status,
            ..DetectorDoc::default()
        };
        let mut s = summary.to_value();
        let arn = summary.anomaly_detector_arn.as_deref().unwrap_or_default();
        if let Some(tags) = api.store.get(Kind::Tags, arn).await? {
            s["Tags"] = tags;
        }
        summaries.push(s);
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
        .filter_map(|m| m.frequency().map(str::to_string))
        .collect();
    modify_detector(api, arn, |doc| {
        let mut c = Check::default();
        if let Some(d) = optional(req, "AnomalyDetectorDescription")? {
            doc.anomaly_detector_description = Some(d.to_string());
        }
        if let Some(k) = optional(req, "KmsKeyArn")? {
            doc.kms_key_arn = Some(k.to_string());
        }
        if let Some(f) = req
            .get("AnomalyDetectorConfig")
            .and_then(|c| c.get("AnomalyDetectorFrequency"))
        {
            let state = status(doc);
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
                Some(Ok(new))
                    if matches!(
                        state,
                        DetectorStatus::Inactive | DetectorStatus::Deactivated | DetectorStatus::BackTestComplete
                    ) =>
                {
                    doc.anomaly_detector_config = Some(DetectorConfig {
                        anomaly_detector_frequency: new,
                    });
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
        doc.last_modification_time = Some(now());
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
    if status(&doc) == DetectorStatus::Deactivating {
        return Err(ApiError::conflict(
            "AnomalyDetector",
            arn,
            "the detector is DEACTIVATING; try again when it settles",
        ));
    }
    // First: an activation or backtest running meanwhile sees it and removes what it stored.
    set_status(api, arn, DetectorStatus::Deleting, None).await?;
    // Then no new work: the schedules go before the sweep.
    let once = [Once::Activate, Once::Backtest].map(|w| once_name(ids::schedule_name(arn), w));
    for schedule in [ids::schedule_name(arn), once[0].as_str(), once[1].as_str()] {
        api.schedules
            .delete(schedule)
            .await
            .map_err(ApiError::Internal)?;
    }
    for ms in metric_sets_of(api, arn).await? {
        if let Some(ms_arn) = &ms.metric_set_arn {
            api.store.delete(Kind::MetricSet, ms_arn).await?;
            api.store.delete(Kind::Tags, ms_arn).await?;
        }
    }
    for (alert_arn, _) in crate::resources::alerts_of(api, Some(arn)).await? {
        api.store.delete(Kind::Alert, &alert_arn).await?;
        api.store.delete(Kind::Tags, &alert_arn).await?;
    }
    for kind in [Kind::Group, Kind::Execution, Kind::Feedback] {
        for (key, _) in api.store.list(kind, &keys::detector_prefix(arn)).await? {
            api.store.delete(kind, &key).await?;
        }
    }
    pipeline::forget(&api.store, arn).await?;
    api.store.delete(Kind::Quality, arn).await?;
    api.store.delete(Kind::Tags, arn).await?;
    api.store.delete(Kind::Detector, arn).await?;
    Ok(json!({}))
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
        DetectorStatus::Learning
            | DetectorStatus::Active
            | DetectorStatus::BackTestActivating
            | DetectorStatus::BackTestActive
    ) {
        return Err(ApiError::conflict(
            "AnomalyDetector",
            arn,
            format!("the detector is {} already", status(&doc)),
        ));
    }
    if matches!(
        status(&doc),
        DetectorStatus::Deactivating | DetectorStatus::Deleting
    ) {
        return Err(ApiError::conflict(
            "AnomalyDetector",
            arn,
            format!(
                "the detector is {}; try again when it settles",
                status(&doc)
            ),
        ));
    }
    refuse_running(api, arn, &doc, DetectorStatus::Activating).await?;
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
        DetectorStatus::Activating,
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

/// Refuses to ask again for a one-time run (`running`: ACTIVATING or BACK_TEST_ACTIVATING) while
/// the one asked for may still be going; one asked for longer ago than the ingest function
/// can run (20 minutes) is lost (a crash, a timeout) and may be asked for again.
async fn refuse_running<S: Store>(
    api: &Api<S>,
    arn: &str,
    doc: &DetectorDoc,
    running: DetectorStatus,
) -> Result<(), ApiError> {
    if status(doc) != running {
        return Ok(());
    }
    let asked = pipeline::run_requested_at(&api.store, arn).await?;
    let now = epoch_seconds();
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

/// Starts work that a one-time schedule has the ingest function do: the detector's status
/// becomes `status` (only from the status of `judged`, the document the request was checked
/// against), the run is recorded with a token its event carries (so only this run
/// starts) and `specs` are created. A metric set that cannot be loaded, or a schedule that
/// cannot be created, leaves it FAILED with `failure` and the reason.
async fn start_once<S: Store>(
    api: &Api<S>,
    arn: &str,
    judged: &DetectorDoc,
    status: DetectorStatus,
    failure: &str,
    specs: impl FnOnce(&pipeline::Detector, i64, &str) -> Vec<ScheduleSpec>,
) -> Result<Value, ApiError> {
    let loaded = match pipeline::load(&api.store, arn).await {
        Ok(d) => d,
        Err(PipelineError::Store(e)) => return Err(e.into()),
        Err(e) => {
            set_status(
                api,
                arn,
                DetectorStatus::Failed,
                Some((failure, e.to_string())),
            )
            .await?;
            return Ok(json!({}));
        }
    };
    let now = epoch_seconds();
    let token = seismo_shared::objects::unique_suffix();
    // From the status the request was judged on, atomically: of two requests at once, one
    // starts the run and the other is told the detector changed.
    transition(api, arn, crate::resources::status(judged), status).await?;
    pipeline::ask_run(&api.store, arn, &token, now).await?;
    for spec in specs(&loaded, now, &token) {
        if let Err(e) = api.schedules.put(&spec).await {
            let reason = "the schedule could not be created".to_string();
            set_status(api, arn, DetectorStatus::Failed, Some((failure, reason))).await?;
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
        DetectorStatus::Learning
            | DetectorStatus::Active
            | DetectorStatus::Failed
            | DetectorStatus::Deactivating
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
    transition(api, arn, status(&doc), DetectorStatus::Deactivating).await?;
    api.schedules
        .delete(ids::schedule_name(arn))
        .await
        .map_err(ApiError::Internal)?;
    transition(
        api,
        arn,
        DetectorStatus::Deactivating,
        DetectorStatus::Deactivated,
    )
    .await?;
    Ok(json!({}))
}

/// Starts a backtest: status BACK_TEST_ACTIVATING, and a one-time schedule that has the ingest
/// function run it a minute later (then BACK_TEST_COMPLETE with the groups, or FAILED with the
/// reason, as the old service did). The call returns at once, as the old service's did: a
/// long history has the function's 15 minutes, not API Gateway's 29 seconds. `seismo serve`
/// runs it at its next tick.
pub(crate) async fn back_test<S: Store>(api: &Api<S>, req: &Value) -> Result<Value, ApiError> {
    let arn = arn_field(req, "AnomalyDetectorArn")?;
    let doc = detector(api, arn).await?;
    refuse_running(api, arn, &doc, DetectorStatus::BackTestActivating).await?;
    if !matches!(
        status(&doc),
        DetectorStatus::Inactive
            | DetectorStatus::BackTestComplete
            | DetectorStatus::Failed
            | DetectorStatus::Deactivated
            | DetectorStatus::BackTestActivating
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
        DetectorStatus::BackTestActivating,
        "BACK_TEST_ACTIVATION_FAILURE",
        |d, now, token| vec![pipeline::schedule::once_spec(d, Once::Backtest, now, token)],
    )
    .await
}
