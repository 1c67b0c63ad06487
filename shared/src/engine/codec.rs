//! The compact binary form of a [`SeriesState`] (its JSON form is serde's).

use super::ring::Ring;
use super::state::{Cached, SeriesState, StateError, layout, readable_version};

const MAGIC: &[u8; 4] = b"SMS\0";

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], StateError> {
        if self.0.len() < N {
            return Err(StateError("truncated".into()));
        }
        let (head, rest) = self.0.split_at(N);
        self.0 = rest;
        head.try_into().map_err(|_| StateError("truncated".into()))
    }
    fn u32(&mut self) -> Result<u32, StateError> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn i64(&mut self) -> Result<i64, StateError> {
        Ok(i64::from_le_bytes(self.take()?))
    }
    fn f64(&mut self) -> Result<f64, StateError> {
        Ok(f64::from_le_bytes(self.take()?))
    }
    fn ring(&mut self) -> Result<Ring, StateError> {
        let cap = self.u32()? as usize;
        let exponent = i32::from_le_bytes(self.take()?);
        let len = self.u32()? as usize;
        if len > cap || self.0.len() < len * 4 {
            return Err(StateError("ring larger than its data".into()));
        }
        let mut values = Vec::with_capacity(len);
        for _ in 0..len {
            values.push(f32::from_le_bytes(self.take()?));
        }
        Ring::from_parts(cap, (exponent != i32::MIN).then_some(exponent), values)
            .ok_or_else(|| StateError("ring has no capacity".into()))
    }
}

impl SeriesState {
    /// The state as compact bytes: little-endian numbers and `f32` ring values (about 3.6 KB
    /// for an hourly series with daily and weekly cycles).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            76 + 4
                * (self.values.buf.len()
                    + self.level.buf.len()
                    + self.scale.buf.len()
                    + self.yearly.as_ref().map_or(0, |r| r.buf.len())),
        );
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&layout(&self.yearly).to_le_bytes());
        out.push(u8::from(self.last.is_some()) | (u8::from(self.signed) << 1));
        out.extend_from_slice(&self.last.unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&self.observed.to_le_bytes());
        let c = &self.cached;
        let spread = c.spread.unwrap_or(f64::NAN);
        for v in self
            .errors
            .iter()
            .chain([&self.typical])
            .chain(&self.tolerance)
            .chain([&c.level, &spread])
        {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&c.level_age.to_le_bytes());
        out.extend_from_slice(&c.spread_age.to_le_bytes());
        let rings = [&self.values, &self.level, &self.scale];
        for ring in rings.into_iter().chain(self.yearly.as_ref()) {
            out.extend_from_slice(&(ring.cap as u32).to_le_bytes());
            out.extend_from_slice(&ring.exponent.unwrap_or(i32::MIN).to_le_bytes());
            out.extend_from_slice(&(ring.buf.len() as u32).to_le_bytes());
            for v in ring.ordered() {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    /// Reads bytes written by [`SeriesState::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<SeriesState, StateError> {
        let mut r = Reader(bytes);
        if &r.take::<4>()? != MAGIC {
            return Err(StateError("not a Seismo model state".into()));
        }
        let version = u16::from_le_bytes(r.take()?);
        readable_version(version)?;
        let flags = r.take::<1>()?[0];
        if flags > 3 {
            return Err(StateError("unknown flags".into()));
        }
        let (has_last, signed) = (flags & 1 == 1, flags & 2 == 2);
        let last = r.i64()?;
        let observed = u64::from_le_bytes(r.take()?);
        let errors = [r.f64()?, r.f64()?, r.f64()?];
        let typical = r.f64()?;
        let tolerance = [r.f64()?, r.f64()?];
        let (cached_level, spread) = (r.f64()?, r.f64()?);
        let cached = Cached {
            level: cached_level,
            spread: (!spread.is_nan()).then_some(spread),
            level_age: r.u32()?,
            spread_age: r.u32()?,
        };
        let (values, level, scale) = (r.ring()?, r.ring()?, r.ring()?);
        let yearly = if version >= 2 { Some(r.ring()?) } else { None };
        if !r.0.is_empty() {
            return Err(StateError("trailing bytes".into()));
        }
        SeriesState {
            version: layout(&yearly),
            last: has_last.then_some(last),
            observed,
            values,
            level,
            scale,
            yearly,
            errors,
            typical,
            tolerance,
            cached,
            signed,
        }
        .checked()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineConfig;
    use crate::engine::fixtures::*;
    use crate::model::Frequency;

    #[test]
    fn compact_state_is_small_and_scores_exactly_like_the_live_one() {
        let config = EngineConfig::for_frequency(Frequency::Pt1h);
        let (mut live, _) = run((0..3000).map(|t| {
            Some(if t % 97 == 0 {
                f64::NAN
            } else {
                seasonal(t) * 1000.0
            })
        }));
        let bytes = live.to_bytes();
        assert!(
            bytes.len() <= 4096,
            "{} bytes for an hourly series",
            bytes.len()
        );
        let mut restored = SeriesState::from_bytes(&bytes).unwrap();
        assert_eq!(restored, live);
        for t in 3000..3200 {
            let v = Some(seasonal(t) * 1000.0 + if t == 3100 { 9e4 } else { 0.0 });
            assert_eq!(
                restored.observe(&config, t as i64 * H, v),
                live.observe(&config, t as i64 * H, v)
            );
        }
        assert_eq!(restored.to_bytes(), live.to_bytes());
        // Damaged bytes are refused, never a panic.
        assert!(SeriesState::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        assert!(SeriesState::from_bytes(b"nonsense").is_err());
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(SeriesState::from_bytes(&trailing).is_err());
        let mut version = bytes;
        version[4] = 99;
        assert!(
            SeriesState::from_bytes(&version)
                .unwrap_err()
                .to_string()
                .contains("version 99")
        );
    }

    #[test]
    fn forged_state_bytes_are_refused() {
        let (state, _) = run((0..400).map(|t| Some(seasonal(t))));
        let bytes = state.to_bytes();
        // The tolerances sit after magic (4), version (2), flags (1), last (8), observed (8),
        // three errors and typical (4 x 8).
        let tolerance_at = 4 + 2 + 1 + 8 + 8 + 32;
        for forged in [f64::NAN, 0.0, 1e9] {
            let mut b = bytes.clone();
            b[tolerance_at..tolerance_at + 8].copy_from_slice(&forged.to_le_bytes());
            assert!(SeriesState::from_bytes(&b).is_err(), "tolerance {forged}");
        }
        let mut b = bytes.clone();
        b[6] = 9; // unknown flags
        assert!(SeriesState::from_bytes(&b).is_err());
        // A state whose last time is far in the past still observes without overflow.
        let config = EngineConfig::for_frequency(Frequency::Pt1h);
        let mut b = bytes;
        b[7..15].copy_from_slice(&i64::MIN.to_le_bytes());
        let mut odd = SeriesState::from_bytes(&b).unwrap();
        let _ = odd.observe(&config, i64::MAX, Some(1.0));
    }

    #[test]
    fn a_state_from_before_yearly_seasons_is_read_and_grows_its_ring() {
        let config = EngineConfig::for_frequency(Frequency::P1d);
        let (mut live, _) = run_daily(&config, |t| daily_sales(t, true));
        let bytes = live.to_bytes();
        assert!(
            bytes.len() <= 2_048,
            "{} bytes for a daily series",
            bytes.len()
        );
        assert_eq!(bytes[4..6], 2u16.to_le_bytes());
        assert_eq!(SeriesState::from_bytes(&bytes).unwrap(), live);
        let departures = live.yearly.as_ref().unwrap().buf.len();
        assert_eq!(departures, config.yearly_history());
        // Layout 1 bytes: the same without the yearly ring (written last).
        let mut v1 = bytes[..bytes.len() - (12 + 4 * departures)].to_vec();
        v1[4..6].copy_from_slice(&1u16.to_le_bytes());
        let mut old = SeriesState::from_bytes(&v1).unwrap();
        assert!(old.yearly.is_none());
        assert_eq!(
            (old.values.clone(), old.observed),
            (live.values.clone(), live.observed)
        );
        // It scores as the live state does where last year holds nothing that stood out, and
        // keeps departures from now on.
        for t in 3 * 365..3 * 365 + 300 {
            let v = Some(daily_sales(t, true));
            assert_eq!(
                old.observe(&config, t as i64 * 86_400, v),
                live.observe(&config, t as i64 * 86_400, v),
                "day {t}"
            );
        }
        let yearly = old.yearly.as_ref().unwrap();
        assert_eq!(
            (yearly.cap, yearly.buf.len()),
            (config.yearly_history(), 300)
        );
        let restored = SeriesState::from_bytes(&old.to_bytes()).unwrap();
        assert_eq!(restored, old);
        let json = serde_json::to_vec(&old).unwrap();
        assert_eq!(serde_json::from_slice::<SeriesState>(&json).unwrap(), old);
    }
}
