//! The serverless pipeline against AWS services emulated by the moto server: the DynamoDB
//! store's contract, and the whole flow of a detector (API on DynamoDB, schedule in EventBridge
//! Scheduler, files in S3, ingest -> SQS -> detect -> SQS -> notify -> SNS -> an SQS
//! subscription), replayed to show retries change nothing; and alerts of every kind at notify.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_sdk_lookoutmetrics as lm;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sqs::types::QueueAttributeName;
use lm::types::{
    Action, AggregationFunction, AlertFilters, AnomalyDetectorConfig, CsvFileCompression,
    CsvFormatDescriptor, DimensionFilter, FileFormatDescriptor, Frequency, LambdaConfiguration,
    Metric, MetricSource, S3SourceConfig, SnsConfiguration, SnsFormat, TimestampColumn,
};
use seismo_api::{Api, app};
use seismo_lab::generate::{self, GenerateOptions};
use seismo_shared::aws::{
    self, AwsPublisher, dynamodb::DynamoStore, s3::S3Objects, scheduler::EventBridgeSchedules,
    sqs::SqsQueue,
};
use seismo_shared::handlers::{self, Queue, SqsBatchResponse, SqsEvent};
use seismo_shared::model::timestamp_string;
use seismo_shared::objects::{BoxFuture, LocalObjects, Objects};
use seismo_shared::pipeline::{self, When, alert::Publisher};
use seismo_shared::store::{self, Kind, Store, StoreError, WithObjects};
use seismo_shared::time::{Zone, format_java};
use seismo_tests::Moto;
use serde_json::{Value, json};

const ACCOUNT: &str = "123456789012";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dynamodb_store_passes_the_contract_paginates_and_serialises_writers() {
    let moto = Moto::start();
    let config = aws::config(Some(&moto.endpoint)).await;
    let s = DynamoStore::new(&config, "contract");
    s.ensure_table().await.unwrap();
    s.ensure_table().await.unwrap();
    store::contract(&s).await;

    // More than one 1 MB query page.
    let big = "x".repeat(60_000);
    for i in 0..30 {
        s.put(
            Kind::Group,
            &format!("d/{i:02}"),
            json!({ "i": i, "pad": big }),
        )
        .await
        .unwrap();
    }
    let listed = s.list(Kind::Group, "d/").await.unwrap();
    assert_eq!(listed.len(), 30);
    assert_eq!(listed[29].1["i"], 29);

    // Sixteen concurrent creates of one key: one wins.
    let s = Arc::new(s);
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.create(Kind::Detector, "race", json!(i)).await
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => won += 1,
            Err(StoreError::Exists) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(won, 1);
}

/// The deployed store: DynamoDB for documents, S3 for model state and interval blobs.
type PipelineStore = WithObjects<DynamoStore>;

/// The template's state bucket, and the folder the functions keep large values under.
const STATE_BUCKET: &str = "seismo-state";
const STATE_ROOT: &str = "s3://seismo-state/state";

/// AWS resources the template would create, made in moto.
struct Stack {
    store: PipelineStore,
    objects: S3Objects,
    detect_queue: (String, SqsQueue),
    notify_queue: (String, SqsQueue),
    alerts_url: String,
    topic: String,
    sqs: aws_sdk_sqs::Client,
    scheduler: EventBridgeSchedules,
    publisher: AwsPublisher,
}

async fn stack(endpoint: &str) -> Stack {
    let config = aws::config(Some(endpoint)).await;
    let table = DynamoStore::new(&config, "seismo");
    table.ensure_table().await.unwrap();
    let objects = S3Objects::new(&config);
    for bucket in [generate::BUCKET, STATE_BUCKET] {
        objects
            .client()
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .unwrap();
    }
    let store = WithObjects::new(table, Arc::new(objects.clone()), STATE_ROOT);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let mut urls = Vec::new();
    for name in ["detect", "notify", "alerts"] {
        let url = sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        urls.push(url);
    }
    let sns = aws_sdk_sns::Client::new(&config);
    let topic = sns
        .create_topic()
        .name("shop-alerts")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let alerts_arn = sqs
        .get_queue_attributes()
        .queue_url(&urls[2])
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(alerts_arn)
        .send()
        .await
        .unwrap();
    let scheduler = EventBridgeSchedules::new(
        &config,
        "seismo",
        format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:seismo-ingest"),
        format!("arn:aws:iam::{ACCOUNT}:role/seismo-scheduler"),
    );
    scheduler
        .client()
        .create_schedule_group()
        .name("seismo")
        .send()
        .await
        .unwrap();
    Stack {
        store,
        objects,
        detect_queue: (urls[0].clone(), SqsQueue::new(&config, &urls[0])),
        notify_queue: (urls[1].clone(), SqsQueue::new(&config, &urls[1])),
        alerts_url: urls[2].clone(),
        topic,
        sqs,
        scheduler,
        publisher: AwsPublisher::new(&config),
    }
}

/// Dates the detector's one-time run request five minutes (the Offset) back, keeping
/// enough margin that the hour after the one closed last then does not close, Offset
/// included, before the run (it waits out the last ten seconds of such an hour).
async fn asked_five_minutes_ago(store: &PipelineStore, arn: &str) {
    let mut now = chrono::Utc::now().timestamp();
    if (now - 300).rem_euclid(3600) > 3590 {
        tokio::time::sleep(std::time::Duration::from_secs(11)).await;
        now = chrono::Utc::now().timestamp();
    }
    let key = format!("{arn}/run");
    let mut asked = store.get(Kind::Pipeline, &key).await.unwrap().unwrap();
    asked["requestedAt"] = json!(now - 300);
    store.put(Kind::Pipeline, &key, asked).await.unwrap();
}

/// Receives every message waiting in a queue (and deletes them).
async fn drain(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    loop {
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .send()
            .await
            .unwrap();
        let messages = got.messages();
        if messages.is_empty() {
            return out;
        }
        for m in messages {
            out.push((
                m.message_id().unwrap_or_default().to_string(),
                m.body().unwrap_or_default().to_string(),
            ));
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

/// The SQS event Lambda would deliver for these messages.
fn sqs_event(messages: &[(String, String)]) -> Value {
    json!({ "Records": messages.iter().map(|(id, body)| json!({
        "messageId": id, "body": body, "eventSource": "aws:sqs",
    })).collect::<Vec<_>>() })
}

/// An SQS event's JSON as the runtime hands it to the detect and notify handlers.
fn sqs_input(event: Value) -> SqsEvent {
    serde_json::from_value(event).unwrap()
}

/// A batch response as the runtime sends it back to Lambda.
fn wire(response: SqsBatchResponse) -> Value {
    serde_json::to_value(response).unwrap()
}

fn metric_source() -> MetricSource {
    MetricSource::builder()
        .s3_source_config(
            S3SourceConfig::builder()
                .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/seismo"))
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

async fn serve(api: Api<PipelineStore>) -> lm::Client {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let api = Arc::new(api);
    tokio::spawn(async move { axum::serve(listener, app(api)).await });
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

/// Everything the pipeline produced, to compare a replay against: documents and the state
/// bucket's objects (with their bytes).
async fn snapshot(store: &PipelineStore, arn: &str) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for kind in [Kind::Group, Kind::Execution, Kind::Pipeline] {
        for (k, v) in store.list(kind, &format!("{arn}/")).await.unwrap() {
            out.insert(format!("{}/{k}", kind.name()), v);
        }
    }
    let objects = &store.large_values().unwrap().objects;
    for object in objects.list(&format!("{STATE_ROOT}/{arn}/")).await.unwrap() {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut objects.open(&object).await.unwrap(), &mut bytes).unwrap();
        out.insert(object, json!(bytes));
    }
    out.insert(
        "quality".into(),
        store
            .get(Kind::Quality, arn)
            .await
            .unwrap()
            .unwrap_or_default(),
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detector_runs_on_aws_services_alerts_once_per_group_and_replays_change_nothing() {
    // The flow's future is large in a dev build: it lives on the heap, not on the test
    // thread's 2 MiB stack (which it came close to filling).
    Box::pin(a_detector_on_aws_services()).await
}

async fn a_detector_on_aws_services() {
    let moto = Moto::start();
    let stack = stack(&moto.endpoint).await;
    let dir = tempfile::tempdir().unwrap();
    let generated = generate::generate(dir.path(), &GenerateOptions::default()).unwrap();
    let incident = &generated.incidents[0];
    assert_eq!(incident.description, "EU mobile checkout outage");

    // History up to two hours before the incident; then eight live hours around it, an hour
    // whose file is missing, one whose file is garbage, and a last normal hour.
    let hour = 3600;
    let first_live = incident.start - 2 * hour;
    let window: Vec<i64> = (0..11).map(|k| first_live + k * hour).collect();
    let (missing, garbage) = (window[8], window[9]);
    generate::cut_history(dir.path(), first_live).unwrap();
    let bucket_dir = dir.path().join(generate::BUCKET);
    let kept = std::fs::read_to_string(bucket_dir.join("historical/metrics.csv")).unwrap();
    let s3 = stack.objects.client();
    let put = |key: String, body: Vec<u8>| {
        s3.put_object()
            .bucket(generate::BUCKET)
            .key(key)
            .body(ByteStream::from(body))
            .send()
    };
    put("historical/metrics.csv".into(), kept.into_bytes())
        .await
        .unwrap();
    for &t in &window {
        let folder = format!(
            "live/{}/{}",
            format_java(t, "yyyyMMdd", Zone::UTC).unwrap(),
            format_java(t, "HHmm", Zone::UTC).unwrap()
        );
        if t == missing {
            continue;
        }
        let body = if t == garbage {
            b"\x00\x01 this is not the metric file\n".to_vec()
        } else {
            std::fs::read(bucket_dir.join(&folder).join("metrics.csv")).unwrap()
        };
        put(format!("{folder}/metrics.csv"), body).await.unwrap();
    }

    // The API on DynamoDB, S3 and the scheduler, driven by the real client.
    let api = Api::new(stack.store.clone(), dir.path())
        .with_objects(Arc::new(stack.objects.clone()))
        .with_schedules(Arc::new(stack.scheduler.clone()))
        .with_account("us-east-1", ACCOUNT);
    let client = serve(api).await;
    let arn = client
        .create_anomaly_detector()
        .anomaly_detector_name("shop")
        .anomaly_detector_config(
            AnomalyDetectorConfig::builder()
                .anomaly_detector_frequency(Frequency::Pt1H)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .anomaly_detector_arn
        .unwrap();
    let metric = |n: &str| {
        Metric::builder()
            .metric_name(n)
            .aggregation_function(AggregationFunction::Sum)
            .build()
            .unwrap()
    };
    client
        .create_metric_set()
        .anomaly_detector_arn(&arn)
        .metric_set_name("shop-orders")
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
        .unwrap();
    let sns_action = |format: SnsFormat| {
        Action::builder()
            .sns_configuration(
                SnsConfiguration::builder()
                    .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/seismo-alerts"))
                    .sns_topic_arn(&stack.topic)
                    .sns_format(format)
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let all_alert = client
        .create_alert()
        .alert_name("shop-all")
        .alert_description("every measure")
        .alert_sensitivity_threshold(50)
        .anomaly_detector_arn(&arn)
        .action(sns_action(SnsFormat::Json))
        .send()
        .await
        .unwrap()
        .alert_arn
        .unwrap();
    let revenue_alert = client
        .create_alert()
        .alert_name("shop-revenue-sms")
        .alert_sensitivity_threshold(30)
        .anomaly_detector_arn(&arn)
        .action(sns_action(SnsFormat::ShortText))
        .alert_filters(AlertFilters::builder().metric_list("revenue").build())
        .send()
        .await
        .unwrap()
        .alert_arn
        .unwrap();

    // Sample data comes through the same object port: from S3 here.
    let sample = client
        .get_sample_data()
        .s3_source_config(
            lm::types::SampleDataS3SourceConfig::builder()
                .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/seismo"))
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
    assert_eq!(sample.header_values()[0], "timestamp");
    assert_eq!(sample.sample_rows().len(), 10);

    // Activation returns at once (ACTIVATING) with two schedules: the detector's, and a
    // one-time one whose event has ingest learn from the history (moto does not fire
    // schedules: the test fires it, as EventBridge Scheduler would a minute later).
    client
        .activate_anomaly_detector()
        .anomaly_detector_arn(&arn)
        .send()
        .await
        .unwrap();
    let status = || async {
        let d = client
            .describe_anomaly_detector()
            .anomaly_detector_arn(&arn)
            .send()
            .await
            .unwrap();
        d.status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default()
    };
    let get_schedule = |name: &'static str| {
        stack
            .scheduler
            .client()
            .get_schedule()
            .group_name("seismo")
            .name(name)
            .send()
    };
    assert_eq!(status().await, "ACTIVATING");
    let once = get_schedule("shop.activate").await.unwrap();
    assert!(
        once.schedule_expression().unwrap().starts_with("at("),
        "{once:?}"
    );
    assert_eq!(
        once.action_after_completion().map(|a| a.as_str()),
        Some("DELETE")
    );
    let input: Value = serde_json::from_str(once.target().unwrap().input().unwrap()).unwrap();
    assert_eq!(
        (&input["anomalyDetectorArn"], &input["activate"]),
        (&json!(arn), &json!(true))
    );
    // An event of an earlier request (another token) does nothing.
    let mut outdated = input.clone();
    outdated["token"] = json!("an-earlier-request");
    let out = handlers::ingest(
        &stack.store,
        &stack.objects,
        &stack.detect_queue.1,
        outdated,
    )
    .await
    .unwrap();
    assert_eq!(out, json!({"activation": "ACTIVATING"}));
    // The one-time schedule fires as if five minutes (the Offset) after the request: then the
    // hour that had closed last when it was asked for is due (its Offset has passed), and the
    // hour after it is not, whatever the time now. (Only when the request's hour is about to
    // close could the next hour become due before the event runs: then it waits.)
    // (Boxed: the test's future is near the stack's size in a debug build.)
    Box::pin(asked_five_minutes_ago(&stack.store, &arn)).await;
    let mut caught_up = Vec::new();
    for _ in 0..2 {
        // Fired twice (a retry): the second changes nothing. The first also ingests the
        // interval closed last at the request, whose firing came while the detector learned
        // (today's hour: no data here).
        let out = handlers::ingest(
            &stack.store,
            &stack.objects,
            &stack.detect_queue.1,
            input.clone(),
        )
        .await
        .unwrap();
        assert_eq!(out["activation"], "ACTIVE", "{out}");
        caught_up.push(out["caughtUp"].as_u64().unwrap());
    }
    assert_eq!(caught_up, [1, 0]);
    // Its detect work runs last, as the latest interval would (the window below is weeks
    // before it).
    let caught_up_tasks = drain(&stack.sqs, &stack.detect_queue.0).await;
    assert_eq!(caught_up_tasks.len(), 1);
    assert_eq!(status().await, "ACTIVE");
    let schedule = get_schedule("shop").await.unwrap();
    assert_eq!(schedule.schedule_expression(), Some("cron(5 * * * ? *)"));
    let target = schedule.target().unwrap();
    assert!(target.arn().ends_with(":function:seismo-ingest"));
    let input: Value = serde_json::from_str(target.input().unwrap()).unwrap();
    assert_eq!(input["anomalyDetectorArn"], arn.as_str());
    assert_eq!(input["scheduledTime"], "<aws.scheduler.scheduled-time>");

    // Each interval: the schedule's event (fired at interval end + Offset) at ingest, the
    // detect queue's messages at detect, the notify queue's at notify.
    let mut events: Vec<(&str, Value)> = Vec::new();
    // The sample events in events/ are this run's outage hour.
    let sample = |path: &str| -> Value {
        let file = seismo_tests::repo_root().join("events").join(path);
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
    };
    let body_of = |e: &Value| -> Value {
        serde_json::from_str(e["Records"][0]["body"].as_str().unwrap()).unwrap()
    };
    for &t in &window {
        let mut event = json!({
            "anomalyDetectorArn": arn,
            "scheduledTime": timestamp_string(t + hour + 300),
        });
        if t == incident.start {
            assert_eq!(sample("ingest/scheduled.json"), event);
            event = sample("ingest/scheduled.json");
        }
        let out = handlers::ingest(
            &stack.store,
            &stack.objects,
            &stack.detect_queue.1,
            event.clone(),
        )
        .await
        .unwrap();
        assert_eq!(out["shards"], 1, "{out}");
        events.push(("ingest", event));
        let tasks = drain(&stack.sqs, &stack.detect_queue.0).await;
        assert_eq!(tasks.len(), 1);
        let event = sqs_event(&tasks);
        if t == incident.start {
            assert_eq!(body_of(&event), body_of(&sample("detect/shard.json")));
        }
        let out = wire(
            handlers::detect(
                &stack.store,
                &stack.notify_queue.1,
                sqs_input(event.clone()),
            )
            .await
            .unwrap(),
        );
        assert_eq!(out["batchItemFailures"], json!([]));
        events.push(("detect", event));
        let work = drain(&stack.sqs, &stack.notify_queue.0).await;
        if !work.is_empty() {
            let event = sqs_event(&work);
            if t == incident.start {
                assert_eq!(body_of(&event), body_of(&sample("notify/groups.json")));
            }
            let out = wire(
                handlers::notify(
                    &stack.store,
                    &stack.publisher,
                    "https://console.example",
                    sqs_input(event.clone()),
                )
                .await
                .unwrap(),
            );
            assert_eq!(out["batchItemFailures"], json!([]));
            events.push(("notify", event));
        }
    }

    // Executions: one per interval; the missing and the garbage file are failures with the
    // reason, and the interval after them ran as usual.
    let executions = client
        .describe_anomaly_detection_executions()
        .anomaly_detector_arn(&arn)
        .send()
        .await
        .unwrap();
    let by_time: BTreeMap<String, (String, Option<String>)> = executions
        .execution_list()
        .iter()
        .map(|e| {
            (
                e.timestamp().unwrap_or_default().to_string(),
                (
                    e.status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    e.failure_reason().map(str::to_string),
                ),
            )
        })
        .collect();
    // (And the hour the activation caught up, if it did.)
    assert_eq!(by_time.len() as u64, window.len() as u64 + 1, "{by_time:?}");
    for &t in &window {
        let (status, reason) = &by_time[&timestamp_string(t)];
        if t == missing {
            assert_eq!(status, "FAILED");
            assert!(reason.as_deref().unwrap().contains("no data"), "{reason:?}");
        } else if t == garbage {
            assert_eq!(status, "FAILED");
            assert!(
                reason.as_deref().unwrap().contains("no usable row"),
                "{reason:?}"
            );
        } else {
            assert_eq!(status, "COMPLETED", "{t}: {reason:?}");
        }
    }
    let quality = client
        .get_data_quality_metrics()
        .anomaly_detector_arn(&arn)
        .send()
        .await
        .unwrap();
    assert!(
        !quality
            .anomaly_detector_data_quality_metric_list()
            .is_empty()
    );

    // What the alerts queue received: exactly one message per alert and qualifying group.
    let received = drain(&stack.sqs, &stack.alerts_url).await;
    let messages: Vec<Value> = received
        .iter()
        .map(|(_, body)| serde_json::from_str::<Value>(body).unwrap())
        .collect();
    let json_payloads: Vec<Value> = messages
        .iter()
        .filter_map(|m| serde_json::from_str::<Value>(m["Message"].as_str()?).ok())
        .filter(|p| p.is_object())
        .collect();
    let short_texts: Vec<&str> = messages
        .iter()
        .filter_map(|m| m["Message"].as_str())
        .filter(|m| m.starts_with("Seismo: "))
        .collect();
    assert_eq!(json_payloads.len() + short_texts.len(), messages.len());
    let groups_at = |threshold: i32, measure: Option<&'static str>| {
        let client = client.clone();
        let arn = arn.clone();
        async move {
            client
                .list_anomaly_group_summaries()
                .anomaly_detector_arn(&arn)
                .sensitivity_threshold(threshold)
                .send()
                .await
                .unwrap()
                .anomaly_group_summary_list()
                .iter()
                .filter(|g| measure.is_none_or(|m| g.primary_metric_name() == Some(m)))
                .map(|g| g.anomaly_group_id().unwrap().to_string())
                .collect::<BTreeSet<_>>()
        }
    };
    let qualifying = groups_at(50, None).await;
    assert!(!qualifying.is_empty());
    let sent: Vec<String> = json_payloads
        .iter()
        .map(|p| p["anomalyGroupId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        sent.len(),
        qualifying.len(),
        "one message per group: {sent:?}"
    );
    assert_eq!(sent.iter().cloned().collect::<BTreeSet<_>>(), qualifying);
    assert_eq!(
        short_texts.len(),
        groups_at(30, Some("revenue")).await.len()
    );
    assert!(
        short_texts
            .iter()
            .all(|t| t.contains("revenue") && t.chars().count() <= 140)
    );

    // The payload of the outage's first hour on orders: the old shape plus the group's id.
    let outage = json_payloads
        .iter()
        .find(|p| {
            p["impactedMetric"]["metricName"] == "orders"
                && p["timestamp"]
                    == format!("{}Z[UTC]", &timestamp_string(incident.start)[..16]).as_str()
        })
        .unwrap_or_else(|| panic!("no orders alert at the outage: {json_payloads:#?}"));
    assert_eq!(outage["alertName"], "shop-all");
    assert_eq!(outage["alertArn"], all_alert.as_str());
    assert_eq!(outage["anomalyDetectorArn"], arn.as_str());
    assert_eq!(outage["alertDescription"], "every measure");
    assert!(outage["anomalyScore"].as_f64().unwrap() >= 50.0);
    let top = |dimension: &str| {
        outage["impactedMetric"]["dimensionContribution"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["dimensionName"] == dimension)
            .map(|d| d["dimensionValueContributions"][0]["dimensionValue"].clone())
    };
    assert_eq!(top("region"), Some(json!("EU")));
    assert_eq!(top("channel"), Some(json!("mobile")));
    let cause = outage["rootCauses"][0].as_str().unwrap();
    assert!(
        cause.contains("region=EU") && cause.contains("channel=mobile"),
        "{cause}"
    );
    let series = outage["impactedMetric"]["relevantTimeSeries"]
        .as_array()
        .unwrap();
    assert!(!series.is_empty());
    assert!(
        series
            .iter()
            .all(|s| s["dimensions"].as_array().unwrap().len() == 3)
    );
    let id = outage["anomalyGroupId"].as_str().unwrap();
    assert!(outage["consoleUrl"].as_str().unwrap().ends_with(id));
    assert!(
        outage["alertEventId"]
            .as_str()
            .unwrap()
            .starts_with(&all_alert)
    );
    let group = client
        .get_anomaly_group()
        .anomaly_detector_arn(&arn)
        .anomaly_group_id(id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        group.anomaly_group().and_then(|g| g.primary_metric_name()),
        Some("orders")
    );
    // The revenue alert texted the outage's revenue drop, with its root cause.
    assert_eq!(
        revenue_alert,
        format!("arn:aws:lookoutmetrics:us-east-1:{ACCOUNT}:Alert:shop-revenue-sms")
    );
    let outage_text = format!(
        "by region=EU&channel=mobile at {}",
        &timestamp_string(incident.start)[..16]
    );
    assert!(
        short_texts
            .iter()
            .any(|t| t.starts_with("Seismo: revenue drop ") && t.ends_with(&outage_text)),
        "{short_texts:?}"
    );

    // The hour the activation caught up: detected, with nothing to group or notify (no data).
    let out = wire(
        handlers::detect(
            &stack.store,
            &stack.notify_queue.1,
            sqs_input(sqs_event(&caught_up_tasks)),
        )
        .await
        .unwrap(),
    );
    assert_eq!(out["batchItemFailures"], json!([]));
    let work = drain(&stack.sqs, &stack.notify_queue.0).await;
    assert_eq!(work, [], "nothing to notify");

    // Model state and interval blobs are objects in the state bucket; the table holds only
    // small documents (heads and bookkeeping), so it is not billed for rewriting state.
    let state_objects = stack
        .objects
        .list(&format!("{STATE_ROOT}/{arn}/state/"))
        .await
        .unwrap();
    let shards = stack
        .store
        .get(Kind::Pipeline, &format!("{arn}/runtime"))
        .await
        .unwrap()
        .unwrap()["shards"]
        .as_u64()
        .unwrap() as usize;
    assert_eq!(
        state_objects.len(),
        shards,
        "one state version per shard, the older ones deleted: {state_objects:?}"
    );
    let leftovers: Vec<String> = stack
        .objects
        .list(&format!("{STATE_ROOT}/{arn}/"))
        .await
        .unwrap()
        .into_iter()
        .filter(|o| o.contains("/values/") || o.contains("/scored/"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "interval values and scores are deleted once grouped: {leftovers:?}"
    );
    let docs = stack
        .store
        .list(Kind::Pipeline, &format!("{arn}/"))
        .await
        .unwrap();
    let largest = docs.iter().map(|(_, v)| v.to_string().len()).max().unwrap();
    assert!(largest < 4_096, "a {largest}-byte pipeline document");
    assert!(docs.iter().all(|(k, _)| !k.contains('#')), "no blob parts");

    // Every event once more: nothing new is stored and nothing is sent.
    let before = snapshot(&stack.store, &arn).await;
    for (stage, event) in &events {
        match *stage {
            "ingest" => {
                handlers::ingest(
                    &stack.store,
                    &stack.objects,
                    &stack.detect_queue.1,
                    event.clone(),
                )
                .await
                .unwrap();
                let tasks = drain(&stack.sqs, &stack.detect_queue.0).await;
                assert_eq!(tasks.len(), 1);
            }
            "detect" => {
                handlers::detect(
                    &stack.store,
                    &stack.notify_queue.1,
                    sqs_input(event.clone()),
                )
                .await
                .unwrap();
                drain(&stack.sqs, &stack.notify_queue.0).await;
            }
            _ => {
                handlers::notify(
                    &stack.store,
                    &stack.publisher,
                    "https://console.example",
                    sqs_input(event.clone()),
                )
                .await
                .unwrap();
            }
        }
    }
    let after = snapshot(&stack.store, &arn).await;
    let changed: Vec<&String> = before
        .keys()
        .chain(after.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert!(changed.is_empty(), "a replay changed {changed:?}");
    assert!(drain(&stack.sqs, &stack.alerts_url).await.is_empty());

    // Deactivation removes the schedule; deletion removes the rest.
    client
        .deactivate_anomaly_detector()
        .anomaly_detector_arn(&arn)
        .send()
        .await
        .unwrap();
    let gone = get_schedule("shop").await.unwrap_err();
    assert!(
        gone.as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception()),
        "{gone:?}"
    );

    // A backtest returns at once too; its one-time schedule's event has ingest run it.
    client
        .back_test_anomaly_detector()
        .anomaly_detector_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(status().await, "BACK_TEST_ACTIVATING");
    let once = get_schedule("shop.backtest").await.unwrap();
    let input: Value = serde_json::from_str(once.target().unwrap().input().unwrap()).unwrap();
    let mut asked = input.clone();
    asked.as_object_mut().unwrap().remove("token");
    assert_eq!(asked, sample("ingest/backtest.json"));
    let out = handlers::ingest(&stack.store, &stack.objects, &stack.detect_queue.1, input)
        .await
        .unwrap();
    assert_eq!(out, json!({"backtest": "BACK_TEST_COMPLETE"}));
    let backtested = client
        .list_anomaly_group_summaries()
        .anomaly_detector_arn(&arn)
        .sensitivity_threshold(50)
        .send()
        .await
        .unwrap();
    assert!(!backtested.anomaly_group_summary_list().is_empty());
    client
        .delete_anomaly_detector()
        .anomaly_detector_arn(&arn)
        .send()
        .await
        .unwrap();
    let left = get_schedule("shop.backtest").await.unwrap_err();
    assert!(
        left.as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception()),
        "deletion removes the one-time schedules: {left:?}"
    );
    assert!(
        snapshot(&stack.store, &arn)
            .await
            .values()
            .all(|v| v.is_null())
    );
}

/// Alerts to SNS on moto; Lambda invocations recorded (moto runs a function invoked in Docker,
/// which CI does not have), so the Lambda action's message is the one notify formats.
#[derive(Debug)]
struct LambdaRecorder {
    aws: AwsPublisher,
    invoked: std::sync::Mutex<Vec<(String, String)>>,
}

impl Publisher for LambdaRecorder {
    fn sns<'a>(
        &'a self,
        topic_arn: &'a str,
        subject: &'a str,
        message: &'a str,
    ) -> BoxFuture<'a, Result<(), String>> {
        self.aws.sns(topic_arn, subject, message)
    }

    fn lambda<'a>(
        &'a self,
        function_arn: &'a str,
        payload: &'a str,
    ) -> BoxFuture<'a, Result<(), String>> {
        let call = (function_arn.to_string(), payload.to_string());
        self.invoked.lock().unwrap().push(call);
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_sends_long_text_and_lambda_alerts_within_their_dimension_filters() {
    // The EU mobile outage's first hour, notified from the queue as the notify function is:
    // an e-mail alert (LONG_TEXT) on EU gets every group of the hour, one on APAC none (its
    // threshold 0: only the filter stops it), and a Lambda alert on mobile gets the JSON
    // payload of every group.
    let moto = Moto::start();
    let stack = stack(&moto.endpoint).await;
    let dir = tempfile::tempdir().unwrap();
    let interval = common::sample_up_to_first_incident(dir.path());
    let objects = LocalObjects::new(dir.path());
    let arn = common::detector(&stack.store, "shop", "ACTIVATING", |_| {}).await;
    let client = common::client(Arc::new(Api::new(stack.store.clone(), dir.path()))).await;
    let region = |values: &[&str]| {
        AlertFilters::builder()
            .dimension_filter_list(
                DimensionFilter::builder()
                    .dimension_name("region")
                    .set_dimension_value_list(Some(values.iter().map(|v| v.to_string()).collect()))
                    .build(),
            )
            .build()
    };
    let email = |format: SnsFormat| {
        Action::builder()
            .sns_configuration(
                SnsConfiguration::builder()
                    .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/seismo-alerts"))
                    .sns_topic_arn(&stack.topic)
                    .sns_format(format)
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let function = format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:on-anomaly");
    let alerts = [
        ("eu-email", 50, email(SnsFormat::LongText), region(&["EU"])),
        (
            "apac-email",
            0,
            email(SnsFormat::LongText),
            region(&["APAC"]),
        ),
        (
            "mobile-fn",
            50,
            Action::builder()
                .lambda_configuration(
                    LambdaConfiguration::builder()
                        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/seismo-alerts"))
                        .lambda_arn(&function)
                        .build()
                        .unwrap(),
                )
                .build(),
            AlertFilters::builder()
                .dimension_filter_list(
                    DimensionFilter::builder()
                        .dimension_name("channel")
                        .dimension_value_list("mobile")
                        .build(),
                )
                .build(),
        ),
    ];
    for (name, threshold, action, filters) in alerts {
        client
            .create_alert()
            .alert_name(name)
            .alert_sensitivity_threshold(threshold)
            .anomaly_detector_arn(&arn)
            .action(action)
            .alert_filters(filters)
            .send()
            .await
            .unwrap();
    }

    pipeline::activate(&stack.store, &objects, &arn)
        .await
        .unwrap();
    let ingested = pipeline::ingest(&stack.store, &objects, &arn, When::Interval(interval))
        .await
        .unwrap();
    let mut bodies = Vec::new();
    for task in &ingested.tasks {
        if let Some(work) = pipeline::detect(&stack.store, task).await.unwrap().notify {
            bodies.push(serde_json::to_string(&work).unwrap());
        }
    }
    stack.notify_queue.1.send(&bodies).await.unwrap();
    let work = drain(&stack.sqs, &stack.notify_queue.0).await;
    assert_eq!(work.len(), bodies.len());
    let publisher = LambdaRecorder {
        aws: stack.publisher.clone(),
        invoked: Default::default(),
    };
    let out = wire(
        handlers::notify(
            &stack.store,
            &publisher,
            "https://console.example",
            sqs_input(sqs_event(&work)),
        )
        .await
        .unwrap(),
    );
    assert_eq!(out["batchItemFailures"], json!([]));

    // The hour's groups, as the API lists them.
    let groups: BTreeMap<String, String> = client
        .list_anomaly_group_summaries()
        .anomaly_detector_arn(&arn)
        .sensitivity_threshold(50)
        .send()
        .await
        .unwrap()
        .anomaly_group_summary_list()
        .iter()
        .map(|g| {
            let id = g.anomaly_group_id().unwrap().to_string();
            (id, g.primary_metric_name().unwrap().to_string())
        })
        .collect();
    assert_eq!(
        groups.values().collect::<BTreeSet<_>>(),
        BTreeSet::from([&"orders".to_string(), &"revenue".to_string()]),
        "{groups:?}"
    );

    // The e-mails: one per group, from the EU alert, with the group's measure and link.
    let mut emailed = BTreeMap::new();
    for (_, body) in drain(&stack.sqs, &stack.alerts_url).await {
        let envelope: Value = serde_json::from_str(&body).unwrap();
        let text = envelope["Message"].as_str().unwrap();
        assert!(text.contains("\nAlert: eu-email\n"), "{text}");
        let id = text
            .lines()
            .find_map(|l| l.strip_prefix("Anomaly group "))
            .unwrap_or_else(|| panic!("no group id: {text}"))
            .to_string();
        let measure = &groups[&id];
        assert!(
            text.starts_with(&format!("Seismo found an anomaly in {measure} (score ")),
            "{text}"
        );
        assert!(text.contains("region=EU&channel=mobile"), "{text}");
        assert!(
            text.ends_with(&format!(
                "\nhttps://console.example/#/detectors/{}/anomalies/{id}\n",
                arn.replace(':', "%3A").replace('/', "%2F")
            )),
            "{text}"
        );
        assert_eq!(
            envelope["Subject"],
            format!("Seismo anomaly: {measure}").as_str()
        );
        assert!(emailed.insert(id, measure.clone()).is_none(), "sent twice");
    }
    assert_eq!(emailed, groups, "every group once, none from apac-email");

    // The Lambda events: the JSON payload of each group, to the function.
    let invoked = publisher.invoked.lock().unwrap().clone();
    let mut called = BTreeMap::new();
    for (to, payload) in &invoked {
        assert_eq!(to, &function);
        let event: Value = serde_json::from_str(payload).unwrap();
        assert_eq!(event["alertName"], "mobile-fn");
        assert_eq!(event["anomalyDetectorArn"], arn.as_str());
        let id = event["anomalyGroupId"].as_str().unwrap().to_string();
        assert_eq!(event["impactedMetric"]["metricName"], groups[&id].as_str());
        called.insert(id, event["impactedMetric"]["metricName"].to_string());
    }
    assert_eq!(invoked.len(), groups.len(), "{invoked:?}");
    assert_eq!(
        called.keys().collect::<Vec<_>>(),
        groups.keys().collect::<Vec<_>>()
    );
}
