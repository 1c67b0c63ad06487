//! # seismo-shared
//!
//! The common crate of Seismo, the open-source successor to Amazon Lookout for Metrics: the old
//! service's domain (detectors, metric sets, anomaly groups) with its exact JSON, the file formats
//! and timestamp patterns it read, aggregation per interval with data-quality figures, the
//! detection engine, anomaly groups with their contribution matrix, and the local backtest.
//!
//! ```
//! use seismo_shared::engine::{EngineConfig, SeriesState};
//! use seismo_shared::model::Frequency;
//!
//! let config = EngineConfig::for_frequency(Frequency::P1d);
//! let mut state = SeriesState::new(&config);
//! let day = 86_400;
//! for t in 0..60 {
//!     state.observe(&config, t * day, Some(100.0 + (t % 7) as f64));
//! }
//! let verdict = state.observe(&config, 60 * day, Some(400.0)).unwrap();
//! assert!(verdict.anomalous && verdict.value > verdict.upper);
//! ```
#![warn(missing_docs)]

#[cfg(feature = "aws")]
pub mod aws;
pub mod backtest;
pub mod data;
pub mod engine;
pub mod error;
pub mod group;
#[cfg(feature = "handlers")]
pub mod handlers;
pub mod ids;
pub mod model;
pub mod objects;
pub mod paths;
pub mod pipeline;
pub mod ports;
pub mod rca;
pub mod sample;
pub mod slices;
pub mod store;
pub mod time;
pub mod validate;
