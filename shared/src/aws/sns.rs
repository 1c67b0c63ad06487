//! SNS and Lambda targets of alerts.

use aws_sdk_sns::Client;

use super::describe;
use crate::ports::BoxFuture;

/// Publishes alert messages to SNS topics.
#[derive(Debug, Clone)]
pub struct SnsPublisher {
    client: Client,
}

impl SnsPublisher {
    /// The publisher on a configuration (see [`super::config`]).
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        SnsPublisher {
            client: Client::new(config),
        }
    }

    /// Publishes one message.
    pub fn publish<'a>(
        &'a self,
        topic_arn: &'a str,
        subject: &'a str,
        message: &'a str,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            // SNS subjects are at most 100 ASCII characters.
            let subject: String = subject.chars().filter(char::is_ascii).take(100).collect();
            self.client
                .publish()
                .topic_arn(topic_arn)
                .subject(subject)
                .message(message)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| describe(&e))
        })
    }
}
