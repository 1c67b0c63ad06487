//! Scoring a point against the past and folding it into the state: the model itself.

use serde::{Deserialize, Serialize};

use super::config::{EngineConfig, YEAR_AROUND, YEAR_CLEAR, YEAR_USUAL};
use super::ring::Ring;
use super::state::{PREDICTORS, SeriesState, layout};
use super::stats::{Few, median, median_of, severity};

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

/// The deviation (in sigmas, after feedback) from which a point is kept out of the seasonal
/// history: the default threshold's.
pub(super) const OUTLIER_Z: f64 = 4.6;

/// How far (in sigmas) a clear outlier's residual counts in the scale.
const OUTLIER_SCALE_CLIP: f64 = 3.0;
/// A value beyond this many times the series' typical magnitude (at least 1) is absurd: an
/// overflowed counter, or a placeholder for "missing" such as the largest double.
const ABSURD: f64 = 1e6;
/// An absurd value moves the series' typical magnitude toward this many times itself instead
/// (as one average of the memory: about 1.6 times per hourly point), so a sustained change of
/// units stops being absurd within tens of points and is learned.
const ABSURD_PULL: f64 = 100.0;

/// The most intervals whose deviations are summed as one piece of evidence.
const SUSTAINED: usize = 6;
/// The deviation (sigmas) the current interval must have for its evidence to be summed.
const SUSTAINED_EACH: f64 = 2.0;
/// The deviation (sigmas, in the current one's direction) each earlier interval of a window
/// must have: a shift moves every interval it lasts.
const SUSTAINED_RUN: f64 = 1.5;
/// The most (sigmas) one interval adds to a sum.
const SUSTAINED_CLIP: f64 = 3.0;
/// What a sum over several intervals counts for: the tests over 2 to 6 intervals are five
/// chances instead of one, so a sum must be about 7% beyond a single point's deviation to be
/// as rare (4.93 against 4.6 sigma at the default threshold).
const SUSTAINED_DISCOUNT: f64 = 0.933;

/// Expected counts under which a count series is judged against Poisson noise too.
const SMALL_COUNT: f64 = 10.0;

/// Values the recent-level predictor takes the median of.
const RECENT: usize = 8;

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
        let mut sigma = self.sigma(config, expected, weight);
        let half = config.z_band * sigma;
        let (mut z, mut lower, mut upper) = ((x - expected) / sigma, low - half, high + half);
        if config.count_aware && !self.signed && x >= 0.0 {
            // A measure that has never been negative is not expected to be.
            lower = lower.max(0.0);
            if self.counts(config) && expected < SMALL_COUNT {
                // Few counts: no more anomalous than Poisson noise allows (its square root
                // has unit spread), however calm the series was; four orders where one is
                // usual is not an incident.
                let root = |v: f64| (v.max(0.0) + 0.375).sqrt();
                let poisson = 2.0 * (root(x) - root(expected));
                if poisson.abs() < z.abs() {
                    z = poisson;
                    if z != 0.0 {
                        sigma = (x - expected) / z;
                    }
                }
                let edge = root(high) + 0.5 * config.z_band;
                upper = upper.max(edge * edge - 0.375);
            }
        }
        let judged = z / self.tolerance[usize::from(z < 0.0)];
        // A shift of a few hours, each too small alone, counts by its evidence so far.
        let judged = if config.sustained && best == 0 && !followed {
            let sustained = self.sustained(x - seasonal, sigma) * SUSTAINED_DISCOUNT;
            let sustained = sustained / self.tolerance[usize::from(sustained < 0.0)];
            if sustained.abs() > judged.abs() {
                sustained
            } else {
                judged
            }
        } else {
            judged
        };
        let severity = if learning { 0.0 } else { severity(judged) };
        let scored = Scored {
            value: x,
            expected,
            lower,
            upper,
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

    /// The evidence of the last few intervals together, the current one included: over the
    /// last 2 to [`SUSTAINED`] intervals, each of which moved in the current one's direction,
    /// the sum of their deviations from the seasonal baseline and today's level (each clipped
    /// at [`SUSTAINED_CLIP`] sigmas), over `sigma` times the square root of their number; the
    /// largest such sum (0 when the current interval moved less than [`SUSTAINED_EACH`]). Each past deviation is
    /// read off the level history (deviations from the seasonal baseline), so the state
    /// needs nothing new.
    fn sustained(&self, departure: f64, sigma: f64) -> f64 {
        let level = self.cached.level;
        let current = departure - level;
        // The current interval is part of the shift, not a calm one after an incident; and
        // no past interval counts for more than a few sigmas, so one clear outlier does not
        // carry the intervals after it.
        if sigma.is_nan() || sigma <= 0.0 || (current / sigma).abs() < SUSTAINED_EACH {
            return 0.0;
        }
        let clip = SUSTAINED_CLIP * sigma;
        let mut sum = current.clamp(-clip, clip);
        let mut best = 0.0_f64;
        for k in 1..SUSTAINED {
            // The window ends at an interval that did not move with the current one.
            let Some(past) = self
                .level
                .lag(k)
                .filter(|p| (p - level) * current.signum() >= SUSTAINED_RUN * sigma)
            else {
                break;
            };
            sum += (past - level).clamp(-clip, clip);
            let z = sum / (sigma * ((k + 1) as f64).sqrt());
            if z.signum() == current.signum() && z.abs() > best.abs() {
                best = z;
            }
        }
        best
    }

    /// Whether the series counts something: a day or more of values, every one a whole
    /// non-negative number.
    fn counts(&self, config: &EngineConfig) -> bool {
        self.observed as usize >= config.short_season.max(7) && self.values.whole()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fixtures::*;
    use crate::model::Frequency;

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
    fn few_counts_are_judged_against_poisson_noise_and_bands_stay_above_zero() {
        // An order in one hour of ten: four is not an incident, thirty is.
        let counts = |t: usize| if noise(t, 3) > 0.8 { 1.0 } else { 0.0 };
        let (mut state, scored) = run((0..24 * 7 * 5).map(|t| Some(counts(t))));
        assert!(scored.iter().flatten().all(|s| s.lower >= 0.0));
        let config = EngineConfig::for_frequency(Frequency::Pt1h);
        let t = 24 * 7 * 5;
        let mut four = state.clone();
        let ordinary = four.observe(&config, t as i64 * H, Some(4.0)).unwrap();
        assert!(!ordinary.anomalous, "{ordinary:?}");
        assert!(ordinary.z < 3.0, "{ordinary:?}");
        let restored = SeriesState::from_bytes(&state.to_bytes()).unwrap();
        let burst = state.observe(&config, t as i64 * H, Some(30.0)).unwrap();
        assert!(burst.anomalous, "{burst:?}");
        let mut restored = restored;
        assert_eq!(
            restored.observe(&config, t as i64 * H, Some(30.0)),
            Some(burst),
            "a restored state knows it counts"
        );
        // A fractional value anywhere in its history: not counts, judged as before.
        let (mut fractional, _) =
            run((0..24 * 7 * 5).map(|t| Some(counts(t) + if t == 800 { 0.5 } else { 0.0 })));
        let plain = fractional
            .observe(&config, t as i64 * H, Some(4.0))
            .unwrap();
        assert!(plain.z > ordinary.z, "{plain:?} {ordinary:?}");
    }

    #[test]
    fn a_shift_of_a_few_hours_alarms_by_its_evidence_and_stops_with_it() {
        let config = EngineConfig::for_frequency(Frequency::Pt1h);
        let mut single = config.clone();
        single.sustained = false;
        let t0 = 24 * 7 * 5;
        let (mut state, _) = run((0..t0).map(|t| Some(seasonal(t))));
        let mut plain = state.clone();
        let mut verdicts = Vec::new();
        // Six hours, each 3 sigmas down: too little alone, beyond doubt together.
        for t in t0..t0 + 6 {
            let probe = state
                .clone()
                .observe(&config, t as i64 * H, Some(seasonal(t)));
            let probe = probe.unwrap();
            let low = Some(probe.expected - 3.0 * probe.sigma);
            let s = state.observe(&config, t as i64 * H, low).unwrap();
            let p = plain.observe(&single, t as i64 * H, low).unwrap();
            assert!(!p.anomalous, "hour {}: alone {p:?}", t - t0);
            verdicts.push(s.anomalous);
        }
        // Alone, two hours are not enough; from the fourth hour on the shift alarms.
        assert!(!verdicts[0] && !verdicts[1], "{verdicts:?}");
        assert!(verdicts[3..].iter().all(|a| *a), "{verdicts:?}");
        // Back to normal: the evidence of the hours before does not carry it.
        let after = t0 + 6;
        let s = state
            .observe(&config, after as i64 * H, Some(seasonal(after)))
            .unwrap();
        assert!(!s.anomalous, "{s:?}");
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
}
