//! A detect run that loses the swap of its shard's state to another run of the same interval
//! (SQS delivers a message twice, or a retry overlaps a slow first attempt) leaves nothing
//! behind: its state object is deleted, the other run's state stands, and the interval is
//! grouped once with no values or scores left over. An activation that races a delete of its
//! detector leaves no model behind either.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

mod common;

use seismo_lab::generate::{self, GenerateOptions};
use seismo_lab::store::Intercept;
use seismo_shared::objects::{BoxFuture, LocalObjects, ObjectError, Objects};
use seismo_shared::pipeline::{self, DetectTask, When, blob};
use seismo_shared::store::{Kind, MemoryStore, Store, StoreError, WithObjects};
use serde_json::{Value, json};

const ROOT: &str = "s3://seismo-state/state";

/// What the test store does besides storing.
enum Hook {
    /// Another run swaps in its own state for the interval `at` just before this run's first
    /// swap of a shard's state head.
    RaceStateSwap { at: i64, raced: AtomicBool },
    /// The detector is deleted (DeleteAnomalyDetector in another call) just as a document of
    /// `kind` is stored (an activation's state, a backtest's data quality).
    DeleteDetectorOn { detector: String, kind: Kind },
    /// The first change of the detector's document fails (storage down for a moment).
    FailDetectorWriteOnce { failed: AtomicBool },
}

/// The store the tests run on.
type Inner = WithObjects<MemoryStore>;

/// A store with a [`Hook`].
type Hooked = Intercept<Inner, Hook>;

impl Hook {
    fn raced(&self) -> bool {
        matches!(self, Hook::RaceStateSwap { raced, .. } if raced.load(Ordering::SeqCst))
    }

    fn detector(&self) -> String {
        match self {
            Hook::DeleteDetectorOn { detector, .. } => detector.clone(),
            Hook::RaceStateSwap { .. } | Hook::FailDetectorWriteOnce { .. } => String::new(),
        }
    }

    /// Fails this write when it is the first write of the detector's document to fail.
    fn fail_once(&self, kind: Kind) -> Result<(), StoreError> {
        match self {
            Hook::FailDetectorWriteOnce { failed }
                if kind == Kind::Detector && !failed.swap(true, Ordering::SeqCst) =>
            {
                Err(StoreError::Backend("storage is down for a moment".into()))
            }
            _ => Ok(()),
        }
    }
}

impl seismo_lab::store::Hook<Inner> for Hook {
    async fn put(
        &self,
        inner: &Inner,
        kind: Kind,
        key: &str,
        value: Value,
    ) -> Result<(), StoreError> {
        if let Hook::DeleteDetectorOn { detector, kind: on } = self
            && kind == *on
        {
            // The delete: the detector's document and what was stored so far.
            inner.delete(Kind::Detector, detector).await?;
            pipeline::forget(inner, detector).await?;
        }
        inner.put(kind, key, value).await
    }

    async fn replace(
        &self,
        inner: &Inner,
        kind: Kind,
        key: &str,
        expected: Option<&Value>,
        value: Value,
    ) -> Result<(), StoreError> {
        self.fail_once(kind)?;
        if let Hook::RaceStateSwap { at, raced } = self
            && key.ends_with("/state/0")
            && value["at"].as_i64() == Some(*at)
            && !raced.swap(true, Ordering::SeqCst)
        {
            // The other run: the same state under its own key, swapped in first.
            let ours = value["blob"].as_str().unwrap();
            let bytes = blob::get(inner, ours).await?.unwrap();
            let theirs = format!("{ours}-other-run");
            blob::put(inner, &theirs, &bytes).await?;
            let mut head = value.clone();
            head["blob"] = json!(theirs);
            inner.replace(kind, key, expected, head).await?;
            if let Some(previous) = expected.and_then(|e| e["blob"].as_str()) {
                blob::delete(inner, previous).await?;
            }
        }
        inner.replace(kind, key, expected, value).await
    }
}

#[tokio::test]
async fn a_run_that_loses_the_state_swap_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let interval = common::sample_up_to_first_incident(dir.path());
    let data = LocalObjects::new(dir.path());
    let state_dir = tempfile::tempdir().unwrap();
    let objects: Arc<dyn Objects> = Arc::new(LocalObjects::new(state_dir.path()));
    let store = Hooked {
        inner: WithObjects::new(MemoryStore::new(), objects.clone(), ROOT),
        hook: Hook::RaceStateSwap {
            at: interval,
            raced: AtomicBool::new(false),
        },
    };
    let arn = &common::detector(&store, "shop", "INACTIVE", |_| {}).await;

    pipeline::activate(&store, &data, arn).await.unwrap();
    let ingested = pipeline::ingest(&store, &data, arn, When::Interval(interval))
        .await
        .unwrap();
    assert_eq!(ingested.tasks.len(), 1, "one shard");
    let task = DetectTask {
        anomaly_detector_arn: arn.into(),
        interval,
        shard: 0,
    };
    let done = pipeline::detect(&store, &task).await.unwrap();
    assert!(store.raced(), "the race happened");
    assert!(!done.scored, "the other run's swap stands");
    assert!(done.notify.is_some(), "the interval is grouped");

    let head = store
        .get(Kind::Pipeline, &format!("{arn}/state/0"))
        .await
        .unwrap()
        .unwrap();
    // (Local objects are listed as their files.)
    let state_objects = objects.list(&format!("{ROOT}/{arn}/state/")).await.unwrap();
    let kept = head["blob"].as_str().unwrap();
    assert!(kept.ends_with("-other-run"), "{head}");
    assert!(
        state_objects.len() == 1 && state_objects[0].ends_with(kept),
        "only the other run's state is kept: {state_objects:?}"
    );
    let leftovers: Vec<String> = objects
        .list(&format!("{ROOT}/{arn}/"))
        .await
        .unwrap()
        .into_iter()
        .filter(|o| !o.contains("/state/"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // The same message again changes nothing.
    let again = pipeline::detect(&store, &task).await.unwrap();
    assert!(!again.scored);
    assert_eq!(
        objects.list(&format!("{ROOT}/{arn}/")).await.unwrap(),
        state_objects
    );
}

/// A detector in `status` with the generated metric set, on a store that deletes it just as a
/// document of `kind` is stored.
async fn deleted_midway(
    status: &str,
    kind: Kind,
    state_dir: &std::path::Path,
) -> (Hooked, Arc<dyn Objects>) {
    let objects: Arc<dyn Objects> = Arc::new(LocalObjects::new(state_dir));
    let store = Hooked {
        inner: WithObjects::new(MemoryStore::new(), objects.clone(), ROOT),
        hook: Hook::DeleteDetectorOn {
            detector: common::arn("shop"),
            kind,
        },
    };
    common::detector(&store, "shop", status, |_| {}).await;
    (store, objects)
}

#[tokio::test]
async fn a_detector_deleted_while_it_learns_leaves_no_model_behind() {
    let dir = tempfile::tempdir().unwrap();
    generate::generate(dir.path(), &GenerateOptions::default()).unwrap();
    let data = LocalObjects::new(dir.path());
    let state_dir = tempfile::tempdir().unwrap();
    let (store, objects) = deleted_midway("ACTIVATING", Kind::Pipeline, state_dir.path()).await;
    let arn = store.detector();

    pipeline::ask_run(&store.inner, &arn, "t", 0).await.unwrap();
    let status = pipeline::run_activation(&store, &data, &arn, Some("t"))
        .await
        .unwrap();
    assert_eq!(status, "DELETED");
    let kept = store
        .list(Kind::Pipeline, &format!("{arn}/"))
        .await
        .unwrap();
    assert!(kept.is_empty(), "{kept:?}");
    let state_objects = objects
        .list(&format!("{ROOT}/{arn}/"))
        .await
        .unwrap_or_default();
    assert!(state_objects.is_empty(), "{state_objects:?}");
}

#[tokio::test]
async fn a_detector_deleted_while_it_backtests_leaves_no_results_behind() {
    let dir = tempfile::tempdir().unwrap();
    generate::generate(dir.path(), &GenerateOptions::default()).unwrap();
    let data = LocalObjects::new(dir.path());
    let state_dir = tempfile::tempdir().unwrap();
    let (store, _) = deleted_midway("BACK_TEST_ACTIVATING", Kind::Quality, state_dir.path()).await;
    let arn = store.detector();

    pipeline::ask_run(&store.inner, &arn, "t", 0).await.unwrap();
    let status = pipeline::run_backtest(&store, &data, &arn, Some("t"))
        .await
        .unwrap();
    assert_eq!(status, "DELETED");
    let groups = store.list(Kind::Group, &format!("{arn}/")).await.unwrap();
    assert!(groups.is_empty(), "{} groups left", groups.len());
    assert!(store.get(Kind::Quality, &arn).await.unwrap().is_none());
}

/// Local objects that count how many readers are open at once.
#[derive(Debug)]
struct Counting {
    inner: LocalObjects,
    open: Arc<std::sync::atomic::AtomicUsize>,
    most: Arc<std::sync::atomic::AtomicUsize>,
}

struct CountedReader {
    inner: seismo_shared::objects::ObjectReader,
    open: Arc<std::sync::atomic::AtomicUsize>,
}

impl std::io::Read for CountedReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}

impl Drop for CountedReader {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Objects for Counting {
    fn list<'a>(
        &'a self,
        path: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, seismo_shared::objects::ObjectError>> {
        self.inner.list(path)
    }

    fn open<'a>(
        &'a self,
        object: &'a str,
    ) -> BoxFuture<
        'a,
        Result<seismo_shared::objects::ObjectReader, seismo_shared::objects::ObjectError>,
    > {
        Box::pin(async move {
            let inner = self.inner.open(object).await?;
            let now = self.open.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            let reader = CountedReader {
                inner,
                open: self.open.clone(),
            };
            Ok(Box::new(reader) as seismo_shared::objects::ObjectReader)
        })
    }

    fn put<'a>(
        &'a self,
        object: &'a str,
        bytes: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), seismo_shared::objects::ObjectError>> {
        self.inner.put(object, bytes)
    }

    fn delete<'a>(
        &'a self,
        object: &'a str,
    ) -> BoxFuture<'a, Result<(), seismo_shared::objects::ObjectError>> {
        self.inner.delete(object)
    }
}

#[tokio::test]
async fn a_backtest_holds_one_object_open_at_a_time() {
    // The ingest function may hold 1,024 files open: a long history has more objects than that.
    let dir = tempfile::tempdir().unwrap();
    generate::generate(dir.path(), &GenerateOptions::default()).unwrap();
    let data = Counting {
        inner: LocalObjects::new(dir.path()),
        open: Arc::default(),
        most: Arc::default(),
    };
    let state_dir = tempfile::tempdir().unwrap();
    // (Deleted on storing a kind a backtest never stores: nothing is deleted.)
    let (store, _) =
        deleted_midway("BACK_TEST_ACTIVATING", Kind::Execution, state_dir.path()).await;
    let arn = store.detector();
    // No historical path: the backtest reads the live files, one per hour (504).
    let mut ms = serde_json::to_value(generate::metric_set()).unwrap();
    ms["AnomalyDetectorArn"] = json!(arn);
    ms["MetricSource"]["S3SourceConfig"]
        .as_object_mut()
        .unwrap()
        .remove("HistoricalDataPathList");
    let ms_arn = format!("{}shop-orders", pipeline::metric_set_prefix(&arn));
    store.inner.put(Kind::MetricSet, &ms_arn, ms).await.unwrap();
    pipeline::ask_run(&store.inner, &arn, "t", 0).await.unwrap();
    let status = pipeline::run_backtest(&store, &data, &arn, Some("t"))
        .await
        .unwrap();
    assert_eq!(status, "BACK_TEST_COMPLETE");
    let quality = store.get(Kind::Quality, &arn).await.unwrap().unwrap();
    assert!(
        quality["quality"]["files"].as_u64().unwrap() > 400,
        "{quality}"
    );
    assert_eq!(data.most.load(Ordering::SeqCst), 1);
    let groups = store.list(Kind::Group, &format!("{arn}/")).await.unwrap();
    assert!(!groups.is_empty());
}

#[tokio::test]
async fn an_interval_whose_shard_ran_ahead_is_still_grouped() {
    // Detect tasks of two intervals delivered out of order (a standard queue, concurrent
    // functions, or the retry of a failed first attempt half an hour later): the later one
    // moves the shard's state past the earlier one, which then cannot be scored, but must
    // still be grouped and finished, not fail on every retry.
    let dir = tempfile::tempdir().unwrap();
    let interval = common::sample_up_to_first_incident(dir.path());
    let (store, data, arn) = common::activated(dir.path()).await;
    let arn = &arn;
    let (early, late) = (interval, interval + 3600);
    for t in [early, late] {
        pipeline::ingest(&store, &data, arn, When::Interval(t))
            .await
            .unwrap();
    }
    let task = |t: i64| DetectTask {
        anomaly_detector_arn: arn.into(),
        interval: t,
        shard: 0,
    };
    let ahead = pipeline::detect(&store, &task(late)).await.unwrap();
    assert!(ahead.scored && ahead.notify.is_some());
    let behind = pipeline::detect(&store, &task(early)).await.unwrap();
    assert!(!behind.scored, "the state is past it");
    assert!(behind.notify.is_some(), "grouped all the same");
    // Nothing of it is left to retry, and a retry changes nothing.
    for prefix in ["scored", "progress", "values"] {
        let left = store
            .list(Kind::Pipeline, &format!("{arn}/{prefix}/"))
            .await
            .unwrap();
        assert!(left.is_empty(), "{prefix}: {left:?}");
    }
    let again = pipeline::detect(&store, &task(early)).await.unwrap();
    assert_eq!(again.notify, behind.notify);
}

/// Publishes after a pause (the network), counting what it sent.
#[derive(Debug, Default)]
struct SlowPublisher(std::sync::atomic::AtomicUsize);

impl seismo_shared::pipeline::alert::Publisher for SlowPublisher {
    fn sns<'a>(&'a self, _: &'a str, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    }

    fn lambda<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<(), String>> {
        self.sns("", "", "")
    }
}

#[tokio::test]
async fn two_notify_runs_at_once_send_each_alert_once() {
    // Duplicate notify tasks for one interval (an ingest replay re-queues every shard, each of
    // which queues a notify) run at the same time: each (alert, group) goes out once.
    let dir = tempfile::tempdir().unwrap();
    let interval = common::sample_up_to_first_incident(dir.path());
    let data = LocalObjects::new(dir.path());
    let store = MemoryStore::new();
    let arn = &common::detector(&store, "shop", "INACTIVE", |_| {}).await;
    let alert_arn = "arn:aws:lookoutmetrics:us-east-1:000000000000:Alert:page";
    let alert = json!({"AlertArn": alert_arn, "AlertName": "page", "AnomalyDetectorArn": arn,
        "AlertStatus": "ACTIVE", "AlertSensitivityThreshold": 0,
        "Action": {"SNSConfiguration": {"SnsTopicArn": "arn:aws:sns:us-east-1:000000000000:t"}}});
    store.put(Kind::Alert, alert_arn, alert).await.unwrap();
    pipeline::activate(&store, &data, arn).await.unwrap();
    pipeline::ingest(&store, &data, arn, When::Interval(interval))
        .await
        .unwrap();
    let task = DetectTask {
        anomaly_detector_arn: arn.into(),
        interval,
        shard: 0,
    };
    let work = pipeline::detect(&store, &task)
        .await
        .unwrap()
        .notify
        .unwrap();
    assert!(
        !work.anomaly_group_ids.is_empty(),
        "the incident is grouped"
    );
    let publisher = SlowPublisher::default();
    let notify = || pipeline::alert::notify(&store, &publisher, &work, "");
    let (a, b) = tokio::join!(notify(), notify());
    let (a, b) = (a.unwrap(), b.unwrap());
    let groups = work.anomaly_group_ids.len();
    assert_eq!(publisher.0.load(Ordering::SeqCst), groups, "{a:?} {b:?}");
    // The run that lost a claim finds the send done, or (still going) reports it not done, so
    // its task is retried rather than acknowledged.
    let (lost, pending) = (
        a.already_sent + b.already_sent,
        a.failed.len() + b.failed.len(),
    );
    assert_eq!((a.sent + b.sent, lost + pending), (groups, groups));
    // And once more later: nothing.
    let c = notify().await.unwrap();
    assert_eq!((c.sent, c.already_sent), (0, groups));
}

#[tokio::test]
async fn an_activation_that_failed_on_storage_runs_when_retried() {
    // The storage fails as the activation sets the detector's status at the end: the event is
    // retried, and the retry must run the activation, not find it claimed and do nothing
    // (which left the detector ACTIVATING for twenty minutes).
    let dir = tempfile::tempdir().unwrap();
    generate::generate(dir.path(), &GenerateOptions::default()).unwrap();
    let data = LocalObjects::new(dir.path());
    let objects: Arc<dyn Objects> =
        Arc::new(LocalObjects::new(tempfile::tempdir().unwrap().keep()));
    let store = Hooked {
        inner: WithObjects::new(MemoryStore::new(), objects, ROOT),
        hook: Hook::FailDetectorWriteOnce {
            failed: AtomicBool::new(false),
        },
    };
    let arn = &common::detector(&store.inner, "shop", "ACTIVATING", |_| {}).await;
    pipeline::ask_run(&store.inner, arn, "t", 0).await.unwrap();

    let first = pipeline::run_activation(&store, &data, arn, Some("t")).await;
    assert!(first.is_err(), "{first:?}");
    let retried = pipeline::run_activation(&store, &data, arn, Some("t"))
        .await
        .unwrap();
    assert_eq!(retried, "ACTIVE");
    // A third delivery of the same event does nothing.
    let again = pipeline::run_activation(&store, &data, arn, Some("t"))
        .await
        .unwrap();
    assert_eq!(again, "ACTIVE");
}

#[tokio::test]
async fn a_daily_firing_on_the_day_clocks_change_ingests_yesterday() {
    // A daily detector in New York with a three-hour Offset fires at 03:00 local. On the day
    // clocks go forward that is two hours after midnight, and on the day they go back four:
    // either way the firing is for the day before.
    let store = MemoryStore::new();
    let data = LocalObjects::new(tempfile::tempdir().unwrap().keep());
    let arn = &common::detector(&store, "daily", "ACTIVE", |ms| {
        ms["MetricSetFrequency"] = json!("P1D");
        ms["Timezone"] = json!("America/New_York");
        ms["Offset"] = json!(10_800);
    })
    .await;
    pipeline::install(&store, arn, Default::default(), 0, None)
        .await
        .unwrap();
    let at = |iso: &str| {
        chrono::DateTime::parse_from_rfc3339(iso)
            .unwrap()
            .timestamp()
    };
    for (fired, day) in [
        // 03:00 EDT on 8 March 2026, the day clocks go forward: 7 March (from 05:00 UTC).
        ("2026-03-08T07:00:00Z", "2026-03-07T05:00:00Z"),
        // An ordinary day.
        ("2026-03-10T07:00:00Z", "2026-03-09T04:00:00Z"),
        // 03:00 EST on 1 November 2026, the day clocks go back: 31 October.
        ("2026-11-01T08:00:00Z", "2026-10-31T04:00:00Z"),
    ] {
        pipeline::ingest(&store, &data, arn, When::FiredAt(at(fired)))
            .await
            .unwrap();
        let exec = store
            .get(Kind::Execution, &format!("{arn}/{day}"))
            .await
            .unwrap();
        assert!(exec.is_some(), "fired {fired}: no execution for {day}");
    }
    assert_eq!(
        store
            .list(Kind::Execution, &format!("{arn}/"))
            .await
            .unwrap()
            .len(),
        3
    );
}

/// Local objects whose first listing fails as S3 does when it throttles.
#[derive(Debug)]
struct FlakyObjects {
    inner: LocalObjects,
    failed: AtomicBool,
}

impl Objects for FlakyObjects {
    fn list<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<Vec<String>, ObjectError>> {
        if !self.failed.swap(true, Ordering::SeqCst) {
            return Box::pin(async {
                Err(ObjectError::Other(
                    "SlowDown: please reduce your request rate".into(),
                ))
            });
        }
        self.inner.list(path)
    }

    fn open<'a>(
        &'a self,
        object: &'a str,
    ) -> BoxFuture<'a, Result<seismo_shared::objects::ObjectReader, ObjectError>> {
        self.inner.open(object)
    }

    fn put<'a>(
        &'a self,
        object: &'a str,
        bytes: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), ObjectError>> {
        self.inner.put(object, bytes)
    }

    fn delete<'a>(&'a self, object: &'a str) -> BoxFuture<'a, Result<(), ObjectError>> {
        self.inner.delete(object)
    }
}

#[tokio::test]
async fn a_throttled_listing_is_retried_not_recorded_as_a_failed_interval() {
    let dir = tempfile::tempdir().unwrap();
    let interval = common::sample_up_to_first_incident(dir.path());
    let (store, _, arn) = common::activated(dir.path()).await;
    let arn = &arn;
    let flaky = FlakyObjects {
        inner: LocalObjects::new(dir.path()),
        failed: AtomicBool::new(false),
    };
    let first = pipeline::ingest(&store, &flaky, arn, When::Interval(interval)).await;
    assert!(
        matches!(first, Err(pipeline::PipelineError::Store(_))),
        "{first:?}"
    );
    let exec_key = format!("{arn}/{}", seismo_shared::model::timestamp_string(interval));
    assert!(
        store
            .get(Kind::Execution, &exec_key)
            .await
            .unwrap()
            .is_none(),
        "not recorded"
    );
    let retried = pipeline::ingest(&store, &flaky, arn, When::Interval(interval))
        .await
        .unwrap();
    assert_eq!(retried.problem, None);
    assert!(retried.series > 0);
}

#[tokio::test]
async fn a_restart_finishes_what_a_killed_serve_left_half_done() {
    // `seismo serve` killed after ingesting an interval (its execution IN_PROGRESS) and while
    // a backtest it had claimed ran: on restart the interval is detected and the run is free
    // to run again.
    let dir = tempfile::tempdir().unwrap();
    let interval = common::sample_up_to_first_incident(dir.path());
    let (store, data, arn) = common::activated(dir.path()).await;
    let arn = &arn;
    pipeline::ingest(&store, &data, arn, When::Interval(interval))
        .await
        .unwrap();
    let run = json!({"token": "t", "requestedAt": 0, "claim": "the killed process"});
    store
        .put(Kind::Pipeline, &format!("{arn}/run"), run)
        .await
        .unwrap();
    let exec_key = format!("{arn}/{}", seismo_shared::model::timestamp_string(interval));
    let status = || async {
        store
            .get(Kind::Execution, &exec_key)
            .await
            .unwrap()
            .unwrap()["Status"]
            .clone()
    };
    assert_eq!(status().await, "IN_PROGRESS");

    let outbox = pipeline::alert::Outbox::new();
    let runs = pipeline::local::recover(&store, &data, &outbox, "")
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);
    assert!(runs[0].groups > 0, "the incident is grouped: {runs:?}");
    assert_ne!(status().await, "IN_PROGRESS");
    let run = store
        .get(Kind::Pipeline, &format!("{arn}/run"))
        .await
        .unwrap()
        .unwrap();
    assert!(run["claim"].is_null(), "{run}");
    // A second restart finds nothing to do.
    assert!(
        pipeline::local::recover(&store, &data, &outbox, "")
            .await
            .unwrap()
            .is_empty()
    );
}
