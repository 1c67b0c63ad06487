//! Aggregate series: besides every leaf series (one combination of dimension values), the
//! totals of each dimension value, of each pair of values, and of the whole measure are scored
//! with the same engine and a state of their own. A channel down by half in every region is
//! one large move of the channel's total even when no single leaf leaves its own noise.
//!
//! An aggregate's key has the leaves' shape, with [`ANY`] for each dimension it sums over:
//! `[EU, ANY, ANY]` is the EU total, `[ANY, ANY, ANY]` the whole measure. Dimension values
//! never contain [`ANY`] (a row whose value holds it is invalid), so keys cannot collide.
//!
//! Which aggregates, for a detector whose leaves hold `n` dimensions (the budget):
//! - the whole measure, when there are at least two leaves;
//! - every value of every dimension, when `n >= 2` (with one dimension they are the leaves);
//! - every pair of values of two dimensions, when `n >= 3`, cheapest pairs of dimensions
//!   first (fewest combinations);
//! - only those holding at least two leaves (one that holds a single leaf is that leaf), and at
//!   most [`MAX_AGGREGATES`] or as many as there are leaves, whichever is more: whole groups (all
//!   values of one dimension, of one pair of dimensions) are added in the order above until the
//!   next would pass the cap. With 3 x 5 x 2 leaves (30) that is 1 + 10 + 31 = 42 aggregates;
//!   with 50,000 leaves over 5 dimensions, the values and as many pairs as fit in 50,000.
//!
//! A SUM measure's aggregate is the sum of its leaves' values in the interval; an AVG measure's
//! is the mean of its leaves' values (each leaf weighs the same, not each row). A leaf with no
//! value in the interval adds nothing; an aggregate none of whose leaves has a value is
//! missing.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::AggregationFunction;

/// The key part of an aggregate that stands for "every value of this dimension".
pub const ANY: &str = "\u{0}";

/// Aggregates per detector at least allowed by the budget (more when there are more leaves).
pub const MAX_AGGREGATES: usize = 256;

/// Whether a series key is an aggregate's (not a leaf's).
pub fn is_aggregate(key: &[String]) -> bool {
    key.iter().any(|v| v == ANY)
}

/// Whether the aggregate (or leaf) `slice` holds the leaf `leaf`.
pub fn holds(slice: &[String], leaf: &[String]) -> bool {
    slice.len() == leaf.len() && slice.iter().zip(leaf).all(|(s, l)| s == ANY || s == l)
}

/// The slice a key stands for in the notation of root causes: `region=EU&channel=web`, `*`
/// for the whole measure.
pub fn notation(dimensions: &[String], key: &[String]) -> String {
    let parts: Vec<String> = dimensions
        .iter()
        .zip(key)
        .filter(|(_, v)| v.as_str() != ANY)
        .map(|(d, v)| format!("{d}={v}"))
        .collect();
    if parts.is_empty() {
        "*".into()
    } else {
        parts.join("&")
    }
}

/// The aggregates of one interval's leaves (key to one value per measure), by the budget in
/// the module's documentation.
pub fn aggregate(
    functions: &[AggregationFunction],
    leaves: &BTreeMap<Vec<String>, Vec<Option<f64>>>,
) -> BTreeMap<Vec<String>, Vec<Option<f64>>> {
    let mut out = BTreeMap::new();
    let Some(n) = leaves.keys().next().map(Vec::len) else {
        return out;
    };
    if n == 0 || leaves.len() < 2 {
        return out;
    }
    let cap = MAX_AGGREGATES.max(leaves.len());
    let mut planned: Vec<Vec<usize>> = vec![Vec::new()];
    if n >= 2 {
        let mut singles: Vec<usize> = (0..n).collect();
        let cardinality = |d: &usize| leaves.keys().map(|k| &k[*d]).collect::<BTreeSet<_>>().len();
        singles.sort_by_key(|d| (cardinality(d), *d));
        planned.extend(singles.iter().map(|d| vec![*d]));
        if n >= 3 {
            let mut pairs: Vec<(usize, Vec<usize>)> = Vec::new();
            for i in 0..n {
                for j in i + 1..n {
                    let combos = leaves
                        .keys()
                        .map(|k| (&k[i], &k[j]))
                        .collect::<BTreeSet<_>>()
                        .len();
                    pairs.push((combos, vec![i, j]));
                }
            }
            pairs.sort();
            planned.extend(pairs.into_iter().map(|(_, p)| p));
        }
    }
    for fixed in planned {
        let group = of_dimensions(functions, leaves, &fixed, n);
        if out.len() + group.len() > cap {
            break;
        }
        out.extend(group);
    }
    out
}

/// Adds to one interval's leaves their aggregates ([`aggregate`]).
pub fn extend(
    functions: &[AggregationFunction],
    series: &mut BTreeMap<Vec<String>, Vec<Option<f64>>>,
) {
    let totals = aggregate(functions, series);
    series.extend(totals);
}

/// Leaves an aggregate holds, and per measure the sum and count of their values present.
type Held = (usize, Vec<(f64, u32)>);

/// The aggregates that fix exactly the dimensions `fixed` (and hold two leaves or more).
fn of_dimensions(
    functions: &[AggregationFunction],
    leaves: &BTreeMap<Vec<String>, Vec<Option<f64>>>,
    fixed: &[usize],
    n: usize,
) -> BTreeMap<Vec<String>, Vec<Option<f64>>> {
    // Per aggregate: leaves held, and per measure the sum and count of values present.
    let mut sums: BTreeMap<Vec<String>, Held> = BTreeMap::new();
    for (leaf, values) in leaves {
        let key: Vec<String> = (0..n)
            .map(|d| {
                if fixed.contains(&d) {
                    leaf[d].clone()
                } else {
                    ANY.to_string()
                }
            })
            .collect();
        let entry = sums
            .entry(key)
            .or_insert_with(|| (0, vec![(0.0, 0); functions.len()]));
        entry.0 += 1;
        for (acc, v) in entry.1.iter_mut().zip(values) {
            if let Some(v) = v.filter(|v| v.is_finite()) {
                acc.0 += v;
                acc.1 += 1;
            }
        }
    }
    sums.into_iter()
        .filter(|(_, (held, _))| *held >= 2)
        .map(|(key, (_, accs))| {
            let values = accs
                .iter()
                .zip(functions)
                .map(|(&(sum, count), f)| {
                    (count > 0).then(|| match f {
                        AggregationFunction::Sum => sum,
                        AggregationFunction::Avg => sum / f64::from(count),
                    })
                })
                .collect();
            (key, values)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use AggregationFunction::{Avg, Sum};

    fn key(parts: &[&str]) -> Vec<String> {
        parts
            .iter()
            .map(|p| if *p == "*" { ANY } else { p }.to_string())
            .collect()
    }

    fn leaves(rows: &[(&[&str], &[Option<f64>])]) -> BTreeMap<Vec<String>, Vec<Option<f64>>> {
        rows.iter().map(|(k, v)| (key(k), v.to_vec())).collect()
    }

    #[test]
    fn sums_and_means_per_value_pair_and_whole() {
        let l = leaves(&[
            (&["EU", "web", "free"], &[Some(1.0), Some(10.0)]),
            (&["EU", "web", "pro"], &[Some(2.0), Some(20.0)]),
            (&["EU", "app", "free"], &[Some(4.0), None]),
            (&["US", "web", "free"], &[Some(8.0), Some(40.0)]),
        ]);
        let a = aggregate(&[Sum, Avg], &l);
        assert_eq!(
            a[&key(&["*", "*", "*"])],
            vec![Some(15.0), Some(70.0 / 3.0)]
        );
        assert_eq!(a[&key(&["EU", "*", "*"])], vec![Some(7.0), Some(15.0)]);
        assert_eq!(
            a[&key(&["*", "web", "*"])],
            vec![Some(11.0), Some(70.0 / 3.0)]
        );
        assert_eq!(a[&key(&["EU", "web", "*"])], vec![Some(3.0), Some(15.0)]);
        // US holds one leaf: it is that leaf, not an aggregate.
        assert!(!a.contains_key(&key(&["US", "*", "*"])));
        assert!(!a.contains_key(&key(&["*", "app", "*"])));
        assert!(a.keys().all(|k| is_aggregate(k)));
        assert!(
            a.keys()
                .all(|k| l.keys().filter(|leaf| holds(k, leaf)).count() >= 2)
        );
    }

    #[test]
    fn the_budget_for_three_by_five_by_two() {
        let mut l = BTreeMap::new();
        for r in ["US", "EU", "APAC"] {
            for c in ["web", "mobile", "app", "partner", "store"] {
                for p in ["free", "pro"] {
                    l.insert(key(&[r, c, p]), vec![Some(1.0)]);
                }
            }
        }
        let a = aggregate(&[Sum], &l);
        // whole 1 + values 3 + 5 + 2 + pairs 15 + 6 + 10.
        assert_eq!(a.len(), 42);
        assert_eq!(a[&key(&["*", "*", "*"])], vec![Some(30.0)]);
    }

    #[test]
    fn one_dimension_has_only_the_whole_and_one_leaf_has_nothing() {
        let l = leaves(&[(&["a"], &[Some(1.0)]), (&["b"], &[Some(2.0)])]);
        let a = aggregate(&[Sum], &l);
        assert_eq!(a.keys().cloned().collect::<Vec<_>>(), vec![key(&["*"])]);
        let one = leaves(&[(&["a", "x"], &[Some(1.0)])]);
        assert!(aggregate(&[Sum], &one).is_empty());
        assert!(aggregate(&[Sum], &BTreeMap::new()).is_empty());
    }

    #[test]
    fn many_dimensions_keep_values_and_the_cheapest_pairs_within_the_cap() {
        // Ten dimensions of three values, 100 leaves: 30 values and 45 x 9 pairs would pass
        // the cap of 256.
        let mut l = BTreeMap::new();
        let mut x: u64 = 1;
        while l.len() < 100 {
            let k: Vec<String> = (0..10)
                .map(|d| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    format!("d{d}v{}", (x >> 33) % 3)
                })
                .collect();
            l.insert(k, vec![Some(1.0)]);
        }
        let a = aggregate(&[Sum], &l);
        assert!(
            a.len() <= MAX_AGGREGATES && a.len() > 31 + 9 * 20,
            "{}",
            a.len()
        );
        let fixed = |k: &Vec<String>| k.iter().filter(|v| v.as_str() != ANY).count();
        assert_eq!(a.keys().filter(|k| fixed(k) == 1).count(), 30);
        assert_eq!(a.keys().filter(|k| fixed(k) == 0).count(), 1);
    }

    #[test]
    fn missing_values_add_nothing_and_all_missing_is_missing() {
        let l = leaves(&[
            (&["a", "x"], &[None]),
            (&["b", "x"], &[None]),
            (&["a", "y"], &[Some(3.0)]),
            (&["b", "y"], &[Some(4.0)]),
        ]);
        let a = aggregate(&[Sum], &l);
        assert_eq!(a[&key(&["*", "x"])], vec![None]);
        assert_eq!(a[&key(&["*", "y"])], vec![Some(7.0)]);
        assert_eq!(a[&key(&["a", "*"])], vec![Some(3.0)]);
    }

    #[test]
    fn notation_names_the_fixed_values() {
        let dims = vec!["region".to_string(), "channel".to_string()];
        assert_eq!(notation(&dims, &key(&["EU", "*"])), "region=EU");
        assert_eq!(
            notation(&dims, &key(&["EU", "web"])),
            "region=EU&channel=web"
        );
        assert_eq!(notation(&dims, &key(&["*", "*"])), "*");
    }
}
