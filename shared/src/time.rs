//! Timestamps as the old service read them: Java-style patterns (`yyyy-MM-dd HH:mm:ss`,
//! `yyyy-MM-dd`, `MM/dd/yyyy hh:mm a`, `yyyy-MM-dd'T'HH:mm:ssXXX`, ...), epoch seconds, the
//! metric set's time zone for timestamps that carry no offset, and the intervals of a frequency.
//!
//! Times are epoch seconds (`i64`, UTC) everywhere else in the crate.

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Timelike,
};
use chrono_tz::Tz;

use crate::model::Frequency;

/// A time zone: UTC or an IANA zone such as `Europe/Berlin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone(Tz);

impl Zone {
    /// UTC.
    pub const UTC: Zone = Zone(Tz::UTC);

    /// Parses an IANA zone name (`UTC`, `Europe/Berlin`, `America/New_York`).
    pub fn parse(name: &str) -> Result<Zone, String> {
        name.trim().parse::<Tz>().map(Zone).map_err(|_| {
            format!("unknown time zone {name:?}: expected an IANA name such as Europe/Berlin")
        })
    }

    /// The zone's name.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// Local wall-clock time to epoch seconds. Ambiguous times (the repeated hour when clocks go
    /// back) take the earlier instant; times that do not exist (skipped when clocks go forward)
    /// are `None`.
    pub fn local_to_epoch(&self, local: NaiveDateTime) -> Option<i64> {
        match self.0.from_local_datetime(&local) {
            LocalResult::Single(t) => Some(t.timestamp()),
            LocalResult::Ambiguous(a, b) => Some(a.timestamp().min(b.timestamp())),
            LocalResult::None => None,
        }
    }

    /// Epoch seconds to local wall-clock time.
    pub fn epoch_to_local(&self, epoch: i64) -> Option<NaiveDateTime> {
        DateTime::from_timestamp(epoch, 0).map(|t| t.with_timezone(&self.0).naive_local())
    }
}

/// One item of a translated Java pattern.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    Literal(String),
    Field(&'static str),
}

/// How a timestamp column is read.
#[derive(Debug, Clone, PartialEq)]
pub enum TimestampFormat {
    /// Try ISO-8601 / RFC 3339, `yyyy-MM-dd HH:mm:ss`, `yyyy-MM-dd HH:mm`, `yyyy-MM-dd`,
    /// `yyyy/MM/dd HH:mm:ss`, then epoch seconds (or milliseconds when the number is too large
    /// to be seconds).
    Auto,
    /// Epoch seconds (milliseconds accepted when the number is too large to be seconds).
    Epoch,
    /// A Java-style pattern.
    Pattern {
        /// The pattern as given.
        java: String,
        /// The chrono format it translates to.
        chrono: String,
        /// Whether it carries a zone offset.
        has_offset: bool,
        /// Whether it carries a time of day.
        has_time: bool,
    },
}

impl TimestampFormat {
    /// Reads the metric set's `ColumnFormat` (absent means [`TimestampFormat::Auto`]).
    pub fn parse(column_format: Option<&str>) -> Result<TimestampFormat, String> {
        let Some(java) = column_format.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(TimestampFormat::Auto);
        };
        if matches!(
            java.to_ascii_lowercase().as_str(),
            "epoch" | "epoch_seconds" | "unix"
        ) {
            return Ok(TimestampFormat::Epoch);
        }
        let items = translate(java)?;
        let fields: Vec<&str> = items
            .iter()
            .filter_map(|i| match i {
                Item::Field(f) => Some(*f),
                Item::Literal(_) => None,
            })
            .collect();
        let has = |codes: &[&str]| fields.iter().any(|f| codes.contains(f));
        if !has(&["%Y", "%y"]) || !has(&["%m", "%b", "%B"]) || !has(&["%d"]) {
            return Err(format!(
                "timestamp format {java:?} must contain a year (yyyy), a month (MM) and a day (dd)"
            ));
        }
        if has(&["%I"]) && !has(&["%p"]) {
            return Err(format!(
                "timestamp format {java:?} uses 12-hour hh without the AM/PM marker a"
            ));
        }
        let chrono = items
            .iter()
            .map(|i| match i {
                Item::Literal(l) => l.replace('%', "%%"),
                Item::Field(f) => (*f).to_string(),
            })
            .collect();
        Ok(TimestampFormat::Pattern {
            java: java.to_string(),
            chrono,
            has_offset: has(&["%z", "%:z"]),
            has_time: has(&["%H", "%I"]),
        })
    }

    /// Parses one value to epoch seconds. Values without an offset are read in `zone`.
    pub fn parse_value(&self, raw: &str, zone: Zone) -> Option<i64> {
        let raw = raw.trim();
        if raw.is_empty() {
            return None;
        }
        match self {
            TimestampFormat::Epoch => parse_epoch(raw),
            TimestampFormat::Auto => parse_auto(raw, zone),
            TimestampFormat::Pattern {
                chrono,
                has_offset,
                has_time,
                ..
            } => {
                if *has_offset {
                    // Java's X reads a Z as UTC; chrono's offsets do not.
                    let utc = raw
                        .strip_suffix('Z')
                        .map(|r| [format!("{r}+00:00"), format!("{r}+0000")]);
                    DateTime::parse_from_str(raw, chrono)
                        .ok()
                        .or_else(|| {
                            utc.iter()
                                .flatten()
                                .find_map(|r| DateTime::parse_from_str(r, chrono).ok())
                        })
                        .map(|t| t.timestamp())
                        .or_else(|| parse_rfc3339(raw))
                } else if *has_time {
                    NaiveDateTime::parse_from_str(raw, chrono)
                        .ok()
                        .and_then(|t| zone.local_to_epoch(t))
                } else {
                    NaiveDate::parse_from_str(raw, chrono)
                        .ok()
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                        .and_then(|t| zone.local_to_epoch(t))
                }
            }
        }
    }
}

fn parse_epoch(raw: &str) -> Option<i64> {
    let n: f64 = raw.parse().ok()?;
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    // Larger than any epoch second before the year 5138: read as milliseconds.
    let secs = if n >= 1e11 { n / 1000.0 } else { n };
    (secs < 1e11).then_some(secs.floor() as i64)
}

fn parse_rfc3339(raw: &str) -> Option<i64> {
    let normalized = raw.replacen(' ', "T", 1);
    DateTime::parse_from_rfc3339(&normalized)
        .ok()
        .map(|t| t.timestamp())
}

fn parse_auto(raw: &str, zone: Zone) -> Option<i64> {
    if let Some(t) = parse_rfc3339(raw) {
        return Some(t);
    }
    const NAIVE: [&str; 6] = [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M:%S",
    ];
    for f in NAIVE {
        if let Ok(t) = NaiveDateTime::parse_from_str(raw, f) {
            return zone.local_to_epoch(t);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return zone.local_to_epoch(d.and_hms_opt(0, 0, 0)?);
    }
    if raw.bytes().all(|b| b.is_ascii_digit()) {
        return parse_digits(raw, zone);
    }
    if raw.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return parse_epoch(raw);
    }
    None
}

/// A number without a format: epoch seconds or milliseconds when that is a time since 2000
/// and not in the future; otherwise a compact date of its length (`yyyyMMdd`, `yyyyMMddHH`,
/// `yyyyMMddHHmm`, `yyyyMMddHHmmss`) when it is one, so `2026010500` is 5 AM on 5 January
/// 2026, not a time in 2034; otherwise epoch.
fn parse_digits(raw: &str, zone: Zone) -> Option<i64> {
    const Y2000: i64 = 946_684_800;
    let epoch = parse_epoch(raw);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(i64::MAX, |d| d.as_secs() as i64);
    if epoch.is_some_and(|t| (Y2000..=now.saturating_add(86_400)).contains(&t)) {
        return epoch;
    }
    let compact = match raw.len() {
        8 => NaiveDate::parse_from_str(raw, "%Y%m%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0)),
        10 => NaiveDateTime::parse_from_str(&format!("{raw}00"), "%Y%m%d%H%M").ok(),
        12 => NaiveDateTime::parse_from_str(raw, "%Y%m%d%H%M").ok(),
        14 => NaiveDateTime::parse_from_str(raw, "%Y%m%d%H%M%S").ok(),
        _ => None,
    };
    compact.and_then(|t| zone.local_to_epoch(t)).or(epoch)
}

/// Translates a Java `DateTimeFormatter`-style pattern into chrono items.
fn translate(java: &str) -> Result<Vec<Item>, String> {
    let chars: Vec<char> = java.chars().collect();
    let mut items = Vec::new();
    let mut i = 0;
    let push_literal = |items: &mut Vec<Item>, s: &str| match items.last_mut() {
        Some(Item::Literal(l)) => l.push_str(s),
        _ => items.push(Item::Literal(s.to_string())),
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // Quoted literal; '' is a single quote.
            let mut j = i + 1;
            let mut lit = String::new();
            loop {
                match chars.get(j) {
                    None => return Err(format!("timestamp format {java:?} has an unclosed quote")),
                    Some('\'') if chars.get(j + 1) == Some(&'\'') => {
                        lit.push('\'');
                        j += 2;
                    }
                    Some('\'') => break,
                    Some(&ch) => {
                        lit.push(ch);
                        j += 1;
                    }
                }
            }
            if lit.is_empty() {
                lit.push('\'');
            }
            push_literal(&mut items, &lit);
            i = j + 1;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            push_literal(&mut items, &c.to_string());
            i += 1;
            continue;
        }
        let mut run = 1;
        while chars.get(i + run) == Some(&c) {
            run += 1;
        }
        let field = match (c, run) {
            ('y' | 'u', 4) => "%Y",
            ('y' | 'u', 2) => "%y",
            ('M', 1 | 2) => "%m",
            ('M', 3) => "%b",
            ('M', 4) => "%B",
            ('d', 1 | 2) => "%d",
            ('H', 1 | 2) => "%H",
            ('h', 1 | 2) => "%I",
            ('m', 1 | 2) => "%M",
            ('s', 1 | 2) => "%S",
            ('S', 3) => "%3f",
            ('S', 6) => "%6f",
            ('S', 9) => "%9f",
            ('a', 1) => "%p",
            ('Z', 1..=3) | ('x', 1 | 2) | ('X', 1 | 2) => "%z",
            ('X', 3) | ('x', 3) | ('Z', 5) => "%:z",
            _ => {
                let token: String = std::iter::repeat_n(c, run).collect();
                return Err(format!(
                    "timestamp format {java:?}: unsupported pattern letters {token:?}"
                ));
            }
        };
        items.push(Item::Field(field));
        i += run;
    }
    Ok(items)
}

/// Formats epoch seconds with a Java-style pattern in `zone` (used to expand templated paths).
pub fn format_java(epoch: i64, java: &str, zone: Zone) -> Result<String, String> {
    let items = translate(java)?;
    let local = zone
        .epoch_to_local(epoch)
        .ok_or_else(|| format!("time {epoch} is out of range"))?;
    let mut out = String::new();
    for item in items {
        match item {
            Item::Literal(l) => out.push_str(&l),
            Item::Field(f) => out.push_str(&local.format(f).to_string()),
        }
    }
    Ok(out)
}

/// The start of the interval of `frequency` that contains `epoch`, aligned to the wall clock of
/// `zone` (a daily interval starts at local midnight; an hourly one on the local hour).
pub fn interval_start(epoch: i64, frequency: Frequency, zone: Zone) -> Option<i64> {
    let local = zone.epoch_to_local(epoch)?;
    if frequency == Frequency::P1d {
        return zone
            .local_to_epoch(local.date().and_hms_opt(0, 0, 0)?)
            .or_else(|| {
                // Midnight skipped by a DST change: the day starts at the first instant after it.
                zone.local_to_epoch(local.date().and_hms_opt(1, 0, 0)?)
            });
    }
    let offset = local.and_utc().timestamp() - epoch;
    let step = frequency.seconds();
    let local_secs = epoch + offset;
    Some(local_secs - local_secs.rem_euclid(step) - offset)
}

/// The start of the interval after the one starting at `start`.
pub fn next_interval(start: i64, frequency: Frequency, zone: Zone) -> Option<i64> {
    if frequency == Frequency::P1d {
        let local = zone.epoch_to_local(start)?;
        let next = local.date().succ_opt()?.and_hms_opt(0, 0, 0)?;
        return zone
            .local_to_epoch(next)
            .or_else(|| zone.local_to_epoch(next + Duration::hours(1)));
    }
    Some(start + frequency.seconds())
}

/// Every interval start from the one containing `from` up to the one containing `to`.
pub fn intervals(from: i64, to: i64, frequency: Frequency, zone: Zone) -> Vec<i64> {
    let mut out = Vec::new();
    let (Some(mut t), Some(last)) = (
        interval_start(from, frequency, zone),
        interval_start(to, frequency, zone),
    ) else {
        return out;
    };
    while t <= last {
        out.push(t);
        match next_interval(t, frequency, zone) {
            Some(n) if n > t => t = n,
            _ => break,
        }
    }
    out
}

/// The local hour of day and day of week (0 = Monday) of an instant, for seasonal generators.
pub fn local_hour_and_weekday(epoch: i64, zone: Zone) -> (u32, u32) {
    zone.epoch_to_local(epoch)
        .map(|t| (t.hour(), t.weekday().num_days_from_monday()))
        .unwrap_or((0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp()
    }

    #[test]
    fn patterns_of_the_old_service_parse() {
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        let cases: &[(&str, &str, &str, Zone, &str)] = &[
            (
                "seconds",
                "yyyy-MM-dd HH:mm:ss",
                "2021-02-14 04:00:00",
                Zone::UTC,
                "2021-02-14T04:00:00Z",
            ),
            (
                "date only",
                "yyyy-MM-dd",
                "2021-02-14",
                Zone::UTC,
                "2021-02-14T00:00:00Z",
            ),
            (
                "12-hour pm",
                "yyyy-MM-dd hh:mm:ss a",
                "2021-02-14 04:30:00 PM",
                Zone::UTC,
                "2021-02-14T16:30:00Z",
            ),
            (
                "12-hour am midnight",
                "MM/dd/yyyy hh:mm a",
                "02/14/2021 12:05 AM",
                Zone::UTC,
                "2021-02-14T00:05:00Z",
            ),
            (
                "iso with Z",
                "yyyy-MM-dd'T'HH:mm:ssXXX",
                "2021-02-14T04:00:00Z",
                berlin,
                "2021-02-14T04:00:00Z",
            ),
            (
                "iso with offset",
                "yyyy-MM-dd'T'HH:mm:ssXXX",
                "2021-02-14T05:00:00+01:00",
                Zone::UTC,
                "2021-02-14T04:00:00Z",
            ),
            (
                "a Z where the pattern's X offset goes, not ISO",
                "dd/MM/yyyy HH:mm:ssX",
                "14/02/2021 04:00:00Z",
                berlin,
                "2021-02-14T04:00:00Z",
            ),
            (
                "basic offset",
                "yyyy-MM-dd HH:mm:ssZ",
                "2021-02-14 05:00:00+0100",
                Zone::UTC,
                "2021-02-14T04:00:00Z",
            ),
            (
                "millis",
                "yyyy-MM-dd HH:mm:ss.SSS",
                "2021-02-14 04:00:00.250",
                Zone::UTC,
                "2021-02-14T04:00:00Z",
            ),
            (
                "zone applies",
                "yyyy-MM-dd HH:mm:ss",
                "2021-02-14 05:00:00",
                berlin,
                "2021-02-14T04:00:00Z",
            ),
            (
                "summer time",
                "yyyy-MM-dd HH:mm",
                "2021-07-01 06:00",
                berlin,
                "2021-07-01T04:00:00Z",
            ),
            (
                "month name",
                "dd-MMM-yyyy HH:mm",
                "14-Feb-2021 04:00",
                Zone::UTC,
                "2021-02-14T04:00:00Z",
            ),
        ];
        for (name, pattern, raw, zone, want) in cases {
            let f = TimestampFormat::parse(Some(pattern)).unwrap();
            assert_eq!(f.parse_value(raw, *zone), Some(utc(want)), "case {name}");
        }
    }

    #[test]
    fn epoch_and_auto_detection() {
        let e = TimestampFormat::parse(Some("epoch")).unwrap();
        assert_eq!(e.parse_value("1613275200", Zone::UTC), Some(1_613_275_200));
        assert_eq!(
            e.parse_value("1613275200000", Zone::UTC),
            Some(1_613_275_200)
        );
        assert_eq!(e.parse_value("-5", Zone::UTC), None);
        assert_eq!(e.parse_value("NaN", Zone::UTC), None);
        let a = TimestampFormat::Auto;
        for raw in [
            "2021-02-14 04:00:00",
            "2021-02-14T04:00:00Z",
            "2021-02-14T04:00:00",
            "1613275200",
        ] {
            assert_eq!(a.parse_value(raw, Zone::UTC), Some(1_613_275_200), "{raw}");
        }
        assert_eq!(a.parse_value("yesterday", Zone::UTC), None);
        // Compact dates are not read as epoch times in the future or before 2000.
        for (raw, want) in [
            ("2021021404", "2021-02-14T04:00:00Z"),
            ("20210214", "2021-02-14T00:00:00Z"),
            ("202102140430", "2021-02-14T04:30:00Z"),
            ("20210214043015", "2021-02-14T04:30:15Z"),
        ] {
            assert_eq!(a.parse_value(raw, Zone::UTC), Some(utc(want)), "{raw}");
        }
        assert_eq!(
            a.parse_value("1613275200000", Zone::UTC),
            Some(1_613_275_200),
            "milliseconds stay epoch"
        );
    }

    #[test]
    fn wrong_values_and_formats_are_refused() {
        let f = TimestampFormat::parse(Some("yyyy-MM-dd HH:mm:ss")).unwrap();
        for raw in [
            "",
            "2021-13-01 00:00:00",
            "2021-02-30 00:00:00",
            "14/02/2021",
            "2021-02-14 25:00:00",
        ] {
            assert_eq!(f.parse_value(raw, Zone::UTC), None, "{raw:?}");
        }
        for bad in [
            "HH:mm",
            "yyyy-MM-dd hh:mm",
            "yyyy-MM-dd 'T",
            "yyyy-MM-dd QQ",
        ] {
            assert!(TimestampFormat::parse(Some(bad)).is_err(), "{bad}");
        }
        assert!(Zone::parse("Mars/Olympus").is_err());
    }

    #[test]
    fn dst_days_in_local_time() {
        let ny = Zone::parse("America/New_York").unwrap();
        let f = TimestampFormat::parse(Some("yyyy-MM-dd HH:mm")).unwrap();
        // Spring forward 2021-03-14: 02:30 does not exist.
        assert_eq!(f.parse_value("2021-03-14 02:30", ny), None);
        assert_eq!(
            f.parse_value("2021-03-14 03:30", ny),
            Some(utc("2021-03-14T07:30:00Z"))
        );
        // Fall back 2021-11-07: 01:30 happens twice; the earlier instant is taken.
        assert_eq!(
            f.parse_value("2021-11-07 01:30", ny),
            Some(utc("2021-11-07T05:30:00Z"))
        );
        // The daily intervals of those days are 23 and 25 hours long.
        let d = utc("2021-03-14T12:00:00Z");
        let start = interval_start(d, Frequency::P1d, ny).unwrap();
        assert_eq!(start, utc("2021-03-14T05:00:00Z"));
        assert_eq!(
            next_interval(start, Frequency::P1d, ny).unwrap() - start,
            23 * 3600
        );
        let fall = interval_start(utc("2021-11-07T12:00:00Z"), Frequency::P1d, ny).unwrap();
        assert_eq!(
            next_interval(fall, Frequency::P1d, ny).unwrap() - fall,
            25 * 3600
        );
        // Hourly intervals on a DST day stay one hour long.
        let hours = intervals(
            utc("2021-03-14T05:00:00Z"),
            utc("2021-03-15T03:59:00Z"),
            Frequency::Pt1h,
            ny,
        );
        assert_eq!(hours.len(), 23);
    }

    #[test]
    fn intervals_align_to_the_local_clock() {
        let kolkata = Zone::parse("Asia/Kolkata").unwrap();
        let t = utc("2021-02-14T04:10:00Z"); // 09:40 local
        assert_eq!(
            interval_start(t, Frequency::Pt1h, kolkata),
            Some(utc("2021-02-14T03:30:00Z"))
        );
        assert_eq!(
            interval_start(t, Frequency::Pt1h, Zone::UTC),
            Some(utc("2021-02-14T04:00:00Z"))
        );
        assert_eq!(
            interval_start(t, Frequency::Pt5m, Zone::UTC),
            Some(utc("2021-02-14T04:10:00Z"))
        );
        assert_eq!(
            interval_start(t, Frequency::Pt10m, Zone::UTC),
            Some(utc("2021-02-14T04:10:00Z"))
        );
        assert_eq!(
            interval_start(t + 599, Frequency::Pt10m, Zone::UTC),
            Some(utc("2021-02-14T04:10:00Z"))
        );
        assert_eq!(
            intervals(t, t + 3 * 3600, Frequency::Pt1h, Zone::UTC).len(),
            4
        );
    }

    #[test]
    fn java_patterns_format_paths() {
        let t = utc("2021-02-14T04:00:00Z");
        assert_eq!(format_java(t, "yyyyMMdd", Zone::UTC).unwrap(), "20210214");
        assert_eq!(format_java(t, "HHmm", Zone::UTC).unwrap(), "0400");
        assert_eq!(
            format_java(t, "yyyy-MM-dd", Zone::UTC).unwrap(),
            "2021-02-14"
        );
        let tokyo = Zone::parse("Asia/Tokyo").unwrap();
        assert_eq!(format_java(t, "HH", tokyo).unwrap(), "13");
    }
}
