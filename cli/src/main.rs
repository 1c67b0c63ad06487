//! `seismo`: Seismo on a laptop. Generate sample data, run a backtest over a folder laid out like
//! the old service's S3 data, and measure detection against labelled data.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use seismo_lab::eval::{self, EventScore, LabelledEvent};
use seismo_lab::generate::{self, GenerateOptions};
use seismo_shared::backtest::{self, BacktestOptions, BacktestReport, Progress};
use seismo_shared::engine::Sensitivity;
use seismo_shared::model::CreateMetricSetRequest;
use seismo_shared::objects::BoxFuture;
use seismo_shared::paths::LocalResolver;
use seismo_shared::pipeline::alert::Publisher;
use seismo_shared::pipeline::local;

mod bench;
mod business_bench;
mod labels;
mod nab;
mod rca_bench;
mod report;
mod scale;

#[derive(Debug, Parser)]
#[command(
    name = "seismo",
    version,
    about = "Anomaly detection for business metrics: the open-source successor to Amazon Lookout for Metrics"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate sample data (hourly orders and revenue by region, channel, plan, with injected
    /// incidents) in the old service's S3 layout, with its metric set and a labels file.
    Generate {
        /// Output folder (a buckets folder: s3://seismo-sample/KEY is OUT/seismo-sample/KEY).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        sample: SampleArgs,
    },
    /// Backtest a metric set: train on the oldest 70% of its history, score the newest 30%,
    /// print the anomaly groups.
    Backtest(BacktestArgs),
    /// Generate sample data and backtest it: the whole product in one command.
    Demo {
        /// Where to write the sample (default: a folder in the system's temporary directory).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        sample: SampleArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Serve the Lookout for Metrics API on localhost (point an existing client's endpoint URL
    /// here). Configuration and results live in an embedded store (redb) under --state-dir.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Folder that holds the buckets: s3://BUCKET/KEY is read from DIR/BUCKET/KEY.
        #[arg(long, default_value = ".")]
        buckets_dir: PathBuf,
        /// Where the embedded store lives (default: seismo/ in the user's data directory).
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// Keep everything in memory instead (gone when the server stops).
        #[arg(long, conflicts_with = "state_dir")]
        memory: bool,
        /// Require Signature Version 4 with this access key (`ACCESS_KEY_ID:SECRET`; repeatable).
        #[arg(long = "require-sigv4", value_name = "ACCESS_KEY_ID:SECRET")]
        keys: Vec<String>,
        /// Read s3:// paths from this S3 API (MinIO, moto, AWS) instead of --buckets-dir, with
        /// the credentials of the environment (needs a build with `--features s3`).
        #[arg(long, value_name = "URL")]
        s3_endpoint: Option<String>,
        /// How often (seconds) running detectors are checked for closed intervals to detect.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
        tick_seconds: u64,
    },
    /// Measure detection against labelled data.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

#[derive(Debug, Args)]
struct SampleArgs {
    /// Weeks of hourly data.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(4..=520))]
    weeks: u32,
    /// Random seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

#[derive(Debug, Args)]
struct OutputArgs {
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Severity (0-100) from which a point is anomalous.
    #[arg(long, default_value_t = Sensitivity::DEFAULT.get())]
    threshold: f64,
}

#[derive(Debug, Args)]
struct BacktestArgs {
    /// The metric set: a CreateMetricSet request as JSON (the same file the API takes).
    #[arg(long)]
    metric_set: PathBuf,
    /// Folder that holds the buckets: s3://BUCKET/KEY is read from DIR/BUCKET/KEY (default: the
    /// metric set file's folder).
    #[arg(long)]
    buckets_dir: Option<PathBuf>,
    /// A labels file (`measure,start,end,...`, as `seismo generate` writes) to score the groups
    /// against.
    #[arg(long)]
    labels: Option<PathBuf>,
    #[command(flatten)]
    output: OutputArgs,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Generate { out, sample } => {
            let g = generate::generate(&out, &sample_options(&sample))
                .with_context(|| format!("writing the sample under {}", out.display()))?;
            println!(
                "wrote {} rows for {} series ({} hourly live files) and {} labelled incidents under {}",
                g.rows,
                g.series,
                g.live_files,
                g.incidents.len(),
                out.display()
            );
            println!(
                "next: seismo backtest --metric-set {} --labels {}",
                out.join("metric-set.json").display(),
                out.join("labels.csv").display()
            );
        }
        Command::Backtest(args) => backtest_command(&args)?,
        Command::Demo {
            out,
            sample,
            output,
        } => {
            let out = out.unwrap_or_else(|| std::env::temp_dir().join("seismo-demo"));
            let g = generate::generate(&out, &sample_options(&sample))
                .with_context(|| format!("writing the sample under {}", out.display()))?;
            if !output.json {
                println!(
                    "Generated {} weeks of hourly orders and revenue for {} series (region x channel x plan) with {} injected incidents in {}",
                    sample.weeks,
                    g.series,
                    g.incidents.len(),
                    out.display()
                );
            }
            backtest_command(&BacktestArgs {
                metric_set: out.join("metric-set.json"),
                buckets_dir: Some(out.clone()),
                labels: Some(out.join("labels.csv")),
                output,
            })?;
        }
        Command::Bench(cmd) => bench::run(cmd)?,
        Command::Serve {
            listen,
            buckets_dir,
            state_dir,
            memory,
            keys,
            tick_seconds,
            s3_endpoint,
        } => {
            let keys = keys
                .iter()
                .map(|k| match k.split_once(':') {
                    Some((id, secret)) if !id.is_empty() && !secret.is_empty() => {
                        Ok((id.to_string(), secret.to_string()))
                    }
                    _ => bail!("--require-sigv4 takes ACCESS_KEY_ID:SECRET, got {k:?}"),
                })
                .collect::<Result<Vec<_>>>()?;
            if memory {
                let store = seismo_api::MemoryStore::new();
                let opts = ServeOptions {
                    keys,
                    tick_seconds,
                    alerts: None,
                    s3_endpoint,
                };
                serve(&listen, store, buckets_dir, opts, "in memory")?
            } else {
                let dir = state_dir.unwrap_or_else(default_state_dir);
                let store = seismo_api::EmbeddedStore::open(&dir)
                    .map_err(|e| anyhow::anyhow!("opening the store in {}: {e}", dir.display()))?;
                let place = format!("store in {}", dir.display());
                let alerts = Some(dir.join("alerts.jsonl"));
                let opts = ServeOptions {
                    keys,
                    tick_seconds,
                    alerts,
                    s3_endpoint,
                };
                serve(&listen, store, buckets_dir, opts, &place)?
            }
        }
    }
    Ok(())
}

fn sample_options(s: &SampleArgs) -> GenerateOptions {
    GenerateOptions {
        weeks: s.weeks,
        seed: s.seed,
        ..GenerateOptions::default()
    }
}

/// Reads a CreateMetricSet request from a JSON file.
fn read_metric_set(path: &Path) -> Result<CreateMetricSetRequest> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{} is not JSON (line {}, column {}): {}",
            path.display(),
            e.line(),
            e.column(),
            e.to_string().split(" at line ").next().unwrap_or_default()
        )
    })?;
    // As the API would answer: every member at fault named, unknown ones too.
    seismo_shared::validate::parse_strict(&json, "").map_err(|e| {
        anyhow::anyhow!(
            "{} is not a valid CreateMetricSet request: {e}",
            path.display()
        )
    })
}

fn backtest_command(args: &BacktestArgs) -> Result<()> {
    let ms = read_metric_set(&args.metric_set)?;
    let buckets = args
        .buckets_dir
        .clone()
        .or_else(|| args.metric_set.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let threshold = Sensitivity::new(args.output.threshold).map_err(anyhow::Error::msg)?;
    let report = run_backtest(&ms, &buckets, threshold, !args.output.json)?;
    let labels = match &args.labels {
        Some(p) => Some(labels::read(p)?),
        None => None,
    };
    let scores = labels
        .as_ref()
        .map(|events| score_report(&report, &ms, events));
    if args.output.json {
        let json = serde_json::json!({ "report": report, "scores": scores });
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print!("{}", report::table(&report));
        if let (Some(events), Some(scores)) = (&labels, &scores) {
            print!("{}", report::labels(&report, events, scores));
        }
    }
    Ok(())
}

/// Runs a backtest with a progress bar on stderr (hidden when stderr is not a terminal).
pub(crate) fn run_backtest(
    ms: &CreateMetricSetRequest,
    buckets: &Path,
    threshold: Sensitivity,
    progress: bool,
) -> Result<BacktestReport> {
    let bar = if progress {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:8} [{bar:30}] {pos}/{len} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let options = BacktestOptions {
        threshold,
        namespace: ms
            .anomaly_detector_arn
            .clone()
            .unwrap_or_else(|| ms.metric_set_name.clone()),
        ..BacktestOptions::default()
    };
    let result = backtest::run(
        ms,
        &LocalResolver::new(buckets),
        &options,
        &mut |p| match p {
            Progress::Reading { done, total } => {
                bar.set_message("reading");
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            }
            Progress::Scoring { done, total } => {
                bar.set_message("scoring");
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            }
        },
    );
    bar.finish_and_clear();
    match result {
        Ok(r) => Ok(r),
        Err(e) => bail!("backtest of {} failed: {e}", ms.metric_set_name),
    }
}

/// Scores a report's groups against labelled events over its inference window.
pub(crate) fn score_report(
    report: &BacktestReport,
    ms: &CreateMetricSetRequest,
    events: &[LabelledEvent],
) -> Vec<EventScore> {
    let measures: Vec<String> = ms
        .metric_list
        .iter()
        .map(|m| m.metric_name.clone())
        .collect();
    let (from, to) = scored_window(report);
    eval::score(&report.groups, events, &measures, from, to)
}

/// The backtest's scored window (epoch seconds, inclusive).
pub(crate) fn scored_window(report: &BacktestReport) -> (i64, i64) {
    (
        labels::parse_time(&report.inference.start).unwrap_or(i64::MIN),
        labels::parse_time(&report.inference.end).unwrap_or(i64::MAX),
    )
}

/// `$XDG_DATA_HOME/seismo`, else `~/.local/share/seismo`, else `./seismo-state`.
fn default_state_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .map(|d| d.join("seismo"))
        .unwrap_or_else(|| PathBuf::from("seismo-state"))
}

struct ServeOptions {
    keys: Vec<(String, String)>,
    tick_seconds: u64,
    /// Where alerts are appended (JSON lines); printed either way.
    alerts: Option<PathBuf>,
    s3_endpoint: Option<String>,
}

/// The S3 object source of `--s3-endpoint`.
#[cfg(feature = "s3")]
async fn s3_objects(url: &str) -> Result<std::sync::Arc<dyn seismo_shared::objects::Objects>> {
    let config = seismo_shared::aws::config_at(url).await;
    Ok(std::sync::Arc::new(seismo_shared::aws::s3::S3Objects::new(
        &config,
    )))
}

#[cfg(not(feature = "s3"))]
async fn s3_objects(_url: &str) -> Result<std::sync::Arc<dyn seismo_shared::objects::Objects>> {
    bail!(
        "this seismo was built without S3 support: build it with `--features s3` for --s3-endpoint"
    )
}

fn serve<S: seismo_api::Store>(
    listen: &str,
    store: S,
    buckets_dir: PathBuf,
    opts: ServeOptions,
    where_: &str,
) -> Result<()> {
    // At least two workers: the tick's learning and backtests are CPU work, and the API must
    // keep answering meanwhile even on one core.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let address = listener.local_addr()?;
        let mut api = seismo_api::Api::new(store, buckets_dir);
        if !opts.keys.is_empty() {
            api = api.with_keys(opts.keys);
        }
        let mut source = where_.to_string();
        if let Some(url) = &opts.s3_endpoint {
            api = api.with_objects(s3_objects(url).await?);
            source.push_str(&format!(", data from S3 at {url}"));
        }
        let where_ = source.as_str();
        let api = std::sync::Arc::new(api);
        say(format_args!(
            "Seismo API listening on http://{address} ({where_})"
        ));
        let console = format!("http://{address}/console");
        let scheduler = api.clone();
        let outbox = LocalAlerts { file: opts.alerts };
        // The schedule runs on a thread and runtime of its own: learning and backtests are long
        // CPU work, and on the API's runtime they held up requests queued behind them on the
        // same worker for seconds.
        let ticker = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the schedule's runtime")?;
        std::thread::spawn(move || {
            ticker.block_on(async move {
                let objects = scheduler.objects.as_ref();
                match local::recover(&scheduler.store, objects, &outbox, &console).await {
                    Ok(runs) if !runs.is_empty() => say(format_args!(
                        "finished {} intervals a previous run left",
                        runs.len()
                    )),
                    Ok(_) => {}
                    Err(e) => complain(format_args!("recovery: {e}")),
                }
                let mut every =
                    tokio::time::interval(std::time::Duration::from_secs(opts.tick_seconds));
                loop {
                    every.tick().await;
                    let now = chrono::Utc::now().timestamp();
                    let objects = scheduler.objects.as_ref();
                    match local::tick(&scheduler.store, objects, &outbox, &console, now).await {
                        Ok(runs) => {
                            for r in runs {
                                say(format_args!(
                                    "detected {} interval {}: {} groups, {} alerts{}",
                                    r.detector.rsplit(':').next().unwrap_or_default(),
                                    seismo_shared::model::timestamp_string(r.interval),
                                    r.groups,
                                    r.alerts,
                                    r.problem.map(|p| format!(" ({p})")).unwrap_or_default()
                                ));
                            }
                        }
                        Err(e) => complain(format_args!("interval schedule: {e}")),
                    }
                }
            })
        });
        axum::serve(listener, seismo_api::app(api))
            .await
            .context("serving")
    })
}

/// A line for whoever reads `seismo serve`'s stdout, if anyone still does: a closed stdout (the
/// reader gone, a pipe to `head`) is not an error of the server's, and `println!` would panic
/// on it and take the schedule's thread down.
fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// [`say`] for stderr.
fn complain(line: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Alerts of `seismo serve`: printed, and appended to a JSON-lines file next to the store.
#[derive(Debug)]
struct LocalAlerts {
    file: Option<PathBuf>,
}

impl LocalAlerts {
    fn record(&self, kind: &str, target: &str, message: &str) -> Result<(), String> {
        let line = serde_json::json!({ "kind": kind, "target": target, "message": message });
        // Recorded first, then told: a closed stdout (a service manager, a pipe to `head`) must
        // not lose the alert.
        if let Some(path) = &self.file {
            use std::io::Write as _;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            writeln!(f, "{line}").map_err(|e| format!("{}: {e}", path.display()))?;
        }
        say(format_args!("alert to {target}"));
        Ok(())
    }
}

impl Publisher for LocalAlerts {
    fn sns<'a>(
        &'a self,
        topic_arn: &'a str,
        _subject: &'a str,
        message: &'a str,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { self.record("sns", topic_arn, message) })
    }

    fn lambda<'a>(
        &'a self,
        function_arn: &'a str,
        payload: &'a str,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { self.record("lambda", function_arn, payload) })
    }
}
