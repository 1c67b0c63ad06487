//! The continuous pipeline of a detector, one interval at a time:
//! [`activate()`] learns from history, then for every interval [`ingest()`] reads and aggregates
//! the interval's files into per-shard values, [`detect()`] scores one shard of series against
//! its model state and, when the last shard of the interval is in, forms the anomaly groups,
//! and [`notify`](alert::notify) sends them to the alerts whose threshold and filters they pass.
//!
//! The stages are plain functions over the ports ([`crate::ports`]: [`Store`](crate::ports::Store),
//! [`Objects`](crate::ports::Objects), [`Publisher`](crate::ports::Publisher)): the Lambda
//! functions hand over between them through SQS, `seismo serve` calls them in process. Every
//! stage is keyed by detector, interval and shard and checks what is already stored before it
//! writes, so running any stage twice changes nothing the second time.
//!
//! One file per stage or concern: `detector` (loading a detector and its runtime), `status`,
//! `runs` (one-time runs and their claims), `activate`, `backtest`, `ingest`, `state` (a
//! shard's model state), `feedback`, `detect`, `group` (an interval's anomaly groups),
//! `delete`; then [`alert`] (notify), [`schedule`], [`local`] (`seismo serve`), [`blob`] and
//! `codec` (how large values are stored). This file holds what they share: the error and the
//! tasks handed from one stage to the next.

mod activate;
pub mod alert;
mod backtest;
pub mod blob;
mod codec;
mod delete;
mod detect;
mod detector;
mod feedback;
mod group;
mod ingest;
pub mod local;
mod runs;
pub mod schedule;
mod state;
mod status;

use serde::{Deserialize, Serialize};

use crate::store::StoreError;

pub use activate::{activate, install, run_activation};
pub use backtest::run_backtest;
pub use delete::forget;
pub use detect::{Detected, detect};
pub use detector::{
    Detector, Runtime, load, metric_set_prefix, model_fingerprint, runtime, shard_of,
};
pub use ingest::{Ingested, When, ingest};
pub use runs::{RUN_LOST_AFTER, ask_run, reset_run_claim, run_requested_at};
pub use status::{Failure, detector_status, set_status, write_status};

/// Series per shard: one detect invocation scores at most this many series.
pub const SHARD_SERIES: usize = 2_000;

/// Why a stage could not run. [`PipelineError::Store`] is worth a retry; the others are
/// recorded and dropped (a retry would fail the same way).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The store failed (retry).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The detector, its metric set or its runtime is missing or unusable.
    #[error("{0}")]
    Config(String),
    /// The event names no usable interval or detector.
    #[error("bad event: {0}")]
    Event(String),
    /// Another run holds the work the event asks for (retry later: it is done by then, or
    /// that run is taken for lost).
    #[error("busy: {0}")]
    Busy(String),
}

/// What a detect invocation works on: one shard of one interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetectTask {
    /// The detector.
    pub anomaly_detector_arn: String,
    /// Interval start (epoch seconds).
    pub interval: i64,
    /// The shard.
    pub shard: u32,
}

/// What a notify invocation works on: the groups of one interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifyTask {
    /// The detector.
    pub anomaly_detector_arn: String,
    /// Interval start (epoch seconds).
    pub interval: i64,
    /// The groups formed for the interval.
    pub anomaly_group_ids: Vec<String>,
}
