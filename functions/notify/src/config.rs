//! The notify function's environment, read once at cold start.

use seismo_shared::aws::env;

/// What template.yaml sets for the notify function.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// `SEISMO_TABLE`: the pipeline's DynamoDB table.
    pub(crate) table: String,
    /// `SEISMO_CONSOLE_URL` (optional, empty when not set): the base of console links.
    pub(crate) console_url: String,
}

impl Config {
    /// The configuration, or an error naming the first variable that is not set.
    pub(crate) fn from_env() -> Result<Self, String> {
        Ok(Config {
            table: env("SEISMO_TABLE")?,
            console_url: std::env::var("SEISMO_CONSOLE_URL").unwrap_or_default(),
        })
    }
}
