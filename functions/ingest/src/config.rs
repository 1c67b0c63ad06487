//! The ingest function's environment, read once at cold start.

use seismo_shared::aws::env;

/// What template.yaml sets for the ingest function.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// `SEISMO_TABLE`: the pipeline's DynamoDB table.
    pub(crate) table: String,
    /// `SEISMO_STATE_BUCKET`: the bucket of model state and interval values.
    pub(crate) state_bucket: String,
    /// `SEISMO_DETECT_QUEUE_URL`: where the interval's detect tasks go, one per shard.
    pub(crate) detect_queue_url: String,
}

impl Config {
    /// The configuration, or an error naming the first variable that is not set.
    pub(crate) fn from_env() -> Result<Self, String> {
        Ok(Config {
            table: env("SEISMO_TABLE")?,
            state_bucket: env("SEISMO_STATE_BUCKET")?,
            detect_queue_url: env("SEISMO_DETECT_QUEUE_URL")?,
        })
    }
}
