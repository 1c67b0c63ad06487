//! Feedback on a scored point (the API's `PutFeedback`) and what it changes in the state.

use super::config::EngineConfig;
use super::state::{MAX_TOLERANCE, SeriesState};

/// How much larger (in sigmas) than the deviation marked "not an anomaly" a later one may be and
/// still be judged normal: the same relative change an hour later, at an hour twice as busy, is
/// about 1.4 times as many sigmas (count noise grows like the square root of the level).
const FEEDBACK_MARGIN: f64 = 1.5;

/// Feedback on one scored point (the API's `PutFeedback`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Feedback {
    /// Start of the interval the feedback is about.
    pub time: i64,
    /// The deviation the engine reported for it ([`Scored::z`](super::Scored::z)).
    pub z: f64,
    /// Whether the user says it was an anomaly.
    pub is_anomaly: bool,
}

impl SeriesState {
    /// Applies feedback on a point scored earlier. "Not an anomaly" makes deviations in the same
    /// direction up to that size judged as normal from now on (larger ones still alarm); "is an
    /// anomaly" takes the point out of the seasonal history, so it does not shape what later
    /// intervals are expected to be. Giving the same feedback twice changes nothing more.
    pub fn feedback(&mut self, config: &EngineConfig, feedback: Feedback) {
        if !feedback.z.is_finite() {
            return;
        }
        if feedback.is_anomaly {
            if let Some(last) = self.last {
                let lag = (last.saturating_sub(feedback.time) as f64 / config.step as f64).round();
                if lag >= 0.0 {
                    self.values.forget(lag as usize + 1);
                    if let Some(yearly) = self.yearly.as_mut() {
                        yearly.forget(lag as usize + 1);
                    }
                }
            }
        } else {
            // The deviation marked normal, and one up to half again as large, is judged inside
            // the band from now on: the pattern marked goes on at a somewhat different size
            // in the next intervals (and in its slice totals, which get the same feedback).
            let direction = usize::from(feedback.z < 0.0);
            let needed = feedback.z.abs() * FEEDBACK_MARGIN / config.z_band;
            self.tolerance[direction] = self.tolerance[direction].max(needed).min(MAX_TOLERANCE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fixtures::*;
    use crate::engine::observe::OUTLIER_Z;
    use crate::model::Frequency;

    #[test]
    fn not_an_anomaly_lowers_later_similar_deviations() {
        let config = EngineConfig::for_frequency(Frequency::Pt1h);
        let (mut state, _) = run((0..24 * 7 * 5).map(|t| Some(seasonal(t))));
        let t0 = 24 * 7 * 5;
        let first = state
            .observe(&config, t0 as i64 * H, Some(seasonal(t0) + 40.0))
            .unwrap();
        assert!(first.anomalous, "{first:?}");
        let mut with_feedback = state.clone();
        with_feedback.feedback(
            &config,
            Feedback {
                time: t0 as i64 * H,
                z: first.z,
                is_anomaly: false,
            },
        );
        // The same deviation a day later: scored lower, no longer anomalous; a much larger one
        // still is.
        let later = t0 + 24;
        let v = Some(seasonal(later) + 40.0);
        let plain = state.observe(&config, later as i64 * H, v).unwrap();
        let after = with_feedback.observe(&config, later as i64 * H, v).unwrap();
        assert!(plain.anomalous && !after.anomalous, "{plain:?} {after:?}");
        assert!(
            after.severity < plain.severity - 10.0,
            "{} vs {}",
            after.severity,
            plain.severity
        );
        let huge = with_feedback
            .observe(
                &config,
                (later + 1) as i64 * H,
                Some(seasonal(later + 1) + 400.0),
            )
            .unwrap();
        assert!(huge.anomalous);
        // Drops are judged as before.
        let drop = with_feedback
            .observe(
                &config,
                (later + 2) as i64 * H,
                Some(seasonal(later + 2) - 40.0),
            )
            .unwrap();
        assert!(drop.anomalous);
        // The same feedback twice changes nothing more.
        let once = with_feedback.clone();
        with_feedback.feedback(
            &config,
            Feedback {
                time: t0 as i64 * H,
                z: first.z,
                is_anomaly: false,
            },
        );
        assert_eq!(with_feedback, once);
    }

    #[test]
    fn is_an_anomaly_keeps_the_point_out_of_the_baseline() {
        // Eight days of history: next week's baseline at that hour comes from one past week only.
        // The deviation is moderate (3.5 sigma), below what the engine keeps out by itself.
        let config = EngineConfig::for_frequency(Frequency::Pt1h).with_warmup(24);
        let mut state = SeriesState::new(&config);
        let spike_at = 24 * 8 + 5;
        for t in 0..spike_at {
            state.observe(&config, t as i64 * H, Some(seasonal(t)));
        }
        let probe = state
            .clone()
            .observe(&config, spike_at as i64 * H, Some(seasonal(spike_at)))
            .unwrap();
        let bump = 3.5 * probe.sigma;
        let at_spike = state
            .observe(
                &config,
                spike_at as i64 * H,
                Some(seasonal(spike_at) + bump),
            )
            .unwrap();
        assert!(at_spike.z > 3.0 && at_spike.z < OUTLIER_Z, "{at_spike:?}");
        let mut marked = state.clone();
        marked.feedback(
            &config,
            Feedback {
                time: spike_at as i64 * H,
                z: at_spike.z,
                is_anomaly: true,
            },
        );
        for t in spike_at + 1..spike_at + 168 {
            state.observe(&config, t as i64 * H, Some(seasonal(t)));
            marked.observe(&config, t as i64 * H, Some(seasonal(t)));
        }
        let t = spike_at + 168;
        let unmarked = state
            .observe(&config, t as i64 * H, Some(seasonal(t)))
            .unwrap();
        let kept_out = marked
            .observe(&config, t as i64 * H, Some(seasonal(t)))
            .unwrap();
        assert!(
            (unmarked.expected - seasonal(t)).abs() > 0.25 * bump,
            "the bump shapes the baseline: {bump} {unmarked:?}"
        );
        assert!(
            (kept_out.expected - seasonal(t)).abs() < 0.25 * bump,
            "{kept_out:?}"
        );
        assert!(
            unmarked.z < -1.5 && kept_out.z.abs() < 1.0,
            "{unmarked:?} {kept_out:?}"
        );
    }
}
