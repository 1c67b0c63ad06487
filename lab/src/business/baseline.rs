//! The baseline of `seismo bench business`: what a careful analyst would write in an afternoon.
//!
//! Per leaf series, the expected value of an hour is the median of the same hour of the week
//! over the past (up to) four weeks, or of the same hour of the day over the past (up to) seven
//! days while less than a week of history exists. Its scale is `sqrt(max(expected, 1))` (a
//! Poisson-like scale) times the series' over-dispersion: the MAD (x 1.4826) of
//! `(x - expected) / sqrt(max(expected, 1))` over its training hours, or that residual's 99th
//! percentile / 2.576 when larger (a sparse series, mostly zeros, has a MAD of 0), at least 1. An hour is anomalous when
//! `|x - expected| / scale >= threshold`. The verdicts of the scored hours go through the same
//! [`Grouper`] the backtest uses, so groups and root causes are formed the same way.

use seismo_shared::engine::{Direction, Scored, severity};
use seismo_shared::group::{GroupReport, Grouper, Observation};

use super::generate::{Dataset, MEASURES};

/// A standard normal's sigma over its MAD.
const MAD_TO_SIGMA: f64 = 1.4826;
/// The 99th percentile of |x| for a standard normal.
const Q99_TO_SIGMA: f64 = 2.576;

/// Expected values and scales of every series and hour, computed once for all thresholds.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// `expected[measure][leaf][hour]` (NaN while there is no history).
    expected: [Vec<Vec<f64>>; 2],
    /// `dispersion[measure][leaf]`.
    dispersion: [Vec<f64>; 2],
}

fn median(xs: &mut [f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// The expected value of hour `i` of `series` from its past alone.
fn expected_at(series: &[f64], i: usize) -> f64 {
    let mut past: Vec<f64> = (1..=4)
        .filter_map(|w| i.checked_sub(w * 168).map(|j| series[j]))
        .collect();
    if past.is_empty() {
        past = (1..=7)
            .filter_map(|d| i.checked_sub(d * 24).map(|j| series[j]))
            .collect();
    }
    median(&mut past)
}

impl Baseline {
    /// Fits the baseline: its dispersion from the training hours (before `first_scored`).
    pub fn fit(d: &Dataset) -> Self {
        let expected = d.data.clone().map(|m| {
            m.iter()
                .map(|s| (0..s.len()).map(|i| expected_at(s, i)).collect())
                .collect::<Vec<Vec<f64>>>()
        });
        let dispersion = [0, 1].map(|m| {
            d.data[m]
                .iter()
                .zip(&expected[m])
                .map(|(x, e)| {
                    let mut r: Vec<f64> = (0..d.first_scored)
                        .filter(|&i| e[i].is_finite())
                        .map(|i| (x[i] - e[i]) / e[i].max(1.0).sqrt())
                        .collect();
                    let centre = median(&mut r.clone());
                    let mut deviations: Vec<f64> =
                        r.iter_mut().map(|v| (*v - centre).abs()).collect();
                    let mad = median(&mut deviations);
                    // A sparse series is mostly zeros: its MAD is 0 however large its rare
                    // values, so the 99th percentile (as a normal's 2.576 sigmas) bounds it.
                    let q99 = deviations
                        .get((deviations.len() as f64 * 0.99) as usize)
                        .copied()
                        .unwrap_or(f64::NAN);
                    let dispersion = (MAD_TO_SIGMA * mad).max(q99 / Q99_TO_SIGMA);
                    if dispersion.is_finite() {
                        dispersion.max(1.0)
                    } else {
                        1.0
                    }
                })
                .collect()
        });
        Baseline {
            expected,
            dispersion,
        }
    }

    /// The verdict on hour `i` of a series at `threshold` (sigmas), `None` without history.
    pub fn score(
        &self,
        d: &Dataset,
        measure: usize,
        leaf: usize,
        i: usize,
        threshold: f64,
    ) -> Option<Scored> {
        let expected = self.expected[measure][leaf][i];
        if !expected.is_finite() {
            return None;
        }
        let value = d.data[measure][leaf][i];
        let sigma = expected.max(1.0).sqrt() * self.dispersion[measure][leaf];
        let z = (value - expected) / sigma;
        Some(Scored {
            value,
            expected,
            lower: expected - threshold * sigma,
            upper: expected + threshold * sigma,
            z,
            sigma,
            severity: severity(z),
            direction: if z >= 0.0 {
                Direction::Spike
            } else {
                Direction::Drop
            },
            learning: false,
            anomalous: z.abs() >= threshold,
        })
    }

    /// The groups of the scored window at `threshold` (sigmas).
    pub fn groups(&self, d: &Dataset, threshold: f64) -> Vec<GroupReport> {
        let measures: Vec<String> = MEASURES.iter().map(|m| m.to_string()).collect();
        let mut grouper = Grouper::new(
            format!("baseline-{}", d.options.seed),
            d.dimensions.clone(),
            measures,
        )
        .with_interval_causes();
        for i in d.first_scored..d.hours {
            let mut observations = Vec::new();
            for (l, leaf) in d.leaves.iter().enumerate() {
                for m in 0..MEASURES.len() {
                    if let Some(scored) = self.score(d, m, l, i, threshold) {
                        observations.push(Observation {
                            measure: m,
                            dimensions: leaf.dims.as_slice(),
                            scored,
                        });
                    }
                }
            }
            grouper.push_interval(d.time(i), observations);
        }
        grouper.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expected_value_is_the_median_of_the_same_hour_of_past_weeks_or_days() {
        let mut series = vec![0.0; 5 * 168];
        for (w, v) in [(0, 10.0), (1, 30.0), (2, 20.0), (3, 1000.0)] {
            series[w * 168 + 5] = v;
        }
        // Weeks 0-3 at hour 5 of week 4: median of 10, 30, 20, 1000.
        assert_eq!(expected_at(&series, 4 * 168 + 5), 25.0);
        // Less than a week of history: the same hour of the past days (hour 5 only of day 0).
        assert_eq!(expected_at(&series, 24 + 5), 10.0);
        assert!(expected_at(&series, 5).is_nan());
    }

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }
}
