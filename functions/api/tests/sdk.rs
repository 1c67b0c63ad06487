//! The real client, `aws-sdk-lookoutmetrics`, drives the router over HTTP on 127.0.0.1: the old
//! service's getting-started flow on generated data, and its error cases.

use std::future::IntoFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_sdk_lookoutmetrics as lm;
use lm::types::{
    AggregationFunction, AnomalyDetectorConfig, CsvFileCompression, CsvFormatDescriptor,
    FileFormatDescriptor, Frequency, Metric, MetricSource, S3SourceConfig, TimestampColumn,
};
use seismo_api::{Api, MemoryStore, StoreError, app};
use seismo_lab::generate::{self, GenerateOptions};
use seismo_lab::store::{Call, Hook, Intercept};
use seismo_shared::pipeline::alert::Outbox;
use seismo_shared::pipeline::local;

/// Serves a fresh API over `buckets` on an ephemeral port; returns a client pointed at it.
async fn serve(buckets: &std::path::Path) -> lm::Client {
    let url = start(Api::new(MemoryStore::new(), buckets)).await;
    client(&url, "secret")
}

/// Serves an API on an ephemeral port of 127.0.0.1, with `seismo serve`'s tick (activations,
/// backtests, due intervals) every 50 ms; returns its URL.
async fn start(api: Api<MemoryStore>) -> String {
    let api = Arc::new(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let ticking = api.clone();
    tokio::spawn(async move {
        let outbox = Outbox::new();
        loop {
            let now = chrono::Utc::now().timestamp();
            let objects = ticking.objects.as_ref();
            if let Err(e) = local::tick(&ticking.store, objects, &outbox, "", now).await {
                eprintln!("tick: {e}");
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    });
    tokio::spawn(async move { axum::serve(listener, app(api)).await });
    url
}

/// The detector's status once the work the API started (a backtest, an activation) is done:
/// polled until the status moves on, with a bound (ten minutes) generous enough that only a
/// run that never ends reaches it, however slow the machine.
async fn settled(
    client: &lm::Client,
    arn: &str,
) -> lm::operation::describe_anomaly_detector::DescribeAnomalyDetectorOutput {
    let poll = async {
        loop {
            let d = client
                .describe_anomaly_detector()
                .anomaly_detector_arn(arn)
                .send()
                .await
                .unwrap();
            if !matches!(
                d.status().map(|s| s.as_str()),
                Some("BACK_TEST_ACTIVATING" | "ACTIVATING")
            ) {
                return d;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    match tokio::time::timeout(std::time::Duration::from_secs(600), poll).await {
        Ok(d) => d,
        Err(_) => panic!("{arn} is still running after 10 minutes: the run never ends"),
    }
}

/// The real client, signing with access key AKIDTEST and `secret`.
fn client(url: &str, secret: &str) -> lm::Client {
    let config = lm::Config::builder()
        .behavior_version(lm::config::BehaviorVersion::latest())
        .region(lm::config::Region::new("us-east-1"))
        .credentials_provider(lm::config::Credentials::new(
            "AKIDTEST", secret, None, None, "test",
        ))
        .endpoint_url(url)
        .build();
    lm::Client::from_conf(config)
}

fn code<E: lm::error::ProvideErrorMetadata + std::fmt::Debug>(
    e: &lm::error::SdkError<E, lm::config::http::HttpResponse>,
) -> String {
    match e {
        lm::error::SdkError::ServiceError(s) => s.err().code().unwrap_or_default().to_string(),
        other => format!("not a service error: {other:?}"),
    }
}

fn message<E: lm::error::ProvideErrorMetadata>(
    e: &lm::error::SdkError<E, lm::config::http::HttpResponse>,
) -> String {
    match e {
        lm::error::SdkError::ServiceError(s) => s.err().message().unwrap_or_default().to_string(),
        _ => String::new(),
    }
}

async fn create_detector(client: &lm::Client, name: &str) -> String {
    client
        .create_anomaly_detector()
        .anomaly_detector_name(name)
        .anomaly_detector_description("shop metrics")
        .anomaly_detector_config(
            AnomalyDetectorConfig::builder()
                .anomaly_detector_frequency(Frequency::Pt1H)
                .build(),
        )
        .tags("team", "payments")
        .send()
        .await
        .unwrap()
        .anomaly_detector_arn
        .unwrap()
}

fn metric_source() -> MetricSource {
    MetricSource::builder()
        .s3_source_config(
            S3SourceConfig::builder()
                .role_arn("arn:aws:iam::000000000000:role/seismo")
                .templated_path_list(format!(
                    "s3://{}/live/{{{{yyyyMMdd}}}}/{{{{HHmm}}}}",
                    generate::BUCKET
                ))
                .historical_data_path_list(format!("s3://{}/historical/", generate::BUCKET))
                .file_format_descriptor(
                    FileFormatDescriptor::builder()
                        .csv_format_descriptor(
                            CsvFormatDescriptor::builder()
                                .file_compression(CsvFileCompression::None)
                                .contains_header(true)
                                .delimiter(",")
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .build()
}

async fn create_metric_set(
    client: &lm::Client,
    detector: &str,
) -> Result<
    String,
    lm::error::SdkError<
        lm::operation::create_metric_set::CreateMetricSetError,
        lm::config::http::HttpResponse,
    >,
> {
    create_metric_set_named(client, detector, "shop-orders").await
}

async fn create_metric_set_named(
    client: &lm::Client,
    detector: &str,
    name: &str,
) -> Result<
    String,
    lm::error::SdkError<
        lm::operation::create_metric_set::CreateMetricSetError,
        lm::config::http::HttpResponse,
    >,
> {
    let metric = |n: &str| {
        Metric::builder()
            .metric_name(n)
            .aggregation_function(AggregationFunction::Sum)
            .build()
            .unwrap()
    };
    client
        .create_metric_set()
        .anomaly_detector_arn(detector)
        .metric_set_name(name)
        .metric_list(metric("orders"))
        .metric_list(metric("revenue"))
        .dimension_list("region")
        .dimension_list("channel")
        .dimension_list("plan")
        .timestamp_column(
            TimestampColumn::builder()
                .column_name("timestamp")
                .column_format("yyyy-MM-dd HH:mm:ss")
                .build(),
        )
        .metric_set_frequency(Frequency::Pt1H)
        .offset(300)
        .metric_source(metric_source())
        .send()
        .await
        .map(|r| r.metric_set_arn.unwrap())
}

#[tokio::test]
async fn the_getting_started_flow_with_the_rust_sdk() {
    let dir = tempfile::tempdir().unwrap();
    let generated = generate::generate(
        dir.path(),
        &GenerateOptions {
            weeks: 6,
            ..GenerateOptions::default()
        },
    )
    .unwrap();
    let client = serve(dir.path()).await;

    let arn = create_detector(&client, "shop").await;
    assert_eq!(
        arn,
        "arn:aws:lookoutmetrics:us-east-1:000000000000:AnomalyDetector:shop"
    );
    let d = client
        .describe_anomaly_detector()
        .anomaly_detector_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(d.anomaly_detector_name(), Some("shop"));
    assert_eq!(d.status().map(|s| s.as_str()), Some("INACTIVE"));
    assert_eq!(
        d.anomaly_detector_config()
            .and_then(|c| c.anomaly_detector_frequency()),
        Some(&Frequency::Pt1H)
    );
    assert!(d.creation_time().is_some());
    let list = client.list_anomaly_detectors().send().await.unwrap();
    assert_eq!(list.anomaly_detector_summary_list().len(), 1);
    assert_eq!(
        list.anomaly_detector_summary_list()[0]
            .tags()
            .and_then(|t| t.get("team"))
            .map(String::as_str),
        Some("payments")
    );

    let ms = create_metric_set(&client, &arn).await.unwrap();
    assert_eq!(
        ms,
        "arn:aws:lookoutmetrics:us-east-1:000000000000:MetricSet/shop/shop-orders"
    );
    let described = client
        .describe_metric_set()
        .metric_set_arn(&ms)
        .send()
        .await
        .unwrap();
    assert_eq!(described.metric_list().len(), 2);
    assert_eq!(described.offset(), Some(300));
    let sets = client
        .list_metric_sets()
        .anomaly_detector_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(sets.metric_set_summary_list().len(), 1);

    client
        .back_test_anomaly_detector()
        .anomaly_detector_arn(&arn)
        .send()
        .await
        .unwrap();
    let d = client
        .describe_anomaly_detector()
        .anomaly_detector_arn(&arn)
        .send()
        .await
        .unwrap();
    // The call returns at once; the tick runs the backtest.
    assert!(
        matches!(
            d.status().map(|s| s.as_str()),
            Some("BACK_TEST_ACTIVATING" | "BACK_TEST_COMPLETE")
        ),
        "{d:?}"
    );
    let d = settled(&client, &arn).await;
    assert_eq!(
        d.status().map(|s| s.as_str()),
        Some("BACK_TEST_COMPLETE"),
        "{:?}",
        d.failure_reason()
    );

    let summaries = client
        .list_anomaly_group_summaries()
        .anomaly_detector_arn(&arn)
        .sensitivity_threshold(50)
        .send()
        .await
        .unwrap();
    let stats = summaries.anomaly_group_statistics().unwrap();
    assert!(
        stats.total_count() >= generated.incidents.len() as i32,
        "{stats:?}"
    );
    // The EU mobile outage: its group names region=EU and channel=mobile first.
    let outage = &generated.incidents[0];
    let mut found = false;
    for s in summaries.anomaly_group_summary_list() {
        let id = s.anomaly_group_id().unwrap();
        let g = client
            .get_anomaly_group()
            .anomaly_detector_arn(&arn)
            .anomaly_group_id(id)
            .send()
            .await
            .unwrap();
        let g = g.anomaly_group().unwrap();
        let score = g.anomaly_group_score().unwrap();
        assert!((50.0..=100.0).contains(&score));
        let impact = &g.metric_level_impact_list()[0];
        let top = |dim: &str| {
            impact
                .contribution_matrix()
                .unwrap()
                .dimension_contribution_list()
                .iter()
                .find(|d| d.dimension_name() == Some(dim))
                .and_then(|d| d.dimension_value_contribution_list().first())
                .and_then(|v| v.dimension_value().map(str::to_string))
        };
        let start = chrono::DateTime::parse_from_rfc3339(g.start_time().unwrap())
            .unwrap()
            .timestamp();
        if start == outage.start && g.primary_metric_name() == Some("orders") {
            found = true;
            assert_eq!(top("region").as_deref(), Some("EU"));
            assert_eq!(top("channel").as_deref(), Some("mobile"));
            let ts = client
                .list_anomaly_group_time_series()
                .anomaly_detector_arn(&arn)
                .anomaly_group_id(id)
                .metric_name("orders")
                .send()
                .await
                .unwrap();
            assert!(!ts.time_series_list().is_empty());
            assert_eq!(ts.timestamp_list().len(), outage.hours as usize);
            let related = client
                .list_anomaly_group_related_metrics()
                .anomaly_detector_arn(&arn)
                .anomaly_group_id(id)
                .send()
                .await
                .unwrap();
            let r = &related.inter_metric_impact_list()[0];
            assert_eq!(r.metric_name(), Some("revenue"));
            assert_eq!(
                r.relationship_type().map(|t| t.as_str()),
                Some("EFFECT_OF_INPUT_ANOMALY_GROUP")
            );
        }
    }
    assert!(found, "the EU mobile outage is among the groups");
    let quality = client
        .get_data_quality_metrics()
        .anomaly_detector_arn(&arn)
        .send()
        .await
        .unwrap();
    let metrics = quality.anomaly_detector_data_quality_metric_list()[0]
        .metric_set_data_quality_metric_list()[0]
        .data_quality_metric_list();
    let rows = metrics
        .iter()
        .find(|m| m.metric_type().map(|t| t.as_str()) == Some("ROWS_PROCESSED"))
        .unwrap();
    assert_eq!(rows.metric_value(), Some(generated.rows as f64));
    assert!(
        metrics.iter().any(|m| m.metric_type().map(|t| t.as_str())
            == Some("BACKTEST_INFERENCE_DATA_START_TIME_STAMP"))
    );

    // Tags.
    client
        .tag_resource()
        .resource_arn(&ms)
        .tags("env", "dev")
        .send()
        .await
        .unwrap();
    let tags = client
        .list_tags_for_resource()
        .resource_arn(&ms)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags.tags().and_then(|t| t.get("env")).map(String::as_str),
        Some("dev")
    );
    client
        .untag_resource()
        .resource_arn(&ms)
        .tag_keys("env")
        .send()
        .await
        .unwrap();
    let tags = client
        .list_tags_for_resource()
        .resource_arn(&ms)
        .send()
        .await
        .unwrap();
    assert!(tags.tags().is_none_or(|t| t.is_empty()));

    // Delete removes the detector, its metric set and its results.
    client
        .delete_anomaly_detector()
        .anomaly_detector_arn(&arn)
        .send()
        .await
        .unwrap();
    let e = client
        .describe_metric_set()
        .metric_set_arn(&ms)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    let e = client
        .list_anomaly_group_summaries()
        .anomaly_detector_arn(&arn)
        .sensitivity_threshold(0)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
}

#[tokio::test]
async fn errors_have_the_old_service_codes_and_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let client = serve(dir.path()).await;
    let missing = "arn:aws:lookoutmetrics:us-east-1:000000000000:AnomalyDetector:nope";

    let e = client
        .describe_anomaly_detector()
        .anomaly_detector_arn(missing)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");

    let arn = create_detector(&client, "dup").await;
    let e = client
        .create_anomaly_detector()
        .anomaly_detector_name("dup")
        .anomaly_detector_config(
            AnomalyDetectorConfig::builder()
                .anomaly_detector_frequency(Frequency::P1D)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ConflictException");

    let e = client
        .create_anomaly_detector()
        .anomaly_detector_name("-bad name")
        .anomaly_detector_config(
            AnomalyDetectorConfig::builder()
                .anomaly_detector_frequency(Frequency::P1D)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    assert!(
        message(&e).contains("AnomalyDetectorName"),
        "{}",
        message(&e)
    );

    let e = client
        .describe_anomaly_detector()
        .anomaly_detector_arn("not-an-arn")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    assert!(message(&e).contains("AnomalyDetectorArn"));

    let e = client
        .list_anomaly_detectors()
        .max_results(0)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    assert!(message(&e).contains("MaxResults"));

    let e = client
        .list_anomaly_group_summaries()
        .anomaly_detector_arn(&arn)
        .sensitivity_threshold(101)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    assert!(message(&e).contains("SensitivityThreshold"));

    // One metric set per detector: the same again is a conflict, a second a quota error.
    create_metric_set(&client, &arn).await.unwrap();
    let e = create_metric_set(&client, &arn).await.unwrap_err();
    assert_eq!(code(&e), "ConflictException");
    let e = create_metric_set_named(&client, &arn, "shop-refunds")
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ServiceQuotaExceededException");

    // A backtest over no data fails the detector with a reason, never a 500.
    client
        .back_test_anomaly_detector()
        .anomaly_detector_arn(&arn)
        .send()
        .await
        .unwrap();
    let d = settled(&client, &arn).await;
    assert_eq!(d.status().map(|s| s.as_str()), Some("FAILED"));
    assert!(
        d.failure_reason()
            .unwrap_or_default()
            .contains("nothing under"),
        "{:?}",
        d.failure_reason()
    );
}

/// What a backend failure says that a client must never see: a table, a request id.
const BACKEND_DETAIL: &str =
    "ProvisionedThroughputExceededException on table seismo-prod-7f3a (request 8HJ2K)";

/// The memory store that, once `failing` is set, fails every call as a backend does.
type FailingStore = Intercept<MemoryStore, Outage>;

/// Whether the backend is failing.
#[derive(Debug, Default)]
struct Outage {
    failing: AtomicBool,
}

impl Hook<MemoryStore> for Outage {
    async fn around<T: Send>(
        &self,
        _call: Call<'_>,
        work: impl Future<Output = Result<T, StoreError>> + Send,
    ) -> Result<T, StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::Backend(BACKEND_DETAIL.to_string()));
        }
        work.await
    }
}

/// An InternalServerException as the old service sent it: 500, its type in
/// `x-amzn-ErrorType`, and a message that says nothing of the backend.
fn assert_internal<E: lm::error::ProvideErrorMetadata + std::fmt::Debug>(
    e: &lm::error::SdkError<E, lm::config::http::HttpResponse>,
    what: &str,
) {
    let lm::error::SdkError::ServiceError(s) = e else {
        panic!("{what}: not a service error: {e:?}");
    };
    assert_eq!(s.raw().status().as_u16(), 500, "{what}");
    assert_eq!(
        s.raw().headers().get("x-amzn-ErrorType"),
        Some("InternalServerException"),
        "{what}"
    );
    assert_eq!(code(e), "InternalServerException", "{what}");
    let said = format!(
        "{}{}",
        message(e),
        String::from_utf8_lossy(s.raw().body().bytes().unwrap_or_default())
    );
    assert!(!message(e).is_empty(), "{what}: no message");
    for detail in [
        "seismo-prod-7f3a",
        "8HJ2K",
        "ProvisionedThroughput",
        "store:",
    ] {
        assert!(
            !said.contains(detail),
            "{what}: the answer tells {detail:?}: {said}"
        );
    }
}

#[tokio::test]
async fn a_failing_store_is_an_internal_server_exception_that_tells_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let api = Arc::new(Api::new(FailingStore::default(), dir.path()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, app(api.clone())).into_future());
    // One attempt per call: the SDK would retry a 500.
    let client = client(&url, "secret");
    let client = lm::Client::from_conf(
        client
            .config()
            .to_builder()
            .retry_config(lm::config::retry::RetryConfig::disabled())
            .build(),
    );
    let arn = create_detector(&client, "shop").await;

    api.store.failing.store(true, Ordering::SeqCst);
    let e = client
        .describe_anomaly_detector()
        .anomaly_detector_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_internal(&e, "a read");
    let e = client
        .create_anomaly_detector()
        .anomaly_detector_name("other")
        .anomaly_detector_config(
            AnomalyDetectorConfig::builder()
                .anomaly_detector_frequency(Frequency::Pt1H)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_internal(&e, "a create");
    let e = client.list_anomaly_detectors().send().await.unwrap_err();
    assert_internal(&e, "a listing");

    // The store back: the same requests work, nothing was left half done.
    api.store.failing.store(false, Ordering::SeqCst);
    let d = client
        .describe_anomaly_detector()
        .anomaly_detector_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(d.status().map(|s| s.as_str()), Some("INACTIVE"));
    let list = client.list_anomaly_detectors().send().await.unwrap();
    assert_eq!(list.anomaly_detector_summary_list().len(), 1);
}

#[tokio::test]
async fn pagination_walks_every_detector_once() {
    let dir = tempfile::tempdir().unwrap();
    let client = serve(dir.path()).await;
    for i in 0..7 {
        create_detector(&client, &format!("d{i}")).await;
    }
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_anomaly_detectors()
            .max_results(3)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        names.extend(
            page.anomaly_detector_summary_list()
                .iter()
                .filter_map(|d| d.anomaly_detector_name().map(str::to_string)),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(names, ["d0", "d1", "d2", "d3", "d4", "d5", "d6"]);
}

#[tokio::test]
async fn a_server_with_keys_takes_only_requests_signed_with_them() {
    let dir = tempfile::tempdir().unwrap();
    let api = Api::new(MemoryStore::new(), dir.path())
        .with_keys([("AKIDTEST".to_string(), "right-secret".to_string())]);
    let url = start(api).await;
    let good = client(&url, "right-secret");
    let arn = create_detector(&good, "signed").await;
    // Paths with an ARN in them are signed over their encoded form.
    good.tag_resource()
        .resource_arn(&arn)
        .tags("k", "v")
        .send()
        .await
        .unwrap();
    let tags = good
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags.tags().and_then(|t| t.get("k")).map(String::as_str),
        Some("v")
    );
    good.untag_resource()
        .resource_arn(&arn)
        .tag_keys("k")
        .send()
        .await
        .unwrap();

    let bad = client(&url, "wrong-secret");
    let e = bad.list_anomaly_detectors().send().await.unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    assert!(message(&e).contains("signature"), "{}", message(&e));
}

/// Behind API Gateway with IAM auth, requests are signed for `execute-api`: the Rust SDK's
/// override (the README shows it) is an interceptor that puts that signing name in the request's
/// configuration. Checked on the wire, and accepted by a server that verifies signatures.
#[derive(Debug)]
struct SignFor(&'static str);

impl lm::config::Intercept for SignFor {
    fn name(&self) -> &'static str {
        "SignFor"
    }

    fn modify_before_signing(
        &self,
        _context: &mut lm::config::interceptors::BeforeTransmitInterceptorContextMut<'_>,
        _components: &lm::config::RuntimeComponents,
        cfg: &mut lm::config::ConfigBag,
    ) -> Result<(), lm::error::BoxError> {
        cfg.interceptor_state()
            .store_put(aws_types::SigningName::from_static(self.0));
        Ok(())
    }
}

#[derive(Debug, Default, Clone)]
struct Seen(Arc<std::sync::Mutex<Vec<String>>>);

impl lm::config::Intercept for Seen {
    fn name(&self) -> &'static str {
        "Seen"
    }

    fn read_before_transmit(
        &self,
        context: &lm::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _components: &lm::config::RuntimeComponents,
        _cfg: &mut lm::config::ConfigBag,
    ) -> Result<(), lm::error::BoxError> {
        if let Some(auth) = context.request().headers().get("authorization") {
            self.0.lock().unwrap().push(auth.to_string());
        }
        Ok(())
    }
}

#[tokio::test]
async fn the_sdk_signs_for_execute_api_with_the_documented_override() {
    let dir = tempfile::tempdir().unwrap();
    let api = Api::new(MemoryStore::new(), dir.path())
        .with_keys([("AKIDTEST".to_string(), "right-secret".to_string())]);
    let url = start(api).await;
    let seen = Seen::default();
    let config = lm::Config::builder()
        .behavior_version(lm::config::BehaviorVersion::latest())
        .region(lm::config::Region::new("eu-west-1"))
        .credentials_provider(lm::config::Credentials::new(
            "AKIDTEST",
            "right-secret",
            None,
            None,
            "test",
        ))
        .endpoint_url(&url)
        .interceptor(SignFor("execute-api"))
        .interceptor(seen.clone())
        .build();
    let client = lm::Client::from_conf(config);
    client.list_anomaly_detectors().send().await.unwrap();
    let headers = seen.0.lock().unwrap().clone();
    assert_eq!(headers.len(), 1);
    assert!(
        headers[0].contains("/eu-west-1/execute-api/aws4_request"),
        "{headers:?}"
    );
}

/// The operations the getting-started flow does not reach, each with the real client and an
/// error case: updates, alerts, feedback, sample data and format detection.
#[tokio::test]
async fn updates_alerts_feedback_and_source_inspection_with_the_rust_sdk() {
    use lm::types::{
        Action, AlertFilters, AnomalyGroupTimeSeries, AnomalyGroupTimeSeriesFeedback,
        AutoDetectionMetricSource, AutoDetectionS3SourceConfig, SnsConfiguration, SnsFormat,
    };
    let dir = tempfile::tempdir().unwrap();
    generate::generate(
        dir.path(),
        &GenerateOptions {
            weeks: 6,
            ..GenerateOptions::default()
        },
    )
    .unwrap();
    let client = serve(dir.path()).await;
    let arn = create_detector(&client, "shop").await;
    let ms = create_metric_set(&client, &arn).await.unwrap();

    // UpdateAnomalyDetector, UpdateMetricSet.
    client
        .update_anomaly_detector()
        .anomaly_detector_arn(&arn)
        .anomaly_detector_description("shop metrics, hourly")
        .send()
        .await
        .unwrap();
    let d = client
        .describe_anomaly_detector()
        .anomaly_detector_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        d.anomaly_detector_description(),
        Some("shop metrics, hourly")
    );
    client
        .update_metric_set()
        .metric_set_arn(&ms)
        .metric_set_description("orders and revenue")
        .offset(600)
        .send()
        .await
        .unwrap();
    let m = client
        .describe_metric_set()
        .metric_set_arn(&ms)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (m.metric_set_description(), m.offset()),
        (Some("orders and revenue"), Some(600))
    );
    let e = client
        .update_metric_set()
        .metric_set_arn(format!("{ms}-missing"))
        .offset(60)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");

    // Alerts: create, describe, list, update, delete.
    let action = Action::builder()
        .sns_configuration(
            SnsConfiguration::builder()
                .role_arn("arn:aws:iam::000000000000:role/alerts")
                .sns_topic_arn("arn:aws:sns:us-east-1:000000000000:shop")
                .sns_format(SnsFormat::ShortText)
                .build()
                .unwrap(),
        )
        .build();
    let alert = client
        .create_alert()
        .alert_name("shop-drops")
        .alert_sensitivity_threshold(70)
        .anomaly_detector_arn(&arn)
        .action(action)
        .alert_filters(AlertFilters::builder().metric_list("revenue").build())
        .send()
        .await
        .unwrap()
        .alert_arn
        .unwrap();
    let described = client
        .describe_alert()
        .alert_arn(&alert)
        .send()
        .await
        .unwrap();
    let a = described.alert().unwrap();
    assert_eq!(a.alert_sensitivity_threshold(), 70);
    assert_eq!(a.alert_filters().unwrap().metric_list(), ["revenue"]);
    client
        .update_alert()
        .alert_arn(&alert)
        .alert_sensitivity_threshold(40)
        .send()
        .await
        .unwrap();
    let listed = client
        .list_alerts()
        .anomaly_detector_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.alert_summary_list().len(), 1);
    assert_eq!(
        listed.alert_summary_list()[0].alert_sensitivity_threshold(),
        40
    );
    client
        .delete_alert()
        .alert_arn(&alert)
        .send()
        .await
        .unwrap();
    let e = client
        .describe_alert()
        .alert_arn(&alert)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");

    // Feedback on a series of a backtest's group.
    client
        .back_test_anomaly_detector()
        .anomaly_detector_arn(&arn)
        .send()
        .await
        .unwrap();
    settled(&client, &arn).await;
    let groups = client
        .list_anomaly_group_summaries()
        .anomaly_detector_arn(&arn)
        .sensitivity_threshold(50)
        .send()
        .await
        .unwrap();
    let group = groups.anomaly_group_summary_list()[0].clone();
    let id = group.anomaly_group_id().unwrap();
    let series = client
        .list_anomaly_group_time_series()
        .anomaly_detector_arn(&arn)
        .anomaly_group_id(id)
        .metric_name(group.primary_metric_name().unwrap())
        .send()
        .await
        .unwrap();
    let ts = series.time_series_list()[0].time_series_id().to_string();
    client
        .put_feedback()
        .anomaly_detector_arn(&arn)
        .anomaly_group_time_series_feedback(
            AnomalyGroupTimeSeriesFeedback::builder()
                .anomaly_group_id(id)
                .time_series_id(&ts)
                .is_anomaly(false)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let fb = client
        .get_feedback()
        .anomaly_detector_arn(&arn)
        .anomaly_group_time_series_feedback(
            AnomalyGroupTimeSeries::builder()
                .anomaly_group_id(id)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let got = fb.anomaly_group_time_series_feedback();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].time_series_id(), got[0].is_anomaly()),
        (Some(ts.as_str()), Some(false))
    );
    let e = client
        .put_feedback()
        .anomaly_detector_arn(&arn)
        .anomaly_group_time_series_feedback(
            AnomalyGroupTimeSeriesFeedback::builder()
                .anomaly_group_id(id)
                .time_series_id("no-such-series")
                .is_anomaly(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");

    // GetSampleData and DetectMetricSetConfig on the generated files.
    let sample = client
        .get_sample_data()
        .s3_source_config(
            lm::types::SampleDataS3SourceConfig::builder()
                .role_arn("arn:aws:iam::000000000000:role/seismo")
                .historical_data_path_list(format!("s3://{}/historical/", generate::BUCKET))
                .file_format_descriptor(
                    FileFormatDescriptor::builder()
                        .csv_format_descriptor(
                            CsvFormatDescriptor::builder()
                                .contains_header(true)
                                .delimiter(",")
                                .build(),
                        )
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        sample.header_values(),
        [
            "timestamp",
            "region",
            "channel",
            "plan",
            "orders",
            "revenue"
        ]
    );
    assert_eq!(sample.sample_rows().len(), 10);
    // An hourly file with one row per hour and region (the generated sample's rows arrive at
    // random minutes, which no interval describes exactly).
    let aligned = dir.path().join(generate::BUCKET).join("aligned");
    std::fs::create_dir_all(&aligned).unwrap();
    let mut csv = String::from("time;region;orders\n");
    for h in 0..48 {
        for region in ["EU", "US"] {
            csv.push_str(&format!(
                "2026-01-{:02} {:02}:00:00;{region};{}\n",
                1 + h / 24,
                h % 24,
                10 + h
            ));
        }
    }
    std::fs::write(aligned.join("orders.csv"), csv).unwrap();
    let detected = client
        .detect_metric_set_config()
        .anomaly_detector_arn(&arn)
        .auto_detection_metric_source(
            AutoDetectionMetricSource::builder()
                .s3_source_config(
                    AutoDetectionS3SourceConfig::builder()
                        .historical_data_path_list(format!("s3://{}/aligned/", generate::BUCKET))
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let config = detected.detected_metric_set_config().unwrap();
    let frequency = config
        .metric_set_frequency()
        .and_then(|f| f.value())
        .and_then(|v| v.s());
    assert_eq!(frequency, Some("PT1H"));
    let csv = config
        .metric_source()
        .and_then(|m| m.s3_source_config())
        .and_then(|s| s.file_format_descriptor())
        .and_then(|f| f.csv_format_descriptor())
        .unwrap();
    assert_eq!(
        csv.delimiter().and_then(|d| d.value()).and_then(|v| v.s()),
        Some(";")
    );
    assert_eq!(
        csv.contains_header()
            .and_then(|d| d.value())
            .and_then(|v| v.s()),
        Some("true")
    );
    let e = client
        .detect_metric_set_config()
        .anomaly_detector_arn(&arn)
        .auto_detection_metric_source(
            AutoDetectionMetricSource::builder()
                .s3_source_config(
                    AutoDetectionS3SourceConfig::builder()
                        .historical_data_path_list("s3://nothing-here/at-all/")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
}
