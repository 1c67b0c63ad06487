//! The ingest handler: a schedule's firing (or a one-time activation or backtest) in, a summary
//! out.

use lambda_runtime::LambdaEvent;
use seismo_shared::handlers::{self, HandlerError, Queue};
use seismo_shared::ports::Objects;
use seismo_shared::store::Store;
use serde_json::Value;

/// Runs the event's work and queues its detect tasks. The event is the schedule's own input, so
/// it is taken as JSON: one that is not an ingest event is acknowledged and dropped (a retry
/// would fail the same way), not refused by the runtime. An error (retried) only for a storage
/// or queue failure.
pub(crate) async fn handle<S: Store>(
    store: &S,
    objects: &dyn Objects,
    detect_queue: &dyn Queue,
    event: LambdaEvent<Value>,
) -> Result<Value, HandlerError> {
    handlers::ingest(store, objects, detect_queue, event.payload).await
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use lambda_runtime::Context;
    use seismo_shared::objects::LocalObjects;
    use seismo_shared::ports::BoxFuture;
    use seismo_shared::store::MemoryStore;
    use serde_json::json;

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

    /// The answer to an event on an empty store; nothing may be queued.
    async fn answer(json: &str) -> Value {
        let (store, queue) = (MemoryStore::new(), Recorder::default());
        let objects = LocalObjects::new(std::env::temp_dir());
        let event = LambdaEvent::new(serde_json::from_str(json).unwrap(), Context::default());
        let out = handle(&store, &objects, &queue, event).await.unwrap();
        assert!(queue.0.lock().unwrap().is_empty());
        out
    }

    #[tokio::test]
    async fn a_schedule_left_behind_by_a_deleted_detector_is_dropped() {
        let out = answer(include_str!("../../../events/ingest/unknown-detector.json")).await;
        let dropped = out["dropped"].as_str().unwrap();
        assert!(dropped.contains("deleted-long-ago"), "{out}");
    }

    #[tokio::test]
    async fn one_time_schedules_for_a_deleted_detector_answer_its_status() {
        let out = answer(include_str!("../../../events/ingest/activate.json")).await;
        assert_eq!(out, json!({ "activation": "DELETED" }));
        let out = answer(include_str!("../../../events/ingest/backtest.json")).await;
        assert_eq!(out, json!({ "backtest": "DELETED" }));
    }

    #[tokio::test]
    async fn what_is_not_an_ingest_event_is_dropped_not_retried() {
        let out = answer(r#"{"scheduledTime": 5}"#).await;
        let dropped = out["dropped"].as_str().unwrap();
        assert!(dropped.contains("not an ingest event"), "{out}");
    }
}
