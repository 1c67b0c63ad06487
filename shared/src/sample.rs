//! A look at a metric file before a metric set exists: its first rows (`GetSampleData`) and the
//! format, delimiter, header and interval they suggest (`DetectMetricSetConfig`).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::data::FileFormat;
use crate::model::Frequency;
use crate::time::{TimestampFormat, Zone};

/// Bytes read to sample or detect.
const HEAD: u64 = 1 << 20;

/// The first bytes of a file, gunzipped when it is gzip; and whether it was.
pub fn head(path: &Path) -> std::io::Result<(Vec<u8>, bool)> {
    head_of(std::fs::File::open(path)?)
}

/// The first bytes of a stream (decompressed when gzip) and whether it was gzip.
pub fn head_of(reader: impl Read) -> std::io::Result<(Vec<u8>, bool)> {
    let mut file = BufReader::new(reader);
    let gzip = file.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let mut out = Vec::new();
    if gzip {
        MultiGzDecoder::new(file).take(HEAD).read_to_end(&mut out)?;
    } else {
        file.take(HEAD).read_to_end(&mut out)?;
    }
    Ok((out, gzip))
}

/// The header and up to `rows` rows of a sample, as text.
pub fn rows(bytes: &[u8], layout: &FileFormat, rows: usize) -> (Vec<String>, Vec<Vec<String>>) {
    match layout {
        FileFormat::JsonLines => {
            // Bytes that are not UTF-8 show as U+FFFD rather than losing their row.
            let objects: Vec<serde_json::Map<String, serde_json::Value>> = bytes
                .split(|b| *b == b'\n')
                .filter_map(|l| serde_json::from_str(&String::from_utf8_lossy(l)).ok())
                .take(rows)
                .collect();
            let header: Vec<String> = objects
                .first()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default();
            let text = |v: Option<&serde_json::Value>| match v {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            let body = objects
                .iter()
                .map(|o| header.iter().map(|h| text(o.get(h))).collect())
                .collect();
            (header, body)
        }
        FileFormat::Csv {
            delimiter,
            quote,
            contains_header,
            header_list,
        } => {
            let mut reader = csv::ReaderBuilder::new()
                .delimiter(*delimiter)
                .quote(*quote)
                .has_headers(false)
                .flexible(true)
                .from_reader(bytes);
            let mut records = reader.byte_records().filter_map(Result::ok).map(|r| {
                r.iter()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect::<Vec<String>>()
            });
            let first = if *contains_header {
                records.next()
            } else {
                None
            };
            let body: Vec<Vec<String>> = records.take(rows).collect();
            let width = body.iter().map(Vec::len).max().unwrap_or(0);
            let header = header_list
                .clone()
                .or(first)
                .unwrap_or_else(|| (1..=width).map(|i| format!("column{i}")).collect());
            (header, body)
        }
    }
}

/// A detected setting and how sure the detection is (`DetectedField`).
#[derive(Debug, Clone, PartialEq)]
pub struct Detected<T> {
    /// The value.
    pub value: T,
    /// HIGH, LOW or NONE.
    pub confidence: &'static str,
    /// Why.
    pub message: String,
}

/// What a sample suggests about the metric set.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// Whether the file is gzip.
    pub gzip: bool,
    /// CSV or JSON Lines, with the CSV settings.
    pub layout: FileFormat,
    /// UTF-8 or not.
    pub charset: Detected<String>,
    /// The interval between timestamps, when a timestamp column was found.
    pub frequency: Option<Detected<Frequency>>,
    /// The timestamp column found.
    pub timestamp_column: Option<String>,
}

/// Detects the layout and interval of a sample.
pub fn detect(bytes: &[u8], gzip: bool) -> Detection {
    let charset = match std::str::from_utf8(bytes) {
        Ok(_) => Detected {
            value: "UTF-8".into(),
            confidence: "HIGH",
            message: "every byte read is UTF-8".into(),
        },
        Err(e) if e.valid_up_to() + 4 >= bytes.len() => Detected {
            value: "UTF-8".into(),
            confidence: "HIGH",
            message: "UTF-8 (cut at the sample's end)".into(),
        },
        Err(_) => Detected {
            value: "UTF-8".into(),
            confidence: "LOW",
            message: "some bytes are not UTF-8; Seismo reads UTF-8 only".into(),
        },
    };
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    let layout = if first == Some(&b'{') {
        FileFormat::JsonLines
    } else {
        let lines: Vec<&[u8]> = bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .take(50)
            .collect();
        // The delimiter splits every line into the same number of fields (> 1).
        let delimiter = [b',', b';', b'\t', b'|']
            .into_iter()
            .max_by_key(|d| {
                let counts: Vec<usize> = lines
                    .iter()
                    .map(|l| l.iter().filter(|b| *b == d).count())
                    .collect();
                let consistent = counts.windows(2).all(|w| w[0] == w[1]);
                (
                    consistent && counts.first().is_some_and(|c| *c > 0),
                    counts.first().copied().unwrap_or(0),
                )
            })
            .unwrap_or(b',');
        let probe = FileFormat::Csv {
            delimiter,
            quote: b'"',
            contains_header: false,
            header_list: None,
        };
        let (_, sample) = rows(bytes, &probe, 20);
        let numeric = |s: &str| s.trim().parse::<f64>().is_ok();
        let first_numeric = sample
            .first()
            .map_or(0, |r| r.iter().filter(|f| numeric(f)).count());
        let rest_numeric = sample
            .get(1)
            .map_or(0, |r| r.iter().filter(|f| numeric(f)).count());
        FileFormat::Csv {
            delimiter,
            quote: b'"',
            contains_header: first_numeric < rest_numeric,
            header_list: None,
        }
    };
    let (header, body) = rows(bytes, &layout, 500);
    let mut frequency = None;
    let mut timestamp_column = None;
    for (c, name) in header.iter().enumerate() {
        let mut times: Vec<i64> = body
            .iter()
            .filter_map(|r| r.get(c))
            .filter(|v| !v.trim().parse::<f64>().is_ok_and(|n| n < 1e8))
            .filter_map(|v| TimestampFormat::Auto.parse_value(v, Zone::UTC))
            .collect();
        if times.len() * 2 < body.len().max(1) || times.len() < 2 {
            continue;
        }
        times.sort_unstable();
        times.dedup();
        let mut gaps: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).collect();
        gaps.sort_unstable();
        let gap = gaps.get(gaps.len() / 2).copied().unwrap_or(0);
        timestamp_column = Some(name.clone());
        frequency = Some(
            match Frequency::ALL.into_iter().find(|f| f.seconds() == gap) {
                Some(f) => Detected {
                    value: f,
                    confidence: "HIGH",
                    message: format!("column {name}: timestamps {gap} s apart"),
                },
                None => {
                    let nearest = Frequency::ALL
                        .into_iter()
                        .min_by_key(|f| (f.seconds() - gap).abs())
                        .unwrap_or(Frequency::Pt1h);
                    Detected {
                        value: nearest,
                        confidence: "LOW",
                        message: format!(
                            "column {name}: timestamps {gap} s apart, not a supported interval"
                        ),
                    }
                }
            },
        );
        break;
    }
    Detection {
        gzip,
        layout,
        charset,
        frequency,
        timestamp_column,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_csv_with_header_and_hourly_timestamps() {
        let csv = "timestamp;region;orders\n2021-02-14 00:00:00;EU;3\n2021-02-14 00:00:00;US;4\n2021-02-14 01:00:00;EU;5\n2021-02-14 02:00:00;EU;5\n";
        let d = detect(csv.as_bytes(), false);
        assert_eq!(
            d.layout,
            FileFormat::Csv {
                delimiter: b';',
                quote: b'"',
                contains_header: true,
                header_list: None
            }
        );
        let f = d.frequency.unwrap();
        assert_eq!((f.value, f.confidence), (Frequency::Pt1h, "HIGH"));
        assert_eq!(d.timestamp_column.as_deref(), Some("timestamp"));
        let (header, body) = rows(csv.as_bytes(), &d.layout, 2);
        assert_eq!(header, ["timestamp", "region", "orders"]);
        assert_eq!(
            body,
            [
                vec!["2021-02-14 00:00:00", "EU", "3"],
                vec!["2021-02-14 00:00:00", "US", "4"]
            ]
        );
    }

    #[test]
    fn rows_with_bytes_that_are_not_utf8_are_shown_not_dropped() {
        // Latin-1 "Zürich" (0xFC): the row shows with U+FFFD in its place.
        let csv =
            b"timestamp,city,orders\n2021-02-14 00:00:00,Z\xfcrich,3\n2021-02-14 01:00:00,Bern,4\n";
        let layout = FileFormat::Csv {
            delimiter: b',',
            quote: b'"',
            contains_header: true,
            header_list: None,
        };
        let (header, body) = rows(csv, &layout, 10);
        assert_eq!(header, ["timestamp", "city", "orders"]);
        assert_eq!(
            body,
            [
                vec!["2021-02-14 00:00:00", "Z\u{fffd}rich", "3"],
                vec!["2021-02-14 01:00:00", "Bern", "4"]
            ]
        );
        let jsonl =
            b"{\"city\": \"Z\xfcrich\", \"orders\": 3}\n{\"city\": \"Bern\", \"orders\": 4}\n";
        let (header, body) = rows(jsonl, &FileFormat::JsonLines, 10);
        assert_eq!(header, ["city", "orders"]);
        assert_eq!(body, [vec!["Z\u{fffd}rich", "3"], vec!["Bern", "4"]]);
    }

    #[test]
    fn detects_json_lines_and_headerless_csv() {
        let jsonl = "{\"ts\": \"2021-02-14T00:00:00Z\", \"v\": 1}\n{\"ts\": \"2021-02-15T00:00:00Z\", \"v\": 2}\n";
        let d = detect(jsonl.as_bytes(), false);
        assert_eq!(d.layout, FileFormat::JsonLines);
        assert_eq!(d.frequency.unwrap().value, Frequency::P1d);
        let headerless =
            "2021-02-14 00:00:00,EU,3\n2021-02-14 00:05:00,EU,4\n2021-02-14 00:10:00,EU,4\n";
        let d = detect(headerless.as_bytes(), false);
        assert!(matches!(
            d.layout,
            FileFormat::Csv {
                contains_header: false,
                delimiter: b',',
                ..
            }
        ));
        assert_eq!(d.frequency.unwrap().value, Frequency::Pt5m);
        let (header, _) = rows(headerless.as_bytes(), &d.layout, 1);
        assert_eq!(header, ["column1", "column2", "column3"]);
    }

    #[test]
    fn odd_intervals_and_bytes_are_low_confidence() {
        let csv = "t,v\n2021-02-14 00:00:00,1\n2021-02-14 00:07:00,1\n2021-02-14 00:14:00,1\n";
        assert_eq!(
            detect(csv.as_bytes(), false).frequency.unwrap().confidence,
            "LOW"
        );
        let mut latin = b"t,v\n2021-02-14 00:00:00,caf".to_vec();
        latin.extend_from_slice(&[
            0xe9, b'\n', b'x', b'\n', b'y', b'\n', b'z', b'\n', b'w', b'\n',
        ]);
        assert_eq!(detect(&latin, false).charset.confidence, "LOW");
    }
}
