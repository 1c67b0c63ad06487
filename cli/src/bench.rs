//! `seismo bench`: detection measured against labelled data.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use seismo_lab::eval::{self, LabelledEvent};
use seismo_shared::engine::Sensitivity;
use seismo_shared::model::{
    AggregationFunction, CreateMetricSetRequest, CsvFormatDescriptor, FileFormatDescriptor,
    Frequency, Metric, MetricSource, S3SourceConfig, TimestampColumn,
};

use crate::labels::{CsvFile, parse_time};

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// The old service's labelled e-commerce sample (hourly views and revenue by platform and
    /// marketplace): event-level precision, recall and F1 of the backtest's anomaly groups.
    Ecommerce {
        /// The sample's folder (holds backtest/input.csv and label.csv).
        #[arg(long, default_value = "../shared/data/ecommerce")]
        data: PathBuf,
        /// Severity thresholds to report (the first is Seismo's default).
        #[arg(long, value_delimiter = ',', default_values_t = vec![50.0, 40.0, 60.0, 70.0])]
        thresholds: Vec<f64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Also list the false groups and the missed events at the first threshold.
        #[arg(long)]
        misses: bool,
    },
    /// Generated business metrics (hourly orders and revenue by region x channel x plan) with
    /// incidents of known size: recall per oracle |z| bin, false groups per 1,000 series-days
    /// and exact root causes, for Seismo and a per-series seasonal-median baseline.
    Business {
        /// Seeds: a range (`1-6`), a list (`1,4,9`), or `tuning` (1-40, what engine work tunes
        /// on) or `evaluation` (1001-1040, what figures are reported on).
        #[arg(long, default_value = "evaluation")]
        seeds: String,
        /// Weeks of hourly data per seed (the newest 30% is scored).
        #[arg(long, default_value_t = 10)]
        weeks: u32,
        /// Seismo's severity threshold.
        #[arg(long, default_value_t = seismo_shared::engine::Sensitivity::DEFAULT.get())]
        threshold: f64,
        /// The baseline's thresholds (sigmas of its Poisson-like scale).
        #[arg(long, value_delimiter = ',', default_values_t = vec![3.0, 3.5, 4.0, 4.6, 5.0, 6.0])]
        baseline_thresholds: Vec<f64>,
        /// Print JSON (the figures and every incident with Seismo's verdict).
        #[arg(long)]
        json: bool,
        /// List Seismo's missed incidents (|z| >= 3) with the nearest group, its inexact root
        /// causes and its false groups.
        #[arg(long)]
        misses: bool,
        /// Seismo without its slice totals (the leaves alone), to see what they add.
        #[arg(long)]
        leaves_only: bool,
    },
    /// Root-cause localisation on a dataset laid out like Squeeze's B0 (settings with
    /// injection_info.csv) or RobustSpot's (anomaly.yaml), or on generated B0-like cases
    /// (`--generate`): predictions as CSV, F1 per setting.
    Rca {
        /// The dataset folder.
        #[arg(
            long,
            required_unless_present = "generate",
            conflicts_with = "generate"
        )]
        data: Option<PathBuf>,
        /// Where to write `setting,case,predicted` (required with --data; with --generate the case
        /// is the seed, and a `truth` column follows).
        #[arg(long, required_unless_present = "generate")]
        out: Option<PathBuf>,
        /// Generate B0-like cases in memory (Squeeze's recipe) instead of reading a dataset.
        #[arg(long)]
        generate: bool,
        /// With --generate: cases per setting (the first seeds of --seeds).
        #[arg(long, default_value_t = 1000)]
        cases: u64,
        /// With --generate: `eval` (seeds nothing is tuned on), `tune`, or a range `A-B`.
        #[arg(long, default_value = "eval")]
        seeds: String,
    },
    /// The Numenta Anomaly Benchmark: every file streamed through the engine with one
    /// configuration, results written in NAB's layout, scored with NAB's three profiles.
    Nab {
        /// NAB's folder (data/, labels/combined_windows.json, config/profiles.json).
        #[arg(long, default_value = "../shared/data/nab")]
        data: PathBuf,
        /// Where to write the results (DIR/seismo/<category>/seismo_<file>.csv).
        #[arg(long)]
        out: PathBuf,
        /// Also print each file's windows found, false positives and raw score (standard
        /// profile, optimised threshold).
        #[arg(long)]
        per_file: bool,
        /// Print JSON: Seismo's scores to full precision, at the optimised thresholds and at
        /// the alert default, with the thresholds.
        #[arg(long)]
        json: bool,
    },
    /// One hourly interval of a large detector through ingest and detect (one process per
    /// invocation): wall time, peak memory, store requests, DynamoDB units, monthly cost.
    Scale {
        /// Series (metrics) in the detector.
        #[arg(long, default_value_t = 50_000)]
        series: usize,
        /// Keep the working folder here (default: a temporary one).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One stage of `bench scale` (run by it in a child process).
    #[command(hide = true)]
    ScaleStage {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        stage: String,
        #[arg(long, default_value_t = 0)]
        shard: u32,
    },
}

pub(crate) fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Scale { series, out, json } => {
            tokio::runtime::Runtime::new()?.block_on(crate::scale::run(series, out, json))
        }
        BenchCommand::ScaleStage { dir, stage, shard } => {
            tokio::runtime::Runtime::new()?.block_on(crate::scale::stage(&dir, &stage, shard))
        }
        BenchCommand::Ecommerce {
            data,
            thresholds,
            json,
            misses,
        } => ecommerce(&data, &thresholds, json, misses),
        BenchCommand::Nab {
            data,
            out,
            per_file,
            json,
        } => nab(&data, &out, per_file, json),
        BenchCommand::Rca {
            data,
            out,
            generate,
            cases,
            seeds,
        } => match (generate, data, out) {
            (true, _, out) => crate::rca_bench::run_generated(cases, &seeds, out.as_deref()),
            (false, Some(data), Some(out)) => crate::rca_bench::run(&data, &out),
            _ => anyhow::bail!("bench rca needs --data and --out, or --generate"),
        },
        BenchCommand::Business {
            seeds,
            weeks,
            threshold,
            baseline_thresholds,
            json,
            misses,
            leaves_only,
        } => crate::business_bench::run(&crate::business_bench::BusinessBench {
            seeds: crate::business_bench::parse_seeds(&seeds)?,
            weeks,
            threshold,
            baseline_thresholds,
            json,
            misses,
            leaves_only,
        }),
    }
}

/// The metric set of the old service's e-commerce sample, reading `backtest/input.csv`.
fn ecommerce_metric_set(data: &std::path::Path) -> Result<CreateMetricSetRequest> {
    let input = data.join("backtest/input.csv");
    let input = input
        .canonicalize()
        .with_context(|| format!("{} not found", input.display()))?;
    let metric = |name: &str| Metric {
        metric_name: name.into(),
        aggregation_function: AggregationFunction::Sum,
        namespace: None,
    };
    Ok(CreateMetricSetRequest {
        anomaly_detector_arn: None,
        metric_set_name: "ecommerce".into(),
        metric_set_description: None,
        metric_list: vec![metric("views"), metric("revenue")],
        offset: None,
        timestamp_column: Some(TimestampColumn {
            column_name: Some("timestamp".into()),
            column_format: Some("yyyy-MM-dd HH:mm:ss".into()),
        }),
        dimension_list: Some(vec!["platform".into(), "marketplace".into()]),
        metric_set_frequency: Some(Frequency::Pt1h),
        metric_source: MetricSource {
            s3_source_config: Some(S3SourceConfig {
                historical_data_path_list: Some(vec![format!("file://{}", input.display())]),
                file_format_descriptor: Some(FileFormatDescriptor {
                    csv_format_descriptor: Some(CsvFormatDescriptor::default()),
                    json_format_descriptor: None,
                }),
                ..S3SourceConfig::default()
            }),
            ..MetricSource::default()
        },
        timezone: None,
        tags: None,
        dimension_filter_list: None,
    })
}

/// Labelled events of `label.csv`: per measure, runs of consecutive hours in which any series
/// is labelled 1.
/// The labelled leaves of the e-commerce sample: per measure and hour, the series labelled 1,
/// and every series seen.
#[derive(Debug, Default)]
struct LeafLabels {
    labelled: BTreeMap<(String, i64), BTreeSet<Leaf>>,
    all: BTreeSet<Leaf>,
}

/// A series of the sample: its (dimension, value) pairs.
type Leaf = Vec<(String, String)>;

impl LeafLabels {
    /// Leaf-set precision and recall counts of the groups' root causes against the labelled
    /// leaves of the hours they span (groups over no labelled hour are left to the event score).
    fn score(&self, groups: &[seismo_shared::group::GroupReport]) -> (usize, usize, usize) {
        let (mut tp, mut fp, mut fn_) = (0, 0, 0);
        for g in groups {
            let measure = &g.anomaly_group.primary_metric_name;
            let mut truth = BTreeSet::new();
            let mut t = g.start;
            while t <= g.end {
                if let Some(leaves) = self.labelled.get(&(measure.clone(), t)) {
                    truth.extend(leaves.iter().cloned());
                }
                t += 3600;
            }
            if truth.is_empty() {
                continue;
            }
            let covered = |leaf: &Leaf| {
                g.root_causes.iter().any(|cause| {
                    cause == "*"
                        || cause.split('&').all(|pair| {
                            pair.split_once('=').is_some_and(|(n, v)| {
                                leaf.iter().any(|(ln, lv)| ln == n && lv == v)
                            })
                        })
                })
            };
            let predicted: BTreeSet<_> = self.all.iter().filter(|l| covered(l)).collect();
            let hits = predicted.iter().filter(|l| truth.contains(**l)).count();
            tp += hits;
            fp += predicted.len() - hits;
            fn_ += truth.len() - hits;
        }
        (tp, fp, fn_)
    }
}

fn ecommerce_events(data: &std::path::Path) -> Result<(Vec<LabelledEvent>, LeafLabels)> {
    let path = data.join("label.csv");
    let mut file = CsvFile::open(&path)?;
    let col = |n: &str| file.column(n);
    let ts = col("timestamp")?;
    let dims = [
        ("platform", col("platform")?),
        ("marketplace", col("marketplace")?),
    ];
    let mut leaves = LeafLabels::default();
    let mut times: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    let labelled = [
        ("views", col("views_label")?),
        ("revenue", col("revenue_label")?),
    ];
    for row in file.reader.records() {
        let row = row?;
        let Some(t) = row.get(ts).and_then(parse_time) else {
            continue;
        };
        let leaf: Leaf = dims
            .iter()
            .map(|(n, c)| (n.to_string(), row.get(*c).unwrap_or_default().to_string()))
            .collect();
        leaves.all.insert(leaf.clone());
        for (measure, c) in labelled {
            if row.get(c) == Some("1") {
                times.entry(measure).or_default().push(t);
                leaves
                    .labelled
                    .entry((measure.to_string(), t))
                    .or_default()
                    .insert(leaf.clone());
            }
        }
    }
    let events = times
        .into_iter()
        .flat_map(|(m, t)| eval::events_from_points(m, t, 3600))
        .collect();
    Ok((events, leaves))
}

fn ecommerce(data: &std::path::Path, thresholds: &[f64], json: bool, misses: bool) -> Result<()> {
    let ms = ecommerce_metric_set(data)?;
    let (events, leaf_labels) = ecommerce_events(data)?;
    let mut rows = Vec::new();
    for &t in thresholds {
        let threshold = Sensitivity::new(t).map_err(anyhow::Error::msg)?;
        let started = std::time::Instant::now();
        let report = crate::run_backtest(&ms, std::path::Path::new("/"), threshold, false)?;
        let seconds = started.elapsed().as_secs_f64();
        let scores = crate::score_report(&report, &ms, &events);
        rows.push((t, report, scores, seconds));
    }
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    if json {
        let out: Vec<_> = rows
            .iter()
            .map(|(t, r, s, secs)| {
                let (tp, fp, fn_) = leaf_labels.score(&r.groups);
                let causes = serde_json::json!({
                    "tp": tp, "fp": fp, "fn": fn_, "precision": ratio(tp, tp + fp),
                    "recall": ratio(tp, tp + fn_), "f1": ratio(2 * tp, 2 * tp + fp + fn_),
                });
                serde_json::json!({"threshold": t, "inference": r.inference, "groups": r.groups.len(), "scores": s, "rootCauses": causes, "seconds": secs})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let (_, first, ..) = &rows[0];
    println!(
        "E-commerce sample ({}): {} series x 2 measures, {} rows; train {} .. {}, scored {} .. {} ({} intervals)",
        data.display(),
        first.time_series,
        first.quality.rows_processed,
        first.train.start,
        first.train.end,
        first.inference.start,
        first.inference.end,
        first.inference.intervals
    );
    println!(
        "Event-level scores of the anomaly groups against label.csv (an event: consecutive labelled hours of a measure):"
    );
    println!(
        "{:>9}  {:<8} {:>6} {:>6} {:>6} {:>9} {:>7} {:>6} {:>8}",
        "threshold", "measure", "groups", "events", "found", "precision", "recall", "F1", "seconds"
    );
    for (t, _, scores, secs) in &rows {
        for s in scores {
            println!(
                "{:>9.0}  {:<8} {:>6} {:>6} {:>6} {:>9.3} {:>7.3} {:>6.3} {:>8.2}",
                t, s.measure, s.groups, s.events, s.found_events, s.precision, s.recall, s.f1, secs
            );
        }
    }
    println!(
        "Root causes against the labelled leaves (series) of the hours each true group spans:"
    );
    println!(
        "{:>9}  {:>6} {:>6} {:>6} {:>9} {:>7} {:>6}",
        "threshold", "TP", "FP", "FN", "precision", "recall", "F1"
    );
    for (t, report, ..) in &rows {
        let (tp, fp, fn_) = leaf_labels.score(&report.groups);
        let f1 = ratio(2 * tp, 2 * tp + fp + fn_);
        println!(
            "{:>9.0}  {tp:>6} {fp:>6} {fn_:>6} {:>9.3} {:>7.3} {f1:>6.3}",
            t,
            ratio(tp, tp + fp),
            ratio(tp, tp + fn_)
        );
    }
    if misses {
        print_misses(&rows[0].1, &events);
    }
    Ok(())
}

/// The groups that match no labelled event and the labelled events no group matches, within the
/// scored window.
fn print_misses(report: &seismo_shared::backtest::BacktestReport, events: &[LabelledEvent]) {
    let (from, to) = crate::scored_window(report);
    let overlaps = eval::overlaps;
    let time = |t: i64| seismo_shared::model::timestamp_string(t);
    for g in &report.groups {
        if !events.iter().any(|e| overlaps(g, e)) {
            println!(
                "false group: {} {} .. {} severity {:.1} causes {:?}",
                g.anomaly_group.primary_metric_name,
                time(g.start),
                time(g.end),
                g.anomaly_group.anomaly_group_score,
                g.root_causes
            );
        }
    }
    for e in events.iter().filter(|e| e.end >= from && e.start <= to) {
        if !report.groups.iter().any(|g| overlaps(g, e)) {
            println!(
                "missed event: {} {} .. {}",
                e.measure,
                time(e.start),
                time(e.end)
            );
        }
    }
}

fn nab(data: &std::path::Path, out: &std::path::Path, per_file: bool, json: bool) -> Result<()> {
    let started = std::time::Instant::now();
    let files = crate::nab::load_and_score(data)?;
    let seconds = started.elapsed().as_secs_f64();
    let rows: usize = files.iter().map(|f| f.values.len()).sum();
    let root = crate::nab::write_results(&files, out)?;
    let profiles = crate::nab::profiles(data)?;
    let board_path = data.join("scoreboard.json");
    let board: BTreeMap<String, BTreeMap<String, f64>> = serde_json::from_str(
        &std::fs::read_to_string(&board_path)
            .with_context(|| format!("reading {}", board_path.display()))?,
    )?;
    let default = Sensitivity::DEFAULT.get() / 100.0;
    let mut table: Vec<(String, [f64; 3])> = Vec::new();
    let mut ours = [0.0; 3];
    let mut fixed = [0.0; 3];
    let mut thresholds = [0.0; 3];
    for (i, (_, p)) in profiles.iter().enumerate() {
        let best = crate::nab::optimize(&files, *p);
        ours[i] = best.normalized;
        thresholds[i] = best.threshold;
        fixed[i] = crate::nab::at_threshold(&files, *p, default).normalized;
    }
    if json {
        let names = profiles.iter().map(|(name, _)| name.as_str());
        let by_profile = |v: [f64; 3]| -> serde_json::Map<String, serde_json::Value> {
            names
                .clone()
                .zip(v)
                .map(|(n, x)| (n.to_string(), x.into()))
                .collect()
        };
        let summary = serde_json::json!({
            "files": files.len(), "rows": rows, "seconds": seconds, "results": root,
            "optimised": by_profile(ours), "thresholds": by_profile(thresholds),
            "alertDefault": { "threshold": default, "scores": by_profile(fixed) },
        });
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    println!(
        "NAB: {} files, {rows} rows streamed in {seconds:.2} s ({:.0} points/s); results in {}",
        files.len(),
        rows as f64 / seconds,
        root.display()
    );
    table.push(("Seismo (optimised threshold)".into(), ours));
    table.push((format!("Seismo (alert default {default:.2})"), fixed));
    for (name, scores) in &board {
        let get = |k: &str| scores.get(k).copied().unwrap_or(f64::NAN);
        table.push((
            name.clone(),
            [
                get("standard"),
                get("reward_low_FP_rate"),
                get("reward_low_FN_rate"),
            ],
        ));
    }
    table.sort_by(|a, b| b.1[0].total_cmp(&a.1[0]));
    println!(
        "{:<32} {:>9} {:>14} {:>14}",
        "detector", "standard", "reward_low_FP", "reward_low_FN"
    );
    for (name, s) in &table {
        println!("{name:<32} {:>9.1} {:>14.1} {:>14.1}", s[0], s[1], s[2]);
    }
    println!(
        "optimised thresholds: standard {:.4}, reward_low_FP {:.4}, reward_low_FN {:.4}",
        thresholds[0], thresholds[1], thresholds[2]
    );
    if per_file {
        println!(
            "{:<60} {:>5} {:>7} {:>4} {:>7}",
            "file (standard, optimised threshold)", "found", "windows", "FP", "raw"
        );
        for (key, hits, windows, fps, raw) in
            crate::nab::per_file(&files, profiles[0].1, thresholds[0])
        {
            println!("{key:<60} {hits:>5} {windows:>7} {fps:>4} {raw:>7.3}");
        }
    }
    Ok(())
}
