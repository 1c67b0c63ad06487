//! The old service's concepts, named and shaped as in the Lookout for Metrics API model
//! (`shared/spec/lookoutmetrics-2017-07-25.json`), with serde that reads and writes the API's
//! JSON exactly (PascalCase members, enums as their wire strings, absent optionals omitted).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

mod documents;
mod status;

pub use documents::{
    AlertDoc, AlertFilters, AlertTarget, DetectorConfig, DetectorDoc, DimensionFilter, Document,
    DocumentError, MetricSetDoc,
};
pub use status::{AlertStatus, DetectorStatus, ExecutionStatus};

/// How often a detector looks at its data (`Frequency`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Frequency {
    /// Every five minutes.
    #[serde(rename = "PT5M")]
    Pt5m,
    /// Every ten minutes.
    #[serde(rename = "PT10M")]
    Pt10m,
    /// Hourly.
    #[serde(rename = "PT1H")]
    Pt1h,
    /// Daily.
    #[serde(rename = "P1D")]
    P1d,
}

impl Frequency {
    /// Every frequency the API accepts.
    pub const ALL: [Frequency; 4] = [
        Frequency::Pt5m,
        Frequency::Pt10m,
        Frequency::Pt1h,
        Frequency::P1d,
    ];

    /// Length of one interval in seconds.
    pub fn seconds(self) -> i64 {
        match self {
            Frequency::Pt5m => 300,
            Frequency::Pt10m => 600,
            Frequency::Pt1h => 3_600,
            Frequency::P1d => 86_400,
        }
    }

    /// The API's string for this frequency.
    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Pt5m => "PT5M",
            Frequency::Pt10m => "PT10M",
            Frequency::Pt1h => "PT1H",
            Frequency::P1d => "P1D",
        }
    }

    /// The number of metrics (measure x dimension combination) the old service allowed per
    /// detector at this frequency. Seismo enforces the same quota by default.
    pub fn metric_quota(self) -> usize {
        match self {
            Frequency::Pt5m => 5_000,
            Frequency::Pt10m => 10_000,
            Frequency::Pt1h | Frequency::P1d => 50_000,
        }
    }

    /// Intervals of history the old service needed before it could detect (cold start).
    pub fn cold_start_intervals(self) -> usize {
        match self {
            Frequency::Pt5m => 300,
            Frequency::Pt10m => 300,
            Frequency::Pt1h => 300,
            Frequency::P1d => 14,
        }
    }
}

impl fmt::Display for Frequency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Frequency {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Frequency::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                format!("unknown frequency {s:?}: expected one of PT5M, PT10M, PT1H, P1D")
            })
    }
}

/// How rows of one interval and dimension combination are combined (`AggregationFunction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AggregationFunction {
    /// Arithmetic mean of the rows.
    Avg,
    /// Sum of the rows.
    Sum,
}

/// One measure of a metric set (`Metric`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Metric {
    /// The column that holds the measure.
    pub metric_name: String,
    /// SUM or AVG.
    pub aggregation_function: AggregationFunction,
    /// Only used by CloudWatch sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// The column that holds each row's time and its format (`TimestampColumn`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TimestampColumn {
    /// Column name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column_name: Option<String>,
    /// A Java-style pattern such as `yyyy-MM-dd HH:mm:ss`, or `epoch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column_format: Option<String>,
}

/// A dimension filter operation (`FilterOperation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum FilterOperation {
    /// Keep rows whose dimension equals the value.
    Equals,
}

/// One accepted value of a dimension (`Filter`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Filter {
    /// The value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimension_value: Option<String>,
    /// Always EQUALS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_operation: Option<FilterOperation>,
}

/// The accepted values of one dimension (`MetricSetDimensionFilter`): OR across the values;
/// the filters of several dimensions combine with AND.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricSetDimensionFilter {
    /// Dimension (column) name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Accepted values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_list: Option<Vec<Filter>>,
}

/// NONE or GZIP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum FileCompression {
    /// Plain files.
    #[default]
    None,
    /// gzip-compressed files.
    Gzip,
}

/// How CSV files are laid out (`CsvFormatDescriptor`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CsvFormatDescriptor {
    /// NONE or GZIP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_compression: Option<FileCompression>,
    /// Only UTF-8 is read; other names are rejected by validation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charset: Option<String>,
    /// Whether the first row names the columns (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains_header: Option<bool>,
    /// One character (default `,`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    /// Column names, for files without a header (or to override it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_list: Option<Vec<String>>,
    /// One character (default `"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote_symbol: Option<String>,
}

/// How JSON Lines files are laid out (`JsonFormatDescriptor`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JsonFormatDescriptor {
    /// NONE or GZIP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_compression: Option<FileCompression>,
    /// Only UTF-8 is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charset: Option<String>,
}

/// CSV or JSON Lines (`FileFormatDescriptor`): exactly one is set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FileFormatDescriptor {
    /// CSV layout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csv_format_descriptor: Option<CsvFormatDescriptor>,
    /// JSON Lines layout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_format_descriptor: Option<JsonFormatDescriptor>,
}

/// Where the metric files are (`S3SourceConfig`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct S3SourceConfig {
    /// The role the service assumes to read the bucket (unused locally).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// One path template per interval, e.g. `s3://b/live/{{yyyyMMdd}}/{{HHmm}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templated_path_list: Option<Vec<String>>,
    /// One path read as a whole for history (activation) and backtests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub historical_data_path_list: Option<Vec<String>>,
    /// The files' format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_format_descriptor: Option<FileFormatDescriptor>,
}

/// The data source of a metric set (`MetricSource`). Seismo reads S3 (or a local folder laid
/// out like S3); the other sources of the old service are kept as opaque JSON so a config that
/// names them round-trips, and validation says they are not supported.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricSource {
    /// S3 (or local folder) source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_source_config: Option<S3SourceConfig>,
    /// Not supported by Seismo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_flow_config: Option<serde_json::Value>,
    /// Not supported by Seismo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_watch_config: Option<serde_json::Value>,
    /// Not supported by Seismo.
    #[serde(
        rename = "RDSSourceConfig",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub rds_source_config: Option<serde_json::Value>,
    /// Not supported by Seismo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redshift_source_config: Option<serde_json::Value>,
    /// Not supported by Seismo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub athena_source_config: Option<serde_json::Value>,
}

/// A metric set as created by `CreateMetricSet`: this is also the shape of Seismo's
/// configuration files, so one file serves the CLI and the API unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateMetricSetRequest {
    /// The detector the metric set belongs to. Optional for the local CLI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly_detector_arn: Option<String>,
    /// Name.
    pub metric_set_name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_set_description: Option<String>,
    /// The measures.
    pub metric_list: Vec<Metric>,
    /// Seconds to wait after an interval ends before reading it (0-432000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    /// The timestamp column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_column: Option<TimestampColumn>,
    /// The dimension columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimension_list: Option<Vec<String>>,
    /// Interval length (defaults to PT1H).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_set_frequency: Option<Frequency>,
    /// Where the data is.
    pub metric_source: MetricSource,
    /// IANA zone of timestamps that carry no offset (default UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// Dimension filters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimension_filter_list: Option<Vec<MetricSetDimensionFilter>>,
}

/// One dimension value's share of an anomaly (`DimensionValueContribution`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DimensionValueContribution {
    /// The value.
    pub dimension_value: String,
    /// Its share, 0-100; the shares of one dimension sum to 100.
    pub contribution_score: f64,
}

/// The shares of one dimension's values (`DimensionContribution`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DimensionContribution {
    /// Dimension name.
    pub dimension_name: String,
    /// Values, largest share first.
    pub dimension_value_contribution_list: Vec<DimensionValueContribution>,
}

/// Which dimension values drove an anomaly (`ContributionMatrix`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContributionMatrix {
    /// One entry per dimension.
    pub dimension_contribution_list: Vec<DimensionContribution>,
}

/// The impact of an anomaly group on one measure (`MetricLevelImpact`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricLevelImpact {
    /// Measure.
    pub metric_name: String,
    /// How many series of the measure are anomalous.
    pub num_time_series: i64,
    /// Which dimension values drove it.
    pub contribution_matrix: ContributionMatrix,
}

/// An anomaly group (`AnomalyGroup`): the anomalous series of one measure over one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AnomalyGroup {
    /// First anomalous interval's start, e.g. `2021-02-14T04:00:00Z`.
    pub start_time: String,
    /// Last anomalous interval's start.
    pub end_time: String,
    /// UUID-shaped id, stable for the same detector, measure and start.
    pub anomaly_group_id: String,
    /// 0-100.
    pub anomaly_group_score: f64,
    /// The measure.
    pub primary_metric_name: String,
    /// Impact per measure.
    pub metric_level_impact_list: Vec<MetricLevelImpact>,
}

/// How a related group relates to the group asked about (`RelationshipType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RelationshipType {
    /// The related group is a likely cause of the group asked about.
    CauseOfInputAnomalyGroup,
    /// The related group is a likely effect of the group asked about.
    EffectOfInputAnomalyGroup,
}

/// A group of another measure related to a group (`InterMetricImpactDetails`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InterMetricImpactDetails {
    /// The other measure.
    pub metric_name: String,
    /// The related group.
    pub anomaly_group_id: String,
    /// Cause or effect.
    pub relationship_type: RelationshipType,
    /// How much of the two groups' affected series they share (0-100).
    pub contribution_percentage: f64,
}

/// A dimension name and value (`DimensionNameValue`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DimensionNameValue {
    /// Dimension.
    pub dimension_name: String,
    /// Value.
    pub dimension_value: String,
}

/// Formats epoch seconds the way the API writes times (`TimestampString`), in UTC.
pub fn timestamp_string(epoch_seconds: i64) -> String {
    chrono::DateTime::from_timestamp(epoch_seconds, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| epoch_seconds.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const METRIC_SET: &str = r#"{
        "AnomalyDetectorArn": "arn:aws:lookoutmetrics:us-east-1:123456789012:AnomalyDetector:shop",
        "MetricSetName": "orders",
        "MetricList": [{"MetricName": "revenue", "AggregationFunction": "SUM"},
                       {"MetricName": "views", "AggregationFunction": "AVG"}],
        "Offset": 300,
        "TimestampColumn": {"ColumnName": "ts", "ColumnFormat": "yyyy-MM-dd HH:mm:ss"},
        "DimensionList": ["region", "channel"],
        "MetricSetFrequency": "PT1H",
        "MetricSource": {"S3SourceConfig": {
            "RoleArn": "arn:aws:iam::123456789012:role/r",
            "TemplatedPathList": ["s3://b/live/{{yyyyMMdd}}/{{HHmm}}"],
            "HistoricalDataPathList": ["s3://b/historical/"],
            "FileFormatDescriptor": {"CsvFormatDescriptor": {
                "FileCompression": "GZIP", "Charset": "UTF-8", "ContainsHeader": true,
                "Delimiter": ";", "QuoteSymbol": "'"}}}},
        "Timezone": "Europe/Berlin",
        "DimensionFilterList": [{"Name": "region", "FilterList": [
            {"DimensionValue": "EU", "FilterOperation": "EQUALS"}]}]
    }"#;

    #[test]
    fn metric_set_json_round_trips_exactly() {
        let parsed: CreateMetricSetRequest = serde_json::from_str(METRIC_SET).unwrap();
        assert_eq!(parsed.metric_set_frequency, Some(Frequency::Pt1h));
        assert_eq!(
            parsed.metric_list[1].aggregation_function,
            AggregationFunction::Avg
        );
        let csv = parsed
            .metric_source
            .s3_source_config
            .as_ref()
            .and_then(|s| s.file_format_descriptor.as_ref())
            .and_then(|f| f.csv_format_descriptor.as_ref())
            .unwrap();
        assert_eq!(csv.file_compression, Some(FileCompression::Gzip));
        let written = serde_json::to_value(&parsed).unwrap();
        let original: serde_json::Value = serde_json::from_str(METRIC_SET).unwrap();
        assert_eq!(written, original);
    }

    #[test]
    fn unknown_enum_values_are_rejected() {
        let bad = METRIC_SET.replace("\"PT1H\"", "\"PT2H\"");
        let err = serde_json::from_str::<CreateMetricSetRequest>(&bad).unwrap_err();
        assert!(err.to_string().contains("PT2H"), "{err}");
    }

    #[test]
    fn anomaly_group_serializes_with_api_member_names() {
        let group = AnomalyGroup {
            start_time: timestamp_string(1_613_275_200),
            end_time: timestamp_string(1_613_275_200),
            anomaly_group_id: "00000000-0000-0000-0000-000000000000".into(),
            anomaly_group_score: 87.5,
            primary_metric_name: "revenue".into(),
            metric_level_impact_list: vec![MetricLevelImpact {
                metric_name: "revenue".into(),
                num_time_series: 2,
                contribution_matrix: ContributionMatrix {
                    dimension_contribution_list: vec![DimensionContribution {
                        dimension_name: "region".into(),
                        dimension_value_contribution_list: vec![DimensionValueContribution {
                            dimension_value: "EU".into(),
                            contribution_score: 100.0,
                        }],
                    }],
                },
            }],
        };
        let json = serde_json::to_value(&group).unwrap();
        assert_eq!(json["StartTime"], "2021-02-14T04:00:00Z");
        assert_eq!(
            json["MetricLevelImpactList"][0]["ContributionMatrix"]["DimensionContributionList"][0]
                ["DimensionValueContributionList"][0]["ContributionScore"],
            100.0
        );
    }
}
