//! The Numenta Anomaly Benchmark: stream every file through the engine, write NAB's results
//! layout, and score with NAB's rules (probation, label windows, scaled sigmoid, three cost
//! profiles, one optimised threshold per profile, normalisation).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::NaiveDateTime;
use seismo_lab::stream::StreamDetector;

/// One NAB data file with its scores.
#[derive(Debug, Clone)]
pub(crate) struct Scored {
    /// `category/name.csv`.
    pub(crate) key: String,
    pub(crate) timestamps: Vec<String>,
    pub(crate) values: Vec<f64>,
    pub(crate) scores: Vec<f64>,
    /// Label windows as row index ranges (inclusive).
    pub(crate) windows: Vec<(usize, usize)>,
}

/// A cost profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Profile {
    pub(crate) tp: f64,
    pub(crate) fn_: f64,
    pub(crate) fp: f64,
}

/// NAB's scaled sigmoid, with its cap: inputs above 3 give -1.
pub(crate) fn scaled_sigmoid(y: f64) -> f64 {
    if y > 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * y).exp()) - 1.0
    }
}

/// Rows of the probationary period, which are not scored.
pub(crate) fn probation(rows: usize) -> usize {
    ((0.15 * rows as f64).floor() as usize).min(750)
}

/// What a detection at each row is worth under a profile: `Some(window)` with the weighted true
/// positive score, or `None` with the (negative) weighted false positive score.
fn row_values(file: &Scored, p: Profile) -> Vec<(Option<usize>, f64)> {
    let max_tp = scaled_sigmoid(-1.0);
    let mut out = Vec::with_capacity(file.values.len());
    let mut prev: Option<(usize, usize)> = None;
    let mut w = 0;
    for i in 0..file.values.len() {
        while w < file.windows.len() && file.windows[w].1 < i {
            prev = Some(file.windows[w]);
            w += 1;
        }
        match file.windows.get(w) {
            Some(&(l, r)) if i >= l => {
                let width = (r - l + 1) as f64;
                let y = -((r - i + 1) as f64) / width;
                out.push((Some(w), p.tp * scaled_sigmoid(y) / max_tp));
            }
            _ => {
                let v = match prev {
                    None => -1.0,
                    Some((l, r)) => {
                        let width = ((r - l + 1) as f64 - 1.0).max(1.0);
                        scaled_sigmoid((i - r) as f64 / width)
                    }
                };
                out.push((None, p.fp * v));
            }
        }
    }
    out
}

/// The result of one profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ProfileScore {
    pub(crate) threshold: f64,
    pub(crate) raw: f64,
    pub(crate) normalized: f64,
}

/// Raw score of the detections `score >= threshold` (probationary rows excluded).
pub(crate) fn raw_score(files: &[Scored], p: Profile, threshold: f64) -> f64 {
    files.iter().map(|f| file_score(f, p, threshold).raw).sum()
}

/// One file's detections at a threshold.
struct FileScore {
    raw: f64,
    /// Windows with a detection.
    found: usize,
    /// Detections outside every window.
    false_positives: usize,
}

fn file_score(f: &Scored, p: Profile, threshold: f64) -> FileScore {
    let values = row_values(f, p);
    let start = probation(f.values.len());
    let mut found = vec![false; f.windows.len()];
    let (mut raw, mut false_positives) = (0.0, 0);
    for (i, (window, v)) in values.iter().enumerate() {
        if i < start || f.scores[i].is_nan() || f.scores[i] < threshold {
            continue;
        }
        match window {
            Some(w) if !found[*w] => {
                found[*w] = true;
                raw += v;
            }
            Some(_) => {}
            None => {
                raw += v;
                false_positives += 1;
            }
        }
    }
    let found = found.iter().filter(|f| **f).count();
    raw -= p.fn_ * (f.windows.len() - found) as f64;
    FileScore {
        raw,
        found,
        false_positives,
    }
}

/// Per file at a threshold: windows found, windows, false positives, raw score.
pub(crate) fn per_file(
    files: &[Scored],
    p: Profile,
    threshold: f64,
) -> Vec<(String, usize, usize, usize, f64)> {
    files
        .iter()
        .map(|f| {
            let s = file_score(f, p, threshold);
            (
                f.key.clone(),
                s.found,
                f.windows.len(),
                s.false_positives,
                s.raw,
            )
        })
        .collect()
}

fn normalize(files: &[Scored], p: Profile, raw: f64) -> f64 {
    let windows: usize = files.iter().map(|f| f.windows.len()).sum();
    let null = -p.fn_ * windows as f64;
    let perfect = p.tp * windows as f64;
    if perfect == null {
        return 0.0;
    }
    100.0 * (raw - null) / (perfect - null)
}

/// The threshold that maximises the raw score over all files, found by one sweep over the
/// scores in decreasing order (each window keeps its earliest detection).
pub(crate) fn optimize(files: &[Scored], p: Profile) -> ProfileScore {
    // (score, file, row, window, value)
    let mut rows: Vec<(f64, usize, usize, Option<usize>, f64)> = Vec::new();
    let mut window_base = Vec::with_capacity(files.len());
    let mut n_windows = 0;
    for (fi, f) in files.iter().enumerate() {
        window_base.push(n_windows);
        let start = probation(f.values.len());
        for (i, (w, v)) in row_values(f, p).into_iter().enumerate().skip(start) {
            let score = if f.scores[i].is_nan() {
                0.0
            } else {
                f.scores[i]
            };
            rows.push((score, fi, i, w.map(|w| n_windows + w), v));
        }
        n_windows += f.windows.len();
    }
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut best_index: Vec<Option<(usize, f64)>> = vec![None; n_windows];
    let mut total = -p.fn_ * n_windows as f64;
    let mut best = ProfileScore {
        threshold: f64::INFINITY,
        raw: total,
        normalized: 0.0,
    };
    let mut k = 0;
    while k < rows.len() {
        let threshold = rows[k].0;
        while k < rows.len() && rows[k].0 == threshold {
            let (_, _, i, w, v) = rows[k];
            match w {
                Some(w) => match best_index[w] {
                    None => {
                        total += p.fn_ + v;
                        best_index[w] = Some((i, v));
                    }
                    Some((j, old)) if i < j => {
                        total += v - old;
                        best_index[w] = Some((i, v));
                    }
                    Some(_) => {}
                },
                None => total += v,
            }
            k += 1;
        }
        if total > best.raw {
            best.raw = total;
            best.threshold = threshold;
        }
    }
    let _ = window_base;
    best.normalized = normalize(files, p, best.raw);
    best
}

/// The score at a fixed threshold.
pub(crate) fn at_threshold(files: &[Scored], p: Profile, threshold: f64) -> ProfileScore {
    let raw = raw_score(files, p, threshold);
    ProfileScore {
        threshold,
        raw,
        normalized: normalize(files, p, raw),
    }
}

fn parse_time(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S"))
        .ok()
}

/// Reads every data file, streams it through a detector and attaches its windows.
pub(crate) fn load_and_score(data: &Path) -> Result<Vec<Scored>> {
    let windows_path = data.join("labels/combined_windows.json");
    let windows: BTreeMap<String, Vec<(String, String)>> = serde_json::from_str(
        &std::fs::read_to_string(&windows_path)
            .with_context(|| format!("reading {}", windows_path.display()))?,
    )?;
    let mut out = Vec::new();
    for (key, spans) in &windows {
        let path = data.join("data").join(key);
        let mut reader =
            csv::Reader::from_path(&path).with_context(|| format!("reading {}", path.display()))?;
        let (mut timestamps, mut values, mut times) = (Vec::new(), Vec::new(), Vec::new());
        for row in reader.records() {
            let row = row?;
            let ts = row.get(0).unwrap_or_default().to_string();
            let t = parse_time(&ts).with_context(|| format!("{key}: bad timestamp {ts:?}"))?;
            times.push(t.and_utc().timestamp());
            values.push(
                row.get(1)
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .unwrap_or(f64::NAN),
            );
            timestamps.push(ts);
        }
        let mut detector = StreamDetector::new();
        let scores = times
            .iter()
            .zip(&values)
            .map(|(&t, &v)| detector.push(t, v).anomaly_score)
            .collect();
        let mut idx = Vec::new();
        for (a, b) in spans {
            let (a, b) = (
                parse_time(a)
                    .with_context(|| format!("{key}: bad window {a}"))?
                    .and_utc()
                    .timestamp(),
                parse_time(b)
                    .with_context(|| format!("{key}: bad window {b}"))?
                    .and_utc()
                    .timestamp(),
            );
            let l = times.iter().position(|&t| t >= a);
            let r = times.iter().rposition(|&t| t <= b);
            if let (Some(l), Some(r)) = (l, r)
                && l <= r
            {
                idx.push((l, r));
            }
        }
        out.push(Scored {
            key: key.clone(),
            timestamps,
            values,
            scores,
            windows: idx,
        });
    }
    Ok(out)
}

/// Writes `DIR/seismo/<category>/seismo_<file>.csv` for every file.
pub(crate) fn write_results(files: &[Scored], out: &Path) -> Result<PathBuf> {
    let root = out.join("seismo");
    for f in files {
        let (category, name) = f.key.split_once('/').unwrap_or(("", &f.key));
        let dir = root.join(category);
        std::fs::create_dir_all(&dir)?;
        let mut body = String::from("timestamp,value,anomaly_score,label\n");
        for i in 0..f.values.len() {
            let label = u8::from(f.windows.iter().any(|&(l, r)| (l..=r).contains(&i)));
            let _ = writeln!(
                body,
                "{},{},{},{label}",
                f.timestamps[i], f.values[i], f.scores[i]
            );
        }
        std::fs::write(dir.join(format!("seismo_{name}")), body)?;
    }
    Ok(root)
}

/// The profiles of `config/profiles.json`, in NAB's order.
pub(crate) fn profiles(data: &Path) -> Result<Vec<(String, Profile)>> {
    let path = data.join("config/profiles.json");
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?,
    )?;
    let mut out = Vec::new();
    for name in ["standard", "reward_low_FP_rate", "reward_low_FN_rate"] {
        let m = &v[name]["CostMatrix"];
        let w = |k: &str| {
            m[k].as_f64()
                .with_context(|| format!("{}: {name}.{k} missing", path.display()))
        };
        out.push((
            name.to_string(),
            Profile {
                tp: w("tpWeight")?,
                fn_: w("fnWeight")?,
                fp: w("fpWeight")?,
            },
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(scores: Vec<f64>, windows: Vec<(usize, usize)>) -> Scored {
        let n = scores.len();
        Scored {
            key: "t/x.csv".into(),
            timestamps: vec![String::new(); n],
            values: vec![0.0; n],
            scores,
            windows,
        }
    }

    const STD: Profile = Profile {
        tp: 1.0,
        fn_: 1.0,
        fp: 0.11,
    };

    #[test]
    fn sigmoid_matches_nab() {
        assert!((scaled_sigmoid(0.0) - 0.0).abs() < 1e-12);
        assert!((scaled_sigmoid(-1.0) - 0.986_614_298_151_430_3).abs() < 1e-12);
        assert_eq!(scaled_sigmoid(3.5), -1.0);
        assert_eq!(probation(1000), 150);
        assert_eq!(probation(100_000), 750);
    }

    #[test]
    fn a_detection_at_the_left_edge_is_worth_a_full_true_positive() {
        // 100 rows, probation 15, one window 50..=59.
        let mut s = vec![0.0; 100];
        s[50] = 1.0;
        let f = vec![file(s.clone(), vec![(50, 59)])];
        assert!((raw_score(&f, STD, 0.5) - 1.0).abs() < 1e-12);
        let best = optimize(&f, STD);
        assert!((best.normalized - 100.0).abs() < 1e-9, "{best:?}");
        // Later detections in the same window do not count again; a miss costs A_FN.
        s[55] = 1.0;
        assert!((raw_score(&[file(s, vec![(50, 59)])], STD, 0.5) - 1.0).abs() < 1e-12);
        assert_eq!(
            raw_score(&[file(vec![0.0; 100], vec![(50, 59)])], STD, 0.5),
            -1.0
        );
    }

    #[test]
    fn false_positives_cost_by_distance_from_the_last_window() {
        let mut s = vec![0.0; 100];
        s[20] = 1.0; // before any window: -A_FP
        let f = [file(s, vec![(50, 59)])];
        assert!((raw_score(&f, STD, 0.5) - (-0.11 - 1.0)).abs() < 1e-12);
        let mut s = vec![0.0; 100];
        s[50] = 1.0;
        s[60] = 1.0; // just after the window: y = 1/9
        let f = [file(s, vec![(50, 59)])];
        let want = 1.0 + 0.11 * scaled_sigmoid(1.0 / 9.0);
        assert!((raw_score(&f, STD, 0.5) - want).abs() < 1e-12);
        // Probationary rows are never detections.
        let mut s = vec![0.0; 100];
        s[5] = 1.0;
        assert_eq!(raw_score(&[file(s, vec![])], STD, 0.5), 0.0);
    }

    #[test]
    fn the_sweep_agrees_with_direct_scoring() {
        let scores: Vec<f64> = (0..300)
            .map(|i| ((i * 7919) % 101) as f64 / 100.0)
            .collect();
        let f = vec![file(scores, vec![(100, 120), (200, 230)])];
        let best = optimize(&f, STD);
        let direct = raw_score(&f, STD, best.threshold);
        assert!((best.raw - direct).abs() < 1e-9, "{best:?} vs {direct}");
        for t in [0.0, 0.3, 0.9, 0.99] {
            assert!(raw_score(&f, STD, t) <= best.raw + 1e-9);
        }
    }
}
