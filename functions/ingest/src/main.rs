//! The ingest Lambda (see the crate description). Environment: `SEISMO_TABLE`,
//! `SEISMO_STATE_BUCKET`, `SEISMO_DETECT_QUEUE_URL`; AWS endpoints and credentials as the SDK reads them.

// The pipeline's futures over the DynamoDB + S3 store nest deeper than the default limit.
#![recursion_limit = "256"]

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use seismo_shared::aws::{self, s3::S3Objects, sqs::SqsQueue};
use seismo_shared::handlers;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = aws::config(None).await;
    let store = Arc::new(aws::pipeline_store(&config)?);
    let objects = Arc::new(S3Objects::new(&config));
    let queue = Arc::new(SqsQueue::new(&config, aws::env("SEISMO_DETECT_QUEUE_URL")?));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (store, objects, queue) = (store.clone(), objects.clone(), queue.clone());
        async move {
            handlers::ingest(
                store.as_ref(),
                objects.as_ref(),
                queue.as_ref(),
                event.payload,
            )
            .await
            .map_err(Error::from)
        }
    }))
    .await
}
