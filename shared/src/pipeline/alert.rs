//! Alerts: which anomaly groups an alert sends (sensitivity threshold and filters), the old
//! service's payloads (JSON for SNS and Lambda, LONG_TEXT, SHORT_TEXT) plus `anomalyGroupId`
//! and a console link, and the notify stage, which sends each group to each alert once.

use serde_json::{Value, json};

use crate::group::GroupReport;
use crate::objects::BoxFuture;
use crate::store::{Kind, Store, StoreError};

use super::{NotifyTask, PipelineError};

/// Where alerts go: SNS topics and Lambda functions.
pub trait Publisher: Send + Sync + std::fmt::Debug + 'static {
    /// Publishes a message to an SNS topic.
    fn sns<'a>(
        &'a self,
        topic_arn: &'a str,
        subject: &'a str,
        message: &'a str,
    ) -> BoxFuture<'a, Result<(), String>>;
    /// Invokes a Lambda function asynchronously with a JSON payload.
    fn lambda<'a>(
        &'a self,
        function_arn: &'a str,
        payload: &'a str,
    ) -> BoxFuture<'a, Result<(), String>>;
}

/// `2021-02-14T04:00Z[UTC]`, the old payload's timestamp.
fn payload_time(iso: &str) -> String {
    let minute = iso.get(..16).unwrap_or(iso);
    format!("{minute}Z[UTC]")
}

/// Whether an alert sends a group: score at or above the threshold, measure and dimension
/// values within its filters (a group passes a dimension filter when one of its series does).
pub fn passes(alert: &Value, group: &GroupReport) -> bool {
    let threshold = alert["AlertSensitivityThreshold"].as_f64().unwrap_or(0.0);
    if group.anomaly_group.anomaly_group_score < threshold {
        return false;
    }
    let filters = &alert["AlertFilters"];
    if let Some(metrics) = filters["MetricList"].as_array()
        && !metrics.is_empty()
        && !metrics
            .iter()
            .any(|m| m.as_str() == Some(&group.anomaly_group.primary_metric_name))
    {
        return false;
    }
    let Some(dims) = filters["DimensionFilterList"].as_array() else {
        return true;
    };
    group.time_series.iter().any(|s| {
        dims.iter().all(|f| {
            let name = f["DimensionName"].as_str().unwrap_or_default();
            let allowed = f["DimensionValueList"].as_array();
            s.dimensions.iter().any(|d| {
                d.dimension_name == name
                    && allowed
                        .is_none_or(|l| l.iter().any(|v| v.as_str() == Some(&d.dimension_value)))
            })
        })
    })
}

/// The console page of a group.
pub fn console_link(console_url: &str, group: &GroupReport, detector_arn: &str) -> String {
    let base = if console_url.is_empty() {
        "http://127.0.0.1:8080/console"
    } else {
        console_url.trim_end_matches('/')
    };
    format!(
        "{base}/#/detectors/{}/anomalies/{}",
        detector_arn.replace(':', "%3A").replace('/', "%2F"),
        group.anomaly_group.anomaly_group_id
    )
}

/// The old service's JSON payload (SNS JSON format and Lambda event), with Seismo's
/// `anomalyGroupId`, `consoleUrl` and `rootCauses` added.
pub fn payload(alert: &Value, group: &GroupReport, console_url: &str) -> Value {
    let ag = &group.anomaly_group;
    let contribution: Vec<Value> = ag
        .metric_level_impact_list
        .iter()
        .flat_map(|m| &m.contribution_matrix.dimension_contribution_list)
        .map(|d| {
            json!({
                "dimensionName": d.dimension_name,
                "dimensionValueContributions": d.dimension_value_contribution_list.iter().map(|v| json!({
                    "dimensionValue": v.dimension_value,
                    "valueContribution": v.contribution_score,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let series: Vec<Value> = group
        .time_series
        .iter()
        .map(|s| {
            json!({
                "timeSeriesId": s.time_series_id,
                "dimensions": s.dimensions.iter().map(|d| json!({
                    "dimensionName": d.dimension_name,
                    "dimensionValue": d.dimension_value,
                })).collect::<Vec<_>>(),
                "metricValue": s.points.last().map(|p| p.value),
                "expectedValue": s.points.last().map(|p| p.expected),
            })
        })
        .collect();
    let detector = alert["AnomalyDetectorArn"].as_str().unwrap_or_default();
    let alert_arn = alert["AlertArn"].as_str().unwrap_or_default();
    json!({
        "alertName": alert["AlertName"],
        "alertEventId": format!("{alert_arn}:event/{}", ag.anomaly_group_id),
        "anomalyDetectorArn": detector,
        "alertArn": alert_arn,
        "alertDescription": alert.get("AlertDescription").cloned().unwrap_or(json!("")),
        "impactedMetric": {
            "metricName": ag.primary_metric_name,
            "dimensionContribution": contribution,
            "relevantTimeSeries": series,
        },
        "timestamp": payload_time(&ag.start_time),
        "anomalyScore": ag.anomaly_group_score,
        "anomalyGroupId": ag.anomaly_group_id,
        "consoleUrl": console_link(console_url, group, detector),
        "rootCauses": group.root_causes,
    })
}

/// The readable e-mail body (LONG_TEXT).
pub fn long_text(alert: &Value, group: &GroupReport, console_url: &str) -> String {
    let ag = &group.anomaly_group;
    let detector = alert["AnomalyDetectorArn"].as_str().unwrap_or_default();
    let mut out = format!(
        "Seismo found an anomaly in {} (score {:.0}/100, {}) at {}.\n\nAlert: {}\nDetector: {}\n",
        ag.primary_metric_name,
        ag.anomaly_group_score,
        group.direction,
        ag.start_time,
        alert["AlertName"].as_str().unwrap_or_default(),
        detector,
    );
    if !group.root_causes.is_empty() {
        out.push_str(&format!("Root cause: {}\n", group.root_causes.join(" ; ")));
    }
    out.push_str("\nWhat drove it:\n");
    for m in &ag.metric_level_impact_list {
        for d in &m.contribution_matrix.dimension_contribution_list {
            if let Some(top) = d.dimension_value_contribution_list.first() {
                out.push_str(&format!(
                    "  {} = {} ({:.0}%)\n",
                    d.dimension_name, top.dimension_value, top.contribution_score
                ));
            }
        }
    }
    out.push_str("\nSeries:\n");
    for s in group.time_series.iter().take(10) {
        let dims: Vec<String> = s
            .dimensions
            .iter()
            .map(|d| format!("{}={}", d.dimension_name, d.dimension_value))
            .collect();
        if let Some(p) = s.points.last() {
            out.push_str(&format!(
                "  {}: {} (expected {:.2}, band {:.2} to {:.2})\n",
                dims.join(", "),
                p.value,
                p.expected,
                p.lower,
                p.upper
            ));
        }
    }
    out.push_str(&format!(
        "\nAnomaly group {}\n{}\n",
        ag.anomaly_group_id,
        console_link(console_url, group, detector)
    ));
    out
}

/// The SMS-sized text (SHORT_TEXT), at most 140 characters.
pub fn short_text(group: &GroupReport) -> String {
    let ag = &group.anomaly_group;
    let cause = group
        .root_causes
        .first()
        .map(|c| format!(" by {c}"))
        .unwrap_or_default();
    let text = format!(
        "Seismo: {} {} {:.0}/100{} at {}",
        ag.primary_metric_name,
        group.direction,
        ag.anomaly_group_score,
        cause,
        ag.start_time.get(..16).unwrap_or(&ag.start_time)
    );
    text.chars().take(140).collect()
}

/// What notify did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notified {
    /// Messages sent now.
    pub sent: usize,
    /// Sends skipped because they were sent before (a replay).
    pub already_sent: usize,
    /// Sends that failed (retried by the caller).
    pub failed: Vec<String>,
}

/// Sends the interval's groups to every ACTIVE alert of the detector whose threshold and
/// filters they pass, each (alert, group) once: the send is claimed before it is tried (a run
/// at once with this one sends nothing), recorded after it succeeds, and the claim is given up
/// when it fails.
pub async fn notify<S: Store>(
    store: &S,
    publisher: &dyn Publisher,
    task: &NotifyTask,
    console_url: &str,
) -> Result<Notified, PipelineError> {
    let arn = &task.anomaly_detector_arn;
    let alerts: Vec<Value> = store
        .list(Kind::Alert, "")
        .await?
        .into_iter()
        .map(|(_, a)| a)
        .filter(|a| a["AnomalyDetectorArn"].as_str() == Some(arn) && a["AlertStatus"] == "ACTIVE")
        .collect();
    let mut out = Notified::default();
    for id in &task.anomaly_group_ids {
        let Some(doc) = store.get(Kind::Group, &format!("{arn}/{id}")).await? else {
            continue;
        };
        let group: GroupReport =
            serde_json::from_value(doc).map_err(|e| PipelineError::Config(e.to_string()))?;
        for alert in alerts.iter().filter(|a| passes(a, &group)) {
            let name = alert["AlertName"].as_str().unwrap_or_default();
            let sent_key = format!("{arn}/sent/{name}/{id}");
            if !claim_send(store, &sent_key, alert, id).await? {
                out.already_sent += 1;
                continue;
            }
            let action = &alert["Action"];
            let result = if let Some(sns) = action.get("SNSConfiguration") {
                let topic = sns["SnsTopicArn"].as_str().unwrap_or_default();
                let message = match sns["SnsFormat"].as_str().unwrap_or("JSON") {
                    "LONG_TEXT" => long_text(alert, &group, console_url),
                    "SHORT_TEXT" => short_text(&group),
                    _ => payload(alert, &group, console_url).to_string(),
                };
                let subject = format!(
                    "Seismo anomaly: {}",
                    group.anomaly_group.primary_metric_name
                );
                publisher.sns(topic, &subject, &message).await
            } else if let Some(lambda) = action.get("LambdaConfiguration") {
                let function = lambda["LambdaArn"].as_str().unwrap_or_default();
                publisher
                    .lambda(function, &payload(alert, &group, console_url).to_string())
                    .await
            } else {
                Err("the alert has no action".to_string())
            };
            match result {
                Ok(()) => {
                    let record = serde_json::json!({ "alert": alert["AlertArn"], "group": id });
                    store.put(Kind::Pipeline, &sent_key, record).await?;
                    out.sent += 1;
                }
                Err(e) => {
                    // Not sent: the claim goes, so the retry sends.
                    store.delete(Kind::Pipeline, &sent_key).await?;
                    out.failed.push(format!("{name}: {e}"));
                }
            }
        }
    }
    Ok(out)
}

/// How long a claim to send an alert holds before another run may take it over (a run that
/// crashed between claiming and recording the send).
const SEND_LEASE: f64 = 300.0;

/// Claims the send of (alert, group) before it is tried, so two runs at once (duplicate notify
/// tasks) send it once: true when this run is to send it. A record without a `sending` claim is
/// a send done.
async fn claim_send<S: Store>(
    store: &S,
    sent_key: &str,
    alert: &Value,
    group_id: &str,
) -> Result<bool, StoreError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let claim =
        serde_json::json!({ "alert": alert["AlertArn"], "group": group_id, "sending": now });
    match store.create(Kind::Pipeline, sent_key, claim.clone()).await {
        Ok(()) => return Ok(true),
        Err(StoreError::Exists) => {}
        Err(e) => return Err(e),
    }
    let Some(current) = store.get(Kind::Pipeline, sent_key).await? else {
        return Ok(false);
    };
    match current["sending"].as_f64() {
        Some(at) if now - at > SEND_LEASE => {
            match store
                .replace(Kind::Pipeline, sent_key, Some(&current), claim)
                .await
            {
                Ok(()) => Ok(true),
                Err(StoreError::Changed) => Ok(false),
                Err(e) => Err(e),
            }
        }
        _ => Ok(false),
    }
}

/// Sends nothing anywhere; keeps what it was given (for `seismo serve` and tests).
#[derive(Debug, Default)]
pub struct Outbox {
    sent: std::sync::Mutex<Vec<(String, String)>>,
}

impl Outbox {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every (target, message) sent so far.
    pub fn messages(&self) -> Vec<(String, String)> {
        self.sent.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

impl Publisher for Outbox {
    fn sns<'a>(
        &'a self,
        topic_arn: &'a str,
        _subject: &'a str,
        message: &'a str,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.sent
                .lock()
                .map_err(|_| "outbox poisoned".to_string())?
                .push((topic_arn.to_string(), message.to_string()));
            Ok(())
        })
    }

    fn lambda<'a>(
        &'a self,
        function_arn: &'a str,
        payload: &'a str,
    ) -> BoxFuture<'a, Result<(), String>> {
        self.sns(function_arn, "", payload)
    }
}
