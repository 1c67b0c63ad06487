//! The notify Lambda (see the crate description); its environment is [`config::Config`], AWS
//! endpoints and credentials as the SDK reads them.

mod config;
mod handler;

use lambda_runtime::{Error, service_fn};
use seismo_shared::aws::{self, AwsPublisher, dynamodb::DynamoStore};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = config::Config::from_env()?;
    let sdk = aws::config(None).await;
    let store = DynamoStore::new(&sdk, config.table);
    let publisher = AwsPublisher::new(&sdk);
    let (store, publisher, console) = (&store, &publisher, config.console_url.as_str());
    lambda_runtime::run(service_fn(move |event| {
        handler::handle(store, publisher, console, event)
    }))
    .await
}
