//! Metric sets: create, describe, list and update.

use seismo_shared::model::{CreateMetricSetRequest, DetectorStatus, Document, MetricSetDoc};
use seismo_shared::validate::{self, Check};
use serde_json::{Map, Value, json};

use super::alert::alerts_fit;
use super::source::s3_paths_only;
use super::tags::check_tags;
use crate::clock::now;
use crate::error::ApiError;
use crate::paging::{list_scope, page, paginate};
use crate::quota::{METRIC_SETS_PER_DETECTOR, release, reserve};
use crate::request::{arn_field, optional_arn};
use crate::resources::{alerts_of, detector, live_detector, metric_sets_of, read, status, stays};
use crate::state::Api;
use crate::swap::modify_typed;
use seismo_shared::store::{Kind, Store, StoreError};

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
    let detector_frequency = doc.frequency().map(|f| f.as_str()).unwrap_or_default();
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
        .into_iter()
        .filter_map(|m| m.metric_set_arn)
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
    let stored = MetricSetDoc::new(&arn, &ms, detector_frequency, now()).to_value();
    // Alerts created before the metric set filter on what it must have.
    let mut c = Check::default();
    let alerts = alerts_of(api, Some(detector_arn)).await?;
    alerts_fit(&mut c, &alerts, &ms);
    if let Err(e) = c.finish() {
        release(api, detector_arn, "metric-sets", &arn).await?;
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
    let doc = api
        .store
        .get(Kind::MetricSet, arn)
        .await?
        .ok_or_else(|| ApiError::not_found("MetricSet", arn))?;
    Ok(read::<MetricSetDoc>(doc)?.to_value())
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
    let mut summaries = Vec::new();
    for m in items {
        let m: MetricSetDoc = read(m)?;
        // The summary (`MetricSetSummary`): its names and times.
        let extra: Map<String, Value> = m
            .extra
            .into_iter()
            .filter(|(k, _)| {
                matches!(
                    k.as_str(),
                    "AnomalyDetectorArn" | "MetricSetName" | "MetricSetDescription"
                )
            })
            .collect();
        let summary = MetricSetDoc { extra, ..m };
        summaries.push(summary.to_value());
    }
    Ok(json!({ "MetricSetSummaryList": summaries, "NextToken": next }))
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
    let current: MetricSetDoc = read(current)?;
    let detector_arn = current.detector_arn().to_string();
    let detector_doc = detector(api, &detector_arn).await?;
    let active = !matches!(
        status(&detector_doc),
        DetectorStatus::Inactive
            | DetectorStatus::Deactivated
            | DetectorStatus::BackTestComplete
            | DetectorStatus::Failed
    );
    let detector_frequency = detector_doc.frequency().map(|f| f.as_str());
    let alerts = alerts_of(api, Some(&detector_arn)).await?;
    // Compare-and-swap: a concurrent update of the same metric set is merged, never lost.
    let missing = || ApiError::not_found("MetricSet", arn);
    modify_typed(api, Kind::MetricSet, arn, missing, |doc: &mut MetricSetDoc| {
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
                    && doc.extra.get(m) != Some(v)
                {
                    c.fail(m, "the detector is active: deactivate it first (only MetricSetDescription and Offset change while active)");
                }
                // The request's members are stored as given (validated below).
                doc.extra.insert(m.to_string(), v.clone());
            }
        }
        c.finish()?;
        let ms: CreateMetricSetRequest = validate::parse(&doc.to_value(), "")?;
        validate::metric_set(&ms)?;
        let mut c = Check::default();
        if let Some(s3) = &ms.metric_source.s3_source_config {
            s3_paths_only(&mut c, "MetricSource.S3SourceConfig", s3);
        }
        alerts_fit(&mut c, &alerts, &ms);
        c.finish()?;
        if detector_frequency.is_none() || doc.frequency() != detector_frequency {
            return Err(ApiError::field(
                "MetricSetFrequency",
                "must equal the detector's frequency",
            ));
        }
        doc.last_modification_time = Some(now());
        Ok(())
    })
    .await?;
    // A running detector's schedule fires at interval end + Offset: a new Offset moves it
    // (left as it was, intervals between the two were never ingested).
    if active
        && req
            .get("Offset")
            .is_some_and(|o| !o.is_null() && current.extra.get("Offset") != Some(o))
    {
        let loaded = seismo_shared::pipeline::load(&api.store, &detector_arn)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        if matches!(
            status(&loaded.doc),
            DetectorStatus::Learning | DetectorStatus::Active
        ) {
            api.schedules
                .put(&seismo_shared::pipeline::schedule::spec(&loaded))
                .await
                .map_err(|e| ApiError::Internal(format!("scheduler: {e}")))?;
        }
    }
    Ok(json!({ "MetricSetArn": arn }))
}
