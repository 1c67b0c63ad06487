//! Feedback reaches the engine through the API and the pipeline: "not an anomaly", given with
//! PutFeedback on the series of a group that alerted, lowers the score of the same deviation an
//! interval later so that it no longer alerts, against a twin detector on the same data that
//! got no feedback and alerts again.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_lookoutmetrics as lm;
use lm::types::{
    Action, AlertFilters, AnomalyGroupTimeSeriesFeedback, SnsConfiguration, SnsFormat,
};
use seismo_api::{Api, MemoryStore};
use seismo_lab::generate::{self, GenerateOptions};
use seismo_shared::group::GroupReport;
use seismo_shared::model::timestamp_string;
use seismo_shared::objects::LocalObjects;
use seismo_shared::pipeline::{self, alert::Outbox, local};
use seismo_shared::store::{Kind, Store};
use serde_json::Value;

/// The alert every detector here has: the JSON payload of its orders groups scored 50 or
/// more, to the topic named for the detector.
async fn page_on_orders(client: &lm::Client, detector: &str, name: &str) {
    let action = Action::builder()
        .sns_configuration(
            SnsConfiguration::builder()
                .role_arn("arn:aws:iam::000000000000:role/seismo-alerts")
                .sns_topic_arn(topic(name))
                .sns_format(SnsFormat::Json)
                .build()
                .unwrap(),
        )
        .build();
    client
        .create_alert()
        .alert_name(format!("{name}-orders"))
        .alert_sensitivity_threshold(50)
        .anomaly_detector_arn(detector)
        .action(action)
        .alert_filters(AlertFilters::builder().metric_list("orders").build())
        .send()
        .await
        .unwrap();
}

fn topic(name: &str) -> String {
    format!("arn:aws:sns:us-east-1:000000000000:{name}-pages")
}

/// The orders group of `detector` that starts at `interval`, as stored.
async fn orders_group(store: &MemoryStore, detector: &str, interval: i64) -> Option<GroupReport> {
    store
        .list(Kind::Group, &format!("{detector}/"))
        .await
        .unwrap()
        .into_iter()
        .map(|(_, g)| serde_json::from_value::<GroupReport>(g).unwrap())
        .find(|g| g.start == interval && g.anomaly_group.primary_metric_name == "orders")
}

/// The orders groups of the alert payloads sent to the topic of `name` for `interval`.
fn paged(outbox: &Outbox, name: &str, interval: i64) -> Vec<String> {
    let minute = &timestamp_string(interval)[..16];
    outbox
        .messages()
        .into_iter()
        .filter(|(to, _)| *to == topic(name))
        .map(|(_, message)| serde_json::from_str::<Value>(&message).unwrap())
        .filter(|p| {
            p["impactedMetric"]["metricName"] == "orders"
                && p["timestamp"] == format!("{minute}Z[UTC]").as_str()
        })
        .map(|p| p["anomalyGroupId"].as_str().unwrap().to_string())
        .collect()
}

/// Each series' severity at the group's first point.
fn severity(g: Option<&GroupReport>) -> BTreeMap<String, f64> {
    g.map(|g| {
        g.time_series
            .iter()
            .map(|s| (s.time_series_id.clone(), s.points[0].severity))
            .collect()
    })
    .unwrap_or_default()
}

#[tokio::test]
async fn not_an_anomaly_given_through_the_api_stops_the_same_deviation_alerting() {
    let dir = tempfile::tempdir().unwrap();
    let generated = generate::generate(dir.path(), &GenerateOptions::default()).unwrap();
    let incident = &generated.incidents[0];
    assert_eq!(incident.description, "EU mobile checkout outage");
    generate::cut_history(dir.path(), incident.start).unwrap();

    let api = Arc::new(Api::new(MemoryStore::new(), dir.path()));
    let client = common::client(api.clone()).await;
    let store = &api.store;
    let objects = LocalObjects::new(dir.path());
    let outbox = Outbox::new();
    let mut detectors = Vec::new();
    for name in ["shop", "twin"] {
        let arn = common::detector(store, name, "INACTIVE", |_| {}).await;
        page_on_orders(&client, &arn, name).await;
        pipeline::activate(store, &objects, &arn).await.unwrap();
        detectors.push(arn);
    }
    let (shop, twin) = (&detectors[0], &detectors[1]);

    // The outage's first hour: both detectors group it and alert.
    let (first, second) = (incident.start, incident.start + 3600);
    for arn in [shop, twin] {
        local::run_interval(store, &objects, &outbox, "", arn, first)
            .await
            .unwrap();
    }
    let marked = orders_group(store, shop, first)
        .await
        .expect("the outage is a group");
    let id = &marked.anomaly_group.anomaly_group_id;
    assert_eq!(paged(&outbox, "shop", first), [id.as_str()]);
    assert_eq!(paged(&outbox, "twin", first).len(), 1);

    // "Not an anomaly" on each of its series, through the API as a user gives it.
    let listed = client
        .list_anomaly_group_time_series()
        .anomaly_detector_arn(shop)
        .anomaly_group_id(id)
        .metric_name("orders")
        .send()
        .await
        .unwrap();
    let series: Vec<String> = listed
        .time_series_list()
        .iter()
        .map(|s| s.time_series_id().to_string())
        .collect();
    assert_eq!(series.len(), marked.time_series.len());
    for s in &series {
        client
            .put_feedback()
            .anomaly_detector_arn(shop)
            .anomaly_group_time_series_feedback(
                AnomalyGroupTimeSeriesFeedback::builder()
                    .anomaly_group_id(id)
                    .time_series_id(s)
                    .is_anomaly(false)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }

    // The outage goes on an hour later. The twin scores and alerts it as before; the detector
    // told it was no anomaly scores every marked series well lower, and does not alert.
    for arn in [shop, twin] {
        local::run_interval(store, &objects, &outbox, "", arn, second)
            .await
            .unwrap();
    }
    let with_group = orders_group(store, shop, second).await;
    let without_group = orders_group(store, twin, second).await;
    let (with, without) = (
        severity(with_group.as_ref()),
        severity(without_group.as_ref()),
    );
    eprintln!(
        "group score: {:?} with feedback, {:?} without",
        with_group
            .as_ref()
            .map(|g| g.anomaly_group.anomaly_group_score),
        without_group
            .as_ref()
            .map(|g| g.anomaly_group.anomaly_group_score)
    );
    let without_group = without_group.expect("the outage goes on at {second} on the twin");
    assert_eq!(
        paged(&outbox, "twin", second),
        [without_group.anomaly_group.anomaly_group_id.as_str()],
        "without feedback it alerts"
    );
    for s in &series {
        let before = without[s];
        let after = with.get(s).copied().unwrap_or(0.0);
        eprintln!("{s}: severity {before} without feedback, {after} with");
        assert!(
            after < before - 5.0,
            "{s}: {after} with feedback vs {before} without"
        );
    }
    assert_eq!(
        paged(&outbox, "shop", second),
        Vec::<String>::new(),
        "with feedback it does not alert"
    );

    // The feedback is applied once: replaying the interval changes nothing and sends nothing.
    let sent = outbox.messages().len();
    local::run_interval(store, &objects, &outbox, "", shop, second)
        .await
        .unwrap();
    assert_eq!(
        severity(orders_group(store, shop, second).await.as_ref()),
        with
    );
    assert_eq!(outbox.messages().len(), sent);
}
