//! Update + score per point for an hourly series with daily and weekly cycles: Seismo's engine
//! beside a naive rolling-window z-score and an augurs MSTL refit, in the same run.
//!
//! `cargo bench -p seismo-shared --bench engine`

use std::hint::black_box;

use augurs::mstl::MSTLModel;
use augurs::prelude::*;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use seismo_shared::engine::{EngineConfig, SeriesState};
use seismo_shared::model::Frequency;

const H: i64 = 3600;

/// Hourly values with daily and weekly cycles and repeatable noise.
fn series(n: usize) -> Vec<f64> {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    (0..n)
        .map(|t| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let noise = (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let hour = (t % 24) as f64;
            let weekend = (t / 24) % 7 >= 5;
            let daily = 100.0 + 60.0 * (std::f64::consts::TAU * (hour - 6.0) / 24.0).sin();
            daily * if weekend { 0.7 } else { 1.0 } + 8.0 * noise
        })
        .collect()
}

/// The naive baseline: mean and standard deviation of the last week, recomputed per point.
fn rolling_z(history: &[f64], x: f64) -> f64 {
    let n = history.len() as f64;
    let mean = history.iter().sum::<f64>() / n;
    let sd = (history.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    (x - mean) / sd.max(1e-9)
}

fn bench(c: &mut Criterion) {
    let warm = 24 * 7 * 6;
    let points = 1_000;
    let data = series(warm + points);
    let config = EngineConfig::for_frequency(Frequency::Pt1h);
    let mut trained = SeriesState::new(&config);
    for (t, v) in data[..warm].iter().enumerate() {
        trained.observe(&config, t as i64 * H, Some(*v));
    }
    println!(
        "state bytes per hourly series (daily + weekly cycles): {}",
        trained.to_bytes().len()
    );

    let mut group = c.benchmark_group("update_and_score_hourly");
    group.throughput(Throughput::Elements(points as u64));
    group.bench_function("seismo_engine", |b| {
        b.iter_batched(
            || trained.clone(),
            |mut state| {
                for (i, v) in data[warm..].iter().enumerate() {
                    black_box(state.observe(&config, (warm + i) as i64 * H, Some(*v)));
                }
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("naive_rolling_week", |b| {
        b.iter(|| {
            for t in warm..warm + points {
                black_box(rolling_z(&data[t - 168..t], data[t]));
            }
        })
    });
    group.finish();

    // MSTL refits all of a four-week window per point: far slower, so fewer points.
    let mstl_points = 20;
    let mut group = c.benchmark_group("update_and_score_hourly_mstl");
    group.sample_size(10);
    group.throughput(Throughput::Elements(mstl_points as u64));
    group.bench_function("augurs_mstl_refit_4_weeks", |b| {
        b.iter(|| {
            for t in warm..warm + mstl_points {
                let fit = MSTLModel::naive(vec![24, 168])
                    .fit(&data[t - 672..t])
                    .expect("MSTL fits");
                let next = fit.predict(1, 0.95).expect("MSTL predicts");
                black_box(next.point[0]);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
