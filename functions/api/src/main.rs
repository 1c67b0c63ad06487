//! The api Lambda: the router behind API Gateway (HTTP API, IAM auth).
//!
//! Storage here is the in-memory store until the DynamoDB adapter lands (issue 4): a cold start
//! begins empty, so this binary is for trying the API with `cargo lambda watch`, not for
//! production.

use std::sync::Arc;

use seismo_api::{Api, MemoryStore, app};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let buckets = std::env::var("SEISMO_BUCKETS_DIR").unwrap_or_else(|_| "/tmp".into());
    let api = Arc::new(Api::new(MemoryStore::new(), buckets));
    lambda_http::run(app(api)).await
}
