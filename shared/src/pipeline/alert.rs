//! Alerts: which anomaly groups an alert sends (sensitivity threshold and filters), the old
//! service's payloads (JSON for SNS and Lambda, LONG_TEXT, SHORT_TEXT) plus `anomalyGroupId`
//! and a console link, and the notify stage, which sends each group to each alert once.

use serde::Serialize;
use serde_json::{Value, json};

use crate::group::GroupReport;
use crate::model::{AlertDoc, AlertStatus, AlertTarget, Document};
use crate::ports::BoxFuture;
pub use crate::ports::Publisher;
use crate::store::{Kind, Store, StoreError, keys};

use super::{NotifyTask, PipelineError};

/// `2021-02-14T04:00Z[UTC]`, the old payload's timestamp.
fn payload_time(iso: &str) -> String {
    let minute = iso.get(..16).unwrap_or(iso);
    format!("{minute}Z[UTC]")
}

/// Whether an alert sends a group: score at or above the threshold, measure and dimension
/// values within its filters (a group passes a dimension filter when one of its series does).
pub fn passes(alert: &AlertDoc, group: &GroupReport) -> bool {
    if group.anomaly_group.anomaly_group_score < alert.threshold() {
        return false;
    }
    let filters = alert.filters();
    if let Some(metrics) = &filters.metric_list
        && !metrics.is_empty()
        && !metrics.contains(&group.anomaly_group.primary_metric_name.as_str())
    {
        return false;
    }
    let Some(dims) = &filters.dimension_filter_list else {
        return true;
    };
    group.time_series.iter().any(|s| {
        dims.iter().all(|f| {
            s.dimensions.iter().any(|d| {
                d.dimension_name == f.dimension_name
                    && f.dimension_value_list
                        .as_ref()
                        .is_none_or(|l| l.contains(&d.dimension_value.as_str()))
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
/// `anomalyGroupId`, `consoleUrl` and `rootCauses` added. Sent as the JSON text of this value
/// (its members in name order, as every JSON value Seismo writes).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertPayload<'a> {
    /// The alert's name (null when it has none).
    pub alert_name: Option<&'a str>,
    /// `ALERT_ARN:event/GROUP_ID`.
    pub alert_event_id: String,
    /// The detector.
    pub anomaly_detector_arn: &'a str,
    /// The alert.
    pub alert_arn: &'a str,
    /// The alert's description ("" when it has none).
    pub alert_description: &'a str,
    /// The measure and what drove its anomaly.
    pub impacted_metric: ImpactedMetric<'a>,
    /// `2021-02-14T04:00Z[UTC]`.
    pub timestamp: String,
    /// 0-100.
    pub anomaly_score: f64,
    /// The group.
    pub anomaly_group_id: &'a str,
    /// The group's console page.
    pub console_url: String,
    /// Its likely root causes.
    pub root_causes: &'a [String],
}

/// The payload's `impactedMetric`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImpactedMetric<'a> {
    /// The measure.
    pub metric_name: &'a str,
    /// Each dimension's value shares.
    pub dimension_contribution: Vec<PayloadDimensionContribution<'a>>,
    /// The group's series.
    pub relevant_time_series: Vec<PayloadTimeSeries<'a>>,
}

/// One dimension's value shares in a payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PayloadDimensionContribution<'a> {
    /// The dimension.
    pub dimension_name: &'a str,
    /// Its values' shares.
    pub dimension_value_contributions: Vec<PayloadValueContribution<'a>>,
}

/// One dimension value's share in a payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PayloadValueContribution<'a> {
    /// The value.
    pub dimension_value: &'a str,
    /// Its share, 0-100.
    pub value_contribution: f64,
}

/// One series of a payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PayloadTimeSeries<'a> {
    /// The series.
    pub time_series_id: &'a str,
    /// Its dimension values.
    pub dimensions: Vec<PayloadDimension<'a>>,
    /// Its last value (null when it has no point).
    pub metric_value: Option<f64>,
    /// The value expected then.
    pub expected_value: Option<f64>,
}

/// A dimension name and value in a payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PayloadDimension<'a> {
    /// The dimension.
    pub dimension_name: &'a str,
    /// The value.
    pub dimension_value: &'a str,
}

impl<'a> AlertPayload<'a> {
    /// The payload of `group` for `alert`, linking to `console_url`.
    pub fn new(alert: &'a AlertDoc, group: &'a GroupReport, console_url: &str) -> Self {
        let ag = &group.anomaly_group;
        let dimension_contribution = ag
            .metric_level_impact_list
            .iter()
            .flat_map(|m| &m.contribution_matrix.dimension_contribution_list)
            .map(|d| PayloadDimensionContribution {
                dimension_name: &d.dimension_name,
                dimension_value_contributions: d
                    .dimension_value_contribution_list
                    .iter()
                    .map(|v| PayloadValueContribution {
                        dimension_value: &v.dimension_value,
                        value_contribution: v.contribution_score,
                    })
                    .collect(),
            })
            .collect();
        let relevant_time_series = group
            .time_series
            .iter()
            .map(|s| PayloadTimeSeries {
                time_series_id: &s.time_series_id,
                dimensions: s
                    .dimensions
                    .iter()
                    .map(|d| PayloadDimension {
                        dimension_name: &d.dimension_name,
                        dimension_value: &d.dimension_value,
                    })
                    .collect(),
                metric_value: s.points.last().map(|p| p.value),
                expected_value: s.points.last().map(|p| p.expected),
            })
            .collect();
        let detector = alert.detector_arn();
        AlertPayload {
            alert_name: alert.alert_name.as_deref(),
            alert_event_id: format!("{}:event/{}", alert.arn(), ag.anomaly_group_id),
            anomaly_detector_arn: detector,
            alert_arn: alert.arn(),
            alert_description: alert.alert_description.as_deref().unwrap_or_default(),
            impacted_metric: ImpactedMetric {
                metric_name: &ag.primary_metric_name,
                dimension_contribution,
                relevant_time_series,
            },
            timestamp: payload_time(&ag.start_time),
            anomaly_score: ag.anomaly_group_score,
            anomaly_group_id: &ag.anomaly_group_id,
            console_url: console_link(console_url, group, detector),
            root_causes: &group.root_causes,
        }
    }
}

/// The JSON payload (see [`AlertPayload`]) as a value.
pub fn payload(alert: &AlertDoc, group: &GroupReport, console_url: &str) -> Value {
    serde_json::to_value(AlertPayload::new(alert, group, console_url)).unwrap_or(Value::Null)
}

/// The readable e-mail body (LONG_TEXT).
pub fn long_text(alert: &AlertDoc, group: &GroupReport, console_url: &str) -> String {
    let ag = &group.anomaly_group;
    let detector = alert.detector_arn();
    let mut out = format!(
        "Seismo found an anomaly in {} (score {:.0}/100, {}) at {}.\n\nAlert: {}\nDetector: {}\n",
        ag.primary_metric_name,
        ag.anomaly_group_score,
        group.direction,
        ag.start_time,
        alert.name(),
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
    // An alert that does not read as one (a status the API does not know) is not ACTIVE.
    let alerts: Vec<AlertDoc> = store
        .list(Kind::Alert, "")
        .await?
        .into_iter()
        .filter_map(|(_, a)| AlertDoc::from_value(a).ok())
        .filter(|a| a.detector_arn() == arn && a.alert_status == Some(AlertStatus::Active))
        .collect();
    let mut out = Notified::default();
    for id in &task.anomaly_group_ids {
        let Some(doc) = store.get(Kind::Group, &keys::group(arn, id)).await? else {
            continue;
        };
        let group: GroupReport =
            serde_json::from_value(doc).map_err(|e| PipelineError::Config(e.to_string()))?;
        for alert in alerts.iter().filter(|a| passes(a, &group)) {
            let name = alert.name();
            let sent_key = keys::sent(arn, name, id);
            match claim_send(store, &sent_key, alert, id).await? {
                Claim::Ours => {}
                Claim::Sent => {
                    out.already_sent += 1;
                    continue;
                }
                // Another run is sending it, or died (or failed on storage) mid-way: not done,
                // so the task is retried and takes the claim over once its lease is out.
                Claim::Held => {
                    out.failed
                        .push(format!("{name}: being sent by another run"));
                    continue;
                }
            }
            let result = match alert.target() {
                Some(AlertTarget::Sns { topic_arn, format }) => {
                    let message = match format {
                        "LONG_TEXT" => long_text(alert, &group, console_url),
                        "SHORT_TEXT" => short_text(&group),
                        _ => payload(alert, &group, console_url).to_string(),
                    };
                    let subject = format!(
                        "Seismo anomaly: {}",
                        group.anomaly_group.primary_metric_name
                    );
                    publisher.sns(topic_arn, &subject, &message).await
                }
                Some(AlertTarget::Lambda { function_arn }) => {
                    publisher
                        .lambda(
                            function_arn,
                            &payload(alert, &group, console_url).to_string(),
                        )
                        .await
                }
                None => Err("the alert has no action".to_string()),
            };
            match result {
                Ok(()) => {
                    let record = json!({ "alert": alert.alert_arn, "group": id });
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
/// crashed, or failed on storage, between claiming and recording the send): longer than the
/// notify function runs (30 s), shorter than the notify queue's visibility timeout (180 s), so
/// the first redelivery of a task whose run died takes the claim over. (A run that sent and
/// then could not record it is taken over too: that alert goes out twice, never not at all.)
const SEND_LEASE: f64 = 60.0;

/// Who is to send (alert, group).
enum Claim {
    /// This run.
    Ours,
    /// Nobody: it was sent.
    Sent,
    /// Another run claimed it less than [`SEND_LEASE`] ago.
    Held,
}

/// Claims the send of (alert, group) before it is tried, so two runs at once (duplicate notify
/// tasks) send it once. A record without a `sending` claim is a send done.
async fn claim_send<S: Store>(
    store: &S,
    sent_key: &str,
    alert: &AlertDoc,
    group_id: &str,
) -> Result<Claim, StoreError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let claim = json!({ "alert": alert.alert_arn, "group": group_id, "sending": now });
    match store.create(Kind::Pipeline, sent_key, claim.clone()).await {
        Ok(()) => return Ok(Claim::Ours),
        Err(StoreError::Exists) => {}
        Err(e) => return Err(e),
    }
    let Some(current) = store.get(Kind::Pipeline, sent_key).await? else {
        // Given back since: not sent.
        return Ok(Claim::Held);
    };
    match current["sending"].as_f64() {
        None => Ok(Claim::Sent),
        Some(at) if now - at > SEND_LEASE => {
            match store
                .replace(Kind::Pipeline, sent_key, Some(&current), claim)
                .await
            {
                Ok(()) => Ok(Claim::Ours),
                Err(StoreError::Changed) => Ok(Claim::Held),
                Err(e) => Err(e),
            }
        }
        Some(_) => Ok(Claim::Held),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Direction, Scored};
    use crate::group::{Grouper, Observation};
    use crate::store::MemoryStore;

    const DETECTOR: &str = "arn:aws:lookoutmetrics:us-east-1:000000000000:AnomalyDetector:shop";
    const ALERT: &str = "arn:aws:lookoutmetrics:us-east-1:000000000000:Alert:page";
    /// 2026-08-03T04:00:00Z.
    const HOUR: i64 = 1_785_729_600;

    fn scored(value: f64, expected: f64, severity: f64) -> Scored {
        Scored {
            value,
            expected,
            lower: expected - 10.0,
            upper: expected + 10.0,
            z: (value - expected) / 2.0,
            sigma: 2.0,
            severity,
            direction: if value >= expected {
                Direction::Spike
            } else {
                Direction::Drop
            },
            learning: false,
            anomalous: severity >= 50.0,
        }
    }

    /// The revenue group of one hour, scored 80: EU web drops from 100 to 40 (severity 90),
    /// US app from 100 to 70 (severity 70); EU app and US web are as expected.
    fn group() -> GroupReport {
        let series: Vec<Vec<String>> = [["EU", "web"], ["EU", "app"], ["US", "web"], ["US", "app"]]
            .iter()
            .map(|d| d.iter().map(|s| s.to_string()).collect())
            .collect();
        let mut grouper = Grouper::new(
            DETECTOR,
            vec!["region".into(), "channel".into()],
            vec!["revenue".into()],
        );
        let observations = series.iter().map(|d| Observation {
            measure: 0,
            dimensions: d,
            scored: match (d[0].as_str(), d[1].as_str()) {
                ("EU", "web") => scored(40.0, 100.0, 90.0),
                ("US", "app") => scored(70.0, 100.0, 70.0),
                _ => scored(100.0, 100.0, 0.0),
            },
        });
        grouper.push_interval(HOUR, observations.collect::<Vec<_>>());
        let mut groups = grouper.finish();
        assert_eq!(groups.len(), 1);
        let mut group = groups.remove(0);
        // A round score, for the thresholds (the grouper's own is tested in `group`).
        group.anomaly_group.anomaly_group_score = 80.0;
        group
    }

    /// An alert document as the pipeline reads it.
    fn doc(alert: &Value) -> AlertDoc {
        AlertDoc::from_value(alert.clone()).unwrap()
    }

    fn alert(threshold: f64, filters: Value) -> Value {
        json!({
            "AlertArn": ALERT, "AlertName": "page", "AnomalyDetectorArn": DETECTOR,
            "AlertStatus": "ACTIVE", "AlertSensitivityThreshold": threshold,
            "AlertFilters": filters,
        })
    }

    /// The path of the group's page in the console, after the console's address.
    const PAGE: &str = "/#/detectors/arn%3Aaws%3Alookoutmetrics%3Aus-east-1%3A000000000000%3AAnomalyDetector%3Ashop/anomalies/";
    /// The console of `seismo serve`, where links go when none is configured.
    const CONSOLE: &str = "http://127.0.0.1:8080/console";

    #[test]
    fn the_json_payload_has_the_old_shape_plus_the_group_id_link_and_root_causes() {
        let g = group();
        let id = g.anomaly_group.anomaly_group_id.clone();
        let mut a = alert(50.0, json!({}));
        assert_eq!(
            payload(&doc(&a), &g, "")["alertDescription"],
            "",
            "none given"
        );
        a["AlertDescription"] = json!("revenue pages");
        let series = |id: &str, region: &str, channel: &str, value: f64| {
            json!({
                "timeSeriesId": id,
                "dimensions": [
                    {"dimensionName": "region", "dimensionValue": region},
                    {"dimensionName": "channel", "dimensionValue": channel},
                ],
                "metricValue": value,
                "expectedValue": 100.0,
            })
        };
        let contribution = |name: &str, top: &str, other: &str| {
            json!({"dimensionName": name, "dimensionValueContributions": [
                {"dimensionValue": top, "valueContribution": 66.67},
                {"dimensionValue": other, "valueContribution": 33.33},
            ]})
        };
        let want = json!({
            "alertName": "page",
            "alertEventId": format!("{ALERT}:event/{id}"),
            "anomalyDetectorArn": DETECTOR,
            "alertArn": ALERT,
            "alertDescription": "revenue pages",
            "impactedMetric": {
                "metricName": "revenue",
                // EU web moved 60 and US app 30 of the 90.
                "dimensionContribution": [
                    contribution("region", "EU", "US"),
                    contribution("channel", "web", "app"),
                ],
                "relevantTimeSeries": [
                    series(&g.time_series[0].time_series_id, "EU", "web", 40.0),
                    series(&g.time_series[1].time_series_id, "US", "app", 70.0),
                ],
            },
            "timestamp": "2026-08-03T04:00Z[UTC]",
            "anomalyScore": 80.0,
            "anomalyGroupId": id,
            "consoleUrl": format!("{CONSOLE}{PAGE}{id}"),
            "rootCauses": ["region=EU&channel=web", "region=US&channel=app"],
        });
        assert_eq!(payload(&doc(&a), &g, ""), want);
        // Another console, its trailing slash dropped.
        let link = payload(&doc(&a), &g, "https://console.example/")["consoleUrl"].clone();
        assert_eq!(link, format!("https://console.example{PAGE}{id}"));
    }

    #[test]
    fn the_long_text_reads_as_an_email() {
        let g = group();
        let id = &g.anomaly_group.anomaly_group_id;
        let text = long_text(&doc(&alert(50.0, json!({}))), &g, "");
        let want = format!(
            "Seismo found an anomaly in revenue (score 80/100, drop) at 2026-08-03T04:00:00Z.

Alert: page
Detector: {DETECTOR}
Root cause: region=EU&channel=web ; region=US&channel=app

What drove it:
  region = EU (67%)
  channel = web (67%)

Series:
  region=EU, channel=web: 40 (expected 100.00, band 90.00 to 110.00)
  region=US, channel=app: 70 (expected 100.00, band 90.00 to 110.00)

Anomaly group {id}
{CONSOLE}{PAGE}{id}
"
        );
        assert_eq!(text, want);
    }

    #[test]
    fn the_short_text_fits_a_text_message() {
        let mut g = group();
        assert_eq!(
            short_text(&g),
            "Seismo: revenue drop 80/100 by region=EU&channel=web at 2026-08-03T04:00"
        );
        g.root_causes = vec![];
        assert_eq!(
            short_text(&g),
            "Seismo: revenue drop 80/100 at 2026-08-03T04:00"
        );
        g.root_causes = vec![format!("region={}", "é".repeat(200))];
        let text = short_text(&g);
        assert_eq!(text.chars().count(), 140, "{text}");
        assert!(text.starts_with("Seismo: revenue drop 80/100 by region=éé"));
    }

    #[test]
    fn an_alert_sends_a_group_at_its_threshold_within_its_filters() {
        let g = group();
        let dims = |filters: &[(&str, &[&str])]| {
            let list: Vec<Value> = filters
                .iter()
                .map(|(name, values)| json!({"DimensionName": name, "DimensionValueList": values}))
                .collect();
            json!({ "DimensionFilterList": list })
        };
        let cases: [(&str, Value, bool); 17] = [
            ("threshold below the score", alert(79.0, json!({})), true),
            ("threshold at the score", alert(80.0, json!({})), true),
            ("threshold above the score", alert(80.5, json!({})), false),
            ("no threshold", json!({"AlertName": "page"}), true),
            ("no filters", alert(0.0, json!(null)), true),
            (
                "the measure listed",
                alert(0.0, json!({"MetricList": ["orders", "revenue"]})),
                true,
            ),
            (
                "another measure listed",
                alert(0.0, json!({"MetricList": ["orders"]})),
                false,
            ),
            (
                "an empty measure list",
                alert(0.0, json!({"MetricList": []})),
                true,
            ),
            (
                "a series' value",
                alert(0.0, dims(&[("region", &["APAC", "EU"])])),
                true,
            ),
            (
                "no series' value",
                alert(0.0, dims(&[("region", &["APAC"])])),
                false,
            ),
            (
                "values of one series",
                alert(0.0, dims(&[("region", &["US"]), ("channel", &["app"])])),
                true,
            ),
            (
                "values of two series, neither has both",
                alert(0.0, dims(&[("region", &["EU"]), ("channel", &["app"])])),
                false,
            ),
            (
                "a dimension the group has not",
                alert(0.0, dims(&[("plan", &["pro"])])),
                false,
            ),
            ("an empty filter list", alert(0.0, dims(&[])), true),
            (
                "measure and dimension both pass",
                alert(
                    0.0,
                    json!({"MetricList": ["revenue"],
                    "DimensionFilterList": [{"DimensionName": "channel", "DimensionValueList": ["web"]}]}),
                ),
                true,
            ),
            (
                "the dimension passes, the measure not",
                alert(
                    0.0,
                    json!({"MetricList": ["orders"],
                    "DimensionFilterList": [{"DimensionName": "channel", "DimensionValueList": ["web"]}]}),
                ),
                false,
            ),
            (
                "the measure passes, the threshold not",
                alert(90.0, json!({"MetricList": ["revenue"]})),
                false,
            ),
        ];
        for (name, alert, want) in cases {
            assert_eq!(passes(&doc(&alert), &g), want, "{name}: {alert}");
        }
    }

    #[tokio::test]
    async fn notify_formats_each_action_and_sends_only_what_passes() {
        let store = MemoryStore::new();
        let g = group();
        let id = g.anomaly_group.anomaly_group_id.clone();
        let put = |key: String, doc: Value| {
            let store = &store;
            async move { store.put(Kind::Alert, &key, doc).await.unwrap() }
        };
        let sns = |name: &str, format: &str, filters: Value| {
            let mut a = alert(50.0, filters);
            a["AlertName"] = json!(name);
            a["AlertArn"] = json!(format!("{ALERT}-{name}"));
            let topic = format!("arn:aws:sns:us-east-1:000000000000:{name}");
            a["Action"] = json!({"SNSConfiguration": {"SnsTopicArn": topic, "SnsFormat": format}});
            a
        };
        let eu = json!({"DimensionFilterList": [{"DimensionName": "region", "DimensionValueList": ["EU"]}]});
        let apac = json!({"DimensionFilterList": [{"DimensionName": "region", "DimensionValueList": ["APAC"]}]});
        let email = sns("email", "LONG_TEXT", eu.clone());
        let sms = sns("sms", "SHORT_TEXT", json!({"MetricList": ["orders"]}));
        let json_apac = sns("apac", "JSON", apac);
        let mut paused = sns("paused", "JSON", json!({}));
        paused["AlertStatus"] = json!("INACTIVE");
        let mut elsewhere = sns("elsewhere", "JSON", json!({}));
        elsewhere["AnomalyDetectorArn"] = json!(format!("{DETECTOR}-2"));
        let function = "arn:aws:lambda:us-east-1:000000000000:function:on-anomaly";
        let mut lambda = alert(50.0, eu);
        lambda["AlertName"] = json!("fn");
        lambda["AlertArn"] = json!(format!("{ALERT}-fn"));
        lambda["Action"] = json!({"LambdaConfiguration": {"LambdaArn": function}});
        for a in [&email, &sms, &json_apac, &paused, &elsewhere, &lambda] {
            put(a["AlertArn"].as_str().unwrap().to_string(), a.clone()).await;
        }
        let report = serde_json::to_value(&g).unwrap();
        store
            .put(Kind::Group, &keys::group(DETECTOR, &id), report)
            .await
            .unwrap();
        let task = NotifyTask {
            anomaly_detector_arn: DETECTOR.into(),
            interval: HOUR,
            anomaly_group_ids: vec![id.clone(), "a-group-since-deleted".into()],
        };
        let outbox = Outbox::new();
        let done = notify(&store, &outbox, &task, "").await.unwrap();
        assert_eq!((done.sent, done.already_sent), (2, 0), "{done:?}");
        assert!(done.failed.is_empty(), "{done:?}");
        let mut sent = outbox.messages();
        sent.sort();
        let mut want = vec![
            (
                "arn:aws:sns:us-east-1:000000000000:email".to_string(),
                long_text(&doc(&email), &g, ""),
            ),
            (
                function.to_string(),
                payload(&doc(&lambda), &g, "").to_string(),
            ),
        ];
        want.sort();
        assert_eq!(sent, want);
        let event: Value = serde_json::from_str(&sent[0].1).unwrap();
        assert_eq!(
            event["alertName"], "fn",
            "the Lambda event is the JSON payload"
        );
        // Again (a retry): nothing is sent twice.
        let again = notify(&store, &outbox, &task, "").await.unwrap();
        assert_eq!((again.sent, again.already_sent), (0, 2), "{again:?}");
        assert_eq!(outbox.messages().len(), 2);
    }
}
