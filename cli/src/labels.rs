//! Labels files: `measure,start,end[,dimensions,...]`, one labelled event per row.

use std::path::Path;

use anyhow::{Context, Result};
use seismo_shared::eval::LabelledEvent;
use seismo_shared::time::{TimestampFormat, Zone};

/// Reads a time as the API writes it (or any format the auto-detection takes), in UTC.
pub(crate) fn parse_time(s: &str) -> Option<i64> {
    TimestampFormat::Auto.parse_value(s, Zone::UTC)
}

/// Reads a labels file.
pub(crate) fn read(path: &Path) -> Result<Vec<LabelledEvent>> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("{} has no {name} column", path.display()))
    };
    let (m, s, e) = (col("measure")?, col("start")?, col("end")?);
    let d = headers.iter().position(|h| h == "dimensions");
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
