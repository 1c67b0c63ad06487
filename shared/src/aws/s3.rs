//! The S3 adapter of the object-source port. Listing is paginated; bodies are streamed to a
//! temporary file chunk by chunk, so a file of any size reads in constant memory.

use std::io::{Seek, Write};

use aws_sdk_s3::Client;

use super::describe;
use crate::ports::{BoxFuture, ObjectError, ObjectReader, Objects};

/// Objects in S3 (or any S3 API: moto, MinIO).
#[derive(Debug, Clone)]
pub struct S3Objects {
    client: Client,
}

/// `s3://BUCKET/KEY` split in bucket and key.
pub fn split(url: &str) -> Result<(&str, &str), ObjectError> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| ObjectError::Other(format!("{url}: not an s3:// path")))?;
    Ok(rest.split_once('/').unwrap_or((rest, "")))
}

fn classify<E, R>(
    what: &str,
    e: aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> ObjectError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error,
{
    let code = e
        .as_service_error()
        .and_then(|s| s.code())
        .unwrap_or_default();
    match code {
        "NoSuchKey" | "NoSuchBucket" | "NotFound" => ObjectError::NotFound(what.to_string()),
        "AccessDenied" | "Forbidden" => ObjectError::AccessDenied(what.to_string()),
        _ => ObjectError::Other(format!("{what}: {}", describe(&e))),
    }
}

impl S3Objects {
    /// The adapter on a configuration (see [`super::config`]); path-style addressing when an
    /// endpoint is set, as emulators need.
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(config.endpoint_url().is_some())
            .build();
        S3Objects {
            client: Client::from_conf(s3),
        }
    }

    /// The client (for tests and tools that write objects).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Creates a bucket (succeeds when it is there already and ours).
    pub async fn create_bucket(&self, bucket: &str) -> Result<(), ObjectError> {
        match self.client.create_bucket().bucket(bucket).send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_bucket_already_owned_by_you()) =>
            {
                Ok(())
            }
            Err(e) => Err(classify(bucket, e)),
        }
    }

    /// Writes an object at `s3://BUCKET/KEY`.
    pub async fn put(&self, url: &str, body: Vec<u8>) -> Result<(), ObjectError> {
        let (bucket, key) = split(url)?;
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from(body))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(url, e))
    }
}

impl Objects for S3Objects {
    fn list<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<Vec<String>, ObjectError>> {
        Box::pin(self.list_objects(path))
    }

    fn open<'a>(&'a self, object: &'a str) -> BoxFuture<'a, Result<ObjectReader, ObjectError>> {
        Box::pin(self.open_object(object))
    }

    fn put<'a>(
        &'a self,
        object: &'a str,
        bytes: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), ObjectError>> {
        Box::pin(S3Objects::put(self, object, bytes))
    }

    fn delete<'a>(&'a self, object: &'a str) -> BoxFuture<'a, Result<(), ObjectError>> {
        Box::pin(async move {
            let (bucket, key) = split(object)?;
            self.client
                .delete_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify(object, e))
        })
    }
}

impl S3Objects {
    async fn list_objects(&self, path: &str) -> Result<Vec<String>, ObjectError> {
        let (bucket, prefix) = split(path)?;
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify(path, e))?;
            for o in page.contents() {
                if let Some(key) = o.key()
                    && !key.ends_with('/')
                {
                    out.push(format!("s3://{bucket}/{key}"));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    async fn open_object(&self, object: &str) -> Result<ObjectReader, ObjectError> {
        let (bucket, key) = split(object)?;
        let got = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| classify(object, e))?;
        let mut body = got.body;
        let other = |e: std::io::Error| ObjectError::Other(format!("{object}: {e}"));
        let mut spool = tempfile::tempfile().map_err(other)?;
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| ObjectError::Other(format!("{object}: {e}")))?
        {
            spool.write_all(&chunk).map_err(other)?;
        }
        spool.rewind().map_err(other)?;
        Ok(Box::new(spool))
    }
}
