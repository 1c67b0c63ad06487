//! The SQS adapter of the hand-over queue between stages.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use super::describe;
use crate::ports::{BoxFuture, Queue};

/// A queue by URL.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    /// The queue at `url`.
    pub fn new(config: &aws_config::SdkConfig, url: impl Into<String>) -> Self {
        SqsQueue {
            client: Client::new(config),
            url: url.into(),
        }
    }
}

impl Queue for SqsQueue {
    fn send<'a>(&'a self, bodies: &'a [String]) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            for chunk in bodies.chunks(10) {
                let entries = chunk
                    .iter()
                    .enumerate()
                    .map(|(i, b)| {
                        SendMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .message_body(b)
                            .build()
                            .map_err(|e| e.to_string())
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let out = self
                    .client
                    .send_message_batch()
                    .queue_url(&self.url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|e| describe(&e))?;
                if let Some(f) = out.failed().first() {
                    return Err(format!(
                        "sqs: {} of {} messages not sent ({})",
                        out.failed().len(),
                        chunk.len(),
                        f.message().unwrap_or_default()
                    ));
                }
            }
            Ok(())
        })
    }
}
