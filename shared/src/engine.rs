//! The detection engine: one robust seasonal model per series, online.
//!
//! Pure and synchronous: values and interval times in; expected value, band, score and
//! severity out; the state is an explicit serializable struct that the caller stores.
//!
//! The model, for each new point `x` of a series:
//! - a seasonal baseline `S`: the median of the same phase in up to four past seasons (weekly for
//!   5-minute, 10-minute and hourly data; the day of the week for daily data), falling back to
//!   the same time of day over the last week and then to a rolling median while history is short;
//!   a point that deviated beyond 4.6 sigma is left out of it, as "is an anomaly" feedback does,
//!   unless the same phase a season or a day earlier was left out too (a pattern that repeats
//!   is learned);
//! - for daily data, a yearly season: when this date last year (the median of 364 to 366 days
//!   ago) was clearly off its weekly baseline, beyond what was usual in the weeks before it,
//!   `S` scaled by as much is a second expectation, as normal as the first: one year cannot
//!   tell a holiday from an incident, so a value is judged against the nearer of the two and
//!   the band spans both. A holiday season of a few days or more alarms the first year only;
//!   an incident does not echo as a false alarm a year later (that day's band is wider
//!   instead); a single day is not remembered (its date and weekday move). A value that
//!   followed the season enters the weekly history with the season taken out;
//! - a level correction `L`: the median of `x - S` over the last day (last week for daily data),
//!   so trends and sustained level shifts are followed instead of alarming forever;
//! - a robust scale `sigma`: 1.4826 x the median absolute deviation of recent residuals (clipped
//!   at the band, so anomalies do not widen it), each divided by the square root of its level so
//!   a busy hour may vary more than a quiet one, as counts do; with a floor for flat series;
//! - the expected value `S + L`, the deviation `z = (x - S - L) / sigma`, and a severity
//!   `100 (1 - exp(-nines / 8))` where `nines = -log10 P(|Z| >= |z|)` under a normal law: the
//!   severity says how improbable the deviation is, in the same units on every series.
//!
//! Every point costs O(window): no refit of history.
//!
//! The engine is split by concern: [`EngineConfig`] and [`Sensitivity`] (`config`), the model
//! state [`SeriesState`] (`state`) kept in compact rings (`ring`), scoring and folding a point
//! (`observe`), [`Feedback`] (`feedback`), the state's binary form (`codec`), and the medians
//! and normal law behind severities (`stats`).

mod codec;
mod config;
mod feedback;
mod observe;
mod ring;
mod state;
mod stats;

#[cfg(test)]
mod fixtures;

pub use config::{EngineConfig, Sensitivity};
pub use feedback::Feedback;
pub use observe::{Direction, Scored};
pub use state::{STATE_VERSION, SeriesState, StateError};
pub use stats::{ln_erfc, severity, z_for_severity};
