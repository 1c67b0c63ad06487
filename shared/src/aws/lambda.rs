//! Invokes Lambda targets of alerts asynchronously (the old service's Lambda alert).

use aws_sdk_lambda::Client;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

use super::describe;
use crate::ports::BoxFuture;

/// Invokes alert functions.
#[derive(Debug, Clone)]
pub struct LambdaInvoker {
    client: Client,
}

impl LambdaInvoker {
    /// The invoker on a configuration (see [`super::config`]).
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        LambdaInvoker {
            client: Client::new(config),
        }
    }

    /// Invokes `function_arn` with `payload` (InvocationType Event).
    pub fn invoke<'a>(
        &'a self,
        function_arn: &'a str,
        payload: &'a str,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.client
                .invoke()
                .function_name(function_arn)
                .invocation_type(InvocationType::Event)
                .payload(Blob::new(payload.as_bytes()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| describe(&e))
        })
    }
}
