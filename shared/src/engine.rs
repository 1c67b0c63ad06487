//! The detection engine: one robust seasonal model per series, online.
//!
//! Pure and synchronous: values and interval times in; expected value, band, score and
//! severity out; the state is an explicit serializable struct that the caller stores.
//!
//! The model, for each new point `x` of a series:
//! - a seasonal baseline `S`: the median of the same phase in up to four past seasons (weekly for
//!   5-minute, 10-minute and hourly data; the day of the week for daily data), falling back to
//!   the same time of day over the last week and then to a rolling median while history is short;
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
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
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

/// A fixed-capacity ring of recent values; missing values are NaN.
#[derive(Debug, Clone, Default)]
struct Ring {
    buf: Vec<f64>,
    cap: usize,
    head: usize,
}

impl Ring {
    fn new(cap: usize) -> Self {
        Ring {
            buf: Vec::new(),
            cap: cap.max(1),
            head: 0,
        }
    }

    fn push(&mut self, v: f64) {
        if self.buf.len() < self.cap {
            self.buf.push(v);
        } else {
            self.buf[self.head] = v;
            self.head = (self.head + 1) % self.cap;
        }
    }

    /// The value `lag` pushes ago (1 = the latest).
    fn lag(&self, lag: usize) -> Option<f64> {
        let n = self.buf.len();
        if lag == 0 || lag > n {
            return None;
        }
        let idx = if n < self.cap {
            n - lag
        } else {
            (self.head + self.cap - lag) % self.cap
        };
        Some(self.buf[idx]).filter(|v| !v.is_nan())
    }

    /// The values present, oldest first (a fixed order, so sums agree after a round trip).
    fn finite(&self) -> impl Iterator<Item = f64> + '_ {
        let (newer, older) = self.buf.split_at(self.head);
        older.iter().chain(newer).copied().filter(|v| !v.is_nan())
    }
}

impl PartialEq for Ring {
    /// Equal when they hold the same values in the same order (missing equals missing).
    fn eq(&self, other: &Self) -> bool {
        let n = self.buf.len();
        self.cap == other.cap
            && n == other.buf.len()
            && (1..=n)
                .all(|lag| self.lag(lag).map(f64::to_bits) == other.lag(lag).map(f64::to_bits))
    }
}

/// The ring as stored: oldest first, missing as null.
#[derive(Serialize, Deserialize)]
struct RingRepr {
    cap: usize,
    values: Vec<Option<f64>>,
}

impl Serialize for Ring {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = self.buf.len();
        let values = (1..=n).rev().map(|lag| self.lag(lag)).collect();
        RingRepr {
            cap: self.cap,
            values,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Ring {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let repr = RingRepr::deserialize(d)?;
        if repr.values.len() > repr.cap {
            return Err(serde::de::Error::custom(
                "ring holds more values than its capacity",
            ));
        }
        let mut ring = Ring::new(repr.cap);
        for v in repr.values {
            ring.push(v.unwrap_or(f64::NAN));
        }
        Ok(ring)
    }
}

/// Values the recent-level predictor takes the median of.
const RECENT: usize = 8;

/// Version of the state layout.
pub const STATE_VERSION: u16 = 1;

/// The model state of one series: everything needed to score its next point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesState {
    version: u16,
    last: Option<i64>,
    observed: u64,
    values: Ring,
    level: Ring,
    scale: Ring,
    /// Exponentially weighted mean absolute error of the seasonal and the recent-level
    /// predictors: the engine follows whichever has been right lately.
    #[serde(default)]
    errors: [f64; 2],
}

/// What scoring learned that folding needs.
#[derive(Debug, Clone, Copy)]
struct Step {
    seasonal: f64,
    weight: f64,
    predictions: [f64; 2],
}

impl SeriesState {
    /// A series with no history.
    pub fn new(config: &EngineConfig) -> Self {
        SeriesState {
            version: STATE_VERSION,
            last: None,
            observed: 0,
            values: Ring::new(config.history()),
            level: Ring::new(config.level_window),
            scale: Ring::new(config.scale_window),
            errors: [0.0; 2],
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
            let steps = ((time - last) as f64 / config.step as f64).round();
            if steps < 1.0 {
                return None;
            }
            let gap = (steps as usize - 1).min(self.values.cap);
            for _ in 0..gap {
                self.values.push(f64::NAN);
            }
        }
        self.last = Some(time);
        let Some(x) = value.filter(|v| v.is_finite()) else {
            self.values.push(f64::NAN);
            return None;
        };
        let (scored, step) = self.score(config, x);
        self.fold(config, x, step, &scored);
        Some(scored)
    }

    fn baseline(&self, config: &EngineConfig) -> Option<f64> {
        let mut lags: Vec<f64> = (1..=config.cycles)
            .filter_map(|k| self.values.lag(k * config.season))
            .collect();
        if !lags.is_empty() {
            return median(&mut lags);
        }
        if config.short_season > 1 {
            let mut daily: Vec<f64> = (1..=7)
                .filter_map(|k| self.values.lag(k * config.short_season))
                .collect();
            if daily.len() >= 3 {
                return median(&mut daily);
            }
        }
        let mut recent: Vec<f64> = (1..=config.short_season.max(8))
            .filter_map(|k| self.values.lag(k))
            .collect();
        median(&mut recent)
    }

    /// The verdict, the seasonal baseline and the residual weight it used.
    fn score(&self, config: &EngineConfig, x: f64) -> (Scored, Step) {
        let learning = (self.observed as usize) < config.warmup || self.scale.buf.len() < 3;
        let Some(seasonal) = self.baseline(config) else {
            let first = Scored {
                value: x,
                expected: x,
                lower: x,
                upper: x,
                z: 0.0,
                severity: 0.0,
                direction: Direction::Spike,
                learning: true,
                anomalous: false,
            };
            let step = Step {
                seasonal: x,
                weight: 1.0,
                predictions: [x, x],
            };
            return (first, step);
        };
        let mut level: Vec<f64> = self.level.finite().collect();
        let correction = if level.len() >= 3 {
            median(&mut level).unwrap_or(0.0)
        } else {
            0.0
        };
        let seasonal_expected = seasonal + correction;
        let mut recent: Vec<f64> = (1..=RECENT).filter_map(|k| self.values.lag(k)).collect();
        let recent_expected = median(&mut recent).unwrap_or(seasonal_expected);
        let predictions = [seasonal_expected, recent_expected];
        let expected = if self.errors[1] < self.errors[0] {
            recent_expected
        } else {
            seasonal_expected
        };
        let weight = self.weight(config, expected);
        let sigma = self.sigma(config, expected, weight);
        let z = (x - expected) / sigma;
        let severity = if learning { 0.0 } else { severity(z) };
        let half = config.z_band * sigma;
        let scored = Scored {
            value: x,
            expected,
            lower: expected - half,
            upper: expected + half,
            z,
            severity,
            direction: if z >= 0.0 {
                Direction::Spike
            } else {
                Direction::Drop
            },
            learning,
            anomalous: !learning && severity >= config.threshold.get(),
        };
        let step = Step {
            seasonal,
            weight,
            predictions,
        };
        (scored, step)
    }

    /// How the noise scales with the level: residuals are divided by `(|e| + ref)^p`, `ref` a
    /// tenth of the series' typical magnitude, so a busy hour may deviate more than a quiet one
    /// (counts vary like the square root of their level when `p = 0.5`).
    fn weight(&self, config: &EngineConfig, expected: f64) -> f64 {
        if config.variance_power == 0.0 {
            return 1.0;
        }
        let (sum, n) = self
            .values
            .finite()
            .fold((0.0, 0usize), |(s, n), v| (s + v.abs(), n + 1));
        let typical = if n > 0 {
            sum / n as f64
        } else {
            expected.abs()
        };
        let reference = (0.1 * typical).max(1e-9);
        (expected.abs() + reference).powf(config.variance_power)
    }

    fn sigma(&self, config: &EngineConfig, expected: f64, weight: f64) -> f64 {
        let mut r: Vec<f64> = self.scale.finite().collect();
        let floor = (config.relative_floor * expected.abs()).max(1e-9);
        if r.is_empty() {
            return floor;
        }
        let center = median(&mut r).unwrap_or(0.0);
        let mut dev: Vec<f64> = r.iter().map(|v| (v - center).abs()).collect();
        let mad = median(&mut dev).unwrap_or(0.0) * 1.4826;
        let sigma = if mad > 0.0 {
            mad
        } else {
            // More than half the residuals are identical: use the mean absolute deviation.
            dev.iter().sum::<f64>() / dev.len() as f64 * 1.2533
        };
        // Heavy tails: the scale is at least what the tail quantile of the deviations implies.
        let sigma = if dev.len() >= 10 {
            let k = ((dev.len() as f64 * config.tail_quantile) as usize).min(dev.len() - 1);
            let (_, tail, _) = dev.select_nth_unstable_by(k, f64::total_cmp);
            sigma.max(*tail / config.tail_z)
        } else {
            sigma
        };
        (sigma * weight).max(floor)
    }

    fn fold(&mut self, config: &EngineConfig, x: f64, step: Step, scored: &Scored) {
        let Step {
            seasonal,
            weight,
            predictions,
        } = step;
        self.observed += 1;
        let alpha = 1.0 / config.short_season.max(7) as f64;
        for (e, p) in self.errors.iter_mut().zip(predictions) {
            *e += alpha * ((x - p).abs() / weight - *e);
        }
        self.values.push(x);
        self.level.push(x - seasonal);
        // Anomalies must not widen the band: clip their residual at its edge.
        let half = scored.upper - scored.expected;
        let residual = x - scored.expected;
        let clipped = if half > 0.0 && !scored.learning {
            residual.clamp(-half, half)
        } else {
            residual
        };
        self.scale.push(clipped / weight);
    }
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
            assert_eq!(anomalies, case.want_anomalies, "case {}", case.name);
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
        for t in 1000..1100 {
            let v = Some(seasonal(t) + if t == 1050 { 99.0 } else { 0.0 });
            assert_eq!(
                restored.observe(&config, t as i64 * H, v),
                live.observe(&config, t as i64 * H, v)
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
