//! A detector for one stream of `(time, value)` points whose interval and nature are not known in
//! advance (benchmarks such as NAB, ad-hoc series). No look-ahead: each point is scored before it
//! is learned, and every stream uses the same configuration.
//!
//! Per point:
//! 1. the engine's deviation `z` from the expected value (seasonal or recent level, whichever has
//!    predicted better lately), with the scale taken from the 99th percentile of recent residuals
//!    since such streams are heavy-tailed;
//! 2. the deviation from the stream's long-run distribution (mean and deviation of the last
//!    6,400 values), which catches values that are unusual for the series as a whole;
//! 3. the larger of the two, over the 99.9th percentile of the same figure over the stream's
//!    last 8,000 points (after Numenta's anomaly likelihood: how rare a deviation is for this
//!    stream ranks it), mapped into 0-0.8;
//! 4. the larger of that and two novelty signals, which score 0.95-1:
//!    - a new level: values are placed on two grids of eight levels, fixed by the range of the
//!      first 300 and the first 800 values, and a value more than half a level outside every
//!      level of a grid seen so far is new (a new extreme, or a gap in the range filled for the
//!      first time); a value more than 16 ranges outside a grid rescales it to span what was
//!      seen and the value (a flat start, then traffic). New on both grids scores 1, on one
//!      0.95, so within an event a value new on both still counts after one new on one;
//!    - a new shape: values are taken in chunks of six, each kept as its highest and lowest
//!      level on a grid of eight levels fixed by the first 600 values, and the last eight chunks
//!      form a shape; a shape more than three levels (at some chunk) from every shape seen so
//!      far (after the first 1,200 values) is new. Each new shape widens that distance by two
//!      levels, so a stream that keeps drawing new shapes (noise) soon stops being told about
//!      them, and one that rarely does (a regular cycle) is told about a change of rhythm;
//! 5. two coarser streams, each scored by a detector of its own (steps 1-6), whose verdict
//!    at a block's last point counts as that point's:
//!    - the means of 24 values at a time, where their detector reports a new level (or shape)
//!      of the means (their deviations echo the values' own). A day that runs lower than any
//!      day before while each value stays in the usual range (a holiday in taxi demand) is new
//!      among the means, not among the values;
//!    - the means of 24 deviations (step 3's larger of the two, counted over the points judged)
//!      at a time, their detector's whole score, in either direction: a sustained deviation too
//!      small at any one point, or a spell calmer than any before, is rare among such means.
//!
//!    Their detectors count block means, so they judge from the 200th block (4,800 values),
//!    fix their first level grid on 300 blocks (7,200 values) and their shape grid on 600:
//!    they speak on long streams only (about a third of NAB's files), and their levels, not
//!    their shapes;
//! 6. once per event: a score counts only when it exceeds every score of the previous 65 points;
//!    otherwise it is reported as 0, so a long disturbance raises one alert, early.
//!
//! NAB's standard score: 49.9 with the deviation alone, 67.3 with new levels, 69.9 with new
//! shapes and the deviation ranked by its rarity, 71.6 with grids that rescale, 72.9 with graded
//! level novelty, 73.5 with rarity against a tail quantile; 73.4 since the engine keeps
//! incidents from widening its band; 74.2 with deviations judged from the 200th point, before
//! the engine's cold start ends; 74.5 with events of 65 points; 75.6 with novelty of block
//! means; 76.0 with block means of the deviations (README, Benchmarks).

use std::collections::VecDeque;

use seismo_shared::engine::{EngineConfig, SeriesState};

/// Points used to infer the interval.
const STEP_SAMPLE: usize = 8;
/// Values behind the long-run distribution.
const LONG_RUN: usize = 6_400;
/// Deviations behind the likelihood.
const HISTORY: usize = 8_000;
/// Deviations needed before the likelihood speaks.
const MIN_HISTORY: usize = 50;
/// Points the engine scores before the stream's deviations count (the engine's cold start is
/// 300; NAB's shortest files leave only their first 170 points to probation).
const SPEAKS_AFTER: usize = 200;
/// Points an event suppresses later, lower scores for.
const EVENT: usize = 65;
/// Tail quantile of residuals that sets the engine's scale for streams.
const STREAM_TAIL_QUANTILE: f64 = 0.99;
/// The highest score a deviation alone reaches (novelty reaches 1).
const DEVIATION_CEILING: f64 = 0.8;
/// The novelty grids: values that fix each grid (the first: the old service's cold start),
/// and levels across their range (eight, as CAD OSE's three bits per value).
const GRIDS: [(usize, f64); 2] = [(300, 8.0), (800, 8.0)];
/// The score of a value new on some level grids but not all (new on all, or a new shape: 1).
const NEW_ON_SOME_GRIDS: f64 = 0.95;
/// A value farther outside a level grid than this many times its range rescales the grid.
const RESCALE_BEYOND: f64 = 16.0;
/// The quantile of the stream's recent deviations a deviation is measured against, and how
/// often (in points) it is recomputed.
const TAIL_QUANTILE: f64 = 0.999;
const TAIL_REFRESH: usize = 100;
/// How many times that quantile a deviation is when its score is half the ceiling's way: at
/// 1.85, the alert default (0.5) takes deviations beyond 3.1 times it.
const RARITY_HALF: f64 = 1.85;
/// The shape grid: values that fix it, and its levels.
const SHAPE_GRID: (usize, f64) = (600, 8.0);
/// Values per chunk of a shape, and chunks per shape.
const SHAPE_CHUNK: usize = 6;
const SHAPE_CHUNKS: usize = 8;
/// Values whose shapes are all learned as normal.
const SHAPE_LEARNING: usize = 1_200;
/// How far (in levels, at some chunk) a shape must be from every kept shape to be new, and how
/// much farther each new shape makes the next one need to be.
const SHAPE_RADIUS: i32 = 3;
const SHAPE_RADIUS_STEP: i32 = 2;
/// Shapes are kept when they differ from every kept one by more than this (so a shape that
/// is not new is remembered too, and the next one like it is compared with it).
const KEEP_APART: i32 = 1;
/// Shapes kept at most (later new shapes are still reported, not kept).
const MAX_SHAPES: usize = 5_000;
/// Inputs per block of the coarse streams (step 5 of the module documentation).
const BLOCK: usize = 24;

/// The verdict on one streamed point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamScore {
    /// Anomaly score in 0-1 (0 while learning and for the later points of an event).
    pub anomaly_score: f64,
    /// The score before this stream's once-per-event rule (the coarse streams' parts have
    /// been through their own).
    pub likelihood: f64,
    /// Expected value (the value itself while learning).
    pub expected: f64,
}

/// A sliding window with its running sum and sum of squares, taken relative to its first value
/// so large offsets do not cancel the spread away.
#[derive(Debug, Clone, Default)]
struct Window {
    values: VecDeque<f64>,
    origin: Option<f64>,
    sum: f64,
    sum_sq: f64,
}

impl Window {
    fn push(&mut self, v: f64, cap: usize) {
        let origin = *self.origin.get_or_insert(v);
        self.values.push_back(v);
        self.sum += v - origin;
        self.sum_sq += (v - origin) * (v - origin);
        if self.values.len() > cap
            && let Some(old) = self.values.pop_front()
        {
            self.sum -= old - origin;
            self.sum_sq -= (old - origin) * (old - origin);
        }
    }

    /// Mean and standard deviation, once there are enough values.
    fn moments(&self, min: usize) -> Option<(f64, f64)> {
        let n = self.values.len();
        if n < min {
            return None;
        }
        let mean = self.sum / n as f64;
        let var = (self.sum_sq / n as f64 - mean * mean).max(0.0);
        Some((mean + self.origin.unwrap_or(0.0), var.sqrt()))
    }
}

/// Which levels of a grid the stream has visited: the grid is fixed by the range of the first
/// `warmup` values, so later extremes land on new levels. No look-ahead.
#[derive(Debug, Clone)]
struct Levels {
    warmup: usize,
    levels: f64,
    warm: Warmup,
    grid: Option<(f64, f64)>,
    seen: std::collections::HashSet<i64>,
}

impl Levels {
    fn new((warmup, levels): (usize, f64)) -> Self {
        Levels {
            warmup,
            levels,
            warm: Warmup::default(),
            grid: None,
            seen: std::collections::HashSet::new(),
        }
    }

    /// 1 when `v` lands on a level never visited (after the warm-up), else 0; then learns it.
    /// Levels are rounded, so the range's edges extend half a level: a value must leave the
    /// range by at least that much to be new.
    fn push(&mut self, v: f64) -> f64 {
        let Some((origin, step)) = self.grid else {
            if let Some(((lo, step), warm)) = self.warm.push(v, self.warmup, self.levels) {
                for x in warm {
                    self.seen.insert(((x - lo) / step).round() as i64);
                }
                self.grid = Some((lo, step));
            }
            return 0.0;
        };
        let level = ((v - origin) / step).round() as i64;
        let beyond = (level as f64 / self.levels).max(1.0 - level as f64 / self.levels) - 1.0;
        if beyond > RESCALE_BEYOND {
            // The warm-up's range was too narrow to judge this stream by (a flat start, then
            // traffic): the grid now spans the levels seen and the new value. New, once.
            let mut centres: Vec<f64> = self
                .seen
                .iter()
                .map(|l| origin + *l as f64 * step)
                .collect();
            centres.push(v);
            let (lo, step) = fit_grid(&centres, self.levels);
            self.seen = centres
                .iter()
                .map(|x| ((x - lo) / step).round() as i64)
                .collect();
            self.grid = Some((lo, step));
            return 1.0;
        }
        f64::from(u8::from(self.seen.insert(level)))
    }
}

/// The first values of a stream, held until a grid is fitted over them.
#[derive(Debug, Clone, Default)]
struct Warmup(Vec<f64>);

impl Warmup {
    /// Holds `v`; at the `n`-th value, the grid of `levels` levels over them (origin, step)
    /// and the values themselves, to learn.
    fn push(&mut self, v: f64, n: usize, levels: f64) -> Option<((f64, f64), Vec<f64>)> {
        self.0.push(v);
        (self.0.len() >= n).then(|| (fit_grid(&self.0, levels), std::mem::take(&mut self.0)))
    }
}

/// A grid of `levels` levels over the range of `values`: its origin and step.
fn fit_grid(values: &[f64], levels: f64) -> (f64, f64) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo, ((hi - lo) / levels).max(1e-9))
}

/// One chunk of a shape: its highest and lowest level.
type Chunk = (i32, i32);

/// The shapes a stream has drawn (see the module documentation). No look-ahead.
#[derive(Debug, Clone, Default)]
struct Shapes {
    /// Values before the grid is fixed.
    warm: Warmup,
    grid: Option<(f64, f64)>,
    /// Values of the chunk being filled.
    chunk: Vec<f64>,
    /// The last chunks, oldest first.
    recent: VecDeque<Chunk>,
    /// The shapes kept: one of each (within a level) seen so far.
    kept: Vec<Vec<Chunk>>,
    /// Values seen.
    count: usize,
    /// How far a shape must be from every kept one to be new.
    radius: i32,
}

impl Shapes {
    /// 1 when the chunk `v` completes is a new shape (after the learning), else 0; then learns.
    fn push(&mut self, v: f64) -> f64 {
        self.count += 1;
        let Some(grid) = self.grid else {
            if let Some((grid, warm)) = self.warm.push(v, SHAPE_GRID.0, SHAPE_GRID.1) {
                self.grid = Some(grid);
                self.radius = SHAPE_RADIUS;
                for x in warm {
                    self.learn(x, grid);
                }
            }
            return 0.0;
        };
        if self.learn(v, grid) && self.count > SHAPE_LEARNING {
            self.radius += SHAPE_RADIUS_STEP;
            1.0
        } else {
            0.0
        }
    }

    /// Adds `v` to the chunk; when that completes a shape, whether it is new. Shapes unlike
    /// every kept one are kept.
    fn learn(&mut self, v: f64, (origin, step): (f64, f64)) -> bool {
        self.chunk.push(v);
        if self.chunk.len() < SHAPE_CHUNK {
            return false;
        }
        let hi = self.chunk.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lo = self.chunk.iter().copied().fold(f64::INFINITY, f64::min);
        let level = |x: f64| ((x - origin) / step).round().clamp(-1e6, 1e6) as i32;
        self.chunk.clear();
        self.recent.push_back((level(hi), level(lo)));
        if self.recent.len() > SHAPE_CHUNKS {
            self.recent.pop_front();
        }
        if self.recent.len() < SHAPE_CHUNKS {
            return false;
        }
        // The distance to the nearest kept shape: the largest level difference at a chunk.
        let distance = |shape: &Vec<Chunk>| {
            shape
                .iter()
                .zip(&self.recent)
                .map(|(a, b)| (a.0 - b.0).abs().max((a.1 - b.1).abs()))
                .max()
                .unwrap_or(0)
        };
        let nearest = self.kept.iter().map(distance).min().unwrap_or(i32::MAX);
        if nearest > KEEP_APART && self.kept.len() < MAX_SHAPES {
            self.kept.push(self.recent.iter().copied().collect());
        }
        nearest > self.radius
    }
}

/// A coarser stream: the means of blocks of [`BLOCK`] inputs, scored by a detector of its own.
#[derive(Debug, Clone, Default)]
struct Blocks {
    detector: Option<Box<StreamDetector>>,
    /// The block being filled: the sum and count of its finite inputs, and its inputs.
    sum: f64,
    finite: usize,
    inputs: usize,
}

impl Blocks {
    /// Adds an input; at a block's last, the detector's verdict on the block mean and the part
    /// of its likelihood the mean's deviation alone gives.
    fn push(&mut self, time: i64, x: Option<f64>) -> Option<(StreamScore, f64)> {
        if let Some(v) = x {
            self.sum += v;
            self.finite += 1;
        }
        self.inputs += 1;
        if self.inputs < BLOCK {
            return None;
        }
        // A sum that overflows is no mean: the block counts as missing.
        let mean = (self.finite > 0)
            .then(|| self.sum / self.finite as f64)
            .filter(|m| m.is_finite());
        (self.sum, self.finite, self.inputs) = (0.0, 0, 0);
        let detector = self.detector.get_or_insert_with(|| {
            Box::new(StreamDetector {
                is_coarse: true,
                ..StreamDetector::default()
            })
        });
        Some(detector.score(time, mean.unwrap_or(f64::NAN), mean, 0.0))
    }
}

/// Streams one series through the engine.
#[derive(Debug, Clone, Default)]
pub struct StreamDetector {
    pending: Vec<(i64, f64)>,
    model: Option<(EngineConfig, SeriesState)>,
    long_run: Window,
    /// The stream's last deviations, oldest first.
    history: VecDeque<f64>,
    recent_scores: VecDeque<f64>,
    grids: Vec<Levels>,
    shapes: Shapes,
    /// The tail quantile of recent deviations, and the points since it was computed.
    tail: Option<f64>,
    tail_age: usize,
    /// Points the engine has seen, and whether it was still learning at the last one.
    scored: usize,
    engine_learning: bool,
    /// The coarse streams of block means of the values and of the deviations (none in their
    /// own detectors).
    value_blocks: Blocks,
    deviation_blocks: Blocks,
    is_coarse: bool,
}

impl StreamDetector {
    /// A detector that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Scores the point, then learns it.
    pub fn push(&mut self, time: i64, value: f64) -> StreamScore {
        let finite = value.is_finite().then_some(value);
        let coarse = self.push_block(time, finite);
        self.score(time, value, finite, coarse).0
    }

    /// The verdict of the block means' detector on the block this value completes: a new
    /// level or shape of the means (once per event there), else 0.
    fn push_block(&mut self, time: i64, finite: Option<f64>) -> f64 {
        if self.is_coarse {
            return 0.0;
        }
        match self.value_blocks.push(time, finite) {
            // Only novelty: the means' deviations echo the values' own.
            Some((score, deviation)) if score.anomaly_score > deviation => score.anomaly_score,
            _ => 0.0,
        }
    }

    /// The point's verdict, and the part of its likelihood its deviation alone gives; `coarse`
    /// is the block means' novelty at the point.
    fn score(
        &mut self,
        time: i64,
        value: f64,
        finite: Option<f64>,
        coarse: f64,
    ) -> (StreamScore, f64) {
        if self.grids.is_empty() {
            self.grids = GRIDS.into_iter().map(Levels::new).collect();
        }
        let novel = finite.map_or(0.0, |v| {
            let grids = self.grids.len();
            let new = self
                .grids
                .iter_mut()
                .map(|g| g.push(v))
                .filter(|n| *n > 0.0)
                .count();
            // New on every grid ranks above new on some, so it still counts within an event.
            let level = match new {
                0 => 0.0,
                n if n == grids => 1.0,
                _ => NEW_ON_SOME_GRIDS,
            };
            level.max(self.shapes.push(v))
        });
        let long_run_z = match (finite, self.long_run.moments(10)) {
            (Some(v), Some((mean, sd))) => (v - mean) / sd.max(1e-9),
            _ => 0.0,
        };
        if let Some(v) = finite {
            self.long_run.push(v, LONG_RUN);
        }
        let quiet = StreamScore {
            anomaly_score: 0.0,
            likelihood: 0.0,
            expected: value,
        };
        let Some((config, state)) = self.model.as_mut() else {
            self.pending.push((time, value));
            if self.pending.len() >= STEP_SAMPLE {
                self.start();
            }
            return (quiet, 0.0);
        };
        let Some(scored) = state.observe(config, time, finite) else {
            return (quiet, 0.0);
        };
        // Deviations count from the stream's 200th point, before the engine's cold start ends,
        // so a short stream's early anomalies are judged too, once there is a spread to judge by.
        self.scored += 1;
        if self.scored < SPEAKS_AFTER || scored.sigma <= 0.0 {
            return (
                StreamScore {
                    expected: scored.expected,
                    ..quiet
                },
                0.0,
            );
        }
        let raw = scored.z.abs().max(long_run_z.abs()).min(1e3);
        // Deviations measured while the engine learned do not set the yardstick once it is done
        // (the last tail taken from them serves until enough new ones are in).
        if self.engine_learning && !scored.learning {
            self.history.clear();
        }
        self.engine_learning = scored.learning;
        // How rare the deviation is for this stream: over the 99.9th percentile of its last
        // 8,000 deviations (refreshed every 100 points, and as soon as there are enough).
        self.tail_age += 1;
        if (self.tail_age >= TAIL_REFRESH || self.tail.is_none())
            && self.history.len() >= MIN_HISTORY
        {
            let mut recent: Vec<f64> = self.history.iter().copied().collect();
            let k = ((recent.len() as f64 * TAIL_QUANTILE) as usize).min(recent.len() - 1);
            let (_, tail, _) = recent.select_nth_unstable_by(k, f64::total_cmp);
            self.tail = Some(*tail);
            self.tail_age = 0;
        }
        let likelihood = match self.tail {
            Some(tail) => {
                let rarity = raw / tail.max(1e-3);
                rarity / (rarity + RARITY_HALF)
            }
            None => 0.0,
        };
        self.history.push_back(raw);
        if self.history.len() > HISTORY {
            self.history.pop_front();
        }
        // A value outside every level seen ranks above any deviation within the range, and so
        // does a block mean outside every level or shape of the means.
        let deviation = likelihood * DEVIATION_CEILING;
        // A sustained deviation, or a calm spell: the block mean of the deviations, rare among
        // such means (either way).
        let sustained = if self.is_coarse {
            0.0
        } else {
            self.deviation_blocks
                .push(time, Some(raw))
                .map_or(0.0, |(score, _)| score.anomaly_score)
        };
        let likelihood = deviation.max(novel).max(coarse).max(sustained);
        let previous = self.recent_scores.iter().copied().fold(0.0, f64::max);
        self.recent_scores.push_back(likelihood);
        if self.recent_scores.len() > EVENT {
            self.recent_scores.pop_front();
        }
        let score = StreamScore {
            anomaly_score: if likelihood > previous {
                likelihood
            } else {
                0.0
            },
            likelihood,
            expected: scored.expected,
        };
        (score, deviation)
    }

    /// Infers the interval from the first points (the median gap) and starts the engine.
    fn start(&mut self) {
        let mut gaps: Vec<i64> = self
            .pending
            .windows(2)
            .map(|w| w[1].0 - w[0].0)
            .filter(|d| *d > 0)
            .collect();
        gaps.sort_unstable();
        let step = gaps.get(gaps.len() / 2).copied().unwrap_or(300);
        let mut config = EngineConfig::for_step(step).with_tail_quantile(STREAM_TAIL_QUANTILE);
        // The stream detector ranks the engine's deviations by their own tail, on the linear
        // scale it was tuned with.
        config.count_aware = false;
        config.sustained = false;
        let mut state = SeriesState::new(&config);
        for &(t, v) in &self.pending {
            state.observe(&config, t, v.is_finite().then_some(v));
        }
        // The engine has seen these points: they count toward when deviations are judged.
        self.scored = self.pending.len();
        self.pending.clear();
        self.model = Some((config, state));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(values: &[f64]) -> Vec<StreamScore> {
        let mut d = StreamDetector::new();
        values
            .iter()
            .enumerate()
            .map(|(i, v)| d.push(i as i64 * 300, *v))
            .collect()
    }

    #[test]
    fn one_alert_per_event_and_none_on_clean_data() {
        let base: Vec<f64> = (0..3000)
            .map(|t| {
                50.0 + 10.0 * (t as f64 * std::f64::consts::TAU / 288.0).sin()
                    + ((t * 7919 % 13) as f64 - 6.0) * 0.3
            })
            .collect();
        let clean = run(&base);
        assert!(
            clean.iter().all(|s| s.anomaly_score < 0.5),
            "{:?}",
            clean.iter().map(|s| s.anomaly_score).fold(0.0, f64::max)
        );

        let mut shifted = base.clone();
        for v in &mut shifted[2500..2600] {
            *v += 80.0;
        }
        let scores = run(&shifted);
        let alerts: Vec<usize> = (0..scores.len())
            .filter(|&i| scores[i].anomaly_score >= 0.5)
            .collect();
        assert!(
            !alerts.is_empty() && alerts[0] >= 2500 && alerts[0] < 2505,
            "{alerts:?}"
        );
        assert!(alerts.len() <= 3, "one event, few alerts: {alerts:?}");
    }

    #[test]
    fn a_short_streams_early_spike_is_judged_before_the_cold_start_ends() {
        let mut values: Vec<f64> = (0..400)
            .map(|t| 20.0 + ((t * 7919 % 13) as f64 - 6.0) * 0.5)
            .collect();
        values[150] = 60.0;
        values[270] = 60.0;
        let scores = run(&values);
        assert!(
            scores[..SPEAKS_AFTER].iter().all(|s| s.likelihood == 0.0),
            "nothing is judged on the first points, not even a spike: {:?}",
            scores[150]
        );
        assert!(scores[270].anomaly_score >= 0.5, "{:?}", scores[270]);
        let others = (SPEAKS_AFTER..400).filter(|&i| i != 270 && scores[i].anomaly_score >= 0.5);
        assert_eq!(others.count(), 0);
    }

    #[test]
    fn the_long_run_spread_survives_a_large_offset() {
        let mut w = Window::default();
        for i in 0..1000 {
            w.push(1e9 + (i % 10) as f64, LONG_RUN);
        }
        let (mean, sd) = w.moments(10).unwrap();
        assert!((mean - (1e9 + 4.5)).abs() < 1e-6, "{mean}");
        assert!((sd - 2.8723).abs() < 1e-3, "{sd}");
    }

    #[test]
    fn a_value_on_a_level_never_seen_is_novel_once() {
        let mut l = Levels::new(GRIDS[0]);
        // Warm-up: the range 0-60 on eight levels of 7.5.
        for i in 0..GRIDS[0].0 {
            assert_eq!(l.push((i % 61) as f64), 0.0);
        }
        assert_eq!(l.push(35.0), 0.0, "a level seen in the warm-up");
        assert_eq!(l.push(75.0), 1.0, "above the range: a new level");
        assert_eq!(l.push(76.0), 0.0, "the same level again");
        assert_eq!(l.push(-3.0), 0.0, "within half a level of the range");
        assert_eq!(l.push(-6.0), 1.0, "below the range");
    }

    #[test]
    fn a_change_of_rhythm_is_a_new_shape_once() {
        // A spike every 100 values, then every 30 from value 3,000: no value is new, the
        // rhythm is.
        let spikes = |t: usize| t.is_multiple_of(if t < 3_000 { 100 } else { 30 });
        let mut shapes = Shapes::default();
        let novel: Vec<usize> = (0..4_000)
            .filter(|&t| shapes.push(if spikes(t) { 20.0 } else { 0.0 }) > 0.0)
            .collect();
        assert!(!novel.is_empty(), "the denser rhythm is new");
        assert!(novel[0] >= 3_000 && novel[0] < 3_100, "{novel:?}");
        assert!(
            novel.len() <= 3,
            "told once or twice, not at every spike: {novel:?}"
        );

        // The regular rhythm alone: nothing new after the learning.
        let mut shapes = Shapes::default();
        let regular = (0..4_000usize)
            .filter(|&t| shapes.push(if t.is_multiple_of(100) { 20.0 } else { 0.0 }) > 0.0)
            .count();
        assert_eq!(regular, 0);
    }

    #[test]
    fn noise_soon_stops_drawing_new_shapes() {
        // Uniform noise: every shape is different, but each new one widens the distance a new
        // shape needs, so only the first few are reported.
        let mut shapes = Shapes::default();
        let novel = (0..20_000u64)
            .filter(|&t| shapes.push(noise(t)) > 0.0)
            .count();
        assert!(novel <= 3, "{novel}");
        assert!(shapes.kept.len() < MAX_SHAPES);
    }

    #[test]
    fn a_grid_fixed_on_a_flat_start_rescales_to_the_traffic_once() {
        // Flat for the warm-up, then bursts of about five million: the first burst is new and
        // rescales the grid; bursts of the same size are not new on it.
        let mut l = Levels::new(GRIDS[0]);
        for _ in 0..GRIDS[0].0 {
            assert_eq!(l.push(42.0), 0.0);
        }
        assert_eq!(l.push(5.2e6), 1.0, "the first burst");
        let again: Vec<f64> = [5.1e6, 5.25e6, 4.9e6, 42.0, 43.0, 5.2e6]
            .into_iter()
            .map(|v| l.push(v))
            .collect();
        assert_eq!(again, vec![0.0; 6], "bursts like it are known");
        assert_eq!(l.push(2.6e6), 1.0, "half way: a level never seen");
        assert_eq!(l.push(8.5e6), 1.0, "above every burst");
    }

    /// Deterministic noise in [0, 1) (splitmix64).
    fn noise(t: u64) -> f64 {
        let mut z = t.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) as f64 / u64::MAX as f64
    }

    #[test]
    fn a_day_lower_than_any_before_is_new_among_the_block_means() {
        // Five-minute values with a daily cycle and wide noise; one day from value 9,000 runs
        // 25 lower, each value kept within the range seen, so no value is new or far from its
        // expectation, but the day's block means are lower than any before.
        let day = 288.0;
        let value = |t: usize| {
            100.0
                + 20.0 * (t as f64 * std::f64::consts::TAU / day).sin()
                + 60.0 * (noise(t as u64) - 0.5)
        };
        let (lo, hi) = (0..9_000)
            .map(value)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                (l.min(v), h.max(v))
            });
        let shifted: Vec<f64> = (0..12_000)
            .map(|t| {
                let v = value(t);
                if (9_000..9_288).contains(&t) {
                    (v - 25.0).clamp(lo, hi)
                } else {
                    v
                }
            })
            .collect();
        let stream = |values: &[f64], mut d: StreamDetector| -> Vec<usize> {
            (0..values.len())
                .filter(|&i| d.push(i as i64 * 300, values[i]).anomaly_score >= 0.5)
                .collect()
        };
        // The values alone (a detector without block means) miss the day.
        let values_alone = StreamDetector {
            is_coarse: true,
            ..StreamDetector::default()
        };
        let missed = stream(&shifted, values_alone);
        assert!(
            !missed.iter().any(|i| (9_000..9_400).contains(i)),
            "{missed:?}"
        );
        let alerts = stream(&shifted, StreamDetector::new());
        let in_day: Vec<usize> = alerts
            .iter()
            .copied()
            .filter(|i| (9_000..9_400).contains(i))
            .collect();
        assert!(!in_day.is_empty(), "{alerts:?}");
        assert_eq!(
            in_day[0] % BLOCK,
            BLOCK - 1,
            "at a block's last value: {in_day:?}"
        );
        // And the same stream without the low day raises nothing there.
        let clean: Vec<f64> = (0..12_000).map(value).collect();
        let quiet = stream(&clean, StreamDetector::new());
        assert!(
            !quiet.iter().any(|i| (9_000..9_400).contains(i)),
            "{quiet:?}"
        );
    }

    /// Five-minute values with a daily cycle and noise `amplitude` wide, the noise from `seed`.
    fn noisy_day(t: usize, seed: u64, amplitude: f64) -> f64 {
        100.0
            + 20.0 * (t as f64 * std::f64::consts::TAU / 288.0).sin()
            + amplitude * (noise(t as u64 + seed * 1_000_003) - 0.5)
    }

    /// The alerts of a stream, with the coarse streams and without them (a detector that is
    /// itself a coarse stream's has none).
    fn alerts_with_and_without_blocks(values: &[f64]) -> (Vec<usize>, Vec<usize>) {
        let alerts = |mut d: StreamDetector| -> Vec<usize> {
            (0..values.len())
                .filter(|&i| d.push(i as i64 * 300, values[i]).anomaly_score >= 0.5)
                .collect()
        };
        let without = StreamDetector {
            is_coarse: true,
            ..StreamDetector::default()
        };
        (alerts(StreamDetector::new()), alerts(without))
    }

    #[test]
    fn a_day_at_half_its_swing_is_a_calm_spell_among_the_deviation_means() {
        // For a day from value 10,000 the stream swings half as far around its level: every
        // value lies in the range seen, the day's block means among those seen, and no value is
        // far from its expectation, but its deviations are smaller all day than on any day
        // before, and their block means lower than any before.
        let values: Vec<f64> = (0..10_600)
            .map(|t| {
                let v = noisy_day(t, 0, 60.0);
                if (10_000..10_288).contains(&t) {
                    100.0 + 0.5 * (v - 100.0)
                } else {
                    v
                }
            })
            .collect();
        let in_day = |a: &[usize]| -> Vec<usize> {
            a.iter()
                .copied()
                .filter(|i| (10_000..10_400).contains(i))
                .collect()
        };
        let (with, without) = alerts_with_and_without_blocks(&values);
        assert!(in_day(&without).is_empty(), "{without:?}");
        assert!(!in_day(&with).is_empty(), "{with:?}");
        // The deviation means: the lowest of all is one of the day's (the last 25 blocks).
        let mut d = StreamDetector::new();
        for (i, v) in values.iter().enumerate() {
            d.push(i as i64 * 300, *v);
        }
        let means: Vec<f64> = d
            .deviation_blocks
            .detector
            .as_ref()
            .unwrap()
            .long_run
            .values
            .iter()
            .copied()
            .collect();
        let lowest = (0..means.len())
            .min_by(|a, b| means[*a].total_cmp(&means[*b]))
            .unwrap();
        assert!(lowest >= means.len() - 25, "{lowest} of {}", means.len());
    }

    #[test]
    fn block_streams_rarely_alarm_on_clean_data() {
        // Ten clean noisy streams of 12,000 values (42 days of five-minute data each): a block
        // mean of the deviations beyond all before is a record of noise now and then, three
        // times in 120,000 values; the values alone raise nothing.
        let (mut with, mut without) = (0, 0);
        for seed in 0..10 {
            let values: Vec<f64> = (0..12_000).map(|t| noisy_day(t, seed, 60.0)).collect();
            let (w, wo) = alerts_with_and_without_blocks(&values);
            with += w.len();
            without += wo.len();
        }
        assert_eq!(without, 0);
        assert!(with <= 3, "{with} alerts on clean data");
    }

    #[test]
    fn same_input_same_output() {
        let v: Vec<f64> = (0..1500).map(|t| ((t * 31 % 17) as f64).sqrt()).collect();
        assert_eq!(run(&v), run(&v));
        // Long enough for the coarse streams to speak.
        let v: Vec<f64> = (0..9_000).map(|t| noisy_day(t, 3, 60.0)).collect();
        assert_eq!(run(&v), run(&v));
    }

    #[test]
    fn irregular_and_missing_points_do_not_break_it() {
        let mut d = StreamDetector::new();
        for i in 0..2000 {
            let t = i * 300 + if i % 7 == 0 { 40 } else { 0 };
            let v = if i % 50 == 0 {
                f64::NAN
            } else {
                (i % 24) as f64
            };
            let s = d.push(t, v);
            assert!((0.0..=1.0).contains(&s.anomaly_score));
        }
    }
}
