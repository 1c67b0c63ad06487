//! The api function's environment, read once at cold start.

use seismo_shared::aws::env;

/// What template.yaml sets for the api function.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// `SEISMO_INGEST_ARN`: the ingest function, the target of detector schedules.
    pub(crate) ingest_arn: String,
    /// `SEISMO_SCHEDULE_GROUP`: the EventBridge Scheduler group of detector schedules.
    pub(crate) schedule_group: String,
    /// `SEISMO_SCHEDULER_ROLE_ARN`: the role the schedules invoke ingest with.
    pub(crate) scheduler_role_arn: String,
    /// `SEISMO_TABLE`: the pipeline's DynamoDB table.
    pub(crate) table: String,
    /// `SEISMO_STATE_BUCKET`: the bucket of model state and interval values.
    pub(crate) state_bucket: String,
    /// The account in ARNs: `SEISMO_ACCOUNT_ID`, else the account in the ingest ARN, else
    /// `000000000000`.
    pub(crate) account: String,
}

impl Config {
    /// The configuration, or an error naming the first variable that is not set.
    pub(crate) fn from_env() -> Result<Self, String> {
        let ingest_arn = env("SEISMO_INGEST_ARN")?;
        // arn:aws:lambda:REGION:ACCOUNT:function:NAME
        let account = std::env::var("SEISMO_ACCOUNT_ID")
            .ok()
            .or_else(|| ingest_arn.split(':').nth(4).map(str::to_string))
            .unwrap_or_else(|| "000000000000".into());
        Ok(Config {
            schedule_group: env("SEISMO_SCHEDULE_GROUP")?,
            scheduler_role_arn: env("SEISMO_SCHEDULER_ROLE_ARN")?,
            table: env("SEISMO_TABLE")?,
            state_bucket: env("SEISMO_STATE_BUCKET")?,
            ingest_arn,
            account,
        })
    }
}
