//! Every constraint of the API model (../shared/spec), checked from the model itself: for each
//! operation, a valid request is mutated one member at a time (a required member removed, a
//! string too long or too short or off its pattern, a number out of range, a value outside its
//! enum, a list too long or empty, a value of the wrong JSON type), and the answer must be a
//! ValidationException (400) naming that member by its path (`MetricList[0].MetricName`).
//! Every member the model lets a request hold is mutated at least once: where one valid request
//! cannot hold them all (an SNS or a Lambda action, a CSV or a JSON format), a second one of the
//! same operation brings the rest, and the test fails naming any member never reached.
//! (`NextToken` must be a token the listing gave: validation.rs pages through real ones.)

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use seismo_api::{Api, MemoryStore, app};
use serde_json::{Map, Value, json};
use tower::ServiceExt;

const D: &str = "arn:aws:lookoutmetrics:us-east-1:000000000000:AnomalyDetector:d";
const MS: &str = "arn:aws:lookoutmetrics:us-east-1:000000000000:MetricSet/d/m";
const ALERT: &str = "arn:aws:lookoutmetrics:us-east-1:000000000000:Alert:a";
const GROUP: &str = "a1b2c3d4-a1b2-a1b2-a1b2-a1b2c3d4e5f6";

fn model() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/spec/lookoutmetrics-2017-07-25.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (../shared must sit beside the repository)",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap()
}

fn s3_source() -> Value {
    json!({
        "RoleArn": "arn:aws:iam::000000000000:role/r",
        "TemplatedPathList": ["s3://b/live/{{yyyyMMdd}}/{{HHmm}}"],
        "HistoricalDataPathList": ["s3://b/history/"],
        "FileFormatDescriptor": {"CsvFormatDescriptor": {
            "FileCompression": "NONE", "Charset": "UTF-8", "ContainsHeader": true,
            "Delimiter": ",", "HeaderList": ["ts", "region", "revenue"], "QuoteSymbol": "\""
        }}
    })
}

/// The same source with JSON Lines files (`s3://b/json/` holds one).
fn s3_json_source() -> Value {
    json!({
        "RoleArn": "arn:aws:iam::000000000000:role/r",
        "TemplatedPathList": ["s3://b/live/{{yyyyMMdd}}/{{HHmm}}"],
        "HistoricalDataPathList": ["s3://b/json/"],
        "FileFormatDescriptor": {"JsonFormatDescriptor": {"FileCompression": "NONE", "Charset": "UTF-8"}}
    })
}

fn lambda_action() -> Value {
    json!({"LambdaConfiguration": {
        "RoleArn": "arn:aws:iam::000000000000:role/r",
        "LambdaArn": "arn:aws:lambda:us-east-1:000000000000:function:f"
    }})
}

fn sns_action() -> Value {
    json!({"SNSConfiguration": {
        "RoleArn": "arn:aws:iam::000000000000:role/r",
        "SnsTopicArn": "arn:aws:sns:us-east-1:000000000000:t",
        "SnsFormat": "JSON"
    }})
}

fn filters() -> Value {
    json!({"MetricList": ["revenue"],
           "DimensionFilterList": [{"DimensionName": "region", "DimensionValueList": ["EU"]}]})
}

/// A valid request of every operation sent as `POST /{Operation}` (the tag operations use
/// paths and query strings and are tested in validation.rs).
fn requests() -> Vec<(&'static str, Value)> {
    let feedback = json!({"AnomalyGroupId": GROUP, "TimeSeriesId": "abc", "IsAnomaly": true});
    vec![
        (
            "CreateAnomalyDetector",
            json!({
                "AnomalyDetectorName": "e", "AnomalyDetectorDescription": "shop",
                "AnomalyDetectorConfig": {"AnomalyDetectorFrequency": "PT1H"},
                "KmsKeyArn": "arn:aws:kms:us-east-1:000000000000:key/a1b2c3d4-a1b2-a1b2-a1b2-a1b2c3d4e5f6",
                "Tags": {"team": "shop"}
            }),
        ),
        ("DescribeAnomalyDetector", json!({"AnomalyDetectorArn": D})),
        ("ListAnomalyDetectors", json!({"MaxResults": 10})),
        (
            "UpdateAnomalyDetector",
            json!({
                "AnomalyDetectorArn": D, "AnomalyDetectorDescription": "shop",
                "AnomalyDetectorConfig": {"AnomalyDetectorFrequency": "PT1H"},
                "KmsKeyArn": "arn:aws:kms:us-east-1:000000000000:key/a1b2c3d4-a1b2-a1b2-a1b2-a1b2c3d4e5f6"
            }),
        ),
        ("DeleteAnomalyDetector", json!({"AnomalyDetectorArn": D})),
        ("ActivateAnomalyDetector", json!({"AnomalyDetectorArn": D})),
        (
            "DeactivateAnomalyDetector",
            json!({"AnomalyDetectorArn": D}),
        ),
        ("BackTestAnomalyDetector", json!({"AnomalyDetectorArn": D})),
        (
            "CreateMetricSet",
            json!({
                "AnomalyDetectorArn": D, "MetricSetName": "n", "MetricSetDescription": "sales",
                "MetricList": [{"MetricName": "revenue", "AggregationFunction": "SUM", "Namespace": "shop"}],
                "Offset": 300,
                "TimestampColumn": {"ColumnName": "ts", "ColumnFormat": "yyyy-MM-dd HH:mm:ss"},
                "DimensionList": ["region"], "MetricSetFrequency": "PT1H", "Timezone": "UTC",
                "MetricSource": {"S3SourceConfig": s3_source()},
                "DimensionFilterList": [{"Name": "region", "FilterList": [{"DimensionValue": "EU", "FilterOperation": "EQUALS"}]}],
                "Tags": {"team": "shop"}
            }),
        ),
        ("DescribeMetricSet", json!({"MetricSetArn": MS})),
        (
            "ListMetricSets",
            json!({"AnomalyDetectorArn": D, "MaxResults": 10}),
        ),
        (
            "UpdateMetricSet",
            json!({
                "MetricSetArn": MS, "MetricSetDescription": "sales", "Offset": 300,
                "MetricList": [{"MetricName": "revenue", "AggregationFunction": "SUM"}],
                "TimestampColumn": {"ColumnName": "ts", "ColumnFormat": "yyyy-MM-dd HH:mm:ss"},
                "DimensionList": ["region"], "MetricSetFrequency": "PT1H",
                "MetricSource": {"S3SourceConfig": s3_source()},
                "DimensionFilterList": [{"Name": "region", "FilterList": [{"DimensionValue": "EU", "FilterOperation": "EQUALS"}]}]
            }),
        ),
        (
            "CreateAlert",
            json!({
                "AlertName": "b", "AlertDescription": "drops", "AnomalyDetectorArn": D,
                "AlertSensitivityThreshold": 50, "Action": sns_action(), "AlertFilters": filters(),
                "Tags": {"team": "shop"}
            }),
        ),
        ("DescribeAlert", json!({"AlertArn": ALERT})),
        (
            "ListAlerts",
            json!({"AnomalyDetectorArn": D, "MaxResults": 10}),
        ),
        (
            "UpdateAlert",
            json!({
                "AlertArn": ALERT, "AlertDescription": "drops", "AlertSensitivityThreshold": 60,
                "Action": sns_action(), "AlertFilters": filters()
            }),
        ),
        ("DeleteAlert", json!({"AlertArn": ALERT})),
        (
            "ListAnomalyGroupSummaries",
            json!({"AnomalyDetectorArn": D, "SensitivityThreshold": 50, "MaxResults": 10}),
        ),
        (
            "GetAnomalyGroup",
            json!({"AnomalyDetectorArn": D, "AnomalyGroupId": GROUP}),
        ),
        (
            "ListAnomalyGroupTimeSeries",
            json!({"AnomalyDetectorArn": D, "AnomalyGroupId": GROUP, "MetricName": "revenue", "MaxResults": 10}),
        ),
        (
            "ListAnomalyGroupRelatedMetrics",
            json!({"AnomalyDetectorArn": D, "AnomalyGroupId": GROUP, "RelationshipTypeFilter": "CAUSE_OF_INPUT_ANOMALY_GROUP", "MaxResults": 10}),
        ),
        (
            "PutFeedback",
            json!({"AnomalyDetectorArn": D, "AnomalyGroupTimeSeriesFeedback": feedback}),
        ),
        (
            "GetFeedback",
            json!({"AnomalyDetectorArn": D, "AnomalyGroupTimeSeriesFeedback": {"AnomalyGroupId": GROUP, "TimeSeriesId": "abc"}, "MaxResults": 10}),
        ),
        (
            "GetDataQualityMetrics",
            json!({"AnomalyDetectorArn": D, "MetricSetArn": MS}),
        ),
        (
            "DescribeAnomalyDetectionExecutions",
            json!({"AnomalyDetectorArn": D, "Timestamp": "2026-01-01T00:00:00Z", "MaxResults": 10}),
        ),
        (
            "GetSampleData",
            json!({"S3SourceConfig": {
                "RoleArn": "arn:aws:iam::000000000000:role/r",
                "TemplatedPathList": ["s3://b/live/{{yyyyMMdd}}/{{HHmm}}"],
                "HistoricalDataPathList": ["s3://b/history/"],
                "FileFormatDescriptor": {"CsvFormatDescriptor": {"ContainsHeader": true, "Delimiter": ","}}
            }}),
        ),
        (
            "DetectMetricSetConfig",
            json!({"AnomalyDetectorArn": D, "AutoDetectionMetricSource": {"S3SourceConfig": {
                "TemplatedPathList": ["s3://b/live/{{yyyyMMdd}}/{{HHmm}}"],
                "HistoricalDataPathList": ["s3://b/history/"]
            }}}),
        ),
    ]
}

/// More valid requests of some operations, with what the first ones leave out (a Lambda action,
/// a JSON format descriptor), so that what is inside those is mutated too.
fn variants() -> Vec<(&'static str, Value)> {
    let metric_set = |mut body: Value| {
        body["MetricSource"] = json!({"S3SourceConfig": s3_json_source()});
        body
    };
    let mut out = Vec::new();
    for (op, body) in requests() {
        match op {
            "CreateAlert" | "UpdateAlert" => {
                let mut body = body;
                body["Action"] = lambda_action();
                out.push((op, body));
            }
            "CreateMetricSet" | "UpdateMetricSet" => out.push((op, metric_set(body))),
            "GetSampleData" => {
                out.push((op, json!({"S3SourceConfig": s3_json_source()})));
                // With every CSV member (a HeaderList among them).
                out.push((op, json!({"S3SourceConfig": s3_source()})));
            }
            _ => {}
        }
    }
    out
}

/// Every member path of an operation's input that a request could hold (`Action`,
/// `Action.LambdaConfiguration.RoleArn`, `MetricList[0].MetricName`), from the model.
fn member_paths(model: &Value, shape_name: &str, path: &str, out: &mut BTreeSet<String>) {
    let shape = &model["shapes"][shape_name];
    match shape["type"].as_str().unwrap_or_default() {
        "structure" => {
            for (name, member) in shape["members"].as_object().into_iter().flatten() {
                if member.get("location").is_some() {
                    continue;
                }
                let sub = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                if out.insert(sub.clone()) {
                    member_paths(model, member["shape"].as_str().unwrap(), &sub, out);
                }
            }
        }
        "list" => {
            let sub = format!("{path}[0]");
            if out.insert(sub.clone()) {
                member_paths(model, shape["member"]["shape"].as_str().unwrap(), &sub, out);
            }
        }
        _ => {}
    }
}

/// A bad value of a shape, with what makes it bad.
fn bad_values(shape: &Value) -> Vec<(Value, String)> {
    let mut out = Vec::new();
    let kind = shape["type"].as_str().unwrap_or_default();
    let (min, max) = (shape["min"].as_f64(), shape["max"].as_f64());
    match kind {
        "string" => {
            out.push((json!(7), "a number".to_string()));
            if let Some(values) = shape["enum"].as_array() {
                let _ = values;
                out.push((json!("NOT_A_VALUE"), "outside the enum".to_string()));
            }
            if let Some(max) = max {
                out.push((
                    json!("a".repeat(max as usize + 1)),
                    format!("longer than {max}"),
                ));
            }
            if min.is_some_and(|m| m >= 1.0) {
                out.push((json!(""), "empty".to_string()));
            }
            if let Some(p) = shape["pattern"].as_str() {
                // The model's patterns are not implicitly anchored (Smithy); some use
                // look-ahead, which the regex crate does not support: those are skipped.
                if let Ok(re) = regex::Regex::new(p) {
                    let fits = |c: &str| {
                        let n = c.chars().count() as f64;
                        min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m)
                    };
                    let candidates = ["!", " ", "-x", "x--y", "\n", "9x", "s3:/x", "a:b"];
                    if let Some(c) = candidates.iter().find(|c| fits(c) && !re.is_match(c)) {
                        out.push((json!(c), format!("{c:?} off the pattern {p}")));
                    }
                }
            }
        }
        "integer" | "long" | "double" | "float" => {
            out.push((json!("12"), "a string".to_string()));
            if let Some(min) = min {
                out.push((json!(min - 1.0), format!("below {min}")));
            }
            if let Some(max) = max {
                out.push((json!(max + 1.0), format!("above {max}")));
            }
        }
        "boolean" => out.push((json!("yes"), "a string".to_string())),
        "list" => {
            out.push((json!("x"), "not a list".to_string()));
            if min.is_some_and(|m| m >= 1.0) {
                out.push((json!([]), "empty".to_string()));
            }
        }
        "structure" => out.push((json!("x"), "not an object".to_string())),
        _ => {}
    }
    out
}

/// Every (path, JSON pointer, bad value, why) of a request.
fn mutations(
    model: &Value,
    shape_name: &str,
    value: &Value,
    path: &str,
    pointer: &str,
    out: &mut Vec<(String, String, Option<Value>, String)>,
) {
    let shapes = &model["shapes"];
    let shape = &shapes[shape_name];
    match shape["type"].as_str().unwrap_or_default() {
        "structure" => {
            let required: Vec<&str> = shape["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let Some(members) = shape["members"].as_object() else {
                return;
            };
            for (name, member) in members {
                if member.get("location").is_some() {
                    continue;
                }
                let target = member["shape"].as_str().unwrap_or_default();
                let sub_path = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                let sub_pointer = format!("{pointer}/{name}");
                if required.contains(&name.as_str()) {
                    out.push((
                        sub_path.clone(),
                        sub_pointer.clone(),
                        None,
                        "removed (required)".into(),
                    ));
                }
                for (bad, why) in bad_values(&shapes[target]) {
                    out.push((sub_path.clone(), sub_pointer.clone(), Some(bad), why));
                }
                if let Some(v) = value.get(name) {
                    mutations(model, target, v, &sub_path, &sub_pointer, out);
                }
            }
        }
        "list" => {
            let member = shape["member"]["shape"].as_str().unwrap_or_default();
            if let Some(first) = value.as_array().and_then(|a| a.first()) {
                if let Some(max) = shape["max"].as_u64() {
                    let long = vec![first.clone(); max as usize + 1];
                    out.push((
                        path.to_string(),
                        pointer.to_string(),
                        Some(json!(long)),
                        format!("more than {max} items"),
                    ));
                }
                let sub_path = format!("{path}[0]");
                let sub_pointer = format!("{pointer}/0");
                for (bad, why) in bad_values(&shapes[member]) {
                    out.push((sub_path.clone(), sub_pointer.clone(), Some(bad), why));
                }
                mutations(model, member, first, &sub_path, &sub_pointer, out);
            }
        }
        "map" => {
            let value_shape = shape["value"]["shape"].as_str().unwrap_or_default();
            let key_shape = &shapes[shape["key"]["shape"].as_str().unwrap_or_default()];
            if let Some(max) = shape["max"].as_u64() {
                let big: Map<String, Value> =
                    (0..=max).map(|i| (format!("k{i}"), json!("v"))).collect();
                out.push((
                    path.to_string(),
                    pointer.to_string(),
                    Some(Value::Object(big)),
                    format!("more than {max} entries"),
                ));
            }
            if let Some(max) = key_shape["max"].as_u64() {
                let long = json!({ "k".repeat(max as usize + 1): "v" });
                out.push((
                    path.to_string(),
                    pointer.to_string(),
                    Some(long),
                    format!("a key longer than {max}"),
                ));
            }
            for (bad, why) in bad_values(&shapes[value_shape]) {
                if bad.is_string() || bad.is_number() {
                    out.push((
                        path.to_string(),
                        pointer.to_string(),
                        Some(json!({ "k": bad })),
                        format!("a value {why}"),
                    ));
                }
            }
        }
        _ => {}
    }
}

fn apply(mut body: Value, pointer: &str, bad: Option<Value>) -> Value {
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    let target = if parent.is_empty() {
        &mut body
    } else {
        body.pointer_mut(parent).unwrap()
    };
    match (target, bad) {
        (Value::Object(m), None) => {
            m.remove(last);
        }
        (Value::Object(m), Some(v)) => {
            m.insert(last.to_string(), v);
        }
        (Value::Array(a), Some(v)) => {
            let i: usize = last.parse().unwrap();
            a[i] = v;
        }
        _ => {}
    }
    body
}

async fn call(router: &axum::Router, op: &str, body: &Value) -> (u16, String, Value) {
    let response = router
        .clone()
        .oneshot(
            Request::post(format!("/{op}"))
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("x-amzn-ErrorType")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        kind,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A fresh API with detector `d`, its metric set `m` and alert `a`, and a bucket folder with one
/// file (so sample and detection requests find data). Every case gets its own.
async fn seeded() -> (axum::Router, tempfile::TempDir) {
    let buckets = tempfile::tempdir().unwrap();
    let history = buckets.path().join("b/history");
    std::fs::create_dir_all(&history).unwrap();
    std::fs::write(
        history.join("data.csv"),
        "ts,region,revenue\n2026-01-01 00:00:00,EU,1\n2026-01-01 01:00:00,EU,2\n",
    )
    .unwrap();
    let json = buckets.path().join("b/json");
    std::fs::create_dir_all(&json).unwrap();
    std::fs::write(
        json.join("data.json"),
        "{\"ts\": \"2026-01-01 00:00:00\", \"region\": \"EU\", \"revenue\": 1}\n",
    )
    .unwrap();
    let router = app(Arc::new(Api::new(MemoryStore::new(), buckets.path())));
    let setup = requests();
    for op in ["CreateAnomalyDetector", "CreateMetricSet", "CreateAlert"] {
        let mut body = setup.iter().find(|(o, _)| *o == op).unwrap().1.clone();
        match op {
            "CreateAnomalyDetector" => body["AnomalyDetectorName"] = json!("d"),
            "CreateMetricSet" => body["MetricSetName"] = json!("m"),
            _ => body["AlertName"] = json!("a"),
        }
        let (status, _, answer) = call(&router, op, &body).await;
        assert_eq!(status, 200, "{op}: {answer}");
    }
    (router, buckets)
}

/// Sources of the model that Seismo refuses whole ("export the data to S3"): a bad value of
/// the member itself is sent, nothing inside it.
const REFUSED_WHOLE: [&str; 5] = [
    "MetricSource.AppFlowConfig",
    "MetricSource.AthenaSourceConfig",
    "MetricSource.CloudWatchConfig",
    "MetricSource.RDSSourceConfig",
    "MetricSource.RedshiftSourceConfig",
];

#[tokio::test]
async fn every_constraint_of_the_model_is_checked_and_names_its_member() {
    let model = model();
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut operations = BTreeSet::new();
    let mut mutated = BTreeSet::new();
    for (op, base) in requests().into_iter().chain(variants()) {
        operations.insert(op);
        let input = model["operations"][op]["input"]["shape"].as_str().unwrap();
        let (router, _dir) = seeded().await;
        let (status, kind, answer) = call(&router, op, &base).await;
        assert!(
            !(status == 400 && kind == "ValidationException"),
            "{op}: the valid request is refused: {answer}"
        );
        let mut cases = Vec::new();
        mutations(&model, input, &base, "", "", &mut cases);
        for (path, pointer, bad, why) in cases {
            mutated.insert(format!("{op} {path}"));
            let body = apply(base.clone(), &pointer, bad);
            let (router, _dir) = seeded().await;
            let (status, kind, answer) = call(&router, op, &body).await;
            checked += 1;
            // The member itself, or a part of it (`Tags.key`, a required member inside it).
            let named = answer["Fields"].as_array().is_some_and(|f| {
                f.iter().filter_map(|x| x["Name"].as_str()).any(|n| {
                    n == path
                        || n.strip_prefix(path.as_str())
                            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
                })
            });
            if status != 400 || kind != "ValidationException" || !named {
                failures.push(format!("{op} {path} {why}: {status} {kind} {answer}"));
            }
        }
    }
    let served: Vec<&str> = model["operations"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|o| !o.to_lowercase().contains("tag"))
        .collect();
    assert_eq!(
        served.len(),
        operations.len(),
        "every POST operation has a request here"
    );
    // Every member the model lets a request hold was mutated (or, with the sources Seismo
    // refuses whole, its container was), and the members of a Lambda action and a JSON format
    // descriptor among them.
    let mut unreached = Vec::new();
    for op in &operations {
        let input = model["operations"][*op]["input"]["shape"].as_str().unwrap();
        let mut paths = BTreeSet::new();
        member_paths(&model, input, "", &mut paths);
        for path in paths {
            let refused_whole = REFUSED_WHOLE
                .iter()
                .any(|r| path.starts_with(&format!("{r}.")));
            if !refused_whole && !mutated.contains(&format!("{op} {path}")) {
                unreached.push(format!("{op} {path}"));
            }
        }
    }
    assert!(
        unreached.is_empty(),
        "members never mutated:\n{}",
        unreached.join("\n")
    );
    for needed in [
        "CreateAlert Action.LambdaConfiguration.RoleArn",
        "CreateAlert Action.LambdaConfiguration.LambdaArn",
        "UpdateAlert Action.LambdaConfiguration.LambdaArn",
        "CreateMetricSet MetricSource.S3SourceConfig.FileFormatDescriptor.JsonFormatDescriptor.FileCompression",
        "CreateMetricSet MetricSource.S3SourceConfig.FileFormatDescriptor.JsonFormatDescriptor.Charset",
        "UpdateMetricSet MetricSource.S3SourceConfig.FileFormatDescriptor.JsonFormatDescriptor.Charset",
        "GetSampleData S3SourceConfig.FileFormatDescriptor.JsonFormatDescriptor.Charset",
    ] {
        assert!(mutated.contains(needed), "{needed} never mutated");
    }
    eprintln!(
        "{checked} bad values sent to {} member paths, {} not refused as they should be",
        mutated.len(),
        failures.len()
    );
    assert!(checked > 300, "only {checked} cases");
    assert!(
        failures.is_empty(),
        "{} of {checked} bad values not refused naming their member:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
