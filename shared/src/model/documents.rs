//! The stored documents of the API's resources: a detector, an alert and a metric set, as the
//! API writes them into the store and returns them from its Describe operations. The serde
//! here reads and writes exactly the JSON stored before these types existed: the same member
//! names, times as epoch-second floats, absent optionals omitted, and any member a type does not
//! model kept in `extra` and written back as it was.
//!
//! Members a client gave and the API stored as given (an alert's `Action` and `AlertFilters`)
//! stay JSON: they are validated on the way in, and a rewrite must not drop a member a client
//! sent. They are read through typed views ([`AlertDoc::target`], [`AlertDoc::filters`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use super::{AlertStatus, CreateMetricSetRequest, DetectorStatus, Frequency};

/// A JSON value that did not read as a document of the kind it is stored as.
#[derive(Debug, thiserror::Error)]
#[error("the stored {kind} is unreadable: {source}")]
pub struct DocumentError {
    kind: &'static str,
    #[source]
    source: serde_json::Error,
}

/// Reads and writes a document as the JSON the store holds.
pub trait Document: Serialize + serde::de::DeserializeOwned {
    /// What it is, for errors.
    const KIND: &'static str;

    /// Reads the stored JSON.
    fn from_value(value: Value) -> Result<Self, DocumentError> {
        serde_json::from_value(value).map_err(|source| DocumentError {
            kind: Self::KIND,
            source,
        })
    }

    /// The JSON to store (and to answer Describe with).
    fn to_value(&self) -> Value {
        // Plain structs of strings, numbers and maps: serialising cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// A detector's configuration (`AnomalyDetectorConfig`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DetectorConfig {
    /// How often it detects.
    pub anomaly_detector_frequency: Frequency,
}

/// A stored detector. Every member is optional to read: the pipeline's own tests and tools
/// store detectors with only the members they need.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DetectorDoc {
    /// ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly_detector_arn: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly_detector_name: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly_detector_description: Option<String>,
    /// Its frequency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly_detector_config: Option<DetectorConfig>,
    /// KMS key (stored, unused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    /// Created (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<f64>,
    /// Last changed by a request (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modification_time: Option<f64>,
    /// Status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<DetectorStatus>,
    /// Why it FAILED: the kind (`ACTIVATION_FAILURE`, `BACK_TEST_ACTIVATION_FAILURE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_type: Option<String>,
    /// Why it FAILED, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// Members this type does not model, kept as stored.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Document for DetectorDoc {
    const KIND: &'static str = "detector";
}

impl DetectorDoc {
    /// Its frequency, when it has one.
    pub fn frequency(&self) -> Option<Frequency> {
        self.anomaly_detector_config
            .as_ref()
            .map(|c| c.anomaly_detector_frequency)
    }
}

/// A stored alert. The members the API writes itself are typed; the client's `Action` and
/// `AlertFilters` are stored as given (see the module's documentation).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AlertDoc {
    /// ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_arn: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_name: Option<String>,
    /// The detector it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly_detector_arn: Option<String>,
    /// Where it sends, as the client gave it (`SNSConfiguration` or `LambdaConfiguration`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Value>,
    /// `SNS` or `LAMBDA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_type: Option<String>,
    /// Whether it sends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_status: Option<AlertStatus>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_description: Option<String>,
    /// 0-100, as the client gave it (an integer through the API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_sensitivity_threshold: Option<Number>,
    /// Measures and dimension values it is limited to, as the client gave them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_filters: Option<Value>,
    /// Created (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<f64>,
    /// Last changed (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modification_time: Option<f64>,
    /// Members this type does not model, kept as stored.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Document for AlertDoc {
    const KIND: &'static str = "alert";
}

/// Where an alert sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertTarget<'a> {
    /// An SNS topic, in a format (`JSON` when none is given).
    Sns {
        /// The topic.
        topic_arn: &'a str,
        /// `JSON`, `LONG_TEXT` or `SHORT_TEXT`.
        format: &'a str,
    },
    /// A Lambda function, given the JSON payload.
    Lambda {
        /// The function.
        function_arn: &'a str,
    },
}

/// An alert's filters, read from what the client gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilters<'a> {
    /// Measures (`MetricList`); `None` when not given.
    pub metric_list: Option<Vec<&'a str>>,
    /// Dimension filters (`DimensionFilterList`); `None` when not given.
    pub dimension_filter_list: Option<Vec<DimensionFilter<'a>>>,
}

/// One dimension an alert is limited to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DimensionFilter<'a> {
    /// The dimension.
    pub dimension_name: &'a str,
    /// Its accepted values; `None` when not given (any value).
    pub dimension_value_list: Option<Vec<&'a str>>,
}

fn strings(v: &Value) -> Option<Vec<&str>> {
    v.as_array()
        .map(|l| l.iter().filter_map(Value::as_str).collect())
}

impl AlertDoc {
    /// Its threshold (0 when none is given).
    pub fn threshold(&self) -> f64 {
        self.alert_sensitivity_threshold
            .as_ref()
            .and_then(Number::as_f64)
            .unwrap_or(0.0)
    }

    /// Its ARN ("" when it has none).
    pub fn arn(&self) -> &str {
        self.alert_arn.as_deref().unwrap_or_default()
    }

    /// Its name ("" when it has none).
    pub fn name(&self) -> &str {
        self.alert_name.as_deref().unwrap_or_default()
    }

    /// Its detector's ARN ("" when it has none).
    pub fn detector_arn(&self) -> &str {
        self.anomaly_detector_arn.as_deref().unwrap_or_default()
    }

    /// Where it sends; `None` when its action names neither SNS nor Lambda.
    pub fn target(&self) -> Option<AlertTarget<'_>> {
        let action = self.action.as_ref()?;
        fn text<'v>(v: &'v Value, member: &str) -> Option<&'v str> {
            v[member].as_str()
        }
        if let Some(sns) = action.get("SNSConfiguration") {
            return Some(AlertTarget::Sns {
                topic_arn: text(sns, "SnsTopicArn").unwrap_or_default(),
                format: text(sns, "SnsFormat").unwrap_or("JSON"),
            });
        }
        action
            .get("LambdaConfiguration")
            .map(|lambda| AlertTarget::Lambda {
                function_arn: text(lambda, "LambdaArn").unwrap_or_default(),
            })
    }

    /// Its filters (none given: nothing is filtered).
    pub fn filters(&self) -> AlertFilters<'_> {
        let Some(f) = self.alert_filters.as_ref() else {
            return AlertFilters::default();
        };
        AlertFilters {
            metric_list: strings(&f["MetricList"]),
            dimension_filter_list: f["DimensionFilterList"].as_array().map(|l| {
                l.iter()
                    .map(|d| DimensionFilter {
                        dimension_name: d["DimensionName"].as_str().unwrap_or_default(),
                        dimension_value_list: strings(&d["DimensionValueList"]),
                    })
                    .collect()
            }),
        }
    }
}

/// A stored metric set: the `CreateMetricSet` request as validated (without its `Tags`), with
/// its ARN, its detector's frequency and its times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricSetDoc {
    /// ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_set_arn: Option<String>,
    /// Created (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<f64>,
    /// Last changed (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modification_time: Option<f64>,
    /// Every other member, as stored: the request's (`MetricSetFrequency` among them, the
    /// detector's), read typed through [`MetricSetDoc::spec`].
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Document for MetricSetDoc {
    const KIND: &'static str = "metric set";
}

impl MetricSetDoc {
    /// The stored metric set `spec` (a validated request, `Tags` not kept) as created at `now`.
    pub fn new(arn: &str, spec: &CreateMetricSetRequest, frequency: &str, now: f64) -> Self {
        let mut extra = match serde_json::to_value(spec) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        extra.remove("Tags");
        extra.insert("MetricSetFrequency".into(), Value::from(frequency));
        MetricSetDoc {
            metric_set_arn: Some(arn.to_string()),
            creation_time: Some(now),
            last_modification_time: Some(now),
            extra,
        }
    }

    /// The metric set as a request, typed.
    pub fn spec(&self) -> Result<CreateMetricSetRequest, DocumentError> {
        serde_json::from_value(Value::Object(self.extra.clone())).map_err(|source| DocumentError {
            kind: Self::KIND,
            source,
        })
    }

    /// Its detector's ARN ("" when it has none).
    pub fn detector_arn(&self) -> &str {
        self.text("AnomalyDetectorArn").unwrap_or_default()
    }

    /// Its frequency as stored (the detector's).
    pub fn frequency(&self) -> Option<&str> {
        self.text("MetricSetFrequency")
    }

    /// A string member of the request.
    fn text(&self, member: &str) -> Option<&str> {
        self.extra.get(member).and_then(Value::as_str)
    }
}
