//! Every store key format, in one place. A key names stored data: changing one of these
//! formats silently orphans what is stored under the old one, so each is pinned by a golden
//! test below.
//!
//! Documents of the API's resources are keyed by their ARN alone: [`Kind::Detector`],
//! [`Kind::MetricSet`], [`Kind::Alert`], and a resource's [`Kind::Tags`] and a detector's
//! [`Kind::Quality`]. Everything else a detector has is keyed under `ARN/` (see
//! [`detector_prefix`]), so listing or deleting that prefix finds all of it:
//!
//! | kind | key |
//! |---|---|
//! | Group | `ARN/GROUP_ID` ([`group`]) |
//! | Execution | `ARN/TIMESTAMP` ([`execution`]) |
//! | Feedback | `ARN/GROUP_ID/SERIES_ID` ([`feedback`]) |
//! | Pipeline | `ARN/runtime`, `ARN/run`, `ARN/state/SHARD`, `ARN/values/INTERVAL/SHARD`, `ARN/scored/INTERVAL/SHARD`, `ARN/progress/INTERVAL`, `ARN/sent/ALERT/GROUP_ID`, `ARN/reserved/WHAT` |
//!
//! [`Kind::Detector`]: crate::ports::Kind::Detector
//! [`Kind::MetricSet`]: crate::ports::Kind::MetricSet
//! [`Kind::Alert`]: crate::ports::Kind::Alert
//! [`Kind::Tags`]: crate::ports::Kind::Tags
//! [`Kind::Quality`]: crate::ports::Kind::Quality

use crate::model::timestamp_string;
use crate::ports::Kind;

/// `ARN/`: the prefix of everything a detector has under a kind (its groups, executions,
/// feedback and pipeline bookkeeping).
pub fn detector_prefix(detector_arn: &str) -> String {
    format!("{detector_arn}/")
}

/// The prefix of a detector's metric sets (kind MetricSet, keyed by their ARN):
/// `arn:...:MetricSet/DETECTOR_NAME/` for a detector `arn:...:AnomalyDetector:DETECTOR_NAME`,
/// else `ARN/MetricSet/`.
pub fn metric_sets_of(detector_arn: &str) -> String {
    match detector_arn.rsplit_once(":AnomalyDetector:") {
        Some((head, name)) => format!("{head}:MetricSet/{name}/"),
        None => format!("{detector_arn}/MetricSet/"),
    }
}

/// An anomaly group (kind Group): `ARN/GROUP_ID`.
pub fn group(detector_arn: &str, group_id: &str) -> String {
    format!("{detector_arn}/{group_id}")
}

/// The execution record of an interval (kind Execution): `ARN/TIMESTAMP`, the interval's
/// start as the API writes times (`2026-09-23T10:00:00Z`).
pub fn execution(detector_arn: &str, interval: i64) -> String {
    format!("{detector_arn}/{}", timestamp_string(interval))
}

/// Feedback on a series of a group (kind Feedback): `ARN/GROUP_ID/SERIES_ID`; with an empty
/// series id, the prefix of all the group's feedback.
pub fn feedback(detector_arn: &str, group_id: &str, series_id: &str) -> String {
    format!("{detector_arn}/{group_id}/{series_id}")
}

/// The group id and series id of a feedback key of `detector_arn` (the inverse of
/// [`feedback`]); None for a key of another shape.
pub fn feedback_ids<'k>(detector_arn: &str, key: &'k str) -> Option<(&'k str, &'k str)> {
    key.strip_prefix(detector_arn)?
        .strip_prefix('/')?
        .split_once('/')
}

/// The detector's pipeline settings, fixed at activation (kind Pipeline): `ARN/runtime`.
pub fn runtime(detector_arn: &str) -> String {
    format!("{detector_arn}/runtime")
}

/// The claim of a detector's run (activation or backtest) (kind Pipeline): `ARN/run`.
pub fn run(detector_arn: &str) -> String {
    format!("{detector_arn}/run")
}

/// The prefix of every shard's model state (kind Pipeline): `ARN/state/`.
pub fn states(detector_arn: &str) -> String {
    format!("{detector_arn}/state/")
}

/// The head of a shard's model state, naming its current blob (kind Pipeline):
/// `ARN/state/SHARD`.
pub fn state(detector_arn: &str, shard: u32) -> String {
    format!("{detector_arn}/state/{shard}")
}

/// The prefix of a shard's model state blobs (kind Pipeline): `ARN/state/SHARD/`.
pub fn state_blobs(detector_arn: &str, shard: u32) -> String {
    format!("{detector_arn}/state/{shard}/")
}

/// One written model state of a shard, as of interval `at` (a blob, see [`blob_part`]):
/// `ARN/state/SHARD/AT/UNIQUE`, `unique` telling two writers of the same interval apart.
pub fn state_blob(detector_arn: &str, shard: u32, at: i64, unique: &str) -> String {
    format!("{detector_arn}/state/{shard}/{at}/{unique}")
}

/// A shard's ingested values of an interval (a blob): `ARN/values/INTERVAL/SHARD`.
pub fn values(detector_arn: &str, interval: i64, shard: u32) -> String {
    format!("{detector_arn}/values/{interval}/{shard}")
}

/// A shard's scored points of an interval (a blob): `ARN/scored/INTERVAL/SHARD`.
pub fn scored(detector_arn: &str, interval: i64, shard: u32) -> String {
    format!("{detector_arn}/scored/{interval}/{shard}")
}

/// Which shards of an interval are scored (kind Pipeline): `ARN/progress/INTERVAL`.
pub fn progress(detector_arn: &str, interval: i64) -> String {
    format!("{detector_arn}/progress/{interval}")
}

/// That an alert sent (or is sending) a group (kind Pipeline): `ARN/sent/ALERT_NAME/GROUP_ID`.
pub fn sent(detector_arn: &str, alert_name: &str, group_id: &str) -> String {
    format!("{detector_arn}/sent/{alert_name}/{group_id}")
}

/// Names reserved under a detector's quota while being created (kind Pipeline), `what`
/// being what is counted (metric sets, alerts): `ARN/reserved/WHAT`.
pub fn reserved(detector_arn: &str, what: &str) -> String {
    format!("{detector_arn}/reserved/{what}")
}

/// Part `i` of a blob stored in documents (kind Pipeline): `KEY#I`.
pub fn blob_part(key: &str, i: u64) -> String {
    format!("{key}#{i}")
}

/// The object holding a blob stored in an object store: `ROOT/KEY`.
pub fn blob_object(root: &str, key: &str) -> String {
    format!("{root}/{key}")
}

/// The embedded store's own key of a document: `KIND/KEY` (the kind's stable name).
pub fn embedded(kind: Kind, key: &str) -> String {
    format!("{}/{key}", kind.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:lookoutmetrics:us-east-1:123456789012:AnomalyDetector:shop";
    /// 2026-09-23T10:00:00Z.
    const INTERVAL: i64 = 1_790_157_600;

    #[test]
    fn every_key_format_is_pinned() {
        let g = "b6e5f29b-324e-b01d-8798-15c60061a208";
        for (got, want) in [
            (
                detector_prefix(ARN),
                "arn:aws:lookoutmetrics:us-east-1:123456789012:AnomalyDetector:shop/",
            ),
            (
                metric_sets_of(ARN),
                "arn:aws:lookoutmetrics:us-east-1:123456789012:MetricSet/shop/",
            ),
            (metric_sets_of("local"), "local/MetricSet/"),
            (
                group(ARN, g),
                "arn:aws:lookoutmetrics:us-east-1:123456789012:AnomalyDetector:shop/b6e5f29b-324e-b01d-8798-15c60061a208",
            ),
            (
                execution(ARN, INTERVAL),
                "arn:aws:lookoutmetrics:us-east-1:123456789012:AnomalyDetector:shop/2026-09-23T10:00:00Z",
            ),
            (
                feedback(ARN, g, "f0b4b0a5588052b6"),
                "arn:aws:lookoutmetrics:us-east-1:123456789012:AnomalyDetector:shop/b6e5f29b-324e-b01d-8798-15c60061a208/f0b4b0a5588052b6",
            ),
            (
                feedback(ARN, g, ""),
                "arn:aws:lookoutmetrics:us-east-1:123456789012:AnomalyDetector:shop/b6e5f29b-324e-b01d-8798-15c60061a208/",
            ),
            (
                runtime(ARN),
                "arn:aws:lookoutmetrics:us-east-1:123456789012:AnomalyDetector:shop/runtime",
            ),
            (
                run(ARN),
                "arn:aws:lookoutmetrics:us-east-1:123456789012:AnomalyDetector:shop/run",
            ),
            (
                states(ARN),
                "arn:aws:lookoutmetrics:us-east-1:123456789012:AnomalyDetector:shop/state/",
            ),
            (
                state(ARN, 7),
                "arn:aws:lookoutmetrics:us-east-1:123456789012:AnomalyDetector:shop/state/7",
            ),
            (
                state_blobs(ARN, 7),
                "arn:aws:lookoutmetrics:us-east-1:123456789012:AnomalyDetector:shop/state/7/",
            ),
            (
                state_blob(ARN, 7, INTERVAL, "u1"),
                "arn:aws:lookoutmetrics:us-east-1:123456789012:AnomalyDetector:shop/state/7/1790157600/u1",
            ),
            (
                values(ARN, INTERVAL, 7),
                "arn:aws:lookoutmetrics:us-east-1:123456789012:AnomalyDetector:shop/values/1790157600/7",
            ),
            (
                scored(ARN, INTERVAL, 7),
                "arn:aws:lookoutmetrics:us-east-1:123456789012:AnomalyDetector:shop/scored/1790157600/7",
            ),
            (
                progress(ARN, INTERVAL),
                "arn:aws:lookoutmetrics:us-east-1:123456789012:AnomalyDetector:shop/progress/1790157600",
            ),
            (
                sent(ARN, "pager", g),
                "arn:aws:lookoutmetrics:us-east-1:123456789012:AnomalyDetector:shop/sent/pager/b6e5f29b-324e-b01d-8798-15c60061a208",
            ),
            (
                reserved(ARN, "metric-sets"),
                "arn:aws:lookoutmetrics:us-east-1:123456789012:AnomalyDetector:shop/reserved/metric-sets",
            ),
            (blob_part("d/scored/1/0", 3), "d/scored/1/0#3"),
            (
                blob_object("s3://bucket/seismo", "d/scored/1/0"),
                "s3://bucket/seismo/d/scored/1/0",
            ),
            (embedded(Kind::Execution, "d/t"), "Execution/d/t"),
        ] {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn a_feedback_key_gives_back_its_ids() {
        let key = feedback(ARN, "g1", "s1");
        assert_eq!(feedback_ids(ARN, &key), Some(("g1", "s1")));
        // Another detector's key, or no series: none.
        assert_eq!(feedback_ids(&format!("{ARN}x"), &key), None);
        assert_eq!(feedback_ids(ARN, &group(ARN, "g1")), None);
    }

    #[test]
    fn every_detector_key_is_under_its_prefix() {
        let prefix = detector_prefix(ARN);
        for key in [
            group(ARN, "g"),
            execution(ARN, INTERVAL),
            feedback(ARN, "g", "s"),
            runtime(ARN),
            run(ARN),
            state(ARN, 0),
            state_blob(ARN, 0, INTERVAL, "u"),
            values(ARN, INTERVAL, 0),
            scored(ARN, INTERVAL, 0),
            progress(ARN, INTERVAL),
            sent(ARN, "a", "g"),
            reserved(ARN, "alerts"),
        ] {
            assert!(key.starts_with(&prefix), "{key}");
        }
        assert!(state_blob(ARN, 7, 1, "u").starts_with(&state_blobs(ARN, 7)));
        assert!(state_blobs(ARN, 7).starts_with(&states(ARN)));
    }
}
