//! Labels files: `measure,start,end[,dimensions,...]`, one labelled event per row.

use std::path::Path;

use anyhow::{Context, Result};
use seismo_lab::eval::LabelledEvent;
use seismo_shared::time::{TimestampFormat, Zone};

/// Reads a time as the API writes it (or any format the auto-detection takes), in UTC.
pub(crate) fn parse_time(s: &str) -> Option<i64> {
    TimestampFormat::Auto.parse_value(s, Zone::UTC)
}

/// A CSV file with a header, opened for reading.
pub(crate) struct CsvFile {
    pub(crate) reader: csv::Reader<std::fs::File>,
    headers: csv::StringRecord,
    path: std::path::PathBuf,
}

impl CsvFile {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let mut reader =
            csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
        let headers = reader.headers()?.clone();
        Ok(CsvFile {
            reader,
            headers,
            path: path.to_path_buf(),
        })
    }

    /// The index of a column, or `None` when the file does not have it.
    pub(crate) fn find(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == name)
    }

    /// The index of a column the file must have.
    pub(crate) fn column(&self, name: &str) -> Result<usize> {
        self.find(name)
            .with_context(|| format!("{} has no {name} column", self.path.display()))
    }
}

/// Reads a labels file.
pub(crate) fn read(path: &Path) -> Result<Vec<LabelledEvent>> {
    let mut file = CsvFile::open(path)?;
    let (m, s, e) = (
        file.column("measure")?,
        file.column("start")?,
        file.column("end")?,
    );
    let d = file.find("dimensions");
    let reader = &mut file.reader;
    let mut out = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.with_context(|| format!("{} row {}", path.display(), i + 2))?;
        let time = |c: usize| {
            row.get(c)
                .and_then(parse_time)
                .with_context(|| format!("{} row {}: unreadable time", path.display(), i + 2))
        };
        out.push(LabelledEvent {
            measure: row.get(m).unwrap_or_default().to_string(),
            start: time(s)?,
            end: time(e)?,
            dimensions: d
                .and_then(|d| row.get(d))
                .filter(|v| !v.is_empty())
                .map(str::to_string),
        });
    }
    Ok(out)
}
