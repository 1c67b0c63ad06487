//! The README's headline figures, guarded: each bench runs as a user runs it and its figure
//! must stay at or above what the README claims, so a change that lowers one fails CI.
//!
//! They read `../shared/data` and take minutes in the dev profile, seconds in release, so
//! they are ignored in debug builds (`cargo test` lists them as ignored, with this reason)
//! and `.ci/run` runs them in release: `cargo test --release -p seismo-cli --test figures`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn shared_data(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: the figures are measured on ../shared/data beside the repository",
        path.display()
    );
    path
}

/// Runs `seismo bench ARGS` and returns its stdout.
fn bench(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_seismo"))
        .arg("bench")
        .args(args)
        .output()
        .expect("the seismo binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "seismo bench {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn number(v: &serde_json::Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"))
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "a release figure: .ci/run runs it with --release"
)]
fn nab_meets_its_goals_on_all_three_profiles() {
    let out = tempfile::tempdir().unwrap();
    let data = shared_data("nab");
    let stdout = bench(&[
        "nab",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
        "--json",
    ]);
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["files"], 58, "{summary}");
    // The goals (issue 3) at the optimised thresholds, as the scoreboard scores its entries;
    // and the README's figures at the alert default, to one decimal.
    for (scores, goals) in [
        (&summary["optimised"], [76.0, 68.0, 81.0]),
        (&summary["alertDefault"]["scores"], [75.9, 68.9, 80.2]),
    ] {
        for (profile, goal) in ["standard", "reward_low_FP_rate", "reward_low_FN_rate"]
            .into_iter()
            .zip(goals)
        {
            let score = number(&scores[profile], profile);
            assert!(
                score >= goal,
                "NAB {profile}: {score:.3} < {goal}\n{summary}"
            );
        }
    }
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "a release figure: .ci/run runs it with --release"
)]
fn ecommerce_events_and_root_causes_are_all_found() {
    let data = shared_data("ecommerce");
    let stdout = bench(&[
        "ecommerce",
        "--data",
        data.to_str().unwrap(),
        "--thresholds",
        "50,70",
        "--json",
    ]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
    assert_eq!(rows.len(), 2, "{stdout}");
    for row in &rows {
        let all = row["scores"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["measure"] == "all")
            .unwrap_or_else(|| panic!("no overall score: {row}"));
        // 184 labelled events in the scored 30% (README).
        assert_eq!(all["events"], 184, "{row}");
        let f1 = number(&all["f1"], "event F1");
        assert!(f1 >= 0.99, "e-commerce event F1 {f1:.3} < 0.99\n{row}");
        let causes = number(&row["rootCauses"]["f1"], "root-cause F1");
        assert!(
            causes >= 0.99,
            "e-commerce root-cause F1 {causes:.3} < 0.99\n{row}"
        );
    }
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "a release figure: .ci/run runs it with --release"
)]
fn squeeze_b0_root_causes_stay_above_the_published_methods() {
    let data = shared_data("rca/squeeze-B0-sample");
    let out = tempfile::tempdir().unwrap();
    let predictions = out.path().join("b0.csv");
    let stdout = bench(&[
        "rca",
        "--data",
        data.to_str().unwrap(),
        "--out",
        predictions.to_str().unwrap(),
    ]);
    let overall = stdout
        .lines()
        .find(|l| l.starts_with("overall"))
        .unwrap_or_else(|| panic!("no overall line:\n{stdout}"));
    let cases: usize = overall.split_whitespace().nth(1).unwrap().parse().unwrap();
    let f1: f64 = overall.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert_eq!(cases, 90, "{stdout}");
    // Squeeze itself reaches 0.966 on this sample; the README claims 0.975.
    assert!(f1 >= 0.97, "Squeeze B0 F1 {f1:.3} < 0.97\n{stdout}");
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "a release figure: .ci/run runs it with --release"
)]
fn generated_b0_root_causes_generalise() {
    // 100 unseen cases per setting (the README's figure is on 1,000): every setting at or
    // above 0.94, all of them at or above 0.97.
    let stdout = bench(&["rca", "--generate", "--cases", "100", "--seeds", "eval"]);
    let f1 = |setting: &str| {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(setting))
            .unwrap_or_else(|| panic!("no {setting} line in:\n{stdout}"));
        let value = line.split_whitespace().last().unwrap();
        value.parse::<f64>().unwrap()
    };
    for layer in 1..=3 {
        for causes in 1..=3 {
            let setting = format!("B_cuboid_layer_{layer}_n_ele_{causes}");
            assert!(
                f1(&setting) >= 0.94,
                "{setting}: {}\n{stdout}",
                f1(&setting)
            );
        }
    }
    assert!(f1("overall") >= 0.97, "{stdout}");
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "a release figure: .ci/run runs it with --release"
)]
fn sliced_business_metrics_beat_the_seasonal_median_baseline() {
    // The evaluation seeds at the default threshold: Seismo finds at least as many incidents
    // as the baseline at 3.5 sigmas in every |z| bin from 3 up, at about its false-group rate
    // (within 5%), and at least 80% of those at |z| >= 8 (docs/benchmarks.md has the table).
    let stdout = bench(&["business", "--json"]);
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let rows = summary["rows"].as_array().unwrap();
    let row = |name: &str| {
        rows.iter()
            .find(|r| r["detector"] == name)
            .unwrap_or_else(|| panic!("no row {name} in {stdout}"))
    };
    let (seismo, baseline) = (row("seismo 50"), row("baseline 3.5"));
    for bin in 1..=3 {
        let found = |r: &serde_json::Value| number(&r["tally"]["bins"][bin]["found"], "found");
        assert!(
            found(seismo) >= found(baseline),
            "bin {bin}: Seismo {} against the baseline's {}",
            found(seismo),
            found(baseline)
        );
    }
    let false_rate = |r: &serde_json::Value| number(&r["falsePer1000SeriesDays"], "false");
    assert!(
        false_rate(seismo) <= 1.05 * false_rate(baseline),
        "false groups per 1,000 series-days: Seismo {} against {}",
        false_rate(seismo),
        false_rate(baseline)
    );
    assert!(number(&seismo["recall"][3], "recall") >= 0.80, "{seismo}");
}
