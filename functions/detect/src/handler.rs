//! The detect handler: a batch of detect tasks from SQS in, the messages to retry out.

use lambda_runtime::LambdaEvent;
use seismo_shared::handlers::{self, HandlerError, Queue, SqsBatchResponse, SqsEvent};
use seismo_shared::store::Store;

/// Scores every task of the batch; a task that failed on storage or could not queue notify is
/// reported (and retried), one that cannot succeed is dropped. An error (retried whole) only for
/// a record without a message id or body.
pub(crate) async fn handle<S: Store>(
    store: &S,
    notify_queue: &dyn Queue,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, HandlerError> {
    handlers::detect(store, notify_queue, event.payload).await
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use lambda_runtime::{Context, Diagnostic};
    use seismo_shared::ports::BoxFuture;
    use seismo_shared::store::MemoryStore;
    use serde_json::{Value, json};

    use super::*;

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

    fn event(json: &str) -> LambdaEvent<SqsEvent> {
        LambdaEvent::new(serde_json::from_str(json).unwrap(), Context::default())
    }

    async fn answer(json: &str) -> Value {
        let (store, queue) = (MemoryStore::new(), Recorder::default());
        let out = handle(&store, &queue, event(json)).await.unwrap();
        assert!(queue.0.lock().unwrap().is_empty());
        serde_json::to_value(out).unwrap()
    }

    #[tokio::test]
    async fn a_message_that_is_not_a_task_is_dropped_not_retried() {
        let out = answer(include_str!("../../../events/detect/not-a-task.json")).await;
        assert_eq!(out, json!({ "batchItemFailures": [] }));
    }

    #[tokio::test]
    async fn a_task_for_a_detector_that_is_gone_is_dropped_not_retried() {
        let out = answer(include_str!("../../../events/detect/shard.json")).await;
        assert_eq!(out, json!({ "batchItemFailures": [] }));
    }

    #[tokio::test]
    async fn a_record_without_a_message_id_is_a_retryable_error() {
        let (store, queue) = (MemoryStore::new(), Recorder::default());
        let e = handle(&store, &queue, event(r#"{"Records":[{"body":"{}"}]}"#))
            .await
            .unwrap_err();
        assert_eq!(Diagnostic::from(e).error_type, "Retryable");
    }

    #[test]
    fn what_is_not_an_sqs_event_never_reaches_the_handler() {
        // The runtime fails to deserialize it and reports the invocation failed.
        assert!(serde_json::from_value::<SqsEvent>(json!({ "nope": 1 })).is_err());
    }
}
