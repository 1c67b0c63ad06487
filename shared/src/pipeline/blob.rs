//! Large values (model state, an interval's values, scored points): gzip, then either one
//! object when the store keeps its large values in an object store
//! ([`crate::store::WithObjects`]: S3 deployed), or parts of at most [`PART_BYTES`] in the
//! store itself (its items are limited; DynamoDB: 400 KB). Either way the data is written
//! before the head document that names it, so a reader never sees a half-written blob.

use std::io::{Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde_json::{Value, json};

use crate::objects::ObjectError;
use crate::store::{Kind, Store, StoreError, keys};

/// Compressed bytes per stored part (base64 makes a part about 342 KB of text).
pub const PART_BYTES: usize = 256 * 1024;

/// What storing a blob cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// Documents written.
    pub items: usize,
    /// Bytes of compressed payload written.
    pub bytes: usize,
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::with_capacity(bytes.len() / 3), Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

fn corrupt(key: &str, what: &str) -> StoreError {
    StoreError::Backend(format!("blob {key}: {what}"))
}

fn object_error(e: ObjectError) -> StoreError {
    StoreError::Backend(format!("large value: {e}"))
}

/// Stores `bytes` under `key`: the object `ROOT/key`, or parts `key#0`, `key#1`, ...; then
/// the head `key`.
pub async fn put<S: Store>(store: &S, key: &str, bytes: &[u8]) -> Result<Written, StoreError> {
    let packed = gzip(bytes);
    if let Some(large) = store.large_values() {
        let object = keys::blob_object(&large.root, key);
        let size = packed.len();
        large
            .objects
            .put(&object, packed)
            .await
            .map_err(object_error)?;
        let head = json!({ "object": object, "bytes": bytes.len(), "packed": size });
        store.put(Kind::Pipeline, key, head).await?;
        return Ok(Written {
            items: 1,
            bytes: size,
        });
    }
    let parts: Vec<&[u8]> = packed.chunks(PART_BYTES).collect();
    for (i, p) in (0u64..).zip(&parts) {
        store
            .put(
                Kind::Pipeline,
                &keys::blob_part(key, i),
                json!({ "b": B64.encode(p) }),
            )
            .await?;
    }
    let head = json!({ "parts": parts.len(), "bytes": bytes.len(), "packed": packed.len() });
    store.put(Kind::Pipeline, key, head).await?;
    Ok(Written {
        items: parts.len() + 1,
        bytes: packed.len(),
    })
}

/// The blob under `key`, if its head is there.
pub async fn get<S: Store>(store: &S, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let Some(head) = store.get(Kind::Pipeline, key).await? else {
        return Ok(None);
    };
    let size = head["bytes"].as_u64().unwrap_or(0) as usize;
    if let Some(object) = head["object"].as_str() {
        let large = store
            .large_values()
            .ok_or_else(|| corrupt(key, "in an object store this store does not know"))?;
        let reader = large.objects.open(object).await.map_err(object_error)?;
        return gunzip(reader, size, key).map(Some);
    }
    let parts = head["parts"]
        .as_u64()
        .ok_or_else(|| corrupt(key, "no parts"))?;
    let mut packed = Vec::new();
    for i in 0..parts {
        let part = store
            .get(Kind::Pipeline, &keys::blob_part(key, i))
            .await?
            .ok_or_else(|| corrupt(key, "a part is missing"))?;
        let text = part["b"]
            .as_str()
            .ok_or_else(|| corrupt(key, "a part is not text"))?;
        packed.extend(
            B64.decode(text)
                .map_err(|_| corrupt(key, "a part is not base64"))?,
        );
    }
    gunzip(packed.as_slice(), size, key).map(Some)
}

/// The `size` bytes gzip'd in `packed`.
fn gunzip(packed: impl Read, size: usize, key: &str) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::with_capacity(size);
    GzDecoder::new(packed)
        .read_to_end(&mut out)
        .map_err(|_| corrupt(key, "not gzip"))?;
    Ok(out)
}

/// Deletes the object a blob's head names, when it has one.
async fn delete_object<S: Store>(store: &S, head: &Value) -> Result<(), StoreError> {
    if let (Some(object), Some(large)) = (head["object"].as_str(), store.large_values()) {
        large.objects.delete(object).await.map_err(object_error)?;
    }
    Ok(())
}

/// Deletes the blob: its object or parts first, the head last, so a failure part-way leaves a
/// head that a retry (or [`delete_under`]) still finds and finishes.
pub async fn delete<S: Store>(store: &S, key: &str) -> Result<(), StoreError> {
    let Some(head) = store.get(Kind::Pipeline, key).await? else {
        return Ok(());
    };
    delete_object(store, &head).await?;
    for i in 0..head["parts"].as_u64().unwrap_or(0) {
        store
            .delete(Kind::Pipeline, &keys::blob_part(key, i))
            .await?;
    }
    store.delete(Kind::Pipeline, key).await?;
    Ok(())
}

/// Deletes every document under `prefix`, and the objects of the blobs among them.
pub async fn delete_under<S: Store>(store: &S, prefix: &str) -> Result<(), StoreError> {
    for (k, doc) in store.list(Kind::Pipeline, prefix).await? {
        delete_object(store, &doc).await?;
        store.delete(Kind::Pipeline, &k).await?;
    }
    Ok(())
}

/// The head of a blob, for sizes.
pub async fn head<S: Store>(store: &S, key: &str) -> Result<Option<Value>, StoreError> {
    store.get(Kind::Pipeline, key).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[tokio::test]
    async fn a_blob_larger_than_a_part_round_trips_and_deletes() {
        let store = MemoryStore::new();
        // Incompressible enough to need several parts.
        let mut x = 0x9e37_79b9_u32;
        let bytes: Vec<u8> = (0..3 * PART_BYTES)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let w = put(&store, "d/state/0", &bytes).await.unwrap();
        assert!(w.items >= 4, "{w:?}");
        assert_eq!(get(&store, "d/state/0").await.unwrap().unwrap(), bytes);
        delete(&store, "d/state/0").await.unwrap();
        assert_eq!(get(&store, "d/state/0").await.unwrap(), None);
        assert!(store.list(Kind::Pipeline, "d/").await.unwrap().is_empty());
    }

    /// Local objects whose first delete fails (S3 throttling, a timeout, a killed function).
    #[derive(Debug)]
    struct FlakyDeletes {
        inner: crate::objects::LocalObjects,
        failed: std::sync::atomic::AtomicBool,
    }

    impl crate::objects::Objects for FlakyDeletes {
        fn list<'a>(
            &'a self,
            path: &'a str,
        ) -> crate::objects::BoxFuture<'a, Result<Vec<String>, ObjectError>> {
            self.inner.list(path)
        }

        fn open<'a>(
            &'a self,
            object: &'a str,
        ) -> crate::objects::BoxFuture<'a, Result<crate::objects::ObjectReader, ObjectError>>
        {
            self.inner.open(object)
        }

        fn put<'a>(
            &'a self,
            object: &'a str,
            bytes: Vec<u8>,
        ) -> crate::objects::BoxFuture<'a, Result<(), ObjectError>> {
            self.inner.put(object, bytes)
        }

        fn delete<'a>(
            &'a self,
            object: &'a str,
        ) -> crate::objects::BoxFuture<'a, Result<(), ObjectError>> {
            if !self.failed.swap(true, std::sync::atomic::Ordering::SeqCst) {
                return Box::pin(async { Err(ObjectError::Other("SlowDown".into())) });
            }
            self.inner.delete(object)
        }
    }

    #[tokio::test]
    async fn a_failed_object_delete_leaves_the_head_for_the_retry() {
        let dir = tempfile::tempdir().unwrap();
        let objects = std::sync::Arc::new(FlakyDeletes {
            inner: crate::objects::LocalObjects::new(dir.path()),
            failed: std::sync::atomic::AtomicBool::new(false),
        });
        let store = crate::store::WithObjects::new(MemoryStore::new(), objects, "s3://state/v1");
        put(&store, "arn:x/state/0/7", b"model").await.unwrap();
        let file = dir.path().join("state/v1/arn:x/state/0/7");
        assert!(delete(&store, "arn:x/state/0/7").await.is_err());
        assert!(file.is_file(), "the object is still there");
        assert_eq!(
            get(&store, "arn:x/state/0/7").await.unwrap().unwrap(),
            b"model",
            "and its head still names it"
        );
        delete(&store, "arn:x/state/0/7").await.unwrap();
        assert!(!file.exists());
        assert!(
            store
                .list(Kind::Pipeline, "arn:x/")
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn with_an_object_store_a_blob_is_one_object_and_a_small_head() {
        let dir = tempfile::tempdir().unwrap();
        let objects = std::sync::Arc::new(crate::objects::LocalObjects::new(dir.path()));
        let store = crate::store::WithObjects::new(MemoryStore::new(), objects, "s3://state/v1/");
        let bytes: Vec<u8> = (0..3 * PART_BYTES).map(|i| (i * 7 % 251) as u8).collect();
        let w = put(&store, "arn:x/state/0/7", &bytes).await.unwrap();
        assert_eq!(w.items, 1, "only the head is a document");
        let docs = store.list(Kind::Pipeline, "arn:x/").await.unwrap();
        assert_eq!(docs.len(), 1);
        assert!(docs[0].1.to_string().len() < 200, "{docs:?}");
        let file = dir.path().join("state/v1/arn:x/state/0/7");
        assert!(file.is_file());
        assert_eq!(
            get(&store, "arn:x/state/0/7").await.unwrap().unwrap(),
            bytes
        );
        // Writing it again (a retried step) changes nothing.
        put(&store, "arn:x/state/0/7", &bytes).await.unwrap();
        assert_eq!(
            get(&store, "arn:x/state/0/7").await.unwrap().unwrap(),
            bytes
        );
        delete(&store, "arn:x/state/0/7").await.unwrap();
        assert_eq!(get(&store, "arn:x/state/0/7").await.unwrap(), None);
        assert!(!file.exists());
        assert!(
            store
                .list(Kind::Pipeline, "arn:x/")
                .await
                .unwrap()
                .is_empty()
        );
        // Deleting what is gone is fine.
        delete(&store, "arn:x/state/0/7").await.unwrap();
    }
}
