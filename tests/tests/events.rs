//! The sample events in events/ are what the handlers take, the cases that must not be
//! retried are acknowledged without work, and an activation ingests the intervals that closed
//! while it learned.

mod common;

use std::sync::Mutex;

use seismo_lab::generate::{self, GenerateOptions};
use seismo_shared::handlers::{self, IngestEvent, Queue, SqsBatchResponse, SqsEvent};
use seismo_shared::model::timestamp_string;
use seismo_shared::objects::{BoxFuture, LocalObjects};
use seismo_shared::pipeline::alert::Outbox;
use seismo_shared::pipeline::{self, DetectTask, NotifyTask};
use seismo_shared::store::{Kind, MemoryStore, Store};
use seismo_tests::repo_root;
use serde_json::{Value, json};

fn event(path: &str) -> Value {
    let file = repo_root().join("events").join(path);
    serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap()
}

/// An SQS event's JSON as the runtime hands it to the detect and notify handlers.
fn sqs_input(event: Value) -> SqsEvent {
    serde_json::from_value(event).unwrap()
}

/// A batch response as the runtime sends it back to Lambda.
fn wire(response: SqsBatchResponse) -> Value {
    serde_json::to_value(response).unwrap()
}

#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<String>>);

impl Queue for Recorder {
    fn send<'a>(&'a self, bodies: &'a [String]) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.0.lock().unwrap().extend(bodies.iter().cloned());
            Ok(())
        })
    }
}

#[test]
fn every_sample_event_parses_as_its_handler_input() {
    for f in [
        "ingest/scheduled.json",
        "ingest/backfill.json",
        "ingest/unknown-detector.json",
    ] {
        let e: IngestEvent = serde_json::from_value(event(f)).unwrap();
        assert!(e.anomaly_detector_arn.contains(":AnomalyDetector:"), "{f}");
        assert!(e.scheduled_time.is_some() != e.interval.is_some(), "{f}");
        assert!(!e.activate && !e.backtest, "{f}");
    }
    let e: IngestEvent = serde_json::from_value(event("ingest/activate.json")).unwrap();
    assert!(e.activate && !e.backtest && e.scheduled_time.is_none() && e.interval.is_none());
    let e: IngestEvent = serde_json::from_value(event("ingest/backtest.json")).unwrap();
    assert!(e.backtest && !e.activate && e.scheduled_time.is_none() && e.interval.is_none());
    let shard: SqsEvent = serde_json::from_value(event("detect/shard.json")).unwrap();
    let task: DetectTask = serde_json::from_str(shard.records[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(task.interval, 1_790_157_600);
    let groups: SqsEvent = serde_json::from_value(event("notify/groups.json")).unwrap();
    let task: NotifyTask =
        serde_json::from_str(groups.records[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(task.anomaly_group_ids.len(), 2);
}

#[tokio::test]
async fn events_that_cannot_succeed_are_acknowledged_not_retried() {
    let store = MemoryStore::new();
    let queue = Recorder::default();
    let objects = LocalObjects::new(std::env::temp_dir());
    let out = handlers::ingest(
        &store,
        &objects,
        &queue,
        event("ingest/unknown-detector.json"),
    )
    .await
    .unwrap();
    assert!(
        out["dropped"]
            .as_str()
            .unwrap()
            .contains("deleted-long-ago"),
        "{out}"
    );
    // An activation for a detector deleted before it fired: nothing to learn, acknowledged.
    let out = handlers::ingest(&store, &objects, &queue, event("ingest/activate.json"))
        .await
        .unwrap();
    assert_eq!(out, json!({"activation": "DELETED"}));
    let out = handlers::ingest(&store, &objects, &queue, event("ingest/backtest.json"))
        .await
        .unwrap();
    assert_eq!(out, json!({"backtest": "DELETED"}));
    let out = handlers::ingest(&store, &objects, &queue, json!({"scheduledTime": 5}))
        .await
        .unwrap();
    assert!(
        out["dropped"]
            .as_str()
            .unwrap()
            .contains("not an ingest event"),
        "{out}"
    );
    let out = wire(
        handlers::detect(&store, &queue, sqs_input(event("detect/not-a-task.json")))
            .await
            .unwrap(),
    );
    assert_eq!(out["batchItemFailures"], json!([]));
    // A task for a detector that is gone: nothing to retry either.
    let out = wire(
        handlers::detect(&store, &queue, sqs_input(event("detect/shard.json")))
            .await
            .unwrap(),
    );
    assert_eq!(out["batchItemFailures"], json!([]));
    let outbox = Outbox::new();
    let out = wire(
        handlers::notify(&store, &outbox, "", sqs_input(event("notify/groups.json")))
            .await
            .unwrap(),
    );
    assert_eq!(out["batchItemFailures"], json!([]));
    assert!(queue.0.lock().unwrap().is_empty());
    assert!(outbox.messages().is_empty());
    // Not an SQS event at all: an error the runtime reports (it refuses to deserialize it
    // into the handler's event type, so the handler is never called).
    assert!(serde_json::from_value::<SqsEvent>(json!({"nope": 1})).is_err());
}

#[tokio::test]
async fn an_activation_ingests_the_interval_that_closed_while_it_learned() {
    // Sample data up to the hour closed last; the schedule fires for that hour while the
    // detector is ACTIVATING, which does nothing, so the activation ingests it once learned.
    let hour = 3600;
    let now = chrono::Utc::now().timestamp();
    let closed_last = now - now % hour - hour;
    let options = GenerateOptions {
        start: closed_last + hour - 70 * 86_400,
        ..GenerateOptions::default()
    };
    let dir = tempfile::tempdir().unwrap();
    generate::generate(dir.path(), &options).unwrap();
    generate::cut_history(dir.path(), options.start + 49 * 86_400).unwrap();
    let store = MemoryStore::new();
    let objects = LocalObjects::new(dir.path());
    let queue = Recorder::default();
    let arn = common::detector(&store, "shop", "ACTIVATING", |ms| {
        ms["Offset"] = json!(0);
    })
    .await;
    let fired = json!({ "anomalyDetectorArn": arn, "interval": timestamp_string(closed_last) });
    let out = handlers::ingest(&store, &objects, &queue, fired.clone())
        .await
        .unwrap();
    assert_eq!(out["shards"], 0, "{out}");
    assert!(queue.0.lock().unwrap().is_empty());

    // Asked ten minutes ago: the detector counts as activated then, so an interval that closed
    // while it learned is run after it too.
    let asked = now - 600;
    pipeline::ask_run(&store, &arn, "t", asked).await.unwrap();
    let activate = json!({ "anomalyDetectorArn": arn, "activate": true, "token": "t" });
    let out = handlers::ingest(&store, &objects, &queue, activate.clone())
        .await
        .unwrap();
    assert_eq!(out["activation"], "ACTIVE", "{out}");
    assert!(out["caughtUp"].as_u64().unwrap() >= 1, "{out}");
    let runtime = pipeline::runtime(&store, &arn).await.unwrap();
    assert_eq!(runtime.activated_at, asked);
    let execution = store
        .get(
            Kind::Execution,
            &format!("{arn}/{}", timestamp_string(closed_last)),
        )
        .await
        .unwrap()
        .expect("the hour that closed while it learned is ingested");
    assert!(execution.get("FailureReason").is_none(), "{execution}");
    let tasks: Vec<DetectTask> = queue
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    assert!(tasks.iter().any(|t| t.interval == closed_last), "{tasks:?}");

    // The same event again (a retry, a duplicate): nothing more is caught up.
    let again = handlers::ingest(&store, &objects, &queue, activate)
        .await
        .unwrap();
    assert_eq!(again["caughtUp"], 0, "{again}");
}
