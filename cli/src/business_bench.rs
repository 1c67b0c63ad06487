//! `seismo bench business`: Seismo and a seasonal-median baseline on generated business metrics
//! (orders and revenue by region x channel x plan) with incidents of known oracle z.

use anyhow::{Context, Result, bail};
use seismo_lab::business::generate::{BusinessOptions, Incident, MEASURES};
use seismo_lab::business::score::{BIN_NAMES, Tally};
use seismo_lab::business::{self, EVALUATION_SEEDS, SeedRun, TUNING_SEEDS};
use seismo_shared::engine::Sensitivity;
use seismo_shared::group::GroupReport;
use seismo_shared::model::timestamp_string;

/// Parses `1001-1012`, `1,2,5`, `1-3,7`, `tuning` or `evaluation`.
pub(crate) fn parse_seeds(text: &str) -> Result<Vec<u64>> {
    let mut seeds = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part {
            "tuning" => seeds.extend(TUNING_SEEDS),
            "evaluation" => seeds.extend(EVALUATION_SEEDS),
            _ => {
                let (a, b) = part.split_once('-').unwrap_or((part, part));
                let a: u64 = a.trim().parse().with_context(|| format!("seed {part:?}"))?;
                let b: u64 = b.trim().parse().with_context(|| format!("seed {part:?}"))?;
                if b < a {
                    bail!("seed range {part:?} runs backwards");
                }
                seeds.extend(a..=b);
            }
        }
    }
    if seeds.is_empty() {
        bail!("no seeds in {text:?}");
    }
    Ok(seeds)
}

/// The options of `seismo bench business`.
#[derive(Debug)]
pub(crate) struct BusinessBench {
    pub(crate) seeds: Vec<u64>,
    pub(crate) weeks: u32,
    pub(crate) threshold: f64,
    pub(crate) baseline_thresholds: Vec<f64>,
    /// Seismo without slice totals (the leaves alone), to see what they add.
    pub(crate) leaves_only: bool,
    pub(crate) json: bool,
    pub(crate) misses: bool,
}

/// One table row: a detector at a threshold, summed over the seeds.
struct Row {
    name: String,
    tally: Tally,
}

pub(crate) fn run(o: &BusinessBench) -> Result<()> {
    let threshold = Sensitivity::new(o.threshold).map_err(anyhow::Error::msg)?;
    if o.weeks < 3 {
        bail!("--weeks must be at least 3 (the baseline needs a week of history in training)");
    }
    let started = std::time::Instant::now();
    let mut runs: Vec<SeedRun> = Vec::new();
    for &seed in &o.seeds {
        let options = BusinessOptions {
            weeks: o.weeks,
            ..BusinessOptions::new(seed)
        };
        let run = business::run_seed(options, threshold, !o.leaves_only, &o.baseline_thresholds)
            .with_context(|| format!("seed {seed}"))?;
        if !o.json {
            eprintln!(
                "seed {seed}: {} series, {} incidents; seismo {} groups ({:.1} s), baseline {:.1} s",
                run.dataset.leaves.len(),
                run.dataset.incidents.len(),
                run.seismo.groups.len(),
                run.seismo_seconds,
                run.baseline_seconds
            );
        }
        runs.push(run);
    }
    let seconds = started.elapsed().as_secs_f64();
    let sum = |pick: &dyn Fn(&SeedRun) -> &Tally| {
        let mut t = Tally::default();
        for r in &runs {
            t.add(pick(r));
        }
        t
    };
    let mut rows = vec![Row {
        name: if o.leaves_only {
            format!("seismo {:.0} leaves only", o.threshold)
        } else {
            format!("seismo {:.0}", o.threshold)
        },
        tally: sum(&|r| &r.seismo.scoring.tally),
    }];
    for (i, t) in o.baseline_thresholds.iter().enumerate() {
        rows.push(Row {
            name: format!("baseline {t}"),
            tally: sum(&|r| &r.baseline[i].scoring.tally),
        });
    }
    let seismo_seconds: f64 = runs.iter().map(|r| r.seismo_seconds).sum();
    let baseline_seconds: f64 = runs.iter().map(|r| r.baseline_seconds).sum();
    if o.json {
        let out = serde_json::json!({
            "seeds": o.seeds, "weeks": o.weeks, "seconds": seconds,
            "seismoSeconds": seismo_seconds, "baselineSeconds": baseline_seconds,
            "rows": rows.iter().map(|r| serde_json::json!({
                "detector": r.name, "tally": r.tally,
                "recall": r.tally.bins.iter().map(|c| c.share()).collect::<Vec<_>>(),
                "falsePer1000SeriesDays": r.tally.false_rate(),
                "exactRootCause": r.tally.exact_share(),
                "fragmentation": r.tally.fragmentation(),
                "covered": r.tally.covered_share(),
            })).collect::<Vec<_>>(),
            "incidents": runs.iter().flat_map(|r| r.dataset.incidents.iter().zip(&r.seismo.scoring.outcomes).map(|(i, out)| serde_json::json!({
                "seed": r.dataset.options.seed, "measure": MEASURES[i.measure], "slice": i.slice_notation(),
                "start": timestamp_string(i.start), "hours": i.hours, "factor": i.factor, "z": i.z,
                "injectedOn": MEASURES[i.injected_on], "seismoFound": !out.groups.is_empty(), "seismoExact": out.exact,
            }))).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let series: usize = runs.iter().map(|r| r.dataset.leaves.len()).sum();
    let incidents: usize = runs.iter().map(|r| r.dataset.incidents.len()).sum();
    println!(
        "Sliced business metrics: seeds {}, {} weeks hourly; {series} leaf series x 2 measures, {incidents} incident-measures; {:.0} series-days scored (holidays left out)",
        seeds_text(&o.seeds),
        o.weeks,
        rows[0].tally.series_days
    );
    println!(
        "recall = found/total per oracle |z| bin; false = false groups per 1,000 series-days (count); exact = exact root cause share of incidents found (|z| >= 3); frag = groups per incident found; cover = share found whose groups cover every hour"
    );
    let bins: String = BIN_NAMES
        .iter()
        .map(|b| format!(" {:>15}", format!("|z| {b}")))
        .collect();
    println!(
        "{:<15}{bins} {:>13} {:>7} {:>7} {:>6} {:>6} {:>7} {:>7}",
        "detector", "false", "holiday", "exact", "frag", "cover", "drops", "spikes"
    );
    for r in &rows {
        let t = &r.tally;
        let bins: String = t
            .bins
            .iter()
            .map(|c| {
                format!(
                    " {:>15}",
                    format!("{:.3} {}/{}", c.share(), c.found, c.total)
                )
            })
            .collect();
        println!(
            "{:<15}{bins} {:>13} {:>7} {:>7.3} {:>6.2} {:>6.3} {:>7.3} {:>7.3}",
            r.name,
            format!("{:.2} ({})", t.false_rate(), t.false_groups),
            t.holiday_groups,
            t.exact_share(),
            t.fragmentation(),
            t.covered_share(),
            t.drops.share(),
            t.spikes.share()
        );
    }
    println!(
        "{seconds:.1} s in all ({seismo_seconds:.1} s Seismo's backtests, {baseline_seconds:.1} s the baseline at {} thresholds, the rest generating)",
        o.baseline_thresholds.len()
    );
    if o.misses {
        print_misses(&runs);
    }
    Ok(())
}

fn seeds_text(seeds: &[u64]) -> String {
    match (seeds.first(), seeds.last()) {
        (Some(a), Some(b)) if seeds.len() as u64 == b - a + 1 && seeds.len() > 1 => {
            format!("{a}-{b}")
        }
        _ => seeds
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(","),
    }
}

fn describe(inc: &Incident) -> String {
    format!(
        "{} {} {}h x{:.2} ({}{}) z {:+.1}",
        MEASURES[inc.measure],
        timestamp_string(inc.start),
        inc.hours,
        inc.factor,
        inc.slice_notation(),
        if inc.injected_on == inc.measure {
            String::new()
        } else {
            format!(", via {}", MEASURES[inc.injected_on])
        },
        inc.z
    )
}

fn describe_group(g: &GroupReport) -> String {
    format!(
        "{} {} .. {} score {:.1}, {} series, causes {}",
        g.anomaly_group.primary_metric_name,
        timestamp_string(g.start),
        timestamp_string(g.end),
        g.anomaly_group.anomaly_group_score,
        g.time_series.len(),
        g.root_causes.join(" | ")
    )
}

/// Seismo's missed incidents (|z| >= 3) with the nearest group of their measure, its found
/// incidents without the exact root cause, and its false groups.
fn print_misses(runs: &[SeedRun]) {
    for r in runs {
        let d = &r.dataset;
        let s = &r.seismo;
        println!("seed {}:", d.options.seed);
        for (inc, out) in d.incidents.iter().zip(&s.scoring.outcomes) {
            if inc.z.abs() < 3.0 {
                continue;
            }
            if out.groups.is_empty() {
                let nearest = s
                    .groups
                    .iter()
                    .filter(|g| g.anomaly_group.primary_metric_name == MEASURES[inc.measure])
                    .min_by_key(|g| (g.start - inc.end()).max(inc.start - g.end).max(0))
                    .filter(|g| (g.start - inc.end()).max(inc.start - g.end) <= 12 * 3600);
                println!(
                    "  missed {}; nearest group within 12 h: {}",
                    describe(inc),
                    nearest.map_or("none".into(), describe_group)
                );
            } else if !out.exact {
                println!(
                    "  inexact {}; found by {}",
                    describe(inc),
                    describe_group(&s.groups[out.groups[0]])
                );
            }
        }
        for &i in &s.scoring.false_groups {
            println!("  false group {}", describe_group(&s.groups[i]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_lists() {
        let cases: [(&str, Vec<u64>); 4] = [
            ("1-3", vec![1, 2, 3]),
            ("1,5, 7", vec![1, 5, 7]),
            ("1-2,9", vec![1, 2, 9]),
            ("tuning", TUNING_SEEDS.collect()),
        ];
        for (text, want) in cases {
            assert_eq!(parse_seeds(text).unwrap(), want, "{text}");
        }
        for bad in ["", "3-1", "x", "1-"] {
            assert!(parse_seeds(bad).is_err(), "{bad}");
        }
        assert_eq!(seeds_text(&[1001, 1002, 1003]), "1001-1003");
        assert_eq!(seeds_text(&[1, 5]), "1,5");
    }
}
