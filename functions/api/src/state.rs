//! What every operation shares: the store, the object and schedule ports, and the account
//! ARNs are made in. Built once (the Lambda's `main`, `seismo serve`) and handed to the router.

use std::path::PathBuf;
use std::sync::Arc;

use seismo_shared::objects::{LocalObjects, Objects};
use seismo_shared::pipeline::schedule::{MemorySchedules, Schedules};
use seismo_shared::store::Store;

/// What the operations share.
#[derive(Debug)]
pub struct Api<S> {
    /// Where metric files are read (activation's history, sample data).
    pub objects: Arc<dyn Objects>,
    /// Where detector schedules are created.
    pub schedules: Arc<dyn Schedules>,
    /// Where configuration and results live.
    pub store: S,
    /// Region in ARNs.
    pub region: String,
    /// Account in ARNs.
    pub account: String,
    /// Where `s3://BUCKET/KEY` is read locally (`DIR/BUCKET/KEY`).
    pub buckets_dir: PathBuf,
    /// When set, every request must be signed (SigV4) with one of these keys.
    pub keys: Option<crate::sigv4::Keys>,
}

impl<S: Store> Api<S> {
    /// An API over a store; ARNs in `us-east-1` of account `000000000000` until changed.
    pub fn new(store: S, buckets_dir: impl Into<PathBuf>) -> Self {
        let buckets_dir = buckets_dir.into();
        Api {
            objects: Arc::new(LocalObjects::new(buckets_dir.clone())),
            schedules: Arc::new(MemorySchedules::new()),
            store,
            region: "us-east-1".into(),
            account: "000000000000".into(),
            buckets_dir,
            keys: None,
        }
    }

    /// Reads metric files from these objects (S3) instead of the local folder.
    pub fn with_objects(mut self, objects: Arc<dyn Objects>) -> Self {
        self.objects = objects;
        self
    }

    /// Creates detector schedules here (EventBridge Scheduler) instead of in memory.
    pub fn with_schedules(mut self, schedules: Arc<dyn Schedules>) -> Self {
        self.schedules = schedules;
        self
    }

    /// ARNs in this region and account.
    pub fn with_account(mut self, region: impl Into<String>, account: impl Into<String>) -> Self {
        self.region = region.into();
        self.account = account.into();
        self
    }

    /// Requires SigV4 signatures made with these access keys (access key id to secret).
    pub fn with_keys(mut self, keys: impl IntoIterator<Item = (String, String)>) -> Self {
        self.keys = Some(crate::sigv4::Keys(keys.into_iter().collect()));
        self
    }

    /// `arn:aws:lookoutmetrics:REGION:ACCOUNT:RESOURCE`.
    pub fn arn(&self, resource: &str) -> String {
        format!(
            "arn:aws:lookoutmetrics:{}:{}:{resource}",
            self.region, self.account
        )
    }
}
