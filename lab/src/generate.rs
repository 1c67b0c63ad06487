//! Realistic sample data in the old service's S3 layout: hourly orders and revenue of an online
//! shop by region, channel and plan, with daily and weekly cycles, growth, count noise and a
//! few injected incidents in known slices, plus a labels file that says where they are.
//!
//! Layout under the output folder (a "buckets" folder: `s3://seismo-sample/KEY` is
//! `OUT/seismo-sample/KEY`):
//! - `metric-set.json`: the CreateMetricSet request that describes the data;
//! - `seismo-sample/historical/metrics.csv`: the whole span in one file;
//! - `seismo-sample/live/{yyyyMMdd}/{HHmm}/metrics.csv`: the last days, one file per hour;
//! - `labels.csv`: the injected incidents (`measure,start,end,dimensions,kind,description`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use seismo_shared::model::{
    AggregationFunction, CreateMetricSetRequest, CsvFormatDescriptor, FileCompression,
    FileFormatDescriptor, Frequency, Metric, MetricSource, S3SourceConfig, TimestampColumn,
};
use seismo_shared::time::{Zone, format_java, local_hour_and_weekday};

/// The bucket name the sample uses.
pub const BUCKET: &str = "seismo-sample";

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Weeks of hourly data.
    pub weeks: u32,
    /// Days at the end also written in the live layout.
    pub live_days: u32,
    /// First hour (epoch seconds, UTC, on an hour boundary).
    pub start: i64,
    /// Random seed.
    pub seed: u64,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            weeks: 10,
            live_days: 21,
            start: 1_785_715_200, // 2026-08-03T00:00:00Z, a Monday
            seed: 7,
        }
    }
}

/// Dimension names and values.
pub const DIMENSIONS: [(&str, &[&str]); 3] = [
    ("region", &["US", "EU", "APAC"]),
    ("channel", &["web", "mobile", "app"]),
    ("plan", &["free", "pro"]),
];

/// One injected incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Incident {
    /// Measures it changes. Revenue is orders x basket, so an incident that changes orders
    /// changes revenue too and lists both.
    pub measures: Vec<&'static str>,
    /// The slice: dimension name and value pairs that must all match.
    pub slice: Vec<(&'static str, &'static str)>,
    /// First hour (epoch seconds).
    pub start: i64,
    /// Hours it lasts.
    pub hours: i64,
    /// Multiplier applied to the measures in the slice.
    pub factor: f64,
    /// Spike or drop.
    pub kind: &'static str,
    /// What happened.
    pub description: &'static str,
}

impl Incident {
    fn hits(&self, dims: &[&str]) -> bool {
        self.slice.iter().all(|(name, value)| {
            DIMENSIONS
                .iter()
                .position(|(n, _)| n == name)
                .is_some_and(|i| dims[i] == *value)
        })
    }

    /// The slice in the `a=a1&b=b2` notation.
    pub fn slice_notation(&self) -> String {
        self.slice
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// The incidents of a sample of `hours` hours from `start`, all inside the newest 30% (the
/// backtest's inference window), a few days apart, at different times of day.
pub fn incidents(start: i64, hours: i64) -> Vec<Incident> {
    let h = 3600;
    let infer_from = start + (hours as f64 * 0.72) as i64 * h;
    let day = |d: i64, hour: i64| (infer_from / 86_400 + d) * 86_400 + hour * h;
    vec![
        Incident {
            measures: vec!["orders", "revenue"],
            slice: vec![("region", "EU"), ("channel", "mobile")],
            start: day(1, 10),
            hours: 4,
            factor: 0.25,
            kind: "drop",
            description: "EU mobile checkout outage",
        },
        Incident {
            measures: vec!["revenue"],
            slice: vec![("region", "APAC"), ("plan", "pro")],
            start: day(5, 3),
            hours: 3,
            factor: 2.6,
            kind: "spike",
            description: "APAC pro price misconfiguration",
        },
        Incident {
            measures: vec!["orders", "revenue"],
            slice: vec![("region", "US"), ("channel", "web")],
            start: day(9, 19),
            hours: 3,
            factor: 2.0,
            kind: "spike",
            description: "US web campaign traffic",
        },
        Incident {
            // Revenue follows orders: fewer orders are less revenue.
            measures: vec!["orders", "revenue"],
            slice: vec![("channel", "app")],
            start: day(13, 14),
            hours: 2,
            factor: 0.2,
            kind: "drop",
            description: "app release crashes on start",
        },
    ]
}

/// A small, repeatable generator (splitmix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5eed_5e15_0000_0001)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// The CreateMetricSet request that describes the generated data.
pub fn metric_set() -> CreateMetricSetRequest {
    hourly_orders_and_revenue(
        "shop-orders",
        "Hourly orders and revenue by region, channel and plan (Seismo sample)",
        DIMENSIONS.iter().map(|(n, _)| n.to_string()).collect(),
        Some(format!("s3://{BUCKET}/live/{{{{yyyyMMdd}}}}/{{{{HHmm}}}}")),
        format!("s3://{BUCKET}/historical/"),
    )
}

/// The metric set of the lab's generated files: hourly `orders` and `revenue` (both SUM) by
/// `dimensions`, a CSV with a header and a `yyyy-MM-dd HH:mm:ss` UTC timestamp column, an
/// Offset of 300 s, read from `historical` (and `templated` live, when given).
pub fn hourly_orders_and_revenue(
    name: &str,
    description: &str,
    dimensions: Vec<String>,
    templated: Option<String>,
    historical: String,
) -> CreateMetricSetRequest {
    let metric = |name: &str| Metric {
        metric_name: name.into(),
        aggregation_function: AggregationFunction::Sum,
        namespace: None,
    };
    CreateMetricSetRequest {
        anomaly_detector_arn: None,
        metric_set_name: name.into(),
        metric_set_description: Some(description.into()),
        metric_list: vec![metric("orders"), metric("revenue")],
        offset: Some(300),
        timestamp_column: Some(TimestampColumn {
            column_name: Some("timestamp".into()),
            column_format: Some("yyyy-MM-dd HH:mm:ss".into()),
        }),
        dimension_list: Some(dimensions),
        metric_set_frequency: Some(Frequency::Pt1h),
        metric_source: MetricSource {
            s3_source_config: Some(S3SourceConfig {
                role_arn: None,
                templated_path_list: templated.map(|t| vec![t]),
                historical_data_path_list: Some(vec![historical]),
                file_format_descriptor: Some(FileFormatDescriptor {
                    csv_format_descriptor: Some(CsvFormatDescriptor {
                        file_compression: Some(FileCompression::None),
                        charset: Some("UTF-8".into()),
                        contains_header: Some(true),
                        delimiter: Some(",".into()),
                        header_list: None,
                        quote_symbol: Some("\"".into()),
                    }),
                    json_format_descriptor: None,
                }),
            }),
            ..MetricSource::default()
        },
        timezone: Some("UTC".into()),
        tags: None,
        dimension_filter_list: None,
    }
}

/// Keeps only the rows of the sample's historical file (under `out`, as [`generate`] wrote it)
/// that are before `before` (epoch seconds): the layout of a detector that learns from history
/// and then detects the live intervals after it.
pub fn cut_history(out: &Path, before: i64) -> std::io::Result<()> {
    let path = out.join(BUCKET).join("historical/metrics.csv");
    let cut =
        format_java(before, "yyyy-MM-dd HH:mm:ss", Zone::UTC).map_err(std::io::Error::other)?;
    let text = std::fs::read_to_string(&path)?;
    let kept: String = text
        .lines()
        .enumerate()
        .filter(|(i, l)| *i == 0 || l.get(..19).is_some_and(|t| t < cut.as_str()))
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    std::fs::write(&path, kept)
}

/// What was written.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Generated {
    /// Rows in the historical file.
    pub rows: usize,
    /// Hourly files in the live layout.
    pub live_files: usize,
    /// Dimension combinations.
    pub series: usize,
    /// The injected incidents.
    pub incidents: Vec<Incident>,
}

/// Writes the sample under `out`.
pub fn generate(out: &Path, options: &GenerateOptions) -> std::io::Result<Generated> {
    let hours = i64::from(options.weeks) * 7 * 24;
    let incidents = incidents(options.start, hours);
    let mut rng = Rng::new(options.seed);
    let combos = combinations();
    // Per series: a base level and a basket size.
    let bases: Vec<(f64, f64)> = combos
        .iter()
        .map(|d| {
            let region = match d[0] {
                "US" => 1.0,
                "EU" => 0.8,
                _ => 0.6,
            };
            let channel = match d[1] {
                "web" => 1.0,
                "mobile" => 0.7,
                _ => 0.5,
            };
            let (plan, basket) = if d[2] == "free" {
                (1.0, 22.0)
            } else {
                (0.35, 85.0)
            };
            (
                300.0 * region * channel * plan * (0.9 + 0.2 * rng.uniform()),
                basket,
            )
        })
        .collect();
    let zone = Zone::UTC;
    let header = "timestamp,region,channel,plan,orders,revenue\n";
    let mut historical = String::from(header);
    let mut live: BTreeMap<i64, String> = BTreeMap::new();
    let live_from = options.start + (hours - i64::from(options.live_days) * 24) * 3600;
    let mut rows = 0;
    for k in 0..hours {
        let t = options.start + k * 3600;
        let (hour, weekday) = local_hour_and_weekday(t, zone);
        for (dims, (base, basket)) in combos.iter().zip(&bases) {
            // Local time of the region drives the daily cycle.
            let shift = match dims[0] {
                "US" => -6.0,
                "EU" => 1.0,
                _ => 8.0,
            };
            let local_hour = (f64::from(hour) + shift).rem_euclid(24.0);
            let daily = 1.0 + 0.65 * (std::f64::consts::TAU * (local_hour - 14.0) / 24.0).cos();
            let weekend = weekday >= 5;
            let weekly = match (dims[1], weekend) {
                ("web", true) => 0.7,
                ("mobile" | "app", true) => 1.2,
                _ => 1.0,
            };
            let growth = 1.0 + 0.004 * (k as f64 / 24.0 / 7.0);
            let mut lambda = base * daily * weekly * growth;
            let mut revenue_factor = 1.0;
            for inc in &incidents {
                if t >= inc.start && t < inc.start + inc.hours * 3600 && inc.hits(dims) {
                    if inc.measures.contains(&"orders") {
                        lambda *= inc.factor;
                    } else {
                        revenue_factor *= inc.factor;
                    }
                }
            }
            let orders = (lambda + lambda.sqrt() * rng.normal()).round().max(0.0);
            let revenue = orders * basket * revenue_factor * (1.0 + 0.05 * rng.normal()).max(0.5);
            // Each hour arrives as one to three partial rows at random minutes.
            let parts = 1 + (rng.next_u64() % 3) as usize;
            let mut left_orders = orders;
            let mut left_revenue = revenue;
            for p in 0..parts {
                let (o, r) = if p + 1 == parts {
                    (left_orders, left_revenue)
                } else {
                    let share = rng.uniform() / parts as f64 * 1.5;
                    let o = (orders * share).floor();
                    (o, revenue * share)
                };
                left_orders -= o;
                left_revenue -= r;
                let minute = rng.next_u64() % 60;
                let ts = format_java(t + minute as i64 * 60, "yyyy-MM-dd HH:mm:ss", zone)
                    .map_err(std::io::Error::other)?;
                let line = format!("{ts},{},{},{},{o},{r:.2}\n", dims[0], dims[1], dims[2]);
                historical.push_str(&line);
                rows += 1;
                if t >= live_from {
                    live.entry(t)
                        .or_insert_with(|| header.to_string())
                        .push_str(&line);
                }
            }
        }
    }
    let bucket = out.join(BUCKET);
    std::fs::create_dir_all(bucket.join("historical"))?;
    std::fs::write(bucket.join("historical/metrics.csv"), historical)?;
    for (t, body) in &live {
        let dir = bucket
            .join("live")
            .join(format_java(*t, "yyyyMMdd", zone).map_err(std::io::Error::other)?)
            .join(format_java(*t, "HHmm", zone).map_err(std::io::Error::other)?);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("metrics.csv"), body)?;
    }
    let json = serde_json::to_string_pretty(&metric_set()).map_err(std::io::Error::other)?;
    std::fs::write(out.join("metric-set.json"), json + "\n")?;
    std::fs::write(out.join("labels.csv"), labels_csv(&incidents))?;
    Ok(Generated {
        rows,
        live_files: live.len(),
        series: combos.len(),
        incidents,
    })
}

fn combinations() -> Vec<Vec<&'static str>> {
    let mut out = vec![Vec::new()];
    for (_, values) in DIMENSIONS {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                values.iter().map(move |v| {
                    let mut p = prefix.clone();
                    p.push(*v);
                    p
                })
            })
            .collect();
    }
    out
}

/// The labels file: one row per incident and measure.
pub fn labels_csv(incidents: &[Incident]) -> String {
    let mut out = String::from("measure,start,end,dimensions,kind,description\n");
    for inc in incidents {
        for m in &inc.measures {
            let end = inc.start + (inc.hours - 1) * 3600;
            let _ = writeln!(
                out,
                "{m},{},{},{},{},{}",
                seismo_shared::model::timestamp_string(inc.start),
                seismo_shared::model::timestamp_string(end),
                inc.slice_notation(),
                inc.kind,
                inc.description
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_repeatable_and_roughly_normal() {
        let mut a = Rng::new(1);
        let mut b = Rng::new(1);
        assert_eq!(a.next_u64(), b.next_u64());
        let n = 20_000;
        let xs: Vec<f64> = (0..n).map(|_| a.normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(
            mean.abs() < 0.05 && (var - 1.0).abs() < 0.05,
            "{mean} {var}"
        );
    }

    #[test]
    fn incidents_lie_in_the_inference_window() {
        let o = GenerateOptions::default();
        let hours = i64::from(o.weeks) * 168;
        let infer_from = o.start + (hours as f64 * 0.7) as i64 * 3600;
        for inc in incidents(o.start, hours) {
            assert!(inc.start >= infer_from, "{}", inc.description);
            assert!(
                inc.start + inc.hours * 3600 <= o.start + hours * 3600,
                "{}",
                inc.description
            );
        }
        assert_eq!(combinations().len(), 18);
    }

    #[test]
    fn the_metric_set_is_valid() {
        seismo_shared::validate::metric_set(&metric_set()).unwrap();
    }
}
