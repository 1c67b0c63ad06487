//! The constraints of the API model (lengths, patterns, ranges, enums) and the semantic rules
//! of the old service, checked before anything is stored or read. Every field at fault is named.

use std::collections::BTreeSet;

use crate::error::{FieldError, ValidationError};
use crate::model::CreateMetricSetRequest;
use crate::paths::template_placeholders;
use crate::time::{TimestampFormat, Zone, format_java};

/// Most measures per metric set (the old service's quota).
pub const MAX_MEASURES: usize = 5;
/// Most dimensions per metric set (the old service's later quota).
pub const MAX_DIMENSIONS: usize = 10;

/// Collects the fields at fault, so a request is refused once with all of them.
#[derive(Debug, Default)]
pub struct Check(Vec<FieldError>);

impl Check {
    /// Records a field at fault.
    pub fn fail(&mut self, name: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            name: name.into(),
            message: message.into(),
        });
    }

    /// Checks a length in characters; whether it is within `min..=max`.
    pub fn length(&mut self, name: &str, value: &str, min: usize, max: usize) -> bool {
        let n = value.chars().count();
        if n < min || n > max {
            self.fail(name, format!("length {n} is outside {min}-{max}"));
            return false;
        }
        true
    }

    /// `^[a-zA-Z0-9][a-zA-Z0-9\-_]*` with 1-63 characters (names of sets, columns, detectors).
    /// Checks a name: `^[a-zA-Z0-9][a-zA-Z0-9\-_]*`, 1-63 characters.
    pub fn name(&mut self, field: &str, value: &str) {
        if !self.length(field, value, 1, 63) {
            return;
        }
        let mut chars = value.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !(first_ok && rest_ok) {
            self.fail(
                field,
                format!("{value:?} must start with a letter or digit and hold only letters, digits, - and _"),
            );
        }
    }

    /// `.*\S.*` with the given lengths.
    /// Checks free text: not blank, within the lengths.
    pub fn text(&mut self, field: &str, value: &str, min: usize, max: usize) {
        if self.length(field, value, min, max) && value.trim().is_empty() {
            self.fail(field, "must not be blank");
        }
    }

    /// `arn:([a-z\d-]+):.*:.*:.*:.+`, at most 256 characters.
    /// Checks an ARN: `arn:PARTITION:...`, at most 256 characters.
    pub fn arn(&mut self, field: &str, value: &str) {
        if !self.length(field, value, 1, 256) {
            return;
        }
        let parts: Vec<&str> = value.splitn(6, ':').collect();
        let ok = parts.len() == 6
            && parts[0] == "arn"
            && !parts[1].is_empty()
            && parts[1]
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !parts[5].is_empty();
        if !ok {
            self.fail(field, format!("{value:?} is not an ARN"));
        }
    }
}

impl Check {
    /// The error naming every field at fault, if any.
    pub fn finish(self) -> Result<(), ValidationError> {
        match ValidationError::from_fields(self.0) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Checks a metric set's configuration. Paths may be `s3://` (checked against the API's
/// patterns), `file://` or plain local paths (accepted for local use).
pub fn metric_set(ms: &CreateMetricSetRequest) -> Result<(), ValidationError> {
    let mut c = Check::default();
    c.name("MetricSetName", &ms.metric_set_name);
    if let Some(arn) = &ms.anomaly_detector_arn {
        c.arn("AnomalyDetectorArn", arn);
    }
    if let Some(d) = &ms.metric_set_description {
        c.text("MetricSetDescription", d, 1, 256);
    }

    let mut measures = BTreeSet::new();
    if ms.metric_list.is_empty() {
        c.fail("MetricList", "at least one measure is required");
    }
    if ms.metric_list.len() > MAX_MEASURES {
        c.fail(
            "MetricList",
            format!(
                "{} measures; at most {MAX_MEASURES} per metric set",
                ms.metric_list.len()
            ),
        );
    }
    for (i, m) in ms.metric_list.iter().enumerate() {
        let field = format!("MetricList[{i}].MetricName");
        c.name(&field, &m.metric_name);
        if !measures.insert(m.metric_name.as_str()) {
            c.fail(
                field,
                format!("measure {:?} is listed twice", m.metric_name),
            );
        }
        if let Some(ns) = &m.namespace
            && c.length(&format!("MetricList[{i}].Namespace"), ns, 1, 255)
            && ns.starts_with(':')
        {
            c.fail(
                format!("MetricList[{i}].Namespace"),
                "must not start with ':'",
            );
        }
    }

    if let Some(offset) = ms.offset
        && !(0..=432_000).contains(&offset)
    {
        c.fail("Offset", format!("{offset} is outside 0-432000 seconds"));
    }

    let zone = match ms.timezone.as_deref() {
        Some(z) => {
            c.text("Timezone", z, 1, 60);
            match Zone::parse(z) {
                Ok(zone) => zone,
                Err(m) => {
                    c.fail("Timezone", m);
                    Zone::UTC
                }
            }
        }
        None => Zone::UTC,
    };

    let mut timestamp_name = None;
    match &ms.timestamp_column {
        None => c.fail("TimestampColumn", "required for S3 metric sources"),
        Some(tc) => {
            match &tc.column_name {
                Some(n) => {
                    c.name("TimestampColumn.ColumnName", n);
                    timestamp_name = Some(n.as_str());
                }
                None => c.fail("TimestampColumn.ColumnName", "required"),
            }
            if let Some(f) = &tc.column_format {
                c.text("TimestampColumn.ColumnFormat", f, 1, 63);
                if let Err(m) = TimestampFormat::parse(Some(f)) {
                    c.fail("TimestampColumn.ColumnFormat", m);
                }
            }
        }
    }

    let dimensions: Vec<&str> = ms
        .dimension_list
        .iter()
        .flatten()
        .map(String::as_str)
        .collect();
    if ms.dimension_list.as_ref().is_some_and(Vec::is_empty) {
        c.fail(
            "DimensionList",
            "must hold at least one dimension when given",
        );
    }
    if dimensions.len() > MAX_DIMENSIONS {
        c.fail(
            "DimensionList",
            format!(
                "{} dimensions; at most {MAX_DIMENSIONS} per metric set",
                dimensions.len()
            ),
        );
    }
    let mut seen = BTreeSet::new();
    for (i, d) in dimensions.iter().enumerate() {
        let field = format!("DimensionList[{i}]");
        c.name(&field, d);
        if !seen.insert(*d) {
            c.fail(&field, format!("dimension {d:?} is listed twice"));
        }
        if measures.contains(d) {
            c.fail(&field, format!("{d:?} is also a measure"));
        }
        if timestamp_name == Some(*d) {
            c.fail(&field, format!("{d:?} is also the timestamp column"));
        }
    }
    if let Some(t) = timestamp_name
        && measures.contains(t)
    {
        c.fail(
            "TimestampColumn.ColumnName",
            format!("{t:?} is also a measure"),
        );
    }

    if ms.dimension_filter_list.as_ref().is_some_and(Vec::is_empty) {
        c.fail(
            "DimensionFilterList",
            "empty; give 1-5 filters or leave it out",
        );
    }
    for (i, f) in ms.dimension_filter_list.iter().flatten().enumerate() {
        let field = format!("DimensionFilterList[{i}]");
        match &f.name {
            Some(n) if dimensions.contains(&n.as_str()) => {}
            Some(n) => c.fail(
                format!("{field}.Name"),
                format!("{n:?} is not in DimensionList"),
            ),
            None => c.fail(format!("{field}.Name"), "required"),
        }
        match &f.filter_list {
            Some(list) if !list.is_empty() => {
                for (j, v) in list.iter().enumerate() {
                    if v.dimension_value.is_none() {
                        c.fail(
                            format!("{field}.FilterList[{j}].DimensionValue"),
                            "required",
                        );
                    }
                }
            }
            _ => c.fail(
                format!("{field}.FilterList"),
                "at least one value is required",
            ),
        }
    }

    if let Some(tags) = &ms.tags {
        if tags.is_empty() || tags.len() > 50 {
            c.fail("Tags", format!("{} tags; 1-50 are allowed", tags.len()));
        }
        for (k, v) in tags {
            c.length(&format!("Tags.{k}"), k, 1, 128);
            c.length(&format!("Tags.{k}"), v, 0, 256);
        }
    }

    source(&mut c, ms, zone);
    match ValidationError::from_fields(c.0) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn source(c: &mut Check, ms: &CreateMetricSetRequest, zone: Zone) {
    let src = &ms.metric_source;
    for (present, name) in [
        (src.app_flow_config.is_some(), "AppFlowConfig"),
        (src.cloud_watch_config.is_some(), "CloudWatchConfig"),
        (src.rds_source_config.is_some(), "RDSSourceConfig"),
        (src.redshift_source_config.is_some(), "RedshiftSourceConfig"),
        (src.athena_source_config.is_some(), "AthenaSourceConfig"),
    ] {
        if present {
            c.fail(
                format!("MetricSource.{name}"),
                "Seismo reads S3 (or a local folder laid out like S3) only; export the data to S3",
            );
        }
    }
    let Some(s3) = &src.s3_source_config else {
        c.fail("MetricSource.S3SourceConfig", "required");
        return;
    };
    s3_source_config(c, "MetricSource.S3SourceConfig", s3, zone, true);
}

/// The constraints of an `S3SourceConfig` at `prefix` (`MetricSource.S3SourceConfig`,
/// `S3SourceConfig` of GetSampleData, ...); `with_format` when it must describe its files.
pub fn s3_source_config(
    c: &mut Check,
    prefix: &str,
    s3: &crate::model::S3SourceConfig,
    zone: Zone,
    with_format: bool,
) {
    if let Some(role) = &s3.role_arn {
        c.arn(&format!("{prefix}.RoleArn"), role);
    }
    let templated = s3.templated_path_list.as_deref();
    let historical = s3.historical_data_path_list.as_deref();
    if templated.is_none() && historical.is_none() {
        c.fail(
            format!("{prefix}.TemplatedPathList"),
            "a TemplatedPathList or a HistoricalDataPathList is required",
        );
    }
    for (list, field) in [
        (templated, format!("{prefix}.TemplatedPathList")),
        (historical, format!("{prefix}.HistoricalDataPathList")),
    ] {
        if let Some(list) = list
            && list.len() != 1
        {
            c.fail(
                &field,
                format!("{} paths; exactly one is allowed", list.len()),
            );
        }
    }
    for (i, p) in templated.into_iter().flatten().enumerate() {
        let field = format!("{prefix}.TemplatedPathList[{i}]");
        if !c.length(&field, p, 1, 1024) {
            continue;
        }
        if !p.starts_with("s3://") && !p.starts_with("file://") {
            c.fail(
                &field,
                format!("{p:?} must start with s3:// (or file:// for a local folder)"),
            );
            continue;
        }
        if let Some(rest) = p.strip_prefix("s3://") {
            let ok = !rest.is_empty()
                && rest
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "_-/ {}=".contains(ch));
            if !ok {
                c.fail(
                    &field,
                    format!("{p:?} must match ^s3://[a-zA-Z0-9_\\-\\/ {{}}=]+$"),
                );
            }
        }
        let placeholders = template_placeholders(p);
        if p.matches("{{").count() != placeholders.len() {
            c.fail(&field, format!("{p:?} has an unclosed {{{{"));
        }
        for ph in placeholders {
            if let Err(m) = format_java(0, ph, zone) {
                c.fail(&field, m);
            }
        }
    }
    for (i, p) in historical.into_iter().flatten().enumerate() {
        let field = format!("{prefix}.HistoricalDataPathList[{i}]");
        if !c.length(&field, p, 1, 1024) {
            continue;
        }
        if !p.starts_with("s3://") && !p.starts_with("file://") {
            c.fail(
                &field,
                format!("{p:?} must start with s3:// (or file:// for a local folder)"),
            );
            continue;
        }
        if let Some(rest) = p.strip_prefix("s3://") {
            let ok = rest.len() >= 2
                && rest
                    .chars()
                    .next()
                    .is_some_and(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit());
            if !ok {
                c.fail(&field, format!("{p:?} must match ^s3://[a-z0-9].+$"));
            }
        }
    }
    let field = format!("{prefix}.FileFormatDescriptor");
    let Some(ffd) = &s3.file_format_descriptor else {
        if with_format {
            c.fail(field, "required");
        }
        return;
    };
    match (&ffd.csv_format_descriptor, &ffd.json_format_descriptor) {
        (Some(_), Some(_)) => c.fail(
            &field,
            "give a CsvFormatDescriptor or a JsonFormatDescriptor, not both",
        ),
        (None, None) => c.fail(
            &field,
            "a CsvFormatDescriptor or a JsonFormatDescriptor is required",
        ),
        (Some(csv), None) => {
            let field = format!("{field}.CsvFormatDescriptor");
            charset(c, &format!("{field}.Charset"), csv.charset.as_deref());
            if let Some(d) = &csv.delimiter {
                if d.chars().count() != 1 || d == "\r" || d == "\n" {
                    c.fail(
                        format!("{field}.Delimiter"),
                        format!("{d:?} must be one character, not a line break"),
                    );
                } else if !d.is_ascii() {
                    c.fail(
                        format!("{field}.Delimiter"),
                        format!("{d:?} must be an ASCII character"),
                    );
                }
            }
            if let Some(q) = &csv.quote_symbol
                && (q.chars().count() > 1 || q == "\r" || q == "\n" || !q.is_ascii())
            {
                c.fail(
                    format!("{field}.QuoteSymbol"),
                    format!("{q:?} must be one ASCII character"),
                );
            }
            let mut seen = BTreeSet::new();
            for (i, h) in csv.header_list.iter().flatten().enumerate() {
                if !seen.insert(h.as_str()) {
                    c.fail(
                        format!("{field}.HeaderList[{i}]"),
                        format!("{h:?} is named twice"),
                    );
                }
                c.name(&format!("{field}.HeaderList[{i}]"), h);
            }
            if csv.contains_header == Some(false)
                && csv.header_list.as_ref().is_none_or(Vec::is_empty)
            {
                c.fail(
                    format!("{field}.HeaderList"),
                    "required when ContainsHeader is false",
                );
            }
        }
        (None, Some(json)) => {
            charset(
                c,
                &format!("{field}.JsonFormatDescriptor.Charset"),
                json.charset.as_deref(),
            );
        }
    }
}

/// Reads a request member into its typed shape. A value of the wrong type (a list where an
/// object belongs included), a missing required member or a value outside an enum is a
/// ValidationException naming the member's path under `prefix`
/// (`MetricList[0].AggregationFunction`) in the caller's terms, never a bare parse error.
/// Members the shape does not have are ignored, as the service did.
pub fn parse<T: serde::de::DeserializeOwned + serde::Serialize>(
    value: &serde_json::Value,
    prefix: &str,
) -> Result<T, ValidationError> {
    parse_members(value, prefix, false)
}

/// [`parse`], and a member the shape does not have is an error too (a configuration file's
/// `"TimeZone"` for `"Timezone"` would otherwise run silently in UTC).
pub fn parse_strict<T: serde::de::DeserializeOwned + serde::Serialize>(
    value: &serde_json::Value,
    prefix: &str,
) -> Result<T, ValidationError> {
    parse_members(value, prefix, true)
}

fn parse_members<T: serde::de::DeserializeOwned + serde::Serialize>(
    value: &serde_json::Value,
    prefix: &str,
    strict: bool,
) -> Result<T, ValidationError> {
    let under = |path: &str| match (prefix.is_empty(), path.is_empty() || path == ".") {
        (true, true) => "request".to_string(),
        (false, true) => prefix.to_string(),
        (true, false) => path.to_string(),
        (false, false) => format!("{prefix}.{path}"),
    };
    let mut unknown = Vec::new();
    let mut note = |path: serde_ignored::Path| unknown.push(ignored_path(&path));
    let parsed: Result<T, _> =
        serde_path_to_error::deserialize(serde_ignored::Deserializer::new(value, &mut note));
    let mut c = Check::default();
    let t = match parsed {
        Ok(t) => t,
        Err(e) => {
            let (member, message) = serde_message(&e.inner().to_string());
            let path = e.path().to_string();
            let path = match member {
                Some(m) if path.is_empty() || path == "." => m,
                Some(m) => format!("{path}.{m}"),
                None => path,
            };
            c.fail(under(&path), message);
            // A misspelt member is often why another is missing: name both.
            if strict {
                for path in unknown {
                    c.fail(
                        under(&path),
                        "unknown member (check its spelling against the API's)",
                    );
                }
            }
            return Err(c
                .finish()
                .err()
                .unwrap_or_else(|| ValidationError::cannot_parse("unreadable request")));
        }
    };
    // serde reads an object from a list of its members in order: refused, as the service did.
    if let Ok(back) = serde_json::to_value(&t) {
        lists_for_objects(value, &back, String::new(), &mut |path| {
            c.fail(under(&path), "must be an object, not a list")
        });
    }
    if strict {
        for path in unknown {
            c.fail(
                under(&path),
                "unknown member (check its spelling against the API's)",
            );
        }
    }
    c.finish().map(|()| t)
}

/// A path serde_ignored reports, as a member path (`MetricList[0].Name`).
fn ignored_path(path: &serde_ignored::Path) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", ignored_path(parent)),
        Path::Map { parent, key } => {
            let parent = ignored_path(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => ignored_path(parent),
    }
}

/// Where the request gave a list and its parsed shape is an object.
fn lists_for_objects(
    given: &serde_json::Value,
    parsed: &serde_json::Value,
    path: String,
    found: &mut impl FnMut(String),
) {
    use serde_json::Value;
    match (given, parsed) {
        (Value::Array(_), Value::Object(_)) => found(path),
        (Value::Object(g), Value::Object(p)) => {
            for (k, v) in g {
                if let Some(pv) = p.get(k) {
                    let child = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    lists_for_objects(v, pv, child, found);
                }
            }
        }
        (Value::Array(g), Value::Array(p)) => {
            for (i, (v, pv)) in g.iter().zip(p).enumerate() {
                lists_for_objects(v, pv, format!("{path}[{i}]"), found);
            }
        }
        _ => {}
    }
}

/// serde's message in the caller's terms, and the member it names when it names one (a
/// missing field).
fn serde_message(message: &str) -> (Option<String>, String) {
    // "... at line 1 column 5" says nothing about a JSON value already parsed.
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_string();
    if let Some(m) = message
        .strip_prefix("missing field `")
        .and_then(|m| m.strip_suffix('`'))
    {
        return (Some(m.to_string()), "required".to_string());
    }
    if let Some(rest) = message.strip_prefix("unknown variant `")
        && let Some((value, expected)) = rest.split_once("`, expected ")
    {
        let allowed: Vec<&str> = expected
            .trim_start_matches("one of ")
            .split(['`', ',', ' '])
            .filter(|w| !w.is_empty() && *w != "or")
            .collect();
        return (
            None,
            format!("{value:?} is not one of {}", allowed.join(", ")),
        );
    }
    if let Some(rest) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
        && let Some((got, expected)) = rest.split_once(", expected ")
    {
        let wanted = describe_expected(expected);
        let got = describe_given(got);
        return (None, format!("must be {wanted}, not {got}"));
    }
    if message.starts_with("invalid length") {
        return (None, "must be an object, not a list".to_string());
    }
    (None, message)
}

/// What serde expected, in the caller's terms.
fn describe_expected(expected: &str) -> String {
    let e = expected.trim();
    if e.starts_with("struct ") || e == "a map" || e.starts_with("map") {
        "an object".into()
    } else if e.starts_with("a sequence") || e.starts_with("sequence") {
        "a list".into()
    } else if e.starts_with("a string") || e.starts_with("string") {
        "a string".into()
    } else if e.starts_with("a boolean") || e == "bool" {
        "true or false".into()
    } else if matches!(e, "i8" | "i16" | "i32" | "i64" | "isize") {
        "an integer".into()
    } else if matches!(e, "u8" | "u16" | "u32" | "u64" | "usize") {
        "a non-negative integer".into()
    } else if matches!(e, "f32" | "f64") {
        "a number".into()
    } else {
        e.to_string()
    }
}

/// What the request gave, as serde names it, in the caller's terms.
fn describe_given(got: &str) -> String {
    let g = got.trim();
    let quoted = |prefix: &str| {
        g.strip_prefix(prefix)
            .map(|v| v.trim_matches('`').to_string())
    };
    if let Some(v) = quoted("integer ").or_else(|| quoted("floating point ")) {
        format!("the number {v}")
    } else if let Some(v) = g.strip_prefix("string ") {
        format!("the string {v}")
    } else if let Some(v) = quoted("boolean ") {
        v
    } else if g == "map" {
        "an object".into()
    } else if g == "sequence" {
        "a list".into()
    } else if g == "unit" || g == "null" {
        "null".into()
    } else {
        g.to_string()
    }
}

fn charset(c: &mut Check, field: &str, value: Option<&str>) {
    if let Some(v) = value {
        let norm = v.to_ascii_uppercase().replace(['-', '_'], "");
        if norm != "UTF8" {
            c.fail(
                field,
                format!("{v:?} is not supported; files must be UTF-8"),
            );
        }
    }
}

/// Checks that a metric set fits the per-detector metric quota of its frequency, given the
/// number of dimension combinations seen. Returns the quota exceeded, if any.
pub fn metric_quota(ms: &CreateMetricSetRequest, combinations: usize) -> Result<(), String> {
    let frequency = ms
        .metric_set_frequency
        .unwrap_or(crate::model::Frequency::Pt1h);
    let metrics = combinations * ms.metric_list.len();
    let quota = frequency.metric_quota();
    if metrics > quota {
        return Err(format!(
            "{metrics} metrics ({combinations} dimension combinations x {} measures) exceed the quota of {quota} per detector at {frequency}",
            ms.metric_list.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn base() -> Value {
        json!({
            "MetricSetName": "orders",
            "MetricList": [{"MetricName": "revenue", "AggregationFunction": "SUM"}],
            "TimestampColumn": {"ColumnName": "ts", "ColumnFormat": "yyyy-MM-dd HH:mm:ss"},
            "DimensionList": ["region"],
            "MetricSetFrequency": "PT1H",
            "MetricSource": {"S3SourceConfig": {
                "TemplatedPathList": ["s3://b/live/{{yyyyMMdd}}/{{HHmm}}"],
                "FileFormatDescriptor": {"CsvFormatDescriptor": {"ContainsHeader": true}}}}
        })
    }

    /// Sets the member at a JSON pointer, adding it to its parent object when absent.
    fn set(v: &mut Value, pointer: &str, value: Value) {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        match v.pointer_mut(parent).unwrap() {
            Value::Array(a) => a[key.parse::<usize>().unwrap()] = value,
            Value::Object(o) => {
                o.insert(key.to_string(), value);
            }
            other => panic!("cannot set {pointer} in {other}"),
        }
    }

    fn check(v: Value) -> Result<(), ValidationError> {
        metric_set(&serde_json::from_value(v).unwrap())
    }

    #[test]
    fn a_good_metric_set_passes() {
        check(base()).unwrap();
    }

    #[test]
    fn each_broken_constraint_names_its_field() {
        let cases: &[(&str, &str, Value)] = &[
            ("MetricSetName", "/MetricSetName", json!("-bad")),
            ("MetricSetName", "/MetricSetName", json!("x".repeat(64))),
            (
                "MetricSetDescription",
                "/MetricSetDescription",
                json!("   "),
            ),
            (
                "AnomalyDetectorArn",
                "/AnomalyDetectorArn",
                json!("not-an-arn"),
            ),
            ("MetricList", "/MetricList", json!([])),
            (
                "MetricList[0].MetricName",
                "/MetricList/0/MetricName",
                json!("rev enue"),
            ),
            ("Offset", "/Offset", json!(432001)),
            ("Offset", "/Offset", json!(-1)),
            ("Timezone", "/Timezone", json!("Mars/Base")),
            (
                "TimestampColumn.ColumnName",
                "/TimestampColumn/ColumnName",
                json!(""),
            ),
            (
                "TimestampColumn.ColumnFormat",
                "/TimestampColumn/ColumnFormat",
                json!("HH:mm"),
            ),
            ("DimensionList", "/DimensionList", json!([])),
            ("DimensionList[0]", "/DimensionList/0", json!("revenue")),
            ("DimensionList[0]", "/DimensionList/0", json!("ts")),
            (
                "MetricSource.S3SourceConfig.TemplatedPathList[0]",
                "/MetricSource/S3SourceConfig/TemplatedPathList/0",
                json!("s3://b/live/{{yyyyMMdd}}/*.csv"),
            ),
            (
                "MetricSource.S3SourceConfig.TemplatedPathList[0]",
                "/MetricSource/S3SourceConfig/TemplatedPathList/0",
                json!("s3://b/live/{{QQ}}"),
            ),
            (
                "MetricSource.S3SourceConfig.TemplatedPathList",
                "/MetricSource/S3SourceConfig/TemplatedPathList",
                json!(["s3://a/", "s3://b/"]),
            ),
            (
                "MetricSource.S3SourceConfig.RoleArn",
                "/MetricSource/S3SourceConfig/RoleArn",
                json!("role"),
            ),
            (
                "MetricSource.S3SourceConfig.FileFormatDescriptor.CsvFormatDescriptor.Delimiter",
                "/MetricSource/S3SourceConfig/FileFormatDescriptor/CsvFormatDescriptor/Delimiter",
                json!(";;"),
            ),
            (
                "MetricSource.S3SourceConfig.FileFormatDescriptor.CsvFormatDescriptor.QuoteSymbol",
                "/MetricSource/S3SourceConfig/FileFormatDescriptor/CsvFormatDescriptor/QuoteSymbol",
                json!("\n"),
            ),
            (
                "MetricSource.S3SourceConfig.FileFormatDescriptor.CsvFormatDescriptor.Charset",
                "/MetricSource/S3SourceConfig/FileFormatDescriptor/CsvFormatDescriptor/Charset",
                json!("ISO-8859-1"),
            ),
            (
                "MetricSource.S3SourceConfig.FileFormatDescriptor.CsvFormatDescriptor.HeaderList",
                "/MetricSource/S3SourceConfig/FileFormatDescriptor/CsvFormatDescriptor/ContainsHeader",
                json!(false),
            ),
            (
                "MetricSource.S3SourceConfig.FileFormatDescriptor.CsvFormatDescriptor.HeaderList[2]",
                "/MetricSource/S3SourceConfig/FileFormatDescriptor/CsvFormatDescriptor/HeaderList",
                json!(["ts", "region", "ts"]),
            ),
            ("DimensionFilterList", "/DimensionFilterList", json!([])),
            (
                "MetricSource.S3SourceConfig.FileFormatDescriptor",
                "/MetricSource/S3SourceConfig/FileFormatDescriptor",
                json!({}),
            ),
            (
                "MetricSource.CloudWatchConfig",
                "/MetricSource/CloudWatchConfig",
                json!({"RoleArn": "arn:aws:iam::1:role/r"}),
            ),
            (
                "DimensionFilterList[0].Name",
                "/DimensionFilterList",
                json!([{"Name": "plan", "FilterList": [{"DimensionValue": "pro", "FilterOperation": "EQUALS"}]}]),
            ),
            (
                "DimensionFilterList[0].FilterList",
                "/DimensionFilterList",
                json!([{"Name": "region", "FilterList": []}]),
            ),
            ("Tags", "/Tags", json!({})),
        ];
        for (field, pointer, value) in cases {
            let mut v = base();
            set(&mut v, pointer, value.clone());
            let err = check(v).expect_err(field);
            assert!(err.names(field), "case {field} {value}: got {err}");
        }
    }
}
