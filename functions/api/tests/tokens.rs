//! Golden NextTokens: a token a client holds must still open after an upgrade, so the way a
//! listing seals its position is pinned to the value this build gives. A token from another
//! listing, or altered, is refused naming NextToken.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use seismo_api::{Api, MemoryStore, app};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn call(router: &axum::Router, op: &str, body: Value) -> (StatusCode, Value) {
    let response = router
        .clone()
        .oneshot(
            Request::post(format!("/{op}"))
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn next_tokens_are_pinned() {
    let r = app(Arc::new(Api::new(MemoryStore::new(), std::env::temp_dir())));
    for name in ["alpha", "beta", "gamma"] {
        let body = json!({"AnomalyDetectorName": name,
            "AnomalyDetectorConfig": {"AnomalyDetectorFrequency": "PT1H"}});
        assert_eq!(
            call(&r, "CreateAnomalyDetector", body).await.0,
            StatusCode::OK
        );
    }
    let (status, first) = call(&r, "ListAnomalyDetectors", json!({"MaxResults": 1})).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let token = first["NextToken"].as_str().unwrap().to_string();
    assert_eq!(
        token,
        "61726e3a6177733a6c6f6f6b6f75746d6574726963733a75732d656173742d313a3030303030303030303030303a416e6f6d616c794465746563746f723a616c706861.734dcb3d349f75bf"
    );
    let (status, second) = call(
        &r,
        "ListAnomalyDetectors",
        json!({"MaxResults": 1, "NextToken": token}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let names: Vec<&str> = [&first, &second]
        .iter()
        .map(|page| {
            page["AnomalyDetectorSummaryList"][0]["AnomalyDetectorName"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(names, ["alpha", "beta"]);
    assert_eq!(
        second["NextToken"],
        "61726e3a6177733a6c6f6f6b6f75746d6574726963733a75732d656173742d313a3030303030303030303030303a416e6f6d616c794465746563746f723a62657461.169302a63b7b003b"
    );

    // Altered, or from another listing: refused, naming the member.
    let mut altered = token.clone();
    altered.replace_range(..2, "00");
    for (op, body) in [
        ("ListAnomalyDetectors", json!({"NextToken": altered})),
        ("ListAlerts", json!({"NextToken": token})),
    ] {
        let (status, answer) = call(&r, op, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{op}: {answer}");
        assert!(
            answer["Message"].as_str().unwrap().contains("NextToken"),
            "{op}: {answer}"
        );
    }
}
