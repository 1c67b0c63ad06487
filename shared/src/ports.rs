//! The ports: what the use cases (the pipeline stages, the handlers, the API) ask of the
//! world, as traits; their adapters live in [`crate::store`] and [`crate::objects`] (in
//! process) and [`crate::aws`] (deployed). An adapter imports this module, never the use cases.
//!
//! - [`Store`]: JSON documents by [`Kind`] and key, with create-if-absent and compare-and-swap.
//! - [`Objects`]: the object source metric files come from (and large values go to).
//! - [`Queue`]: where a stage hands its work to the next (SQS).
//! - [`Publisher`]: where alerts go (SNS topics, Lambda functions).
//! - [`Schedules`]: the detectors' ingest schedules (EventBridge Scheduler).

use std::future::Future;
use std::io::Read;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

/// Why objects could not be listed or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObjectError {
    /// The object or bucket does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The function may not read it.
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// Anything else (network, throttling).
    #[error("{0}")]
    Other(String),
}

/// A readable object, streamed (an S3 body is spooled to a temporary file, never held whole in
/// memory).
pub type ObjectReader = Box<dyn Read + Send>;

/// A boxed future (the object-safe ports take and return these).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Lists and reads objects named by data paths.
pub trait Objects: Send + Sync + std::fmt::Debug + 'static {
    /// Every object under a path with S3 semantics (the object itself, a "folder", or a key
    /// prefix), sorted; empty when nothing is there.
    fn list<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<Vec<String>, ObjectError>>;
    /// One object's bytes, as a stream.
    fn open<'a>(&'a self, object: &'a str) -> BoxFuture<'a, Result<ObjectReader, ObjectError>>;
    /// Writes an object (`s3://BUCKET/KEY`), replacing any; readers see the old bytes or the
    /// new ones, never a mix.
    fn put<'a>(&'a self, object: &'a str, bytes: Vec<u8>)
    -> BoxFuture<'a, Result<(), ObjectError>>;
    /// Deletes an object; nothing when it is not there.
    fn delete<'a>(&'a self, object: &'a str) -> BoxFuture<'a, Result<(), ObjectError>>;
}

/// What a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// An anomaly detector, by ARN.
    Detector,
    /// A metric set, by ARN.
    MetricSet,
    /// An alert, by ARN.
    Alert,
    /// An anomaly group, by `detector ARN/group id`.
    Group,
    /// Tags of a resource, by ARN.
    Tags,
    /// Data-quality figures of a detector's metric set, by detector ARN.
    Quality,
    /// An execution record, by `detector ARN/timestamp`.
    Execution,
    /// Feedback, by `detector ARN/group id/series id`.
    Feedback,
    /// Pipeline bookkeeping of a detector (runtime, interval values, model state, shard
    /// results, notifications), by `detector ARN/...`.
    Pipeline,
}

impl Kind {
    /// The kind's stable name (the DynamoDB partition key, the embedded store's key prefix).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Detector => "Detector",
            Kind::MetricSet => "MetricSet",
            Kind::Alert => "Alert",
            Kind::Group => "Group",
            Kind::Tags => "Tags",
            Kind::Quality => "Quality",
            Kind::Execution => "Execution",
            Kind::Feedback => "Feedback",
            Kind::Pipeline => "Pipeline",
        }
    }
}

/// A store failure (never a client's mistake).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A create found the key taken.
    #[error("the key already exists")]
    Exists,
    /// A replace found the document changed since it was read.
    #[error("the document changed")]
    Changed,
    /// The backend failed.
    #[error("store: {0}")]
    Backend(String),
}

/// The storage port.
pub trait Store: Send + Sync + 'static {
    /// The document, if any.
    fn get(
        &self,
        kind: Kind,
        key: &str,
    ) -> impl Future<Output = Result<Option<Value>, StoreError>> + Send;
    /// Stores a document only if the key is free ([`StoreError::Exists`] otherwise).
    fn create(
        &self,
        kind: Kind,
        key: &str,
        value: Value,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Stores a document, replacing any.
    fn put(
        &self,
        kind: Kind,
        key: &str,
        value: Value,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Replaces a document only if it is still `expected` (`None`: still absent), so two
    /// writers never lose an update ([`StoreError::Changed`] otherwise).
    fn replace(
        &self,
        kind: Kind,
        key: &str,
        expected: Option<&Value>,
        value: Value,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Deletes a document; whether it was there.
    fn delete(
        &self,
        kind: Kind,
        key: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Every document whose key starts with `prefix`, by key.
    fn list(
        &self,
        kind: Kind,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<(String, Value)>, StoreError>> + Send;
    /// Where large values (model state, an interval's values and scores) go when not into
    /// documents of this store, split into parts: see [`WithObjects`](crate::store::WithObjects).
    fn large_values(&self) -> Option<&LargeValues> {
        None
    }
}

/// Objects under a folder (`s3://BUCKET/PREFIX`) that hold a store's large values.
#[derive(Debug, Clone)]
pub struct LargeValues {
    /// The object store.
    pub objects: Arc<dyn Objects>,
    /// The folder, without a trailing `/`.
    pub root: String,
}

/// Where a stage hands its work to the next (an SQS queue).
pub trait Queue: Send + Sync + std::fmt::Debug + 'static {
    /// Sends message bodies (in order; batches as the queue allows).
    fn send<'a>(&'a self, bodies: &'a [String]) -> BoxFuture<'a, Result<(), String>>;
}

/// Where alerts go: SNS topics and Lambda functions.
pub trait Publisher: Send + Sync + std::fmt::Debug + 'static {
    /// Publishes a message to an SNS topic.
    fn sns<'a>(
        &'a self,
        topic_arn: &'a str,
        subject: &'a str,
        message: &'a str,
    ) -> BoxFuture<'a, Result<(), String>>;
    /// Invokes a Lambda function asynchronously with a JSON payload.
    fn lambda<'a>(
        &'a self,
        function_arn: &'a str,
        payload: &'a str,
    ) -> BoxFuture<'a, Result<(), String>>;
}

/// A schedule to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSpec {
    /// Schedule name (the detector's name).
    pub name: String,
    /// `cron(...)` expression.
    pub expression: String,
    /// IANA time zone of the expression.
    pub timezone: String,
    /// The ingest event (`scheduledTime` is filled in by the scheduler).
    pub input: String,
    /// Human description.
    pub description: String,
    /// Fires once (an `at(...)` expression) and is deleted after it fired.
    pub once: bool,
}

/// Creates and deletes schedules.
pub trait Schedules: Send + Sync + std::fmt::Debug + 'static {
    /// Creates the schedule, or updates it when it exists.
    fn put<'a>(&'a self, spec: &'a ScheduleSpec) -> BoxFuture<'a, Result<(), String>>;
    /// Deletes the schedule; deleting one that is not there succeeds.
    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), String>>;
}
