//! The storage port's in-process adapters and helpers: the port itself ([`Store`]: JSON
//! documents by kind and key, with create-if-absent for names that must be unique and
//! compare-and-swap for read-modify-write) lives in [`crate::ports`] and is re-exported here.
//! Adapters: memory and the embedded store (here), DynamoDB ([`crate::aws::dynamodb`]); all
//! three pass [`contract`].

pub mod keys;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::ports::Objects;
pub use crate::ports::{Kind, LargeValues, Store, StoreError};

use serde_json::Value;

/// A store whose large values live in an object store (S3 deployed): documents stay small, so
/// a DynamoDB table is billed for heads and bookkeeping, not for rewriting model state every
/// interval.
#[derive(Debug, Clone)]
pub struct WithObjects<S> {
    inner: S,
    large: LargeValues,
}

impl<S: Store> WithObjects<S> {
    /// `inner` for documents, `objects` under `root` (`s3://BUCKET/PREFIX`) for large values.
    pub fn new(inner: S, objects: Arc<dyn Objects>, root: &str) -> Self {
        WithObjects {
            inner,
            large: LargeValues {
                objects,
                root: root.trim_end_matches('/').to_string(),
            },
        }
    }

    /// The document store.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: Store> Store for WithObjects<S> {
    async fn get(&self, kind: Kind, key: &str) -> Result<Option<Value>, StoreError> {
        self.inner.get(kind, key).await
    }

    async fn create(&self, kind: Kind, key: &str, value: Value) -> Result<(), StoreError> {
        self.inner.create(kind, key, value).await
    }

    async fn put(&self, kind: Kind, key: &str, value: Value) -> Result<(), StoreError> {
        self.inner.put(kind, key, value).await
    }

    async fn replace(
        &self,
        kind: Kind,
        key: &str,
        expected: Option<&Value>,
        value: Value,
    ) -> Result<(), StoreError> {
        self.inner.replace(kind, key, expected, value).await
    }

    async fn delete(&self, kind: Kind, key: &str) -> Result<bool, StoreError> {
        self.inner.delete(kind, key).await
    }

    async fn list(&self, kind: Kind, prefix: &str) -> Result<Vec<(String, Value)>, StoreError> {
        self.inner.list(kind, prefix).await
    }

    fn large_values(&self) -> Option<&LargeValues> {
        Some(&self.large)
    }
}

/// Reads, changes and writes back one document with compare-and-swap, again whenever another
/// writer changed it in between, so no update is lost. `change` sees the current document
/// (`None`: absent) and returns the new one, or `None` to leave it as it is. Returns the
/// document as it stands afterwards.
pub async fn update<S: Store, E: From<StoreError>>(
    store: &S,
    kind: Kind,
    key: &str,
    mut change: impl FnMut(Option<&Value>) -> Result<Option<Value>, E>,
) -> Result<Option<Value>, E> {
    // Each retry follows a write that succeeded elsewhere, so this ends under any fair load.
    for _ in 0..64 {
        let current = store.get(kind, key).await?;
        let next = match change(current.as_ref())? {
            Some(next) if current.as_ref() != Some(&next) => next,
            _ => return Ok(current),
        };
        match store
            .replace(kind, key, current.as_ref(), next.clone())
            .await
        {
            Ok(()) => return Ok(Some(next)),
            Err(StoreError::Changed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Changed.into())
}

/// Everything in memory (tests, and `seismo serve --memory`).
#[derive(Debug, Default)]
pub struct MemoryStore {
    docs: Mutex<BTreeMap<(Kind, String), Value>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut BTreeMap<(Kind, String), Value>) -> T,
    ) -> Result<T, StoreError> {
        let mut docs = self
            .docs
            .lock()
            .map_err(|_| StoreError::Backend("memory store poisoned".into()))?;
        Ok(f(&mut docs))
    }
}

impl Store for MemoryStore {
    async fn get(&self, kind: Kind, key: &str) -> Result<Option<Value>, StoreError> {
        self.with(|d| d.get(&(kind, key.to_string())).cloned())
    }

    async fn create(&self, kind: Kind, key: &str, value: Value) -> Result<(), StoreError> {
        self.with(|d| match d.entry((kind, key.to_string())) {
            std::collections::btree_map::Entry::Occupied(_) => Err(StoreError::Exists),
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(value);
                Ok(())
            }
        })?
    }

    async fn put(&self, kind: Kind, key: &str, value: Value) -> Result<(), StoreError> {
        self.with(|d| {
            d.insert((kind, key.to_string()), value);
        })
    }

    async fn replace(
        &self,
        kind: Kind,
        key: &str,
        expected: Option<&Value>,
        value: Value,
    ) -> Result<(), StoreError> {
        self.with(|d| {
            let k = (kind, key.to_string());
            if d.get(&k) != expected {
                return Err(StoreError::Changed);
            }
            d.insert(k, value);
            Ok(())
        })?
    }

    async fn delete(&self, kind: Kind, key: &str) -> Result<bool, StoreError> {
        self.with(|d| d.remove(&(kind, key.to_string())).is_some())
    }

    async fn list(&self, kind: Kind, prefix: &str) -> Result<Vec<(String, Value)>, StoreError> {
        self.with(|d| {
            d.range((kind, prefix.to_string())..)
                .take_while(|((k, key), _)| *k == kind && key.starts_with(prefix))
                .map(|((_, key), v)| (key.clone(), v.clone()))
                .collect()
        })
    }
}

/// The embedded store of `seismo serve`: one redb file, documents as JSON text.
#[cfg(feature = "embedded")]
#[derive(Debug)]
pub struct EmbeddedStore {
    db: redb::Database,
}

#[cfg(feature = "embedded")]
const DOCUMENTS: redb::TableDefinition<&str, &str> = redb::TableDefinition::new("documents");

#[cfg(feature = "embedded")]
impl EmbeddedStore {
    /// Opens (or creates) the store in `dir/seismo.redb`.
    pub fn open(dir: &std::path::Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Backend(format!("{}: {e}", dir.display())))?;
        let db = redb::Database::create(dir.join("seismo.redb")).map_err(backend)?;
        let w = db.begin_write().map_err(backend)?;
        w.open_table(DOCUMENTS).map_err(backend)?;
        w.commit().map_err(backend)?;
        Ok(EmbeddedStore { db })
    }

    fn key(kind: Kind, key: &str) -> String {
        keys::embedded(kind, key)
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&mut redb::Table<&str, &str>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let w = self.db.begin_write().map_err(backend)?;
        let out = {
            let mut table = w.open_table(DOCUMENTS).map_err(backend)?;
            f(&mut table)?
        };
        w.commit().map_err(backend)?;
        Ok(out)
    }
}

#[cfg(feature = "embedded")]
fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

#[cfg(feature = "embedded")]
fn parse(text: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(backend)
}

#[cfg(feature = "embedded")]
impl Store for EmbeddedStore {
    async fn get(&self, kind: Kind, key: &str) -> Result<Option<Value>, StoreError> {
        use redb::ReadableDatabase;
        let r = self.db.begin_read().map_err(backend)?;
        let table = r.open_table(DOCUMENTS).map_err(backend)?;
        let found = table.get(Self::key(kind, key).as_str()).map_err(backend)?;
        found.map(|v| parse(v.value())).transpose()
    }

    async fn create(&self, kind: Kind, key: &str, value: Value) -> Result<(), StoreError> {
        use redb::ReadableTable;
        let k = Self::key(kind, key);
        self.write(|t| {
            if t.get(k.as_str()).map_err(backend)?.is_some() {
                return Err(StoreError::Exists);
            }
            t.insert(k.as_str(), value.to_string().as_str())
                .map_err(backend)?;
            Ok(())
        })
    }

    async fn put(&self, kind: Kind, key: &str, value: Value) -> Result<(), StoreError> {
        let k = Self::key(kind, key);
        self.write(|t| {
            t.insert(k.as_str(), value.to_string().as_str())
                .map_err(backend)?;
            Ok(())
        })
    }

    async fn replace(
        &self,
        kind: Kind,
        key: &str,
        expected: Option<&Value>,
        value: Value,
    ) -> Result<(), StoreError> {
        use redb::ReadableTable;
        let k = Self::key(kind, key);
        self.write(|t| {
            let current = t
                .get(k.as_str())
                .map_err(backend)?
                .map(|v| parse(v.value()))
                .transpose()?;
            if current.as_ref() != expected {
                return Err(StoreError::Changed);
            }
            t.insert(k.as_str(), value.to_string().as_str())
                .map_err(backend)?;
            Ok(())
        })
    }

    async fn delete(&self, kind: Kind, key: &str) -> Result<bool, StoreError> {
        let k = Self::key(kind, key);
        self.write(|t| Ok(t.remove(k.as_str()).map_err(backend)?.is_some()))
    }

    async fn list(&self, kind: Kind, prefix: &str) -> Result<Vec<(String, Value)>, StoreError> {
        use redb::ReadableDatabase;
        let start = Self::key(kind, prefix);
        let head = keys::embedded(kind, "");
        let r = self.db.begin_read().map_err(backend)?;
        let table = r.open_table(DOCUMENTS).map_err(backend)?;
        let mut out = Vec::new();
        for entry in table.range(start.as_str()..).map_err(backend)? {
            let (k, v) = entry.map_err(backend)?;
            let k = k.value();
            if !k.starts_with(start.as_str()) {
                break;
            }
            out.push((k[head.len()..].to_string(), parse(v.value())?));
        }
        Ok(out)
    }
}

/// The contract every adapter passes (its tests call this on an empty store).
#[doc(hidden)]
pub async fn contract(store: &impl Store) {
    use serde_json::json;
    {
        assert_eq!(store.get(Kind::Detector, "a").await.unwrap(), None);
        store
            .create(Kind::Detector, "a", json!({"n": 1}))
            .await
            .unwrap();
        assert_eq!(
            store.create(Kind::Detector, "a", json!({"n": 2})).await,
            Err(StoreError::Exists)
        );
        assert_eq!(
            store.get(Kind::Detector, "a").await.unwrap(),
            Some(json!({"n": 1}))
        );
        store
            .put(Kind::Detector, "a", json!({"n": 3}))
            .await
            .unwrap();
        assert_eq!(
            store.get(Kind::Detector, "a").await.unwrap(),
            Some(json!({"n": 3}))
        );
        // Kinds do not mix; prefixes select.
        store.put(Kind::MetricSet, "a", json!(0)).await.unwrap();
        store.put(Kind::Detector, "ab", json!(0)).await.unwrap();
        store.put(Kind::Detector, "b", json!(0)).await.unwrap();
        let keys: Vec<String> = store
            .list(Kind::Detector, "a")
            .await
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, ["a", "ab"]);
        assert_eq!(store.list(Kind::Detector, "").await.unwrap().len(), 3);
        // Compare-and-swap.
        let current = store.get(Kind::Detector, "a").await.unwrap();
        assert_eq!(
            store
                .replace(Kind::Detector, "a", Some(&json!({"n": 1})), json!({"n": 4}))
                .await,
            Err(StoreError::Changed)
        );
        store
            .replace(Kind::Detector, "a", current.as_ref(), json!({"n": 4}))
            .await
            .unwrap();
        assert_eq!(
            store
                .replace(Kind::Detector, "new", Some(&json!(1)), json!(2))
                .await,
            Err(StoreError::Changed)
        );
        store
            .replace(Kind::Detector, "new", None, json!(2))
            .await
            .unwrap();
        assert_eq!(
            store.get(Kind::Detector, "new").await.unwrap(),
            Some(json!(2))
        );
        store.delete(Kind::Detector, "new").await.unwrap();
        assert!(store.delete(Kind::Detector, "a").await.unwrap());
        assert!(!store.delete(Kind::Detector, "a").await.unwrap());
        assert_eq!(
            store.get(Kind::MetricSet, "a").await.unwrap(),
            Some(json!(0))
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_store_passes_the_contract() {
        contract(&MemoryStore::new()).await;
    }

    #[cfg(feature = "embedded")]
    #[tokio::test]
    async fn embedded_store_passes_the_contract_and_keeps_data_across_opens() {
        use serde_json::json;
        let dir = tempfile::tempdir().unwrap();
        contract(&EmbeddedStore::open(dir.path()).unwrap()).await;
        let reopened = EmbeddedStore::open(dir.path()).unwrap();
        assert_eq!(
            reopened.get(Kind::MetricSet, "a").await.unwrap(),
            Some(json!(0))
        );
    }
}
