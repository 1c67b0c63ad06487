//! AWS adapters of the ports ([`crate::ports`]): DynamoDB for the [`crate::ports::Store`], S3 for
//! [`crate::ports::Objects`], SNS and Lambda for alerts, EventBridge Scheduler for detector
//! schedules. Each sits behind its own cargo feature so a function links only the SDKs it calls.

#[cfg(feature = "dynamodb")]
pub mod dynamodb;
#[cfg(feature = "lambda")]
pub mod lambda;
#[cfg(feature = "s3")]
pub mod s3;
#[cfg(feature = "scheduler")]
pub mod scheduler;
#[cfg(feature = "sns")]
pub mod sns;
#[cfg(feature = "sqs")]
pub mod sqs;

/// The SDK configuration: the environment's (region, credentials, `AWS_ENDPOINT_URL`) in a
/// Lambda function, or a fixed endpoint with static test credentials when `endpoint` is given
/// (the moto server, MinIO, a local emulator).
pub async fn config(endpoint: Option<&str>) -> aws_config::SdkConfig {
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    match endpoint {
        None => loader.load().await,
        Some(url) => {
            loader
                .endpoint_url(url)
                .region(aws_config::Region::new("us-east-1"))
                .credentials_provider(aws_credential_types::Credentials::new(
                    "testing",
                    "testing",
                    None,
                    None,
                    "seismo-static",
                ))
                .load()
                .await
        }
    }
}

/// The environment's configuration (credentials, profile) pointed at `endpoint`: a real S3 API
/// such as MinIO or moto. The region defaults to us-east-1 when none is configured.
pub async fn config_at(endpoint: &str) -> aws_config::SdkConfig {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .load()
        .await;
    if config.region().is_some() {
        return config;
    }
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await
}

/// The message of an SDK error with its service error code, never the raw request.
pub fn describe<E, R>(e: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error,
{
    match e.as_service_error() {
        Some(s) => format!(
            "{}: {}",
            s.code().unwrap_or("service error"),
            s.message().unwrap_or("no message")
        ),
        None => format!("{e}"),
    }
}

/// A required environment variable, or an error naming it.
pub fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("the environment variable {name} is not set"))
}

/// The deployed pipeline's store: DynamoDB (the table `table`, `SEISMO_TABLE` in a function) for
/// documents, the S3 bucket `state_bucket` (`SEISMO_STATE_BUCKET`, under `state/`) for large
/// values: model state, an interval's values and scores, so the table is not billed for
/// rewriting model state every interval.
#[cfg(all(feature = "dynamodb", feature = "s3"))]
pub fn pipeline_store(
    config: &aws_config::SdkConfig,
    table: &str,
    state_bucket: &str,
) -> crate::store::WithObjects<dynamodb::DynamoStore> {
    crate::store::WithObjects::new(
        dynamodb::DynamoStore::new(config, table),
        std::sync::Arc::new(s3::S3Objects::new(config)),
        &format!("s3://{state_bucket}/state"),
    )
}

/// Alerts to SNS topics and Lambda functions.
#[cfg(all(feature = "sns", feature = "lambda"))]
#[derive(Debug, Clone)]
pub struct AwsPublisher {
    sns: sns::SnsPublisher,
    lambda: lambda::LambdaInvoker,
}

#[cfg(all(feature = "sns", feature = "lambda"))]
impl AwsPublisher {
    /// Both clients on one configuration.
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        AwsPublisher {
            sns: sns::SnsPublisher::new(config),
            lambda: lambda::LambdaInvoker::new(config),
        }
    }
}

#[cfg(all(feature = "sns", feature = "lambda"))]
impl crate::ports::Publisher for AwsPublisher {
    fn sns<'a>(
        &'a self,
        topic_arn: &'a str,
        subject: &'a str,
        message: &'a str,
    ) -> crate::ports::BoxFuture<'a, Result<(), String>> {
        self.sns.publish(topic_arn, subject, message)
    }

    fn lambda<'a>(
        &'a self,
        function_arn: &'a str,
        payload: &'a str,
    ) -> crate::ports::BoxFuture<'a, Result<(), String>> {
        self.lambda.invoke(function_arn, payload)
    }
}
