//! `seismo bench business`: Seismo against a per-series seasonal-median baseline on generated
//! business metrics sliced by region x channel x plan, with incidents of known size.
//!
//! - [`generate`]: the data sets, every parameter known, each incident with its oracle z;
//! - [`baseline`]: the seasonal-median baseline, grouped by the backtest's grouper;
//! - [`score`]: recall per |z| bin, false groups per 1,000 series-days, exact root causes.
//!
//! Seismo runs through the real backtest ([`seismo_shared::backtest::run_objects`]) over the
//! data set's CSV in memory: trained on the oldest 70% of the hours, scored on the newest 30%,
//! where every incident lies. The baseline is fitted on the same 70% and scored on the same 30%.
//!
//! ```
//! use seismo_lab::business::{self, generate::BusinessOptions};
//!
//! let d = business::generate::generate(BusinessOptions { weeks: 8, ..BusinessOptions::new(1) });
//! assert!(!d.incidents.is_empty());
//! seismo_shared::validate::metric_set(&d.metric_set()).unwrap();
//! ```

pub mod baseline;
pub mod generate;
pub mod score;

use seismo_shared::backtest::{self, BacktestError, BacktestOptions};
use seismo_shared::engine::Sensitivity;
use seismo_shared::group::GroupReport;

use generate::{BusinessOptions, Dataset};
use score::Scoring;

/// The seeds engine work tunes on.
pub const TUNING_SEEDS: std::ops::RangeInclusive<u64> = 1..=40;
/// The seeds figures are reported on (never tuned on).
pub const EVALUATION_SEEDS: std::ops::RangeInclusive<u64> = 1001..=1040;

/// One detector's groups on one data set, scored.
#[derive(Debug, Clone)]
pub struct Run {
    /// The detector (`seismo` or `baseline`).
    pub detector: &'static str,
    /// Its threshold (severity 0-100 for Seismo, sigmas for the baseline).
    pub threshold: f64,
    /// Its groups of the scored window.
    pub groups: Vec<GroupReport>,
    /// Their scoring.
    pub scoring: Scoring,
}

/// Everything about one seed.
#[derive(Debug, Clone)]
pub struct SeedRun {
    /// The data set.
    pub dataset: Dataset,
    /// Seismo at its threshold.
    pub seismo: Run,
    /// The baseline at each of its thresholds.
    pub baseline: Vec<Run>,
    /// Seconds Seismo's backtest took (reading the CSV included).
    pub seismo_seconds: f64,
    /// Seconds the baseline took at all its thresholds.
    pub baseline_seconds: f64,
}

/// Seismo's groups on the data set: the backtest over its CSV, read from memory; with
/// `aggregates` false, over the leaves alone (no slice totals).
pub fn seismo_groups(
    d: &Dataset,
    threshold: Sensitivity,
    aggregates: bool,
) -> Result<Vec<GroupReport>, BacktestError> {
    let ms = d.metric_set();
    let csv = d.csv().into_bytes();
    let reader: seismo_shared::objects::ObjectReader = Box::new(std::io::Cursor::new(csv));
    let options = BacktestOptions {
        threshold,
        namespace: ms.metric_set_name.clone(),
        aggregates,
    };
    let report = backtest::run_objects(
        &ms,
        [("historical/metrics.csv".to_string(), Ok(reader))],
        1,
        &options,
        &mut |_| {},
    )?;
    Ok(report.groups)
}

/// Generates the data set of `options` and runs and scores both detectors on it.
pub fn run_seed(
    options: BusinessOptions,
    threshold: Sensitivity,
    aggregates: bool,
    baseline_thresholds: &[f64],
) -> Result<SeedRun, BacktestError> {
    let dataset = generate::generate(options);
    let started = std::time::Instant::now();
    let groups = seismo_groups(&dataset, threshold, aggregates)?;
    let seismo_seconds = started.elapsed().as_secs_f64();
    let seismo = Run {
        detector: "seismo",
        threshold: threshold.get(),
        scoring: score::score(&dataset, &groups),
        groups,
    };
    let started = std::time::Instant::now();
    let fitted = baseline::Baseline::fit(&dataset);
    let baseline = baseline_thresholds
        .iter()
        .map(|&t| {
            let groups = fitted.groups(&dataset, t);
            Run {
                detector: "baseline",
                threshold: t,
                scoring: score::score(&dataset, &groups),
                groups,
            }
        })
        .collect();
    let baseline_seconds = started.elapsed().as_secs_f64();
    Ok(SeedRun {
        dataset,
        seismo,
        baseline,
        seismo_seconds,
        baseline_seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_small_seed_end_to_end() {
        // Twenty weeks: six scored, room for incidents in every bin.
        let options = BusinessOptions {
            weeks: 20,
            ..BusinessOptions::new(1001)
        };
        let run = run_seed(options, Sensitivity::DEFAULT, true, &[3.0, 1e9]).unwrap();
        let d = &run.dataset;
        let t = &run.seismo.scoring.tally;
        assert_eq!(
            t.bins.iter().map(|c| c.total).sum::<usize>(),
            d.incidents.len()
        );
        assert!(t.series_days > 0.0);
        // Every reported |z| bin holds incidents.
        assert!(t.bins[1..].iter().all(|c| c.total > 0), "{:?}", t.bins);
        // Seismo finds something, and every group it reports is in the scored window.
        assert!(t.found() > 0, "{t:?}");
        let from = d.time(d.first_scored);
        assert!(run.seismo.groups.iter().all(|g| g.start >= from));
        // The baseline at a low threshold finds something; at a huge one, nothing at all.
        assert!(run.baseline[0].scoring.tally.found() > 0);
        let huge = &run.baseline[1].scoring.tally;
        assert_eq!((huge.groups, huge.found(), huge.false_groups), (0, 0, 0));
    }
}
