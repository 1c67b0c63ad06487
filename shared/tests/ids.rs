//! Golden values of every id and hash that is stored or sent: group ids, series ids, the shard
//! of a series, the model fingerprint and the one-time schedule names. Changing one of these
//! silently orphans stored data (a group stored twice under two ids, a series' state read by
//! the wrong shard, every model relearned), so each is pinned to the value this build gives.

use seismo_shared::group::{group_id, series_id};
use seismo_shared::pipeline::schedule::{Once, once_name};
use seismo_shared::pipeline::{model_fingerprint, shard_of};

const DETECTOR: &str = "arn:aws:lookoutmetrics:us-east-1:123456789012:AnomalyDetector:shop";

fn dims(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

#[test]
fn group_ids_are_pinned() {
    for (measure, start, id) in [
        (
            "orders",
            1_790_157_600,
            "b6e5f29b-324e-b01d-8798-15c60061a208",
        ),
        (
            "revenue",
            1_790_157_600,
            "3bb34d2c-f642-e360-7398-c7fc90eac167",
        ),
        ("orders", 0, "2b787e22-8f89-15a7-9764-abf44f71d964"),
        ("orders", -3600, "c678c6aa-c833-43fd-7e1b-a9ed8f725a4a"),
    ] {
        assert_eq!(
            group_id(DETECTOR, measure, start),
            id,
            "{measure} at {start}"
        );
    }
    // The namespace counts: a backtest's groups are not a live detector's.
    assert_eq!(
        group_id("backtest", "orders", 1_790_157_600),
        "eb26296b-b4a0-9ec5-ce06-12c45d5b9284"
    );
}

#[test]
fn series_ids_are_pinned() {
    for (measure, values, id) in [
        ("orders", &["EU", "mobile", "pro"][..], "f0b4b0a5588052b6"),
        ("revenue", &["EU", "mobile", "pro"][..], "a515079d0fd053a5"),
        ("orders", &[][..], "1a8677ccd67fbf98"),
        // Parts are separated: ("ab", "c") is not ("a", "bc").
        ("orders", &["ab", "c"][..], "82697619e24ac9a6"),
        ("orders", &["a", "bc"][..], "2902854a5a111f7c"),
    ] {
        assert_eq!(
            series_id(measure, &dims(values)),
            id,
            "{measure} {values:?}"
        );
    }
}

#[test]
fn shards_are_pinned() {
    let shards: Vec<u32> = [
        &["EU", "mobile", "pro"][..],
        &["US", "web", "free"][..],
        &["APAC", "app", "pro"][..],
        &[][..],
    ]
    .iter()
    .map(|v| shard_of(&dims(v), 25))
    .collect();
    assert_eq!(shards, vec![11, 21, 24, 12]);
    // One shard, and zero taken as one.
    assert_eq!(shard_of(&dims(&["EU"]), 1), 0);
    assert_eq!(shard_of(&dims(&["EU"]), 0), 0);
}

#[test]
fn the_model_fingerprint_is_pinned() {
    let ms: seismo_shared::model::CreateMetricSetRequest = serde_json::from_value(serde_json::json!({
        "AnomalyDetectorArn": DETECTOR, "MetricSetName": "shop", "MetricSetFrequency": "PT1H",
        "MetricList": [{"MetricName": "orders", "AggregationFunction": "SUM"},
                       {"MetricName": "revenue", "AggregationFunction": "SUM"}],
        "DimensionList": ["region", "channel", "plan"],
        "TimestampColumn": {"ColumnName": "timestamp", "ColumnFormat": "yyyy-MM-dd HH:mm:ss"},
        "Timezone": "UTC",
        "MetricSource": {"S3SourceConfig": {
            "RoleArn": "arn:aws:iam::123456789012:role/seismo",
            "HistoricalDataPathList": ["s3://seismo-sample/historical/"],
            "FileFormatDescriptor": {"CsvFormatDescriptor": {"ContainsHeader": true, "Delimiter": ","}}}}
    }))
    .unwrap();
    assert_eq!(model_fingerprint(&ms), "2f6f7f69fddae9e9");
}

#[test]
fn one_time_schedule_names_are_pinned() {
    assert_eq!(once_name("shop", Once::Activate), "shop.activate");
    assert_eq!(once_name("shop", Once::Backtest), "shop.backtest");
}
