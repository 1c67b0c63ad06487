//! Series the engine's tests share.

use super::{EngineConfig, Scored, SeriesState};
use crate::model::Frequency;

pub(super) const H: i64 = 3600;

/// A deterministic hourly series with daily and weekly cycles and small noise.
pub(super) fn seasonal(t: usize) -> f64 {
    let hour = (t % 24) as f64;
    let weekday = (t / 24) % 7;
    let daily = 100.0 + 60.0 * (std::f64::consts::TAU * (hour - 6.0) / 24.0).sin();
    let weekly = if weekday >= 5 { 0.7 } else { 1.0 };
    // Uniform noise in +-2 from a splitmix64 hash of t: repeatable, without structure.
    let mut z = (t as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let noise = (z >> 11) as f64 / (1u64 << 53) as f64 * 4.0 - 2.0;
    daily * weekly + noise
}

pub(super) fn run(
    values: impl IntoIterator<Item = Option<f64>>,
) -> (SeriesState, Vec<Option<Scored>>) {
    let config = EngineConfig::for_frequency(Frequency::Pt1h);
    let mut state = SeriesState::new(&config);
    let out = values
        .into_iter()
        .enumerate()
        .map(|(i, v)| state.observe(&config, i as i64 * H, v))
        .collect();
    (state, out)
}

/// Uniform noise in -1..1 from a splitmix64 hash of `t` and a seed.
pub(super) fn noise(t: usize, seed: u64) -> f64 {
    let mut z = (t as u64)
        .wrapping_add(seed.wrapping_mul(0x2545_f491_4f6c_dd1d))
        .wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

/// Three years of daily sales: weekends at 70%, noise of 2%, and a holiday season of 12
/// days at +50% from day 330 of each year (365 days apart, so its weekday moves).
pub(super) fn daily_sales(t: usize, season: bool) -> f64 {
    let weekly = if t % 7 >= 5 { 0.7 } else { 1.0 };
    let day = t % 365;
    let holiday = if season && (330..342).contains(&day) {
        1.5
    } else {
        1.0
    };
    1000.0 * weekly * holiday * (1.0 + 0.02 * noise(t, 7))
}

pub(super) fn run_daily(
    config: &EngineConfig,
    values: impl Fn(usize) -> f64,
) -> (SeriesState, Vec<Scored>) {
    let mut state = SeriesState::new(config);
    let out = (0..3 * 365)
        .map(|t| {
            state
                .observe(config, t as i64 * 86_400, Some(values(t)))
                .unwrap()
        })
        .collect();
    (state, out)
}
