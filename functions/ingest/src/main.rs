//! The ingest Lambda (see the crate description); its environment is [`config::Config`], AWS
//! endpoints and credentials as the SDK reads them.

// The pipeline's futures over the DynamoDB + S3 store nest deeper than the default limit.
#![recursion_limit = "256"]

mod config;
mod handler;

use lambda_runtime::{Error, service_fn};
use seismo_shared::aws::{self, s3::S3Objects, sqs::SqsQueue};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = config::Config::from_env()?;
    let sdk = aws::config(None).await;
    let store = aws::pipeline_store(&sdk, &config.table, &config.state_bucket);
    let objects = S3Objects::new(&sdk);
    let detect_queue = SqsQueue::new(&sdk, config.detect_queue_url);
    let (store, objects, detect_queue) = (&store, &objects, &detect_queue);
    lambda_runtime::run(service_fn(move |event| {
        handler::handle(store, objects, detect_queue, event)
    }))
    .await
}
