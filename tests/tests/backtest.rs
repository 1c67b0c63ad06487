//! The backtest on generated data with known answers, on the live layout, repeated, and on the
//! old service's labelled e-commerce sample in ../shared.

use std::path::{Path, PathBuf};

use seismo_lab::eval::{self, LabelledEvent};
use seismo_lab::generate::{self, GenerateOptions, Incident};
use seismo_shared::backtest::{self, BacktestOptions, BacktestReport};
use seismo_shared::model::CreateMetricSetRequest;
use seismo_shared::paths::LocalResolver;

fn run(ms: &CreateMetricSetRequest, buckets: &Path) -> BacktestReport {
    backtest::run(
        ms,
        &LocalResolver::new(buckets),
        &BacktestOptions::default(),
        &mut |_| {},
    )
    .unwrap()
}

fn group_of<'a>(
    report: &'a BacktestReport,
    inc: &Incident,
    measure: &str,
) -> &'a seismo_shared::group::GroupReport {
    report
        .groups
        .iter()
        .find(|g| {
            g.anomaly_group.primary_metric_name == measure
                && g.start <= inc.start + (inc.hours - 1) * 3600
                && inc.start <= g.end
        })
        .unwrap_or_else(|| panic!("{} on {measure} not found", inc.description))
}

fn top_values(report: &BacktestReport, inc: &Incident, measure: &str) -> Vec<(String, String)> {
    group_of(report, inc, measure)
        .anomaly_group
        .metric_level_impact_list[0]
        .contribution_matrix
        .dimension_contribution_list
        .iter()
        .map(|d| {
            (
                d.dimension_name.clone(),
                d.dimension_value_contribution_list[0]
                    .dimension_value
                    .clone(),
            )
        })
        .collect()
}

#[test]
fn generated_incidents_are_found_with_their_slice_on_top() {
    let dir = tempfile::tempdir().unwrap();
    let g = generate::generate(dir.path(), &GenerateOptions::default()).unwrap();
    let report = run(&generate::metric_set(), dir.path());
    assert_eq!((report.time_series, report.metrics), (18, 36));
    assert_eq!(
        report.train.intervals + report.inference.intervals,
        10 * 7 * 24
    );
    assert_eq!(report.quality.invalid_rows, 0);
    for inc in &g.incidents {
        for m in &inc.measures {
            let tops = top_values(&report, inc, m);
            // The root-cause search names exactly the injected slice, and nothing else.
            let causes = &group_of(&report, inc, m).root_causes;
            let want = seismo_shared::rca::normalize_cause(&inc.slice_notation());
            let got: Vec<String> = causes
                .iter()
                .map(|c| seismo_shared::rca::normalize_cause(c))
                .collect();
            assert_eq!(got, [want], "{} on {m}", inc.description);
            for (name, value) in &inc.slice {
                assert!(
                    tops.contains(&(name.to_string(), value.to_string())),
                    "{}: {tops:?}",
                    inc.description
                );
            }
        }
    }
    // Few false groups: at least 80% of the groups are incidents.
    let events: Vec<LabelledEvent> = g
        .incidents
        .iter()
        .flat_map(|i| {
            i.measures.iter().map(|m| LabelledEvent {
                measure: m.to_string(),
                start: i.start,
                end: i.start + (i.hours - 1) * 3600,
                dimensions: None,
            })
        })
        .collect();
    let scores = eval::score(
        &report.groups,
        &events,
        &["orders".into(), "revenue".into()],
        i64::MIN,
        i64::MAX,
    );
    let all = scores.last().unwrap();
    assert_eq!(all.recall, 1.0);
    assert!(all.precision >= 0.8, "{all:?}");
}

#[test]
fn the_live_layout_gives_the_same_data_as_the_historical_file() {
    let dir = tempfile::tempdir().unwrap();
    generate::generate(
        dir.path(),
        &GenerateOptions {
            weeks: 4,
            live_days: 7,
            ..GenerateOptions::default()
        },
    )
    .unwrap();
    let mut live = generate::metric_set();
    live.metric_source
        .s3_source_config
        .as_mut()
        .unwrap()
        .historical_data_path_list = None;
    let schema = seismo_shared::data::Schema::from_metric_set(&live).unwrap();
    let files = backtest::source_files(&live, &LocalResolver::new(dir.path())).unwrap();
    assert_eq!(
        files.len(),
        7 * 24,
        "one file per hour under the templated prefix"
    );
    // Every hour's file, expanded from the template, holds exactly that hour.
    let template = live
        .metric_source
        .s3_source_config
        .as_ref()
        .unwrap()
        .templated_path_list
        .as_ref()
        .unwrap()[0]
        .clone();
    let first_live = GenerateOptions::default().start + (4 * 7 - 7) * 86_400;
    let path = seismo_shared::paths::expand_template(&template, first_live, schema.zone).unwrap();
    let mut agg =
        seismo_shared::data::Aggregator::new(&schema).with_window(first_live, first_live + 3600);
    for f in LocalResolver::new(dir.path()).list(&path).unwrap() {
        agg.read_file(&f);
    }
    assert_eq!(agg.quality().rows_outside_interval, 0);
    let data = agg.finish();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0].series.len(), 18);
}

#[test]
fn running_a_backtest_twice_gives_the_same_groups() {
    let dir = tempfile::tempdir().unwrap();
    generate::generate(
        dir.path(),
        &GenerateOptions {
            weeks: 5,
            ..GenerateOptions::default()
        },
    )
    .unwrap();
    let a = run(&generate::metric_set(), dir.path());
    let b = run(&generate::metric_set(), dir.path());
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
}

fn shared_data() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/ecommerce");
    assert!(
        p.join("backtest/input.csv").is_file(),
        "the e-commerce sample is expected at {} (../shared beside the repository)",
        p.display()
    );
    p
}

#[test]
fn the_ecommerce_sample_is_read_completely() {
    let data = shared_data();
    let ms: CreateMetricSetRequest = serde_json::from_value(serde_json::json!({
        "MetricSetName": "ecommerce",
        "MetricList": [{"MetricName": "views", "AggregationFunction": "SUM"}, {"MetricName": "revenue", "AggregationFunction": "SUM"}],
        "TimestampColumn": {"ColumnName": "timestamp", "ColumnFormat": "yyyy-MM-dd HH:mm:ss"},
        "DimensionList": ["platform", "marketplace"],
        "MetricSetFrequency": "PT1H",
        "MetricSource": {"S3SourceConfig": {
            "HistoricalDataPathList": [format!("file://{}", data.join("backtest/input.csv").canonicalize().unwrap().display())],
            "FileFormatDescriptor": {"CsvFormatDescriptor": {"ContainsHeader": true}}}}
    }))
    .unwrap();
    let report = run(&ms, Path::new("/"));
    assert_eq!(report.time_series, 21);
    assert_eq!(report.quality.rows_processed, 91_728);
    assert_eq!(report.quality.invalid_rows + report.quality.partial_rows, 0);
    assert_eq!(report.train.start, "2020-10-01T00:00:00Z");
    assert_eq!(report.inference.end, "2021-03-31T23:00:00Z");
    assert!(!report.groups.is_empty());
}
