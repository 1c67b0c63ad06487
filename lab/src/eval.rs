//! Event-level precision, recall and F1 of anomaly groups against labelled events.
//!
//! A labelled event is a span of intervals of one measure. A group matches an event when it is
//! of the same measure and their spans overlap. Precision is the share of groups that match some
//! event; recall the share of events matched by some group; only events inside the scored
//! window count.

use serde::Serialize;

use seismo_shared::group::GroupReport;

/// A labelled event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelledEvent {
    /// Measure.
    pub measure: String,
    /// First interval start (epoch seconds).
    pub start: i64,
    /// Last interval start (epoch seconds).
    pub end: i64,
    /// The slice, `a=a1&b=b2`, when known.
    pub dimensions: Option<String>,
}

/// Scores of one measure (or all).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventScore {
    /// Measure, or `all`.
    pub measure: String,
    /// Groups reported.
    pub groups: usize,
    /// Groups that match an event.
    pub true_groups: usize,
    /// Events labelled in the window.
    pub events: usize,
    /// Events matched by a group.
    pub found_events: usize,
    /// true_groups / groups (1 when no group).
    pub precision: f64,
    /// found_events / events (1 when no event).
    pub recall: f64,
    /// Harmonic mean.
    pub f1: f64,
}

/// Whether the group matches the event: the same measure, overlapping spans.
pub fn overlaps(g: &GroupReport, e: &LabelledEvent) -> bool {
    g.anomaly_group.primary_metric_name == e.measure && g.start <= e.end && e.start <= g.end
}

/// Scores the groups of the window `[from, to]` against the events, per measure and overall.
pub fn score(
    groups: &[GroupReport],
    events: &[LabelledEvent],
    measures: &[String],
    from: i64,
    to: i64,
) -> Vec<EventScore> {
    let events: Vec<&LabelledEvent> = events
        .iter()
        .filter(|e| e.end >= from && e.start <= to)
        .collect();
    let mut out = Vec::new();
    let all = "all".to_string();
    for m in measures.iter().chain(std::iter::once(&all)) {
        let keep = |name: &str| m == &all || name == m;
        let gs: Vec<&GroupReport> = groups
            .iter()
            .filter(|g| keep(&g.anomaly_group.primary_metric_name))
            .collect();
        let es: Vec<&&LabelledEvent> = events.iter().filter(|e| keep(&e.measure)).collect();
        let true_groups = gs
            .iter()
            .filter(|g| es.iter().any(|e| overlaps(g, e)))
            .count();
        let found_events = es
            .iter()
            .filter(|e| gs.iter().any(|g| overlaps(g, e)))
            .count();
        let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
        let precision = ratio(true_groups, gs.len());
        let recall = ratio(found_events, es.len());
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        out.push(EventScore {
            measure: m.clone(),
            groups: gs.len(),
            true_groups,
            events: es.len(),
            found_events,
            precision,
            recall,
            f1,
        });
    }
    out
}

/// Merges labelled intervals of one measure into events: consecutive labelled intervals
/// (`step` apart, across any series) form one event.
pub fn events_from_points(measure: &str, mut times: Vec<i64>, step: i64) -> Vec<LabelledEvent> {
    times.sort_unstable();
    times.dedup();
    let mut out: Vec<LabelledEvent> = Vec::new();
    for t in times {
        match out.last_mut() {
            Some(e) if t - e.end <= step => e.end = t,
            _ => out.push(LabelledEvent {
                measure: measure.to_string(),
                start: t,
                end: t,
                dimensions: None,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use seismo_shared::engine::{Direction, Scored};
    use seismo_shared::group::{Grouper, Observation};

    fn groups(spans: &[(usize, i64, i64)]) -> Vec<GroupReport> {
        let dims = vec!["x".to_string()];
        let mut g = Grouper::new("t", vec!["d".into()], vec!["a".into(), "b".into()]);
        let last = spans.iter().map(|s| s.2).max().unwrap_or(0);
        for t in 0..=last + 1 {
            let obs: Vec<Observation> = spans
                .iter()
                .filter(|(_, s, e)| (*s..=*e).contains(&t))
                .map(|(m, _, _)| Observation {
                    measure: *m,
                    dimensions: &dims,
                    scored: Scored {
                        value: 2.0,
                        expected: 1.0,
                        lower: 0.0,
                        upper: 1.5,
                        z: 9.0,
                        sigma: 2.0,
                        severity: 90.0,
                        direction: Direction::Spike,
                        learning: false,
                        anomalous: true,
                    },
                })
                .collect();
            g.push_interval(t, obs);
        }
        g.finish()
    }

    #[test]
    fn precision_recall_and_f1_by_overlap() {
        let gs = groups(&[(0, 2, 3), (0, 10, 10), (1, 20, 21)]);
        let mut events = events_from_points("a", vec![3, 4, 5, 30], 1);
        events.extend(events_from_points("b", vec![21], 1));
        assert_eq!(events.len(), 3);
        let s = score(&gs, &events, &["a".into(), "b".into()], 0, 100);
        let a = &s[0];
        assert_eq!(
            (a.groups, a.true_groups, a.events, a.found_events),
            (2, 1, 2, 1)
        );
        assert!((a.f1 - 0.5).abs() < 1e-12);
        assert_eq!(s[1].f1, 1.0);
        assert_eq!(s[2].measure, "all");
        assert_eq!(
            (
                s[2].groups,
                s[2].true_groups,
                s[2].events,
                s[2].found_events
            ),
            (3, 2, 3, 2)
        );
        // Events outside the window do not count.
        let s = score(&gs, &events, &["a".into()], 0, 20);
        assert_eq!(s[0].events, 1);
    }
}
