//! The notify Lambda (see the crate description). Environment: `SEISMO_TABLE`,
//! `SEISMO_CONSOLE_URL` (optional, the base of console links); AWS endpoints and credentials as
//! the SDK reads them.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use seismo_shared::aws::{self, AwsPublisher, dynamodb::DynamoStore};
use seismo_shared::handlers;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = aws::config(None).await;
    let store = Arc::new(DynamoStore::new(&config, aws::env("SEISMO_TABLE")?));
    let publisher = Arc::new(AwsPublisher::new(&config));
    let console = Arc::new(std::env::var("SEISMO_CONSOLE_URL").unwrap_or_default());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (store, publisher, console) = (store.clone(), publisher.clone(), console.clone());
        async move {
            handlers::notify(store.as_ref(), publisher.as_ref(), &console, event.payload)
                .await
                .map_err(Error::from)
        }
    }))
    .await
}
