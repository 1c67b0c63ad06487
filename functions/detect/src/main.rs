//! The detect Lambda (see the crate description). Environment: `SEISMO_TABLE`,
//! `SEISMO_STATE_BUCKET`, `SEISMO_NOTIFY_QUEUE_URL`; AWS endpoints and credentials as the SDK reads them.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use seismo_shared::aws::{self, sqs::SqsQueue};
use seismo_shared::handlers;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = aws::config(None).await;
    let store = Arc::new(aws::pipeline_store(&config)?);
    let queue = Arc::new(SqsQueue::new(&config, aws::env("SEISMO_NOTIFY_QUEUE_URL")?));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (store, queue) = (store.clone(), queue.clone());
        async move {
            handlers::detect(store.as_ref(), queue.as_ref(), event.payload)
                .await
                .map_err(Error::from)
        }
    }))
    .await
}
