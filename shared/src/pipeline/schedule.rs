//! A detector's schedule: when its ingest runs (after each interval ends, plus the metric
//! set's Offset, in the metric set's time zone), and the port that creates and deletes it.

use std::sync::Mutex;

use serde_json::json;

use super::Detector;
use crate::model::Frequency;
use crate::ports::BoxFuture;
pub use crate::ports::{ScheduleSpec, Schedules};

/// The cron expression firing once per interval, `offset` seconds after it ends (rounded up
/// to the minute, the scheduler's resolution).
pub fn cron(frequency: Frequency, offset: i64) -> String {
    let minutes = (offset.max(0) + 59) / 60;
    match frequency {
        Frequency::Pt5m => format!("cron({}/5 * * * ? *)", minutes % 5),
        Frequency::Pt10m => format!("cron({}/10 * * * ? *)", minutes % 10),
        Frequency::Pt1h => format!("cron({} * * * ? *)", minutes % 60),
        Frequency::P1d => {
            let m = minutes % 1440;
            format!("cron({} {} * * ? *)", m % 60, m / 60)
        }
    }
}

/// The schedule of a detector.
pub fn spec(d: &Detector) -> ScheduleSpec {
    let name = crate::ids::schedule_name(&d.arn).to_string();
    let offset = d.metric_set.offset.unwrap_or(0);
    ScheduleSpec {
        expression: cron(d.schema.frequency, offset),
        timezone: d.schema.zone.name().to_string(),
        input: json!({
            "anomalyDetectorArn": d.arn,
            "scheduledTime": "<aws.scheduler.scheduled-time>",
        })
        .to_string(),
        description: format!(
            "Seismo: ingest {} every {} after its end plus {offset} s",
            name,
            d.schema.frequency.as_str()
        ),
        name,
        once: false,
    }
}

/// Work the ingest function does once for a detector, outside the API call (a long history
/// has the function's 15 minutes instead of API Gateway's 29 seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Once {
    /// Learn from the historical data (ActivateAnomalyDetector).
    Activate,
    /// Run the backtest (BackTestAnomalyDetector).
    Backtest,
}

impl Once {
    /// The event field that asks for it, and the schedule name's suffix.
    fn word(self) -> &'static str {
        match self {
            Once::Activate => "activate",
            Once::Backtest => "backtest",
        }
    }
}

/// The one-time schedule (named by [`once_name`]) that has the ingest function do `work` for a
/// detector a minute after `now`; its event carries the request's `token`.
pub fn once_spec(d: &Detector, work: Once, now: i64, token: &str) -> ScheduleSpec {
    let name = crate::ids::schedule_name(&d.arn);
    let at = chrono::DateTime::from_timestamp(now + 60, 0).unwrap_or_default();
    let mut input = json!({ "anomalyDetectorArn": d.arn, "token": token });
    input[work.word()] = json!(true);
    ScheduleSpec {
        name: once_name(name, work),
        expression: format!("at({})", at.format("%Y-%m-%dT%H:%M:%S")),
        timezone: "UTC".into(),
        input: input.to_string(),
        description: format!("Seismo: {} {name}, once", work.word()),
        once: true,
    }
}

/// The name of a detector's one-time schedule for `work`: `NAME.activate` or `NAME.backtest`
/// (see [`crate::ids::once_schedule_name`], where the format lives).
pub fn once_name(detector_name: &str, work: Once) -> String {
    crate::ids::once_schedule_name(detector_name, work.word())
}

/// Keeps schedules in memory (for `seismo serve`, which runs intervals in process, and tests).
#[derive(Debug, Default)]
pub struct MemorySchedules {
    specs: Mutex<Vec<ScheduleSpec>>,
}

impl MemorySchedules {
    /// No schedules.
    pub fn new() -> Self {
        Self::default()
    }

    /// The schedules now.
    pub fn specs(&self) -> Vec<ScheduleSpec> {
        self.specs.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Schedules for MemorySchedules {
    fn put<'a>(&'a self, spec: &'a ScheduleSpec) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let mut specs = self.specs.lock().map_err(|_| "poisoned".to_string())?;
            specs.retain(|s| s.name != spec.name);
            specs.push(spec.clone());
            Ok(())
        })
    }

    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let mut specs = self.specs.lock().map_err(|_| "poisoned".to_string())?;
            specs.retain(|s| s.name != name);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_fires_once_per_interval_after_the_offset() {
        for (f, offset, want) in [
            (Frequency::Pt5m, 0, "cron(0/5 * * * ? *)"),
            (Frequency::Pt5m, 90, "cron(2/5 * * * ? *)"),
            (Frequency::Pt10m, 600, "cron(0/10 * * * ? *)"),
            (Frequency::Pt1h, 300, "cron(5 * * * ? *)"),
            (Frequency::Pt1h, 7_500, "cron(5 * * * ? *)"),
            (Frequency::P1d, 3_600, "cron(0 1 * * ? *)"),
            (Frequency::P1d, 432_000, "cron(0 0 * * ? *)"),
        ] {
            assert_eq!(cron(f, offset), want, "{f:?} offset {offset}");
        }
    }

    #[test]
    fn one_time_schedule_names_fit_the_scheduler_and_are_no_detectors() {
        assert_eq!(once_name("shop", Once::Activate), "shop.activate");
        assert_eq!(once_name("shop", Once::Backtest), "shop.backtest");
        // A detector may be named like another's one-time schedule with a dash; never a dot.
        assert_ne!(once_name("shop", Once::Activate), "shop-activate");
        // Detector names have up to 63 characters; schedule names at most 64. Two long names
        // that share their first 45 characters get different schedules.
        let (a, b) = ("d".repeat(63), format!("{}e", "d".repeat(62)));
        for work in [Once::Activate, Once::Backtest] {
            let (na, nb) = (once_name(&a, work), once_name(&b, work));
            assert!(na.len() <= 64 && nb.len() <= 64, "{na} {nb}");
            assert_ne!(na, nb);
        }
    }
}
