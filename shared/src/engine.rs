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

use serde::{Deserialize, Serialize};

use crate::model::Frequency;

/// The severity (0-100) from which a point is anomalous. Validated: finite, within 0-100.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
pub struct Sensitivity(f64);

impl Sensitivity {
    /// Seismo's default detection threshold: a deviation of about 4.6 sigma.
    pub const DEFAULT: Sensitivity = Sensitivity(50.0);

    /// A threshold in 0-100.
    pub fn new(threshold: f64) -> Result<Self, String> {
        if threshold.is_finite() && (0.0..=100.0).contains(&threshold) {
            Ok(Sensitivity(threshold))
        } else {
            Err(format!(
                "sensitivity threshold {threshold} is outside 0-100"
            ))
        }
    }

    /// The threshold.
    pub fn get(self) -> f64 {
        self.0
    }
}

/// Parameters of the model for one frequency.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// Interval length in seconds.
    pub step: i64,
    /// The long season in intervals (a week, or a week of days).
    pub season: usize,
    /// The short season in intervals (a day; 1 for daily data).
    pub short_season: usize,
    /// How many past seasons the baseline looks at.
    pub cycles: usize,
    /// The yearly season in intervals: 52 weeks of days for daily data, so weekdays line up
    /// (0: none).
    pub year: usize,
    /// Residuals kept for the level correction.
    pub level_window: usize,
    /// Residuals kept for the scale.
    pub scale_window: usize,
    /// Points observed before the model scores (LEARNING until then).
    pub warmup: usize,
    /// Severity from which a point is anomalous.
    pub threshold: Sensitivity,
    /// Smallest scale, relative to the expected value's magnitude.
    pub relative_floor: f64,
    /// How the noise grows with the level: 0 constant, 0.5 like counts, 1 proportional.
    pub variance_power: f64,
    /// The scale is at least the deviation at this quantile over its normal value, so
    /// heavy-tailed series do not alarm on their ordinary large moves.
    pub tail_quantile: f64,
    tail_z: f64,
    z_band: f64,
}

impl EngineConfig {
    /// The defaults for a frequency: warm-up as long as the old service's cold start.
    pub fn for_frequency(frequency: Frequency) -> Self {
        let (season, short_season, scale_window) = match frequency {
            Frequency::Pt5m => (2016, 288, 576),
            Frequency::Pt10m => (1008, 144, 432),
            Frequency::Pt1h => (168, 24, 168),
            Frequency::P1d => (7, 1, 28),
        };
        EngineConfig {
            step: frequency.seconds(),
            season,
            short_season,
            cycles: 4,
            year: if frequency == Frequency::P1d { 364 } else { 0 },
            level_window: short_season.max(7),
            scale_window,
            warmup: frequency.cold_start_intervals(),
            threshold: Sensitivity::DEFAULT,
            relative_floor: 0.005,
            variance_power: 0.5,
            tail_quantile: 0.95,
            tail_z: two_sided_z(0.95),
            z_band: z_for_severity(Sensitivity::DEFAULT.get()),
        }
    }

    /// The defaults for data every `step` seconds (any step, not only the API's frequencies):
    /// a day and a week of intervals as seasons, capped for very short steps.
    pub fn for_step(step: i64) -> Self {
        let step = step.max(1);
        let frequency = match step {
            ..=450 => Frequency::Pt5m,
            451..=1800 => Frequency::Pt10m,
            1801..=43_200 => Frequency::Pt1h,
            _ => Frequency::P1d,
        };
        let mut config = EngineConfig::for_frequency(frequency);
        if frequency != Frequency::P1d {
            let day = ((86_400 / step) as usize).clamp(2, 2_880);
            config.short_season = day;
            config.season = day * 7;
            config.level_window = day.max(7);
            config.scale_window = (day * 2).clamp(28, 1_000);
        }
        if step != 86_400 {
            // Yearly seasons are counted in days.
            config.year = 0;
        }
        config.step = step;
        config
    }

    /// The same model with another detection threshold.
    pub fn with_threshold(mut self, threshold: Sensitivity) -> Self {
        self.threshold = threshold;
        self.z_band = z_for_severity(threshold.get());
        self
    }

    /// The same model with another tail quantile (0.5-0.999) for its scale.
    pub fn with_tail_quantile(mut self, quantile: f64) -> Self {
        self.tail_quantile = quantile.clamp(0.5, 0.999);
        self.tail_z = two_sided_z(self.tail_quantile);
        self
    }

    /// The same model with another warm-up length.
    pub fn with_warmup(mut self, warmup: usize) -> Self {
        self.warmup = warmup;
        self
    }

    /// The deviation, in sigmas, at which the band is drawn (the threshold's deviation).
    pub fn band_sigmas(&self) -> f64 {
        self.z_band
    }

    fn history(&self) -> usize {
        self.season * self.cycles
    }

    /// Departures kept for the yearly season: back to the weeks before a year ago.
    fn yearly_history(&self) -> usize {
        if self.year == 0 {
            1
        } else {
            self.year + YEAR_USUAL.end() + 1
        }
    }
}

/// Whether the value is above or below what was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Above the band.
    Spike,
    /// Below the band.
    Drop,
}

/// The verdict on one point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scored {
    /// The value observed.
    pub value: f64,
    /// What the model expected.
    pub expected: f64,
    /// Lower edge of the normal band.
    pub lower: f64,
    /// Upper edge of the normal band.
    pub upper: f64,
    /// Deviation in robust sigmas (signed).
    pub z: f64,
    /// The robust sigma: the scale of this point's normal deviation.
    pub sigma: f64,
    /// Severity 0-100 (0 while learning).
    pub severity: f64,
    /// Spike or drop.
    pub direction: Direction,
    /// Whether the model is still learning (not enough history to judge).
    pub learning: bool,
    /// Whether the point is anomalous (never while learning).
    pub anomalous: bool,
}

impl Scored {
    /// The anomaly score in 0-1.
    pub fn score(&self) -> f64 {
        self.severity / 100.0
    }
}

/// `2^e`, exactly, for the exponents a ring uses (-1000..=1000), without a call to `powi`
/// (decoding is on every point's path).
fn power_of_two(e: i32) -> f64 {
    f64::from_bits(((1023 + i64::from(e.clamp(-1022, 1023))) as u64) << 52)
}

/// A fixed-capacity ring of recent values, stored compactly: each value is kept as an `f32` of
/// the value over a power of two fixed by the ring's first non-zero value, so huge or tiny
/// series keep their seven significant digits. Missing values are NaN.
#[derive(Debug, Clone, Default)]
struct Ring {
    buf: Vec<f32>,
    cap: usize,
    head: usize,
    /// The power of two values are stored over (`None` until the first non-zero value).
    exponent: Option<i32>,
}

impl Ring {
    fn new(cap: usize) -> Self {
        Ring {
            buf: Vec::new(),
            cap: cap.max(1),
            head: 0,
            exponent: None,
        }
    }

    fn encode(&mut self, v: f64) -> f32 {
        if v.is_nan() {
            return f32::NAN;
        }
        if self.exponent.is_none() && v != 0.0 && v.is_finite() {
            self.exponent = Some((v.abs().log2().floor() as i32).clamp(-1000, 1000));
        }
        let scaled = v * power_of_two(-self.exponent.unwrap_or(0));
        scaled.clamp(f64::from(f32::MIN), f64::from(f32::MAX)) as f32
    }

    fn decode(&self, v: f32) -> f64 {
        f64::from(v) * power_of_two(self.exponent.unwrap_or(0))
    }

    fn push(&mut self, v: f64) {
        let stored = self.encode(v);
        if self.buf.len() < self.cap {
            self.buf.push(stored);
        } else {
            self.buf[self.head] = stored;
            self.head = (self.head + 1) % self.cap;
        }
    }

    fn index(&self, lag: usize) -> Option<usize> {
        let n = self.buf.len();
        if lag == 0 || lag > n {
            return None;
        }
        Some(if n < self.cap {
            n - lag
        } else {
            (self.head + self.cap - lag) % self.cap
        })
    }

    /// The value `lag` pushes ago (1 = the latest).
    fn lag(&self, lag: usize) -> Option<f64> {
        let v = self.buf[self.index(lag)?];
        (!v.is_nan()).then(|| self.decode(v))
    }

    /// Holds up to `cap` values from now on (never fewer than it holds), keeping them.
    fn grow(&mut self, cap: usize) {
        if cap > self.cap {
            self.buf = self.ordered().collect();
            self.head = 0;
            self.cap = cap;
        }
    }

    /// Forgets the value `lag` pushes ago.
    fn forget(&mut self, lag: usize) {
        if let Some(i) = self.index(lag) {
            self.buf[i] = f32::NAN;
        }
    }

    /// The stored values, oldest first.
    fn ordered(&self) -> impl Iterator<Item = f32> + '_ {
        let (newer, older) = self.buf.split_at(self.head);
        older.iter().chain(newer).copied()
    }

    /// The values present, oldest first.
    fn finite(&self) -> impl Iterator<Item = f64> + '_ {
        let factor = power_of_two(self.exponent.unwrap_or(0));
        self.ordered()
            .filter(|v| !v.is_nan())
            .map(move |v| f64::from(v) * factor)
    }

    fn from_parts(
        cap: usize,
        exponent: Option<i32>,
        values: impl IntoIterator<Item = f32>,
    ) -> Option<Ring> {
        let buf: Vec<f32> = values.into_iter().collect();
        (cap > 0 && buf.len() <= cap).then_some(Ring {
            buf,
            cap,
            head: 0,
            exponent,
        })
    }
}

impl PartialEq for Ring {
    /// Equal when they hold the same values in the same order (missing equals missing).
    fn eq(&self, other: &Self) -> bool {
        self.cap == other.cap
            && self.buf.len() == other.buf.len()
            && self
                .finite()
                .zip(other.finite())
                .all(|(a, b)| a.to_bits() == b.to_bits())
            && self
                .ordered()
                .map(f32::is_nan)
                .eq(other.ordered().map(f32::is_nan))
    }
}

/// The ring as stored in JSON: oldest first, missing as null.
#[derive(Serialize, Deserialize)]
struct RingRepr {
    cap: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exponent: Option<i32>,
    values: Vec<Option<f32>>,
}

impl Serialize for Ring {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        RingRepr {
            cap: self.cap,
            exponent: self.exponent,
            values: self.ordered().map(|v| (!v.is_nan()).then_some(v)).collect(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Ring {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let repr = RingRepr::deserialize(d)?;
        Ring::from_parts(
            repr.cap,
            repr.exponent,
            repr.values.into_iter().map(|v| v.unwrap_or(f32::NAN)),
        )
        .ok_or_else(|| serde::de::Error::custom("ring holds more values than its capacity"))
    }
}

/// The predictors the engine chooses from: the seasonal baseline with its level correction,
/// the median of the same time of day over the last week, the median of the last few values.
const PREDICTORS: usize = 3;

/// The deviation (in sigmas, after feedback) from which a point is kept out of the seasonal
/// history: the default threshold's.
const OUTLIER_Z: f64 = 4.6;

/// How far (in sigmas) a clear outlier's residual counts in the scale.
const OUTLIER_SCALE_CLIP: f64 = 3.0;
/// A value beyond this many times the series' typical magnitude (at least 1) is absurd: an
/// overflowed counter, or a placeholder for "missing" such as the largest double.
const ABSURD: f64 = 1e6;
/// An absurd value moves the series' typical magnitude toward this many times itself instead
/// (as one average of the memory: about 1.6 times per hourly point), so a sustained change of
/// units stops being absurd within tens of points and is learned.
const ABSURD_PULL: f64 = 100.0;

/// Values the recent-level predictor takes the median of.
const RECENT: usize = 8;

/// Days around a year ago (beyond [`EngineConfig::year`]) whose departure is last year's.
const YEAR_AROUND: std::ops::RangeInclusive<usize> = 0..=2;

/// Days before a year ago whose departures were usual then (four weeks, ending two before).
const YEAR_USUAL: std::ops::RangeInclusive<usize> = 14..=41;

/// How far (in sigmas) last year's departure must stand out to be expected again.
const YEAR_CLEAR: f64 = 3.0;

/// The newest state layout: 2 added the yearly departures. A state without them (anything but
/// daily data) is still written as layout 1, which earlier builds read.
pub const STATE_VERSION: u16 = 2;

/// The model state of one series: everything needed to score its next point. Read from JSON
/// or bytes, it is checked as [`SeriesState::from_bytes`] checks it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "UncheckedState")]
pub struct SeriesState {
    version: u16,
    last: Option<i64>,
    observed: u64,
    values: Ring,
    level: Ring,
    scale: Ring,
    /// Each day's relative departure from its weekly baseline, for the yearly season (daily
    /// data only; outliers included, since a holiday is an outlier the first year).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    yearly: Option<Ring>,
    /// Exponentially weighted mean absolute error of each predictor: the engine follows
    /// whichever has been right lately.
    errors: [f64; PREDICTORS],
    /// Exponentially weighted mean of |value|: the series' typical magnitude.
    typical: f64,
    /// Per direction (spike, drop), the factor deviations are divided by before they are
    /// judged: raised by "not an anomaly" feedback (1 = no feedback).
    tolerance: [f64; 2],
    /// The level correction and the residual spread (before weighting), recomputed from their
    /// rings every few points (every point for hourly data), and the points since.
    cached: Cached,
    /// Whether the series has taken a negative value: such a series is not count-like, and its
    /// noise is not weighted by its level (a series that crosses zero would get a tiny band
    /// there).
    signed: bool,
}

/// Refuses a state layout this build does not read.
fn readable_version(version: u16) -> Result<(), StateError> {
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
struct Cached {
    level: f64,
    spread: Option<f64>,
    level_age: u32,
    spread_age: u32,
}

/// The layout a state is written in: 2 when it holds yearly departures, else 1.
fn layout(yearly: &Option<Ring>) -> u16 {
    if yearly.is_some() { 2 } else { 1 }
}

fn no_tolerance() -> [f64; 2] {
    [1.0, 1.0]
}

/// Feedback on one scored point (the API's `PutFeedback`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Feedback {
    /// Start of the interval the feedback is about.
    pub time: i64,
    /// The deviation the engine reported for it ([`Scored::z`]).
    pub z: f64,
    /// Whether the user says it was an anomaly.
    pub is_anomaly: bool,
}

/// What scoring learned that folding needs.
#[derive(Debug, Clone, Copy)]
struct Step {
    seasonal: f64,
    /// The weekly baseline (NaN when history was too short for one): departures from it are
    /// remembered for the yearly season. And the yearly shift the value followed (0 if none).
    weekly: f64,
    yearly: f64,
    weight: f64,
    predictions: [f64; PREDICTORS],
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

    /// Scores the value of the interval starting at `time` using only the past, then folds it
    /// into the state. A missing (`None`) or non-finite value advances time without learning.
    /// A time not after the last one observed changes nothing and returns `None`, so replaying
    /// an interval is harmless.
    pub fn observe(
        &mut self,
        config: &EngineConfig,
        time: i64,
        value: Option<f64>,
    ) -> Option<Scored> {
        if let Some(last) = self.last {
            let steps = (time.saturating_sub(last) as f64 / config.step as f64).round();
            if steps < 1.0 {
                return None;
            }
            let gap = steps as usize - 1;
            // Missing intervals keep their place within a season; whole seasons missing are
            // left out of the seasonal history, so the seasons before a long gap stand for the
            // ones just before it ended (in phase: nothing newer is known) instead of leaving
            // the series without a baseline. The yearly departures keep their dates.
            let seasonal_gap = if gap >= config.season.max(1) {
                gap % config.season.max(1)
            } else {
                gap
            };
            for _ in 0..seasonal_gap {
                self.values.push(f64::NAN);
            }
            self.push_departures(config, f64::NAN, gap);
        }
        self.last = Some(time);
        let Some(x) = value.filter(|v| v.is_finite()) else {
            self.push_values(config, f64::NAN, f64::NAN);
            return None;
        };
        let (scored, step) = self.score(config, x);
        self.fold(config, x, step, &scored);
        Some(scored)
    }

    /// Pushes one interval's value into the seasonal history and its departure from the weekly
    /// baseline into the yearly one (daily data; a state from before yearly seasons grows its
    /// ring here).
    fn push_values(&mut self, config: &EngineConfig, value: f64, departure: f64) {
        self.values.push(value);
        self.push_departures(config, departure, 1);
    }

    /// Pushes a departure `count` times (at most a ring's worth) into the yearly history, for
    /// daily data.
    fn push_departures(&mut self, config: &EngineConfig, departure: f64, count: usize) {
        if config.year > 0 {
            let cap = config.yearly_history();
            let ring = self.yearly.get_or_insert_with(|| Ring::new(cap));
            ring.grow(cap);
            for _ in 0..count.min(cap) {
                ring.push(departure);
            }
            self.version = layout(&self.yearly);
        }
    }

    /// How far (relatively) this date last year (the median of 364-366 days ago) was off its
    /// weekly baseline, beyond the usual departure in the weeks before, when clearly so (by
    /// more than [`YEAR_CLEAR`] sigmas at today's baseline): a yearly season expected again. 0
    /// without a year of history.
    fn yearly_shift(&self, config: &EngineConfig, seasonal: f64) -> f64 {
        let Some(ring) = self
            .yearly
            .as_ref()
            .filter(|_| config.year > 0 && seasonal > 0.0)
        else {
            return 0.0;
        };
        // Most of the days must be known: a median of one or two is noise.
        let median_of_most = |days: std::ops::RangeInclusive<usize>| {
            let mut few = Few::default();
            let wanted = days.clone().count() / 2 + 1;
            few.extend(days.filter_map(|d| ring.lag(config.year + d)));
            if few.len >= wanted {
                median(few.as_mut())
            } else {
                None
            }
        };
        let (Some(then), Some(usual)) = (median_of_most(YEAR_AROUND), median_of_most(YEAR_USUAL))
        else {
            return 0.0;
        };
        let shift = ((1.0 + then) / (1.0 + usual).max(0.1) - 1.0).max(-0.9);
        let expected = seasonal + self.cached.level;
        let sigma = self.sigma(config, expected, self.weight(config, expected));
        if (shift * seasonal).abs() > YEAR_CLEAR * sigma {
            shift
        } else {
            0.0
        }
    }

    /// The seasonal baseline, and whether it is the weekly one (not a fallback).
    fn baseline(&self, config: &EngineConfig) -> Option<(f64, bool)> {
        let lags = (1..=config.cycles).filter_map(|k| self.values.lag(k * config.season));
        if let Some(m) = median_of(lags) {
            return Some((m, true));
        }
        if config.short_season > 1 {
            let daily = (1..=7).filter_map(|k| self.values.lag(k * config.short_season));
            let mut few = Few::default();
            few.extend(daily);
            if few.len >= 3 {
                return median(few.as_mut()).map(|m| (m, false));
            }
        }
        let mut recent: Vec<f64> = (1..=config.short_season.max(8))
            .filter_map(|k| self.values.lag(k))
            .collect();
        median(&mut recent).map(|m| (m, false))
    }

    /// The verdict, the seasonal baseline and the residual weight it used.
    fn score(&self, config: &EngineConfig, x: f64) -> (Scored, Step) {
        let learning = (self.observed as usize) < config.warmup || self.scale.buf.len() < 3;
        let Some((seasonal, is_weekly)) = self.baseline(config) else {
            let first = Scored {
                value: x,
                expected: x,
                lower: x,
                upper: x,
                z: 0.0,
                sigma: 0.0,
                severity: 0.0,
                direction: Direction::Spike,
                learning: true,
                anomalous: false,
            };
            let step = Step {
                seasonal: x,
                weekly: f64::NAN,
                yearly: 0.0,
                weight: 1.0,
                predictions: [x; PREDICTORS],
            };
            return (first, step);
        };
        let seasonal_expected = seasonal + self.cached.level;
        let recent = (1..=RECENT).filter_map(|k| self.values.lag(k));
        let recent_expected = median_of(recent).unwrap_or(seasonal_expected);
        let daily = (1..=7).filter_map(|k| self.values.lag(k * config.short_season));
        let daily_expected = median_of(daily).unwrap_or(seasonal_expected);
        let predictions = [seasonal_expected, daily_expected, recent_expected];
        let best = (1..PREDICTORS).fold(0, |best, i| {
            if self.errors[i] < self.errors[best] {
                i
            } else {
                best
            }
        });
        // The yearly season: what last year's departure around this date implies is a second
        // expectation, as normal as the usual one; the value is judged against the nearer.
        let shift = if is_weekly {
            self.yearly_shift(config, seasonal)
        } else {
            0.0
        };
        let usual = predictions[best];
        let yearly_expected = seasonal * (1.0 + shift) + self.cached.level;
        let followed = shift != 0.0 && (x - yearly_expected).abs() < (x - usual).abs();
        let expected = if followed { yearly_expected } else { usual };
        let (low, high) = if shift != 0.0 {
            (usual.min(yearly_expected), usual.max(yearly_expected))
        } else {
            (expected, expected)
        };
        let weight = self.weight(config, expected);
        let sigma = self.sigma(config, expected, weight);
        let z = (x - expected) / sigma;
        let judged = z / self.tolerance[usize::from(z < 0.0)];
        let severity = if learning { 0.0 } else { severity(judged) };
        let half = config.z_band * sigma;
        let scored = Scored {
            value: x,
            expected,
            lower: low - half,
            upper: high + half,
            z,
            sigma,
            severity,
            direction: if z >= 0.0 {
                Direction::Spike
            } else {
                Direction::Drop
            },
            learning,
            anomalous: !learning && severity >= config.threshold.get(),
        };
        let yearly = if followed { shift } else { 0.0 };
        // The seasonal predictor is judged by the expectation the value followed, so a season
        // expected again does not hand the series to the other predictors.
        let mut predictions = predictions;
        if followed {
            predictions[0] = yearly_expected;
        }
        let step = Step {
            seasonal: seasonal * (1.0 + yearly),
            weekly: if is_weekly { seasonal } else { f64::NAN },
            yearly,
            weight,
            predictions,
        };
        (scored, step)
    }

    /// How the noise scales with the level: residuals are divided by `(|e| + ref)^p`, `ref` a
    /// tenth of the series' typical magnitude, so a busy hour may deviate more than a quiet one
    /// (counts vary like the square root of their level when `p = 0.5`).
    fn weight(&self, config: &EngineConfig, expected: f64) -> f64 {
        if config.variance_power == 0.0 || self.signed {
            return 1.0;
        }
        let typical = if self.observed > 0 {
            self.typical
        } else {
            expected.abs()
        };
        let reference = (0.1 * typical).max(1e-9);
        (expected.abs() + reference).powf(config.variance_power)
    }

    fn sigma(&self, config: &EngineConfig, expected: f64, weight: f64) -> f64 {
        let floor = (config.relative_floor * expected.abs()).max(1e-9);
        match self.cached.spread {
            Some(spread) => (spread * weight).max(floor),
            None => floor,
        }
    }

    /// The spread of the (weighted) residuals: 1.4826 x their median absolute deviation, at
    /// least what their tail quantile implies.
    fn spread(&self, config: &EngineConfig) -> Option<f64> {
        let mut r: Vec<f64> = self.scale.finite().collect();
        let center = median(&mut r)?;
        let mut dev: Vec<f64> = r.iter().map(|v| (v - center).abs()).collect();
        let mad = median(&mut dev).unwrap_or(0.0) * 1.4826;
        let sigma = if mad > 0.0 {
            mad
        } else {
            // More than half the residuals are identical: use the mean absolute deviation.
            dev.iter().sum::<f64>() / dev.len() as f64 * 1.2533
        };
        // Heavy tails: the scale is at least what the tail quantile of the deviations implies.
        if dev.len() >= 10 {
            let k = ((dev.len() as f64 * config.tail_quantile) as usize).min(dev.len() - 1);
            let (_, tail, _) = dev.select_nth_unstable_by(k, f64::total_cmp);
            return Some(sigma.max(*tail / config.tail_z));
        }
        Some(sigma)
    }

    fn fold(&mut self, config: &EngineConfig, x: f64, step: Step, scored: &Scored) {
        let Step {
            seasonal,
            weekly,
            yearly,
            weight,
            predictions,
        } = step;
        // An absurd value is scored but learned as missing, so one cannot poison the history
        // (a single largest double once kept a series alarming for weeks); it only pulls the
        // typical magnitude (see [`ABSURD_PULL`]).
        // The first values too (the typical magnitude starts at 0, so a series of billions
        // learns from its third or fourth value on).
        let absurd = x.abs() > ABSURD * self.typical.max(1.0);
        self.observed = self.observed.saturating_add(1);
        self.signed |= x < 0.0 && !absurd;
        let memory = (config.short_season * 7).max(28) as f64;
        let magnitude = if absurd {
            ABSURD_PULL * self.typical.max(1.0)
        } else {
            x.abs()
        };
        self.typical += (magnitude - self.typical) / (self.observed as f64).min(memory);
        // A clear outlier is kept out of the seasonal history (as "is an anomaly" feedback
        // does), so one bad week does not shape what that hour is expected to be for four; the
        // level correction still sees it, so a sustained shift is followed. Only a first one:
        // when the same phase a season (or a day) ago was itself kept out, the pattern repeats
        // and is learned, so a new daily or weekly peak stops alarming.
        let judged = scored.z / self.tolerance[usize::from(scored.z < 0.0)];
        let repeats = || {
            self.values.lag(config.season).is_none()
                || (config.short_season > 1 && self.values.lag(config.short_season).is_none())
        };
        let outlier = absurd || (!scored.learning && judged.abs() >= OUTLIER_Z && !repeats());
        // Which predictor has been right lately is judged on ordinary points: a few days every
        // predictor misses (a promotion over a weekend) must not hand the series to whichever
        // missed them least.
        if !outlier {
            let alpha = 1.0 / config.short_season.max(7) as f64;
            for (e, p) in self.errors.iter_mut().zip(predictions) {
                *e += alpha * ((x - p).abs() / weight - *e);
                if !e.is_finite() {
                    *e = f64::MAX;
                }
            }
        }
        // The weekly history keeps the value with the yearly season taken out, so a season
        // expected again does not raise the weeks after it.
        let departure = if weekly > 0.0 && !absurd {
            x / weekly - 1.0
        } else {
            f64::NAN
        };
        let value = if outlier {
            f64::NAN
        } else {
            x / (1.0 + yearly)
        };
        self.push_values(config, value, departure);
        if absurd {
            self.level.push(f64::NAN);
            self.scale.push(f64::NAN);
            return;
        }
        self.level.push(x - seasonal);
        // Anomalies must not widen the band: clip their residual at its edge, and a clear
        // outlier's at 3 sigma (an incident of a few hours is more than the 5% of a week the
        // tail quantile allows, and would otherwise double the band for a week after it).
        let half = if outlier {
            OUTLIER_SCALE_CLIP * scored.sigma
        } else {
            config.z_band * scored.sigma
        };
        let residual = x - scored.expected;
        let clipped = if half > 0.0 && !scored.learning {
            residual.clamp(-half, half)
        } else {
            residual
        };
        self.scale.push(clipped / weight);
        // Refresh the cached level and spread: every point for windows of a day of hourly data,
        // about 24 times per window for longer ones.
        let c = &mut self.cached;
        c.level_age = c.level_age.saturating_add(1);
        if c.level_age as usize >= (config.level_window / 24).max(1) {
            let mut level = Few::default();
            level.extend(self.level.finite());
            c.level = if level.len >= 3 {
                median(level.as_mut()).unwrap_or(0.0)
            } else {
                0.0
            };
            c.level_age = 0;
        }
        c.spread_age = c.spread_age.saturating_add(1);
        if c.spread.is_none() || c.spread_age as usize >= (config.scale_window / 24).max(1) {
            let spread = self.spread(config);
            let c = &mut self.cached;
            c.spread = spread;
            c.spread_age = 0;
        }
    }
}

impl SeriesState {
    /// Applies feedback on a point scored earlier. "Not an anomaly" makes deviations in the same
    /// direction up to that size judged as normal from now on (larger ones still alarm); "is an
    /// anomaly" takes the point out of the seasonal history, so it does not shape what later
    /// intervals are expected to be. Giving the same feedback twice changes nothing more.
    pub fn feedback(&mut self, config: &EngineConfig, feedback: Feedback) {
        if !feedback.z.is_finite() {
            return;
        }
        if feedback.is_anomaly {
            if let Some(last) = self.last {
                let lag = (last.saturating_sub(feedback.time) as f64 / config.step as f64).round();
                if lag >= 0.0 {
                    self.values.forget(lag as usize + 1);
                    if let Some(yearly) = self.yearly.as_mut() {
                        yearly.forget(lag as usize + 1);
                    }
                }
            }
        } else {
            // The deviation marked normal is judged a tenth below the band from now on.
            let direction = usize::from(feedback.z < 0.0);
            let needed = feedback.z.abs() / (0.9 * config.z_band);
            self.tolerance[direction] = self.tolerance[direction].max(needed).min(MAX_TOLERANCE);
        }
    }
}

/// A stored state that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("model state cannot be read: {0}")]
pub struct StateError(String);

const MAGIC: &[u8; 4] = b"SMS\0";

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], StateError> {
        if self.0.len() < N {
            return Err(StateError("truncated".into()));
        }
        let (head, rest) = self.0.split_at(N);
        self.0 = rest;
        head.try_into().map_err(|_| StateError("truncated".into()))
    }
    fn u32(&mut self) -> Result<u32, StateError> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn i64(&mut self) -> Result<i64, StateError> {
        Ok(i64::from_le_bytes(self.take()?))
    }
    fn f64(&mut self) -> Result<f64, StateError> {
        Ok(f64::from_le_bytes(self.take()?))
    }
    fn ring(&mut self) -> Result<Ring, StateError> {
        let cap = self.u32()? as usize;
        let exponent = i32::from_le_bytes(self.take()?);
        let len = self.u32()? as usize;
        if len > cap || self.0.len() < len * 4 {
            return Err(StateError("ring larger than its data".into()));
        }
        let mut values = Vec::with_capacity(len);
        for _ in 0..len {
            values.push(f32::from_le_bytes(self.take()?));
        }
        Ring::from_parts(cap, (exponent != i32::MIN).then_some(exponent), values)
            .ok_or_else(|| StateError("ring has no capacity".into()))
    }
}

impl SeriesState {
    /// The state as compact bytes: little-endian numbers and `f32` ring values (about 3.6 KB
    /// for an hourly series with daily and weekly cycles).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            76 + 4
                * (self.values.buf.len()
                    + self.level.buf.len()
                    + self.scale.buf.len()
                    + self.yearly.as_ref().map_or(0, |r| r.buf.len())),
        );
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&layout(&self.yearly).to_le_bytes());
        out.push(u8::from(self.last.is_some()) | (u8::from(self.signed) << 1));
        out.extend_from_slice(&self.last.unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&self.observed.to_le_bytes());
        let c = &self.cached;
        let spread = c.spread.unwrap_or(f64::NAN);
        for v in self
            .errors
            .iter()
            .chain([&self.typical])
            .chain(&self.tolerance)
            .chain([&c.level, &spread])
        {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&c.level_age.to_le_bytes());
        out.extend_from_slice(&c.spread_age.to_le_bytes());
        let rings = [&self.values, &self.level, &self.scale];
        for ring in rings.into_iter().chain(self.yearly.as_ref()) {
            out.extend_from_slice(&(ring.cap as u32).to_le_bytes());
            out.extend_from_slice(&ring.exponent.unwrap_or(i32::MIN).to_le_bytes());
            out.extend_from_slice(&(ring.buf.len() as u32).to_le_bytes());
            for v in ring.ordered() {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    /// Reads bytes written by [`SeriesState::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<SeriesState, StateError> {
        let mut r = Reader(bytes);
        if &r.take::<4>()? != MAGIC {
            return Err(StateError("not a Seismo model state".into()));
        }
        let version = u16::from_le_bytes(r.take()?);
        readable_version(version)?;
        let flags = r.take::<1>()?[0];
        if flags > 3 {
            return Err(StateError("unknown flags".into()));
        }
        let (has_last, signed) = (flags & 1 == 1, flags & 2 == 2);
        let last = r.i64()?;
        let observed = u64::from_le_bytes(r.take()?);
        let errors = [r.f64()?, r.f64()?, r.f64()?];
        let typical = r.f64()?;
        let tolerance = [r.f64()?, r.f64()?];
        let (cached_level, spread) = (r.f64()?, r.f64()?);
        let cached = Cached {
            level: cached_level,
            spread: (!spread.is_nan()).then_some(spread),
            level_age: r.u32()?,
            spread_age: r.u32()?,
        };
        let (values, level, scale) = (r.ring()?, r.ring()?, r.ring()?);
        let yearly = if version >= 2 { Some(r.ring()?) } else { None };
        if !r.0.is_empty() {
            return Err(StateError("trailing bytes".into()));
        }
        SeriesState {
            version: layout(&yearly),
            last: has_last.then_some(last),
            observed,
            values,
            level,
            scale,
            yearly,
            errors,
            typical,
            tolerance,
            cached,
            signed,
        }
        .checked()
    }
}

impl SeriesState {
    /// Refuses a state whose numbers could not come from the engine (stored bytes may be
    /// damaged or forged): every later step stays finite and within bounds.
    fn checked(self) -> Result<SeriesState, StateError> {
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
const MAX_TOLERANCE: f64 = 20.0;

/// Up to [`FEW`] values on the stack: the medians on every point's path (a few past seasons,
/// the last values, a day of hourly level corrections) need no allocation.
const FEW: usize = 32;

#[derive(Default)]
struct Few {
    values: [f64; FEW],
    len: usize,
    /// Values beyond [`FEW`] (a configuration with many cycles).
    more: Vec<f64>,
}

impl Few {
    fn extend(&mut self, values: impl Iterator<Item = f64>) {
        for v in values {
            if self.len < FEW {
                self.values[self.len] = v;
                self.len += 1;
            } else {
                if self.more.is_empty() {
                    self.more.extend_from_slice(&self.values);
                }
                self.more.push(v);
            }
        }
    }

    fn as_mut(&mut self) -> &mut [f64] {
        if self.more.is_empty() {
            &mut self.values[..self.len]
        } else {
            &mut self.more
        }
    }
}

/// Median of the values; `None` when there are none.
fn median_of(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut few = Few::default();
    few.extend(values);
    median(few.as_mut())
}

/// Median of the values (reorders them); `None` when empty.
fn median(v: &mut [f64]) -> Option<f64> {
    let n = v.len();
    if n == 0 {
        return None;
    }
    let mid = n / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *m;
    if n % 2 == 1 {
        return Some(upper);
    }
    let lower = v[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some((lower + upper) / 2.0)
}

/// Natural log of erfc(x) for x >= 0, without underflow (Numerical Recipes' erfcc, relative
/// error below 1.2e-7 everywhere).
pub fn ln_erfc(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.5 * x);
    let poly = -x * x - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    t.ln() + poly
}

/// Severity 0-100 of a deviation of `z` sigmas: `100 (1 - exp(-nines / 8))` with
/// `nines = -log10 P(|Z| >= |z|)`.
pub fn severity(z: f64) -> f64 {
    if !z.is_finite() {
        return 100.0;
    }
    let nines = -ln_erfc(z.abs() / std::f64::consts::SQRT_2) / std::f64::consts::LN_10;
    (100.0 * (1.0 - (-nines.max(0.0) / 8.0).exp())).clamp(0.0, 100.0)
}

/// The `z` with `P(|Z| <= z) = q` for a standard normal `Z` (bisection).
fn two_sided_z(q: f64) -> f64 {
    let (mut lo, mut hi) = (0.0_f64, 10.0_f64);
    for _ in 0..100 {
        let mid = (lo + hi) / 2.0;
        if 1.0 - ln_erfc(mid / std::f64::consts::SQRT_2).exp() < q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// The deviation in sigmas whose severity is `target` (bisection; 0 for 0).
pub fn z_for_severity(target: f64) -> f64 {
    if target <= 0.0 {
        return 0.0;
    }
    let (mut lo, mut hi) = (0.0_f64, 40.0_f64);
    for _ in 0..100 {
        let mid = (lo + hi) / 2.0;
        if severity(mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600;

    /// A deterministic hourly series with daily and weekly cycles and small noise.
    fn seasonal(t: usize) -> f64 {
        let hour = (t % 24) as f64;
        let weekday = (t / 24) % 7;
        let daily = 100.0 + 60.0 * (std::f64::consts::TAU * (hour - 6.0) / 24.0).sin();
        let weekly = if weekday >= 5 { 0.7 } else { 1.0 };
        // Uniform noise in +-2 from a splitmix64 hash of t: repeatable, without structure.
        let mut z = (t as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let noise = (z >> 11) as f64 / (1u64 << 53) as f64 * 4.0 - 2.0;
        daily * weekly + noise
    }

    fn run(values: impl IntoIterator<Item = Option<f64>>) -> (SeriesState, Vec<Option<Scored>>) {
        let config = EngineConfig::for_frequency(Frequency::Pt1h);
        let mut state = SeriesState::new(&config);
        let out = values
            .into_iter()
            .enumerate()
            .map(|(i, v)| state.observe(&config, i as i64 * H, v))
            .collect();
        (state, out)
    }

    #[test]
    fn medians_on_the_stack_and_beyond_it_agree() {
        for n in [0usize, 1, 2, 7, 31, 32, 33, 100] {
            let values: Vec<f64> = (0..n).map(|i| ((i * 37) % 101) as f64).collect();
            let mut sorted = values.clone();
            assert_eq!(median_of(values.into_iter()), median(&mut sorted), "{n}");
        }
    }

    #[test]
    fn powers_of_two_are_exact() {
        for e in [-1000, -53, -1, 0, 1, 10, 52, 1000] {
            assert_eq!(power_of_two(e), 2f64.powi(e), "{e}");
        }
    }

    #[test]
    fn severity_is_monotone_and_bounded() {
        let cases = [
            (0.0, 0.0, 1.0),
            (3.0, 20.0, 35.0),
            (4.6, 48.0, 52.0),
            (6.0, 60.0, 70.0),
            (12.0, 98.0, 100.0),
        ];
        for (z, lo, hi) in cases {
            let s = severity(z);
            assert!(s >= lo && s <= hi, "severity({z}) = {s}");
            assert_eq!(severity(-z), s, "symmetric");
        }
        assert_eq!(severity(f64::INFINITY), 100.0);
        assert!((severity(z_for_severity(50.0)) - 50.0).abs() < 1e-6);
    }

    #[test]
    fn named_edge_cases() {
        struct Case {
            name: &'static str,
            values: Vec<Option<f64>>,
            want_anomalies: usize,
        }
        let n = 24 * 7 * 6;
        let cases = vec![
            Case {
                name: "empty",
                values: vec![],
                want_anomalies: 0,
            },
            Case {
                name: "one point",
                values: vec![Some(5.0)],
                want_anomalies: 0,
            },
            Case {
                name: "flat",
                values: vec![Some(42.0); n],
                want_anomalies: 0,
            },
            Case {
                name: "flat zero",
                values: vec![Some(0.0); n],
                want_anomalies: 0,
            },
            Case {
                name: "all NaN",
                values: vec![Some(f64::NAN); n],
                want_anomalies: 0,
            },
            Case {
                name: "all missing",
                values: vec![None; n],
                want_anomalies: 0,
            },
            Case {
                name: "huge values",
                values: (0..n).map(|t| Some(seasonal(t) * 1e300)).collect(),
                want_anomalies: 0,
            },
            Case {
                name: "seasonal, clean",
                values: (0..n).map(|t| Some(seasonal(t))).collect(),
                want_anomalies: 0,
            },
            Case {
                name: "seasonal with one spike",
                values: (0..n)
                    .map(|t| Some(seasonal(t) + if t == n - 30 { 150.0 } else { 0.0 }))
                    .collect(),
                want_anomalies: 1,
            },
            Case {
                name: "seasonal with the largest double once, mid-history",
                values: (0..n)
                    .map(|t| Some(if t == n / 2 { f64::MAX } else { seasonal(t) }))
                    .collect(),
                want_anomalies: 1,
            },
            Case {
                name: "seasonal with 1e45 once, mid-history",
                values: (0..n)
                    .map(|t| Some(if t == n / 2 { 1e45 } else { seasonal(t) }))
                    .collect(),
                want_anomalies: 1,
            },
            Case {
                name: "seasonal with minus the largest double once, mid-history",
                values: (0..n)
                    .map(|t| Some(if t == n / 2 { -f64::MAX } else { seasonal(t) }))
                    .collect(),
                want_anomalies: 1,
            },
            Case {
                name: "flat with one step",
                values: (0..n)
                    .map(|t| Some(if t == n - 10 { 50.0 } else { 42.0 }))
                    .collect(),
                want_anomalies: 1,
            },
        ];
        for case in cases {
            let (_, out) = run(case.values);
            let anomalies = out.iter().flatten().filter(|s| s.anomalous).count();
            let at: Vec<usize> = (0..out.len())
                .filter(|&i| out[i].is_some_and(|s| s.anomalous))
                .collect();
            assert_eq!(anomalies, case.want_anomalies, "case {}: {at:?}", case.name);
            for s in out.iter().flatten() {
                assert!(
                    s.severity.is_finite() && (0.0..=100.0).contains(&s.severity),
                    "case {}",
                    case.name
                );
            }
        }
    }

    #[test]
    fn a_drop_in_a_seasonal_series_is_found_with_direction_and_band() {
        let n = 24 * 7 * 6;
        let drop_at = n - 50;
        let (_, out) =
            run((0..n).map(|t| Some(seasonal(t) * if t == drop_at { 0.5 } else { 1.0 })));
        let s = out[drop_at].unwrap();
        assert!(s.anomalous && s.direction == Direction::Drop, "{s:?}");
        assert!(s.value < s.lower && s.lower < s.expected && s.expected < s.upper);
        assert!(
            (s.expected - seasonal(drop_at)).abs() < 5.0,
            "expected {} vs {}",
            s.expected,
            seasonal(drop_at)
        );
        // Weekends are expected, not anomalous: the weekly cycle is learned.
        let weekend_alarms = out[24 * 7 * 4..]
            .iter()
            .flatten()
            .filter(|s| s.anomalous)
            .count();
        assert_eq!(weekend_alarms, 1);
    }

    #[test]
    fn an_absurd_value_is_not_learned_but_a_change_of_units_is() {
        let n = 24 * 7 * 6;
        // The largest double during the cold start (a placeholder for "missing"), or as the
        // very first value: nothing alarms afterwards, and two weeks on that hour expects its
        // usual value.
        for at in [100, 0] {
            let (_, out) = run((0..n).map(|t| Some(if t == at { f64::MAX } else { seasonal(t) })));
            let alarms: Vec<usize> = (300..n)
                .filter(|&i| out[i].is_some_and(|s| s.anomalous))
                .collect();
            assert!(alarms.is_empty(), "at {at}: {alarms:?}");
            let week_after = out[at + 24 * 14].unwrap();
            assert!(
                (week_after.expected - seasonal(at)).abs() < 5.0,
                "at {at}: {week_after:?}"
            );
        }
        // A series in the billions is learned from its first values on.
        let (_, out) = run((0..n).map(|t| Some(seasonal(t) * 1e10)));
        let alarms = (300..n)
            .filter(|&i| out[i].is_some_and(|s| s.anomalous))
            .count();
        assert_eq!(alarms, 0);

        // Bytes instead of gigabytes from some hour on: alarms, then the new scale is learned
        // within days, not never (as a thousandfold change, which is not absurd, is: its
        // alarms end in the fifth day, while a week of the new scale has not yet been seen).
        let from = n - 24 * 10;
        let (_, out) = run((0..n).map(|t| Some(seasonal(t) * if t >= from { 1e9 } else { 1.0 })));
        assert!(out[from].unwrap().anomalous);
        let late = (from + 24 * 5..n)
            .filter(|&i| out[i].is_some_and(|s| s.anomalous))
            .count();
        assert_eq!(late, 0);
    }

    #[test]
    fn a_sustained_level_shift_stops_alarming() {
        let n = 24 * 7 * 6;
        let shift_at = n - 24 * 5;
        let (_, out) =
            run((0..n).map(|t| Some(seasonal(t) + if t >= shift_at { 80.0 } else { 0.0 })));
        assert!(out[shift_at].unwrap().anomalous);
        let late = out[shift_at + 24..]
            .iter()
            .flatten()
            .filter(|s| s.anomalous)
            .count();
        assert_eq!(late, 0, "a day after the shift the new level is normal");
    }

    #[test]
    fn learning_lasts_the_cold_start_and_missing_intervals_keep_the_phase() {
        let (_, out) = run((0..400).map(|t| Some(seasonal(t))));
        assert!(out[299].unwrap().learning);
        assert!(!out[300].unwrap().learning);

        // The same series observed with every 5th hour missing keeps its phase.
        let config = EngineConfig::for_frequency(Frequency::Pt1h);
        let mut state = SeriesState::new(&config);
        let mut last = None;
        for t in 0..24 * 7 * 5 {
            if t % 5 != 0 {
                last = state.observe(&config, t as i64 * H, Some(seasonal(t)));
            }
        }
        let s = last.unwrap();
        assert!(!s.anomalous && (s.expected - s.value).abs() < 6.0, "{s:?}");
    }

    #[test]
    fn a_gap_longer_than_the_seasonal_history_keeps_the_baseline() {
        // Four weeks learned, then nothing for 700 hours (more than the four weeks kept) or for
        // 30 days and 5 hours: the days after are judged against the weeks before the gap, in
        // phase, not against the few values since it (which alarmed on every rise of the day).
        let config = EngineConfig::for_frequency(Frequency::Pt1h);
        for gap in [700, 30 * 24 + 5, 200] {
            let mut state = SeriesState::new(&config);
            for t in 0..24 * 28 {
                state.observe(&config, t as i64 * H, Some(seasonal(t)));
            }
            let start = 24 * 28 + gap;
            let after: Vec<Scored> = (start..start + 48)
                .map(|t| {
                    state
                        .observe(&config, t as i64 * H, Some(seasonal(t)))
                        .unwrap()
                })
                .collect();
            let worst = after.iter().map(|s| s.severity).fold(0.0, f64::max);
            assert!(worst < 30.0, "gap {gap}: severity {worst}");
            let off = after
                .iter()
                .map(|s| (s.expected - s.value).abs())
                .fold(0.0, f64::max);
            assert!(off < 10.0, "gap {gap}: expected off by {off}");
            // And a spike just after the gap is still one.
            let t = start + 48;
            let spike = state
                .observe(&config, t as i64 * H, Some(seasonal(t) + 80.0))
                .unwrap();
            assert!(spike.anomalous, "gap {gap}: {spike:?}");
        }
    }

    #[test]
    fn replaying_an_interval_changes_nothing() {
        let config = EngineConfig::for_frequency(Frequency::Pt1h);
        let (mut state, _) = run((0..500).map(|t| Some(seasonal(t))));
        let before = state.clone();
        assert!(state.observe(&config, 499 * H, Some(1e6)).is_none());
        assert!(state.observe(&config, 10 * H, Some(1e6)).is_none());
        assert_eq!(state, before);
    }

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
    fn severity_matches_an_independent_erfc() {
        // Reference: CPython's math.erfc (the C library's), computed as
        // 100 * (1 - exp(-(-log10(erfc(z / sqrt(2)))) / 8)) with python3 3.11.
        let reference = [
            (1.0, 6.041260655786829),
            (2.0, 15.44333296256295),
            (3.0, 27.46374136436759),
            (4.0, 40.831928004522254),
            (5.0, 54.168655883722685),
            (6.0, 66.31455333060786),
            (8.0, 84.48152706471727),
        ];
        for (z, want) in reference {
            let got = severity(z);
            assert!(
                (got - want).abs() < 1e-3,
                "severity({z}) = {got}, reference {want}"
            );
        }
    }

    #[test]
    fn more_named_cases() {
        let n = 24 * 7 * 6;
        // Sparse counts: mostly 0, sometimes 1 or 2, then a burst of 40.
        let sparse = |t: usize| {
            if t == n - 20 {
                40.0
            } else {
                [0.0, 0.0, 0.0, 1.0, 0.0, 2.0, 0.0][t * 13 % 7]
            }
        };
        let (_, out) = run((0..n).map(|t| Some(sparse(t))));
        let alarms: Vec<usize> = (0..n)
            .filter(|&t| out[t].is_some_and(|s| s.anomalous))
            .collect();
        assert_eq!(alarms, [n - 20], "only the burst");
        // Seasonal with a trend: +0.3 per hour (about +50 a week) is followed, not alarmed.
        let (_, out) = run((0..n).map(|t| Some(seasonal(t) + 0.3 * t as f64)));
        let late = out[24 * 7 * 3..]
            .iter()
            .flatten()
            .filter(|s| s.anomalous)
            .count();
        assert_eq!(late, 0);
    }

    #[test]
    fn same_input_same_output() {
        let values: Vec<Option<f64>> = (0..2000)
            .map(|t| Some(seasonal(t) + if t % 500 == 0 { 60.0 } else { 0.0 }))
            .collect();
        assert_eq!(run(values.clone()).1, run(values).1);
    }

    #[test]
    fn compact_state_is_small_and_scores_exactly_like_the_live_one() {
        let config = EngineConfig::for_frequency(Frequency::Pt1h);
        let (mut live, _) = run((0..3000).map(|t| {
            Some(if t % 97 == 0 {
                f64::NAN
            } else {
                seasonal(t) * 1000.0
            })
        }));
        let bytes = live.to_bytes();
        assert!(
            bytes.len() <= 4096,
            "{} bytes for an hourly series",
            bytes.len()
        );
        let mut restored = SeriesState::from_bytes(&bytes).unwrap();
        assert_eq!(restored, live);
        for t in 3000..3200 {
            let v = Some(seasonal(t) * 1000.0 + if t == 3100 { 9e4 } else { 0.0 });
            assert_eq!(
                restored.observe(&config, t as i64 * H, v),
                live.observe(&config, t as i64 * H, v)
            );
        }
        assert_eq!(restored.to_bytes(), live.to_bytes());
        // Damaged bytes are refused, never a panic.
        assert!(SeriesState::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        assert!(SeriesState::from_bytes(b"nonsense").is_err());
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(SeriesState::from_bytes(&trailing).is_err());
        let mut version = bytes;
        version[4] = 99;
        assert!(
            SeriesState::from_bytes(&version)
                .unwrap_err()
                .to_string()
                .contains("version 99")
        );
    }

    #[test]
    fn not_an_anomaly_lowers_later_similar_deviations() {
        let config = EngineConfig::for_frequency(Frequency::Pt1h);
        let (mut state, _) = run((0..24 * 7 * 5).map(|t| Some(seasonal(t))));
        let t0 = 24 * 7 * 5;
        let first = state
            .observe(&config, t0 as i64 * H, Some(seasonal(t0) + 40.0))
            .unwrap();
        assert!(first.anomalous, "{first:?}");
        let mut with_feedback = state.clone();
        with_feedback.feedback(
            &config,
            Feedback {
                time: t0 as i64 * H,
                z: first.z,
                is_anomaly: false,
            },
        );
        // The same deviation a day later: scored lower, no longer anomalous; a much larger one
        // still is.
        let later = t0 + 24;
        let v = Some(seasonal(later) + 40.0);
        let plain = state.observe(&config, later as i64 * H, v).unwrap();
        let after = with_feedback.observe(&config, later as i64 * H, v).unwrap();
        assert!(plain.anomalous && !after.anomalous, "{plain:?} {after:?}");
        assert!(
            after.severity < plain.severity - 10.0,
            "{} vs {}",
            after.severity,
            plain.severity
        );
        let huge = with_feedback
            .observe(
                &config,
                (later + 1) as i64 * H,
                Some(seasonal(later + 1) + 400.0),
            )
            .unwrap();
        assert!(huge.anomalous);
        // Drops are judged as before.
        let drop = with_feedback
            .observe(
                &config,
                (later + 2) as i64 * H,
                Some(seasonal(later + 2) - 40.0),
            )
            .unwrap();
        assert!(drop.anomalous);
        // The same feedback twice changes nothing more.
        let once = with_feedback.clone();
        with_feedback.feedback(
            &config,
            Feedback {
                time: t0 as i64 * H,
                z: first.z,
                is_anomaly: false,
            },
        );
        assert_eq!(with_feedback, once);
    }

    #[test]
    fn is_an_anomaly_keeps_the_point_out_of_the_baseline() {
        // Eight days of history: next week's baseline at that hour comes from one past week only.
        // The deviation is moderate (3.5 sigma), below what the engine keeps out by itself.
        let config = EngineConfig::for_frequency(Frequency::Pt1h).with_warmup(24);
        let mut state = SeriesState::new(&config);
        let spike_at = 24 * 8 + 5;
        for t in 0..spike_at {
            state.observe(&config, t as i64 * H, Some(seasonal(t)));
        }
        let probe = state
            .clone()
            .observe(&config, spike_at as i64 * H, Some(seasonal(spike_at)))
            .unwrap();
        let bump = 3.5 * probe.sigma;
        let at_spike = state
            .observe(
                &config,
                spike_at as i64 * H,
                Some(seasonal(spike_at) + bump),
            )
            .unwrap();
        assert!(at_spike.z > 3.0 && at_spike.z < OUTLIER_Z, "{at_spike:?}");
        let mut marked = state.clone();
        marked.feedback(
            &config,
            Feedback {
                time: spike_at as i64 * H,
                z: at_spike.z,
                is_anomaly: true,
            },
        );
        for t in spike_at + 1..spike_at + 168 {
            state.observe(&config, t as i64 * H, Some(seasonal(t)));
            marked.observe(&config, t as i64 * H, Some(seasonal(t)));
        }
        let t = spike_at + 168;
        let unmarked = state
            .observe(&config, t as i64 * H, Some(seasonal(t)))
            .unwrap();
        let kept_out = marked
            .observe(&config, t as i64 * H, Some(seasonal(t)))
            .unwrap();
        assert!(
            (unmarked.expected - seasonal(t)).abs() > 0.25 * bump,
            "the bump shapes the baseline: {bump} {unmarked:?}"
        );
        assert!(
            (kept_out.expected - seasonal(t)).abs() < 0.25 * bump,
            "{kept_out:?}"
        );
        assert!(
            unmarked.z < -1.5 && kept_out.z.abs() < 1.0,
            "{unmarked:?} {kept_out:?}"
        );
    }

    #[test]
    fn a_new_daily_peak_is_learned_not_alarmed_forever() {
        // From day 28 on, 09:00 carries an extra 300 every day: a new pattern, not an incident.
        let config = EngineConfig::for_frequency(Frequency::Pt1h);
        let mut state = SeriesState::new(&config);
        let start = 24 * 28;
        let mut alarmed_days = Vec::new();
        for t in 0..start + 24 * 35 {
            let peak = t >= start && t % 24 == 9;
            let v = seasonal(t) + if peak { 300.0 } else { 0.0 };
            let scored = state.observe(&config, t as i64 * H, Some(v)).unwrap();
            if peak && scored.anomalous {
                alarmed_days.push((t - start) / 24);
            }
        }
        assert!(
            alarmed_days.contains(&0),
            "the first peak is news: {alarmed_days:?}"
        );
        // The four-week seasonal median takes it in as it fills: by the fifth week the peak is
        // expected. (Keeping every outlier out, repeats included, alarmed on all 35 days.)
        assert!(
            alarmed_days.iter().all(|d| *d < 28),
            "learned within four weeks: {alarmed_days:?}"
        );
    }

    #[test]
    fn an_incident_of_a_few_hours_does_not_widen_the_band_for_a_week() {
        // Two five-hour outages (values near zero) on days 35 and 36, more than 5% of a week of
        // residuals, then on day 38 a spike of 20 at noon (about 9 sigma): still anomalous, as
        // it is without the outages. (Counted at the band's edge, the outages widened the band
        // 2.3 times and hid it.)
        let config = EngineConfig::for_frequency(Frequency::Pt1h);
        let run = |outage: bool| {
            let mut state = SeriesState::new(&config);
            let spike = 24 * 38 + 12;
            let mut at_spike = None;
            for t in 0..=spike {
                let down = outage
                    && ((24 * 35 + 10..24 * 35 + 15).contains(&t)
                        || (24 * 36 + 16..24 * 36 + 21).contains(&t));
                let v = if down {
                    2.0
                } else if t == spike {
                    seasonal(t) + 20.0
                } else {
                    seasonal(t)
                };
                at_spike = state.observe(&config, t as i64 * H, Some(v));
            }
            at_spike.unwrap()
        };
        let (quiet, after) = (run(false), run(true));
        assert!(quiet.anomalous, "{quiet:?}");
        assert!(after.anomalous, "{after:?}");
        assert!(
            after.sigma < 1.6 * quiet.sigma,
            "{} vs {}",
            after.sigma,
            quiet.sigma
        );
    }

    #[test]
    fn clear_outliers_stay_out_of_the_seasonal_baseline() {
        // Four weeks of history in which the same hour spiked in two of them (the e-commerce
        // sample has this): the median of four weeks would be half spike; without them it is
        // the ordinary hour.
        let config = EngineConfig::for_frequency(Frequency::Pt1h);
        let mut state = SeriesState::new(&config);
        let hour = 24 * 7 * 3 + 13;
        let spiked = [hour - 168, hour];
        let query = hour + 168;
        for t in 0..query {
            let v = seasonal(t) + if spiked.contains(&t) { 400.0 } else { 0.0 };
            let scored = state.observe(&config, t as i64 * H, Some(v)).unwrap();
            if spiked.contains(&t) {
                assert!(scored.anomalous, "{t}: {scored:?}");
            }
        }
        let scored = state
            .observe(&config, query as i64 * H, Some(seasonal(query)))
            .unwrap();
        assert!(
            (scored.expected - seasonal(query)).abs() < 3.0 * scored.sigma,
            "{scored:?}"
        );
        assert!(!scored.anomalous, "{scored:?}");
    }

    #[test]
    fn a_series_crossing_zero_gets_no_narrow_band_there() {
        // 5-minute sine around 0 with small repeatable noise: nothing anomalous.
        let config = EngineConfig::for_frequency(Frequency::Pt5m);
        let mut state = SeriesState::new(&config);
        let mut alarms = 0;
        for i in 0..288 * 10 {
            let noise = ((i * 7919 % 13) as f64 - 6.0) / 100.0;
            let v = (std::f64::consts::TAU * i as f64 / 288.0).sin() + noise;
            if state
                .observe(&config, i as i64 * 300, Some(v))
                .is_some_and(|s| s.anomalous)
            {
                alarms += 1;
            }
        }
        assert_eq!(alarms, 0);
    }

    #[test]
    fn forged_state_bytes_are_refused() {
        let (state, _) = run((0..400).map(|t| Some(seasonal(t))));
        let bytes = state.to_bytes();
        // The tolerances sit after magic (4), version (2), flags (1), last (8), observed (8),
        // three errors and typical (4 x 8).
        let tolerance_at = 4 + 2 + 1 + 8 + 8 + 32;
        for forged in [f64::NAN, 0.0, 1e9] {
            let mut b = bytes.clone();
            b[tolerance_at..tolerance_at + 8].copy_from_slice(&forged.to_le_bytes());
            assert!(SeriesState::from_bytes(&b).is_err(), "tolerance {forged}");
        }
        let mut b = bytes.clone();
        b[6] = 9; // unknown flags
        assert!(SeriesState::from_bytes(&b).is_err());
        // A state whose last time is far in the past still observes without overflow.
        let config = EngineConfig::for_frequency(Frequency::Pt1h);
        let mut b = bytes;
        b[7..15].copy_from_slice(&i64::MIN.to_le_bytes());
        let mut odd = SeriesState::from_bytes(&b).unwrap();
        let _ = odd.observe(&config, i64::MAX, Some(1.0));
    }

    /// Uniform noise in -1..1 from a splitmix64 hash of `t` and a seed.
    fn noise(t: usize, seed: u64) -> f64 {
        let mut z = (t as u64)
            .wrapping_add(seed.wrapping_mul(0x2545_f491_4f6c_dd1d))
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }

    /// Three years of daily sales: weekends at 70%, noise of 2%, and a holiday season of 12
    /// days at +50% from day 330 of each year (365 days apart, so its weekday moves).
    fn daily_sales(t: usize, season: bool) -> f64 {
        let weekly = if t % 7 >= 5 { 0.7 } else { 1.0 };
        let day = t % 365;
        let holiday = if season && (330..342).contains(&day) {
            1.5
        } else {
            1.0
        };
        1000.0 * weekly * holiday * (1.0 + 0.02 * noise(t, 7))
    }

    fn run_daily(
        config: &EngineConfig,
        values: impl Fn(usize) -> f64,
    ) -> (SeriesState, Vec<Scored>) {
        let mut state = SeriesState::new(config);
        let out = (0..3 * 365)
            .map(|t| {
                state
                    .observe(config, t as i64 * 86_400, Some(values(t)))
                    .unwrap()
            })
            .collect();
        (state, out)
    }

    #[test]
    fn a_yearly_holiday_season_is_expected_the_next_year() {
        let daily = EngineConfig::for_frequency(Frequency::P1d);
        assert_eq!(daily.year, 364);
        let alarms = |out: &[Scored], days: std::ops::Range<usize>| {
            days.filter(|&d| out[d].anomalous).count()
        };
        let season = |year: usize| year * 365 + 330..year * 365 + 342;
        let after = |year: usize| year * 365 + 342..year * 365 + 360;
        let (_, out) = run_daily(&daily, |t| daily_sales(t, true));
        assert!(alarms(&out, season(0)) >= 1, "the first season is news");
        for year in [1, 2] {
            assert_eq!(
                alarms(&out, season(year)),
                0,
                "year {year}: the season is expected"
            );
            assert_eq!(
                alarms(&out, after(year)),
                0,
                "year {year}: and does not raise what follows"
            );
        }
        let s = out[365 + 335];
        assert!((s.expected / s.value - 1.0).abs() < 0.1, "{s:?}");

        // Without the yearly season, the second year's season alarms again.
        let weekly_only = EngineConfig {
            year: 0,
            ..daily.clone()
        };
        let (_, out) = run_daily(&weekly_only, |t| daily_sales(t, true));
        assert!(alarms(&out, season(1)) >= 1);
    }

    #[test]
    fn an_incident_or_a_level_shift_does_not_echo_a_year_later() {
        // No yearly season: a five-day outage at day 150, a three-day promotion over a weekend at
        // day 600 and a doubling from day 400 on. Each is news when it happens, and nothing
        // after it or a year later.
        let daily = EngineConfig::for_frequency(Frequency::P1d);
        let (_, out) = run_daily(&daily, |t| {
            let outage = if (150..155).contains(&t) { 0.1 } else { 1.0 };
            let promotion = if (600..603).contains(&t) { 1.6 } else { 1.0 };
            let step = if t >= 400 { 2.0 } else { 1.0 };
            daily_sales(t, false) * outage * promotion * step
        });
        let anomalous: Vec<usize> = (0..out.len()).filter(|&t| out[t].anomalous).collect();
        let news =
            |t: &usize| (150..160).contains(t) || (400..430).contains(t) || (600..603).contains(t);
        assert!(
            anomalous.iter().any(|t| (150..155).contains(t)),
            "{anomalous:?}"
        );
        assert!(
            anomalous.iter().any(|t| (400..405).contains(t)),
            "{anomalous:?}"
        );
        assert!(
            anomalous.iter().any(|t| (600..603).contains(t)),
            "{anomalous:?}"
        );
        let echoes: Vec<&usize> = anomalous.iter().filter(|t| !news(t)).collect();
        assert!(echoes.is_empty(), "false alarms {echoes:?}");
        // A year after the outage the band spans both what is usual and what happened then.
        let s = out[150 + 365 + 2];
        assert!(s.lower < 0.5 * s.expected && !s.anomalous, "{s:?}");
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

    #[test]
    fn a_state_from_before_yearly_seasons_is_read_and_grows_its_ring() {
        let config = EngineConfig::for_frequency(Frequency::P1d);
        let (mut live, _) = run_daily(&config, |t| daily_sales(t, true));
        let bytes = live.to_bytes();
        assert!(
            bytes.len() <= 2_048,
            "{} bytes for a daily series",
            bytes.len()
        );
        assert_eq!(bytes[4..6], 2u16.to_le_bytes());
        assert_eq!(SeriesState::from_bytes(&bytes).unwrap(), live);
        let departures = live.yearly.as_ref().unwrap().buf.len();
        assert_eq!(departures, config.yearly_history());
        // Layout 1 bytes: the same without the yearly ring (written last).
        let mut v1 = bytes[..bytes.len() - (12 + 4 * departures)].to_vec();
        v1[4..6].copy_from_slice(&1u16.to_le_bytes());
        let mut old = SeriesState::from_bytes(&v1).unwrap();
        assert!(old.yearly.is_none());
        assert_eq!(
            (old.values.clone(), old.observed),
            (live.values.clone(), live.observed)
        );
        // It scores as the live state does where last year holds nothing that stood out, and
        // keeps departures from now on.
        for t in 3 * 365..3 * 365 + 300 {
            let v = Some(daily_sales(t, true));
            assert_eq!(
                old.observe(&config, t as i64 * 86_400, v),
                live.observe(&config, t as i64 * 86_400, v),
                "day {t}"
            );
        }
        let yearly = old.yearly.as_ref().unwrap();
        assert_eq!(
            (yearly.cap, yearly.buf.len()),
            (config.yearly_history(), 300)
        );
        let restored = SeriesState::from_bytes(&old.to_bytes()).unwrap();
        assert_eq!(restored, old);
        let json = serde_json::to_vec(&old).unwrap();
        assert_eq!(serde_json::from_slice::<SeriesState>(&json).unwrap(), old);
    }

    #[test]
    fn a_severity_is_as_rare_on_a_noisy_series_as_on_a_smooth_one() {
        // Two hourly series with the same cycles, one with 1% noise, one with 20%: the share of
        // points at or above a severity is about the same on both.
        let config = EngineConfig::for_frequency(Frequency::Pt1h);
        let n = 24 * 7 * 30;
        let share = |spread: f64, level: f64| {
            let mut state = SeriesState::new(&config);
            let severities: Vec<f64> = (0..n)
                .filter_map(|t| {
                    let hour = (t % 24) as f64;
                    let base = 1000.0 + 300.0 * (std::f64::consts::TAU * hour / 24.0).sin();
                    let gauss = (0..4).map(|k| noise(t, k)).sum::<f64>() / 2.0_f64 / 0.577;
                    let v = base * (1.0 + spread * gauss / 2.0);
                    state.observe(&config, t as i64 * H, Some(v))
                })
                .filter(|s| !s.learning)
                .map(|s| s.severity)
                .collect();
            severities.iter().filter(|s| **s >= level).count() as f64 / severities.len() as f64
        };
        for level in [10.0, 20.0] {
            let (smooth, noisy) = (share(0.01, level), share(0.20, level));
            assert!(smooth > 0.0 && noisy > 0.0, "{level}: {smooth} {noisy}");
            let ratio = smooth / noisy;
            assert!(
                (0.67..=1.5).contains(&ratio),
                "severity {level}: {smooth:.4} of smooth points, {noisy:.4} of noisy ones"
            );
        }
    }

    #[test]
    fn sensitivity_is_validated() {
        assert!(Sensitivity::new(70.0).is_ok());
        for bad in [-1.0, 100.5, f64::NAN] {
            assert!(Sensitivity::new(bad).is_err());
        }
    }
}
