//! Setup shared by the pipeline tests: the generated sample, and a detector over its metric
//! set. (Each test binary uses part of it.)
#![allow(dead_code)]

use std::path::Path;

use seismo_lab::generate::{self, GenerateOptions};
use seismo_shared::objects::LocalObjects;
use seismo_shared::pipeline;
use seismo_shared::store::{Kind, MemoryStore, Store};
use serde_json::{Value, json};

/// Writes the generated sample to `dir` with its history cut at the first incident, so the
/// incident is live; returns the incident's first hour.
pub(crate) fn sample_up_to_first_incident(dir: &Path) -> i64 {
    let generated = generate::generate(dir, &GenerateOptions::default()).unwrap();
    let incident = generated.incidents[0].start;
    generate::cut_history(dir, incident).unwrap();
    incident
}

/// The detector `shop` over the sample in `dir`, learned from its history: the store, the
/// sample's objects and the detector's ARN.
pub(crate) async fn activated(dir: &Path) -> (MemoryStore, LocalObjects, String) {
    let store = MemoryStore::new();
    let objects = LocalObjects::new(dir);
    let arn = detector(&store, "shop", "ACTIVATING", |_| {}).await;
    pipeline::activate(&store, &objects, &arn).await.unwrap();
    (store, objects, arn)
}

/// The ARN of the detector named `name`.
pub(crate) fn arn(name: &str) -> String {
    format!("arn:aws:lookoutmetrics:us-east-1:000000000000:AnomalyDetector:{name}")
}

/// Stores the detector `name` in `status` with the generated sample's metric set, changed by
/// `edit` first; returns its ARN.
pub(crate) async fn detector<S: Store>(
    store: &S,
    name: &str,
    status: &str,
    edit: impl FnOnce(&mut Value),
) -> String {
    let arn = arn(name);
    let doc = json!({ "AnomalyDetectorArn": arn, "AnomalyDetectorName": name, "Status": status });
    store.put(Kind::Detector, &arn, doc).await.unwrap();
    let mut ms = serde_json::to_value(generate::metric_set()).unwrap();
    ms["AnomalyDetectorArn"] = json!(arn);
    edit(&mut ms);
    let ms_arn = format!("{}shop-orders", pipeline::metric_set_prefix(&arn));
    store.put(Kind::MetricSet, &ms_arn, ms).await.unwrap();
    arn
}

/// The real Lookout for Metrics client on `api`, served on a free local port.
pub(crate) async fn client<S: Store>(
    api: std::sync::Arc<seismo_api::Api<S>>,
) -> aws_sdk_lookoutmetrics::Client {
    use aws_sdk_lookoutmetrics as lm;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, seismo_api::app(api)).await });
    let config = lm::Config::builder()
        .behavior_version(lm::config::BehaviorVersion::latest())
        .region(lm::config::Region::new("us-east-1"))
        .credentials_provider(lm::config::Credentials::new(
            "AKID", "secret", None, None, "t",
        ))
        .endpoint_url(url)
        .build();
    lm::Client::from_conf(config)
}
