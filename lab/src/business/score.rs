//! How `seismo bench business` scores a detector's groups against the injected incidents.
//!
//! - A group **finds** an incident (of one measure) when it is of that measure, its span
//!   overlaps the incident's hours widened by one interval either side (a group may start an
//!   hour early or late: the recovery hour after a drop is the incident's doing; incidents of a
//!   measure are at least 4 hours apart, so the widened windows never overlap), and it
//!   **touches** the slice: one of its series is in the slice, or one of its root causes lies
//!   inside it (names every pair of the slice; for the whole measure, any cause).
//! - The root cause is **exact** when a finding group's `root_causes` holds exactly the slice
//!   (`*` for the whole measure; the `&`-parts compared as sets).
//! - A **false group** overlaps (with the same widening) no incident of its measure and no
//!   holiday. A group on a holiday that overlaps no incident is a **holiday group**: holidays
//!   are normal business that no detector is told about, so these are counted apart, neither
//!   false nor true, and holiday days are left out of the series-days.
//! - False groups per 1,000 series-days: false groups / (leaf series x measures x scored days
//!   off holidays) x 1,000.
//! - Recall per |z| bin, and over |z| >= 3 for drops and spikes apart; the exact-root-cause
//!   share, groups per incident found (fragmentation) and the share of incidents whose groups
//!   cover all their hours are over the incidents found with |z| >= 3.

use std::collections::BTreeSet;

use serde::Serialize;

use seismo_shared::group::GroupReport;

use super::generate::{Dataset, Incident, MEASURES};

/// The |z| bins: below 3 (reported, no goal), 3-5, 5-8, 8 and more.
pub const BINS: [(f64, f64); 4] = [(0.0, 3.0), (3.0, 5.0), (5.0, 8.0), (8.0, f64::INFINITY)];

/// The names of [`BINS`].
pub const BIN_NAMES: [&str; 4] = ["<3", "3-5", "5-8", ">=8"];

const HOUR: i64 = 3600;

/// The bin of an oracle z.
pub fn bin(z: f64) -> usize {
    BINS.iter()
        .position(|(lo, hi)| z.abs() >= *lo && z.abs() < *hi)
        .unwrap_or(BINS.len() - 1)
}

/// Found out of total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Count {
    /// Incidents found.
    pub found: usize,
    /// Incidents.
    pub total: usize,
}

impl Count {
    fn add(&mut self, found: bool) {
        self.total += 1;
        self.found += usize::from(found);
    }

    /// found / total (NaN when empty).
    pub fn share(&self) -> f64 {
        self.found as f64 / self.total as f64
    }
}

/// The figures of one detector over one or more data sets.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tally {
    /// Per bin of [`BINS`].
    pub bins: [Count; 4],
    /// Drops with |z| >= 3.
    pub drops: Count,
    /// Spikes with |z| >= 3.
    pub spikes: Count,
    /// Of the incidents found with |z| >= 3: exact root cause.
    pub exact: usize,
    /// Of the incidents found with |z| >= 3: all hours covered by their groups.
    pub covered: usize,
    /// Of the incidents found with |z| >= 3: groups finding them (summed).
    pub finding_groups: usize,
    /// Groups in all.
    pub groups: usize,
    /// False groups.
    pub false_groups: usize,
    /// Groups on holidays that found no incident.
    pub holiday_groups: usize,
    /// Leaf series x measures x scored days off holidays.
    pub series_days: f64,
}

impl Tally {
    /// Adds another tally (of another data set).
    pub fn add(&mut self, other: &Tally) {
        for (a, b) in self.bins.iter_mut().zip(&other.bins) {
            a.found += b.found;
            a.total += b.total;
        }
        for (a, b) in [
            (&mut self.drops, &other.drops),
            (&mut self.spikes, &other.spikes),
        ] {
            a.found += b.found;
            a.total += b.total;
        }
        self.exact += other.exact;
        self.covered += other.covered;
        self.finding_groups += other.finding_groups;
        self.groups += other.groups;
        self.false_groups += other.false_groups;
        self.holiday_groups += other.holiday_groups;
        self.series_days += other.series_days;
    }

    /// Incidents found with |z| >= 3.
    pub fn found(&self) -> usize {
        self.bins[1..].iter().map(|c| c.found).sum()
    }

    /// False groups per 1,000 series-days.
    pub fn false_rate(&self) -> f64 {
        self.false_groups as f64 / self.series_days * 1000.0
    }

    /// Share of the incidents found (|z| >= 3) with the exact root cause.
    pub fn exact_share(&self) -> f64 {
        self.exact as f64 / self.found() as f64
    }

    /// Share of the incidents found (|z| >= 3) whose groups cover all their hours.
    pub fn covered_share(&self) -> f64 {
        self.covered as f64 / self.found() as f64
    }

    /// Groups per incident found (|z| >= 3).
    pub fn fragmentation(&self) -> f64 {
        self.finding_groups as f64 / self.found() as f64
    }
}

/// What became of one incident.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// Groups that find it (indices into the groups scored).
    pub groups: Vec<usize>,
    /// Whether one of them names exactly its slice.
    pub exact: bool,
    /// Whether they cover all its hours.
    pub covered: bool,
}

/// The scoring of one detector on one data set.
#[derive(Debug, Clone)]
pub struct Scoring {
    /// The figures.
    pub tally: Tally,
    /// Per incident of the data set, in order.
    pub outcomes: Vec<Outcome>,
    /// Indices of the false groups.
    pub false_groups: Vec<usize>,
}

/// The pairs of a root cause (`region=EU&channel=web`), none for `*`.
fn cause_pairs(cause: &str) -> BTreeSet<(String, String)> {
    cause
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// Whether the group's span overlaps `[start, end]` widened by one interval either side.
fn near(g: &GroupReport, start: i64, end: i64) -> bool {
    g.start <= end + HOUR && g.end >= start - HOUR
}

/// Whether a group finds the incident.
pub fn finds(g: &GroupReport, inc: &Incident, dimensions: &[String]) -> bool {
    if g.anomaly_group.primary_metric_name != MEASURES[inc.measure]
        || !near(g, inc.start, inc.end())
    {
        return false;
    }
    let slice: BTreeSet<(String, String)> = inc.slice.iter().cloned().collect();
    let series_inside = g.time_series.iter().any(|s| {
        let dims: Vec<String> = dimensions
            .iter()
            .map(|d| {
                s.dimensions
                    .iter()
                    .find(|v| &v.dimension_name == d)
                    .map(|v| v.dimension_value.clone())
                    .unwrap_or_default()
            })
            .collect();
        inc.holds(dimensions, &dims)
    });
    series_inside
        || g.root_causes
            .iter()
            .any(|c| cause_pairs(c).is_superset(&slice))
}

/// Whether the group's root causes hold exactly the incident's slice.
pub fn exact(g: &GroupReport, inc: &Incident) -> bool {
    let slice: BTreeSet<(String, String)> = inc.slice.iter().cloned().collect();
    g.root_causes.iter().any(|c| cause_pairs(c) == slice)
}

/// Scores the groups of a detector on the data set.
pub fn score(d: &Dataset, groups: &[GroupReport]) -> Scoring {
    let mut tally = Tally {
        groups: groups.len(),
        series_days: d.series_days(),
        ..Tally::default()
    };
    let mut outcomes = Vec::new();
    for inc in &d.incidents {
        let finding: Vec<usize> = (0..groups.len())
            .filter(|&i| finds(&groups[i], inc, &d.dimensions))
            .collect();
        let is_exact = finding.iter().any(|&i| exact(&groups[i], inc));
        let covered = !finding.is_empty()
            && (0..inc.hours).all(|h| {
                let t = inc.start + h * HOUR;
                finding
                    .iter()
                    .any(|&i| groups[i].start <= t && t <= groups[i].end)
            });
        let found = !finding.is_empty();
        let b = bin(inc.z);
        tally.bins[b].add(found);
        if b > 0 {
            if inc.factor < 1.0 {
                tally.drops.add(found);
            } else {
                tally.spikes.add(found);
            }
            if found {
                tally.exact += usize::from(is_exact);
                tally.covered += usize::from(covered);
                tally.finding_groups += finding.len();
            }
        }
        outcomes.push(Outcome {
            groups: finding,
            exact: is_exact,
            covered,
        });
    }
    let mut false_groups = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        let of_incident = d.incidents.iter().any(|inc| {
            g.anomaly_group.primary_metric_name == MEASURES[inc.measure]
                && near(g, inc.start, inc.end())
        });
        if of_incident {
            continue;
        }
        let on_holiday = d
            .holidays
            .iter()
            .any(|h| near(g, h.start, h.start + h.days * 86_400 - HOUR));
        if on_holiday {
            tally.holiday_groups += 1;
        } else {
            tally.false_groups += 1;
            false_groups.push(i);
        }
    }
    Scoring {
        tally,
        outcomes,
        false_groups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seismo_shared::model::DimensionNameValue;

    const T0: i64 = 1_000_000 * HOUR;

    fn dims() -> Vec<String> {
        ["region", "channel", "plan"].map(String::from).to_vec()
    }

    fn incident(slice: &[(&str, &str)], start: i64, hours: i64) -> Incident {
        Incident {
            event: 0,
            measure: 0,
            injected_on: 0,
            slice: slice
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            start,
            hours,
            factor: 0.5,
            z: -6.0,
        }
    }

    fn group(
        measure: &str,
        start: i64,
        end: i64,
        causes: &[&str],
        series: &[[&str; 3]],
    ) -> GroupReport {
        let mut g: GroupReport = serde_json::from_value(serde_json::json!({
            "anomalyGroup": {
                "StartTime": "", "EndTime": "", "AnomalyGroupId": "", "AnomalyGroupScore": 50.0,
                "PrimaryMetricName": measure, "MetricLevelImpactList": [],
            },
            "rootCauses": causes,
            "impact": 0.1,
            "related": [],
            "direction": "drop",
            "start": start,
            "end": end,
            "timeSeries": [],
        }))
        .unwrap();
        g.time_series = series
            .iter()
            .map(|s| seismo_shared::group::GroupSeries {
                time_series_id: String::new(),
                dimensions: dims()
                    .into_iter()
                    .zip(s.iter())
                    .map(|(n, v)| DimensionNameValue {
                        dimension_name: n,
                        dimension_value: v.to_string(),
                    })
                    .collect(),
                points: Vec::new(),
            })
            .collect();
        g
    }

    #[test]
    fn matching_rules() {
        let eu_web = incident(&[("region", "EU"), ("channel", "web")], T0, 3);
        let whole = incident(&[], T0, 3);
        let cases: Vec<(&str, GroupReport, &Incident, bool, bool)> = vec![
            (
                "exact cause, same span",
                group("orders", T0, T0 + 2 * HOUR, &["region=EU&channel=web"], &[]),
                &eu_web,
                true,
                true,
            ),
            (
                "cause parts in another order",
                group("orders", T0, T0, &["channel=web&region=EU"], &[]),
                &eu_web,
                true,
                true,
            ),
            (
                "starts one hour after the end",
                group(
                    "orders",
                    T0 + 3 * HOUR,
                    T0 + 4 * HOUR,
                    &["region=EU&channel=web"],
                    &[],
                ),
                &eu_web,
                true,
                true,
            ),
            (
                "starts two hours after the end",
                group(
                    "orders",
                    T0 + 4 * HOUR,
                    T0 + 5 * HOUR,
                    &["region=EU&channel=web"],
                    &[],
                ),
                &eu_web,
                false,
                true,
            ),
            (
                "ends one hour before the start",
                group(
                    "orders",
                    T0 - 3 * HOUR,
                    T0 - HOUR,
                    &["region=EU&channel=web"],
                    &[],
                ),
                &eu_web,
                true,
                true,
            ),
            (
                "other measure",
                group("revenue", T0, T0, &["region=EU&channel=web"], &[]),
                &eu_web,
                false,
                true,
            ),
            (
                "narrower cause inside the slice",
                group("orders", T0, T0, &["region=EU&channel=web&plan=pro"], &[]),
                &eu_web,
                true,
                false,
            ),
            (
                "broader cause, series inside",
                group("orders", T0, T0, &["region=EU"], &[["EU", "web", "free"]]),
                &eu_web,
                true,
                false,
            ),
            (
                "broader cause, series outside",
                group("orders", T0, T0, &["region=EU"], &[["EU", "app", "free"]]),
                &eu_web,
                false,
                false,
            ),
            (
                "other slice",
                group(
                    "orders",
                    T0,
                    T0,
                    &["region=US&channel=web"],
                    &[["US", "web", "pro"]],
                ),
                &eu_web,
                false,
                false,
            ),
            (
                "whole measure, star",
                group("orders", T0, T0, &["*"], &[]),
                &whole,
                true,
                true,
            ),
            (
                "whole measure, a value",
                group("orders", T0, T0, &["region=US"], &[]),
                &whole,
                true,
                false,
            ),
            (
                "star is not a pair",
                group("orders", T0, T0, &["*"], &[]),
                &eu_web,
                false,
                false,
            ),
        ];
        for (name, g, inc, found, is_exact) in cases {
            assert_eq!(finds(&g, inc, &dims()), found, "{name}: finds");
            assert_eq!(exact(&g, inc), is_exact, "{name}: exact");
        }
    }

    #[test]
    fn bins_of_z() {
        for (z, b) in [
            (0.5, 0),
            (-2.99, 0),
            (3.0, 1),
            (-4.9, 1),
            (5.0, 2),
            (7.99, 2),
            (8.0, 3),
            (-100.0, 3),
            (f64::INFINITY, 3),
        ] {
            assert_eq!(bin(z), b, "{z}");
        }
    }

    #[test]
    fn false_holiday_and_true_groups_and_coverage() {
        let mut d = super::super::generate::generate(super::super::generate::BusinessOptions {
            weeks: 4,
            ..super::super::generate::BusinessOptions::new(2)
        });
        let holiday = d.holidays[1].start;
        let mut inc = incident(&[("region", "EU")], T0, 3);
        inc.start = holiday - 100 * HOUR;
        d.incidents = vec![inc.clone()];
        let groups = vec![
            // Finds it over its first two hours only, then again over the third: 2 groups.
            group("orders", inc.start, inc.start + HOUR, &["region=EU"], &[]),
            group(
                "orders",
                inc.start + 2 * HOUR,
                inc.start + 2 * HOUR,
                &["region=EU&plan=pro"],
                &[],
            ),
            // Same time, other measure: false (revenue has no incident).
            group("revenue", inc.start, inc.start, &["region=EU"], &[]),
            // On the holiday: neither.
            group(
                "orders",
                holiday + 5 * HOUR,
                holiday + 6 * HOUR,
                &["*"],
                &[],
            ),
            // Nowhere: false.
            group(
                "orders",
                inc.start + 20 * HOUR,
                inc.start + 20 * HOUR,
                &["*"],
                &[],
            ),
        ];
        let s = score(&d, &groups);
        assert_eq!(s.outcomes[0].groups, vec![0, 1]);
        assert!(s.outcomes[0].exact && s.outcomes[0].covered);
        assert_eq!(s.tally.bins[2], Count { found: 1, total: 1 });
        assert_eq!(s.tally.drops, Count { found: 1, total: 1 });
        assert_eq!(s.tally.fragmentation(), 2.0);
        assert_eq!(s.false_groups, vec![2, 4]);
        assert_eq!(s.tally.holiday_groups, 1);
    }
}
