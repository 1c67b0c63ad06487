//! Every constraint of the model that the served operations check, sent as raw JSON through the
//! router: the answer is a ValidationException (400) naming the field. Conflicts and concurrency
//! too.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use seismo_api::{Api, Kind, MemoryStore, Store, StoreError, app};
use seismo_lab::store::{Call, Hook, Intercept};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn call(router: &axum::Router, op: &str, body: Value) -> (StatusCode, String, Value) {
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
    let kind = response
        .headers()
        .get("x-amzn-ErrorType")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        kind,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn router() -> axum::Router {
    app(Arc::new(Api::new(MemoryStore::new(), std::env::temp_dir())))
}

const DETECTOR: &str = "arn:aws:lookoutmetrics:us-east-1:000000000000:AnomalyDetector:d";

fn detector_body() -> Value {
    json!({"AnomalyDetectorName": "d", "AnomalyDetectorConfig": {"AnomalyDetectorFrequency": "PT1H"}})
}

fn metric_set_body() -> Value {
    json!({
        "AnomalyDetectorArn": DETECTOR,
        "MetricSetName": "m",
        "MetricList": [{"MetricName": "revenue", "AggregationFunction": "SUM"}],
        "TimestampColumn": {"ColumnName": "ts", "ColumnFormat": "yyyy-MM-dd HH:mm:ss"},
        "DimensionList": ["region"],
        "MetricSetFrequency": "PT1H",
        "MetricSource": {"S3SourceConfig": {
            "RoleArn": "arn:aws:iam::000000000000:role/r",
            "TemplatedPathList": ["s3://b/live/{{yyyyMMdd}}/{{HHmm}}"],
            "FileFormatDescriptor": {"CsvFormatDescriptor": {"ContainsHeader": true}}}}
    })
}

fn alert_body() -> Value {
    json!({"AlertName": "a", "AnomalyDetectorArn": DETECTOR, "AlertSensitivityThreshold": 50,
           "Action": {"SNSConfiguration": {"RoleArn": "arn:aws:iam::0:role/r", "SnsTopicArn": "arn:aws:sns:us-east-1:0:t"}}})
}

/// Sets the member at a JSON pointer, creating it in its parent object.
fn with(mut v: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    match v.pointer_mut(parent).unwrap() {
        Value::Object(o) => {
            o.insert(key.to_string(), value);
        }
        Value::Array(a) => a[key.parse::<usize>().unwrap()] = value,
        _ => panic!("{pointer}"),
    }
    v
}

fn without(mut v: Value, key: &str) -> Value {
    v.as_object_mut().unwrap().remove(key);
    v
}

#[tokio::test]
async fn each_bad_value_names_its_field() {
    let r = router();
    assert_eq!(
        call(&r, "CreateAnomalyDetector", detector_body()).await.0,
        StatusCode::OK
    );
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "CreateAnomalyDetector",
            with(detector_body(), "/AnomalyDetectorName", json!("-x")),
            "AnomalyDetectorName",
        ),
        (
            "CreateAnomalyDetector",
            with(
                detector_body(),
                "/AnomalyDetectorName",
                json!("x".repeat(64)),
            ),
            "AnomalyDetectorName",
        ),
        (
            "CreateAnomalyDetector",
            without(detector_body(), "AnomalyDetectorName"),
            "AnomalyDetectorName",
        ),
        (
            "CreateAnomalyDetector",
            with(detector_body(), "/AnomalyDetectorName", json!(7)),
            "AnomalyDetectorName",
        ),
        (
            "CreateAnomalyDetector",
            with(detector_body(), "/AnomalyDetectorDescription", json!(" ")),
            "AnomalyDetectorDescription",
        ),
        (
            "CreateAnomalyDetector",
            without(detector_body(), "AnomalyDetectorConfig"),
            "AnomalyDetectorConfig",
        ),
        (
            "CreateAnomalyDetector",
            with(
                detector_body(),
                "/AnomalyDetectorConfig/AnomalyDetectorFrequency",
                json!("PT2H"),
            ),
            "AnomalyDetectorConfig.AnomalyDetectorFrequency",
        ),
        (
            "CreateAnomalyDetector",
            with(detector_body(), "/KmsKeyArn", json!("key")),
            "KmsKeyArn",
        ),
        (
            "CreateAnomalyDetector",
            with(
                with(detector_body(), "/AnomalyDetectorName", json!("t")),
                "/Tags",
                json!({}),
            ),
            "Tags",
        ),
        (
            "DescribeAnomalyDetector",
            json!({"AnomalyDetectorArn": "nope"}),
            "AnomalyDetectorArn",
        ),
        ("DescribeAnomalyDetector", json!({}), "AnomalyDetectorArn"),
        (
            "ListAnomalyDetectors",
            json!({"MaxResults": 101}),
            "MaxResults",
        ),
        (
            "ListAnomalyDetectors",
            json!({"NextToken": ""}),
            "NextToken",
        ),
        (
            "UpdateAnomalyDetector",
            json!({"AnomalyDetectorArn": DETECTOR, "AnomalyDetectorDescription": ""}),
            "AnomalyDetectorDescription",
        ),
        (
            "CreateMetricSet",
            with(metric_set_body(), "/MetricSetName", json!("bad name")),
            "MetricSetName",
        ),
        (
            "CreateMetricSet",
            without(metric_set_body(), "MetricList"),
            "MetricList",
        ),
        (
            "CreateMetricSet",
            with(metric_set_body(), "/Offset", json!(432_001)),
            "Offset",
        ),
        (
            "CreateMetricSet",
            with(metric_set_body(), "/Timezone", json!("Nowhere/Else")),
            "Timezone",
        ),
        (
            "CreateMetricSet",
            with(metric_set_body(), "/MetricSetFrequency", json!("P1D")),
            "MetricSetFrequency",
        ),
        (
            "CreateMetricSet",
            with(
                metric_set_body(),
                "/MetricSource/S3SourceConfig/TemplatedPathList",
                json!(["/local/path"]),
            ),
            "MetricSource.S3SourceConfig.TemplatedPathList[0]",
        ),
        (
            "CreateMetricSet",
            with(
                metric_set_body(),
                "/MetricSource/S3SourceConfig/FileFormatDescriptor/CsvFormatDescriptor/Delimiter",
                json!("ab"),
            ),
            "MetricSource.S3SourceConfig.FileFormatDescriptor.CsvFormatDescriptor.Delimiter",
        ),
        (
            "CreateMetricSet",
            with(metric_set_body(), "/DimensionList", json!(["revenue"])),
            "DimensionList[0]",
        ),
        (
            "CreateAlert",
            with(alert_body(), "/AlertName", json!("")),
            "AlertName",
        ),
        (
            "CreateAlert",
            with(alert_body(), "/AlertSensitivityThreshold", json!(101)),
            "AlertSensitivityThreshold",
        ),
        (
            "CreateAlert",
            with(alert_body(), "/Action", json!({})),
            "Action",
        ),
        (
            "CreateAlert",
            with(
                alert_body(),
                "/Action/SNSConfiguration/SnsTopicArn",
                json!("topic"),
            ),
            "Action.SNSConfiguration.SnsTopicArn",
        ),
        (
            "CreateAlert",
            with(
                alert_body(),
                "/Action/SNSConfiguration/SnsFormat",
                json!("HTML"),
            ),
            "Action.SNSConfiguration.SnsFormat",
        ),
        (
            "CreateAlert",
            with(alert_body(), "/AlertFilters", json!({"MetricList": []})),
            "AlertFilters.MetricList",
        ),
        (
            "ListAnomalyGroupSummaries",
            json!({"AnomalyDetectorArn": DETECTOR}),
            "SensitivityThreshold",
        ),
        (
            "ListAnomalyGroupSummaries",
            json!({"AnomalyDetectorArn": DETECTOR, "SensitivityThreshold": -1}),
            "SensitivityThreshold",
        ),
        (
            "GetAnomalyGroup",
            json!({"AnomalyDetectorArn": DETECTOR, "AnomalyGroupId": "NOT-A-UUID"}),
            "AnomalyGroupId",
        ),
        (
            "PutFeedback",
            json!({"AnomalyDetectorArn": DETECTOR}),
            "AnomalyGroupTimeSeriesFeedback",
        ),
        (
            "GetSampleData",
            json!({"S3SourceConfig": {"RoleArn": "role"}}),
            "S3SourceConfig.RoleArn",
        ),
        (
            "DetectMetricSetConfig",
            json!({"AnomalyDetectorArn": DETECTOR, "AutoDetectionMetricSource": {}}),
            "AutoDetectionMetricSource.S3SourceConfig",
        ),
        // serde would read an object from a list of its members: refused.
        (
            "CreateMetricSet",
            with(
                metric_set_body(),
                "/MetricList",
                json!([["revenue", "SUM"]]),
            ),
            "MetricList[0]",
        ),
        (
            "CreateMetricSet",
            with(
                metric_set_body(),
                "/TimestampColumn",
                json!(["ts", "yyyy-MM-dd HH:mm:ss"]),
            ),
            "TimestampColumn",
        ),
    ];
    for (op, body, field) in cases {
        let (status, kind, body) = call(&r, op, body.clone()).await;
        assert_eq!(
            (status, kind.as_str()),
            (StatusCode::BAD_REQUEST, "ValidationException"),
            "{op} {field}: {body}"
        );
        // In the caller's terms: no Rust or serde wording.
        let message = body["Message"].as_str().unwrap_or_default();
        for internal in [
            "expected struct",
            "unknown variant",
            "invalid type",
            "i64",
            "u32",
        ] {
            assert!(!message.contains(internal), "{op} {field}: {message}");
        }
        let named = body["Fields"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x["Name"] == field));
        assert!(named, "{op}: {field} not named in {body}");
    }
    // Not JSON, not an object, an unknown operation: still a 400 that says so.
    for raw in ["{", "[1]", "\"text\""] {
        let response = r
            .clone()
            .oneshot(
                Request::post("/CreateAnomalyDetector")
                    .body(Body::from(raw))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{raw}");
    }
    assert_eq!(
        call(&r, "DropAllTables", json!({})).await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn missing_resources_and_conflicts() {
    let r = router();
    let (status, kind, body) = call(
        &r,
        "DescribeAnomalyDetector",
        json!({"AnomalyDetectorArn": DETECTOR}),
    )
    .await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::BAD_REQUEST, "ResourceNotFoundException")
    );
    assert_eq!(body["ResourceId"], DETECTOR);
    let (status, kind, _) = call(&r, "CreateMetricSet", metric_set_body()).await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::BAD_REQUEST, "ResourceNotFoundException")
    );
    call(&r, "CreateAnomalyDetector", detector_body()).await;
    let (status, kind, _) = call(&r, "CreateAnomalyDetector", detector_body()).await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::CONFLICT, "ConflictException")
    );
    assert_eq!(
        call(&r, "CreateAlert", alert_body()).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(&r, "CreateAlert", alert_body()).await.1,
        "ConflictException"
    );
    for i in 1..10 {
        let body = with(alert_body(), "/AlertName", json!(format!("a{i}")));
        assert_eq!(call(&r, "CreateAlert", body).await.0, StatusCode::OK);
    }
    let (status, kind, _) = call(
        &r,
        "CreateAlert",
        with(alert_body(), "/AlertName", json!("a10")),
    )
    .await;
    assert_eq!(
        (status, kind.as_str()),
        (
            StatusCode::PAYMENT_REQUIRED,
            "ServiceQuotaExceededException"
        )
    );
}

/// The memory store, giving way to other tasks before and after every call, as a networked
/// store does while a request is on the wire: an API that read and then wrote (instead of a
/// conditional create or compare-and-swap) would be seen racing.
type YieldingStore = Intercept<MemoryStore, GiveWay>;

/// Gives way to other tasks before and after every call.
#[derive(Debug, Default)]
struct GiveWay;

async fn give_way() {
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
}

impl Hook<MemoryStore> for GiveWay {
    async fn around<T: Send>(
        &self,
        _call: Call<'_>,
        work: impl Future<Output = Result<T, StoreError>> + Send,
    ) -> Result<T, StoreError> {
        give_way().await;
        let out = work.await;
        give_way().await;
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_of_one_name_give_one_success() {
    let r = app(Arc::new(Api::new(
        YieldingStore::default(),
        std::env::temp_dir(),
    )));
    // All 16 start together, on four threads, over a store that yields inside every call.
    let start = Arc::new(tokio::sync::Barrier::new(16));
    let attempts: Vec<_> = (0..16)
        .map(|_| {
            let (r, start) = (r.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                call(&r, "CreateAnomalyDetector", detector_body()).await.0
            })
        })
        .collect();
    let mut ok = 0;
    let mut conflicts = 0;
    for a in attempts {
        match a.await.unwrap() {
            StatusCode::OK => ok += 1,
            StatusCode::CONFLICT => conflicts += 1,
            other => panic!("{other}"),
        }
    }
    assert_eq!((ok, conflicts), (1, 15));
    let listed = call(&r, "ListAnomalyDetectors", json!({})).await.2;
    assert_eq!(
        listed["AnomalyDetectorSummaryList"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{listed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_never_lose_an_update() {
    let r = router();
    call(&r, "CreateAnomalyDetector", detector_body()).await;
    // 24 clients each add their own tag while 8 others change the description.
    let mut tasks = Vec::new();
    for i in 0..24 {
        let r = r.clone();
        tasks.push(tokio::spawn(async move {
            let response = r
                .oneshot(
                    Request::post(format!("/tags/{}", DETECTOR.replace(':', "%3A")))
                        .body(Body::from(
                            json!({"tags": {format!("k{i}"): "v"}}).to_string(),
                        ))
                        .unwrap(),
                )
                .await
                .unwrap();
            response.status()
        }));
    }
    for i in 0..8 {
        let r = r.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"AnomalyDetectorArn": DETECTOR, "AnomalyDetectorDescription": format!("v{i}")});
            call(&r, "UpdateAnomalyDetector", body).await.0
        }));
    }
    for t in tasks {
        let status = t.await.unwrap();
        assert!(
            status == StatusCode::NO_CONTENT || status == StatusCode::OK,
            "{status}"
        );
    }
    let tags = r
        .clone()
        .oneshot(
            Request::get(format!("/tags/{}", DETECTOR.replace(':', "%3A")))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let bytes = tags.into_body().collect().await.unwrap().to_bytes();
    let tags: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(tags["Tags"].as_object().unwrap().len(), 24, "{tags}");
    let (_, _, d) = call(
        &r,
        "DescribeAnomalyDetector",
        json!({"AnomalyDetectorArn": DETECTOR}),
    )
    .await;
    assert!(
        d["AnomalyDetectorDescription"]
            .as_str()
            .unwrap()
            .starts_with('v')
    );
}

/// A ValidationException naming `field`, or the answer.
fn assert_names(answer: &(StatusCode, String, Value), field: &str) {
    let (status, kind, body) = answer;
    assert_eq!(
        (*status, kind.as_str()),
        (StatusCode::BAD_REQUEST, "ValidationException"),
        "{field}: {body}"
    );
    let named = body["Fields"]
        .as_array()
        .is_some_and(|f| f.iter().any(|x| x["Name"] == field));
    assert!(named, "{field} not named in {body}");
}

#[tokio::test]
async fn paths_name_s3_objects_inside_the_buckets_folder_and_bad_files_are_the_callers() {
    // Buckets as folders, and a file beside them that no request may read.
    let root = std::env::temp_dir().join(format!("seismo-paths-{}", std::process::id()));
    let buckets = root.join("buckets");
    std::fs::create_dir_all(buckets.join("b/history")).unwrap();
    std::fs::create_dir_all(buckets.join("b/gz")).unwrap();
    std::fs::write(root.join("secret.csv"), "user,password\nroot,hunter2\n").unwrap();
    std::fs::write(
        buckets.join("b/history/part.csv"),
        "ts,region,revenue\n2026-01-01 00:00:00,EU,1\n",
    )
    .unwrap();
    // The first bytes of a gzip file: a truncated upload.
    std::fs::write(
        buckets.join("b/gz/part.csv.gz"),
        [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0x4b, 0x4c],
    )
    .unwrap();
    let r = app(Arc::new(Api::new(MemoryStore::new(), buckets.clone())));
    let sample = |path: &str| {
        json!({"S3SourceConfig": {
            "RoleArn": "arn:aws:iam::000000000000:role/r",
            "HistoricalDataPathList": [path],
            "FileFormatDescriptor": {"CsvFormatDescriptor": {"ContainsHeader": true, "Delimiter": ","}}
        }})
    };
    let (status, _, body) = call(&r, "GetSampleData", sample("s3://b/history/")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["HeaderValues"], json!(["ts", "region", "revenue"]));

    let field = "S3SourceConfig.HistoricalDataPathList[0]";
    let secret = root.join("secret.csv");
    for path in [
        format!("file://{}", secret.display()),
        "s3://b/../../secret.csv".to_string(),
        "s3://b/history/../../../secret.csv".to_string(),
    ] {
        let answer = call(&r, "GetSampleData", sample(&path)).await;
        assert!(!answer.2.to_string().contains("hunter2"), "{path} was read");
        assert_names(&answer, field);
    }
    let answer = call(&r, "GetSampleData", sample("s3://b/gz/")).await;
    assert_names(&answer, "S3SourceConfig.HistoricalDataPathList");
    let message = answer.2["Message"].as_str().unwrap_or_default().to_string();
    assert!(message.contains("truncated or corrupt gzip"), "{message}");
    assert!(!message.contains(&*root.to_string_lossy()), "{message}");

    // Stored configuration: refused on create and on update, and the update changes nothing.
    call(&r, "CreateAnomalyDetector", detector_body()).await;
    let traversal = json!("s3://b/../../secret.csv");
    let bad = with(
        metric_set_body(),
        "/MetricSource/S3SourceConfig/HistoricalDataPathList",
        json!([traversal]),
    );
    let answer = call(&r, "CreateMetricSet", bad).await;
    assert_names(
        &answer,
        "MetricSource.S3SourceConfig.HistoricalDataPathList[0]",
    );
    let (status, _, created) = call(&r, "CreateMetricSet", metric_set_body()).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let ms = created["MetricSetArn"].clone();
    let before = call(&r, "DescribeMetricSet", json!({"MetricSetArn": ms}))
        .await
        .2;
    let mut source = before["MetricSource"].clone();
    source["S3SourceConfig"]["TemplatedPathList"] = json!([format!("file://{}", secret.display())]);
    let answer = call(
        &r,
        "UpdateMetricSet",
        json!({"MetricSetArn": ms, "MetricSource": source}),
    )
    .await;
    assert_names(&answer, "MetricSource.S3SourceConfig.TemplatedPathList[0]");
    let after = call(&r, "DescribeMetricSet", json!({"MetricSetArn": ms}))
        .await
        .2;
    assert_eq!(before, after);

    // The object port itself refuses to step out of the buckets folder.
    let objects = seismo_shared::objects::LocalObjects::new(buckets);
    use seismo_shared::objects::Objects as _;
    assert!(objects.list("s3://b/../../secret.csv").await.is_err());
    assert!(objects.open("s3://b/../../secret.csv").await.is_err());
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn a_detectors_frequency_quality_metrics_tags_and_filters_are_checked() {
    let r = router();
    call(&r, "CreateAnomalyDetector", detector_body()).await;
    let (_, _, created) = call(&r, "CreateMetricSet", metric_set_body()).await;
    let ms = created["MetricSetArn"].clone();
    // The metric set is hourly: the detector cannot become daily under it.
    let daily = json!({"AnomalyDetectorArn": DETECTOR,
                       "AnomalyDetectorConfig": {"AnomalyDetectorFrequency": "P1D"}});
    let answer = call(&r, "UpdateAnomalyDetector", daily).await;
    assert_names(&answer, "AnomalyDetectorConfig.AnomalyDetectorFrequency");
    let d = call(
        &r,
        "DescribeAnomalyDetector",
        json!({"AnomalyDetectorArn": DETECTOR}),
    )
    .await
    .2;
    assert_eq!(
        d["AnomalyDetectorConfig"]["AnomalyDetectorFrequency"],
        "PT1H"
    );

    // Data quality of a metric set that is not the detector's: not found.
    let ours = json!({"AnomalyDetectorArn": DETECTOR, "MetricSetArn": ms});
    assert_eq!(
        call(&r, "GetDataQualityMetrics", ours).await.0,
        StatusCode::OK
    );
    let other = json!({"AnomalyDetectorArn": DETECTOR,
                       "MetricSetArn": "arn:aws:lookoutmetrics:us-east-1:000000000000:MetricSet/x/y"});
    let (status, kind, _) = call(&r, "GetDataQualityMetrics", other).await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::BAD_REQUEST, "ResourceNotFoundException")
    );

    // Untagging: 1-50 keys of 1-128 characters.
    let untag = |query: String| {
        let r = r.clone();
        async move {
            let uri = format!("/tags/{}?{query}", DETECTOR.replace(':', "%3A"));
            let response = r
                .oneshot(Request::delete(uri).body(Body::empty()).unwrap())
                .await
                .unwrap();
            let status = response.status();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        }
    };
    let many = (0..51)
        .map(|i| format!("tagKeys=k{i}"))
        .collect::<Vec<_>>()
        .join("&");
    for (query, field) in [
        ("tagKeys=".to_string(), "TagKeys[0]"),
        (format!("tagKeys={}", "k".repeat(129)), "TagKeys[0]"),
        (many, "TagKeys"),
    ] {
        let (status, body) = untag(query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body["Fields"]
                .as_array()
                .is_some_and(|f| f.iter().any(|x| x["Name"] == field)),
            "{body}"
        );
    }
    assert_eq!(untag("tagKeys=team".into()).await.0, StatusCode::NO_CONTENT);

    // An empty filter list is refused (the model's minimum is one).
    call(
        &r,
        "CreateAnomalyDetector",
        with(detector_body(), "/AnomalyDetectorName", json!("d2")),
    )
    .await;
    let body = with(
        with(metric_set_body(), "/DimensionFilterList", json!([])),
        "/AnomalyDetectorArn",
        json!(DETECTOR.replace(":d", ":d2")),
    );
    assert_names(
        &call(&r, "CreateMetricSet", body).await,
        "DimensionFilterList",
    );
}

#[tokio::test]
async fn every_missing_required_member_is_named_at_once() {
    let r = router();
    for (op, members) in [
        (
            "CreateAlert",
            &["AlertName", "AnomalyDetectorArn", "Action"][..],
        ),
        (
            "CreateMetricSet",
            &[
                "AnomalyDetectorArn",
                "MetricSetName",
                "MetricList",
                "MetricSource",
            ][..],
        ),
        (
            "ListAnomalyGroupTimeSeries",
            &["AnomalyDetectorArn", "AnomalyGroupId", "MetricName"][..],
        ),
    ] {
        let (status, kind, body) = call(&r, op, json!({})).await;
        assert_eq!(
            (status, kind.as_str()),
            (StatusCode::BAD_REQUEST, "ValidationException")
        );
        let named: Vec<&str> = body["Fields"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["Name"].as_str())
            .collect();
        assert_eq!(named, members, "{op}: {body}");
    }
}

#[tokio::test]
async fn pages_follow_tokens_and_refuse_any_other_token() {
    let r = router();
    for name in ["d", "e", "f"] {
        let body = with(detector_body(), "/AnomalyDetectorName", json!(name));
        assert_eq!(
            call(&r, "CreateAnomalyDetector", body).await.0,
            StatusCode::OK
        );
    }
    // Page by page, each detector once, in order.
    let (mut names, mut token) = (Vec::new(), None::<Value>);
    loop {
        let mut req = json!({"MaxResults": 1});
        if let Some(t) = &token {
            req["NextToken"] = t.clone();
        }
        let (status, _, page) = call(&r, "ListAnomalyDetectors", req).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for d in page["AnomalyDetectorSummaryList"].as_array().unwrap() {
            names.push(d["AnomalyDetectorName"].as_str().unwrap().to_string());
        }
        match page.get("NextToken").filter(|t| !t.is_null()) {
            Some(t) => token = Some(t.clone()),
            None => break,
        }
    }
    assert_eq!(names, ["d", "e", "f"]);

    // A token of this listing, but from another listing, garbage, or a bare key: refused.
    let (_, _, first) = call(&r, "ListAnomalyDetectors", json!({"MaxResults": 1})).await;
    let detectors_token = first["NextToken"].clone();
    for name in ["a1", "a2"] {
        let body = with(alert_body(), "/AlertName", json!(name));
        assert_eq!(call(&r, "CreateAlert", body).await.0, StatusCode::OK);
    }
    let (_, _, alerts) = call(
        &r,
        "ListAlerts",
        json!({"AnomalyDetectorArn": DETECTOR, "MaxResults": 1}),
    )
    .await;
    let alerts_token = alerts["NextToken"].clone();
    assert!(alerts_token.is_string(), "{alerts}");
    for (op, token) in [
        ("ListAnomalyDetectors", alerts_token),
        ("ListAnomalyDetectors", json!("garbage")),
        ("ListAnomalyDetectors", json!(DETECTOR)),
        ("ListAnomalyDetectors", json!("-5")),
        ("ListAlerts", detectors_token),
    ] {
        let mut req = json!({"NextToken": token});
        if op == "ListAlerts" {
            req["AnomalyDetectorArn"] = json!(DETECTOR);
        }
        assert_names(&call(&r, op, req).await, "NextToken");
    }
    // A token of one detector's alerts does not page another's.
    let other = DETECTOR.replace(":d", ":e");
    let req = json!({"AnomalyDetectorArn": other, "NextToken": alerts["NextToken"]});
    assert_names(&call(&r, "ListAlerts", req).await, "NextToken");
}

/// Sends `bodies` to `op` at once; the statuses, sorted.
async fn at_once(r: &axum::Router, op: &'static str, bodies: Vec<Value>) -> Vec<StatusCode> {
    let attempts: Vec<_> = bodies
        .into_iter()
        .map(|b| {
            let r = r.clone();
            tokio::spawn(async move { call(&r, op, b).await.0 })
        })
        .collect();
    let mut out = Vec::new();
    for a in attempts {
        out.push(a.await.unwrap());
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_and_activations_keep_the_quotas_and_states() {
    let r = router();
    call(&r, "CreateAnomalyDetector", detector_body()).await;
    let count =
        |statuses: &[StatusCode], s: StatusCode| statuses.iter().filter(|x| **x == s).count();
    // One metric set per detector, of 16 different names sent at once.
    let bodies = (0..16)
        .map(|i| with(metric_set_body(), "/MetricSetName", json!(format!("m{i}"))))
        .collect();
    let statuses = at_once(&r, "CreateMetricSet", bodies).await;
    assert_eq!(count(&statuses, StatusCode::OK), 1, "{statuses:?}");
    assert_eq!(
        count(&statuses, StatusCode::PAYMENT_REQUIRED),
        15,
        "{statuses:?}"
    );
    let listed = call(
        &r,
        "ListMetricSets",
        json!({"AnomalyDetectorArn": DETECTOR}),
    )
    .await
    .2;
    assert_eq!(listed["MetricSetSummaryList"].as_array().unwrap().len(), 1);

    // Ten alerts, of 16 sent at once; a deleted one gives its place back at once.
    let bodies = (0..16)
        .map(|i| with(alert_body(), "/AlertName", json!(format!("a{i}"))))
        .collect();
    let statuses = at_once(&r, "CreateAlert", bodies).await;
    assert_eq!(count(&statuses, StatusCode::OK), 10, "{statuses:?}");
    let alerts = call(&r, "ListAlerts", json!({"AnomalyDetectorArn": DETECTOR}))
        .await
        .2;
    let alerts = alerts["AlertSummaryList"].as_array().unwrap().clone();
    assert_eq!(alerts.len(), 10);
    let one = alerts[0]["AlertArn"].clone();
    assert_eq!(
        call(&r, "DeleteAlert", json!({"AlertArn": one})).await.0,
        StatusCode::OK
    );
    let again = with(alert_body(), "/AlertName", json!("again"));
    assert_eq!(call(&r, "CreateAlert", again).await.0, StatusCode::OK);

    // Eight activations at once: one starts, the others are told it changed.
    let bodies = (0..8)
        .map(|_| json!({"AnomalyDetectorArn": DETECTOR}))
        .collect();
    let statuses = at_once(&r, "ActivateAnomalyDetector", bodies).await;
    assert_eq!(count(&statuses, StatusCode::OK), 1, "{statuses:?}");
    assert_eq!(count(&statuses, StatusCode::CONFLICT), 7, "{statuses:?}");
}

#[tokio::test]
async fn what_the_http_layer_refuses_is_answered_in_the_apis_form() {
    let r = router();
    let send = |request: Request<Body>| {
        let r = r.clone();
        async move {
            let response = r.oneshot(request).await.unwrap();
            let status = response.status();
            let kind = response
                .headers()
                .get("x-amzn-ErrorType")
                .map(|v| v.to_str().unwrap().to_string());
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            (status, kind, body)
        }
    };
    let huge = format!(r#"{{"AnomalyDetectorName": "{}"}}"#, "x".repeat(3 << 20));
    for (name, request, want) in [
        (
            "a body over the limit",
            Request::post("/CreateAnomalyDetector")
                .body(Body::from(huge))
                .unwrap(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "an operation read with GET",
            Request::get("/CreateAnomalyDetector")
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "the root",
            Request::post("/").body(Body::empty()).unwrap(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "a path under an operation",
            Request::post("/DescribeAnomalyDetector/x")
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "a resource ARN that is not UTF-8",
            Request::get("/tags/arn%ff%fe").body(Body::empty()).unwrap(),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, kind, body) = send(request).await;
        assert_eq!(status, want, "{name}: {body}");
        assert_eq!(kind.as_deref(), Some("ValidationException"), "{name}");
        let message = body["Message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "{name}: {body}");
        assert!(!message.contains("Failed to buffer"), "{name}: {message}");
    }
}

#[tokio::test]
async fn alert_filters_name_what_the_metric_set_has() {
    let r = router();
    call(&r, "CreateAnomalyDetector", detector_body()).await;
    call(&r, "CreateMetricSet", metric_set_body()).await;
    let filtered = |filters: Value| with(alert_body(), "/AlertFilters", filters);
    for (filters, field) in [
        (
            json!({"MetricList": ["nope"]}),
            "AlertFilters.MetricList[0]",
        ),
        (
            json!({"DimensionFilterList": [{"DimensionName": "nope", "DimensionValueList": ["EU"]}]}),
            "AlertFilters.DimensionFilterList[0].DimensionName",
        ),
        (json!({}), "AlertFilters"),
    ] {
        assert_names(&call(&r, "CreateAlert", filtered(filters)).await, field);
    }
    let fits = filtered(json!({"MetricList": ["revenue"],
        "DimensionFilterList": [{"DimensionName": "region", "DimensionValueList": ["EU"]}]}));
    let (status, _, created) = call(&r, "CreateAlert", fits).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let update = json!({"AlertArn": created["AlertArn"], "AlertFilters": {"MetricList": ["nope"]}});
    assert_names(
        &call(&r, "UpdateAlert", update).await,
        "AlertFilters.MetricList[0]",
    );
    let stored = call(
        &r,
        "DescribeAlert",
        json!({"AlertArn": created["AlertArn"]}),
    )
    .await
    .2;
    assert_eq!(
        stored["Alert"]["AlertFilters"]["MetricList"],
        json!(["revenue"]),
        "{stored}"
    );

    // The metric set cannot drop what an alert filters on, nor be created without it.
    let listed = call(
        &r,
        "ListMetricSets",
        json!({"AnomalyDetectorArn": DETECTOR}),
    )
    .await
    .2;
    let ms = listed["MetricSetSummaryList"][0]["MetricSetArn"].clone();
    let before = call(&r, "DescribeMetricSet", json!({"MetricSetArn": ms}))
        .await
        .2;
    let update = json!({"MetricSetArn": ms,
        "MetricList": [{"MetricName": "orders", "AggregationFunction": "SUM"}]});
    assert_names(&call(&r, "UpdateMetricSet", update).await, "MetricList");
    assert_eq!(
        call(&r, "DescribeMetricSet", json!({"MetricSetArn": ms}))
            .await
            .2,
        before
    );
    let other = DETECTOR.replace(":d", ":e");
    call(
        &r,
        "CreateAnomalyDetector",
        with(detector_body(), "/AnomalyDetectorName", json!("e")),
    )
    .await;
    let early = with(
        with(
            with(alert_body(), "/AnomalyDetectorArn", json!(other)),
            "/AlertName",
            json!("early"),
        ),
        "/AlertFilters",
        json!({"MetricList": ["refunds"]}),
    );
    assert_eq!(
        call(&r, "CreateAlert", early).await.0,
        StatusCode::OK,
        "no metric set to check yet"
    );
    let lacking = with(metric_set_body(), "/AnomalyDetectorArn", json!(other));
    assert_names(&call(&r, "CreateMetricSet", lacking).await, "MetricList");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_created_while_a_detector_is_deleted_does_not_outlive_it() {
    let r = router();
    let tag = |arn: String| {
        let r = r.clone();
        async move {
            let uri = format!("/tags/{}", arn.replace(':', "%3A"));
            let body = Body::from(json!({"tags": {"stale": "1"}}).to_string());
            r.oneshot(Request::post(uri).body(body).unwrap())
                .await
                .unwrap()
                .status()
        }
    };
    for round in 0..50 {
        let name = format!("r{round}");
        let arn = DETECTOR.replace(":d", &format!(":{name}"));
        let body = with(detector_body(), "/AnomalyDetectorName", json!(name));
        assert_eq!(
            call(&r, "CreateAnomalyDetector", body).await.0,
            StatusCode::OK
        );
        let alert = with(
            with(alert_body(), "/AnomalyDetectorArn", json!(arn)),
            "/AlertName",
            json!(format!("a{round}")),
        );
        let metric_set = with(metric_set_body(), "/AnomalyDetectorArn", json!(arn));
        // Each on its own task, so they interleave on the runtime's threads.
        let spawn = |op: &'static str, body: Value| {
            let r = r.clone();
            tokio::spawn(async move { call(&r, op, body).await })
        };
        let creates = [
            spawn("CreateMetricSet", metric_set),
            spawn("CreateAlert", alert),
        ];
        let tagged = tokio::spawn(tag(arn.clone()));
        let deleted = spawn("DeleteAnomalyDetector", json!({"AnomalyDetectorArn": arn}));
        for c in creates {
            c.await.unwrap();
        }
        tagged.await.unwrap();
        let deleted = deleted.await.unwrap();
        assert_eq!(deleted.0, StatusCode::OK, "{}", deleted.2);
        // Whatever won each race, nothing of the detector is left.
        let alerts = call(&r, "ListAlerts", json!({})).await.2;
        let orphans: Vec<&Value> = alerts["AlertSummaryList"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["AnomalyDetectorArn"] == arn.as_str())
            .collect();
        assert!(orphans.is_empty(), "round {round}: {orphans:?}");
        let body = with(detector_body(), "/AnomalyDetectorName", json!(name));
        assert_eq!(
            call(&r, "CreateAnomalyDetector", body).await.0,
            StatusCode::OK
        );
        let sets = call(&r, "ListMetricSets", json!({"AnomalyDetectorArn": arn}))
            .await
            .2;
        assert_eq!(sets["MetricSetSummaryList"], json!([]), "round {round}");
        let uri = format!("/tags/{}", arn.replace(':', "%3A"));
        let response = r
            .clone()
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let tags: Value = serde_json::from_slice(&bytes).unwrap();
        assert!(tags["Tags"].get("stale").is_none(), "round {round}: {tags}");
    }
}

#[tokio::test]
async fn a_detector_settling_is_not_activated_and_a_stuck_deactivation_is_retried() {
    let api = Arc::new(Api::new(MemoryStore::new(), std::env::temp_dir()));
    let r = app(api.clone());
    call(&r, "CreateAnomalyDetector", detector_body()).await;
    call(&r, "CreateMetricSet", metric_set_body()).await;
    let set_status = |s: &'static str| {
        let api = api.clone();
        async move {
            let mut doc = api
                .store
                .get(Kind::Detector, DETECTOR)
                .await
                .unwrap()
                .unwrap();
            doc["Status"] = json!(s);
            api.store.put(Kind::Detector, DETECTOR, doc).await.unwrap();
        }
    };
    let status = || async {
        call(
            &r,
            "DescribeAnomalyDetector",
            json!({"AnomalyDetectorArn": DETECTOR}),
        )
        .await
        .2["Status"]
            .clone()
    };
    let arn = json!({"AnomalyDetectorArn": DETECTOR});
    for settling in ["DEACTIVATING", "DELETING"] {
        set_status(settling).await;
        let (code, kind, _) = call(&r, "ActivateAnomalyDetector", arn.clone()).await;
        assert_eq!(
            (code, kind.as_str()),
            (StatusCode::CONFLICT, "ConflictException")
        );
        assert_eq!(status().await, settling);
    }
    // A deactivation left DEACTIVATING (its schedule could not be deleted) is asked again.
    set_status("DEACTIVATING").await;
    assert_eq!(
        call(&r, "DeactivateAnomalyDetector", arn.clone()).await.0,
        StatusCode::OK
    );
    assert_eq!(status().await, "DEACTIVATED");
    assert_eq!(
        call(&r, "ActivateAnomalyDetector", arn).await.0,
        StatusCode::OK
    );
    assert_eq!(status().await, "ACTIVATING");
}

#[tokio::test]
async fn a_new_offset_moves_a_running_detectors_schedule() {
    use seismo_shared::pipeline::schedule::MemorySchedules;
    let schedules = Arc::new(MemorySchedules::new());
    let api = Arc::new(
        Api::new(MemoryStore::new(), std::env::temp_dir()).with_schedules(schedules.clone()),
    );
    let r = app(api.clone());
    call(&r, "CreateAnomalyDetector", detector_body()).await;
    let (_, _, created) = call(
        &r,
        "CreateMetricSet",
        with(metric_set_body(), "/Offset", json!(300)),
    )
    .await;
    // Running, with its schedule at interval end + 5 minutes.
    let mut doc = api
        .store
        .get(Kind::Detector, DETECTOR)
        .await
        .unwrap()
        .unwrap();
    doc["Status"] = json!("ACTIVE");
    api.store.put(Kind::Detector, DETECTOR, doc).await.unwrap();
    let update = json!({"MetricSetArn": created["MetricSetArn"], "Offset": 1800});
    assert_eq!(call(&r, "UpdateMetricSet", update).await.0, StatusCode::OK);
    let specs = schedules.specs();
    let interval = specs
        .iter()
        .find(|s| s.name == "d")
        .expect("the interval schedule");
    // Half past every hour: the hour's interval ends on the hour, and the data is read 1,800 s
    // (30 minutes) later. Written out, not computed by the `cron` under test.
    assert_eq!(interval.expression, "cron(30 * * * ? *)");
}

#[tokio::test]
async fn five_measures_and_ten_dimensions_at_most() {
    let r = router();
    let measures = |n: usize| {
        let list: Vec<Value> = (0..n)
            .map(|i| json!({"MetricName": format!("m{i}"), "AggregationFunction": "SUM"}))
            .collect();
        with(metric_set_body(), "/MetricList", json!(list))
    };
    let dimensions = |n: usize| {
        let list: Vec<String> = (0..n).map(|i| format!("d{i}")).collect();
        with(metric_set_body(), "/DimensionList", json!(list))
    };
    // Every case is sent and the wrong answers listed together, so a change of either limit
    // shows in full. Refused: a ValidationException naming the list; allowed: created. Each
    // under a detector of its own, since a detector has one metric set.
    let mut wrong = Vec::new();
    for (i, (name, body, field)) in [
        ("5 measures", measures(5), None),
        ("6 measures", measures(6), Some("MetricList")),
        ("10 dimensions", dimensions(10), None),
        ("11 dimensions", dimensions(11), Some("DimensionList")),
    ]
    .into_iter()
    .enumerate()
    {
        let detector = format!("c{i}");
        let created = call(
            &r,
            "CreateAnomalyDetector",
            with(detector_body(), "/AnomalyDetectorName", json!(detector)),
        )
        .await;
        assert_eq!(created.0, StatusCode::OK, "{}", created.2);
        let body = with(
            body,
            "/AnomalyDetectorArn",
            created.2["AnomalyDetectorArn"].clone(),
        );
        let (status, kind, answer) = call(&r, "CreateMetricSet", body).await;
        match field {
            Some(field) => {
                let named = answer["Fields"]
                    .as_array()
                    .is_some_and(|f| f.iter().any(|x| x["Name"] == field));
                if (status, kind.as_str(), named)
                    != (StatusCode::BAD_REQUEST, "ValidationException", true)
                {
                    wrong.push(format!("{name}: not refused naming {field}: {answer}"));
                }
            }
            None if status != StatusCode::OK => wrong.push(format!("{name}: refused: {answer}")),
            None => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The per-detector metric quota of each frequency (the old service's): metrics are dimension
/// combinations x measures, counted over what the backtest read. Exactly at the quota the run
/// goes on (and stops at the next check: one interval is no history); one combination over,
/// it fails naming the quota. An activation learning from the same history keeps it too.
#[tokio::test]
async fn the_metric_quota_of_each_frequency_is_kept() {
    let buckets = tempfile::tempdir().unwrap();
    let api = Arc::new(Api::new(MemoryStore::new(), buckets.path()));
    let r = app(api.clone());
    let mut wrong = Vec::new();
    // Two measures, so the quota is reached with half as many combinations.
    for (frequency, quota) in [
        ("PT5M", 5_000),
        ("PT10M", 10_000),
        ("PT1H", 50_000),
        ("P1D", 50_000),
    ] {
        for combinations in [quota / 2, quota / 2 + 1] {
            let name = format!("q{}-{combinations}", frequency.to_lowercase());
            let folder = buckets.path().join("b").join(&name);
            std::fs::create_dir_all(&folder).unwrap();
            let mut csv = String::from("ts,region,orders,revenue\n");
            for i in 0..combinations {
                csv.push_str(&format!("2026-01-05 00:00:00,r{i},1,2\n"));
            }
            std::fs::write(folder.join("part.csv"), csv).unwrap();
            let detector = json!({"AnomalyDetectorName": name,
                "AnomalyDetectorConfig": {"AnomalyDetectorFrequency": frequency}});
            let (status, _, created) = call(&r, "CreateAnomalyDetector", detector).await;
            assert_eq!(status, StatusCode::OK, "{created}");
            let arn = created["AnomalyDetectorArn"].as_str().unwrap().to_string();
            let mut ms = metric_set_body();
            ms["AnomalyDetectorArn"] = json!(arn);
            ms["MetricSetFrequency"] = json!(frequency);
            ms["MetricList"] = json!([
                {"MetricName": "orders", "AggregationFunction": "SUM"},
                {"MetricName": "revenue", "AggregationFunction": "SUM"}
            ]);
            ms["MetricSource"]["S3SourceConfig"]["HistoricalDataPathList"] =
                json!([format!("s3://b/{name}/")]);
            let (status, _, answer) = call(&r, "CreateMetricSet", ms).await;
            assert_eq!(status, StatusCode::OK, "{name}: {answer}");
            let arn_body = json!({"AnomalyDetectorArn": arn});
            let (status, _, answer) = call(&r, "BackTestAnomalyDetector", arn_body.clone()).await;
            assert_eq!(status, StatusCode::OK, "{name}: {answer}");
            // What `seismo serve`'s tick and the ingest function run.
            seismo_shared::pipeline::run_backtest(&api.store, api.objects.as_ref(), &arn, None)
                .await
                .unwrap();
            let d = call(&r, "DescribeAnomalyDetector", arn_body).await.2;
            let reason = d["FailureReason"].as_str().unwrap_or_default();
            let over = combinations * 2 > quota;
            let named = reason.contains(&format!("quota of {quota} per detector at {frequency}"));
            if d["Status"] != "FAILED" || named != over {
                wrong.push(format!(
                    "{frequency}, {combinations} combinations x 2 measures: {} {reason:?}",
                    d["Status"]
                ));
            }
            if !over && !reason.contains("interval of data") {
                wrong.push(format!("{frequency} at the quota: not past it: {reason:?}"));
            }
            // Activated on the same history: ACTIVATING, then the ingest function (or the tick)
            // learns it, or fails naming the quota.
            let arn_body = json!({"AnomalyDetectorArn": arn});
            let (status, _, answer) = call(&r, "ActivateAnomalyDetector", arn_body.clone()).await;
            assert_eq!(status, StatusCode::OK, "{name}: {answer}");
            seismo_shared::pipeline::run_activation(&api.store, api.objects.as_ref(), &arn, None)
                .await
                .unwrap();
            let d = call(&r, "DescribeAnomalyDetector", arn_body).await.2;
            let reason = d["FailureReason"].as_str().unwrap_or_default();
            let named = reason.contains(&format!("quota of {quota} per detector at {frequency}"));
            let failed = d["Status"] == "FAILED";
            if failed != over || named != over {
                wrong.push(format!(
                    "activating {frequency}, {combinations} combinations x 2 measures: {} {reason:?}",
                    d["Status"]
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A one-time run (an activation, a backtest) asked for may be asked for again only once it is
/// taken for lost: 20 minutes after it was asked for (longer than the ingest function can run).
#[tokio::test]
async fn a_run_asked_for_is_taken_for_lost_after_twenty_minutes() {
    let api = Arc::new(Api::new(MemoryStore::new(), std::env::temp_dir()));
    let r = app(api.clone());
    call(&r, "CreateAnomalyDetector", detector_body()).await;
    let (status, _, answer) = call(&r, "CreateMetricSet", metric_set_body()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let run_key = format!("{DETECTOR}/run");
    let arn = json!({"AnomalyDetectorArn": DETECTOR});
    for (running, op) in [
        ("ACTIVATING", "ActivateAnomalyDetector"),
        ("BACK_TEST_ACTIVATING", "BackTestAnomalyDetector"),
    ] {
        // Stuck: the detector still says it runs, and the run was claimed `minutes` ago.
        for (minutes, taken_over) in [(19, false), (21, true)] {
            let mut doc = api
                .store
                .get(Kind::Detector, DETECTOR)
                .await
                .unwrap()
                .unwrap();
            doc["Status"] = json!(running);
            api.store.put(Kind::Detector, DETECTOR, doc).await.unwrap();
            let asked = chrono::Utc::now().timestamp() - minutes * 60;
            let stuck = json!({"token": "stuck", "requestedAt": asked, "claim": "lost"});
            api.store
                .put(Kind::Pipeline, &run_key, stuck.clone())
                .await
                .unwrap();
            let (status, kind, answer) = call(&r, op, arn.clone()).await;
            let run = api.store.get(Kind::Pipeline, &run_key).await.unwrap();
            let status_now =
                call(&r, "DescribeAnomalyDetector", arn.clone()).await.2["Status"].clone();
            if taken_over {
                assert_eq!(status, StatusCode::OK, "{op}, {minutes} min: {answer}");
                let run = run.unwrap();
                assert_ne!(run["token"], "stuck", "{op}, {minutes} min: {run}");
                assert!(run["claim"].is_null(), "{op}, {minutes} min: {run}");
                assert!(
                    run["requestedAt"].as_i64().unwrap() > asked + 20 * 60,
                    "{op}, {minutes} min: {run}"
                );
            } else {
                assert_eq!(
                    (status, kind.as_str()),
                    (StatusCode::CONFLICT, "ConflictException"),
                    "{op}, {minutes} min: {answer}"
                );
                assert_eq!(run, Some(stuck), "{op}, {minutes} min");
            }
            assert_eq!(status_now, running, "{op}, {minutes} min");
        }
    }
}
