//! The api Lambda: the router behind API Gateway (HTTP API, IAM auth), on DynamoDB, reading
//! metric files from S3 and creating detector schedules in EventBridge Scheduler. Its
//! environment is [`config::Config`], plus `AWS_REGION` (set by Lambda).

mod config;

use std::sync::Arc;

use seismo_api::{Api, app};
use seismo_shared::aws::{self, s3::S3Objects, scheduler::EventBridgeSchedules};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = config::Config::from_env()?;
    let sdk = aws::config(None).await;
    let region = sdk
        .region()
        .map_or_else(|| "us-east-1".into(), |r| r.to_string());
    let schedules = EventBridgeSchedules::new(
        &sdk,
        config.schedule_group,
        config.ingest_arn,
        config.scheduler_role_arn,
    );
    let store = aws::pipeline_store(&sdk, &config.table, &config.state_bucket);
    let api = Api::new(store, std::env::temp_dir())
        .with_objects(Arc::new(S3Objects::new(&sdk)))
        .with_schedules(Arc::new(schedules))
        .with_account(region, config.account);
    lambda_http::run(app(Arc::new(api))).await
}
