//! Feedback reaches the engine through the pipeline: "not an anomaly" on the series of a group
//! lowers the score of the same deviation an interval later, against a twin detector on the
//! same data that got no feedback.

mod common;

use std::collections::BTreeMap;

use seismo_shared::generate::{self, GenerateOptions};
use seismo_shared::group::GroupReport;
use seismo_shared::objects::LocalObjects;
use seismo_shared::pipeline::{self, alert::Outbox, local};
use seismo_shared::store::{Kind, MemoryStore, Store};
use serde_json::json;

async fn detector(store: &MemoryStore, name: &str) -> String {
    common::detector(store, name, "INACTIVE", |_| {}).await
}

async fn orders_group(store: &MemoryStore, arn: &str, interval: i64) -> Option<GroupReport> {
    store
        .list(Kind::Group, &format!("{arn}/"))
        .await
        .unwrap()
        .into_iter()
        .map(|(_, g)| serde_json::from_value::<GroupReport>(g).unwrap())
        .find(|g| g.start == interval && g.anomaly_group.primary_metric_name == "orders")
}

#[tokio::test]
async fn not_an_anomaly_lowers_the_next_score_of_the_same_deviation() {
    let dir = tempfile::tempdir().unwrap();
    let generated = generate::generate(dir.path(), &GenerateOptions::default()).unwrap();
    let incident = &generated.incidents[0];
    assert_eq!(incident.description, "EU mobile checkout outage");
    generate::cut_history(dir.path(), incident.start).unwrap();

    let store = MemoryStore::new();
    let objects = LocalObjects::new(dir.path());
    let outbox = Outbox::new();
    let (shop, twin) = (
        detector(&store, "shop").await,
        detector(&store, "twin").await,
    );
    let (first, second) = (incident.start, incident.start + 3600);
    for arn in [&shop, &twin] {
        pipeline::activate(&store, &objects, arn).await.unwrap();
        local::run_interval(&store, &objects, &outbox, "", arn, first)
            .await
            .unwrap();
    }
    let marked = orders_group(&store, &shop, first)
        .await
        .expect("the outage is a group");
    for s in &marked.time_series {
        let key = format!(
            "{shop}/{}/{}",
            marked.anomaly_group.anomaly_group_id, s.time_series_id
        );
        let doc = json!({ "TimeSeriesId": s.time_series_id, "IsAnomaly": false });
        store.put(Kind::Feedback, &key, doc).await.unwrap();
    }
    for arn in [&shop, &twin] {
        local::run_interval(&store, &objects, &outbox, "", arn, second)
            .await
            .unwrap();
    }
    let severity = |g: Option<GroupReport>| -> BTreeMap<String, f64> {
        g.map(|g| {
            g.time_series
                .iter()
                .map(|s| (s.time_series_id.clone(), s.points[0].severity))
                .collect()
        })
        .unwrap_or_default()
    };
    let with = severity(orders_group(&store, &shop, second).await);
    let without = severity(orders_group(&store, &twin, second).await);
    assert!(
        !without.is_empty(),
        "the outage goes on at {second} on the twin"
    );
    for s in &marked.time_series {
        let before = without[&s.time_series_id];
        let after = with.get(&s.time_series_id).copied().unwrap_or(0.0);
        eprintln!(
            "{}: severity {before} without feedback, {after} with",
            s.time_series_id
        );
        assert!(
            after < before - 5.0,
            "{}: {after} with feedback vs {before} without",
            s.time_series_id
        );
    }
    // The feedback is applied once: replaying the interval changes nothing.
    let again = local::run_interval(&store, &objects, &outbox, "", &shop, second)
        .await
        .unwrap();
    assert_eq!(severity(orders_group(&store, &shop, second).await), with);
    assert_eq!(again.alerts, 0);
}
