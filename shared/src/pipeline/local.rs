//! The interval schedule in process, for `seismo serve`: an activating detector learns from
//! its history, a backtest asked for runs, and every running detector's closed intervals (end plus Offset passed) are
//! ingested, detected and notified in order, as the EventBridge schedules and the Lambda
//! functions do deployed.

use super::alert::{self, Publisher};
use super::status::detector_status;
use super::{PipelineError, When, detect, ingest, load, run_activation, run_backtest, runtime};
use crate::model::{DetectorStatus, ExecutionStatus};
use crate::objects::Objects;
use crate::store::{Kind, Store, keys};
use crate::time::{interval_start, next_interval};

/// Intervals run per detector per call, at most (a long gap catches up over several calls).
pub const CATCH_UP: usize = 24;

/// What one interval run did.
#[derive(Debug, Clone, PartialEq)]
pub struct IntervalRun {
    /// The detector.
    pub detector: String,
    /// Interval start (epoch seconds).
    pub interval: i64,
    /// Anomaly groups formed.
    pub groups: usize,
    /// Alerts sent.
    pub alerts: usize,
    /// Why the interval had no or partial data.
    pub problem: Option<String>,
}

/// The intervals of a detector that are due at `now` and not yet run, oldest first.
pub async fn due<S: Store>(store: &S, arn: &str, now: i64) -> Result<Vec<i64>, PipelineError> {
    let d = load(store, arn).await?;
    let rt = runtime(store, arn).await?;
    let (f, z) = (d.schema.frequency, d.schema.zone);
    let offset = d.metric_set.offset.unwrap_or(0);
    let last_run = store
        .list(Kind::Execution, &keys::detector_prefix(arn))
        .await?
        .iter()
        .filter_map(|(_, e)| e["Timestamp"].as_str().map(str::to_string))
        .filter_map(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.timestamp())
        .max();
    let after_history = rt.history_end.and_then(|h| next_interval(h, f, z));
    let closed_at_activation =
        interval_start(rt.activated_at, f, z).and_then(|current| interval_start(current - 1, f, z));
    // After the last interval run (intervals missed while `serve` was down are caught up), or
    // after the history; never before the interval closed last at activation, so intervals
    // that closed while the detector was deactivated are not run when it is activated again.
    let after = last_run.map_or(after_history, |last| next_interval(last, f, z));
    let mut next = match (after, closed_at_activation) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let mut out = Vec::new();
    while let Some(t) = next {
        let Some(end) = next_interval(t, f, z) else {
            break;
        };
        if end + offset > now || out.len() >= CATCH_UP {
            break;
        }
        out.push(t);
        next = Some(end);
    }
    Ok(out)
}

/// Runs one interval of a detector through every stage in process.
pub async fn run_interval<S: Store>(
    store: &S,
    objects: &dyn Objects,
    publisher: &dyn Publisher,
    console_url: &str,
    arn: &str,
    interval: i64,
) -> Result<IntervalRun, PipelineError> {
    let ingested = ingest(store, objects, arn, When::Interval(interval)).await?;
    let (mut groups, mut alerts) = (0, 0);
    for task in &ingested.tasks {
        if let Some(work) = detect(store, task).await?.notify {
            groups += work.anomaly_group_ids.len();
            alerts += alert::notify(store, publisher, &work, console_url)
                .await?
                .sent;
        }
    }
    Ok(IntervalRun {
        detector: arn.to_string(),
        interval,
        groups,
        alerts,
        problem: ingested.problem,
    })
}

/// What a restart finds half done, made whole again (`seismo serve` is the only worker, so
/// nothing else can be running): one-time runs claimed by the killed process run again, and
/// intervals left IN_PROGRESS are detected and notified (replays change nothing that was
/// done). Returns the intervals finished.
pub async fn recover<S: Store>(
    store: &S,
    objects: &dyn Objects,
    publisher: &dyn Publisher,
    console_url: &str,
) -> Result<Vec<IntervalRun>, PipelineError> {
    let mut out = Vec::new();
    for (arn, doc) in store.list(Kind::Detector, "").await? {
        super::reset_run_claim(store, &arn).await?;
        if !detector_status(Some(&doc)).is_some_and(DetectorStatus::is_running) {
            continue;
        }
        for (_, exec) in store
            .list(Kind::Execution, &keys::detector_prefix(&arn))
            .await?
        {
            let started = exec["Timestamp"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
            if let (true, Some(t)) = (exec["Status"] == ExecutionStatus::InProgress, started) {
                match run_interval(store, objects, publisher, console_url, &arn, t.timestamp())
                    .await
                {
                    Ok(run) => out.push(run),
                    Err(PipelineError::Store(e)) => return Err(e.into()),
                    Err(e) => tracing::warn!(detector = %arn, error = %e, "not recovered"),
                }
            }
        }
    }
    Ok(out)
}

/// Runs the activations and backtests asked for, then every due interval of every running
/// detector.
pub async fn tick<S: Store>(
    store: &S,
    objects: &dyn Objects,
    publisher: &dyn Publisher,
    console_url: &str,
    now: i64,
) -> Result<Vec<IntervalRun>, PipelineError> {
    let mut out = Vec::new();
    for (arn, doc) in store.list(Kind::Detector, "").await? {
        let mut status = detector_status(Some(&doc));
        // A run another tick left claimed (it failed on storage) is tried again later.
        if status == Some(DetectorStatus::Activating) {
            match run_activation(store, objects, &arn, None).await {
                Err(PipelineError::Busy(_)) => continue,
                done => status = done?.parse().ok(),
            }
        }
        if status == Some(DetectorStatus::BackTestActivating) {
            match run_backtest(store, objects, &arn, None).await {
                Err(PipelineError::Busy(_)) => {}
                done => {
                    done?;
                }
            }
            continue;
        }
        if !status.is_some_and(DetectorStatus::is_running) {
            continue;
        }
        let intervals = match due(store, &arn, now).await {
            Ok(i) => i,
            Err(PipelineError::Store(e)) => return Err(e.into()),
            // A detector that cannot run (its metric set broke) does not stop the others.
            Err(e) => {
                tracing::warn!(detector = %arn, error = %e, "skipped");
                continue;
            }
        };
        for t in intervals {
            match run_interval(store, objects, publisher, console_url, &arn, t).await {
                Ok(run) => out.push(run),
                Err(PipelineError::Store(e)) => return Err(e.into()),
                // One broken detector does not stop the others; it is tried again next tick.
                Err(e) => {
                    tracing::warn!(detector = %arn, error = %e, "interval failed");
                    break;
                }
            }
        }
    }
    Ok(out)
}
