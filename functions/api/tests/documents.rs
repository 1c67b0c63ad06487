//! Golden tests of the stored documents: a detector, a metric set and an alert as the API's
//! handlers store them (created, then updated) over a memory store, pinned member by member
//! against the JSON stored before the document types existed, and read into their types and
//! written back to the identical value.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use seismo_api::{Api, Kind, MemoryStore, Store, app};
use seismo_shared::model::{AlertDoc, DetectorDoc, Document, MetricSetDoc};
use serde_json::{Value, json};
use tower::ServiceExt;

const DETECTOR: &str = "arn:aws:lookoutmetrics:us-east-1:000000000000:AnomalyDetector:d";
const METRIC_SET: &str = "arn:aws:lookoutmetrics:us-east-1:000000000000:MetricSet/d/m";
const ALERT: &str = "arn:aws:lookoutmetrics:us-east-1:000000000000:Alert:a";

async fn call(router: &axum::Router, op: &str, body: Value) {
    let response = router
        .clone()
        .oneshot(
            Request::post(format!("/{op}"))
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{op}");
}

/// The stored document, with its times (epoch-second floats, checked) set to 0.0.
async fn stored(api: &Api<MemoryStore>, kind: Kind, key: &str) -> Value {
    let mut doc = api.store.get(kind, key).await.unwrap().unwrap();
    for t in ["CreationTime", "LastModificationTime"] {
        assert!(doc[t].is_f64(), "{t} is an epoch-second float: {doc}");
        doc[t] = json!(0.0);
    }
    doc
}

/// Reads `doc` as `D` and writes it back: the identical value.
fn round_trips<D: Document + std::fmt::Debug>(doc: &Value) -> D {
    let typed = D::from_value(doc.clone()).unwrap();
    assert_eq!(&typed.to_value(), doc, "{typed:?}");
    typed
}

#[tokio::test]
async fn stored_documents_read_into_their_types_and_write_back_identically() {
    let api = Arc::new(Api::new(MemoryStore::new(), std::env::temp_dir()));
    let r = app(api.clone());
    call(
        &r,
        "CreateAnomalyDetector",
        json!({"AnomalyDetectorName": "d", "AnomalyDetectorDescription": "shop",
               "AnomalyDetectorConfig": {"AnomalyDetectorFrequency": "PT1H"}}),
    )
    .await;
    let detector = stored(&api, Kind::Detector, DETECTOR).await;
    assert_eq!(
        detector,
        json!({"AnomalyDetectorArn": DETECTOR, "AnomalyDetectorName": "d",
               "AnomalyDetectorDescription": "shop",
               "AnomalyDetectorConfig": {"AnomalyDetectorFrequency": "PT1H"},
               "CreationTime": 0.0, "LastModificationTime": 0.0, "Status": "INACTIVE"})
    );
    let typed: DetectorDoc = round_trips(&detector);
    assert!(typed.extra.is_empty(), "every member is modelled");

    let metric_set = json!({
        "AnomalyDetectorArn": DETECTOR, "MetricSetName": "m", "Tags": {"team": "shop"},
        "MetricList": [{"MetricName": "revenue", "AggregationFunction": "SUM"}],
        "TimestampColumn": {"ColumnName": "ts", "ColumnFormat": "yyyy-MM-dd HH:mm:ss"},
        "DimensionList": ["region"],
        "MetricSource": {"S3SourceConfig": {
            "RoleArn": "arn:aws:iam::000000000000:role/r",
            "TemplatedPathList": ["s3://b/live/{{yyyyMMdd}}/{{HHmm}}"],
            "FileFormatDescriptor": {"CsvFormatDescriptor": {"ContainsHeader": true}}}}
    });
    call(&r, "CreateMetricSet", metric_set.clone()).await;
    call(
        &r,
        "UpdateMetricSet",
        json!({"MetricSetArn": METRIC_SET, "Offset": 300}),
    )
    .await;
    let mut want = metric_set;
    want.as_object_mut().unwrap().remove("Tags");
    want["MetricSetArn"] = json!(METRIC_SET);
    want["MetricSetFrequency"] = json!("PT1H");
    want["Offset"] = json!(300);
    want["CreationTime"] = json!(0.0);
    want["LastModificationTime"] = json!(0.0);
    let ms = stored(&api, Kind::MetricSet, METRIC_SET).await;
    assert_eq!(ms, want);
    let typed: MetricSetDoc = round_trips(&ms);
    assert_eq!(typed.spec().unwrap().offset, Some(300));

    call(
        &r,
        "CreateAlert",
        json!({"AlertName": "a", "AnomalyDetectorArn": DETECTOR, "AlertSensitivityThreshold": 50,
               "AlertFilters": {"MetricList": ["revenue"]},
               "Action": {"SNSConfiguration": {"RoleArn": "arn:aws:iam::0:role/r",
                                               "SnsTopicArn": "arn:aws:sns:us-east-1:0:t"}}}),
    )
    .await;
    call(
        &r,
        "UpdateAlert",
        json!({"AlertArn": ALERT, "AlertDescription": "pages"}),
    )
    .await;
    let alert = stored(&api, Kind::Alert, ALERT).await;
    assert_eq!(
        alert,
        json!({"AlertArn": ALERT, "AlertName": "a", "AnomalyDetectorArn": DETECTOR,
               "AlertDescription": "pages", "AlertSensitivityThreshold": 50,
               "AlertFilters": {"MetricList": ["revenue"]},
               "Action": {"SNSConfiguration": {"RoleArn": "arn:aws:iam::0:role/r",
                                               "SnsTopicArn": "arn:aws:sns:us-east-1:0:t"}},
               "AlertType": "SNS", "AlertStatus": "ACTIVE",
               "CreationTime": 0.0, "LastModificationTime": 0.0})
    );
    let typed: AlertDoc = round_trips(&alert);
    assert_eq!(typed.threshold(), 50.0);

    // A member no type models (written by an older or newer Seismo) stays.
    let mut older = detector.clone();
    older["SomethingElse"] = json!({"kept": [1, 2.5]});
    round_trips::<DetectorDoc>(&older);
}
