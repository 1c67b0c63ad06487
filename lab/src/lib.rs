//! # seismo-lab
//!
//! Benchmarks, generators and evaluation for Seismo, used by the `seismo` CLI and the tests,
//! never by the Lambda functions (which link `seismo-shared` only):
//!
//! - [`business`]: `seismo bench business`, Seismo against a seasonal-median baseline on
//!   sliced business metrics with incidents of known size;
//! - [`generate`]: realistic sample data in the old service's S3 layout, with labelled incidents;
//! - [`eval`]: event-level precision, recall and F1 of anomaly groups against labelled events;
//! - [`squeeze_cases`]: root-cause cases like Squeeze's dataset B0, from a seed;
//! - [`store`]: a store wrapper whose hook says what a test changes in each call (fails,
//!   yields, races another writer);
//! - [`stream`]: a detector for one stream of points of unknown interval (the NAB benchmark).
//!
//! ```
//! use seismo_lab::generate::metric_set;
//!
//! let request = metric_set();
//! seismo_shared::validate::metric_set(&request).unwrap();
//! ```
#![warn(missing_docs)]

pub mod business;
pub mod eval;
pub mod generate;
pub mod squeeze_cases;
pub mod store;
pub mod stream;
