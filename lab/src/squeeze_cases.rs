//! Root-cause cases like Squeeze's dataset B0 (Li et al., ISSRE 2019, "Generic and Robust
//! Localization of Multi-Dimensional Root Causes"), generated from a seed, so root-cause
//! localisation can be measured on as many unseen cases as it takes.
//!
//! The recipe is the paper's for dataset B: a grid of leaves over four dimensions with
//! forecasts, normal leaves whose real value is the forecast plus noise, and `n_ele` root-cause
//! elements in the cuboids of `layer` dimensions whose descendant leaves all move by the cause's
//! relative change (the ripple effect). The parameters below were read off the shape of the
//! shared B0 sample (`../shared/data/rca/squeeze-B0-sample`, 90 cases over 10 intervals), not
//! its data:
//!
//! | what | sample | here |
//! |---|---|---|
//! | dimensions | a, b, c, d with 6, 36, 10, 10 values, every combination a leaf (21,600) | the same |
//! | leaves with a zero forecast | 36%, structural (same leaves in every interval), share per value: a 31-39%, b 16-91%, c 10-97%, d 31-77% | a leaf is live with probability logistic(0.75 + z_a + z_b + z_c + z_d), z ~ N(0, s) per value, s = 0.15, 1.2, 1.6, 0.5 |
//! | log of live forecasts | mean 2.3-3.6, sd 2.2-2.7; shares of its variance explained per dimension: a 7%, b 13%, c 32%, d 1% | mean ~ U(2.3, 3.6), per-value effects N(0, 0.67 / 0.92 / 1.45 / 0.26), leaf term N(0, 1.75) |
//! | whole-number forecasts | 24-85% of live leaves per interval | each live leaf rounded (to at least 1) with probability ~ U(0.25, 0.85) per case |
//! | normal leaves | real / predict - 1 ~ N(0, 0.010) whatever the size | the same |
//! | a cause's change | a decrease of 40, 60, 80 or 100%, about equally often | the same |
//! | an affected leaf | real = predict x (1 - m) x (1 + noise); whole-number leaves are rounded (1 x 0.4 gives 0 or 1) | the same, with stochastic rounding |
//! | overlapping causes | a leaf under two causes takes the later one's change | the same |
//! | leaves of a cause with a live forecast | at least 6 (layer 3: 6-35, layer 2: 16-320, layer 1: 392-2,471) | at least 6 |
//! | significance: the causes' change over the total forecast | layer 1: 0.013-0.59, layer 2: 0.0005-0.040, layer 3: 0.0001-0.017 | causes redrawn until it lies in 0.01-0.6, 0.0005-0.05, 0.0001-0.02 |
//!
//! Causes are distinct elements of the cuboids of `layer` dimensions (each cause's cuboid drawn
//! on its own, as in the sample, where `d=d10;b=b24;d=d2` is one case), so none is the ancestor
//! of another.
//!
//! Seeds: [`TUNING`] for anything that chooses a parameter, [`EVALUATION`] for reporting only.
//! A seed gives one case per setting; case `(layer, n_ele, seed)` depends on all three.

use std::ops::Range;

use seismo_shared::rca::{Leaves, normalize_cause};

use crate::generate::Rng;

/// Seeds that tuning may look at.
pub const TUNING: Range<u64> = 0..1_000_000;
/// Seeds that nothing is tuned on: the figures reported for unseen cases.
pub const EVALUATION: Range<u64> = 1_000_000..2_000_000;

// The two seed sets never share a seed.
const _: () = assert!(TUNING.end <= EVALUATION.start);

/// The dimensions and their cardinalities (the B0 sample's).
pub const DIMENSIONS: [(&str, usize); 4] = [("a", 6), ("b", 36), ("c", 10), ("d", 10)];

/// The causes' relative changes (decreases), drawn equally often.
const MAGNITUDES: [f64; 4] = [0.4, 0.6, 0.8, 1.0];

/// Relative noise of a leaf's real value around its forecast (standard deviation).
pub const NOISE: f64 = 0.01;

/// Live leaves a cause needs at least.
const MIN_LIVE_LEAVES: usize = 6;

/// The B0 settings: causes fixing `layer` dimensions, `n_ele` of them.
pub const SETTINGS: [(usize, usize); 9] = [
    (1, 1),
    (1, 2),
    (1, 3),
    (2, 1),
    (2, 2),
    (2, 3),
    (3, 1),
    (3, 2),
    (3, 3),
];

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CaseOptions {
    /// Dimensions each cause fixes (1 to 4).
    pub layer: usize,
    /// Causes (at least 1).
    pub n_ele: usize,
    /// Relative noise of real around predict (the sample's: [`NOISE`]).
    pub noise: f64,
}

impl CaseOptions {
    /// A B0 setting with the sample's noise.
    pub fn new(layer: usize, n_ele: usize) -> Self {
        CaseOptions {
            layer: layer.clamp(1, DIMENSIONS.len()),
            n_ele: n_ele.max(1),
            noise: NOISE,
        }
    }

    /// The same with another noise level (0: real is exactly the forecast's ripple).
    pub fn with_noise(self, noise: f64) -> Self {
        CaseOptions { noise, ..self }
    }

    /// `B_cuboid_layer_{layer}_n_ele_{n_ele}`, the sample's folder name.
    pub fn setting(&self) -> String {
        format!("B_cuboid_layer_{}_n_ele_{}", self.layer, self.n_ele)
    }
}

/// One generated case.
#[derive(Debug, Clone)]
pub struct SqueezeCase {
    /// The seed it came from.
    pub seed: u64,
    /// The leaves (`a..d`, real against predict).
    pub leaves: Leaves,
    /// The true causes, `a=a1&b=b2;c=c3` (pairs sorted, causes sorted).
    pub truth: String,
    /// The causes' total change over the total forecast (B0's `significance`).
    pub significance: f64,
}

/// A cause: `(dimension, value)` pairs and its relative change.
#[derive(Debug, Clone, PartialEq)]
struct Injected {
    pairs: Vec<(usize, usize)>,
    change: f64,
}

impl Injected {
    fn contains(&self, leaf: &[usize]) -> bool {
        self.pairs.iter().all(|&(d, v)| leaf[d] == v)
    }

    fn notation(&self) -> String {
        let text = self
            .pairs
            .iter()
            .map(|&(d, v)| format!("{0}={0}{1}", DIMENSIONS[d].0, v + 1))
            .collect::<Vec<_>>()
            .join("&");
        normalize_cause(&text)
    }
}

/// Significance range per layer (the sample's, slightly widened).
fn significance_range(layer: usize) -> (f64, f64) {
    match layer {
        1 => (0.01, 0.6),
        2 => (0.0005, 0.05),
        _ => (0.0001, 0.02),
    }
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Rounds to a whole number, up with probability the fraction.
fn stochastic_round(x: f64, rng: &mut Rng) -> f64 {
    let floor = x.floor();
    if rng.uniform() < x - floor {
        floor + 1.0
    } else {
        floor
    }
}

/// Every leaf's values, in grid order (the first dimension slowest).
fn grid() -> Vec<[usize; 4]> {
    let mut out = Vec::with_capacity(DIMENSIONS.iter().map(|d| d.1).product());
    for a in 0..DIMENSIONS[0].1 {
        for b in 0..DIMENSIONS[1].1 {
            for c in 0..DIMENSIONS[2].1 {
                for d in 0..DIMENSIONS[3].1 {
                    out.push([a, b, c, d]);
                }
            }
        }
    }
    out
}

/// The case of `seed` for a setting.
pub fn case(options: &CaseOptions, seed: u64) -> SqueezeCase {
    let layer = options.layer.clamp(1, DIMENSIONS.len());
    // Each setting draws its own stream from the seed.
    let mut rng = Rng::new(
        seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)
            ^ ((layer as u64) << 56)
            ^ ((options.n_ele as u64) << 48),
    );
    let leaves_at = grid();
    // Forecasts: a lognormal with per-value effects, zero on structurally empty leaves.
    const LIVE_SD: [f64; 4] = [0.15, 1.2, 1.6, 0.5];
    const LOG_SD: [f64; 4] = [0.67, 0.92, 1.45, 0.26];
    let effects = |rng: &mut Rng, sd: &[f64; 4]| -> Vec<Vec<f64>> {
        DIMENSIONS
            .iter()
            .zip(sd)
            .map(|(&(_, n), &s)| (0..n).map(|_| s * rng.normal()).collect())
            .collect()
    };
    let live = effects(&mut rng, &LIVE_SD);
    let size = effects(&mut rng, &LOG_SD);
    let mean = 2.3 + 1.3 * rng.uniform();
    let whole_share = 0.25 + 0.6 * rng.uniform();
    let mut predict = Vec::with_capacity(leaves_at.len());
    let mut whole = Vec::with_capacity(leaves_at.len());
    for leaf in &leaves_at {
        let sum = |e: &Vec<Vec<f64>>| (0..4).map(|d| e[d][leaf[d]]).sum::<f64>();
        if rng.uniform() >= logistic(0.75 + sum(&live)) {
            predict.push(0.0);
            whole.push(true);
            continue;
        }
        let value = (mean + sum(&size) + 1.75 * rng.normal()).exp();
        if rng.uniform() < whole_share {
            predict.push(value.round().max(1.0));
            whole.push(true);
        } else {
            predict.push(value);
            whole.push(false);
        }
    }
    let total: f64 = predict.iter().sum();
    // Causes: distinct elements of layer-dimension cuboids with enough live leaves, redrawn
    // until their change is as significant as the sample's.
    let (low, high) = significance_range(layer);
    let mut causes: Vec<Injected> = Vec::new();
    let mut change = vec![0.0; leaves_at.len()];
    let mut affected = vec![false; leaves_at.len()];
    let mut significance = 0.0;
    for _attempt in 0..1000 {
        causes.clear();
        while causes.len() < options.n_ele {
            let mut dims: Vec<usize> = (0..DIMENSIONS.len()).collect();
            for i in 0..layer {
                let j = i + (rng.next_u64() as usize) % (dims.len() - i);
                dims.swap(i, j);
            }
            let mut dims = dims[..layer].to_vec();
            dims.sort_unstable();
            let pairs: Vec<(usize, usize)> = dims
                .iter()
                .map(|&d| (d, (rng.next_u64() as usize) % DIMENSIONS[d].1))
                .collect();
            let change = -MAGNITUDES[(rng.next_u64() % MAGNITUDES.len() as u64) as usize];
            let cause = Injected { pairs, change };
            if causes.iter().any(|c| c.pairs == cause.pairs) {
                continue;
            }
            let live_leaves = leaves_at
                .iter()
                .zip(&predict)
                .filter(|(leaf, p)| **p > 0.0 && cause.contains(&leaf[..]))
                .count();
            if live_leaves >= MIN_LIVE_LEAVES {
                causes.push(cause);
            }
        }
        // The later cause wins where two overlap.
        change.iter_mut().for_each(|c| *c = 0.0);
        affected.iter_mut().for_each(|a| *a = false);
        for cause in &causes {
            for (i, leaf) in leaves_at.iter().enumerate() {
                if cause.contains(&leaf[..]) {
                    change[i] = cause.change;
                    affected[i] = true;
                }
            }
        }
        let moved: f64 = (0..predict.len())
            .map(|i| predict[i] * change[i])
            .sum::<f64>();
        significance = moved.abs() / total;
        if (low..=high).contains(&significance) {
            break;
        }
    }
    let mut leaves = Leaves::new(DIMENSIONS.iter().map(|d| d.0.to_string()).collect());
    let names: Vec<Vec<String>> = DIMENSIONS
        .iter()
        .map(|&(d, n)| (1..=n).map(|v| format!("{d}{v}")).collect())
        .collect();
    for (i, leaf) in leaves_at.iter().enumerate() {
        let p = predict[i];
        let mut target = p * (1.0 + change[i]);
        // Rounding is noise too: without noise, real is exactly the ripple of the forecast.
        if affected[i] && whole[i] && options.noise > 0.0 {
            target = stochastic_round(target, &mut rng);
        }
        let real = (target * (1.0 + options.noise * rng.normal())).max(0.0);
        let values: Vec<&str> = (0..4).map(|d| names[d][leaf[d]].as_str()).collect();
        leaves.push(&values, real, p);
    }
    let mut truth: Vec<String> = causes.iter().map(Injected::notation).collect();
    truth.sort();
    SqueezeCase {
        seed,
        leaves,
        truth: truth.join(";"),
        significance,
    }
}

/// Parses a seed set: `eval`, `tune` or `A-B` (inclusive start, exclusive end).
pub fn seeds(text: &str) -> Option<Range<u64>> {
    match text {
        "eval" | "evaluation" => Some(EVALUATION),
        "tune" | "tuning" => Some(TUNING),
        _ => {
            let (a, b) = text.split_once('-')?;
            let (a, b): (u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
            (a < b).then_some(a..b)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seismo_shared::rca::{self, RcaOptions};

    #[test]
    fn a_seed_gives_the_same_case_and_another_seed_another() {
        let options = CaseOptions::new(2, 2);
        let (a, b, c) = (case(&options, 5), case(&options, 5), case(&options, 6));
        assert_eq!(a.truth, b.truth);
        assert_eq!(a.leaves.actual, b.leaves.actual);
        assert_eq!(a.leaves.expected, b.leaves.expected);
        assert_ne!(a.leaves.expected, c.leaves.expected);
        // Settings draw their own streams from one seed.
        assert_ne!(
            case(&CaseOptions::new(1, 2), 5).leaves.expected,
            a.leaves.expected
        );
    }

    #[test]
    fn the_truth_has_the_requested_layer_and_count() {
        for (layer, n_ele) in SETTINGS {
            let options = CaseOptions::new(layer, n_ele);
            for seed in 0..3 {
                let generated = case(&options, seed);
                let causes: Vec<&str> = generated.truth.split(';').collect();
                assert_eq!(causes.len(), n_ele, "{} seed {seed}", options.setting());
                for cause in causes {
                    assert_eq!(cause.split('&').count(), layer, "{cause}");
                }
                let (low, high) = significance_range(layer);
                assert!(
                    (low..=high).contains(&generated.significance),
                    "{} seed {seed}: significance {}",
                    options.setting(),
                    generated.significance
                );
                assert_eq!(generated.leaves.len(), 21_600);
            }
        }
    }

    #[test]
    fn normal_leaves_keep_their_forecast_within_the_noise() {
        let generated = case(&CaseOptions::new(3, 1), 11);
        let leaves = &generated.leaves;
        let cause = generated.truth.clone();
        let hit = |i: usize| {
            cause.split('&').all(|pair| {
                let (d, v) = pair.split_once('=').unwrap();
                let d = leaves.dimensions.iter().position(|n| n == d).unwrap();
                leaves.values[d][leaves.keys[i][d] as usize] == v
            })
        };
        let deviations: Vec<f64> = (0..leaves.len())
            .filter(|&i| leaves.expected[i] > 0.0 && !hit(i))
            .map(|i| leaves.actual[i] / leaves.expected[i] - 1.0)
            .collect();
        let sd = (deviations.iter().map(|d| d * d).sum::<f64>() / deviations.len() as f64).sqrt();
        assert!((sd - NOISE).abs() < 0.001, "noise sd {sd}");
        // About a third of the leaves forecast nothing, as in the sample.
        let zero = leaves.expected.iter().filter(|p| **p == 0.0).count();
        assert!((4000..12000).contains(&zero), "{zero} zero leaves");
    }

    #[test]
    fn without_noise_every_setting_is_localised_exactly() {
        let mut failed = Vec::new();
        for (layer, n_ele) in SETTINGS {
            for seed in 0..5 {
                let options = CaseOptions::new(layer, n_ele).with_noise(0.0);
                let generated = case(&options, seed);
                let found = rca::notation(
                    &rca::localize(&generated.leaves, &RcaOptions::default()),
                    &generated.leaves,
                );
                if found != generated.truth {
                    failed.push(format!(
                        "{} seed {seed}: {found} for {}",
                        options.setting(),
                        generated.truth
                    ));
                }
            }
        }
        assert!(failed.is_empty(), "{failed:#?}");
    }

    #[test]
    fn seed_sets_parse_and_do_not_overlap() {
        assert_eq!(seeds("eval"), Some(EVALUATION));
        assert_eq!(seeds("tune"), Some(TUNING));
        assert_eq!(seeds("10-20"), Some(10..20));
        assert_eq!(seeds("20-10"), None);
        assert_eq!(seeds("x"), None);
    }
}
