//! Anomaly groups: the anomalous series of one measure in one event. An event starts at an
//! interval where some series of the measure is anomalous and goes on while the following
//! intervals have anomalous series of that measure too, as the old service's groups did.
//!
//! Each group carries a score (0-100: the highest severity of its points, raised toward 100 by
//! the share of the measure's total it moved: half way at 50%), the number of series, its root
//! causes (the root-cause search over every series of the measure, summed over the group's
//! intervals; in backtests also each interval's own causes that those miss), and a
//! contribution matrix: for each dimension, each value's share
//! (0-100, summing to 100) of the absolute deviation of the series those causes explain (of the
//! anomalous series when no cause stands out).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::engine::{Direction, Scored};
pub use crate::ids::{group_id, series_id};
use crate::model::{
    AnomalyGroup, ContributionMatrix, DimensionContribution, DimensionNameValue,
    DimensionValueContribution, InterMetricImpactDetails, MetricLevelImpact, RelationshipType,
    timestamp_string,
};
use crate::rca::{Leaves, RcaOptions, localize};
use crate::slices::{ANY, is_aggregate};

/// One scored point of a series, as the grouper sees it.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// Index of the measure.
    pub measure: usize,
    /// The series' dimension values, in schema order.
    pub dimensions: &'a [String],
    /// The engine's verdict.
    pub scored: Scored,
}

/// One anomalous point of a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupPoint {
    /// Interval start, `2021-02-14T04:00:00Z`.
    pub timestamp: String,
    /// Value observed.
    pub value: f64,
    /// Value expected.
    pub expected: f64,
    /// Band.
    pub lower: f64,
    /// Band.
    pub upper: f64,
    /// Severity 0-100.
    pub severity: f64,
    /// The engine's deviation in robust sigmas (what feedback on this point tells the engine).
    #[serde(default)]
    pub z: f64,
}

/// One series of a group with its anomalous points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupSeries {
    /// Stable id of the series (hash of measure and dimension values).
    pub time_series_id: String,
    /// Its dimension values.
    pub dimensions: Vec<DimensionNameValue>,
    /// Its anomalous points, oldest first.
    pub points: Vec<GroupPoint>,
}

/// An anomaly group with the detail behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupReport {
    /// The group as the API returns it.
    pub anomaly_group: AnomalyGroup,
    /// The fewest dimension-value combinations that explain the deviation over all series of
    /// the measure (`region=EU&channel=mobile`), from the root-cause search.
    pub root_causes: Vec<String>,
    /// Share (0-1) of the measure's expected total over the group's intervals that the group
    /// moved.
    pub impact: f64,
    /// Each root cause with the direction its series moved (`drop` or `spike`), in the order
    /// of [`GroupReport::root_causes`].
    #[serde(default)]
    pub signed_causes: Vec<SignedCause>,
    /// Groups of other measures that overlap it in time and in affected series: likely causes
    /// (they started earlier, or at the same time for a measure listed earlier) or effects.
    pub related: Vec<InterMetricImpactDetails>,
    /// The series the group affects (those its root causes cover, or its anomalous ones).
    #[serde(skip, default)]
    affected: BTreeSet<Vec<String>>,
    /// Spike, drop, or both (`mixed`).
    pub direction: String,
    /// First anomalous interval (epoch seconds).
    pub start: i64,
    /// Last anomalous interval (epoch seconds).
    pub end: i64,
    /// The anomalous series, most deviating first.
    pub time_series: Vec<GroupSeries>,
    /// The anomalous slice totals (keys as in [`crate::slices`]) with their anomalous points:
    /// feedback on a series of the group reaches the totals that hold it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slices: Vec<SlicePoints>,
}

/// A root cause and the direction of its move.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedCause {
    /// `region=EU&channel=web`, `*` for the whole measure.
    pub cause: String,
    /// `drop` or `spike`: the sign of its series' summed deviation.
    pub direction: String,
}

/// An anomalous slice total of a group and its anomalous points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlicePoints {
    /// The aggregate's key ([`crate::slices::ANY`] for each dimension it sums over).
    pub key: Vec<String>,
    /// Its anomalous points, oldest first.
    pub points: Vec<GroupPoint>,
}

#[derive(Debug, Default)]
struct Open {
    start: i64,
    end: i64,
    score: f64,
    directions: BTreeSet<&'static str>,
    /// Per series (dimension values): its points.
    series: BTreeMap<Vec<String>, Vec<GroupPoint>>,
    /// Per dimension index and value: absolute deviation.
    deviation: Vec<BTreeMap<String, f64>>,
    /// Every series of the measure over the group's intervals: sums of actual, expected and
    /// noise variance.
    leaves: BTreeMap<Vec<String>, (f64, f64, f64)>,
    /// The root causes of each interval on its own (when the grouper finds them).
    interval_causes: BTreeSet<Pairs>,
    /// Anomalous aggregates (slice totals, see [`crate::slices`]): their points.
    slices: BTreeMap<Vec<String>, Vec<GroupPoint>>,
    /// Every leaf's points over the group's intervals: the series of a group that only
    /// aggregates made anomalous.
    context: BTreeMap<Vec<String>, Vec<GroupPoint>>,
}

fn group_point(start: i64, s: &Scored) -> GroupPoint {
    GroupPoint {
        timestamp: timestamp_string(start),
        value: s.value,
        expected: s.expected,
        lower: s.lower,
        upper: s.upper,
        severity: round2(s.severity),
        z: s.z,
    }
}

/// A root cause as (dimension index, value) pairs: comparable across root-cause searches.
type Pairs = Vec<(usize, String)>;

fn pairs(element: &crate::rca::Element, leaves: &Leaves) -> Pairs {
    element
        .0
        .iter()
        .map(|&(d, v)| (d, leaves.values[d][v as usize].clone()))
        .collect()
}

/// Whether the cause covers the series with these dimension values.
fn covers(cause: &Pairs, dims: &[String]) -> bool {
    cause.iter().all(|(d, v)| dims.get(*d) == Some(v))
}

/// Whether no series can be covered by both causes (they differ on a dimension both name).
fn disjoint(a: &Pairs, b: &Pairs) -> bool {
    a.iter()
        .any(|(d, v)| b.iter().any(|(e, w)| d == e && v != w))
}

/// The root causes of one measure's series (actual, expected, noise sigma per series).
fn localize_series<'a>(
    dimensions: &[String],
    series: impl Iterator<Item = (&'a [String], f64, f64, f64)>,
) -> Vec<Pairs> {
    let mut leaves = Leaves::new(dimensions.to_vec());
    for (dims, actual, expected, sigma) in series {
        let values: Vec<&str> = dims.iter().map(String::as_str).collect();
        leaves.push(&values, actual, expected);
        leaves.with_noise(sigma);
    }
    localize(&leaves, &RcaOptions::default())
        .iter()
        .map(|c| pairs(&c.element, &leaves))
        .collect()
}

/// The anomalous aggregate whose points deviate most (root of the sum of their squared z), the
/// one fixing fewer dimensions among equals.
fn most_deviating(slices: &BTreeMap<Vec<String>, Vec<GroupPoint>>) -> Option<&Vec<String>> {
    let fixed = |k: &Vec<String>| k.iter().filter(|v| v.as_str() != ANY).count();
    let strength = |p: &Vec<GroupPoint>| p.iter().map(|p| p.z * p.z).sum::<f64>();
    slices
        .iter()
        .max_by(|(a, pa), (b, pb)| {
            strength(pa)
                .total_cmp(&strength(pb))
                .then_with(|| fixed(b).cmp(&fixed(a)))
        })
        .map(|(k, _)| k)
}

/// Series kept with a stored group (most deviating first): a group stays well under a store
/// item's limit and an SNS message's, however many series an incident touches.
pub const MAX_STORED_SERIES: usize = 200;

impl GroupReport {
    /// Keeps the `n` most deviating series (the contribution matrix, root causes and score
    /// were computed from all of them).
    pub fn keep_series(&mut self, n: usize) {
        self.time_series.truncate(n);
        if self.slices.len() > n {
            let strength = |s: &SlicePoints| s.points.iter().map(|p| p.z * p.z).sum::<f64>();
            self.slices
                .sort_by(|a, b| strength(b).total_cmp(&strength(a)));
            self.slices.truncate(n);
        }
    }
}

/// Builds groups from the verdicts of consecutive intervals.
#[derive(Debug)]
pub struct Grouper {
    namespace: String,
    dimensions: Vec<String>,
    measures: Vec<String>,
    open: Vec<Option<Open>>,
    last_interval: Option<i64>,
    /// The shortest gap seen between intervals (one interval).
    step: Option<i64>,
    closed: Vec<GroupReport>,
    /// Whether groups of several intervals also take each interval's own root causes.
    interval_causes: bool,
}

impl Grouper {
    /// `namespace` (for example the detector's ARN) makes group ids unique across detectors.
    pub fn new(
        namespace: impl Into<String>,
        dimensions: Vec<String>,
        measures: Vec<String>,
    ) -> Self {
        let open = measures.iter().map(|_| None).collect();
        Grouper {
            namespace: namespace.into(),
            dimensions,
            measures,
            open,
            last_interval: None,
            step: None,
            closed: Vec::new(),
            interval_causes: false,
        }
    }

    /// Groups of several intervals also get the root causes of each interval on its own that
    /// the search over their sums misses (a series that moved for one hour of a long incident
    /// weighs little in its sums). Costs one more search per interval of an open group.
    pub fn with_interval_causes(mut self) -> Self {
        self.interval_causes = true;
        self
    }

    /// Adds the verdicts of one interval. Call it for every interval in order, also those with
    /// no anomaly, so events end where they end.
    pub fn push_interval<'a>(
        &mut self,
        start: i64,
        observations: impl IntoIterator<Item = Observation<'a>>,
    ) {
        let observations: Vec<Observation<'a>> = observations.into_iter().collect();
        let mut touched = vec![false; self.measures.len()];
        for o in observations.iter().copied() {
            if !o.scored.anomalous || o.measure >= self.measures.len() {
                continue;
            }
            touched[o.measure] = true;
            let continues = matches!(&self.open[o.measure], Some(g) if g.end == start || Some(g.end) == self.last_interval);
            if !continues {
                self.close(o.measure);
                self.open[o.measure] = Some(Open {
                    start,
                    end: start,
                    deviation: vec![BTreeMap::new(); self.dimensions.len()],
                    ..Open::default()
                });
            }
            let Some(g) = self.open[o.measure].as_mut() else {
                continue;
            };
            let s = o.scored;
            g.end = start;
            g.score = g.score.max(s.severity);
            g.directions.insert(match s.direction {
                Direction::Spike => "spike",
                Direction::Drop => "drop",
            });
            if is_aggregate(o.dimensions) {
                g.slices
                    .entry(o.dimensions.to_vec())
                    .or_default()
                    .push(group_point(start, &s));
                continue;
            }
            let deviation = (s.value - s.expected).abs();
            for (i, v) in o.dimensions.iter().enumerate().take(self.dimensions.len()) {
                *g.deviation[i].entry(v.clone()).or_default() += deviation;
            }
            g.series
                .entry(o.dimensions.to_vec())
                .or_default()
                .push(group_point(start, &s));
        }
        // Every leaf series of a measure with an open group (anomalous or not) is a leaf of
        // its root-cause search.
        for o in &observations {
            if let Some(Some(g)) = self.open.get_mut(o.measure)
                && g.end == start
                && !is_aggregate(o.dimensions)
            {
                let leaf = g.leaves.entry(o.dimensions.to_vec()).or_default();
                leaf.0 += o.scored.value;
                leaf.1 += o.scored.expected;
                leaf.2 += o.scored.sigma * o.scored.sigma;
                g.context
                    .entry(o.dimensions.to_vec())
                    .or_default()
                    .push(group_point(start, &o.scored));
            }
        }
        if self.interval_causes {
            for (m, open) in self.open.iter_mut().enumerate() {
                let Some(g) = open.as_mut().filter(|g| g.end == start) else {
                    continue;
                };
                let of_measure = || {
                    observations
                        .iter()
                        .filter(|o| o.measure == m && !is_aggregate(o.dimensions))
                };
                let series = of_measure().map(|o| {
                    let s = o.scored;
                    (o.dimensions, s.value, s.expected, s.sigma)
                });
                // A cause counts only if it covers a series anomalous in the interval.
                let causes = localize_series(&self.dimensions, series);
                g.interval_causes.extend(causes.into_iter().filter(|c| {
                    of_measure().any(|o| o.scored.anomalous && covers(c, o.dimensions))
                }));
            }
        }
        for (m, touched) in touched.into_iter().enumerate() {
            if !touched {
                self.close(m);
            }
        }
        if let Some(last) = self.last_interval.filter(|l| start > *l) {
            self.step = Some(self.step.map_or(start - last, |s| s.min(start - last)));
        }
        self.last_interval = Some(start);
    }

    fn close(&mut self, measure: usize) {
        let Some(g) = self.open[measure].take() else {
            return;
        };
        let metric_name = self.measures[measure].clone();
        let (signed_causes, explained, affected) = self.root_causes(&g);
        let root_causes = signed_causes.iter().map(|c| c.cause.clone()).collect();
        let affected = if affected.is_empty() {
            g.series.keys().cloned().collect()
        } else {
            affected
        };
        let expected_total: f64 = g.leaves.values().map(|l| l.1.abs()).sum();
        let moved: f64 = g
            .leaves
            .iter()
            .filter(|(dims, _)| affected.contains(*dims))
            .map(|(_, l)| (l.0 - l.1).abs())
            .sum();
        let impact = if expected_total > 0.0 {
            (moved / expected_total).min(1.0)
        } else {
            0.0
        };
        // How far (the highest severity), raised toward 100 by how much of the measure moved.
        let score = g.score + (100.0 - g.score) * 0.5 * (2.0 * impact).min(1.0);
        let deviation = if explained.iter().any(|d| !d.is_empty()) {
            &explained
        } else {
            &g.deviation
        };
        let dimension_contribution_list = self
            .dimensions
            .iter()
            .zip(deviation)
            .map(|(name, values)| DimensionContribution {
                dimension_name: name.clone(),
                dimension_value_contribution_list: shares(values),
            })
            .collect();
        let slices = g
            .slices
            .iter()
            .map(|(key, points)| SlicePoints {
                key: key.clone(),
                points: points.clone(),
            })
            .collect();
        // A group only aggregates made anomalous shows the leaves its causes cover.
        let series = if g.series.is_empty() {
            g.context
                .into_iter()
                .filter(|(dims, _)| affected.contains(dims))
                .collect()
        } else {
            g.series
        };
        let mut time_series: Vec<GroupSeries> = series
            .into_iter()
            .map(|(dims, points)| GroupSeries {
                time_series_id: series_id(&metric_name, &dims),
                dimensions: self
                    .dimensions
                    .iter()
                    .zip(dims)
                    .map(|(n, v)| DimensionNameValue {
                        dimension_name: n.clone(),
                        dimension_value: v,
                    })
                    .collect(),
                points,
            })
            .collect();
        let total_dev = |s: &GroupSeries| {
            s.points
                .iter()
                .map(|p| (p.value - p.expected).abs())
                .sum::<f64>()
        };
        time_series.sort_by(|a, b| total_dev(b).total_cmp(&total_dev(a)));
        let direction = if g.directions.len() == 1 {
            g.directions.first().copied().unwrap_or("mixed")
        } else {
            "mixed"
        };
        let anomaly_group = AnomalyGroup {
            start_time: timestamp_string(g.start),
            end_time: timestamp_string(g.end),
            anomaly_group_id: group_id(&self.namespace, &metric_name, g.start),
            anomaly_group_score: round2(score),
            primary_metric_name: metric_name.clone(),
            metric_level_impact_list: vec![MetricLevelImpact {
                metric_name,
                num_time_series: time_series.len() as i64,
                contribution_matrix: ContributionMatrix {
                    dimension_contribution_list,
                },
            }],
        };
        self.closed.push(GroupReport {
            anomaly_group,
            root_causes,
            signed_causes,
            impact,
            related: Vec::new(),
            affected,
            direction: direction.to_string(),
            start: g.start,
            end: g.end,
            time_series,
            slices,
        });
    }

    /// The group's root causes over all series of its measure, and per dimension value the
    /// absolute deviation of the series those causes explain.
    #[allow(clippy::type_complexity)]
    fn root_causes(
        &self,
        g: &Open,
    ) -> (
        Vec<SignedCause>,
        Vec<BTreeMap<String, f64>>,
        BTreeSet<Vec<String>>,
    ) {
        // One search over the leaves as they moved; when some series dropped and others
        // spiked, one over the drops and one over the spikes instead (each side's other
        // leaves as expected), so opposite moves that cancel in a sum get a cause each.
        let sides: &[Option<bool>] = if g.directions.len() == 2 {
            &[Some(false), Some(true)]
        } else {
            &[None]
        };
        let mut causes: Vec<Pairs> = Vec::new();
        let mut found_as: BTreeMap<Pairs, bool> = BTreeMap::new();
        for side in sides {
            let sums = g.leaves.iter().map(|(dims, (actual, expected, variance))| {
                let moved = match side {
                    Some(spike) if (actual > expected) != *spike => *expected,
                    _ => *actual,
                };
                (dims.as_slice(), moved, *expected, variance.sqrt())
            });
            for c in localize_series(&self.dimensions, sums) {
                if let Some(spike) = side {
                    found_as.entry(c.clone()).or_insert(*spike);
                }
                if !causes.contains(&c) {
                    causes.push(c);
                }
            }
        }
        // No cause stands out among the leaves, but a slice's total left its band: that slice
        // (the most deviating one; the simplest among equals).
        if causes.is_empty()
            && let Some(slice) = most_deviating(&g.slices)
        {
            causes.push(
                slice
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.as_str() != ANY)
                    .map(|(d, v)| (d, v.clone()))
                    .collect(),
            );
        }
        // An interval's own cause that no cause of the sums overlaps explains something they
        // do not.
        if g.start < g.end {
            // The most general first; each must overlap none kept before it.
            let mut extra: Vec<&Pairs> = g.interval_causes.iter().collect();
            extra.sort_by_key(|h| h.len());
            for h in extra {
                if causes.iter().all(|c| disjoint(c, h)) {
                    causes.push(h.clone());
                }
            }
        }
        let mut explained = vec![BTreeMap::new(); self.dimensions.len()];
        let mut affected = BTreeSet::new();
        for (dims, (actual, expected, _)) in &g.leaves {
            if causes.iter().any(|c| covers(c, dims)) {
                for (d, value) in dims.iter().enumerate() {
                    *explained[d].entry(value.clone()).or_default() += (actual - expected).abs();
                }
                affected.insert(dims.clone());
            }
        }
        let mut notations: Vec<SignedCause> = causes
            .iter()
            .map(|c| {
                let cause = if c.is_empty() {
                    "*".to_string()
                } else {
                    c.iter()
                        .map(|(d, v)| format!("{}={v}", self.dimensions[*d]))
                        .collect::<Vec<_>>()
                        .join("&")
                };
                let spike = found_as.get(c).copied().unwrap_or_else(|| {
                    let moved: f64 = g
                        .leaves
                        .iter()
                        .filter(|(dims, _)| covers(c, dims))
                        .map(|(_, (actual, expected, _))| actual - expected)
                        .sum();
                    moved >= 0.0
                });
                SignedCause {
                    cause,
                    direction: if spike { "spike" } else { "drop" }.to_string(),
                }
            })
            .collect();
        notations.sort_by(|a, b| a.cause.cmp(&b.cause));
        notations.dedup_by(|a, b| a.cause == b.cause);
        (notations, explained, affected)
    }

    /// Closes every open group and returns all groups, oldest first (ties by measure order).
    pub fn finish(mut self) -> Vec<GroupReport> {
        for m in 0..self.measures.len() {
            self.close(m);
        }
        let order: BTreeMap<&str, usize> = self
            .measures
            .iter()
            .enumerate()
            .map(|(i, m)| (m.as_str(), i))
            .collect();
        let mut out = self.closed;
        relate(&mut out, &order, self.step.unwrap_or(0));
        out.sort_by_key(|g| {
            (
                g.start,
                order
                    .get(g.anomaly_group.primary_metric_name.as_str())
                    .copied(),
            )
        });
        out
    }
}

/// Links each group to the groups of other measures that overlap it in time (one interval of
/// lag allowed) and in affected series (Jaccard share at least 10%).
fn relate(groups: &mut [GroupReport], order: &BTreeMap<&str, usize>, step: i64) {
    let mut links = vec![Vec::new(); groups.len()];
    for (i, g) in groups.iter().enumerate() {
        for h in groups.iter() {
            let (gm, hm) = (
                &g.anomaly_group.primary_metric_name,
                &h.anomaly_group.primary_metric_name,
            );
            if gm == hm || h.start > g.end + step || g.start > h.end + step {
                continue;
            }
            let shared = g.affected.intersection(&h.affected).count();
            let union = g.affected.union(&h.affected).count();
            if union == 0 || shared * 10 < union {
                continue;
            }
            let earlier = h.start < g.start
                || (h.start == g.start && order.get(hm.as_str()) < order.get(gm.as_str()));
            links[i].push(InterMetricImpactDetails {
                metric_name: hm.clone(),
                anomaly_group_id: h.anomaly_group.anomaly_group_id.clone(),
                relationship_type: if earlier {
                    RelationshipType::CauseOfInputAnomalyGroup
                } else {
                    RelationshipType::EffectOfInputAnomalyGroup
                },
                contribution_percentage: round2(100.0 * shared as f64 / union as f64),
            });
        }
    }
    for (g, l) in groups.iter_mut().zip(links) {
        g.related = l;
    }
}

/// Shares (0-100) of each value, largest first, summing to 100. All zero deviations (possible
/// only for degenerate input) share equally.
fn shares(values: &BTreeMap<String, f64>) -> Vec<DimensionValueContribution> {
    let total: f64 = values.values().sum();
    let n = values.len() as f64;
    let mut out: Vec<DimensionValueContribution> = values
        .iter()
        .map(|(v, d)| DimensionValueContribution {
            dimension_value: v.clone(),
            contribution_score: if total > 0.0 && total.is_finite() {
                100.0 * d / total
            } else {
                100.0 / n
            },
        })
        .collect();
    out.sort_by(|a, b| {
        b.contribution_score
            .total_cmp(&a.contribution_score)
            .then_with(|| a.dimension_value.cmp(&b.dimension_value))
    });
    for c in &mut out {
        c.contribution_score = round2(c.contribution_score);
    }
    out
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(value: f64, expected: f64, severity: f64) -> Scored {
        Scored {
            value,
            expected,
            lower: expected - 10.0,
            upper: expected + 10.0,
            z: (value - expected) / 2.0,
            sigma: 2.0,
            severity,
            direction: if value >= expected {
                Direction::Spike
            } else {
                Direction::Drop
            },
            learning: false,
            anomalous: severity >= 50.0,
        }
    }

    fn dims(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_series_that_moved_for_one_hour_of_a_long_group_is_a_root_cause() {
        // EU web drops by 80 for six hours; US app rises by 12 in the third only. In the
        // group's sums US app is 2% of the deviation; in its hour it is all that is not EU web.
        let series: Vec<Vec<String>> = ["EU", "US", "AS", "SA"]
            .iter()
            .flat_map(|r| ["web", "app"].map(|c| dims(&[r, c])))
            .collect();
        let run = |grouper: Grouper| {
            let mut g = grouper;
            for hour in 1..=6 {
                let observations: Vec<Observation> = series
                    .iter()
                    .map(|d| {
                        let scored = match (d[0].as_str(), d[1].as_str()) {
                            ("EU", "web") => point(20.0, 100.0, 95.0),
                            ("US", "app") if hour == 3 => point(112.0, 100.0, 60.0),
                            _ => point(100.0, 100.0, 0.0),
                        };
                        Observation {
                            measure: 0,
                            dimensions: d,
                            scored,
                        }
                    })
                    .collect();
                g.push_interval(hour * 3600, observations);
            }
            let groups = g.finish();
            assert_eq!(groups.len(), 1);
            groups[0].root_causes.clone()
        };
        let grouper = || Grouper::new("det", dims(&["region", "channel"]), dims(&["revenue"]));
        assert_eq!(run(grouper()), ["region=EU&channel=web"]);
        assert_eq!(
            run(grouper().with_interval_causes()),
            ["region=EU&channel=web", "region=US&channel=app"]
        );
    }

    #[test]
    fn a_slice_total_that_alarms_alone_forms_a_group_with_its_leaves() {
        // Every web leaf is 20% down (z -2 each, no leaf anomalous, too little in their sums
        // for the leaves' root-cause search): the web total left its band.
        let leaves: Vec<Vec<String>> = ["EU", "US"]
            .iter()
            .flat_map(|r| ["web", "app"].map(|c| dims(&[r, c])))
            .collect();
        let web = vec![ANY.to_string(), "web".to_string()];
        let whole = vec![ANY.to_string(), ANY.to_string()];
        let mut g = Grouper::new("det", dims(&["region", "channel"]), dims(&["orders"]));
        g.push_interval(0, []);
        let mut observations: Vec<Observation> = leaves
            .iter()
            .map(|d| Observation {
                measure: 0,
                dimensions: d,
                scored: if d[1] == "web" {
                    point(96.0, 100.0, 20.0)
                } else {
                    point(100.0, 100.0, 0.0)
                },
            })
            .collect();
        let mut total = point(192.0, 200.0, 80.0);
        total.z = -5.5;
        observations.push(Observation {
            measure: 0,
            dimensions: &web,
            scored: total,
        });
        let mut all = point(392.0, 400.0, 55.0);
        all.z = -4.7;
        observations.push(Observation {
            measure: 0,
            dimensions: &whole,
            scored: all,
        });
        g.push_interval(3600, observations);
        g.push_interval(7200, []);
        let groups = g.finish();
        assert_eq!(groups.len(), 1);
        let group = &groups[0];
        assert_eq!(group.root_causes, ["channel=web"]);
        assert_eq!(group.direction, "drop");
        // Its series are the leaves of the slice, never an aggregate.
        let series: BTreeSet<Vec<String>> = group
            .time_series
            .iter()
            .map(|s| {
                s.dimensions
                    .iter()
                    .map(|d| d.dimension_value.clone())
                    .collect()
            })
            .collect();
        assert_eq!(series, [dims(&["EU", "web"]), dims(&["US", "web"])].into());
        let channel = &group.anomaly_group.metric_level_impact_list[0]
            .contribution_matrix
            .dimension_contribution_list[1];
        assert_eq!(
            channel.dimension_value_contribution_list[0].dimension_value,
            "web"
        );
        assert_eq!(
            channel.dimension_value_contribution_list[0].contribution_score,
            100.0
        );
    }

    #[test]
    fn opposite_moves_get_a_cause_each_with_its_direction() {
        // EU web drops by 80 while US app rises by 80 in the same hour: the measure's total
        // does not move, and neither cause is the whole measure.
        let series: Vec<Vec<String>> = ["EU", "US", "AS", "SA"]
            .iter()
            .flat_map(|r| ["web", "app"].map(|c| dims(&[r, c])))
            .collect();
        let mut g = Grouper::new("det", dims(&["region", "channel"]), dims(&["orders"]));
        g.push_interval(0, []);
        let observations: Vec<Observation> = series
            .iter()
            .map(|d| Observation {
                measure: 0,
                dimensions: d,
                scored: match (d[0].as_str(), d[1].as_str()) {
                    ("EU", "web") => point(20.0, 100.0, 95.0),
                    ("US", "app") => point(180.0, 100.0, 95.0),
                    _ => point(100.0, 100.0, 0.0),
                },
            })
            .collect();
        g.push_interval(3600, observations);
        let groups = g.finish();
        assert_eq!(groups.len(), 1);
        let group = &groups[0];
        assert_eq!(group.direction, "mixed");
        assert_eq!(
            group.root_causes,
            ["region=EU&channel=web", "region=US&channel=app"]
        );
        let signed: Vec<(&str, &str)> = group
            .signed_causes
            .iter()
            .map(|c| (c.cause.as_str(), c.direction.as_str()))
            .collect();
        assert_eq!(
            signed,
            [
                ("region=EU&channel=web", "drop"),
                ("region=US&channel=app", "spike")
            ]
        );
    }

    #[test]
    fn consecutive_intervals_form_one_group_with_contributions() {
        let eu_web = dims(&["EU", "web"]);
        let eu_app = dims(&["EU", "app"]);
        let us_web = dims(&["US", "web"]);
        let mut g = Grouper::new(
            "det",
            dims(&["region", "channel"]),
            dims(&["revenue", "orders"]),
        );
        let h = 3600;
        g.push_interval(0, []);
        for t in [h, 2 * h] {
            g.push_interval(
                t,
                [
                    Observation {
                        measure: 0,
                        dimensions: &eu_web,
                        scored: point(40.0, 100.0, 90.0),
                    },
                    Observation {
                        measure: 0,
                        dimensions: &eu_app,
                        scored: point(70.0, 100.0, 70.0),
                    },
                    Observation {
                        measure: 0,
                        dimensions: &us_web,
                        scored: point(101.0, 100.0, 5.0),
                    },
                    Observation {
                        measure: 1,
                        dimensions: &us_web,
                        scored: point(100.0, 100.0, 0.0),
                    },
                ],
            );
        }
        g.push_interval(3 * h, []);
        g.push_interval(
            4 * h,
            [Observation {
                measure: 0,
                dimensions: &us_web,
                scored: point(200.0, 100.0, 60.0),
            }],
        );
        let groups = g.finish();
        assert_eq!(groups.len(), 2);
        let first = &groups[0];
        assert_eq!((first.start, first.end), (h, 2 * h));
        // Severity 90, raised by the share of the measure the group moved, worked out by hand:
        // revenue's series over the group's two hours sum to 80 / 200 (EU web), 140 / 200
        // (EU app) and 202 / 200 (US web, not anomalous); the root cause region=EU covers the
        // first two, which moved 120 + 60 = 180 of the 600 expected: impact 0.3, and the score
        // goes half of 2 * 0.3 of the way from 90 to 100: 93.
        assert_eq!(first.root_causes, ["region=EU"]);
        assert!((first.impact - 0.3).abs() < 1e-9, "{}", first.impact);
        assert!(
            (first.anomaly_group.anomaly_group_score - 93.0).abs() < 0.01,
            "{}",
            first.anomaly_group.anomaly_group_score
        );
        assert_eq!(first.direction, "drop");
        let impact = &first.anomaly_group.metric_level_impact_list[0];
        assert_eq!(impact.num_time_series, 2);
        let region = &impact.contribution_matrix.dimension_contribution_list[0];
        assert_eq!(region.dimension_name, "region");
        assert_eq!(
            region.dimension_value_contribution_list.len(),
            1,
            "US was not anomalous"
        );
        assert_eq!(
            region.dimension_value_contribution_list[0].contribution_score,
            100.0
        );
        let channel = &impact.contribution_matrix.dimension_contribution_list[1];
        let top = &channel.dimension_value_contribution_list;
        assert_eq!(
            (top[0].dimension_value.as_str(), top[0].contribution_score),
            ("web", 66.67)
        );
        assert_eq!(
            (top[1].dimension_value.as_str(), top[1].contribution_score),
            ("app", 33.33)
        );
        assert_eq!(
            first.time_series[0].dimensions[1].dimension_value, "web",
            "most deviating first"
        );
        assert_eq!(first.time_series[0].points.len(), 2);

        let second = &groups[1];
        assert_eq!((second.start, second.direction.as_str()), (4 * h, "spike"));
        assert_ne!(
            first.anomaly_group.anomaly_group_id,
            second.anomaly_group.anomaly_group_id
        );
    }

    #[test]
    fn related_measures_by_precedence_and_shared_slices() {
        // views drop in EU at hour 2; revenue drops in EU an hour later; orders spike in US.
        let series: Vec<Vec<String>> = ["EU", "US"]
            .iter()
            .flat_map(|r| ["web", "app"].iter().map(move |c| dims(&[r, c])))
            .collect();
        let mut g = Grouper::new(
            "det",
            dims(&["region", "channel"]),
            dims(&["views", "orders", "revenue"]),
        );
        let h = 3600;
        for t in 0..6 {
            let mut obs = Vec::new();
            for s in &series {
                let eu = s[0] == "EU";
                let views = if eu && (2..=3).contains(&t) {
                    point(40.0, 100.0, 90.0)
                } else {
                    point(100.0, 100.0, 0.0)
                };
                let orders = if !eu && t == 2 {
                    point(200.0, 100.0, 80.0)
                } else {
                    point(100.0, 100.0, 0.0)
                };
                let revenue = if eu && (3..=4).contains(&t) {
                    point(30.0, 100.0, 85.0)
                } else {
                    point(100.0, 100.0, 0.0)
                };
                for (m, p) in [views, orders, revenue].into_iter().enumerate() {
                    obs.push(Observation {
                        measure: m,
                        dimensions: s,
                        scored: p,
                    });
                }
            }
            g.push_interval(t * h, obs);
        }
        let groups = g.finish();
        let by = |m: &str| {
            groups
                .iter()
                .find(|g| g.anomaly_group.primary_metric_name == m)
                .unwrap()
        };
        let (views, orders, revenue) = (by("views"), by("orders"), by("revenue"));
        assert_eq!(views.root_causes, ["region=EU"]);
        assert_eq!(orders.root_causes, ["region=US"]);
        assert_eq!(views.related.len(), 1);
        assert_eq!(views.related[0].metric_name, "revenue");
        assert_eq!(
            views.related[0].relationship_type,
            RelationshipType::EffectOfInputAnomalyGroup
        );
        assert_eq!(
            views.related[0].anomaly_group_id,
            revenue.anomaly_group.anomaly_group_id
        );
        assert_eq!(views.related[0].contribution_percentage, 100.0);
        assert_eq!(revenue.related.len(), 1);
        assert_eq!(
            revenue.related[0].relationship_type,
            RelationshipType::CauseOfInputAnomalyGroup
        );
        assert!(
            orders.related.is_empty(),
            "another slice is not related: {:?}",
            orders.related
        );
        // A group that moved half of its measure scores higher than its severity alone.
        assert!(
            views.anomaly_group.anomaly_group_score > 90.0 && views.impact > 0.2,
            "{} {}",
            views.anomaly_group.anomaly_group_score,
            views.impact
        );
    }

    #[test]
    fn ids_are_stable_and_uuid_shaped() {
        let a = group_id("det", "revenue", 3600);
        assert_eq!(a, group_id("det", "revenue", 3600));
        assert_ne!(a, group_id("det", "orders", 3600));
        assert_ne!(a, group_id("other", "revenue", 3600));
        let lens: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(lens, [8, 4, 4, 4, 12]);
        assert!(
            a.chars()
                .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    #[test]
    fn shares_sum_to_one_hundred() {
        let mut m = BTreeMap::new();
        for (v, d) in [("a", 1.0), ("b", 1.0), ("c", 1.0)] {
            m.insert(v.to_string(), d);
        }
        let s = shares(&m);
        let sum: f64 = s.iter().map(|c| c.contribution_score).sum();
        assert!((sum - 100.0).abs() < 0.02, "{sum}");
        m.insert("zero".into(), 0.0);
        assert_eq!(shares(&m).last().unwrap().contribution_score, 0.0);
    }
}
