//! The detect Lambda (see the crate description); its environment is [`config::Config`], AWS
//! endpoints and credentials as the SDK reads them.

mod config;
mod handler;

use lambda_runtime::{Error, service_fn};
use seismo_shared::aws::{self, sqs::SqsQueue};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = config::Config::from_env()?;
    let sdk = aws::config(None).await;
    let store = aws::pipeline_store(&sdk, &config.table, &config.state_bucket);
    let notify_queue = SqsQueue::new(&sdk, config.notify_queue_url);
    let (store, notify_queue) = (&store, &notify_queue);
    lambda_runtime::run(service_fn(move |event| {
        handler::handle(store, notify_queue, event)
    }))
    .await
}
