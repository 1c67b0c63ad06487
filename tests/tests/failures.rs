//! The failure paths of the pipeline's handlers: the real ingest, detect and notify handlers
//! (`seismo_shared::handlers`, what `functions/{ingest,detect,notify}` run) over a store that
//! fails on chosen operations and keys for a number of calls (throttling, an internal error,
//! or a write that is applied and still answered with an error), fed by a model of what
//! `template.yaml` sets up around them: SQS queues that redeliver what a handler reports in
//! `batchItemFailures` and move a message to the dead-letter queue after `maxReceiveCount`
//! receives, and Lambda's asynchronous invoke of ingest (`MaximumRetryAttempts` retries, then
//! the dead-letter queue).
//!
//! What they hold the handlers to (the README's "Retries change nothing" and "Failures"): a
//! message whose work failed on storage is reported, one whose work is done is not; a
//! message whose store keeps failing ends in the dead-letter queue instead of being retried
//! forever; once the store recovers, redelivering (or redriving) the failed messages finishes
//! the work as a run without failures would have (the same groups, model state and execution,
//! no working data or state left over, each alert sent once: twice only when the record of a
//! send that went out failed), and delivering a finished message again changes nothing. An
//! activation is retried or dead-lettered, never acknowledged while nothing runs it. One test
//! runs the dead-letter path through SQS itself (moto), to check the queue model against it.
//!
//! The store port has one failure kind for a backend error (`StoreError::Backend`): a
//! throttled call and an internal error look alike to the handlers, and both are retried, then
//! dead-lettered, as the README says; the tests run both (and the applied-then-error case).

use std::collections::VecDeque;
use std::future::Future;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

mod common;

use seismo_lab::store::{Call, Hook, Intercept, Op};
use seismo_shared::handlers::{self, Queue, SqsBatchResponse, SqsEvent};
use seismo_shared::objects::{BoxFuture, LocalObjects};
use seismo_shared::pipeline::alert::{Outbox, Publisher};
use seismo_shared::pipeline::{self, DetectTask, NotifyTask, When, blob};
use seismo_shared::store::{Kind, MemoryStore, Store, StoreError};
use serde_json::{Value, json};

// ------------------------------------------------------------------------- the failing store

/// How a failing call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// Throttled before anything happened (DynamoDB's ProvisionedThroughputExceeded).
    Throttled,
    /// An internal error before anything happened.
    Internal,
    /// The write was applied, and the caller still gets an error (a timeout after the
    /// service did the work): the retry finds it done.
    AppliedThenInternal,
}

impl Failure {
    fn error(self) -> StoreError {
        StoreError::Backend(
            match self {
                Failure::Throttled => "dynamodb: ProvisionedThroughputExceededException: throttled",
                Failure::Internal | Failure::AppliedThenInternal => {
                    "dynamodb: InternalServerError: internal server error"
                }
            }
            .to_string(),
        )
    }
}

/// Calls to fail: `op` on documents of `kind` whose key contains `key`, `calls` times after
/// letting `skip` such calls through.
#[derive(Debug, Clone)]
struct Fault {
    op: Op,
    kind: Kind,
    key: String,
    skip: usize,
    calls: usize,
    failure: Failure,
}

/// A memory store that fails the calls its faults name, then works again.
type Failing = Intercept<MemoryStore, Faults>;

/// The calls to fail, and how many failed.
#[derive(Debug, Default)]
struct Faults {
    faults: Mutex<Vec<Fault>>,
    failed: AtomicUsize,
}

impl Faults {
    /// Fails `op` on `kind` documents whose key contains `key`, for the next `calls` calls.
    fn fail(&self, op: Op, kind: Kind, key: &str, calls: usize, failure: Failure) {
        self.fail_after(0, op, kind, key, calls, failure);
    }

    /// As [`Faults::fail`], once `skip` such calls went through.
    fn fail_after(
        &self,
        skip: usize,
        op: Op,
        kind: Kind,
        key: &str,
        calls: usize,
        failure: Failure,
    ) {
        self.faults.lock().unwrap().push(Fault {
            op,
            kind,
            key: key.to_string(),
            skip,
            calls,
            failure,
        });
    }

    /// The store works again.
    fn recover(&self) {
        self.faults.lock().unwrap().clear();
    }

    /// Calls failed so far.
    fn failed(&self) -> usize {
        self.failed.load(Ordering::SeqCst)
    }

    fn fault(&self, op: Op, kind: Kind, key: &str) -> Option<Failure> {
        let mut faults = self.faults.lock().unwrap();
        let f = faults
            .iter_mut()
            .find(|f| f.op == op && f.kind == kind && f.calls > 0 && key.contains(&f.key))?;
        if f.skip > 0 {
            f.skip -= 1;
            return None;
        }
        f.calls -= 1;
        self.failed.fetch_add(1, Ordering::SeqCst);
        Some(f.failure)
    }
}

impl Hook<MemoryStore> for Faults {
    async fn around<T: Send>(
        &self,
        call: Call<'_>,
        work: impl Future<Output = Result<T, StoreError>> + Send,
    ) -> Result<T, StoreError> {
        match self.fault(call.op, call.kind, call.key) {
            None => work.await,
            Some(f @ Failure::AppliedThenInternal) => {
                work.await?;
                Err(f.error())
            }
            Some(f) => Err(f.error()),
        }
    }
}

const KINDS: [Kind; 9] = [
    Kind::Detector,
    Kind::MetricSet,
    Kind::Alert,
    Kind::Group,
    Kind::Tags,
    Kind::Quality,
    Kind::Execution,
    Kind::Feedback,
    Kind::Pipeline,
];

/// Every document of the store, by kind and key.
async fn snapshot(store: &impl Store) -> Vec<(Kind, String, Value)> {
    let mut out = Vec::new();
    for kind in KINDS {
        for (key, doc) in store.list(kind, "").await.unwrap() {
            out.push((kind, key, doc));
        }
    }
    out
}

/// A failing store holding a copy of `from`'s documents (and failing nothing yet).
async fn copy_of(from: &impl Store) -> Failing {
    let store = Failing::default();
    for (kind, key, doc) in snapshot(from).await {
        store.inner.put(kind, &key, doc).await.unwrap();
    }
    store
}

// ------------------------------------------------------------- what template.yaml sets around

/// A number that `template.yaml` sets (every occurrence of `key` must agree).
fn template_number(key: &str) -> u32 {
    let text = std::fs::read_to_string(seismo_tests::repo_root().join("template.yaml")).unwrap();
    let values: Vec<u32> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix(key)?.strip_prefix(':'))
        .map(|v| {
            v.split('#')
                .next()
                .unwrap_or_default()
                .trim()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(!values.is_empty(), "template.yaml sets no {key}");
    assert!(values.iter().all(|v| *v == values[0]), "{key}: {values:?}");
    values[0]
}

/// The receives after which a queue message moves to the dead-letter queue.
fn max_receive_count() -> u32 {
    template_number("maxReceiveCount")
}

/// A queue message.
#[derive(Debug, Clone)]
struct Message {
    id: String,
    body: String,
    receives: u32,
}

/// An SQS queue with its redrive policy: a message a handler reports failed is received
/// again, and moves to the dead-letter queue once it has been received `maxReceiveCount`
/// times; one it does not report is deleted.
#[derive(Debug)]
struct Sqs {
    name: &'static str,
    waiting: Mutex<VecDeque<Message>>,
    dead: Mutex<Vec<Message>>,
    sent: AtomicUsize,
    /// Sends to refuse (the queue is unreachable).
    refuse: AtomicUsize,
}

impl Sqs {
    fn new(name: &'static str) -> Self {
        Sqs {
            name,
            waiting: Mutex::new(VecDeque::new()),
            dead: Mutex::new(Vec::new()),
            sent: AtomicUsize::new(0),
            refuse: AtomicUsize::new(0),
        }
    }

    /// Receives every waiting message (a batch).
    fn receive(&self) -> Vec<Message> {
        let mut batch: Vec<Message> = self.waiting.lock().unwrap().drain(..).collect();
        for m in &mut batch {
            m.receives += 1;
        }
        batch
    }

    /// What SQS does with a batch after the handler answered: deletes what it did not
    /// report, makes what it reported visible again, or dead-letters it after the last
    /// receive. Returns the reported ids.
    fn settle(&self, batch: Vec<Message>, response: &Value) -> Vec<String> {
        let failed: Vec<String> = response["batchItemFailures"]
            .as_array()
            .unwrap_or_else(|| panic!("no batchItemFailures in {response}"))
            .iter()
            .map(|f| f["itemIdentifier"].as_str().unwrap().to_string())
            .collect();
        for m in batch {
            if !failed.contains(&m.id) {
                continue;
            }
            if m.receives >= max_receive_count() {
                self.dead.lock().unwrap().push(m);
            } else {
                self.waiting.lock().unwrap().push_back(m);
            }
        }
        failed
    }

    /// The bodies waiting.
    fn bodies(&self) -> Vec<String> {
        let waiting = self.waiting.lock().unwrap();
        waiting.iter().map(|m| m.body.clone()).collect()
    }

    fn dead(&self) -> Vec<Message> {
        self.dead.lock().unwrap().clone()
    }

    /// Moves the dead-letter queue's messages back (`start-message-move-task`).
    fn redrive_from(&self, dlq: &Sqs) {
        let moved: Vec<Message> = dlq.dead.lock().unwrap().drain(..).collect();
        let mut waiting = self.waiting.lock().unwrap();
        waiting.extend(moved.into_iter().map(|m| Message { receives: 0, ..m }));
    }

    fn push(&self, body: String) -> String {
        let n = self.sent.fetch_add(1, Ordering::SeqCst);
        let id = format!("{}-{n}", self.name);
        self.waiting.lock().unwrap().push_back(Message {
            id: id.clone(),
            body,
            receives: 0,
        });
        id
    }
}

impl Queue for Sqs {
    fn send<'a>(&'a self, bodies: &'a [String]) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let refused = self
                .refuse
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
            if refused.is_ok() {
                return Err(format!("{}: SendMessage timed out", self.name));
            }
            for b in bodies {
                self.push(b.clone());
            }
            Ok(())
        })
    }
}

/// The SQS event of a batch.
fn sqs_event(batch: &[Message]) -> Value {
    json!({ "Records": batch.iter().map(|m| json!({
        "messageId": m.id, "body": m.body, "receiptHandle": format!("rh-{}", m.id),
        "attributes": { "ApproximateReceiveCount": m.receives.to_string() },
        "eventSource": "aws:sqs",
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

/// One delivery of everything waiting in the detect queue; the ids reported failed.
async fn deliver_detect(store: &Failing, detect: &Sqs, notify: &Sqs) -> Vec<String> {
    let batch = detect.receive();
    let response = wire(
        handlers::detect(store, notify, sqs_input(sqs_event(&batch)))
            .await
            .unwrap(),
    );
    detect.settle(batch, &response)
}

/// One delivery of everything waiting in the notify queue; the ids reported failed.
async fn deliver_notify(store: &Failing, notify: &Sqs, publisher: &dyn Publisher) -> Vec<String> {
    let batch = notify.receive();
    let response = wire(
        handlers::notify(store, publisher, "", sqs_input(sqs_event(&batch)))
            .await
            .unwrap(),
    );
    notify.settle(batch, &response)
}

/// Lambda's asynchronous invoke of ingest: the attempt and `MaximumRetryAttempts` retries
/// while the handler fails, then the event goes to the dead-letter queue. The attempts made
/// and the last answer.
async fn invoke_ingest(
    store: &Failing,
    objects: &LocalObjects,
    detect: &Sqs,
    dlq: &Sqs,
    event: &Value,
) -> (u32, Result<Value, String>) {
    let attempts = 1 + template_number("MaximumRetryAttempts");
    let mut last = Err(String::new());
    for attempt in 1..=attempts {
        last = handlers::ingest(store, objects, detect, event.clone())
            .await
            .map_err(|e| e.to_string());
        if last.is_ok() {
            return (attempt, last);
        }
    }
    dlq.push(event.to_string());
    (attempts, last)
}

// ------------------------------------------------------------------------ the detector

const ALERT: &str = "arn:aws:lookoutmetrics:us-east-1:000000000000:Alert:page";
const TOPIC: &str = "arn:aws:sns:us-east-1:000000000000:alerts";

/// The sample in `dir` with the detector `shop` learned up to its first incident, and an
/// alert on it that every group passes: the store, the sample, the detector and the
/// incident's interval.
async fn learned(dir: &Path) -> (MemoryStore, LocalObjects, String, i64) {
    let interval = common::sample_up_to_first_incident(dir);
    let objects = LocalObjects::new(dir);
    let store = MemoryStore::new();
    let arn = common::detector(&store, "shop", "ACTIVATING", |_| {}).await;
    add_alert(&store, &arn, ALERT).await;
    pipeline::activate(&store, &objects, &arn).await.unwrap();
    (store, objects, arn, interval)
}

async fn add_alert(store: &impl Store, arn: &str, alert_arn: &str) {
    let name = alert_arn.rsplit(':').next().unwrap();
    let alert = json!({"AlertArn": alert_arn, "AlertName": name, "AnomalyDetectorArn": arn,
        "AlertStatus": "ACTIVE", "AlertSensitivityThreshold": 0,
        "Action": {"SNSConfiguration": {"SnsTopicArn": TOPIC, "SnsFormat": "JSON"}}});
    store.put(Kind::Alert, alert_arn, alert).await.unwrap();
}

/// The ingest event of an interval (a backfill's).
fn ingest_event(arn: &str, interval: i64) -> Value {
    let at = chrono::DateTime::from_timestamp(interval, 0).unwrap();
    json!({ "anomalyDetectorArn": arn, "interval": at.to_rfc3339() })
}

fn detect_body(arn: &str, interval: i64, shard: u32) -> String {
    serde_json::to_string(&DetectTask {
        anomaly_detector_arn: arn.to_string(),
        interval,
        shard,
    })
    .unwrap()
}

/// What a finished interval leaves in the store, comparable between runs (state blobs live
/// under keys of their own, so the state is compared by content).
#[derive(Debug, PartialEq)]
struct Outcome {
    /// The interval's execution record.
    execution: Option<Value>,
    /// Every stored group.
    groups: Vec<(String, Value)>,
    /// Per shard: the interval its state is at, and a hash of the state's bytes.
    state: Vec<(Option<i64>, Option<u64>)>,
    /// Working data of the pipeline: an interval's values, scores and progress.
    working: Vec<String>,
}

async fn outcome(store: &impl Store, arn: &str, interval: i64) -> Outcome {
    let runtime = pipeline::runtime(store, arn).await.unwrap();
    let at = chrono::DateTime::from_timestamp(interval, 0).unwrap();
    let exec_key = format!("{arn}/{}", at.format("%Y-%m-%dT%H:%M:%SZ"));
    let mut state = Vec::new();
    for shard in 0..runtime.shards {
        let head = store
            .get(Kind::Pipeline, &format!("{arn}/state/{shard}"))
            .await
            .unwrap();
        let head = head.unwrap_or_default();
        let bytes = match head["blob"].as_str() {
            Some(key) => blob::get(store, key).await.unwrap().map(|b| hash(&b)),
            None => None,
        };
        state.push((head["at"].as_i64(), bytes));
    }
    let working = store
        .list(Kind::Pipeline, &format!("{arn}/"))
        .await
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| {
            ["/values/", "/scored/", "/progress/"]
                .iter()
                .any(|w| k.contains(w))
        })
        .collect();
    Outcome {
        execution: store.get(Kind::Execution, &exec_key).await.unwrap(),
        groups: store.list(Kind::Group, &format!("{arn}/")).await.unwrap(),
        state,
        working,
    }
}

fn hash(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// The state blobs of a detector that no head names (left by a failed attempt).
async fn orphan_state(store: &impl Store, arn: &str) -> Vec<String> {
    let docs = store
        .list(Kind::Pipeline, &format!("{arn}/state/"))
        .await
        .unwrap();
    let named: Vec<String> = docs
        .iter()
        .filter_map(|(_, d)| d["blob"].as_str().map(str::to_string))
        .collect();
    docs.into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.matches('/').count() > arn.matches('/').count() + 2)
        .filter(|k| {
            !named
                .iter()
                .any(|n| k == n || k.starts_with(&format!("{n}#")))
        })
        .collect()
}

// ---------------------------------------------------------------------------------- detect

/// Where detect's work can fail on storage, in the order it does it.
fn detect_faults(arn: &str) -> Vec<(&'static str, Op, Kind, String)> {
    let at = |w: &str| format!("{arn}/{w}");
    vec![
        ("reading the detector", Op::Get, Kind::Detector, arn.into()),
        (
            "reading the model state",
            Op::Get,
            Kind::Pipeline,
            at("state/0"),
        ),
        ("reading feedback", Op::List, Kind::Feedback, at("")),
        ("reading the values", Op::Get, Kind::Pipeline, at("values/")),
        ("storing the scores", Op::Put, Kind::Pipeline, at("scored/")),
        (
            "swapping the state",
            Op::Replace,
            Kind::Pipeline,
            at("state/0"),
        ),
        (
            "dropping the values",
            Op::Delete,
            Kind::Pipeline,
            at("values/"),
        ),
        (
            "marking the shard done",
            Op::Replace,
            Kind::Pipeline,
            at("progress/"),
        ),
        ("storing a group", Op::Put, Kind::Group, at("")),
        (
            "recording the execution",
            Op::Replace,
            Kind::Execution,
            at(""),
        ),
        (
            "dropping the scores",
            Op::Delete,
            Kind::Pipeline,
            at("scored/"),
        ),
        (
            "dropping the progress",
            Op::Delete,
            Kind::Pipeline,
            at("progress/"),
        ),
    ]
}

#[tokio::test]
async fn a_detect_message_that_failed_on_storage_is_retried_and_its_retry_finishes_the_interval() {
    // For each step of detect, each way a store fails there: the message is reported, nothing
    // is queued for notify, and once the store recovers its redelivery leaves what a run
    // without failures leaves: the same groups, execution and model state (the interval
    // scored once, not twice), no working data, and the notify work queued.
    let dir = tempfile::tempdir().unwrap();
    let (store, objects, arn, interval) = learned(dir.path()).await;
    pipeline::ingest(&store, &objects, &arn, When::Interval(interval))
        .await
        .unwrap();
    let ingested = store;
    // The run without failures.
    let clean = copy_of(&ingested).await;
    let (detect, notify) = (Sqs::new("detect"), Sqs::new("notify"));
    detect.push(detect_body(&arn, interval, 0));
    assert!(deliver_detect(&clean, &detect, &notify).await.is_empty());
    let expected = outcome(&clean, &arn, interval).await;
    assert!(
        !expected.groups.is_empty() && expected.working.is_empty(),
        "{expected:?}"
    );
    let expected_notify = notify.bodies();
    assert_eq!(expected_notify.len(), 1);

    let mut wrong = Vec::new();
    for failure in [
        Failure::Throttled,
        Failure::Internal,
        Failure::AppliedThenInternal,
    ] {
        for (step, op, kind, key) in detect_faults(&arn) {
            if failure == Failure::AppliedThenInternal && matches!(op, Op::Get | Op::List) {
                continue;
            }
            let case = format!("{failure:?} {step}");
            let store = copy_of(&ingested).await;
            let (detect, notify) = (Sqs::new("detect"), Sqs::new("notify"));
            let id = detect.push(detect_body(&arn, interval, 0));
            store.fail(op, kind, &key, 1, failure);
            let failed = deliver_detect(&store, &detect, &notify).await;
            assert_eq!(store.failed(), 1, "{case}: the fault is on detect's path");
            // A write that was applied may be found done in the same run (the state's head
            // names the new state): then the message is done, and acknowledged.
            let resolved = failure == Failure::AppliedThenInternal && failed.is_empty();
            if !resolved {
                assert_eq!(failed, [id], "{case}: the failed message is reported");
                assert!(notify.bodies().is_empty(), "{case}: nothing queued yet");
                let failed = deliver_detect(&store, &detect, &notify).await;
                assert!(failed.is_empty(), "{case}: the redelivery succeeds");
            }
            let got = outcome(&store, &arn, interval).await;
            for (what, same) in [
                ("execution", got.execution == expected.execution),
                ("groups", got.groups == expected.groups),
                ("model state", got.state == expected.state),
                ("working data", got.working == expected.working),
                ("notify queued", notify.bodies() == expected_notify),
            ] {
                if !same {
                    wrong.push(format!(
                        "{case}: {what} differs from a run without failures"
                    ));
                }
            }
            let orphans = orphan_state(&store, &arn).await;
            if !orphans.is_empty() {
                wrong.push(format!("{case}: state left behind: {orphans:?}"));
            }

            // A delivery of the finished message again changes nothing stored.
            let before = snapshot(&store.inner).await;
            detect.push(detect_body(&arn, interval, 0));
            assert!(deliver_detect(&store, &detect, &notify).await.is_empty());
            assert_eq!(snapshot(&store.inner).await, before, "{case}: the replay");
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");

    // The notify queue is unreachable when the interval is done: the message is reported
    // (the notify work would be lost otherwise), and its redelivery queues it.
    let store = copy_of(&ingested).await;
    let (detect, notify) = (Sqs::new("detect"), Sqs::new("notify"));
    let id = detect.push(detect_body(&arn, interval, 0));
    notify.refuse.store(1, Ordering::SeqCst);
    assert_eq!(deliver_detect(&store, &detect, &notify).await, [id]);
    assert!(notify.bodies().is_empty());
    assert!(deliver_detect(&store, &detect, &notify).await.is_empty());
    assert_eq!(notify.bodies(), expected_notify);
    assert_eq!(outcome(&store, &arn, interval).await, expected);
}

// ---------------------------------------------------------------------------------- notify

/// A number that `template.yaml` sets in the resource `resource` (its first `key`).
fn resource_number(resource: &str, key: &str) -> f64 {
    let text = std::fs::read_to_string(seismo_tests::repo_root().join("template.yaml")).unwrap();
    let start = text
        .find(&format!("\n  {resource}:\n"))
        .unwrap_or_else(|| panic!("template.yaml has no {resource}"));
    text[start..]
        .lines()
        .find_map(|l| l.trim().strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split('#').next()?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{resource} sets no {key}"))
}

/// The time passes until SQS shows a message reported failed again: every claim to send an
/// alert is older by the notify queue's visibility timeout.
async fn visibility_timeout_passes(store: &Failing) {
    let timeout = resource_number("NotifyQueue", "VisibilityTimeout");
    for (key, mut doc) in store.inner.list(Kind::Pipeline, "").await.unwrap() {
        if let Some(at) = doc["sending"].as_f64() {
            doc["sending"] = json!(at - timeout);
            store.inner.put(Kind::Pipeline, &key, doc).await.unwrap();
        }
    }
}

/// Publishes to an outbox, refusing the first `refuse` messages (SNS throttled).
#[derive(Debug, Default)]
struct Flaky {
    outbox: Outbox,
    refuse: AtomicUsize,
}

impl Publisher for Flaky {
    fn sns<'a>(
        &'a self,
        topic: &'a str,
        subject: &'a str,
        message: &'a str,
    ) -> BoxFuture<'a, Result<(), String>> {
        let refused = self
            .refuse
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if refused.is_ok() {
            return Box::pin(async { Err("sns: Throttling: rate exceeded".to_string()) });
        }
        self.outbox.sns(topic, subject, message)
    }

    fn lambda<'a>(
        &'a self,
        function: &'a str,
        payload: &'a str,
    ) -> BoxFuture<'a, Result<(), String>> {
        self.sns(function, "", payload)
    }
}

/// What was sent, in a stable order (the same messages however the sends were spread).
fn sent(publisher: &Flaky) -> Vec<(String, String)> {
    let mut out = publisher.outbox.messages();
    out.sort();
    out
}

/// The detector learned, its incident's interval detected and grouped, with two alerts: the
/// store and the notify task's body.
async fn grouped_with_alerts(dir: &Path) -> (MemoryStore, String, String) {
    let (store, objects, arn, interval) = learned(dir).await;
    add_alert(&store, &arn, &format!("{ALERT}-too")).await;
    pipeline::ingest(&store, &objects, &arn, When::Interval(interval))
        .await
        .unwrap();
    let task = DetectTask {
        anomaly_detector_arn: arn.clone(),
        interval,
        shard: 0,
    };
    let work: NotifyTask = pipeline::detect(&store, &task)
        .await
        .unwrap()
        .notify
        .unwrap();
    assert!(work.anomaly_group_ids.len() >= 2, "{work:?}");
    (store, arn, serde_json::to_string(&work).unwrap())
}

#[tokio::test]
async fn a_notify_message_that_failed_on_storage_is_retried_and_sends_each_alert_once() {
    // For each step of notify, each way a store fails there (and SNS refusing a message while
    // the store fails to give its claim back): the message is reported, and its redeliveries
    // (the queue's visibility timeout apart) send every (alert, group) exactly once, as a run
    // without failures does, before the message reaches the dead-letter queue (a send whose
    // record failed goes out again: at least once, never lost); a message delivered again
    // afterwards sends nothing.
    let dir = tempfile::tempdir().unwrap();
    let (grouped, arn, body) = grouped_with_alerts(dir.path()).await;
    let clean = copy_of(&grouped).await;
    let publisher = Flaky::default();
    let notify = Sqs::new("notify");
    notify.push(body.clone());
    assert!(deliver_notify(&clean, &notify, &publisher).await.is_empty());
    let expected = sent(&publisher);
    assert_eq!(expected.len(), 4, "two alerts, two groups");

    let sent_key = format!("{arn}/sent/");
    let cases = [
        ("reading the alerts", Op::List, Kind::Alert, "", 0),
        ("reading a group", Op::Get, Kind::Group, arn.as_str(), 0),
        ("claiming a send", Op::Create, Kind::Pipeline, &sent_key, 0),
        ("recording a send", Op::Put, Kind::Pipeline, &sent_key, 0),
        (
            "giving a claim back",
            Op::Delete,
            Kind::Pipeline,
            &sent_key,
            1,
        ),
    ];
    let mut wrong = Vec::new();
    for failure in [
        Failure::Throttled,
        Failure::Internal,
        Failure::AppliedThenInternal,
    ] {
        for (step, op, kind, key, refused) in cases {
            if failure == Failure::AppliedThenInternal && matches!(op, Op::Get | Op::List) {
                continue;
            }
            let case = format!("{failure:?} {step}");
            let store = copy_of(&grouped).await;
            let publisher = Flaky {
                refuse: AtomicUsize::new(refused),
                ..Flaky::default()
            };
            let notify = Sqs::new("notify");
            let id = notify.push(body.clone());
            store.fail(op, kind, key, 1, failure);
            let failed = deliver_notify(&store, &notify, &publisher).await;
            assert_eq!(store.failed(), 1, "{case}: the fault is on notify's path");
            assert_eq!(failed, [id], "{case}: the failed message is reported");
            while !notify.bodies().is_empty() {
                visibility_timeout_passes(&store).await;
                deliver_notify(&store, &notify, &publisher).await;
            }
            let mut got = sent(&publisher);
            // A send done whose record failed is not known to be done: it goes out again
            // (at least once, never not at all); every other send goes out exactly once.
            let unrecorded = op == Op::Put && failure != Failure::AppliedThenInternal;
            if unrecorded && got.len() == expected.len() + 1 {
                got.dedup();
            }
            if got != expected {
                wrong.push(format!(
                    "{case}: sent {} of {} alerts ({} dead-lettered)",
                    sent(&publisher).len(),
                    expected.len(),
                    notify.dead().len()
                ));
                continue;
            }
            // A delivery of the finished message again sends nothing and changes nothing.
            let got_len = sent(&publisher).len();
            let before = snapshot(&store.inner).await;
            visibility_timeout_passes(&store).await;
            notify.push(body.clone());
            let failed = deliver_notify(&store, &notify, &publisher).await;
            if !failed.is_empty() || sent(&publisher).len() != got_len {
                wrong.push(format!("{case}: a replay sent again or failed"));
            }
            if snapshot(&store.inner).await != before {
                wrong.push(format!("{case}: a replay changed the store"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

// ------------------------------------------------------------------ ingest and dead letters

/// A second detector over the same sample in the same store, learned, with an alert: its ARN.
async fn twin(store: &MemoryStore, objects: &LocalObjects) -> String {
    let arn = common::detector(store, "twin", "ACTIVATING", |_| {}).await;
    add_alert(store, &arn, &format!("{ALERT}-twin")).await;
    pipeline::activate(store, objects, &arn).await.unwrap();
    arn
}

#[tokio::test]
async fn an_ingest_that_failed_on_storage_is_retried_then_dead_lettered_and_hands_on_nothing_undone()
 {
    // Lambda retries a failed asynchronous invoke MaximumRetryAttempts times, then sends the
    // event to the dead-letter queue. Throttled for fewer calls than that, ingest succeeds on a
    // retry; failing on every attempt, the event is dead-lettered; either way no detect task is
    // queued for an interval whose ingest did not finish, and the redriven event finishes it.
    let dir = tempfile::tempdir().unwrap();
    let (learned_store, objects, arn, interval) = learned(dir.path()).await;
    let event = ingest_event(&arn, interval);
    let retries = template_number("MaximumRetryAttempts") as usize;
    assert!(retries >= 1, "ingest is retried");
    let exec_key = format!(
        "{arn}/{}",
        chrono::DateTime::from_timestamp(interval, 0)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
    );

    // Throttled on every attempt but the last: done by a retry.
    let store = copy_of(&learned_store).await;
    let (detect, dlq) = (Sqs::new("detect"), Sqs::new("dead"));
    store.fail(Op::Put, Kind::Quality, &arn, retries, Failure::Throttled);
    let (attempts, answer) = invoke_ingest(&store, &objects, &detect, &dlq, &event).await;
    assert_eq!(attempts as usize, retries + 1, "{answer:?}");
    assert!(answer.is_ok() && dlq.dead().is_empty() && dlq.bodies().is_empty());
    assert_eq!(
        detect.bodies(),
        [detect_body(&arn, interval, 0)],
        "queued once"
    );
    assert!(
        store
            .inner
            .get(Kind::Execution, &exec_key)
            .await
            .unwrap()
            .is_some()
    );

    // An internal error on every attempt (recording the execution, the last step): the event
    // is dead-lettered, nothing is handed to detect.
    let store = copy_of(&learned_store).await;
    let (detect, dlq) = (Sqs::new("detect"), Sqs::new("dead"));
    store.fail(
        Op::Create,
        Kind::Execution,
        &arn,
        usize::MAX,
        Failure::Internal,
    );
    let (attempts, answer) = invoke_ingest(&store, &objects, &detect, &dlq, &event).await;
    assert_eq!(attempts as usize, retries + 1);
    assert!(answer.is_err(), "{answer:?}");
    assert_eq!(
        dlq.bodies(),
        [event.to_string()],
        "the event is dead-lettered"
    );
    assert!(
        detect.bodies().is_empty(),
        "nothing handed on for work not done"
    );
    assert!(
        store
            .inner
            .get(Kind::Execution, &exec_key)
            .await
            .unwrap()
            .is_none()
    );
    // The store recovers; the dead-lettered event is replayed: the interval is ingested and
    // detected, and its alert goes out.
    store.recover();
    for body in dlq.bodies() {
        let event: Value = serde_json::from_str(&body).unwrap();
        let (_, answer) = invoke_ingest(&store, &objects, &detect, &dlq, &event).await;
        assert!(answer.is_ok(), "{answer:?}");
    }
    assert_eq!(detect.bodies(), [detect_body(&arn, interval, 0)]);
    let notify = Sqs::new("notify");
    assert!(deliver_detect(&store, &detect, &notify).await.is_empty());
    let publisher = Flaky::default();
    assert!(deliver_notify(&store, &notify, &publisher).await.is_empty());
    let groups = outcome(&store, &arn, interval).await.groups.len();
    assert!(groups > 0);
    assert_eq!(sent(&publisher).len(), groups, "one alert per group");
    // The same event again changes nothing stored (it hands the same work over again).
    let before = snapshot(&store.inner).await;
    let (_, answer) = invoke_ingest(&store, &objects, &detect, &dlq, &event).await;
    assert!(answer.is_ok(), "{answer:?}");
    assert_eq!(snapshot(&store.inner).await, before);
}

#[tokio::test]
async fn a_detect_batch_reports_only_its_failed_message_which_is_dead_lettered_then_redriven() {
    // One batch holds the work of two detectors; the store fails every write of one of them
    // (an internal error that does not go away). The handler reports that message only: the
    // other is done and acknowledged. The failed one is received maxReceiveCount times, then
    // moves to the dead-letter queue (not retried forever). Once the store recovers, a redrive
    // finishes it: its interval grouped, its alert sent once, and the first detector's
    // alert not sent again.
    let dir = tempfile::tempdir().unwrap();
    let (learned_store, objects, arn, interval) = learned(dir.path()).await;
    let twin_arn = twin(&learned_store, &objects).await;
    for a in [&arn, &twin_arn] {
        pipeline::ingest(&learned_store, &objects, a, When::Interval(interval))
            .await
            .unwrap();
    }
    let store = copy_of(&learned_store).await;
    let (detect, notify) = (Sqs::new("detect"), Sqs::new("notify"));
    // The failing one first: what follows a failure in a batch is still done and not reported.
    let failing = detect.push(detect_body(&twin_arn, interval, 0));
    let done = detect.push(detect_body(&arn, interval, 0));
    store.fail(
        Op::Put,
        Kind::Group,
        &twin_arn,
        usize::MAX,
        Failure::Internal,
    );

    let failed = deliver_detect(&store, &detect, &notify).await;
    assert_eq!(
        failed,
        vec![failing.clone()],
        "only the failed message, not {done}"
    );
    let queued: Vec<NotifyTask> = notify
        .bodies()
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    assert_eq!(queued.len(), 1);
    assert_eq!(
        queued[0].anomaly_detector_arn, arn,
        "the finished one goes on"
    );
    let mut deliveries = 1;
    while !detect.bodies().is_empty() {
        assert_eq!(
            deliver_detect(&store, &detect, &notify).await,
            vec![failing.clone()]
        );
        deliveries += 1;
        assert!(deliveries <= 10, "retried forever");
    }
    let dead = detect.dead();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, failing);
    assert_eq!(
        dead[0].receives,
        max_receive_count(),
        "dead-lettered after maxReceiveCount"
    );
    assert_eq!(
        notify.bodies().len(),
        1,
        "nothing queued for the failed one"
    );
    let publisher = Flaky::default();
    assert!(deliver_notify(&store, &notify, &publisher).await.is_empty());
    let first_alerts = sent(&publisher).len();
    assert!(first_alerts > 0);

    store.recover();
    detect.redrive_from(&detect);
    assert!(deliver_detect(&store, &detect, &notify).await.is_empty());
    let twin_done = outcome(&store, &twin_arn, interval).await;
    let first_done = outcome(&store, &arn, interval).await;
    assert_eq!(twin_done.groups.len(), first_done.groups.len(), "grouped");
    assert!(twin_done.working.is_empty() && twin_done.execution.is_some());
    assert!(deliver_notify(&store, &notify, &publisher).await.is_empty());
    assert_eq!(
        sent(&publisher).len(),
        first_alerts + twin_done.groups.len(),
        "the twin's alerts once, the first detector's not again"
    );
}

async fn status(store: &Failing, arn: &str) -> String {
    let doc = store.inner.get(Kind::Detector, arn).await.unwrap().unwrap();
    doc["Status"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn an_activation_whose_store_fails_is_retried_until_it_runs_or_is_dead_lettered() {
    // The activation fails on storage, and so does giving its claim on the run back. Its
    // retries must not be acknowledged as done while the detector stays ACTIVATING: they run
    // it, or fail and leave the event in the dead-letter queue, whose redrive (once the run is
    // taken for lost) runs it.
    let dir = tempfile::tempdir().unwrap();
    let _ = common::sample_up_to_first_incident(dir.path());
    let objects = LocalObjects::new(dir.path());
    let store = Failing::default();
    let arn = common::detector(&store.inner, "shop", "ACTIVATING", |_| {}).await;
    let now = chrono::Utc::now().timestamp();
    pipeline::ask_run(&store.inner, &arn, "t", now)
        .await
        .unwrap();
    let event = json!({ "anomalyDetectorArn": arn, "activate": true, "token": "t" });
    let run_key = format!("{arn}/run");
    store.fail(
        Op::Put,
        Kind::Pipeline,
        &format!("{arn}/runtime"),
        1,
        Failure::Throttled,
    );
    store.fail_after(
        1,
        Op::Replace,
        Kind::Pipeline,
        &run_key,
        1,
        Failure::Throttled,
    );
    let (detect, dlq) = (Sqs::new("detect"), Sqs::new("dead"));
    let (attempts, answer) = invoke_ingest(&store, &objects, &detect, &dlq, &event).await;
    assert_eq!(store.failed(), 2, "the work and the release failed");
    let ran = matches!(status(&store, &arn).await.as_str(), "ACTIVE" | "LEARNING");
    assert!(
        ran || dlq.bodies() == [event.to_string()],
        "acknowledged after {attempts} attempts without running: {answer:?}, {}",
        status(&store, &arn).await
    );
    if !ran {
        // The run is taken for lost after RUN_LOST_AFTER: the redriven event runs it.
        let mut run = store
            .inner
            .get(Kind::Pipeline, &run_key)
            .await
            .unwrap()
            .unwrap();
        if let Some(at) = run["claimedAt"].as_i64() {
            run["claimedAt"] = json!(at - pipeline::RUN_LOST_AFTER - 1);
            store
                .inner
                .put(Kind::Pipeline, &run_key, run)
                .await
                .unwrap();
        }
        let dead = Sqs::new("dead-again");
        let (_, answer) = invoke_ingest(&store, &objects, &detect, &dead, &event).await;
        assert!(answer.is_ok(), "{answer:?}");
        assert!(matches!(
            status(&store, &arn).await.as_str(),
            "ACTIVE" | "LEARNING"
        ));
    }
    // A duplicate of the event afterwards does nothing and is acknowledged.
    let before = snapshot(&store.inner).await;
    let (attempts, answer) = invoke_ingest(&store, &objects, &detect, &dlq, &event).await;
    assert_eq!((attempts, answer.is_ok()), (1, true), "{answer:?}");
    assert_eq!(snapshot(&store.inner).await, before);
}

// --------------------------------------------------------------------------- against SQS

/// Receives what is visible in the real queue at `url` (up to 10), hands it to the detect
/// handler as Lambda's event source mapping does, and deletes what the handler did not report.
/// The bodies received and the ids reported.
async fn deliver_detect_from_sqs(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    store: &Failing,
    notify: &Sqs,
) -> (Vec<String>, Vec<String>) {
    let got = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .wait_time_seconds(0)
        .send()
        .await
        .unwrap();
    let batch: Vec<Message> = got
        .messages()
        .iter()
        .map(|m| Message {
            id: m.message_id().unwrap().to_string(),
            body: m.body().unwrap().to_string(),
            receives: 0,
        })
        .collect();
    let response = wire(
        handlers::detect(store, notify, sqs_input(sqs_event(&batch)))
            .await
            .unwrap(),
    );
    let failed: Vec<String> = response["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_string())
        .collect();
    for m in got.messages() {
        if !failed.iter().any(|f| Some(f.as_str()) == m.message_id()) {
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    (batch.into_iter().map(|m| m.body).collect(), failed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn against_sqs_a_detect_task_that_keeps_failing_is_dead_lettered_and_redriven() {
    // The same path through SQS itself (the moto server): queues set up as template.yaml sets
    // them (the detect queue's RedrivePolicy with its maxReceiveCount, a dead-letter queue;
    // the visibility timeout shortened to 0 so a reported message is received again at once).
    // Ingest queues the task through the SQS adapter; detect, failing on storage, reports it
    // on every receive until SQS moves it to the dead-letter queue; after the store recovers,
    // the redriven message finishes the interval.
    let moto = seismo_tests::Moto::start();
    let config = seismo_shared::aws::config(Some(&moto.endpoint)).await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let dead_url = sqs
        .create_queue()
        .queue_name("seismo-dead")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dead_arn = sqs
        .get_queue_attributes()
        .queue_url(&dead_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    let max_receives = max_receive_count();
    let redrive = json!({ "deadLetterTargetArn": dead_arn, "maxReceiveCount": max_receives });
    let url = sqs
        .create_queue()
        .queue_name("seismo-detect")
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
            redrive.to_string(),
        )
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "0",
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let detect_queue = seismo_shared::aws::sqs::SqsQueue::new(&config, &url);

    let dir = tempfile::tempdir().unwrap();
    let (learned_store, objects, arn, interval) = learned(dir.path()).await;
    let store = copy_of(&learned_store).await;
    let answer = handlers::ingest(
        &store,
        &objects,
        &detect_queue,
        ingest_event(&arn, interval),
    )
    .await
    .unwrap();
    assert_eq!(answer["shards"], 1, "{answer}");
    store.fail(Op::Put, Kind::Group, &arn, usize::MAX, Failure::Internal);
    let notify = Sqs::new("notify");
    let task = detect_body(&arn, interval, 0);

    let mut receives = 0;
    for _ in 0..10 {
        let (bodies, failed) = deliver_detect_from_sqs(&sqs, &url, &store, &notify).await;
        if bodies.is_empty() {
            break;
        }
        assert_eq!(bodies, vec![task.clone()]);
        assert_eq!(failed.len(), 1, "reported on every receive");
        receives += 1;
    }
    assert_eq!(
        receives, max_receives,
        "received maxReceiveCount times, then dead-lettered"
    );
    assert!(notify.bodies().is_empty());
    let dead = sqs
        .receive_message()
        .queue_url(&dead_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let dead = dead.messages();
    assert_eq!(dead.len(), 1, "in the dead-letter queue");
    assert_eq!(dead[0].body(), Some(task.as_str()));

    // The store recovers; the dead-letter queue is redriven.
    store.recover();
    detect_queue
        .send(&[dead[0].body().unwrap().to_string()])
        .await
        .unwrap();
    sqs.delete_message()
        .queue_url(&dead_url)
        .receipt_handle(dead[0].receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    let (bodies, failed) = deliver_detect_from_sqs(&sqs, &url, &store, &notify).await;
    assert_eq!((bodies, failed), (vec![task], vec![]));
    let (bodies, _) = deliver_detect_from_sqs(&sqs, &url, &store, &notify).await;
    assert!(bodies.is_empty(), "acknowledged, so deleted");
    let done = outcome(&store, &arn, interval).await;
    assert!(
        !done.groups.is_empty() && done.working.is_empty(),
        "{:?}",
        done.execution
    );
    assert_eq!(notify.bodies().len(), 1, "notify queued");
}
