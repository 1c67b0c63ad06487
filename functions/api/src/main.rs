//! The api Lambda: the router behind API Gateway (HTTP API, IAM auth), on DynamoDB, reading
//! metric files from S3 and creating detector schedules in EventBridge Scheduler.
//!
//! Environment: `SEISMO_TABLE`, `SEISMO_STATE_BUCKET`, `SEISMO_SCHEDULE_GROUP`, `SEISMO_INGEST_ARN`,
//! `SEISMO_SCHEDULER_ROLE_ARN` (template.yaml sets them), `AWS_REGION` (set by Lambda), and
//! optionally `SEISMO_ACCOUNT_ID` for ARNs (default: the account in the ingest ARN).

use std::sync::Arc;

use seismo_api::{Api, app};
use seismo_shared::aws::{self, s3::S3Objects, scheduler::EventBridgeSchedules};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = aws::config(None).await;
    let ingest = aws::env("SEISMO_INGEST_ARN")?;
    let region = config
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".into());
    // arn:aws:lambda:REGION:ACCOUNT:function:NAME
    let account = std::env::var("SEISMO_ACCOUNT_ID")
        .ok()
        .or_else(|| ingest.split(':').nth(4).map(str::to_string))
        .unwrap_or_else(|| "000000000000".into());
    let schedules = EventBridgeSchedules::new(
        &config,
        aws::env("SEISMO_SCHEDULE_GROUP")?,
        ingest,
        aws::env("SEISMO_SCHEDULER_ROLE_ARN")?,
    );
    let api = Api::new(aws::pipeline_store(&config)?, std::env::temp_dir())
        .with_objects(Arc::new(S3Objects::new(&config)))
        .with_schedules(Arc::new(schedules))
        .with_account(region, account);
    lambda_http::run(app(Arc::new(api))).await
}
