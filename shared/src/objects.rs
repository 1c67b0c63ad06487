//! Where metric files come from, in process: local folders (`s3://BUCKET/KEY` is
//! `DIR/BUCKET/KEY`) for the laptop. The port ([`Objects`]) lives in [`crate::ports`] and is
//! re-exported here; S3 ([`crate::aws::s3`]) is its adapter deployed or against any S3 API.

use crate::paths::LocalResolver;
pub use crate::ports::{BoxFuture, ObjectError, ObjectReader, Objects};

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
