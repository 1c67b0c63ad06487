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

/// A suffix no other write uses: the time in nanoseconds, the process and a counter.
pub fn unique_suffix() -> String {
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{nanos:x}-{:x}-{n:x}", std::process::id())
}

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
            // Listed objects are local paths already; `s3://` names are resolved.
            let path = if object.starts_with("s3://") {
                self.resolver
                    .local_path(object)
                    .map_err(|e| io_error(object, e))?
            } else {
                std::path::PathBuf::from(object)
            };
            let file = std::fs::File::open(path).map_err(|e| io_error(object, e))?;
            Ok(Box::new(file) as ObjectReader)
        })
    }

    fn put<'a>(
        &'a self,
        object: &'a str,
        bytes: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), ObjectError>> {
        Box::pin(async move {
            let path = self
                .resolver
                .local_path(object)
                .map_err(|e| io_error(object, e))?;
            let dir = path
                .parent()
                .ok_or_else(|| ObjectError::Other(format!("{object}: no folder")))?;
            std::fs::create_dir_all(dir).map_err(|e| io_error(object, e))?;
            // Written aside, then renamed over: a reader never sees half an object.
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let aside = dir.join(format!(".{name}.{}.part", unique_suffix()));
            std::fs::write(&aside, &bytes).map_err(|e| io_error(object, e))?;
            std::fs::rename(&aside, &path).map_err(|e| io_error(object, e))
        })
    }

    fn delete<'a>(&'a self, object: &'a str) -> BoxFuture<'a, Result<(), ObjectError>> {
        Box::pin(async move {
            let path = self
                .resolver
                .local_path(object)
                .map_err(|e| io_error(object, e))?;
            match std::fs::remove_file(path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(io_error(object, e)),
            }
        })
    }
}
