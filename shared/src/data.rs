//! Reading metric files (CSV with or without header, any delimiter and quote, JSON Lines; plain
//! or gzip) and aggregating them per interval and dimension combination, with the data-quality
//! figures the old service reported.
//!
//! Bad input never stops a read: a malformed row, a wrong timestamp, a missing column, a
//! non-UTF-8 byte, NaN or a number too large for a double is counted in [`DataQuality`] and the
//! rest of the file is read.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use serde::Serialize;

use crate::error::ValidationError;
use crate::model::{
    AggregationFunction, CreateMetricSetRequest, FileFormatDescriptor, Frequency, Metric,
};
use crate::time::{TimestampFormat, Zone, interval_start};

/// Longest dimension value the old service accepted.
pub const MAX_DIMENSION_VALUE_CHARS: usize = 40;

/// The file layout of a metric set.
#[derive(Debug, Clone, PartialEq)]
pub enum FileFormat {
    /// Delimited text.
    Csv {
        /// Field delimiter.
        delimiter: u8,
        /// Quote character.
        quote: u8,
        /// Whether the first row is a header.
        contains_header: bool,
        /// Column names that replace (or stand in for) the header.
        header_list: Option<Vec<String>>,
    },
    /// One JSON object per line.
    JsonLines,
}

impl FileFormat {
    /// The layout a `FileFormatDescriptor` describes: JSON Lines when it has a
    /// `JsonFormatDescriptor`, otherwise CSV with the model's defaults (`,`, `"`, a header) for
    /// what it leaves out. An empty `Delimiter` or `QuoteSymbol` is the default.
    pub fn from_descriptor(descriptor: &FileFormatDescriptor) -> FileFormat {
        match (
            &descriptor.csv_format_descriptor,
            &descriptor.json_format_descriptor,
        ) {
            (_, Some(_)) => FileFormat::JsonLines,
            (Some(csv), None) => FileFormat::Csv {
                delimiter: single_byte(csv.delimiter.as_deref(), b','),
                quote: single_byte(csv.quote_symbol.as_deref(), b'"'),
                contains_header: csv.contains_header.unwrap_or(true),
                header_list: csv.header_list.clone().filter(|h| !h.is_empty()),
            },
            (None, None) => FileFormat::Csv {
                delimiter: b',',
                quote: b'"',
                contains_header: true,
                header_list: None,
            },
        }
    }
}

/// Everything needed to read and aggregate a metric set's files, resolved once from its
/// configuration.
#[derive(Debug, Clone)]
pub struct Schema {
    /// Interval length.
    pub frequency: Frequency,
    /// Zone of timestamps without offset, and of interval boundaries.
    pub zone: Zone,
    /// Timestamp column name.
    pub timestamp_column: String,
    /// How timestamps are written.
    pub timestamp_format: TimestampFormat,
    /// Dimension columns, in configuration order.
    pub dimensions: Vec<String>,
    /// Measures, in configuration order.
    pub measures: Vec<Metric>,
    /// Per dimension (by index), the accepted values; empty means all.
    pub filters: Vec<BTreeSet<String>>,
    /// File layout.
    pub format: FileFormat,
}

impl Schema {
    /// Each measure's aggregation function, in schema order.
    pub fn functions(&self) -> Vec<AggregationFunction> {
        self.measures
            .iter()
            .map(|m| m.aggregation_function)
            .collect()
    }

    /// Resolves a validated metric set. Fails (naming the field) when the configuration cannot be
    /// read, even if it passed the API model's constraints.
    pub fn from_metric_set(ms: &CreateMetricSetRequest) -> Result<Schema, ValidationError> {
        crate::validate::metric_set(ms)?;
        let ts = ms.timestamp_column.clone().unwrap_or_default();
        let timestamp_format = TimestampFormat::parse(ts.column_format.as_deref())
            .map_err(|m| ValidationError::field("TimestampColumn.ColumnFormat", m))?;
        let zone = match ms.timezone.as_deref() {
            Some(z) => Zone::parse(z).map_err(|m| ValidationError::field("Timezone", m))?,
            None => Zone::UTC,
        };
        let dimensions = ms.dimension_list.clone().unwrap_or_default();
        let mut filters = vec![BTreeSet::new(); dimensions.len()];
        for f in ms.dimension_filter_list.iter().flatten() {
            let name = f.name.as_deref().unwrap_or_default();
            if let Some(i) = dimensions.iter().position(|d| d == name) {
                filters[i].extend(
                    f.filter_list
                        .iter()
                        .flatten()
                        .filter_map(|v| v.dimension_value.clone()),
                );
            }
        }
        let descriptor = ms
            .metric_source
            .s3_source_config
            .as_ref()
            .and_then(|s| s.file_format_descriptor.clone())
            .unwrap_or_default();
        let format = FileFormat::from_descriptor(&descriptor);
        Ok(Schema {
            frequency: ms.metric_set_frequency.unwrap_or(Frequency::Pt1h),
            zone,
            timestamp_column: ts.column_name.unwrap_or_else(|| "timestamp".into()),
            timestamp_format,
            dimensions,
            measures: ms.metric_list.clone(),
            filters,
            format,
        })
    }
}

fn single_byte(s: Option<&str>, default: u8) -> u8 {
    match s.map(str::as_bytes) {
        Some([b]) => *b,
        Some([b'\\', b't']) => b'\t',
        _ => default,
    }
}

/// Data-quality figures for a read or one interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataQuality {
    /// Rows seen (ROWS_PROCESSED).
    pub rows_processed: u64,
    /// Rows that could not be used at all: no readable timestamp, a missing dimension value,
    /// bytes that are not UTF-8, a line that is not a JSON object (INVALID_ROWS_COMPLIANCE).
    pub invalid_rows: u64,
    /// Rows used with at least one measure missing or not a finite number
    /// (ROWS_PARTIAL_COMPLIANCE).
    pub partial_rows: u64,
    /// Rows whose timestamp lies outside the interval (or window) being read.
    pub rows_outside_interval: u64,
    /// Rows removed by the dimension filters.
    pub rows_filtered: u64,
    /// Per configured column, the rows that had a usable value (COLUMN_COMPLETENESS is this over
    /// rows_processed).
    pub column_values: BTreeMap<String, u64>,
    /// Configured columns that a file did not have.
    pub missing_columns: BTreeSet<String>,
    /// Dimension combinations seen (TIME_SERIES_COUNT).
    pub time_series: u64,
    /// Files read.
    pub files: u64,
    /// Files with no rows.
    pub empty_files: u64,
    /// Files that could not be read, with the reason.
    pub unreadable_files: Vec<String>,
    /// Rows left out because their timestamps lie far from the rest of the data (beyond a gap
    /// longer than all the data on the other side: a mistyped year); counted as invalid too.
    pub stray_rows: u64,
}

impl DataQuality {
    /// Share (0-1) of processed rows that had a usable value in `column`.
    pub fn completeness(&self, column: &str) -> f64 {
        if self.rows_processed == 0 {
            return 0.0;
        }
        *self.column_values.get(column).unwrap_or(&0) as f64 / self.rows_processed as f64
    }

    fn add(&mut self, other: &DataQuality) {
        self.rows_processed += other.rows_processed;
        self.invalid_rows += other.invalid_rows;
        self.partial_rows += other.partial_rows;
        self.rows_outside_interval += other.rows_outside_interval;
        self.rows_filtered += other.rows_filtered;
        for (k, v) in &other.column_values {
            *self.column_values.entry(k.clone()).or_default() += v;
        }
        self.missing_columns
            .extend(other.missing_columns.iter().cloned());
        self.files += other.files;
        self.empty_files += other.empty_files;
        self.unreadable_files
            .extend(other.unreadable_files.iter().cloned());
        self.stray_rows += other.stray_rows;
    }
}

/// At most this share of the rows may be left out as stray, at each end.
const STRAY_SHARE: f64 = 0.1;
/// How far beyond the bulk of the data (the middle 60% of its rows) data is stray: this many
/// times the bulk's span, and at least [`STRAY_GAP`] intervals.
const STRAY_RATIO: i64 = 10;
const STRAY_GAP: i64 = 100;

/// How many intervals at each end of `data` (oldest first) are stray: beyond ten times the
/// span of the bulk of the rows (their middle 60%) from it, behind a gap that long, and at
/// most 10% of the rows. One row dated 2036 (or 9999) in a month of data would otherwise
/// stretch the timeline over a decade (or exhaust memory) and put the whole month in
/// training; a series that resumes after an outage, or a sparse start, is not stray.
fn strays(data: &[IntervalData], step: i64) -> (usize, usize) {
    let n = data.len();
    if n < 3 {
        return (0, 0);
    }
    let rows: Vec<f64> = data
        .iter()
        .map(|d| d.quality.rows_processed.max(1) as f64)
        .collect();
    let total: f64 = rows.iter().sum();
    // The start of the interval where the rows' running share reaches `p`.
    let at_share = |p: f64| {
        let mut acc = 0.0;
        for (d, r) in data.iter().zip(&rows) {
            acc += r;
            if acc >= p * total {
                return d.start;
            }
        }
        data[n - 1].start
    };
    let (lo, hi) = (at_share(0.2), at_share(0.8));
    let reach = hi
        .saturating_sub(lo)
        .saturating_mul(STRAY_RATIO)
        .max(STRAY_GAP.saturating_mul(step.max(1)));
    let most = total * STRAY_SHARE;
    // The newest end: from the first interval beyond reach, if a gap that long precedes it.
    let tail = match (1..n).find(|&k| data[k].start > hi.saturating_add(reach)) {
        Some(k)
            if data[k].start.saturating_sub(data[k - 1].start) > reach
                && rows[k..].iter().sum::<f64>() <= most =>
        {
            n - k
        }
        _ => 0,
    };
    let head = match (0..n - 1)
        .rev()
        .find(|&k| data[k].start < lo.saturating_sub(reach))
    {
        Some(k)
            if data[k + 1].start.saturating_sub(data[k].start) > reach
                && rows[..=k].iter().sum::<f64>() <= most =>
        {
            k + 1
        }
        _ => 0,
    };
    (head, tail)
}

#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    sum: f64,
    n: u32,
}

/// The aggregated values of one interval: per dimension combination, one value per measure
/// (`None` when no row of the interval carried a usable value for it).
#[derive(Debug, Clone, PartialEq)]
pub struct IntervalData {
    /// Interval start (epoch seconds).
    pub start: i64,
    /// Dimension values (in schema order) to the measures' values (in schema order).
    pub series: BTreeMap<Vec<String>, Vec<Option<f64>>>,
    /// Quality of the rows that fell in this interval.
    pub quality: DataQuality,
}

/// Reads files and aggregates their rows per interval and dimension combination.
#[derive(Debug)]
pub struct Aggregator<'a> {
    schema: &'a Schema,
    window: Option<(i64, i64)>,
    cells: BTreeMap<i64, HashMap<Vec<String>, Vec<Acc>>>,
    interval_quality: BTreeMap<i64, DataQuality>,
    /// Figures not tied to one interval (files, rows without a usable timestamp).
    quality: DataQuality,
    rows_seen: u64,
}

/// Where the schema's columns are in one file.
#[derive(Debug)]
struct Columns {
    timestamp: Option<usize>,
    dimensions: Vec<Option<usize>>,
    measures: Vec<Option<usize>>,
}

/// A field of a row: text, or bytes that are not UTF-8.
enum Field<'r> {
    Missing,
    Text(std::borrow::Cow<'r, str>),
    NotUtf8,
}

impl<'a> Aggregator<'a> {
    /// Aggregates every row.
    pub fn new(schema: &'a Schema) -> Self {
        Aggregator {
            schema,
            window: None,
            cells: BTreeMap::new(),
            interval_quality: BTreeMap::new(),
            quality: DataQuality::default(),
            rows_seen: 0,
        }
    }

    /// Keeps only rows with `from <= timestamp < to`; others are counted as outside.
    pub fn with_window(mut self, from: i64, to: i64) -> Self {
        self.window = Some((from, to));
        self
    }

    /// Reads one file (plain or gzip, recognised by its first bytes). A file that cannot be
    /// opened or decoded is recorded in the data-quality figures, never an error.
    pub fn read_file(&mut self, path: &Path) {
        self.quality.files += 1;
        let seen_before = self.rows_seen;
        let result = std::fs::File::open(path)
            .map_err(|e| e.to_string())
            .and_then(|file| self.read_reader(file));
        if let Err(e) = result {
            self.quality
                .unreadable_files
                .push(format!("{}: {e}", path.display()));
        } else if self.rows_seen == seen_before {
            self.quality.empty_files += 1;
        }
    }

    /// Reads one named object (an S3 object, a file): counted like [`Aggregator::read_file`].
    pub fn read_object(&mut self, name: &str, opened: Result<impl Read, String>) {
        self.quality.files += 1;
        let seen_before = self.rows_seen;
        match opened.and_then(|r| self.read_reader(r)) {
            Err(e) => self.quality.unreadable_files.push(format!("{name}: {e}")),
            Ok(()) if self.rows_seen == seen_before => self.quality.empty_files += 1,
            Ok(()) => {}
        }
    }

    /// Reads one stream (plain or gzip, recognised by its first bytes).
    pub fn read_reader(&mut self, reader: impl Read) -> Result<(), String> {
        let mut reader = BufReader::new(reader);
        let gzip = reader
            .fill_buf()
            .map_err(|e| e.to_string())?
            .starts_with(&[0x1f, 0x8b]);
        if gzip {
            self.read_decoded(BufReader::new(MultiGzDecoder::new(reader)))
        } else {
            self.read_decoded(reader)
        }
    }

    fn read_decoded(&mut self, reader: impl BufRead) -> Result<(), String> {
        match &self.schema.format {
            FileFormat::Csv {
                delimiter,
                quote,
                contains_header,
                header_list,
            } => self.read_csv(
                reader,
                *delimiter,
                *quote,
                *contains_header,
                header_list.clone(),
            ),
            FileFormat::JsonLines => self.read_json_lines(reader),
        }
    }

    fn locate(&mut self, header: &[String]) -> Columns {
        let find = |name: &str| header.iter().position(|h| h.trim() == name);
        let mut note_missing = |name: &str, at: Option<usize>| {
            if at.is_none() {
                self.quality.missing_columns.insert(name.to_string());
            }
            at
        };
        let s = self.schema;
        Columns {
            timestamp: note_missing(&s.timestamp_column, find(&s.timestamp_column)),
            dimensions: s
                .dimensions
                .iter()
                .map(|d| note_missing(d, find(d)))
                .collect(),
            measures: s
                .measures
                .iter()
                .map(|m| note_missing(&m.metric_name, find(&m.metric_name)))
                .collect(),
        }
    }

    fn read_csv(
        &mut self,
        reader: impl BufRead,
        delimiter: u8,
        quote: u8,
        contains_header: bool,
        header_list: Option<Vec<String>>,
    ) -> Result<(), String> {
        let mut csv = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .quote(quote)
            .has_headers(false)
            .flexible(true)
            .from_reader(reader);
        let mut records = csv.byte_records();
        let file_header = if contains_header {
            match records.next() {
                None => return Ok(()),
                Some(Err(e)) => return Err(format!("header: {e}")),
                Some(Ok(h)) => Some(
                    h.iter()
                        .map(|f| {
                            String::from_utf8_lossy(f)
                                .trim_start_matches('\u{feff}')
                                .to_string()
                        })
                        .collect::<Vec<_>>(),
                ),
            }
        } else {
            None
        };
        let Some(header) = header_list.or(file_header) else {
            return Err("the file has no header and the metric set gives no HeaderList".into());
        };
        let columns = self.locate(&header);
        for record in records {
            self.rows_seen += 1;
            match record {
                Ok(r) => {
                    let field = |i: Option<usize>| match i.and_then(|i| r.get(i)) {
                        None => Field::Missing,
                        Some(b) => match std::str::from_utf8(b) {
                            Ok(s) => Field::Text(s.into()),
                            Err(_) => Field::NotUtf8,
                        },
                    };
                    let wrong_width = r.len() != header.len();
                    self.accept(&columns, field, wrong_width);
                }
                // The file cannot be read on (a truncated or corrupt gzip): unreadable, with
                // the rows before kept, as for JSON Lines.
                Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                    self.rows_seen -= 1;
                    return Err(match e.kind() {
                        csv::ErrorKind::Io(io) => io.to_string(),
                        _ => e.to_string(),
                    });
                }
                // A malformed record (for example an unterminated quote): skip and count.
                Err(_) => self.quality.invalid_rows += 1,
            }
        }
        Ok(())
    }

    fn read_json_lines(&mut self, mut reader: impl BufRead) -> Result<(), String> {
        let s = self.schema;
        let header: Vec<String> = std::iter::once(s.timestamp_column.clone())
            .chain(s.dimensions.iter().cloned())
            .chain(s.measures.iter().map(|m| m.metric_name.clone()))
            .collect();
        let columns = Columns {
            timestamp: Some(0),
            dimensions: (1..=s.dimensions.len()).map(Some).collect(),
            measures: (0..s.measures.len())
                .map(|i| Some(1 + s.dimensions.len() + i))
                .collect(),
        };
        let mut present = vec![false; header.len()];
        // Rows of this file (the aggregator may have read others before).
        let mut rows = 0u64;
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            // A byte-order mark before the first object is not part of it.
            if rows == 0 && line.starts_with(b"\xef\xbb\xbf") {
                line.drain(..3);
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            self.rows_seen += 1;
            rows += 1;
            let object = match serde_json::from_slice::<serde_json::Value>(&line) {
                Ok(serde_json::Value::Object(o)) => o,
                _ => {
                    self.quality.invalid_rows += 1;
                    continue;
                }
            };
            let values: Vec<Option<String>> = header
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    let v = object.get(name.as_str())?;
                    present[i] = true;
                    match v {
                        serde_json::Value::String(s) => Some(s.clone()),
                        serde_json::Value::Number(n) => Some(n.to_string()),
                        serde_json::Value::Bool(b) => Some(b.to_string()),
                        _ => None,
                    }
                })
                .collect();
            let field = |i: Option<usize>| match i.and_then(|i| values[i].as_deref()) {
                Some(s) => Field::Text(s.into()),
                None => Field::Missing,
            };
            self.accept(&columns, field, false);
        }
        for (name, seen) in header.iter().zip(present) {
            if !seen && rows > 0 {
                self.quality.missing_columns.insert(name.clone());
            }
        }
        Ok(())
    }

    /// Validates, filters and aggregates one row.
    fn accept<'r>(
        &mut self,
        columns: &Columns,
        field: impl Fn(Option<usize>) -> Field<'r>,
        wrong_width: bool,
    ) {
        let schema = self.schema;
        let text = |f: Field<'r>| match f {
            Field::Text(s) if !s.trim().is_empty() => Ok(Some(s)),
            Field::Text(_) | Field::Missing => Ok(None),
            Field::NotUtf8 => Err(()),
        };
        let Ok(Some(raw_ts)) = text(field(columns.timestamp)) else {
            self.quality.invalid_rows += 1;
            return;
        };
        let Some(ts) = schema.timestamp_format.parse_value(&raw_ts, schema.zone) else {
            self.quality.invalid_rows += 1;
            return;
        };
        if let Some((from, to)) = self.window
            && (ts < from || ts >= to)
        {
            self.quality.rows_outside_interval += 1;
            return;
        }
        let Some(start) = interval_start(ts, schema.frequency, schema.zone) else {
            self.quality.invalid_rows += 1;
            return;
        };
        let q = self.interval_quality.entry(start).or_default();
        q.rows_processed += 1;
        if wrong_width {
            q.invalid_rows += 1;
            return;
        }
        *q.column_values
            .entry(schema.timestamp_column.clone())
            .or_default() += 1;

        let mut dims = Vec::with_capacity(schema.dimensions.len());
        for (i, name) in schema.dimensions.iter().enumerate() {
            match text(field(columns.dimensions[i])) {
                // A value holding the aggregates' marker could pass for an aggregate's key.
                Ok(Some(v))
                    if v.trim().chars().count() <= MAX_DIMENSION_VALUE_CHARS
                        && !v.contains(crate::slices::ANY) =>
                {
                    *q.column_values.entry(name.clone()).or_default() += 1;
                    dims.push(v.trim().to_string());
                }
                _ => {
                    q.invalid_rows += 1;
                    return;
                }
            }
        }
        if dims
            .iter()
            .zip(&schema.filters)
            .any(|(v, accepted)| !accepted.is_empty() && !accepted.contains(v))
        {
            q.rows_filtered += 1;
            return;
        }
        let mut values = Vec::with_capacity(schema.measures.len());
        let mut partial = false;
        for (i, m) in schema.measures.iter().enumerate() {
            let v = match text(field(columns.measures[i])) {
                Ok(Some(s)) => s.trim().parse::<f64>().ok().filter(|v| v.is_finite()),
                _ => None,
            };
            match v {
                Some(v) => {
                    *q.column_values.entry(m.metric_name.clone()).or_default() += 1;
                    values.push(Some(v));
                }
                None => {
                    partial = true;
                    values.push(None);
                }
            }
        }
        if partial {
            q.partial_rows += 1;
        }
        let cell = self
            .cells
            .entry(start)
            .or_default()
            .entry(dims)
            .or_insert_with(|| vec![Acc::default(); schema.measures.len()]);
        for (acc, v) in cell.iter_mut().zip(values) {
            if let Some(v) = v {
                acc.sum += v;
                acc.n += 1;
            }
        }
    }

    /// Figures not tied to one interval: files read, empty or unreadable, rows whose timestamp
    /// could not be read, rows outside the window, columns missing from files.
    pub fn quality(&self) -> &DataQuality {
        &self.quality
    }

    /// The aggregated intervals and everything read as one set of figures (the file figures
    /// plus every interval's, overflowed sums included).
    /// Stray intervals (see [`strays`]) are left out, their rows counted as stray and invalid.
    pub fn finish_with_quality(self) -> (Vec<IntervalData>, DataQuality) {
        let mut total = self.quality.clone();
        let step = self.schema.frequency.seconds();
        let mut data = self.finish();
        let (head, tail) = strays(&data, step);
        let kept = head..data.len() - tail;
        let mut series = BTreeSet::new();
        for (i, d) in data.iter().enumerate() {
            total.add(&d.quality);
            if kept.contains(&i) {
                series.extend(d.series.keys());
            } else {
                total.stray_rows += d.quality.rows_processed;
                total.invalid_rows += d.quality.rows_processed;
                total.partial_rows -= d.quality.partial_rows;
            }
        }
        total.time_series = series.len() as u64;
        data.truncate(kept.end);
        data.drain(..kept.start);
        (data, total)
    }

    /// The aggregated intervals, oldest first. A measure whose aggregate is not a finite number
    /// (a sum that overflowed) is `None` and its rows count as partial.
    pub fn finish(self) -> Vec<IntervalData> {
        let measures = &self.schema.measures;
        let mut quality = self.interval_quality;
        let mut out = Vec::with_capacity(quality.len());
        for (start, q) in std::mem::take(&mut quality) {
            let cells = self.cells.get(&start);
            let mut q = q;
            let mut series = BTreeMap::new();
            if let Some(cells) = cells {
                for (dims, accs) in cells {
                    let values = accs
                        .iter()
                        .zip(measures)
                        .map(|(acc, m)| {
                            if acc.n == 0 {
                                return None;
                            }
                            let v = match m.aggregation_function {
                                AggregationFunction::Sum => acc.sum,
                                AggregationFunction::Avg => acc.sum / f64::from(acc.n),
                            };
                            if v.is_finite() {
                                Some(v)
                            } else {
                                q.partial_rows += u64::from(acc.n);
                                None
                            }
                        })
                        .collect();
                    series.insert(dims.clone(), values);
                }
            }
            q.time_series = series.len() as u64;
            out.push(IntervalData {
                start,
                series,
                quality: q,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;
    use serde_json::json;

    const H: i64 = 3600;
    const T0: i64 = 1_613_260_800; // 2021-02-14T00:00:00Z

    fn metric_set(extra: serde_json::Value) -> CreateMetricSetRequest {
        let mut v = json!({
            "MetricSetName": "orders",
            "MetricList": [{"MetricName": "revenue", "AggregationFunction": "SUM"},
                           {"MetricName": "latency", "AggregationFunction": "AVG"}],
            "TimestampColumn": {"ColumnName": "ts", "ColumnFormat": "yyyy-MM-dd HH:mm:ss"},
            "DimensionList": ["region", "channel"],
            "MetricSetFrequency": "PT1H",
            "MetricSource": {"S3SourceConfig": {
                "HistoricalDataPathList": ["s3://b/h/"],
                "FileFormatDescriptor": {"CsvFormatDescriptor": {}}}}
        });
        merge(&mut v, extra);
        serde_json::from_value(v).unwrap()
    }

    fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
        match (a, b) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (a, b) => *a = b,
        }
    }

    fn read(ms: &CreateMetricSetRequest, bytes: &[u8]) -> (Vec<IntervalData>, DataQuality) {
        let schema = Schema::from_metric_set(ms).unwrap();
        let mut agg = Aggregator::new(&schema);
        agg.read_reader(bytes).unwrap();
        agg.finish_with_quality()
    }

    fn value(data: &[IntervalData], start: i64, dims: &[&str], measure: usize) -> Option<f64> {
        let key: Vec<String> = dims.iter().map(|s| s.to_string()).collect();
        data.iter().find(|d| d.start == start)?.series.get(&key)?[measure]
    }

    const CSV: &str = "ts,region,channel,revenue,latency\n\
        2021-02-14 00:10:00,EU,web,10,100\n\
        2021-02-14 00:50:00,EU,web,5,200\n\
        2021-02-14 00:20:00,US,web,7,50\n\
        2021-02-14 01:00:00,EU,web,1,10\n";

    /// Hourly rows of one series over `hours`, then `extra` lines.
    fn hourly(hours: i64, extra: &str) -> String {
        let mut csv = String::from("ts,region,channel,revenue,latency\n");
        for h in 0..hours {
            let t = chrono::DateTime::from_timestamp(T0 + h * H, 0).unwrap();
            csv += &format!(
                "{},EU,web,{},1\n",
                t.format("%Y-%m-%d %H:%M:%S"),
                100 + h % 7
            );
        }
        csv + extra
    }

    #[test]
    fn a_row_far_from_the_rest_is_stray_not_a_stretched_timeline() {
        let ms = metric_set(json!({}));
        for (name, extra, kept_from, kept_to) in [
            (
                "a mistyped year ahead",
                "2036-01-01 00:00:00,EU,web,5,1\n",
                T0,
                T0 + 959 * H,
            ),
            (
                "the last possible year",
                "9999-12-31 23:00:00,EU,web,5,1\n",
                T0,
                T0 + 959 * H,
            ),
            (
                "a year behind",
                "2011-02-14 00:00:00,EU,web,5,1\n",
                T0,
                T0 + 959 * H,
            ),
        ] {
            let (data, q) = read(&ms, hourly(960, extra).as_bytes());
            assert_eq!(
                (data.first().unwrap().start, data.last().unwrap().start),
                (kept_from, kept_to),
                "{name}"
            );
            assert_eq!(
                (q.stray_rows, q.invalid_rows, q.time_series),
                (1, 1, 1),
                "{name}"
            );
        }
        // A mistyped row at each end; a small file; a whole day mistyped.
        let (data, q) = read(
            &ms,
            hourly(
                480,
                "2016-01-01 00:00:00,EU,web,5,1\n2036-01-01 00:00:00,EU,web,5,1\n",
            )
            .as_bytes(),
        );
        assert_eq!((data.len(), q.stray_rows), (480, 2));
        let (data, q) = read(
            &ms,
            hourly(60, "2036-01-01 00:00:00,EU,web,5,1\n").as_bytes(),
        );
        assert_eq!((data.len(), q.stray_rows), (60, 1));
        let mut day = String::new();
        for h in 0..24 {
            day += &format!("2036-01-01 {h:02}:00:00,EU,web,5,1\n");
        }
        let (data, q) = read(&ms, hourly(24 * 21, &day).as_bytes());
        assert_eq!((data.len(), q.stray_rows), (24 * 21, 24));
        // A sparse start (a row a day for 100 days, then 50 series for 10 days) is not stray.
        let mut sparse = String::from("ts,region,channel,revenue,latency\n");
        for h in 0..24 * 110 {
            let t = chrono::DateTime::from_timestamp(T0 + h * H, 0).unwrap();
            let t = t.format("%Y-%m-%d %H:%M:%S");
            if h >= 24 * 100 {
                for r in 0..50 {
                    sparse += &format!("{t},R{r},web,1,1\n");
                }
            } else if h % 24 == 0 {
                sparse += &format!("{t},R0,web,1,1\n");
            }
        }
        let (data, q) = read(&ms, sparse.as_bytes());
        assert_eq!((data.len(), q.stray_rows), (100 + 240, 0));
        // A series that resumes after an outage as long as the data before it is not stray.
        let mut resumed = hourly(24 * 30, "");
        for h in 24 * 62..24 * 76 {
            let t = chrono::DateTime::from_timestamp(T0 + h * H, 0).unwrap();
            resumed += &format!("{},EU,web,1,1\n", t.format("%Y-%m-%d %H:%M:%S"));
        }
        let (data, q) = read(&ms, resumed.as_bytes());
        assert_eq!((data.len(), q.stray_rows), (24 * 44, 0));
        // A pause in the data is not stray: the week after a two-day gap is kept, and so is a
        // short series' last point after a gap shorter than 100 intervals.
        let mut rows = hourly(24 * 7, "");
        for h in 24 * 9..24 * 16 {
            let t = chrono::DateTime::from_timestamp(T0 + h * H, 0).unwrap();
            rows += &format!("{},EU,web,1,1\n", t.format("%Y-%m-%d %H:%M:%S"));
        }
        let (data, q) = read(&ms, rows.as_bytes());
        assert_eq!((data.len(), q.stray_rows), (24 * 14, 0));
        let (data, q) = read(
            &ms,
            hourly(50, "2021-02-18 00:00:00,EU,web,5,1\n").as_bytes(),
        );
        assert_eq!((data.len(), q.stray_rows), (51, 0));
    }

    #[test]
    fn a_truncated_or_corrupt_gzip_csv_is_unreadable_not_quietly_short() {
        let ms = metric_set(json!({}));
        let schema = Schema::from_metric_set(&ms).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(hourly(2000, "").as_bytes()).unwrap();
        let whole = gz.finish().unwrap();
        let mut corrupt = whole.clone();
        let middle = corrupt.len() / 2;
        corrupt[middle..middle + 16].fill(0xa5);
        for (name, bytes) in [
            ("truncated", &whole[..whole.len() / 2]),
            ("corrupt", &corrupt[..]),
        ] {
            let mut agg = Aggregator::new(&schema);
            agg.read_object("part.csv.gz", Ok(bytes));
            let (_, q) = agg.finish_with_quality();
            assert_eq!(q.unreadable_files.len(), 1, "{name}: {q:?}");
            assert!(q.unreadable_files[0].starts_with("part.csv.gz: "), "{name}");
            assert!(q.rows_processed < 2000, "{name}");
        }
    }

    #[test]
    fn a_json_lines_file_with_a_byte_order_mark_keeps_its_first_row() {
        let ms = metric_set(json!({"MetricSource": {"S3SourceConfig": {
            "FileFormatDescriptor": {"CsvFormatDescriptor": null, "JsonFormatDescriptor": {}}}}}));
        let lines = "\u{feff}{\"ts\": \"2021-02-14 00:10:00\", \"region\": \"EU\", \"channel\": \"web\", \"revenue\": 3, \"latency\": 1}\n";
        let (data, q) = read(&ms, lines.as_bytes());
        assert_eq!((q.rows_processed, q.invalid_rows), (1, 0));
        assert_eq!(value(&data, T0, &["EU", "web"], 0), Some(3.0));
    }

    #[test]
    fn sum_and_avg_per_interval_and_combination() {
        let (data, q) = read(&metric_set(json!({})), CSV.as_bytes());
        assert_eq!(data.len(), 2);
        assert_eq!(value(&data, T0, &["EU", "web"], 0), Some(15.0));
        assert_eq!(value(&data, T0, &["EU", "web"], 1), Some(150.0));
        assert_eq!(value(&data, T0, &["US", "web"], 0), Some(7.0));
        assert_eq!(value(&data, T0 + H, &["EU", "web"], 0), Some(1.0));
        assert_eq!(
            (
                q.rows_processed,
                q.invalid_rows,
                q.partial_rows,
                q.time_series
            ),
            (4, 0, 0, 2)
        );
        assert_eq!(data[0].quality.time_series, 2);
        assert_eq!(q.completeness("revenue"), 1.0);
    }

    #[test]
    fn each_csv_option_is_honoured() {
        let headerless = "2021-02-14 00:10:00;EU;web;'1;5';3\n";
        let ms = metric_set(
            json!({"MetricSource": {"S3SourceConfig": {"FileFormatDescriptor": {"CsvFormatDescriptor": {
            "ContainsHeader": false, "Delimiter": ";", "QuoteSymbol": "'",
            "HeaderList": ["ts", "region", "channel", "revenue", "latency"]}}}}}),
        );
        let (data, q) = read(&ms, headerless.as_bytes());
        // The quoted field holds the delimiter: one row, revenue "1;5" is not a number.
        assert_eq!((q.rows_processed, q.partial_rows), (1, 1));
        assert_eq!(value(&data, T0, &["EU", "web"], 0), None);
        assert_eq!(value(&data, T0, &["EU", "web"], 1), Some(3.0));

        let tabbed = "ts\tregion\tchannel\trevenue\tlatency\n2021-02-14 00:10:00\tEU\tweb\t4\t1\n";
        let ms = metric_set(
            json!({"MetricSource": {"S3SourceConfig": {"FileFormatDescriptor": {"CsvFormatDescriptor": {"Delimiter": "\t"}}}}}),
        );
        assert_eq!(
            value(&read(&ms, tabbed.as_bytes()).0, T0, &["EU", "web"], 0),
            Some(4.0)
        );

        // A HeaderList with ContainsHeader renames the file's columns and skips its header.
        let renamed = "a,b,c,d,e\n2021-02-14 00:10:00,EU,web,4,1\n";
        let ms = metric_set(
            json!({"MetricSource": {"S3SourceConfig": {"FileFormatDescriptor": {"CsvFormatDescriptor": {
            "ContainsHeader": true, "HeaderList": ["ts", "region", "channel", "revenue", "latency"]}}}}}),
        );
        assert_eq!(
            value(&read(&ms, renamed.as_bytes()).0, T0, &["EU", "web"], 0),
            Some(4.0)
        );
    }

    #[test]
    fn gzip_is_recognised_for_csv_and_json_lines() {
        let gz = |s: &str| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(s.as_bytes()).unwrap();
            e.finish().unwrap()
        };
        let ms = metric_set(
            json!({"MetricSource": {"S3SourceConfig": {"FileFormatDescriptor": {"CsvFormatDescriptor": {"FileCompression": "GZIP"}}}}}),
        );
        assert_eq!(
            value(&read(&ms, &gz(CSV)).0, T0, &["EU", "web"], 0),
            Some(15.0)
        );

        let lines = concat!(
            "{\"ts\": \"2021-02-14 00:10:00\", \"region\": \"EU\", \"channel\": \"web\", \"revenue\": 2.5, \"latency\": \"7\"}\n",
            "\n",
            "{\"ts\": \"2021-02-14 00:20:00\", \"region\": \"EU\", \"channel\": \"web\", \"revenue\": 1}\n",
            "not json\n",
            "[1, 2]\n",
        );
        let ms = metric_set(
            json!({"MetricSource": {"S3SourceConfig": {"FileFormatDescriptor": {"CsvFormatDescriptor": null, "JsonFormatDescriptor": {"FileCompression": "GZIP"}}}}}),
        );
        let (data, q) = read(&ms, &gz(lines));
        assert_eq!(value(&data, T0, &["EU", "web"], 0), Some(3.5));
        assert_eq!(
            value(&data, T0, &["EU", "web"], 1),
            Some(7.0),
            "AVG over the rows that have it"
        );
        assert_eq!(
            (q.rows_processed, q.invalid_rows, q.partial_rows),
            (2, 2, 1)
        );
        let (_, plain_q) = read(&ms, lines.as_bytes());
        assert_eq!(plain_q.rows_processed, 2);
    }

    #[test]
    fn bad_rows_are_counted_never_fatal() {
        let mut bad = String::from("ts,region,channel,revenue,latency\n");
        bad.push_str("2021-02-14 00:10:00,EU,web,1,1\n"); // good
        bad.push_str("yesterday,EU,web,1,1\n"); // wrong timestamp
        bad.push_str(",EU,web,1,1\n"); // missing timestamp
        bad.push_str("2021-02-14 00:10:00,,web,1,1\n"); // missing dimension
        bad.push_str("2021-02-14 00:10:00,EU,web,NaN,1\n"); // NaN measure
        bad.push_str("2021-02-14 00:10:00,EU,web,1e400,1\n"); // too large for a double
        bad.push_str("2021-02-14 00:10:00,EU,web\n"); // short row
        bad.push_str("2021-02-14 00:10:00,EU,web,1,1,extra\n"); // long row
        bad.push_str(&format!("2021-02-14 00:10:00,{},web,1,1\n", "x".repeat(41))); // dimension too long
        let mut bytes = bad.into_bytes();
        bytes.extend_from_slice(b"2021-02-14 00:10:00,E\xffU,web,1,1\n"); // not UTF-8
        bytes.extend_from_slice(
            b"2021-02-14 00:10:00,EU,web,1e308,1\n2021-02-14 00:11:00,EU,web,1e308,1\n",
        ); // sum overflows
        let (data, q) = read(&metric_set(json!({})), &bytes);
        assert_eq!(q.rows_processed, 10, "rows with a usable timestamp");
        assert_eq!(
            q.invalid_rows,
            2 + 5,
            "timestamps, then dimension, widths, length, UTF-8"
        );
        assert_eq!(
            q.partial_rows,
            2 + 3,
            "NaN and 1e400, then the overflowed sum's three rows"
        );
        assert_eq!(data[0].quality.partial_rows, q.partial_rows);
        assert_eq!(
            value(&data, T0, &["EU", "web"], 0),
            None,
            "overflowed sum is missing, not infinite"
        );
        assert_eq!(value(&data, T0, &["EU", "web"], 1), Some(1.0));
    }

    #[test]
    fn missing_columns_and_empty_input_are_reported() {
        let (data, q) = read(
            &metric_set(json!({})),
            b"ts,region,revenue\n2021-02-14 00:10:00,EU,3\n",
        );
        assert!(q.missing_columns.contains("channel") && q.missing_columns.contains("latency"));
        assert_eq!(q.invalid_rows, 1, "no channel: the row names no series");
        assert!(data.iter().all(|d| d.series.is_empty()));
        let (data, q) = read(&metric_set(json!({})), b"");
        assert!(data.is_empty() && q.rows_processed == 0);

        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.csv");
        std::fs::write(&empty, "ts,region,channel,revenue,latency\n").unwrap();
        let ms = metric_set(json!({}));
        let schema = Schema::from_metric_set(&ms).unwrap();
        let mut agg = Aggregator::new(&schema);
        agg.read_file(&empty);
        agg.read_file(&dir.path().join("absent.csv"));
        let q = agg.quality();
        assert_eq!(
            (q.files, q.empty_files, q.unreadable_files.len()),
            (2, 1, 1)
        );
        assert!(!q.unreadable_files[0].contains("panicked"));
    }

    #[test]
    fn json_lines_missing_columns_are_judged_per_file() {
        // One full file, one empty, one without `channel`: only `channel` is missing, and only
        // because of the third file.
        let ms = metric_set(
            json!({"MetricSource": {"S3SourceConfig": {"FileFormatDescriptor": {"CsvFormatDescriptor": null, "JsonFormatDescriptor": {}}}}}),
        );
        let schema = Schema::from_metric_set(&ms).unwrap();
        let full = "{\"ts\": \"2021-02-14 00:10:00\", \"region\": \"EU\", \"channel\": \"web\", \"revenue\": 1, \"latency\": 2}\n";
        let mut agg = Aggregator::new(&schema);
        agg.read_object("a.json", Ok(full.as_bytes()));
        agg.read_object("b.json", Ok(&b"\n"[..]));
        assert!(
            agg.quality().missing_columns.is_empty(),
            "an empty file after a full one misses nothing: {:?}",
            agg.quality().missing_columns
        );
        agg.read_object(
            "c.json",
            Ok(&b"{\"ts\": \"2021-02-14 00:20:00\", \"region\": \"EU\", \"revenue\": 1, \"latency\": 2}\n"[..]),
        );
        let missing: Vec<&str> = agg
            .quality()
            .missing_columns
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(missing, ["channel"]);
    }

    #[test]
    fn filters_window_and_time_zone() {
        let ms = metric_set(json!({"DimensionFilterList": [
            {"Name": "region", "FilterList": [{"DimensionValue": "EU", "FilterOperation": "EQUALS"}, {"DimensionValue": "APAC", "FilterOperation": "EQUALS"}]},
            {"Name": "channel", "FilterList": [{"DimensionValue": "web", "FilterOperation": "EQUALS"}]}]}));
        let csv = "ts,region,channel,revenue,latency\n\
            2021-02-14 00:10:00,EU,web,1,1\n\
            2021-02-14 00:10:00,APAC,web,2,1\n\
            2021-02-14 00:10:00,EU,app,4,1\n\
            2021-02-14 00:10:00,US,web,8,1\n";
        let (data, q) = read(&ms, csv.as_bytes());
        assert_eq!(
            data[0].series.len(),
            2,
            "OR across values, AND across dimensions"
        );
        assert_eq!(q.rows_filtered, 2);

        let schema = Schema::from_metric_set(&metric_set(json!({}))).unwrap();
        let mut agg = Aggregator::new(&schema).with_window(T0 + H, T0 + 2 * H);
        agg.read_reader(CSV.as_bytes()).unwrap();
        assert_eq!(agg.quality().rows_outside_interval, 3);
        let data = agg.finish();
        assert_eq!((data.len(), data[0].start), (1, T0 + H));

        // In Europe/Berlin, 01:10 local is 00:10 UTC; a daily interval starts at local midnight.
        let ms = metric_set(json!({"Timezone": "Europe/Berlin", "MetricSetFrequency": "P1D"}));
        let (data, _) = read(&ms, "ts,region,channel,revenue,latency\n2021-02-14 01:10:00,EU,web,1,1\n2021-02-14 23:59:00,EU,web,1,1\n".as_bytes());
        assert_eq!(data.len(), 1);
        assert_eq!(data[0].start, T0 - H, "2021-02-14T00:00+01:00");
        assert_eq!(value(&data, T0 - H, &["EU", "web"], 0), Some(2.0));
    }
}
