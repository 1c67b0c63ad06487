//! The metric source: sample rows of its first file (GetSampleData) and its detected layout
//! (DetectMetricSetConfig), and the paths the API accepts.

use seismo_shared::data::FileFormat;
use seismo_shared::validate::{self, Check};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::request::arn_field;
use crate::resources::detector;
use crate::state::Api;
use seismo_shared::store::Store;

/// Paths the API takes name S3 objects: `s3://` only (`file://` and plain paths are for the
/// command line's own metric sets), and no `.` or `..` segment (`seismo serve` keeps buckets
/// as folders, and such a segment would step out of them).
pub(crate) fn s3_paths_only(
    c: &mut Check,
    prefix: &str,
    s3: &seismo_shared::model::S3SourceConfig,
) {
    let lists = [
        ("TemplatedPathList", &s3.templated_path_list),
        ("HistoricalDataPathList", &s3.historical_data_path_list),
    ];
    for (member, list) in lists {
        for (i, p) in list.iter().flatten().enumerate() {
            let field = format!("{prefix}.{member}[{i}]");
            match p.strip_prefix("s3://") {
                None => c.fail(field, "must be an s3:// path"),
                Some(rest) if rest.split('/').any(|seg| seg == ".." || seg == ".") => {
                    c.fail(field, "must not have a . or .. segment")
                }
                Some(_) => {}
            }
        }
    }
}

/// The first bytes of a source's first file (the historical path's first object, or the newest
/// object under the templated path's fixed prefix), read through the object port (local
/// folders, or S3 deployed), and whether it was gzip.
async fn first_file<S: Store>(
    api: &Api<S>,
    s3: &Value,
    field: &str,
) -> Result<(Vec<u8>, bool), ApiError> {
    let first = |name: &str| {
        s3.get(name)
            .and_then(Value::as_array)
            .and_then(|l| l.first())
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let (path, member, newest) = match (first("HistoricalDataPathList"), first("TemplatedPathList"))
    {
        (Some(p), _) => (p, "HistoricalDataPathList", false),
        (None, Some(t)) => (
            t.split("{{").next().unwrap_or_default().to_string(),
            "TemplatedPathList",
            true,
        ),
        (None, None) => {
            return Err(ApiError::field(
                &format!("{field}.TemplatedPathList"),
                "a TemplatedPathList or a HistoricalDataPathList is required",
            ));
        }
    };
    let nothing = || {
        ApiError::field(
            &format!("{field}.{member}"),
            format!("nothing under {path}"),
        )
    };
    let listed = match api.objects.list(&path).await {
        Ok(l) => l,
        Err(seismo_shared::objects::ObjectError::NotFound(_)) => return Err(nothing()),
        Err(seismo_shared::objects::ObjectError::AccessDenied(p)) => {
            return Err(ApiError::field(
                &format!("{field}.{member}"),
                format!("access denied to {p}"),
            ));
        }
        Err(e) => return Err(ApiError::Internal(e.to_string())),
    };
    let object = if newest {
        listed.last()
    } else {
        listed.first()
    };
    let Some(object) = object else {
        return Err(nothing());
    };
    let reader = api
        .objects
        .open(object)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let name = object.clone();
    let head = tokio::task::spawn_blocking(move || seismo_shared::sample::head_of(reader))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    match head {
        Ok(head) => Ok(head),
        // The file's own fault (a truncated or corrupt gzip): the caller's to fix, not a retry.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::InvalidData
                    | std::io::ErrorKind::InvalidInput
                    | std::io::ErrorKind::UnexpectedEof
            ) =>
        {
            let file = name.rsplit('/').next().unwrap_or(&name);
            Err(ApiError::field(
                &format!("{field}.{member}"),
                format!(
                    "{file} under {path} cannot be read: it is a truncated or corrupt gzip file"
                ),
            ))
        }
        Err(e) => Err(ApiError::Internal(e.to_string())),
    }
}

/// The header and first 10 rows of a source's first file.
pub(crate) async fn get_sample_data<S: Store>(
    api: &Api<S>,
    req: &Value,
) -> Result<Value, ApiError> {
    let Some(s3) = req.get("S3SourceConfig").filter(|v| !v.is_null()) else {
        return Err(ApiError::field("S3SourceConfig", "required"));
    };
    let config: seismo_shared::model::S3SourceConfig = validate::parse(s3, "S3SourceConfig")?;
    let mut c = Check::default();
    if config.role_arn.is_none() {
        c.fail("S3SourceConfig.RoleArn", "required");
    }
    let zone = seismo_shared::time::Zone::UTC;
    validate::s3_source_config(&mut c, "S3SourceConfig", &config, zone, true);
    s3_paths_only(&mut c, "S3SourceConfig", &config);
    c.finish()?;
    // Read as the pipeline reads the metric set's files (an empty QuoteSymbol is `"`).
    let descriptor = config.file_format_descriptor.clone().unwrap_or_default();
    let layout = FileFormat::from_descriptor(&descriptor);
    let (bytes, _) = first_file(api, s3, "S3SourceConfig").await?;
    let (header, rows) = seismo_shared::sample::rows(&bytes, &layout, 10);
    Ok(json!({ "HeaderValues": header, "SampleRows": rows }))
}

fn detected(value: Value, confidence: &str, message: &str) -> Value {
    json!({"Value": value, "Confidence": confidence, "Message": message})
}

/// Detects the file format, delimiter, header and interval of a source.
pub(crate) async fn detect_metric_set_config<S: Store>(
    api: &Api<S>,
    req: &Value,
) -> Result<Value, ApiError> {
    let arn = arn_field(req, "AnomalyDetectorArn")?;
    let field = "AutoDetectionMetricSource.S3SourceConfig";
    let source = req
        .get("AutoDetectionMetricSource")
        .filter(|v| !v.is_null());
    if source.is_some_and(|v| !v.is_object()) {
        return Err(ApiError::field(
            "AutoDetectionMetricSource",
            "must be an object",
        ));
    }
    let Some(s3) = source
        .and_then(|m| m.get("S3SourceConfig"))
        .filter(|v| !v.is_null())
    else {
        return Err(ApiError::field(field, "required"));
    };
    let config: seismo_shared::model::S3SourceConfig = validate::parse(s3, field)?;
    let mut c = Check::default();
    let zone = seismo_shared::time::Zone::UTC;
    validate::s3_source_config(&mut c, field, &config, zone, false);
    s3_paths_only(&mut c, field, &config);
    c.finish()?;
    detector(api, arn).await?;
    let (bytes, gzip) = first_file(api, s3, "AutoDetectionMetricSource.S3SourceConfig").await?;
    let d = seismo_shared::sample::detect(&bytes, gzip);
    let compression = detected(
        json!({"S": if gzip { "GZIP" } else { "NONE" }}),
        "HIGH",
        "from the file's first bytes",
    );
    let charset = detected(
        json!({"S": d.charset.value}),
        d.charset.confidence,
        &d.charset.message,
    );
    let format = match &d.layout {
        FileFormat::JsonLines => {
            json!({"JsonFormatDescriptor": {"FileCompression": compression, "Charset": charset}})
        }
        FileFormat::Csv {
            delimiter,
            contains_header,
            ..
        } => {
            let (header, _) = seismo_shared::sample::rows(&bytes, &d.layout, 1);
            json!({"CsvFormatDescriptor": {
                "FileCompression": compression,
                "Charset": charset,
                "Delimiter": detected(json!({"S": (*delimiter as char).to_string()}), "HIGH", "splits every line alike"),
                "ContainsHeader": detected(json!({"S": contains_header.to_string()}), "HIGH", "first row against the next"),
                "HeaderList": detected(json!({"SS": header}), if *contains_header { "HIGH" } else { "LOW" }, "column names"),
                "QuoteSymbol": detected(json!({"S": "\""}), "LOW", "the default"),
            }})
        }
    };
    let frequency = match &d.frequency {
        Some(f) => detected(json!({"S": f.value.as_str()}), f.confidence, &f.message),
        None => detected(json!({"S": "PT1H"}), "NONE", "no timestamp column found"),
    };
    Ok(json!({"DetectedMetricSetConfig": {
        "Offset": detected(json!({"N": "0"}), "LOW", "lateness cannot be seen in one file; set the Offset to how late files arrive"),
        "MetricSetFrequency": frequency,
        "MetricSource": {"S3SourceConfig": {"FileFormatDescriptor": format}},
    }}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use seismo_shared::store::MemoryStore;

    /// GetSampleData reads a file as the pipeline will: an empty QuoteSymbol (the model allows
    /// it, and CreateMetricSet accepts it) is the default `"`, not a refusal.
    #[tokio::test]
    async fn an_empty_quote_symbol_reads_as_the_default_quote() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("b/history")).unwrap();
        std::fs::write(
            dir.path().join("b/history/part.csv"),
            "ts,region,revenue\n2026-01-01 00:00:00,\"EU,West\",1\n",
        )
        .unwrap();
        let api = Api::new(MemoryStore::new(), dir.path());
        let sample = |quote: &str| {
            json!({"S3SourceConfig": {
                "RoleArn": "arn:aws:iam::000000000000:role/r",
                "HistoricalDataPathList": ["s3://b/history/"],
                "FileFormatDescriptor": {"CsvFormatDescriptor": {"Delimiter": ",", "QuoteSymbol": quote}}
            }})
        };
        let empty = get_sample_data(&api, &sample("")).await.unwrap();
        let quote = get_sample_data(&api, &sample("\"")).await.unwrap();
        assert_eq!(empty, quote);
        assert_eq!(
            empty["SampleRows"],
            json!([["2026-01-01 00:00:00", "EU,West", "1"]])
        );
    }
}
