//! Root-cause localisation: given one interval's leaves of a measure (each a combination of
//! dimension values with its actual and expected value), find the fewest dimension-value
//! combinations (`region=EU&channel=mobile`) that explain the deviation.
//!
//! The method, greedy and exact in its search:
//! - every combination of dimension values that holds a leaf is a candidate (all cuboids: any
//!   number of dimensions fixed, the whole measure included);
//! - a candidate explains its unexplained leaves by one shift per unit of their base (the
//!   "ripple effect": a cause scales the leaves of an additive measure in proportion, and moves
//!   the rate of every leaf of a ratio measure by the same amount);
//! - the candidate that most reduces the total absolute error of the leaves is taken, each fixed
//!   dimension discounting its gain by a fifth (simpler causes first), provided it explains
//!   enough (0.2% of the initial error, 5% of what the first cause explained) and moves its
//!   leaves enough (5%) to be more than noise; then the next, until nothing left is worth it.
//!   A cause that generalises causes already taken replaces them, so nothing is explained twice.
//!
//! Derived measures (ratios such as `(cnt - value) / cnt`) become additive first: a leaf's
//! numerator against its denominator times its expected ratio ([`Leaves::ratio`]).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// One interval's leaves of a measure.
#[derive(Debug, Clone, Default)]
pub struct Leaves {
    /// Dimension names.
    pub dimensions: Vec<String>,
    /// Per dimension, its values (a leaf stores indices into these).
    pub values: Vec<Vec<String>>,
    /// Per leaf, the index of its value in each dimension.
    pub keys: Vec<Vec<u32>>,
    /// Per leaf, the actual value.
    pub actual: Vec<f64>,
    /// Per leaf, the expected value.
    pub expected: Vec<f64>,
    /// Per leaf, what a cause's change is proportional to: the expected value for additive
    /// measures (a cause scales its leaves), the denominator for ratios (a cause shifts the
    /// rate of its leaves by the same amount).
    pub base: Vec<f64>,
    /// Per leaf, the standard deviation of its normal noise when known (0 when not): a cause
    /// must then move its leaves by more than their noise can.
    pub noise: Vec<f64>,
    index: Vec<HashMap<String, u32>>,
}

impl Leaves {
    /// No leaves yet, for these dimensions.
    pub fn new(dimensions: Vec<String>) -> Self {
        let n = dimensions.len();
        Leaves {
            dimensions,
            values: vec![Vec::new(); n],
            index: vec![HashMap::new(); n],
            ..Leaves::default()
        }
    }

    /// Adds a leaf of an additive measure. Non-finite values count as 0.
    pub fn push(&mut self, dimension_values: &[&str], actual: f64, expected: f64) {
        // A leaf with fewer values than dimensions gets "" for the missing ones.
        let key = (0..self.dimensions.len())
            .map(|d| dimension_values.get(d).copied().unwrap_or(""))
            .enumerate()
            .map(|(d, v)| {
                let next = self.values[d].len() as u32;
                *self.index[d].entry(v.to_string()).or_insert_with(|| {
                    self.values[d].push(v.to_string());
                    next
                })
            })
            .collect();
        self.keys.push(key);
        let finite = |v: f64| if v.is_finite() { v } else { 0.0 };
        self.actual.push(finite(actual));
        self.expected.push(finite(expected));
        self.base.push(finite(expected));
        self.noise.push(0.0);
    }

    /// Sets the noise of the last leaf pushed.
    pub fn with_noise(&mut self, sigma: f64) -> &mut Self {
        if let Some(n) = self.noise.last_mut() {
            *n = if sigma.is_finite() { sigma.abs() } else { 0.0 };
        }
        self
    }

    /// Adds a leaf of a ratio measure `numerator / denominator` as an additive one: its actual
    /// numerator against the numerator the expected ratio gives at its actual denominator.
    pub fn ratio(
        &mut self,
        dimension_values: &[&str],
        numerator: f64,
        denominator: f64,
        expected_ratio: f64,
    ) {
        self.push(dimension_values, numerator, denominator * expected_ratio);
        if let Some(b) = self.base.last_mut() {
            *b = if denominator.is_finite() {
                denominator
            } else {
                0.0
            };
        }
    }

    /// Number of leaves.
    pub fn len(&self) -> usize {
        self.actual.len()
    }

    /// Whether there are no leaves.
    pub fn is_empty(&self) -> bool {
        self.actual.is_empty()
    }
}

/// A combination of dimension values: `(dimension index, value index)` pairs, by dimension.
/// No pair at all is the whole measure.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Element(pub Vec<(usize, u32)>);

impl Element {
    /// `a=a1&b=b2` (`*` for the whole measure).
    pub fn notation(&self, leaves: &Leaves) -> String {
        if self.0.is_empty() {
            return "*".into();
        }
        self.0
            .iter()
            .map(|&(d, v)| format!("{}={}", leaves.dimensions[d], leaves.values[d][v as usize]))
            .collect::<Vec<_>>()
            .join("&")
    }

    fn contains(&self, key: &[u32]) -> bool {
        self.0.iter().all(|&(d, v)| key[d] == v)
    }
}

/// One cause found.
#[derive(Debug, Clone, PartialEq)]
pub struct Cause {
    /// The combination.
    pub element: Element,
    /// Actual over expected, summed over the leaves it explains (infinite when nothing was
    /// expected of them).
    pub ratio: f64,
    /// Share (0-100) of the initial absolute error it explains.
    pub explained: f64,
}

/// Parameters; one configuration serves every dataset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RcaOptions {
    /// Most causes reported.
    pub max_causes: usize,
    /// A cause must explain at least this share of the initial error.
    pub min_gain: f64,
    /// A further cause must explain at least this share of what the first one explained.
    pub min_gain_of_first: f64,
    /// How much each fixed dimension discounts a candidate's gain (prefers simpler causes).
    pub parsimony: f64,
    /// Most dimensions fixed by a cause (at most 4).
    pub max_dimensions: usize,
    /// Deviation (relative to the total expected) under which nothing is anomalous.
    pub min_deviation: f64,
    /// A cause moves its leaves by at least this much (|ratio - 1|): smaller moves are noise.
    pub min_change: f64,
    /// Where the leaves' noise is known, a cause's total deviation is at least this many of
    /// its leaves' combined standard deviations.
    pub significance: f64,
    /// [`Self::min_gain`] where the noise is known or estimated: the significance test then
    /// says what is more than noise.
    pub min_gain_with_noise: f64,
    /// [`Self::min_gain_of_first`] where the noise is known or estimated.
    pub min_gain_of_first_with_noise: f64,
    /// Where no noise is given and at least this many leaves expect something, the noise is
    /// estimated: one relative deviation for all leaves, from their typical deviation.
    pub estimate_noise_from: usize,
}

impl Default for RcaOptions {
    fn default() -> Self {
        RcaOptions {
            max_causes: 5,
            min_gain: 0.002,
            min_gain_of_first: 0.05,
            parsimony: 0.2,
            max_dimensions: 3,
            min_deviation: 1e-6,
            min_change: 0.05,
            significance: 4.0,
            min_gain_with_noise: 0.0001,
            min_gain_of_first_with_noise: 0.0,
            estimate_noise_from: 200,
        }
    }
}

/// Sums over the unexplained leaves of one element of a cuboid.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    /// The element's values, packed 32 bits each.
    key: u128,
    actual: f64,
    expected: f64,
    /// Sum of |actual - expected|.
    error: f64,
    /// Sum of |base|.
    base: f64,
    /// Sum of the leaves' noise variances.
    variance: f64,
    /// Leaves.
    count: f64,
    /// Sum of |error| left once the element's one shift is applied.
    fitted: f64,
}

/// A hasher for packed element keys (FxHash's multiply-rotate): the keys are small integers
/// from the data itself, so the denial-of-service resistance of the default hasher buys nothing
/// here, and its cost dominated localisation.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_u128(&mut self, n: u128) {
        self.write_u64(n as u64);
        self.write_u64((n >> 64) as u64);
    }
}

/// Most dimensions a cause may fix (its values are packed into 128 bits).
const MAX_CAUSE_DIMENSIONS: usize = 4;

/// Every subset of `0..n` with 0 to `max` members, smaller first.
fn cuboids(n: usize, max: usize) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = (0u32..1 << n)
        .map(|mask| (0..n).filter(|d| mask & (1 << d) != 0).collect::<Vec<_>>())
        .filter(|c: &Vec<usize>| c.len() <= max)
        .collect();
    out.sort_by_key(Vec::len);
    out
}

/// Per leaf, its noise estimated from the leaves themselves, when none is given, the measure is
/// additive and there are enough leaves: most leaves are normal, so the median of |actual / expected - 1| over the
/// leaves that expect something is the noise's (a normal's median absolute value is 0.6745
/// of its standard deviation), and each leaf's noise is in proportion to what it expects.
/// This is what makes small causes beside a large one findable (Squeeze's B0: a cause can
/// move 0.4% of what another does) without reporting noise.
fn estimated_noise(leaves: &Leaves, options: &RcaOptions) -> Option<Vec<f64>> {
    // Given noise is kept; ratio leaves (base is the denominator) follow no relative model.
    if leaves.noise.iter().any(|&x| x > 0.0) || leaves.base != leaves.expected {
        return None;
    }
    let mut deviations: Vec<f64> = (0..leaves.len())
        .filter(|&i| leaves.expected[i].abs() > 0.0)
        .map(|i| (leaves.actual[i] / leaves.expected[i] - 1.0).abs())
        .filter(|d| d.is_finite())
        .collect();
    if deviations.len() < options.estimate_noise_from.max(1) {
        return None;
    }
    let middle = deviations.len() / 2;
    let (_, median, _) = deviations.select_nth_unstable_by(middle, f64::total_cmp);
    // Leaves that match their forecast exactly have next to no noise: any move is a cause.
    let relative = (*median / 0.6745).max(1e-9);
    Some(leaves.expected.iter().map(|f| relative * f.abs()).collect())
}

/// Finds the root causes of the deviation of `leaves`.
pub fn localize(leaves: &Leaves, options: &RcaOptions) -> Vec<Cause> {
    let n = leaves.len();
    let (v, f) = (&leaves.actual, &leaves.expected);
    let initial: f64 = (0..n).map(|i| (v[i] - f[i]).abs()).sum();
    let scale: f64 = f
        .iter()
        .map(|x| x.abs())
        .sum::<f64>()
        .max(v.iter().map(|x| x.abs()).sum());
    if n == 0 || initial <= options.min_deviation * scale || initial == 0.0 {
        return Vec::new();
    }
    let estimated = estimated_noise(leaves, options);
    let noise: &[f64] = estimated.as_deref().unwrap_or(&leaves.noise);
    let cuboids = cuboids(
        leaves.dimensions.len(),
        options.max_dimensions.min(MAX_CAUSE_DIMENSIONS),
    );
    let mut explained = vec![false; n];
    let mut causes = Vec::new();
    while causes.len() < options.max_causes {
        // Per cuboid and element: sums over its unexplained leaves.
        let mut best: Option<(f64, usize, Element, f64)> = None; // (gain, dims, element, ratio)
        let b = &leaves.base;
        let open: Vec<usize> = (0..n).filter(|&i| !explained[i]).collect();
        for cuboid in &cuboids {
            // Per element of the cuboid (its values packed into one number, first dimension
            // most significant, so numeric order is the order of the values): sums over its
            // unexplained leaves.
            let mut slot_of: HashMap<u128, usize, BuildHasherDefault<KeyHasher>> =
                HashMap::default();
            let mut sums: Vec<Sums> = Vec::new();
            let mut slots: Vec<usize> = Vec::with_capacity(open.len());
            for &i in &open {
                let key = cuboid
                    .iter()
                    .fold(0u128, |k, &d| (k << 32) | u128::from(leaves.keys[i][d]));
                let slot = *slot_of.entry(key).or_insert_with(|| {
                    sums.push(Sums {
                        key,
                        ..Sums::default()
                    });
                    sums.len() - 1
                });
                slots.push(slot);
                let s = &mut sums[slot];
                s.actual += v[i];
                s.expected += f[i];
                s.error += (v[i] - f[i]).abs();
                s.base += b[i].abs();
                s.variance += noise[i] * noise[i];
                s.count += 1.0;
            }
            for (&i, &slot) in open.iter().zip(&slots) {
                let s = &mut sums[slot];
                // The cause's one shift, per unit of base, over its leaves; leaves with no base
                // at all (nothing expected: error counts at zero, a new product) share it
                // equally.
                let fitted = if s.base > 0.0 {
                    b[i].abs() * (s.actual - s.expected) / s.base
                } else {
                    (s.actual - s.expected) / s.count
                };
                s.fitted += (v[i] - f[i] - fitted).abs();
            }
            // Ordered, so ties between candidates always resolve the same way.
            sums.sort_unstable_by_key(|s| s.key);
            for s in &sums {
                let gain = s.error - s.fitted;
                // Each fixed dimension discounts the gain: fewer dimensions win unless a more
                // specific combination explains clearly more.
                let discounted = |g: f64, d: usize| g * (1.0 - options.parsimony * d as f64);
                let better = match &best {
                    None => true,
                    Some((g, dims, ..)) => {
                        discounted(gain, cuboid.len())
                            > discounted(*g, *dims) * (1.0 + 1e-9) + 1e-12
                    }
                };
                let significant = s.variance == 0.0
                    || (s.actual - s.expected).abs() >= options.significance * s.variance.sqrt();
                // It moves its leaves enough to be more than noise (from nothing: any move).
                let moved = if s.expected.abs() > 0.0 {
                    (s.actual / s.expected - 1.0).abs() >= options.min_change
                } else {
                    s.actual != 0.0
                };
                if better && significant && moved {
                    let values = (0..cuboid.len()).rev().map(|k| (s.key >> (32 * k)) as u32);
                    let element = Element(cuboid.iter().copied().zip(values).collect());
                    best = Some((gain, cuboid.len(), element, s.actual / s.expected));
                }
            }
        }
        let Some((gain, _, element, ratio)) = best else {
            break;
        };
        // Where the noise is known, significance is the test and the floors only keep what
        // rounding leaves out.
        let noisy = noise.iter().any(|&x| x > 0.0);
        let min_gain = if noisy {
            options.min_gain_with_noise
        } else {
            options.min_gain
        };
        if gain < min_gain * initial {
            break;
        }
        // A further cause must matter beside the first one (where the noise is known, its
        // significance already says whether it is more than noise).
        let of_first = if noisy {
            options.min_gain_of_first_with_noise
        } else {
            options.min_gain_of_first
        };
        if causes
            .first()
            .is_some_and(|first: &Cause| gain < of_first * first.explained / 100.0 * initial)
        {
            break;
        }
        for (done, key) in explained.iter_mut().zip(&leaves.keys) {
            *done |= element.contains(key);
        }
        // A cause that generalises causes already taken replaces them: the same thing is never
        // explained twice (its gain includes theirs).
        let replaced: f64 = causes
            .iter()
            .filter(|c: &&Cause| element.0.iter().all(|p| c.element.0.contains(p)))
            .map(|c| c.explained)
            .sum();
        causes.retain(|c: &Cause| !element.0.iter().all(|p| c.element.0.contains(p)));
        let gain = gain + replaced / 100.0 * initial;
        causes.push(Cause {
            element,
            ratio,
            explained: 100.0 * gain / initial,
        });
    }
    causes
}

/// A cause set in the `a=a1&b=b2;c=c3` notation, each cause's pairs sorted, causes sorted.
pub fn notation(causes: &[Cause], leaves: &Leaves) -> String {
    let mut parts: Vec<String> = causes
        .iter()
        .map(|c| normalize_cause(&c.element.notation(leaves)))
        .collect();
    parts.sort();
    parts.join(";")
}

/// One cause with its `&` parts sorted, so equal sets compare equal.
pub fn normalize_cause(cause: &str) -> String {
    let mut pairs: Vec<&str> = cause
        .split('&')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    pairs.sort_unstable();
    pairs.join("&")
}

/// F1 over cases (Squeeze / RiskLoc convention): a predicted cause is a true positive when it
/// equals a true cause (pairs compared as sets). `cases` holds (predicted, truth) notations.
pub fn f1(cases: &[(String, String)]) -> f64 {
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    for (predicted, truth) in cases {
        let split = |s: &str| -> Vec<String> {
            s.split(';')
                .map(normalize_cause)
                .filter(|c| !c.is_empty())
                .collect()
        };
        let (p, t) = (split(predicted), split(truth));
        let hits = p.iter().filter(|c| t.contains(c)).count();
        tp += hits;
        fp += p.len() - hits;
        fn_ += t.len() - t.iter().filter(|c| p.contains(c)).count();
    }
    if tp == 0 {
        return if fp == 0 && fn_ == 0 { 1.0 } else { 0.0 };
    }
    2.0 * tp as f64 / (2.0 * tp as f64 + fp as f64 + fn_ as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A grid of leaves over region x channel x plan, expected 100 each (noise +-1), with the
    /// given slices multiplied by their factor.
    /// A slice (dimension, value pairs) and the factor applied to it.
    type Injected<'a> = (&'a [(&'a str, &'a str)], f64);

    fn grid(causes: &[Injected]) -> Leaves {
        let mut leaves = Leaves::new(vec!["region".into(), "channel".into(), "plan".into()]);
        let mut k = 0;
        for r in ["US", "EU", "APAC", "LATAM"] {
            for c in ["web", "mobile", "app"] {
                for p in ["free", "pro", "team"] {
                    k += 1;
                    let expected = 100.0 + (k % 7) as f64 * 10.0;
                    let noise = ((k * 37 % 11) as f64 - 5.0) / 5.0;
                    let mut actual = expected + noise;
                    for (slice, factor) in causes {
                        let hit = slice.iter().all(|(d, v)| match *d {
                            "region" => r == *v,
                            "channel" => c == *v,
                            _ => p == *v,
                        });
                        if hit {
                            actual *= factor;
                        }
                    }
                    leaves.push(&[r, c, p], actual, expected);
                }
            }
        }
        leaves
    }

    fn found(leaves: &Leaves) -> String {
        notation(&localize(leaves, &RcaOptions::default()), leaves)
    }

    #[test]
    fn known_answers() {
        let cases: Vec<(&str, Vec<Injected>, &str)> = vec![
            ("no anomaly", vec![], ""),
            ("one slice", vec![(&[("region", "EU")], 0.3)], "region=EU"),
            (
                "a cause fixing two dimensions",
                vec![(&[("region", "EU"), ("channel", "mobile")], 0.2)],
                "channel=mobile&region=EU",
            ),
            (
                "two slices",
                vec![
                    (&[("region", "US")], 1.8),
                    (&[("channel", "app"), ("plan", "pro")], 0.1),
                ],
                "channel=app&plan=pro;region=US",
            ),
            ("all leaves", vec![(&[], 0.5)], "*"),
        ];
        for (name, causes, want) in cases {
            assert_eq!(found(&grid(&causes)), want, "case {name}");
        }
    }

    #[test]
    fn a_ratio_measure() {
        // Success rate per leaf: 98% expected; EU&app falls to 60% at its usual volume.
        let mut leaves = Leaves::new(vec!["region".into(), "channel".into()]);
        for (i, r) in ["US", "EU", "APAC"].iter().enumerate() {
            for (j, c) in ["web", "app"].iter().enumerate() {
                let count = 1000.0 + 300.0 * (i * 2 + j) as f64;
                let rate = if (*r, *c) == ("EU", "app") { 0.6 } else { 0.98 };
                leaves.ratio(&[r, c], count * rate, count, 0.98);
            }
        }
        assert_eq!(found(&leaves), "channel=app&region=EU");
    }

    #[test]
    fn known_noise_keeps_moves_within_it_out() {
        // EU moves by 8%, above min_change; with a noise of 10 per leaf on values near 100 that
        // is within noise for its 9 leaves (sum 72 < 4 * 30), and no cause is reported.
        let mut leaves = grid(&[(&[("region", "EU")], 1.08)]);
        assert_eq!(found(&leaves), "region=EU", "without noise it is a cause");
        for i in 0..leaves.len() {
            leaves.noise[i] = 10.0;
        }
        assert_eq!(found(&leaves), "");
        // A 50% move is far outside that noise.
        let mut leaves = grid(&[(&[("region", "EU")], 1.5)]);
        leaves.noise.iter_mut().for_each(|n| *n = 10.0);
        assert_eq!(found(&leaves), "region=EU");
    }

    #[test]
    fn ties_resolve_the_same_way_every_time_and_no_cause_comes_with_its_parent() {
        // 12 regions, half of them down to 0: many equal candidates.
        let build = || {
            let mut leaves = Leaves::new(vec!["region".into()]);
            for r in 0..12 {
                leaves.push(
                    &[&format!("r{r:02}")],
                    if r % 2 == 0 { 0.0 } else { 100.0 },
                    100.0,
                );
            }
            leaves
        };
        let first = found(&build());
        for _ in 0..20 {
            assert_eq!(found(&build()), first);
        }
        // Mixed signs: a cause and its own parent are never both reported.
        let mut leaves = Leaves::new(vec!["region".into(), "ch".into()]);
        leaves.push(&["US", "a"], 100.0, 100.0);
        leaves.push(&["US", "b"], -100.0, -100.0);
        leaves.push(&["EU", "a"], 200.0, 100.0);
        leaves.push(&["EU", "b"], 0.0, -100.0);
        let causes = found(&leaves);
        let parts: Vec<&str> = causes.split(';').collect();
        for p in &parts {
            for q in &parts {
                if p != q {
                    let (ps, qs): (Vec<&str>, Vec<&str>) =
                        (p.split('&').collect(), q.split('&').collect());
                    assert!(!ps.iter().all(|x| qs.contains(x)), "{p} is a parent of {q}");
                }
            }
        }
        // Leaves with fewer values than dimensions do not panic.
        let mut short = Leaves::new(vec!["a".into(), "b".into()]);
        short.push(&["x"], 1.0, 2.0);
        short.push(&["y"], 1.0, 2.0);
        let _ = found(&short);
    }

    #[test]
    fn a_cause_over_leaves_that_expected_nothing_is_found() {
        // Error counts: nothing expected anywhere, and EU's leaves (both channels) now fail.
        let mut leaves = Leaves::new(vec!["region".into(), "channel".into()]);
        for region in ["EU", "US", "APAC"] {
            for channel in ["web", "app"] {
                let actual = if region == "EU" { 40.0 } else { 0.0 };
                leaves.push(&[region, channel], actual, 0.0);
            }
        }
        assert_eq!(found(&leaves), "region=EU");
        // Mostly quiet errors with a little noise elsewhere: still EU alone.
        let mut leaves = Leaves::new(vec!["region".into(), "channel".into()]);
        for region in ["EU", "US", "APAC"] {
            for channel in ["web", "app"] {
                let (actual, expected) = match (region, channel) {
                    ("EU", _) => (40.0, 0.0),
                    ("US", "web") => (1.0, 1.0),
                    _ => (0.0, 0.0),
                };
                leaves.push(&[region, channel], actual, expected);
            }
        }
        assert_eq!(found(&leaves), "region=EU");
    }

    #[test]
    fn f1_compares_causes_as_sets() {
        let cases = vec![
            ("b=b2&a=a1;c=c3".to_string(), "a=a1&b=b2;c=c3".to_string()),
            ("d=d1".to_string(), "d=d2".to_string()),
            (String::new(), String::new()),
        ];
        // tp 2, fp 1, fn 1.
        assert!((f1(&cases) - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(f1(&[(String::new(), String::new())]), 1.0);
    }

    #[test]
    fn many_leaves_stay_fast_enough_to_run_in_a_test() {
        let mut leaves = Leaves::new(vec!["a".into(), "b".into(), "c".into(), "d".into()]);
        let mut k = 0u64;
        for a in 0..10 {
            for b in 0..20 {
                for c in 0..10 {
                    for d in 0..10 {
                        k += 1;
                        let f = 50.0 + (k % 13) as f64;
                        let v = if b == 7 && d == 3 { f * 0.4 } else { f };
                        leaves.push(
                            &[
                                &format!("a{a}"),
                                &format!("b{b}"),
                                &format!("c{c}"),
                                &format!("d{d}"),
                            ],
                            v,
                            f,
                        );
                    }
                }
            }
        }
        assert_eq!(leaves.len(), 20_000);
        assert_eq!(found(&leaves), "b=b7&d=d3");
    }
}
