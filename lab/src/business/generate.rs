//! The generator of `seismo bench business`: hourly orders and revenue of a shop by region,
//! channel and plan, with every parameter known, so each injected incident has an oracle z.
//!
//! Per leaf (one region x channel x plan combination), the true mean of orders in hour `t` is
//! `mu_t = base x daily(t) x weekly(t) x trend(t) x holiday(t)`, and orders are drawn from a
//! gamma-Poisson (negative binomial) with that mean and variance `mu_t + mu_t^2 / k`. Revenue is
//! the sum of the hour's baskets, each basket gamma-distributed with mean `price` and
//! coefficient of variation `cv`: given `N` orders it is `price x Gamma(N / cv^2) x cv^2`, so
//! its mean is `price x mu_t` and its variance `price^2 x (cv^2 mu_t + mu_t + mu_t^2 / k)`.

use std::fmt::Write as _;

use serde::Serialize;

use seismo_shared::backtest::TRAIN_FRACTION;
use seismo_shared::model::CreateMetricSetRequest;
use seismo_shared::time::{Zone, format_java};

use crate::generate::{Rng, hourly_orders_and_revenue};

/// The measures, in the order of the metric set (and of every `[_; 2]` here).
pub const MEASURES: [&str; 2] = ["orders", "revenue"];

/// Index of orders in [`MEASURES`].
pub const ORDERS: usize = 0;
/// Index of revenue in [`MEASURES`].
pub const REVENUE: usize = 1;

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// Dimension names and the values a data set draws its first few from.
const DIMENSIONS: [(&str, &[&str]); 3] = [
    ("region", &["US", "EU", "APAC", "LATAM", "MEA"]),
    ("channel", &["web", "mobile", "app", "partner"]),
    ("plan", &["free", "pro", "enterprise"]),
];

/// Hours from UTC of each region's local time (drives its daily cycle).
const REGION_SHIFT: [f64; 5] = [-6.0, 1.0, 8.0, -4.0, 3.0];
/// Weekend multiplier of each channel before the per-leaf jitter.
const CHANNEL_WEEKEND: [f64; 4] = [0.7, 1.15, 1.25, 0.5];
/// Mean basket price of each plan before the per-leaf jitter.
const PLAN_PRICE: [f64; 3] = [20.0, 80.0, 400.0];

/// Depth changes at most this far from 1 (-90%, +200%) and at least this much (3%).
const MIN_FACTOR: f64 = 0.1;
const MAX_FACTOR: f64 = 3.0;
const MIN_CHANGE: f64 = 0.03;

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct BusinessOptions {
    /// Random seed: everything below follows from it.
    pub seed: u64,
    /// Weeks of hourly data.
    pub weeks: u32,
    /// First hour (epoch seconds, UTC, a Monday midnight).
    pub start: i64,
}

impl BusinessOptions {
    /// Ten weeks from Monday 2026-08-03 with this seed.
    pub fn new(seed: u64) -> Self {
        BusinessOptions {
            seed,
            weeks: 10,
            start: 1_785_715_200,
        }
    }
}

/// The known parameters of one leaf series.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeafParams {
    /// Its dimension values, in the order of [`Dataset::dimensions`].
    pub dims: Vec<String>,
    /// Mean orders per hour before the cycles and the trend (log-uniform, 0.5 to 3,000).
    pub base: f64,
    /// Amplitude of the daily cosine (0.3-0.8).
    pub daily_amplitude: f64,
    /// Local hour of the daily peak.
    pub peak_hour: f64,
    /// Hours from UTC of its region.
    pub shift: f64,
    /// Multiplier on Saturdays and Sundays (UTC).
    pub weekend: f64,
    /// Relative growth over the whole span (-0.15 to +0.3).
    pub trend: f64,
    /// Negative-binomial shape: variance `mu + mu^2 / k`.
    pub k: f64,
    /// Mean basket price.
    pub price: f64,
    /// Coefficient of variation of one basket.
    pub price_cv: f64,
}

/// A day or two of unusual but normal business (all leaves, both measures).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Holiday {
    /// Its first midnight (epoch seconds).
    pub start: i64,
    /// Days it lasts.
    pub days: i64,
    /// Multiplier on the mean of every leaf.
    pub factor: f64,
}

impl Holiday {
    /// Whether the hour starting at `t` is in it.
    pub fn contains(&self, t: i64) -> bool {
        t >= self.start && t < self.start + self.days * DAY
    }
}

/// Slice depth: how many dimensions it fixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Depth {
    /// The whole measure (`*`).
    Whole,
    /// One dimension value (`region=EU`).
    Value,
    /// A pair of values (`region=EU&channel=web`).
    Pair,
    /// A single leaf (all three dimensions).
    Leaf,
}

impl Depth {
    /// The short name printed in tables.
    pub fn name(self) -> &'static str {
        match self {
            Depth::Whole => "whole",
            Depth::Value => "value",
            Depth::Pair => "pair",
            Depth::Leaf => "leaf",
        }
    }
}

/// One incident as one measure sees it: what a detector should find. An incident injected on
/// orders changes revenue too (revenue is orders x basket) and so is two of these, one per
/// measure, each with its own oracle z; one injected on revenue (a price error) is one.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Incident {
    /// Index of the injected event (shared by the measures it changes).
    pub event: usize,
    /// Index into [`MEASURES`].
    pub measure: usize,
    /// The measure it was injected on (revenue follows orders).
    pub injected_on: usize,
    /// The slice: (dimension, value) pairs that must all match; empty for the whole measure.
    pub slice: Vec<(String, String)>,
    /// First hour (epoch seconds).
    pub start: i64,
    /// Hours it lasts (1-6).
    pub hours: i64,
    /// Multiplier on the mean of the slice's leaves.
    pub factor: f64,
    /// The slice total's deviation from its true mean over the incident, in true standard
    /// deviations: `sum(mu_incident - mu) / sqrt(sum(variance))` over its hours and leaves.
    pub z: f64,
}

impl Incident {
    /// Last hour (epoch seconds).
    pub fn end(&self) -> i64 {
        self.start + (self.hours - 1) * HOUR
    }

    /// Whether the slice holds the leaf with these dimension values.
    pub fn holds(&self, dimensions: &[String], dims: &[String]) -> bool {
        slice_holds(&self.slice, dimensions, dims)
    }

    /// The slice in the `a=a1&b=b2` notation, `*` for the whole measure.
    pub fn slice_notation(&self) -> String {
        if self.slice.is_empty() {
            return "*".into();
        }
        self.slice
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// How many dimensions the slice fixes.
    pub fn depth(&self) -> Depth {
        match self.slice.len() {
            0 => Depth::Whole,
            1 => Depth::Value,
            2 => Depth::Pair,
            _ => Depth::Leaf,
        }
    }

    /// Spike or drop.
    pub fn kind(&self) -> &'static str {
        if self.factor > 1.0 { "spike" } else { "drop" }
    }
}

/// Whether the slice (pairs) holds the leaf with values `dims` of `dimensions`.
pub(crate) fn slice_holds(
    slice: &[(String, String)],
    dimensions: &[String],
    dims: &[String],
) -> bool {
    slice.iter().all(|(name, value)| {
        dimensions
            .iter()
            .position(|d| d == name)
            .is_some_and(|i| dims.get(i) == Some(value))
    })
}

/// A generated data set with its truth.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// What it was generated from.
    pub options: BusinessOptions,
    /// Dimension names (region, channel, plan).
    pub dimensions: Vec<String>,
    /// Values each dimension takes in this data set.
    pub values: Vec<Vec<String>>,
    /// The leaf series.
    pub leaves: Vec<LeafParams>,
    /// Holidays (one in the training window, one in the scored window).
    pub holidays: Vec<Holiday>,
    /// The incidents, per measure, oldest first.
    pub incidents: Vec<Incident>,
    /// Hours of data.
    pub hours: usize,
    /// Index of the first scored hour (the backtest's split).
    pub first_scored: usize,
    /// The drawn values: `values[measure][leaf][hour]` (revenue rounded to cents, as written).
    pub data: [Vec<Vec<f64>>; 2],
}

impl Dataset {
    /// Epoch seconds of hour index `i`.
    pub fn time(&self, i: usize) -> i64 {
        self.options.start + i as i64 * HOUR
    }

    /// The true means of a leaf in hour `i` without incidents: orders and revenue.
    pub fn mean(&self, leaf: usize, i: usize) -> [f64; 2] {
        let p = &self.leaves[leaf];
        let mu = orders_mean(p, self.options.start, self.hours, &self.holidays, i);
        [mu, mu * p.price]
    }

    /// The true variances of a leaf in hour `i` without incidents: orders and revenue.
    pub fn variance(&self, leaf: usize, i: usize) -> [f64; 2] {
        let p = &self.leaves[leaf];
        let mu = self.mean(leaf, i)[ORDERS];
        variances(p, mu)
    }

    /// Leaf series x measures x days of the scored window, holidays left out.
    pub fn series_days(&self) -> f64 {
        let scored: usize = (self.first_scored..self.hours)
            .filter(|&i| !self.holidays.iter().any(|h| h.contains(self.time(i))))
            .count();
        (self.leaves.len() * MEASURES.len()) as f64 * scored as f64 / 24.0
    }

    /// The data as the old service's CSV: one row per leaf and hour.
    pub fn csv(&self) -> String {
        let mut out = String::with_capacity(self.hours * self.leaves.len() * 48);
        out.push_str("timestamp,");
        out.push_str(&self.dimensions.join(","));
        out.push_str(",orders,revenue\n");
        for i in 0..self.hours {
            let ts =
                format_java(self.time(i), "yyyy-MM-dd HH:mm:ss", Zone::UTC).unwrap_or_default();
            for (l, leaf) in self.leaves.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{ts},{},{:.0},{:.2}",
                    leaf.dims.join(","),
                    self.data[ORDERS][l][i],
                    self.data[REVENUE][l][i]
                );
            }
        }
        out
    }

    /// The CreateMetricSet request that describes [`Dataset::csv`].
    pub fn metric_set(&self) -> CreateMetricSetRequest {
        hourly_orders_and_revenue(
            &format!("business-{}", self.options.seed),
            "Hourly orders and revenue by region, channel and plan (seismo bench business)",
            self.dimensions.clone(),
            None,
            "s3://seismo-business/historical/".into(),
        )
    }
}

fn orders_mean(p: &LeafParams, start: i64, hours: usize, holidays: &[Holiday], i: usize) -> f64 {
    let t = start + i as i64 * HOUR;
    let hour = (i % 24) as f64;
    let weekday = (i / 24) % 7;
    let local = (hour + p.shift).rem_euclid(24.0);
    let daily =
        1.0 + p.daily_amplitude * (std::f64::consts::TAU * (local - p.peak_hour) / 24.0).cos();
    let weekly = if weekday >= 5 { p.weekend } else { 1.0 };
    let trend = 1.0 + p.trend * i as f64 / hours as f64;
    let holiday: f64 = holidays
        .iter()
        .filter(|h| h.contains(t))
        .map(|h| h.factor)
        .product();
    p.base * daily * weekly * trend * holiday
}

fn variances(p: &LeafParams, mu: f64) -> [f64; 2] {
    let orders = mu + mu * mu / p.k;
    let revenue = p.price * p.price * (p.price_cv * p.price_cv * mu + orders);
    [orders, revenue]
}

/// Gamma(shape, 1) (Marsaglia and Tsang; shape below 1 by boosting).
fn gamma(rng: &mut Rng, shape: f64) -> f64 {
    if shape <= 0.0 {
        return 0.0;
    }
    if shape < 1.0 {
        let u = rng.uniform().max(1e-300);
        return gamma(rng, shape + 1.0) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = rng.normal();
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u = rng.uniform().max(1e-300);
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

/// Poisson(lambda): Knuth's product of uniforms when small, else a rounded normal (mean and
/// variance within a rounding's 1/12 of lambda).
fn poisson(rng: &mut Rng, lambda: f64) -> f64 {
    if lambda <= 0.0 {
        return 0.0;
    }
    if lambda < 30.0 {
        let limit = (-lambda).exp();
        let (mut n, mut product) = (0.0, rng.uniform());
        while product > limit {
            n += 1.0;
            product *= rng.uniform();
        }
        return n;
    }
    (lambda + lambda.sqrt() * rng.normal()).round().max(0.0)
}

fn log_uniform(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    (lo.ln() + rng.uniform() * (hi.ln() - lo.ln())).exp()
}

fn between(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    lo + rng.uniform() * (hi - lo)
}

fn pick(rng: &mut Rng, n: usize) -> usize {
    (rng.next_u64() % n as u64) as usize
}

/// The |z| an injection aims at: a twentieth below 3 (reported, not a goal), a quarter 3-5,
/// 30% 5-8 and 40% 8-60 (log-uniform): large targets fail more often (a sparse slice cannot
/// move 8 sigmas within -90%/+200%, and revenue that follows orders moves fewer of its own
/// sigmas), so they are drawn more to fill each bin about evenly.
fn target_z(rng: &mut Rng) -> f64 {
    let u = rng.uniform();
    if u < 0.05 {
        between(rng, 2.0, 3.0)
    } else if u < 0.3 {
        between(rng, 3.0, 5.0)
    } else if u < 0.6 {
        between(rng, 5.0, 8.0)
    } else {
        log_uniform(rng, 8.0, 60.0)
    }
}

/// Generates the data set of `options`.
pub fn generate(options: BusinessOptions) -> Dataset {
    let mut rng = Rng::new(options.seed ^ 0xb05_1e55);
    let hours = options.weeks as usize * 7 * 24;
    let first_scored = ((hours as f64 * TRAIN_FRACTION).floor() as usize).clamp(1, hours - 1);
    let cardinality = [
        3 + pick(&mut rng, 3),
        2 + pick(&mut rng, 3),
        2 + pick(&mut rng, 2),
    ];
    let dimensions: Vec<String> = DIMENSIONS.iter().map(|(n, _)| n.to_string()).collect();
    let values: Vec<Vec<String>> = DIMENSIONS
        .iter()
        .zip(cardinality)
        .map(|((_, v), n)| v[..n].iter().map(|s| s.to_string()).collect())
        .collect();
    let mut leaves = Vec::new();
    for r in 0..cardinality[0] {
        for c in 0..cardinality[1] {
            for p in 0..cardinality[2] {
                leaves.push(LeafParams {
                    dims: vec![
                        values[0][r].clone(),
                        values[1][c].clone(),
                        values[2][p].clone(),
                    ],
                    base: log_uniform(&mut rng, 0.5, 3000.0),
                    daily_amplitude: between(&mut rng, 0.3, 0.8),
                    peak_hour: between(&mut rng, 11.0, 21.0),
                    shift: REGION_SHIFT[r],
                    weekend: CHANNEL_WEEKEND[c] * between(&mut rng, 0.85, 1.15),
                    trend: between(&mut rng, -0.15, 0.3),
                    k: log_uniform(&mut rng, 20.0, 200.0),
                    price: PLAN_PRICE[p] * between(&mut rng, 0.8, 1.25),
                    price_cv: between(&mut rng, 0.3, 1.0),
                });
            }
        }
    }
    // One holiday in weeks 3-6 (training), one in the scored window away from its edges.
    let days = hours as i64 / 24;
    let first_scored_day = (first_scored as i64 + 23) / 24;
    let holiday = |rng: &mut Rng, from: i64, to: i64| {
        let closed = rng.uniform() < 0.5;
        Holiday {
            start: options.start + (from + pick(rng, (to - from).max(1) as usize) as i64) * DAY,
            days: 1 + pick(rng, 2) as i64,
            factor: if closed {
                between(rng, 0.35, 0.6)
            } else {
                between(rng, 1.5, 2.2)
            },
        }
    };
    let holidays = vec![
        holiday(&mut rng, 14.min(first_scored_day - 3), first_scored_day - 2),
        holiday(&mut rng, first_scored_day + 2, days - 2),
    ];
    let mut dataset = Dataset {
        options,
        dimensions,
        values,
        leaves,
        holidays,
        incidents: Vec::new(),
        hours,
        first_scored,
        data: [Vec::new(), Vec::new()],
    };
    dataset.incidents = inject(&mut rng, &dataset);
    dataset.data = draw(&mut rng, &dataset);
    dataset
}

/// Incidents in 48-hour slots of the scored window (the first and last slot and the slots that
/// touch a holiday left out), three slots in four holding one, each 2 or more hours from its
/// slot's edges: incidents of a measure never overlap and are at least 4 hours apart. About one
/// incident in 2.7 days per measure: with 12-hour slots (1.5 a day) every detector learns from
/// the incidents before it as much as from normal days, which no real business has.
fn inject(rng: &mut Rng, d: &Dataset) -> Vec<Incident> {
    const SLOT: usize = 48;
    let mut out = Vec::new();
    let mut event = 0;
    let mut slot = d.first_scored + SLOT;
    while slot + 2 * SLOT <= d.hours {
        let this = slot;
        slot += SLOT;
        let touches_holiday = d.holidays.iter().any(|h| {
            let (a, b) = (d.time(this), d.time(this + SLOT));
            a < h.start + h.days * DAY + 3 * HOUR && h.start < b + 3 * HOUR
        });
        if touches_holiday || rng.uniform() >= 0.75 {
            continue;
        }
        let length = 1 + pick(rng, 6);
        let offset = 2 + pick(rng, SLOT - length - 3);
        let first = this + offset;
        let injected_on = if rng.uniform() < 0.6 { ORDERS } else { REVENUE };
        let spike = rng.uniform() < 0.5;
        // Draw a slice and a target z until the factor that gives it is a plausible one.
        for _ in 0..30 {
            let slice = draw_slice(rng, d);
            let z = target_z(rng);
            let sums = slice_sums(d, &slice, first, length);
            let [mean, variance] = sums[injected_on];
            if mean <= 0.0 {
                continue;
            }
            let change = z * variance.sqrt() / mean;
            let factor = if spike { 1.0 + change } else { 1.0 - change };
            if !(MIN_FACTOR..=MAX_FACTOR).contains(&factor) || change < MIN_CHANGE {
                continue;
            }
            let measures: &[usize] = if injected_on == ORDERS {
                &[ORDERS, REVENUE]
            } else {
                &[REVENUE]
            };
            for &m in measures {
                let [mean, variance] = sums[m];
                out.push(Incident {
                    event,
                    measure: m,
                    injected_on,
                    slice: slice.clone(),
                    start: d.time(first),
                    hours: length as i64,
                    factor,
                    z: (factor - 1.0) * mean / variance.sqrt(),
                });
            }
            event += 1;
            break;
        }
    }
    out
}

/// A slice of a uniformly drawn depth: the whole measure, one value, a pair, or a leaf.
fn draw_slice(rng: &mut Rng, d: &Dataset) -> Vec<(String, String)> {
    let depth = pick(rng, 4);
    let mut fixed: Vec<usize> = (0..d.dimensions.len()).collect();
    // A random subset of `depth` dimensions, kept in schema order.
    while fixed.len() > depth {
        fixed.remove(pick(rng, fixed.len()));
    }
    fixed
        .into_iter()
        .map(|i| {
            let v = &d.values[i];
            (d.dimensions[i].clone(), v[pick(rng, v.len())].clone())
        })
        .collect()
}

/// Per measure, the sums of the true means and variances of the slice's leaves over `hours`
/// hours from index `first`.
fn slice_sums(
    d: &Dataset,
    slice: &[(String, String)],
    first: usize,
    hours: usize,
) -> [[f64; 2]; 2] {
    let mut sums = [[0.0; 2]; 2];
    for (l, leaf) in d.leaves.iter().enumerate() {
        if !slice_holds(slice, &d.dimensions, &leaf.dims) {
            continue;
        }
        for i in first..first + hours {
            let mean = d.mean(l, i);
            let variance = d.variance(l, i);
            for m in 0..2 {
                sums[m][0] += mean[m];
                sums[m][1] += variance[m];
            }
        }
    }
    sums
}

/// Draws every leaf's orders and revenue, with the incidents applied to their means.
// Hour by hour, then leaf by leaf: the order of the draws is part of what a seed means.
#[allow(clippy::needless_range_loop)]
fn draw(rng: &mut Rng, d: &Dataset) -> [Vec<Vec<f64>>; 2] {
    let mut data = [
        vec![vec![0.0; d.hours]; d.leaves.len()],
        vec![vec![0.0; d.hours]; d.leaves.len()],
    ];
    for i in 0..d.hours {
        let t = d.time(i);
        for (l, leaf) in d.leaves.iter().enumerate() {
            let mut factor = [1.0; 2];
            for inc in &d.incidents {
                if inc.measure == inc.injected_on
                    && t >= inc.start
                    && t <= inc.end()
                    && inc.holds(&d.dimensions, &leaf.dims)
                {
                    factor[inc.injected_on] *= inc.factor;
                }
            }
            let mu = d.mean(l, i)[ORDERS] * factor[ORDERS];
            let lambda = gamma(rng, leaf.k) * mu / leaf.k;
            let orders = poisson(rng, lambda);
            let shape = orders / (leaf.price_cv * leaf.price_cv);
            let baskets = gamma(rng, shape) * leaf.price_cv * leaf.price_cv;
            let revenue = leaf.price * factor[REVENUE] * baskets;
            data[ORDERS][l][i] = orders;
            data[REVENUE][l][i] = (revenue * 100.0).round() / 100.0;
        }
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(seed: u64) -> Dataset {
        generate(BusinessOptions {
            weeks: 4,
            ..BusinessOptions::new(seed)
        })
    }

    #[test]
    fn the_same_seed_gives_the_same_data_and_another_seed_other_data() {
        let (a, b, c) = (small(3), small(3), small(4));
        assert_eq!(a.data, b.data);
        assert_eq!(a.csv(), b.csv());
        assert_ne!(a.data, c.data);
    }

    #[test]
    fn counts_are_non_negative_integers_and_revenue_non_negative() {
        for seed in [1, 2, 3] {
            let d = small(seed);
            for leaf in &d.data[ORDERS] {
                assert!(leaf.iter().all(|x| *x >= 0.0 && x.fract() == 0.0));
            }
            for leaf in &d.data[REVENUE] {
                assert!(leaf.iter().all(|x| *x >= 0.0 && x.is_finite()));
            }
        }
    }

    #[test]
    fn cardinalities_vary_by_seed_within_their_ranges() {
        let mut sizes = std::collections::BTreeSet::new();
        for seed in 1..=12 {
            let d = small(seed);
            let n: Vec<usize> = d.values.iter().map(Vec::len).collect();
            assert!((3..=5).contains(&n[0]) && (2..=4).contains(&n[1]) && (2..=3).contains(&n[2]));
            assert_eq!(d.leaves.len(), n.iter().product::<usize>());
            sizes.insert(d.leaves.len());
        }
        assert!(sizes.len() > 3, "{sizes:?}");
    }

    #[test]
    fn incidents_lie_in_the_scored_window_apart_and_off_holidays() {
        let d = generate(BusinessOptions::new(5));
        let from = d.time(d.first_scored);
        assert!(d.incidents.len() > 2, "{}", d.incidents.len());
        for m in 0..2 {
            let mine: Vec<&Incident> = d.incidents.iter().filter(|i| i.measure == m).collect();
            for w in mine.windows(2) {
                assert!(w[1].start - w[0].end() >= 4 * HOUR, "{:?}", w);
            }
        }
        for inc in &d.incidents {
            assert!(inc.start >= from && inc.end() < d.time(d.hours));
            assert!((1..=6).contains(&inc.hours));
            assert!((MIN_FACTOR..=MAX_FACTOR).contains(&inc.factor));
            assert!(
                !d.holidays
                    .iter()
                    .any(|h| h.contains(inc.start) || h.contains(inc.end()))
            );
        }
        assert!(d.holidays.iter().any(|h| h.start >= from));
        assert!(d.holidays.iter().any(|h| h.start < from));
    }

    #[test]
    fn the_oracle_z_of_an_incident_is_its_slice_totals_deviation_in_true_sigmas() {
        // One leaf, by hand: base 100, no cycles, trend or holiday, k = 50, price 10, cv 0.5.
        let leaf = LeafParams {
            dims: vec!["US".into(), "web".into(), "free".into()],
            base: 100.0,
            daily_amplitude: 0.0,
            peak_hour: 0.0,
            shift: 0.0,
            weekend: 1.0,
            trend: 0.0,
            k: 50.0,
            price: 10.0,
            price_cv: 0.5,
        };
        let mut d = small(1);
        d.leaves = vec![leaf];
        d.holidays.clear();
        // A 4-hour drop of 20% on orders: orders mean 100, variance 100 + 100^2/50 = 300 per
        // hour, so z = 4 x (-20) / sqrt(4 x 300) = -2.309; revenue mean 1000 with variance
        // 10^2 x (0.25 x 100 + 300) = 32,500 per hour: z = 4 x (-200) / sqrt(4 x 32,500).
        let sums = slice_sums(&d, &[], 30, 4);
        let orders_z = (0.8 - 1.0) * sums[ORDERS][0] / sums[ORDERS][1].sqrt();
        let revenue_z = (0.8 - 1.0) * sums[REVENUE][0] / sums[REVENUE][1].sqrt();
        assert!(
            (orders_z - (-80.0 / 1200f64.sqrt())).abs() < 1e-9,
            "{orders_z}"
        );
        assert!(
            (revenue_z - (-800.0 / 130_000f64.sqrt())).abs() < 1e-9,
            "{revenue_z}"
        );
    }

    #[test]
    fn drawn_orders_have_the_mean_and_variance_the_oracle_uses() {
        let p = LeafParams {
            dims: vec![],
            base: 40.0,
            daily_amplitude: 0.0,
            peak_hour: 0.0,
            shift: 0.0,
            weekend: 1.0,
            trend: 0.0,
            k: 20.0,
            price: 50.0,
            price_cv: 0.6,
        };
        let mut rng = Rng::new(9);
        let n = 40_000;
        let (mut orders, mut revenue) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let lambda = gamma(&mut rng, p.k) * p.base / p.k;
            let o = poisson(&mut rng, lambda);
            let r = p.price * gamma(&mut rng, o / 0.36) * 0.36;
            orders.push(o);
            revenue.push(r);
        }
        let stats = |xs: &[f64]| {
            let mean = xs.iter().sum::<f64>() / xs.len() as f64;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
            (mean, var)
        };
        let [want_o, want_r] = variances(&p, 40.0);
        let (mo, vo) = stats(&orders);
        let (mr, vr) = stats(&revenue);
        assert!(
            (mo / 40.0 - 1.0).abs() < 0.02 && (vo / want_o - 1.0).abs() < 0.05,
            "{mo} {vo}"
        );
        assert!(
            (mr / 2000.0 - 1.0).abs() < 0.02 && (vr / want_r - 1.0).abs() < 0.05,
            "{mr} {vr}"
        );
    }
}
