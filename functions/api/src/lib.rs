//! # seismo-api
//!
//! The Lookout for Metrics API as an axum router: the api Lambda serves it behind an API
//! Gateway HTTP API, and `seismo serve` on localhost. Operations read and write a [`Store`]
//! (memory here; the embedded store and DynamoDB implement the same port).

mod clock;
pub mod error;
mod ops;
mod paging;
mod quota;
mod request;
mod resources;
mod router;
pub mod sigv4;
mod state;
mod swap;

pub use error::ApiError;
pub use router::app;
#[cfg(feature = "embedded")]
pub use seismo_shared::store::EmbeddedStore;
pub use seismo_shared::store::{Kind, MemoryStore, Store, StoreError};
pub use state::Api;
