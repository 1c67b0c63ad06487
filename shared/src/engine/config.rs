//! The model's parameters: the detection threshold and, per frequency, the seasons and windows.

use serde::{Deserialize, Serialize};

use super::stats::{two_sided_z, z_for_severity};
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
    /// Whether a series that was never negative gets no band below zero, and a series of few
    /// counts is judged against Poisson noise too.
    pub count_aware: bool,
    /// Whether the deviations of the last few intervals also count together (a shift of
    /// several hours, each too small alone).
    pub sustained: bool,
    /// The scale is at least the deviation at this quantile over its normal value, so
    /// heavy-tailed series do not alarm on their ordinary large moves.
    pub tail_quantile: f64,
    pub(super) tail_z: f64,
    pub(super) z_band: f64,
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
            count_aware: true,
            sustained: true,
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

    pub(super) fn history(&self) -> usize {
        self.season * self.cycles
    }

    /// Departures kept for the yearly season: back to the weeks before a year ago.
    pub(super) fn yearly_history(&self) -> usize {
        if self.year == 0 {
            1
        } else {
            self.year + YEAR_USUAL.end() + 1
        }
    }
}

// The yearly season's fixed windows live beside the config, which sizes its history by them.

/// Days around a year ago (beyond [`EngineConfig::year`]) whose departure is last year's.
pub(super) const YEAR_AROUND: std::ops::RangeInclusive<usize> = 0..=2;

/// Days before a year ago whose departures were usual then (four weeks, ending two before).
pub(super) const YEAR_USUAL: std::ops::RangeInclusive<usize> = 14..=41;

/// How far (in sigmas) last year's departure must stand out to be expected again.
pub(super) const YEAR_CLEAR: f64 = 3.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitivity_is_validated() {
        assert!(Sensitivity::new(70.0).is_ok());
        for bad in [-1.0, 100.5, f64::NAN] {
            assert!(Sensitivity::new(bad).is_err());
        }
    }
}
