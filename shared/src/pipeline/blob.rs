//! Large values (model state, an interval's values, scored points) in a document store whose
//! items are limited (DynamoDB: 400 KB): gzip, then split into parts of at most
//! [`PART_BYTES`], written before the head that names them, so a reader never sees a
//! half-written blob.

use std::io::{Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde_json::{Value, json};

use crate::store::{Kind, Store, StoreError};

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

/// Stores `bytes` under `key` (parts `key#0`, `key#1`, ... then the head `key`).
pub async fn put<S: Store>(store: &S, key: &str, bytes: &[u8]) -> Result<Written, StoreError> {
    let packed = gzip(bytes);
    let parts: Vec<&[u8]> = packed.chunks(PART_BYTES).collect();
    for (i, p) in parts.iter().enumerate() {
        store
            .put(
                Kind::Pipeline,
                &format!("{key}#{i}"),
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
    let parts = head["parts"]
        .as_u64()
        .ok_or_else(|| corrupt(key, "no parts"))?;
    let mut packed = Vec::new();
    for i in 0..parts {
        let part = store
            .get(Kind::Pipeline, &format!("{key}#{i}"))
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
    let mut out = Vec::with_capacity(head["bytes"].as_u64().unwrap_or(0) as usize);
    GzDecoder::new(packed.as_slice())
        .read_to_end(&mut out)
        .map_err(|_| corrupt(key, "not gzip"))?;
    Ok(Some(out))
}

/// Deletes the blob (head first, so it is gone for readers at once).
pub async fn delete<S: Store>(store: &S, key: &str) -> Result<(), StoreError> {
    let Some(head) = store.get(Kind::Pipeline, key).await? else {
        return Ok(());
    };
    store.delete(Kind::Pipeline, key).await?;
    for i in 0..head["parts"].as_u64().unwrap_or(0) {
        store.delete(Kind::Pipeline, &format!("{key}#{i}")).await?;
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
}
