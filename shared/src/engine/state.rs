//! The model state of one series, as stored between points, and the checks a stored one passes.

use serde::{Deserialize, Serialize};

use super::config::EngineConfig;
use super::ring::Ring;

/// The predictors the engine chooses from: the seasonal baseline with its level correction,
/// the median of the same time of day over the last week, the median of the last few values.
pub(super) const PREDICTORS: usize = 3;

/// The newest state layout: 2 added the yearly departures. A state without them (anything but
/// daily data) is still written as layout 1, which earlier builds read.
pub const STATE_VERSION: u16 = 2;

/// The model state of one series: everything needed to score its next point. Read from JSON
/// or bytes, it is checked as [`SeriesState::from_bytes`] checks it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "UncheckedState")]
pub struct SeriesState {
    pub(super) version: u16,
    pub(super) last: Option<i64>,
    pub(super) observed: u64,
    pub(super) values: Ring,
    pub(super) level: Ring,
    pub(super) scale: Ring,
    /// Each day's relative departure from its weekly baseline, for the yearly season (daily
    /// data only; outliers included, since a holiday is an outlier the first year).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) yearly: Option<Ring>,
    /// Exponentially weighted mean absolute error of each predictor: the engine follows
    /// whichever has been right lately.
    pub(super) errors: [f64; PREDICTORS],
    /// Exponentially weighted mean of |value|: the series' typical magnitude.
    pub(super) typical: f64,
    /// Per direction (spike, drop), the factor deviations are divided by before they are
    /// judged: raised by "not an anomaly" feedback (1 = no feedback).
    pub(super) tolerance: [f64; 2],
    /// The level correction and the residual spread (before weighting), recomputed from their
    /// rings every few points (every point for hourly data), and the points since.
    pub(super) cached: Cached,
    /// Whether the series has taken a negative value: such a series is not count-like, and its
    /// noise is not weighted by its level (a series that crosses zero would get a tiny band
    /// there).
    pub(super) signed: bool,
}

/// Refuses a state layout this build does not read.
pub(super) fn readable_version(version: u16) -> Result<(), StateError> {
    if (1..=STATE_VERSION).contains(&version) {
        return Ok(());
    }
    Err(StateError(format!(
        "state version {version}, this build reads 1-{STATE_VERSION}"
    )))
}

/// [`SeriesState`] as read from JSON, before its numbers are checked.
#[derive(Deserialize)]
struct UncheckedState {
    version: u16,
    last: Option<i64>,
    observed: u64,
    values: Ring,
    level: Ring,
    scale: Ring,
    #[serde(default)]
    yearly: Option<Ring>,
    #[serde(default)]
    errors: [f64; PREDICTORS],
    #[serde(default)]
    typical: f64,
    #[serde(default = "no_tolerance")]
    tolerance: [f64; 2],
    #[serde(default)]
    cached: Cached,
    #[serde(default)]
    signed: bool,
}

impl TryFrom<UncheckedState> for SeriesState {
    type Error = StateError;

    fn try_from(u: UncheckedState) -> Result<Self, StateError> {
        readable_version(u.version)?;
        SeriesState {
            version: layout(&u.yearly),
            last: u.last,
            observed: u.observed,
            values: u.values,
            level: u.level,
            scale: u.scale,
            yearly: u.yearly,
            errors: u.errors,
            typical: u.typical,
            tolerance: u.tolerance,
            cached: u.cached,
            signed: u.signed,
        }
        .checked()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Cached {
    pub(super) level: f64,
    pub(super) spread: Option<f64>,
    pub(super) level_age: u32,
    pub(super) spread_age: u32,
}

/// The layout a state is written in: 2 when it holds yearly departures, else 1.
pub(super) fn layout(yearly: &Option<Ring>) -> u16 {
    if yearly.is_some() { 2 } else { 1 }
}

fn no_tolerance() -> [f64; 2] {
    [1.0, 1.0]
}

impl SeriesState {
    /// A series with no history.
    pub fn new(config: &EngineConfig) -> Self {
        let yearly = (config.year > 0).then(|| Ring::new(config.yearly_history()));
        SeriesState {
            version: layout(&yearly),
            last: None,
            observed: 0,
            values: Ring::new(config.history()),
            level: Ring::new(config.level_window),
            scale: Ring::new(config.scale_window),
            yearly,
            errors: [0.0; PREDICTORS],
            typical: 0.0,
            tolerance: no_tolerance(),
            cached: Cached::default(),
            signed: false,
        }
    }

    /// Points observed so far.
    pub fn observed(&self) -> u64 {
        self.observed
    }

    /// The time of the last interval observed.
    pub fn last_time(&self) -> Option<i64> {
        self.last
    }
}

/// A stored state that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("model state cannot be read: {0}")]
pub struct StateError(pub(super) String);

impl SeriesState {
    /// Refuses a state whose numbers could not come from the engine (stored bytes may be
    /// damaged or forged): every later step stays finite and within bounds.
    pub(super) fn checked(self) -> Result<SeriesState, StateError> {
        let bad = |what: &str| Err(StateError(format!("{what} out of range")));
        if !self
            .errors
            .iter()
            .chain([&self.typical, &self.cached.level])
            .all(|v| v.is_finite())
        {
            return bad("an error or level");
        }
        if !self
            .tolerance
            .iter()
            .all(|t| (1.0..=MAX_TOLERANCE).contains(t))
        {
            return bad("a tolerance");
        }
        if self
            .cached
            .spread
            .is_some_and(|s| !s.is_finite() || s < 0.0)
        {
            return bad("the spread");
        }
        let rings = [&self.values, &self.level, &self.scale];
        for ring in rings.into_iter().chain(self.yearly.as_ref()) {
            if ring.cap > MAX_RING || ring.exponent.is_some_and(|e| !(-1000..=1000).contains(&e)) {
                return bad("a ring");
            }
        }
        Ok(self)
    }
}

/// The largest ring a state may hold (four weeks of one-minute data).
const MAX_RING: usize = 4 * 7 * 1440;

/// The most feedback may widen what is judged normal.
pub(super) const MAX_TOLERANCE: f64 = 20.0;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fixtures::*;
    use crate::model::Frequency;

    #[test]
    fn state_round_trips_and_scores_like_the_live_one() {
        let config = EngineConfig::for_frequency(Frequency::Pt1h);
        let (mut live, _) =
            run((0..1000).map(|t| Some(if t % 97 == 0 { f64::NAN } else { seasonal(t) })));
        let bytes = serde_json::to_vec(&live).unwrap();
        let mut restored: SeriesState = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(restored, live);
        // JSON is checked as bytes are: a forged tolerance or version is refused.
        let mut forged: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        forged["tolerance"] = serde_json::json!([0.0, 1.0]);
        let err = serde_json::from_value::<SeriesState>(forged).unwrap_err();
        assert!(err.to_string().contains("tolerance out of range"), "{err}");
        let mut forged: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        forged["version"] = serde_json::json!(99);
        let err = serde_json::from_value::<SeriesState>(forged).unwrap_err();
        assert!(err.to_string().contains("state version 99"), "{err}");
        for t in 1000..1100 {
            let v = Some(seasonal(t) + if t == 1050 { 99.0 } else { 0.0 });
            assert_eq!(
                restored.observe(&config, t as i64 * H, v),
                live.observe(&config, t as i64 * H, v)
            );
        }
    }

    #[test]
    fn yearly_seasons_are_for_daily_data() {
        assert_eq!(EngineConfig::for_step(86_400).year, 364);
        for step in [300, 3_600, 2 * 86_400, 7 * 86_400] {
            assert_eq!(EngineConfig::for_step(step).year, 0, "{step}");
        }
        // Other frequencies keep writing the layout earlier builds read.
        let (state, _) = run((0..500).map(|t| Some(seasonal(t))));
        assert!(state.yearly.is_none());
        assert_eq!(state.to_bytes()[4..6], 1u16.to_le_bytes());
    }
}
