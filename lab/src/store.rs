//! A store wrapper for tests: [`Intercept`] passes every call to the store it wraps through a
//! [`Hook`], which says only what it changes (fails a call, yields, races another writer) and
//! lets every other call through as it is.
//!
//! ```
//! use std::sync::atomic::{AtomicBool, Ordering};
//!
//! use seismo_lab::store::{Call, Hook, Intercept};
//! use seismo_shared::store::{Kind, MemoryStore, Store, StoreError};
//!
//! /// Fails every call once `down` is set.
//! #[derive(Debug, Default)]
//! struct Outage {
//!     down: AtomicBool,
//! }
//!
//! impl<S: Store> Hook<S> for Outage {
//!     async fn around<T: Send>(
//!         &self,
//!         _call: Call<'_>,
//!         work: impl Future<Output = Result<T, StoreError>> + Send,
//!     ) -> Result<T, StoreError> {
//!         if self.down.load(Ordering::SeqCst) {
//!             return Err(StoreError::Backend("down".into()));
//!         }
//!         work.await
//!     }
//! }
//!
//! # tokio_free_block_on(async {
//! let store = Intercept::new(MemoryStore::new(), Outage::default());
//! store.put(Kind::Tags, "a", serde_json::json!({})).await.unwrap();
//! store.down.store(true, Ordering::SeqCst); // the hook's own fields, through the wrapper
//! assert!(store.get(Kind::Tags, "a").await.is_err());
//! assert!(store.inner.get(Kind::Tags, "a").await.unwrap().is_some());
//! # });
//! # fn tokio_free_block_on(f: impl Future<Output = ()>) {
//! #     let waker = std::task::Waker::noop();
//! #     let mut cx = std::task::Context::from_waker(waker);
//! #     let mut f = std::pin::pin!(f);
//! #     while f.as_mut().poll(&mut cx).is_pending() {}
//! # }
//! ```

use std::future::Future;
use std::ops::Deref;

use seismo_shared::store::{Kind, LargeValues, Store, StoreError};
use serde_json::Value;

/// A store operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// [`Store::get`].
    Get,
    /// [`Store::create`].
    Create,
    /// [`Store::put`].
    Put,
    /// [`Store::replace`].
    Replace,
    /// [`Store::delete`].
    Delete,
    /// [`Store::list`].
    List,
}

/// One call to the store: its operation, the kind, and the key (the prefix of a list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call<'a> {
    /// The operation.
    pub op: Op,
    /// The kind of document.
    pub kind: Kind,
    /// The key, or the prefix of a list.
    pub key: &'a str,
}

impl<'a> Call<'a> {
    /// `op` on the document of `kind` at `key` (the prefix of a list).
    pub fn new(op: Op, kind: Kind, key: &'a str) -> Self {
        Call { op, kind, key }
    }
}

/// What an [`Intercept`] does with each call to the store `S` it wraps.
///
/// Each operation's method gets the inner store and the call's arguments; by default it runs
/// the inner call through [`Hook::around`], which by default just runs it. A hook overrides
/// `around` to act on every call alike (by its [`Call`]), or one operation's method to act on
/// that operation's arguments (the value written, the expected document).
pub trait Hook<S: Store>: Send + Sync + 'static {
    /// Runs `work`, the inner store's answer to `call`.
    fn around<T: Send>(
        &self,
        call: Call<'_>,
        work: impl Future<Output = Result<T, StoreError>> + Send,
    ) -> impl Future<Output = Result<T, StoreError>> + Send {
        let _ = call;
        work
    }

    /// [`Store::get`] on `inner`.
    fn get(
        &self,
        inner: &S,
        kind: Kind,
        key: &str,
    ) -> impl Future<Output = Result<Option<Value>, StoreError>> + Send {
        self.around(Call::new(Op::Get, kind, key), inner.get(kind, key))
    }

    /// [`Store::create`] on `inner`.
    fn create(
        &self,
        inner: &S,
        kind: Kind,
        key: &str,
        value: Value,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.around(
            Call::new(Op::Create, kind, key),
            inner.create(kind, key, value),
        )
    }

    /// [`Store::put`] on `inner`.
    fn put(
        &self,
        inner: &S,
        kind: Kind,
        key: &str,
        value: Value,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.around(Call::new(Op::Put, kind, key), inner.put(kind, key, value))
    }

    /// [`Store::replace`] on `inner`.
    fn replace(
        &self,
        inner: &S,
        kind: Kind,
        key: &str,
        expected: Option<&Value>,
        value: Value,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.around(
            Call::new(Op::Replace, kind, key),
            inner.replace(kind, key, expected, value),
        )
    }

    /// [`Store::delete`] on `inner`.
    fn delete(
        &self,
        inner: &S,
        kind: Kind,
        key: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        self.around(Call::new(Op::Delete, kind, key), inner.delete(kind, key))
    }

    /// [`Store::list`] on `inner`.
    fn list(
        &self,
        inner: &S,
        kind: Kind,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<(String, Value)>, StoreError>> + Send {
        self.around(Call::new(Op::List, kind, prefix), inner.list(kind, prefix))
    }
}

/// The store `inner`, every call of which goes through `hook`; its large values are the inner
/// store's.
///
/// It dereferences to the hook, so a test calls the hook's own methods (a switch, a counter)
/// on the store it hands to the code under test.
#[derive(Debug, Default)]
pub struct Intercept<S, H> {
    /// The wrapped store (a test reads and seeds it behind the hook's back).
    pub inner: S,
    /// What is done with each call.
    pub hook: H,
}

impl<S: Store, H: Hook<S>> Intercept<S, H> {
    /// `inner` with every call through `hook`.
    pub fn new(inner: S, hook: H) -> Self {
        Intercept { inner, hook }
    }
}

impl<S, H> Deref for Intercept<S, H> {
    type Target = H;

    fn deref(&self) -> &H {
        &self.hook
    }
}

impl<S: Store, H: Hook<S>> Store for Intercept<S, H> {
    async fn get(&self, kind: Kind, key: &str) -> Result<Option<Value>, StoreError> {
        self.hook.get(&self.inner, kind, key).await
    }

    async fn create(&self, kind: Kind, key: &str, value: Value) -> Result<(), StoreError> {
        self.hook.create(&self.inner, kind, key, value).await
    }

    async fn put(&self, kind: Kind, key: &str, value: Value) -> Result<(), StoreError> {
        self.hook.put(&self.inner, kind, key, value).await
    }

    async fn replace(
        &self,
        kind: Kind,
        key: &str,
        expected: Option<&Value>,
        value: Value,
    ) -> Result<(), StoreError> {
        self.hook
            .replace(&self.inner, kind, key, expected, value)
            .await
    }

    async fn delete(&self, kind: Kind, key: &str) -> Result<bool, StoreError> {
        self.hook.delete(&self.inner, kind, key).await
    }

    async fn list(&self, kind: Kind, prefix: &str) -> Result<Vec<(String, Value)>, StoreError> {
        self.hook.list(&self.inner, kind, prefix).await
    }

    fn large_values(&self) -> Option<&LargeValues> {
        self.inner.large_values()
    }
}
