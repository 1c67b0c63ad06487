//! The object-source port: where metric files come from. Local folders (`s3://BUCKET/KEY` is
//! `DIR/BUCKET/KEY`) for the laptop, S3 ([`crate::aws::s3`]) deployed or against any S3 API.

use std::future::Future;
use std::io::Read;
use std::pin::Pin;

use crate::paths::LocalResolver;

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
}

/// Local folders as buckets.
#[derive(Debug, Clone)]
pub struct LocalObjects {
    resolver: LocalResolver,
}

impl LocalObjects {
    /// Objects under `buckets_dir` (`s3://BUCKET/KEY` is `buckets_dir/BUCKET/KEY`).
    pub fn new(buckets_dir: impl Into<std::path::PathBuf>) -> Self {
        LocalObjects {
            resolver: LocalResolver::new(buckets_dir),
        }
    }
}

fn io_error(what: &str, e: std::io::Error) -> ObjectError {
    match e.kind() {
        std::io::ErrorKind::NotFound => ObjectError::NotFound(what.to_string()),
        std::io::ErrorKind::PermissionDenied => ObjectError::AccessDenied(what.to_string()),
        _ => ObjectError::Other(format!("{what}: {e}")),
    }
}

impl Objects for LocalObjects {
    fn list<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<Vec<String>, ObjectError>> {
        Box::pin(async move {
            let files = self.resolver.list(path).map_err(|e| io_error(path, e))?;
            Ok(files
                .into_iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect())
        })
    }

    fn open<'a>(&'a self, object: &'a str) -> BoxFuture<'a, Result<ObjectReader, ObjectError>> {
        Box::pin(async move {
            let file = std::fs::File::open(object).map_err(|e| io_error(object, e))?;
            Ok(Box::new(file) as ObjectReader)
        })
    }
}
