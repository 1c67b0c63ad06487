//! Medians without allocation, and the normal law behind severities.

/// Up to [`FEW`] values on the stack: the medians on every point's path (a few past seasons,
/// the last values, a day of hourly level corrections) need no allocation.
const FEW: usize = 32;

#[derive(Default)]
pub(super) struct Few {
    values: [f64; FEW],
    pub(super) len: usize,
    /// Values beyond [`FEW`] (a configuration with many cycles).
    more: Vec<f64>,
}

impl Few {
    pub(super) fn extend(&mut self, values: impl Iterator<Item = f64>) {
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

    pub(super) fn as_mut(&mut self) -> &mut [f64] {
        if self.more.is_empty() {
            &mut self.values[..self.len]
        } else {
            &mut self.more
        }
    }
}

/// Median of the values; `None` when there are none.
pub(super) fn median_of(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut few = Few::default();
    few.extend(values);
    median(few.as_mut())
}

/// Median of the values (reorders them); `None` when empty.
pub(super) fn median(v: &mut [f64]) -> Option<f64> {
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
pub(super) fn two_sided_z(q: f64) -> f64 {
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

    #[test]
    fn medians_on_the_stack_and_beyond_it_agree() {
        for n in [0usize, 1, 2, 7, 31, 32, 33, 100] {
            let values: Vec<f64> = (0..n).map(|i| ((i * 37) % 101) as f64).collect();
            let mut sorted = values.clone();
            assert_eq!(median_of(values.into_iter()), median(&mut sorted), "{n}");
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
}
