//! `seismo bench rca`: root-cause localisation on datasets laid out like Squeeze's
//! (`SETTING/injection_info.csv` + one `real,predict,dims...` file per case) or RobustSpot's
//! (`anomaly.yaml` + one `min,dims...,value,cnt` file per case, measure `(cnt - value) / cnt`).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use seismo_lab::squeeze_cases::{self, CaseOptions};
use seismo_shared::rca::{self, Leaves, RcaOptions};

/// One case: its leaves and its true cause set.
struct Case {
    setting: String,
    name: String,
    truth: String,
    leaves: Leaves,
}

fn read_csv(path: &Path) -> Result<(Vec<String>, Vec<csv::StringRecord>)> {
    let mut r =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let headers = r.headers()?.iter().map(str::to_string).collect();
    let rows = r
        .records()
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("reading {}", path.display()))?;
    Ok((headers, rows))
}

fn number(row: &csv::StringRecord, i: usize) -> f64 {
    row.get(i)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(f64::NAN)
}

/// Squeeze layout: one setting folder.
fn squeeze_setting(dir: &Path, setting: &str) -> Result<Vec<Case>> {
    let (headers, rows) = read_csv(&dir.join("injection_info.csv"))?;
    let col = |n: &str| {
        headers
            .iter()
            .position(|h| h == n)
            .with_context(|| format!("{}: no {n} column", dir.display()))
    };
    let (set, ts) = (col("set")?, col("timestamp")?);
    let mut cases = Vec::new();
    for row in rows {
        let name = row.get(ts).unwrap_or_default().trim().to_string();
        let (h, leaves_rows) = read_csv(&dir.join(format!("{name}.csv")))?;
        let real = h
            .iter()
            .position(|c| c == "real")
            .context("no real column")?;
        let predict = h
            .iter()
            .position(|c| c == "predict")
            .context("no predict column")?;
        let dims: Vec<usize> = (0..h.len())
            .filter(|&i| i != real && i != predict)
            .collect();
        let mut leaves = Leaves::new(dims.iter().map(|&i| h[i].clone()).collect());
        for r in &leaves_rows {
            let values: Vec<&str> = dims.iter().map(|&i| r.get(i).unwrap_or_default()).collect();
            leaves.push(&values, number(r, real), number(r, predict));
        }
        cases.push(Case {
            setting: setting.to_string(),
            name,
            truth: row.get(set).unwrap_or_default().to_string(),
            leaves,
        });
    }
    Ok(cases)
}

/// `{'bitrate':2000, 'p2p':1}` or a list of such maps, as `bitrate=2000&p2p=1;...`.
fn yaml_cause(text: &str) -> String {
    let mut causes = Vec::new();
    for group in text.split('{').skip(1) {
        let body = group.split('}').next().unwrap_or_default();
        let pairs: Vec<String> = body
            .split(',')
            .filter_map(|kv| {
                let (k, v) = kv.split_once(':')?;
                let clean = |s: &str| s.trim().trim_matches(|c| c == '\'' || c == '"').to_string();
                Some(format!("{}={}", clean(k), clean(v)))
            })
            .collect();
        if !pairs.is_empty() {
            causes.push(pairs.join("&"));
        }
    }
    causes.join(";")
}

/// RobustSpot layout: `anomaly.yaml` lists `data`, `timestamp`, `cause` per case.
fn robustspot(dir: &Path) -> Result<Vec<Case>> {
    let yaml = std::fs::read_to_string(dir.join("anomaly.yaml")).context("reading anomaly.yaml")?;
    let mut entries: Vec<(String, i64, String)> = Vec::new();
    for line in yaml.lines() {
        let t = line.trim().trim_start_matches("- ").trim();
        if let Some(v) = t.strip_prefix("data:") {
            entries.push((
                v.trim().trim_matches('\'').trim_matches('"').to_string(),
                0,
                String::new(),
            ));
        } else if let (Some(v), Some(e)) = (t.strip_prefix("timestamp:"), entries.last_mut()) {
            e.1 = v
                .trim()
                .parse()
                .with_context(|| format!("bad timestamp {v}"))?;
        } else if let (Some(v), Some(e)) = (t.strip_prefix("cause:"), entries.last_mut()) {
            e.2 = yaml_cause(v);
        }
    }
    let mut cases = Vec::new();
    for (name, ts, truth) in entries {
        let path = dir.join(format!("{name}.csv"));
        let (h, rows) = read_csv(&path)?;
        let col = |n: &str| {
            h.iter()
                .position(|c| c == n)
                .with_context(|| format!("{}: no {n} column", path.display()))
        };
        let (min, value, cnt) = (col("min")?, col("value")?, col("cnt")?);
        let dims: Vec<usize> = (0..h.len())
            .filter(|&i| i != min && i != value && i != cnt)
            .collect();
        // Per leaf and minute: numerator (cnt - value) and denominator (cnt).
        let mut by_leaf: HashMap<Vec<String>, BTreeMap<i64, (f64, f64)>> = HashMap::new();
        for r in &rows {
            let m = number(r, min) as i64;
            if m > ts || m < ts - 3600 {
                continue;
            }
            let key: Vec<String> = dims
                .iter()
                .map(|&i| r.get(i).unwrap_or_default().to_string())
                .collect();
            let (v, c) = (number(r, value), number(r, cnt));
            let e = by_leaf.entry(key).or_default().entry(m).or_default();
            e.0 += c - v;
            e.1 += c;
        }
        let mut minutes: Vec<i64> = by_leaf
            .values()
            .flat_map(|m| m.keys().copied())
            .filter(|&m| m < ts)
            .collect();
        minutes.sort_unstable();
        minutes.dedup();
        let previous: Vec<i64> = minutes.iter().rev().take(4).copied().collect();
        let mut leaves = Leaves::new(dims.iter().map(|&i| h[i].clone()).collect());
        let mut keys: Vec<&Vec<String>> = by_leaf.keys().collect();
        keys.sort();
        for key in keys {
            let series = &by_leaf[key];
            let Some(&(num, den)) = series.get(&ts) else {
                continue;
            };
            if den <= 0.0 {
                continue;
            }
            let (mut pn, mut pd) = (0.0, 0.0);
            for m in &previous {
                if let Some(&(n, d)) = series.get(m) {
                    pn += n;
                    pd += d;
                }
            }
            let expected_ratio = if pd > 0.0 { pn / pd } else { num / den };
            let values: Vec<&str> = key.iter().map(String::as_str).collect();
            leaves.ratio(&values, num, den, expected_ratio);
        }
        cases.push(Case {
            setting: String::new(),
            name,
            truth,
            leaves,
        });
    }
    Ok(cases)
}

fn load(dir: &Path) -> Result<Vec<Case>> {
    if dir.join("anomaly.yaml").is_file() {
        return robustspot(dir);
    }
    if dir.join("injection_info.csv").is_file() {
        let setting = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        return squeeze_setting(dir, &setting);
    }
    let mut settings: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("injection_info.csv").is_file())
        .collect();
    settings.sort();
    if settings.is_empty() {
        bail!(
            "{} holds neither anomaly.yaml nor injection_info.csv settings",
            dir.display()
        );
    }
    let mut cases = Vec::new();
    for s in settings {
        let name = s
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        cases.extend(squeeze_setting(&s, &name)?);
    }
    Ok(cases)
}

/// One localised case: its setting, name, predicted and true cause sets, and the seconds
/// localisation took.
struct Scored {
    setting: String,
    name: String,
    predicted: String,
    truth: String,
    seconds: f64,
}

fn score(setting: &str, name: String, truth: String, leaves: &Leaves) -> Scored {
    let started = Instant::now();
    let causes = rca::localize(leaves, &RcaOptions::default());
    let seconds = started.elapsed().as_secs_f64();
    Scored {
        setting: setting.to_string(),
        name,
        predicted: rca::notation(&causes, leaves),
        truth,
        seconds,
    }
}

/// Writes `setting,case,predicted`, and `truth` too when asked (generated cases have no
/// file that holds it).
fn write_predictions(out: &Path, scored: &[Scored], with_truth: bool) -> Result<()> {
    let quote = |s: &str| {
        if s.contains([',', '"']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut csv_out = String::from(if with_truth {
        "setting,case,predicted,truth\n"
    } else {
        "setting,case,predicted\n"
    });
    for s in scored {
        let _ = write!(
            csv_out,
            "{},{},{}",
            quote(&s.setting),
            quote(&s.name),
            quote(&s.predicted)
        );
        if with_truth {
            let _ = write!(csv_out, ",{}", quote(&s.truth));
        }
        csv_out.push('\n');
    }
    std::fs::write(out, csv_out).with_context(|| format!("writing {}", out.display()))
}

/// F1 per setting and overall, and the time per case: the same lines for read and generated
/// cases.
fn print_scores(scored: &[Scored]) {
    let mut by_setting: BTreeMap<&str, Vec<(String, String)>> = BTreeMap::new();
    for s in scored {
        by_setting
            .entry(&s.setting)
            .or_default()
            .push((s.predicted.clone(), s.truth.clone()));
    }
    println!("{:<28} {:>6} {:>6}", "setting", "cases", "F1");
    for (setting, cases) in &by_setting {
        let name = if setting.is_empty() { "(all)" } else { setting };
        println!("{name:<28} {:>6} {:>6.3}", cases.len(), rca::f1(cases));
    }
    let all: Vec<(String, String)> = scored
        .iter()
        .map(|s| (s.predicted.clone(), s.truth.clone()))
        .collect();
    let mean = scored.iter().map(|s| s.seconds).sum::<f64>() / scored.len().max(1) as f64;
    let max = scored.iter().map(|s| s.seconds).fold(0.0, f64::max);
    println!("{:<28} {:>6} {:>6.3}", "overall", all.len(), rca::f1(&all));
    println!(
        "time per case: mean {:.1} ms, max {:.1} ms",
        1e3 * mean,
        1e3 * max
    );
}

pub(crate) fn run(data: &Path, out: &Path) -> Result<()> {
    let cases = load(data)?;
    let scored: Vec<Scored> = cases
        .iter()
        .map(|c| score(&c.setting, c.name.clone(), c.truth.clone(), &c.leaves))
        .collect();
    write_predictions(out, &scored, false)?;
    let max_leaves = cases.iter().map(|c| c.leaves.len()).max().unwrap_or(0);
    println!(
        "{} cases from {} (up to {max_leaves} leaves); predictions in {}",
        cases.len(),
        data.display(),
        out.display()
    );
    print_scores(&scored);
    Ok(())
}

/// `bench rca --generate`: `cases` seeds from `seeds` (their first ones) per B0 setting,
/// generated in memory ([`squeeze_cases`]), localised on every core, scored as read cases are.
pub(crate) fn run_generated(cases: u64, seeds: &str, out: Option<&Path>) -> Result<()> {
    let range = squeeze_cases::seeds(seeds)
        .with_context(|| format!("--seeds {seeds}: expected eval, tune or A-B"))?;
    let end = range.start.saturating_add(cases).min(range.end);
    let seeds: Vec<u64> = (range.start..end).collect();
    let jobs: Vec<(CaseOptions, u64)> = squeeze_cases::SETTINGS
        .iter()
        .flat_map(|&(layer, n_ele)| {
            seeds
                .iter()
                .map(move |&seed| (CaseOptions::new(layer, n_ele), seed))
        })
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = Instant::now();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut scored: Vec<(usize, Scored)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((options, seed)) = jobs.get(i) else {
                            break;
                        };
                        let case = squeeze_cases::case(options, *seed);
                        done.push((
                            i,
                            score(
                                &options.setting(),
                                seed.to_string(),
                                case.truth,
                                &case.leaves,
                            ),
                        ));
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    });
    scored.sort_by_key(|(i, _)| *i);
    let scored: Vec<Scored> = scored.into_iter().map(|(_, s)| s).collect();
    if let Some(out) = out {
        write_predictions(out, &scored, true)?;
    }
    println!(
        "{} generated B0-like cases (seeds {}..{end} per setting, {} leaves each), {:.0} s on {threads} threads",
        scored.len(),
        range.start,
        squeeze_cases::DIMENSIONS
            .iter()
            .map(|d| d.1)
            .product::<usize>(),
        started.elapsed().as_secs_f64()
    );
    print_scores(&scored);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_causes_in_both_shapes() {
        assert_eq!(
            yaml_cause(" {'bitrate':2000,'p2p':1}"),
            "bitrate=2000&p2p=1"
        );
        assert_eq!(
            yaml_cause(" [{'bitrate':4000}, {'bitrate':2000}]"),
            "bitrate=4000;bitrate=2000"
        );
        assert_eq!(yaml_cause(" {'isp': '小运营商'}"), "isp=小运营商");
    }
}
