//! The api Lambda's request path: API Gateway HTTP API events (payload 2.0, IAM authorizer)
//! from events/api, converted by lambda_http exactly as the runtime does, through the router.

use std::sync::Arc;

use axum::body::Body;
use http_body_util::BodyExt;
use seismo_api::{Api, MemoryStore, app};
use serde_json::Value;
use tower::ServiceExt;

fn event(name: &str) -> lambda_http::Request {
    let path = format!("{}/../../events/api/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let raw: lambda_http::request::LambdaRequest = serde_json::from_str(&text).unwrap();
    lambda_http::Request::from(raw)
}

async fn call(router: axum::Router, req: lambda_http::Request) -> (u16, Option<String>, Value) {
    let req = req.map(|b| Body::from(b.to_vec()));
    let res = router.oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    let kind = res
        .headers()
        .get("x-amzn-ErrorType")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, kind, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn api_gateway_events_reach_the_operations() {
    let api = Api::new(MemoryStore::new(), std::env::temp_dir())
        .with_account("us-east-1", "123456789012");
    let router = app(Arc::new(api));

    let (status, _, body) = call(router.clone(), event("create-detector.json")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["AnomalyDetectorArn"],
        "arn:aws:lookoutmetrics:us-east-1:123456789012:AnomalyDetector:shop"
    );

    let (status, _, body) = call(router.clone(), event("list-detectors.json")).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["AnomalyDetectorSummaryList"][0]["AnomalyDetectorName"],
        "shop"
    );

    let (status, kind, body) = call(router.clone(), event("describe-missing-detector.json")).await;
    assert_eq!(status, 400);
    assert_eq!(kind.as_deref(), Some("ResourceNotFoundException"));
    assert!(
        body["Message"]
            .as_str()
            .unwrap()
            .contains("no-such-detector")
    );
}
