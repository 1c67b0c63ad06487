//! The notify handler: a batch of notify tasks from SQS in, the messages to retry out.

use lambda_runtime::LambdaEvent;
use seismo_shared::handlers::{self, HandlerError, SqsBatchResponse, SqsEvent};
use seismo_shared::ports::Publisher;
use seismo_shared::store::Store;

/// Sends every task's groups to the alerts they pass; a task with an alert that failed, or that
/// failed on storage, is reported (and retried), one that cannot succeed is dropped. An error
/// (retried whole) only for a record without a message id or body.
pub(crate) async fn handle<S: Store>(
    store: &S,
    publisher: &dyn Publisher,
    console_url: &str,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, HandlerError> {
    handlers::notify(store, publisher, console_url, event.payload).await
}

#[cfg(test)]
mod tests {
    use lambda_runtime::Context;
    use seismo_shared::pipeline::alert::Outbox;
    use seismo_shared::store::MemoryStore;
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn groups_of_a_detector_that_is_gone_are_dropped_not_retried() {
        let (store, outbox) = (MemoryStore::new(), Outbox::new());
        let json = include_str!("../../../events/notify/groups.json");
        let event = LambdaEvent::new(serde_json::from_str(json).unwrap(), Context::default());
        let out = handle(&store, &outbox, "", event).await.unwrap();
        assert_eq!(
            serde_json::to_value(out).unwrap(),
            json!({ "batchItemFailures": [] })
        );
        assert!(outbox.messages().is_empty());
    }
}
