//! `seismo bench scale`: one hourly interval of a large detector through the pipeline, ingest
//! and detect as separate processes (one per Lambda invocation, shards one after another), with
//! the store requests and DynamoDB capacity units each one used, its peak memory, and what a
//! month of it costs beside the old service's price.
//!
//! As deployed, documents go to the store and large values (model state, an interval's values
//! and scores) to objects (`s3://seismo-state/state/...`, local folders here). The store is the
//! embedded one (redb, durable commits) wrapped in a meter that counts what DynamoDB would bill
//! for the same items: a write unit per started KB of item, a read unit per started 4 KB
//! (strongly consistent reads), queries per started 4 KB of items returned; the objects are
//! wrapped in a meter that counts S3 requests.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use seismo_api::EmbeddedStore;
use seismo_lab::generate::Rng;
use seismo_shared::engine::SeriesState;
use seismo_shared::model::timestamp_string;
use seismo_shared::objects::{BoxFuture, LocalObjects, ObjectError, ObjectReader, Objects};
use seismo_shared::pipeline::{self, DetectTask};
use seismo_shared::store::{Kind, Store, StoreError, WithObjects};
use seismo_shared::time::{Zone, format_java};
use serde_json::{Value, json};

const ARN: &str = "arn:aws:lookoutmetrics:us-east-1:123456789012:AnomalyDetector:scale";
const BUCKET: &str = "scale";
/// The interval scored: 2026-11-02T12:00Z (a Monday noon).
const T0: i64 = 1_793_620_800;
const HISTORY_DAYS: i64 = 14;

/// Where the functions keep large values.
const STATE_ROOT: &str = "s3://seismo-state/state";

/// Objects that count the S3 requests made of them.
#[derive(Debug)]
struct MeteredObjects {
    inner: LocalObjects,
    puts: AtomicU64,
    gets: AtomicU64,
    lists: AtomicU64,
    bytes_put: AtomicU64,
}

impl MeteredObjects {
    fn new(inner: LocalObjects) -> Self {
        MeteredObjects {
            inner,
            puts: AtomicU64::new(0),
            gets: AtomicU64::new(0),
            lists: AtomicU64::new(0),
            bytes_put: AtomicU64::new(0),
        }
    }

    fn figures(&self) -> Value {
        json!({
            "putRequests": self.puts.load(Ordering::Relaxed),
            "getRequests": self.gets.load(Ordering::Relaxed),
            "listRequests": self.lists.load(Ordering::Relaxed),
            "bytesPut": self.bytes_put.load(Ordering::Relaxed),
        })
    }
}

impl Objects for MeteredObjects {
    fn list<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<Vec<String>, ObjectError>> {
        self.lists.fetch_add(1, Ordering::Relaxed);
        self.inner.list(path)
    }

    fn open<'a>(&'a self, object: &'a str) -> BoxFuture<'a, Result<ObjectReader, ObjectError>> {
        self.gets.fetch_add(1, Ordering::Relaxed);
        self.inner.open(object)
    }

    fn put<'a>(
        &'a self,
        object: &'a str,
        bytes: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), ObjectError>> {
        self.puts.fetch_add(1, Ordering::Relaxed);
        self.bytes_put
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.inner.put(object, bytes)
    }

    fn delete<'a>(&'a self, object: &'a str) -> BoxFuture<'a, Result<(), ObjectError>> {
        // DELETE requests are free.
        self.inner.delete(object)
    }
}

/// The deployed layout over the bench's folder: metered documents, metered objects.
fn open_store(
    dir: &Path,
) -> Result<(
    WithObjects<Metered<EmbeddedStore>>,
    std::sync::Arc<MeteredObjects>,
)> {
    let documents =
        Metered::new(EmbeddedStore::open(&dir.join("state")).map_err(|e| anyhow::anyhow!("{e}"))?);
    let objects = std::sync::Arc::new(MeteredObjects::new(LocalObjects::new(dir.join("buckets"))));
    Ok((
        WithObjects::new(documents, objects.clone(), STATE_ROOT),
        objects,
    ))
}

/// A store that counts what DynamoDB would bill.
#[derive(Debug)]
struct Metered<S> {
    inner: S,
    reads: AtomicU64,
    writes: AtomicU64,
    read_units: AtomicU64,
    write_units: AtomicU64,
    bytes_written: AtomicU64,
}

fn item_bytes(kind: Kind, key: &str, doc: &Value) -> u64 {
    // Attribute names and values: pk, sk, doc.
    (2 + kind.name().len() + 2 + key.len() + 3 + doc.to_string().len()) as u64
}

impl<S: Store> Metered<S> {
    fn new(inner: S) -> Self {
        Metered {
            inner,
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            read_units: AtomicU64::new(0),
            write_units: AtomicU64::new(0),
            bytes_written: AtomicU64::new(0),
        }
    }

    fn read(&self, bytes: u64) {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.read_units
            .fetch_add(bytes.div_ceil(4096).max(1), Ordering::Relaxed);
    }

    fn write(&self, bytes: u64) {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.write_units
            .fetch_add(bytes.div_ceil(1024).max(1), Ordering::Relaxed);
        self.bytes_written.fetch_add(bytes, Ordering::Relaxed);
    }

    fn figures(&self) -> Value {
        json!({
            "readRequests": self.reads.load(Ordering::Relaxed),
            "writeRequests": self.writes.load(Ordering::Relaxed),
            "readUnits": self.read_units.load(Ordering::Relaxed),
            "writeUnits": self.write_units.load(Ordering::Relaxed),
            "bytesWritten": self.bytes_written.load(Ordering::Relaxed),
        })
    }
}

impl<S: Store> Store for Metered<S> {
    async fn get(&self, kind: Kind, key: &str) -> Result<Option<Value>, StoreError> {
        let got = self.inner.get(kind, key).await?;
        self.read(got.as_ref().map_or(1, |d| item_bytes(kind, key, d)));
        Ok(got)
    }

    async fn create(&self, kind: Kind, key: &str, value: Value) -> Result<(), StoreError> {
        self.write(item_bytes(kind, key, &value));
        self.inner.create(kind, key, value).await
    }

    async fn put(&self, kind: Kind, key: &str, value: Value) -> Result<(), StoreError> {
        self.write(item_bytes(kind, key, &value));
        self.inner.put(kind, key, value).await
    }

    async fn replace(
        &self,
        kind: Kind,
        key: &str,
        expected: Option<&Value>,
        value: Value,
    ) -> Result<(), StoreError> {
        // A conditional write is billed on the larger of the old and new item.
        let old = expected.map_or(0, |e| item_bytes(kind, key, e));
        self.write(item_bytes(kind, key, &value).max(old));
        self.inner.replace(kind, key, expected, value).await
    }

    async fn delete(&self, kind: Kind, key: &str) -> Result<bool, StoreError> {
        self.write(1);
        self.inner.delete(kind, key).await
    }

    async fn list(&self, kind: Kind, prefix: &str) -> Result<Vec<(String, Value)>, StoreError> {
        let out = self.inner.list(kind, prefix).await?;
        let bytes: u64 = out.iter().map(|(k, v)| item_bytes(kind, k, v)).sum();
        // One query per started MB of results.
        let pages = bytes.div_ceil(1 << 20).max(1);
        self.reads.fetch_add(pages, Ordering::Relaxed);
        self.read_units
            .fetch_add(bytes.div_ceil(4096).max(1), Ordering::Relaxed);
        Ok(out)
    }
}

fn dims(i: usize) -> Vec<String> {
    vec![
        format!("a{:03}", i / 1000),
        format!("b{:02}", (i / 25) % 40),
        format!("c{:02}", i % 25),
    ]
}

fn value(rng: &mut Rng, i: usize, t: i64) -> f64 {
    let base = 50.0 + (i % 97) as f64;
    let hour = (t / 3600 % 24) as f64;
    let daily = 1.0 + 0.5 * (std::f64::consts::TAU * (hour - 14.0) / 24.0).cos();
    (base * daily + (base * daily).sqrt() * rng.normal())
        .round()
        .max(0.0)
}

/// Peak resident memory of this process (kB), from /proc.
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn metric_set_doc() -> Value {
    json!({
        "AnomalyDetectorArn": ARN,
        "MetricSetArn": "arn:aws:lookoutmetrics:us-east-1:123456789012:MetricSet/scale/metrics",
        "MetricSetName": "metrics",
        "MetricList": [{"MetricName": "value", "AggregationFunction": "SUM"}],
        "DimensionList": ["a", "b", "c"],
        "Offset": 300,
        "TimestampColumn": {"ColumnName": "timestamp", "ColumnFormat": "yyyy-MM-dd HH:mm:ss"},
        "MetricSetFrequency": "PT1H",
        "Timezone": "UTC",
        "MetricSource": {"S3SourceConfig": {
            "RoleArn": "arn:aws:iam::123456789012:role/seismo",
            "TemplatedPathList": [format!("s3://{BUCKET}/live/{{{{yyyyMMdd}}}}/{{{{HHmm}}}}")],
            "FileFormatDescriptor": {"CsvFormatDescriptor": {
                "FileCompression": "NONE", "ContainsHeader": true, "Delimiter": ","
            }}
        }}
    })
}

/// Seeds the detector, the model (14 days of hourly history per series) and the interval's
/// file (with one slice of 1,000 series tripled).
async fn prepare(dir: &Path, series: usize) -> Result<Value> {
    let (store, _) = open_store(dir)?;
    let detector = json!({
        "AnomalyDetectorArn": ARN, "AnomalyDetectorName": "scale", "Status": seismo_shared::model::DetectorStatus::Active,
        "AnomalyDetectorConfig": {"AnomalyDetectorFrequency": "PT1H"},
    });
    store.put(Kind::Detector, ARN, detector).await?;
    let ms = metric_set_doc();
    let ms_arn = ms["MetricSetArn"].as_str().unwrap_or_default().to_string();
    store.put(Kind::MetricSet, &ms_arn, ms).await?;
    let d = pipeline::load(&store, ARN).await?;
    let started = Instant::now();
    let mut rng = Rng::new(11);
    let mut states = BTreeMap::new();
    let first = T0 - HISTORY_DAYS * 86_400;
    for i in 0..series {
        let mut s = SeriesState::new(&d.engine);
        let mut t = first;
        while t < T0 {
            s.observe(&d.engine, t, Some(value(&mut rng, i, t)));
            t += 3600;
        }
        states.insert(dims(i), vec![s]);
    }
    let learned = (HISTORY_DAYS * 24) as usize;
    let runtime = pipeline::install(&store, ARN, states, learned, Some(T0 - 3600)).await?;
    let seeded = started.elapsed().as_secs_f64();

    let folder = dir
        .join("buckets")
        .join(BUCKET)
        .join("live")
        .join(format_java(T0, "yyyyMMdd", Zone::UTC).map_err(anyhow::Error::msg)?)
        .join(format_java(T0, "HHmm", Zone::UTC).map_err(anyhow::Error::msg)?);
    std::fs::create_dir_all(&folder)?;
    let mut file = std::io::BufWriter::new(std::fs::File::create(folder.join("metrics.csv"))?);
    writeln!(file, "timestamp,a,b,c,value")?;
    let stamp =
        format_java(T0 + 60, "yyyy-MM-dd HH:mm:ss", Zone::UTC).map_err(anyhow::Error::msg)?;
    for i in 0..series {
        let mut v = value(&mut rng, i, T0);
        if i < 1000 {
            v *= 3.0;
        }
        let d = dims(i);
        writeln!(file, "{stamp},{},{},{},{v}", d[0], d[1], d[2])?;
    }
    file.flush()?;
    Ok(json!({"shards": runtime.shards, "seedSeconds": seeded}))
}

/// One stage in this process (what one Lambda invocation does); prints its figures as JSON.
pub(crate) async fn stage(dir: &Path, stage: &str, shard: u32) -> Result<()> {
    let (store, state_objects) = open_store(dir)?;
    let objects = LocalObjects::new(dir.join("buckets"));
    let started = Instant::now();
    let detail = match stage {
        "ingest" => {
            let done =
                pipeline::ingest(&store, &objects, ARN, pipeline::When::Interval(T0)).await?;
            json!({"series": done.series, "tasks": done.tasks.len(), "problem": done.problem})
        }
        "detect" => {
            let task = DetectTask {
                anomaly_detector_arn: ARN.into(),
                interval: T0,
                shard,
            };
            let done = pipeline::detect(&store, &task).await?;
            json!({
                "anomalies": done.anomalies,
                "groups": done.notify.map(|n| n.anomaly_group_ids.len()),
            })
        }
        other => bail!("unknown stage {other}"),
    };
    let out = json!({
        "stage": stage, "shard": shard,
        "seconds": started.elapsed().as_secs_f64(),
        "peakRssKb": peak_rss_kb(),
        "store": store.inner().figures(),
        "objects": state_objects.figures(),
        "detail": detail,
    });
    println!("{out}");
    Ok(())
}

fn child(dir: &Path, stage: &str, shard: u32) -> Result<Value> {
    let exe = std::env::current_exe()?;
    let out = Command::new(exe)
        .args(["bench", "scale-stage", "--dir"])
        .arg(dir)
        .args(["--stage", stage, "--shard", &shard.to_string()])
        .output()?;
    if !out.status.success() {
        bail!(
            "{stage} {shard} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().context("no output")?;
    Ok(serde_json::from_str(line)?)
}

/// Bytes of every file under the state bucket's folder.
fn state_bytes(buckets: &Path) -> u64 {
    fn walk(p: &Path) -> u64 {
        match std::fs::read_dir(p) {
            Ok(entries) => entries
                .flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => walk(&e.path()),
                    _ => e.metadata().map(|m| m.len()).unwrap_or(0),
                })
                .sum(),
            Err(_) => 0,
        }
    }
    walk(&buckets.join("seismo-state"))
}

/// The old service's monthly price for `metrics` metrics.
pub(crate) fn old_price(metrics: f64) -> f64 {
    let tiers = [
        (1_000.0, 0.75),
        (4_000.0, 0.50),
        (15_000.0, 0.25),
        (30_000.0, 0.10),
        (f64::INFINITY, 0.05),
    ];
    let (mut left, mut total) = (metrics, 0.0);
    for (size, price) in tiers {
        let n = left.min(size);
        total += n * price;
        left -= n;
        if left <= 0.0 {
            break;
        }
    }
    total
}

/// Runs the bench and prints the table.
pub(crate) async fn run(series: usize, out: Option<PathBuf>, json_out: bool) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = out.unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    eprintln!("seeding {series} series with {HISTORY_DAYS} days of hourly history ...");
    let prep = prepare(&dir, series).await?;
    let shards = prep["shards"].as_u64().unwrap_or(1) as u32;
    eprintln!(
        "interval {}: ingest, then {shards} detect shards",
        timestamp_string(T0)
    );
    let mut runs = vec![child(&dir, "ingest", 0)?];
    for shard in 0..shards {
        runs.push(child(&dir, "detect", shard)?);
    }
    let sum = |f: &str| -> u64 {
        runs.iter()
            .map(|r| r["store"][f].as_u64().unwrap_or(0))
            .sum()
    };
    let ingest_s = runs[0]["seconds"].as_f64().unwrap_or(0.0);
    let detect: Vec<f64> = runs[1..]
        .iter()
        .map(|r| r["seconds"].as_f64().unwrap_or(0.0))
        .collect();
    let detect_sum: f64 = detect.iter().sum();
    let detect_max = detect.iter().cloned().fold(0.0, f64::max);
    let peak_ingest = runs[0]["peakRssKb"].as_u64().unwrap_or(0);
    let peak_detect = runs[1..]
        .iter()
        .map(|r| r["peakRssKb"].as_u64().unwrap_or(0))
        .max()
        .unwrap_or(0);
    let (wru, rru) = (sum("writeUnits"), sum("readUnits"));
    let requests = sum("readRequests") + sum("writeRequests");
    let objects = |f: &str| -> u64 {
        runs.iter()
            .map(|r| r["objects"][f].as_u64().unwrap_or(0))
            .sum()
    };
    let (puts, gets, lists) = (
        objects("putRequests"),
        objects("getRequests"),
        objects("listRequests"),
    );
    let stored_bytes = state_bytes(&dir.join("buckets"));
    // Per month of hourly intervals, us-east-1 on-demand prices (2025): DynamoDB $1.25 per
    // million write units, $0.25 per million read units; S3 Standard $0.005 per thousand PUT
    // and LIST requests, $0.0004 per thousand GETs, $0.023 per GB-month stored; Lambda arm64
    // $0.0000133334 per GB-s at the template's 1,024 MB and $0.20 per million requests; SQS
    // $0.40 per million requests.
    let hours = 730.0;
    let invocations = runs.len() as f64;
    let dynamo = hours * (wru as f64 * 1.25 + rru as f64 * 0.25) / 1e6;
    let s3 = hours * ((puts + lists) as f64 * 0.005 + gets as f64 * 0.0004) / 1e3
        + stored_bytes as f64 / 1e9 * 0.023;
    let lambda = hours * ((ingest_s + detect_sum) * 1.0 * 0.000_013_333_4 + invocations * 0.2e-6);
    let sqs = hours * invocations * 2.0 * 0.4e-6;
    let total = dynamo + s3 + lambda + sqs;
    let old = old_price(series as f64);
    let groups = runs
        .last()
        .and_then(|r| r["detail"]["groups"].as_u64())
        .unwrap_or(0);
    let anomalies: u64 = runs[1..]
        .iter()
        .map(|r| r["detail"]["anomalies"].as_u64().unwrap_or(0))
        .sum();
    let summary = json!({
        "series": series, "shards": shards, "anomalies": anomalies, "groups": groups,
        "ingestSeconds": ingest_s, "detectSecondsSum": detect_sum, "detectSecondsMax": detect_max,
        "intervalSecondsConcurrent": ingest_s + detect_max,
        "peakRssKbIngest": peak_ingest, "peakRssKbDetect": peak_detect,
        "storeRequests": requests, "writeUnits": wru, "readUnits": rru,
        "bytesWritten": sum("bytesWritten"),
        "s3": {"putRequests": puts, "getRequests": gets, "listRequests": lists,
               "bytesPut": objects("bytesPut"), "bytesStored": stored_bytes},
        "monthly": {"dynamodb": dynamo, "s3": s3, "lambda": lambda, "sqs": sqs, "total": total, "oldService": old},
        "runs": runs,
    });
    if json_out {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    println!(
        "one hourly interval, {series} series ({shards} shards of <= {} series)",
        pipeline::SHARD_SERIES
    );
    println!("  anomalous points {anomalies}, anomaly groups {groups}");
    println!(
        "  ingest            {ingest_s:>8.2} s   peak memory {:>6.1} MB",
        peak_ingest as f64 / 1024.0
    );
    println!(
        "  detect per shard  {:>8.2} s (mean), {detect_max:.2} s (max)   peak memory {:>6.1} MB",
        detect_sum / detect.len().max(1) as f64,
        peak_detect as f64 / 1024.0
    );
    println!(
        "  interval wall time with shards in parallel: {:.2} s; one after another: {:.2} s",
        ingest_s + detect_max,
        ingest_s + detect_sum
    );
    println!(
        "  store requests {requests}, DynamoDB write units {wru}, read units {rru}, {:.1} MB written",
        sum("bytesWritten") as f64 / 1e6
    );
    println!(
        "  S3 requests: {puts} PUT, {gets} GET, {lists} LIST; {:.1} MB put, {:.1} MB of state kept",
        objects("bytesPut") as f64 / 1e6,
        stored_bytes as f64 / 1e6
    );
    println!("per month (730 hourly intervals):");
    println!(
        "  DynamoDB ${dynamo:>7.2}   S3 ${s3:>6.2}   Lambda ${lambda:>6.2}   SQS ${sqs:>5.2}   total ${total:>7.2}"
    );
    println!(
        "  Lookout for Metrics for {series} metrics: ${old:>9.2}  ({:.0}x)",
        old / total.max(1e-9)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_old_price_follows_its_tiers() {
        assert_eq!(old_price(1_000.0), 750.0);
        assert_eq!(old_price(5_000.0), 2_750.0);
        assert_eq!(old_price(50_000.0), 9_500.0);
        assert_eq!(old_price(60_000.0), 10_000.0);
    }
}
