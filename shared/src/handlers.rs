//! The Lambda handlers of the pipeline, over the ports, so tests run them on any store:
//! ingest (an EventBridge Scheduler event), detect and notify (SQS events, one task per
//! message, failures reported per message so only those are retried and then dead-lettered).

pub use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::pipeline::alert;
use crate::pipeline::{self, DetectTask, NotifyTask, PipelineError, When};
pub use crate::ports::Queue;
use crate::ports::{Objects, Publisher};
use crate::store::Store;

/// A failed handler invocation: the runtime reports it and the event is retried.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HandlerError(pub String);

/// What the runtime reports for a failed invocation: every handler error is retried (what
/// cannot succeed is acknowledged and dropped instead, never an error), so its type says so.
impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(e: HandlerError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: "Retryable".into(),
            error_message: e.0,
        }
    }
}

/// The ingest event: the schedule's input with the firing time, or an explicit interval (a
/// backfill or a replay), or a one-time schedule's `activate` or `backtest`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IngestEvent {
    /// The detector.
    pub anomaly_detector_arn: String,
    /// When the schedule fired (`2026-11-26T10:05:00Z`).
    #[serde(default)]
    pub scheduled_time: Option<String>,
    /// The interval's start, instead of a firing time.
    #[serde(default)]
    pub interval: Option<String>,
    /// Learn the detector from its historical data (it is ACTIVATING) instead of ingesting.
    #[serde(default)]
    pub activate: bool,
    /// Run the detector's backtest (it is BACK_TEST_ACTIVATING) instead of ingesting.
    #[serde(default)]
    pub backtest: bool,
    /// Which request for such a run this event is (an outdated one does nothing).
    #[serde(default)]
    pub token: Option<String>,
}

fn epoch(field: &str, text: &str) -> Result<i64, PipelineError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp())
        .map_err(|e| PipelineError::Event(format!("{field} {text:?}: {e}")))
}

/// Runs ingest for the event's interval and queues one detect task per shard. Returns a
/// summary; only a storage or queue failure is an error (and the event is retried).
pub async fn ingest<S: Store>(
    store: &S,
    objects: &dyn Objects,
    detect_queue: &dyn Queue,
    event: Value,
) -> Result<Value, HandlerError> {
    let event: Result<IngestEvent, _> = serde_json::from_value(event)
        .map_err(|e| PipelineError::Event(format!("not an ingest event: {e}")));
    // A one-time schedule's work: the status after it (only a storage failure is retried).
    if let Ok(e) = &event
        && (e.activate || e.backtest)
    {
        let (arn, token) = (&e.anomaly_detector_arn, e.token.as_deref());
        if !e.activate {
            return pipeline::run_backtest(store, objects, arn, token)
                .await
                .map(|status| json!({ "backtest": status }))
                .map_err(|e| HandlerError(e.to_string()));
        }
        let status = pipeline::run_activation(store, objects, arn, token)
            .await
            .map_err(|e| HandlerError(e.to_string()))?;
        // The schedule's firings while the detector was ACTIVATING did nothing: the intervals
        // due since the activation was asked for are ingested now. A retry or a duplicate
        // event finds them on record and ingests nothing twice.
        if !status
            .parse()
            .is_ok_and(crate::model::DetectorStatus::is_running)
        {
            return Ok(json!({ "activation": status }));
        }
        let now = chrono::Utc::now().timestamp();
        let due = pipeline::local::due(store, arn, now)
            .await
            .map_err(|e| HandlerError(e.to_string()))?;
        for &interval in &due {
            ingest_interval(store, objects, detect_queue, arn, When::Interval(interval)).await?;
        }
        return Ok(json!({ "activation": status, "caughtUp": due.len() }));
    }
    let run = async {
        let event = event?;
        let when = match (&event.interval, &event.scheduled_time) {
            (Some(i), _) => When::Interval(epoch("interval", i)?),
            (None, Some(fired)) => When::FiredAt(epoch("scheduledTime", fired)?),
            (None, None) => {
                return Err(PipelineError::Event(
                    "the event needs scheduledTime or interval".into(),
                ));
            }
        };
        pipeline::ingest(store, objects, &event.anomaly_detector_arn, when).await
    };
    ingest_outcome(run.await, detect_queue).await
}

/// Ingests one interval and queues its detect tasks.
async fn ingest_interval<S: Store>(
    store: &S,
    objects: &dyn Objects,
    detect_queue: &dyn Queue,
    arn: &str,
    when: When,
) -> Result<Value, HandlerError> {
    let done = pipeline::ingest(store, objects, arn, when).await;
    ingest_outcome(done, detect_queue).await
}

/// An ingest's summary, its detect tasks queued; only a storage or queue failure is an error.
async fn ingest_outcome(
    run: Result<pipeline::Ingested, PipelineError>,
    detect_queue: &dyn Queue,
) -> Result<Value, HandlerError> {
    match run {
        Ok(done) => {
            let bodies: Vec<String> = done
                .tasks
                .iter()
                .map(|t| serde_json::to_string(t).unwrap_or_default())
                .collect();
            detect_queue.send(&bodies).await.map_err(HandlerError)?;
            Ok(json!({
                "shards": done.tasks.len(),
                "series": done.series,
                "problem": done.problem,
            }))
        }
        Err(PipelineError::Store(e)) => Err(HandlerError(e.to_string())),
        // Not retryable: a retry would fail the same way. Logged and acknowledged.
        Err(e) => {
            tracing::warn!(error = %e, "ingest dropped the event");
            Ok(json!({ "dropped": e.to_string() }))
        }
    }
}

/// The messages of an SQS event as (message id, body), or an error (the whole batch is retried)
/// when a record has no id, which no batch failure could name, or no body.
fn messages(event: SqsEvent) -> Result<Vec<(String, String)>, HandlerError> {
    event
        .records
        .into_iter()
        .map(|m| match (m.message_id, m.body) {
            (Some(id), Some(body)) => Ok((id, body)),
            (None, _) => Err(HandlerError(
                "not an SQS event: missing field `messageId`".into(),
            )),
            (Some(_), None) => Err(HandlerError(
                "not an SQS event: missing field `body`".into(),
            )),
        })
        .collect()
}

/// Runs detect for every message; the interval's last shard queues the notify task.
pub async fn detect<S: Store>(
    store: &S,
    notify_queue: &dyn Queue,
    event: SqsEvent,
) -> Result<SqsBatchResponse, HandlerError> {
    let mut response = SqsBatchResponse::default();
    for (message_id, body) in messages(event)? {
        let task: DetectTask = match serde_json::from_str(&body) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(message = %message_id, error = %e, "not a detect task; dropped");
                continue;
            }
        };
        match pipeline::detect(store, &task).await {
            Ok(done) => {
                if let Some(n) = done.notify
                    && !n.anomaly_group_ids.is_empty()
                {
                    let body = serde_json::to_string(&n).unwrap_or_default();
                    if let Err(e) = notify_queue.send(&[body]).await {
                        tracing::error!(error = %e, "could not queue notify");
                        response.add_failure(message_id);
                    }
                }
            }
            Err(PipelineError::Store(e)) => {
                tracing::error!(error = %e, "detect will be retried");
                response.add_failure(message_id);
            }
            Err(e) => tracing::warn!(error = %e, "detect dropped the task"),
        }
    }
    Ok(response)
}

/// Runs notify for every message.
pub async fn notify<S: Store>(
    store: &S,
    publisher: &dyn Publisher,
    console_url: &str,
    event: SqsEvent,
) -> Result<SqsBatchResponse, HandlerError> {
    let mut response = SqsBatchResponse::default();
    for (message_id, body) in messages(event)? {
        let task: NotifyTask = match serde_json::from_str(&body) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(message = %message_id, error = %e, "not a notify task; dropped");
                continue;
            }
        };
        match alert::notify(store, publisher, &task, console_url).await {
            Ok(done) if done.failed.is_empty() => {}
            Ok(done) => {
                tracing::error!(failed = ?done.failed, "some alerts failed; retried");
                response.add_failure(message_id);
            }
            Err(PipelineError::Store(e)) => {
                tracing::error!(error = %e, "notify will be retried");
                response.add_failure(message_id);
            }
            Err(e) => tracing::warn!(error = %e, "notify dropped the task"),
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_response_is_the_wire_shape_lambda_reads() {
        let mut response = SqsBatchResponse::default();
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({ "batchItemFailures": [] })
        );
        response.add_failure("m-1");
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({ "batchItemFailures": [{ "itemIdentifier": "m-1" }] })
        );
    }

    #[test]
    fn a_record_without_an_id_or_a_body_fails_the_whole_batch() {
        for record in [json!({ "body": "{}" }), json!({ "messageId": "m-1" })] {
            let event: SqsEvent = serde_json::from_value(json!({ "Records": [record] })).unwrap();
            assert!(messages(event).is_err());
        }
        let event: SqsEvent =
            serde_json::from_value(json!({ "Records": [{ "messageId": "m", "body": "b" }] }))
                .unwrap();
        assert_eq!(messages(event).unwrap(), vec![("m".into(), "b".into())]);
    }

    #[test]
    fn a_handler_error_is_reported_as_retryable() {
        let d = lambda_runtime::Diagnostic::from(HandlerError("store down".into()));
        assert_eq!(
            (d.error_type.as_str(), d.error_message.as_str()),
            ("Retryable", "store down")
        );
    }
}
