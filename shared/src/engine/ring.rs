//! The compact ring buffer every window of the state is kept in.

use serde::{Deserialize, Serialize};

/// `2^e`, exactly, for the exponents a ring uses (-1000..=1000), without a call to `powi`
/// (decoding is on every point's path).
fn power_of_two(e: i32) -> f64 {
    f64::from_bits(((1023 + i64::from(e.clamp(-1022, 1023))) as u64) << 52)
}

/// A fixed-capacity ring of recent values, stored compactly: each value is kept as an `f32` of
/// the value over a power of two fixed by the ring's first non-zero value, so huge or tiny
/// series keep their seven significant digits. Missing values are NaN.
#[derive(Debug, Clone, Default)]
pub(super) struct Ring {
    pub(super) buf: Vec<f32>,
    pub(super) cap: usize,
    head: usize,
    /// The power of two values are stored over (`None` until the first non-zero value).
    pub(super) exponent: Option<i32>,
    /// How many values held are not whole non-negative numbers (derived from the values, so a
    /// decoded ring has the same count as the live one; never stored).
    fractional: u32,
}

impl Ring {
    pub(super) fn new(cap: usize) -> Self {
        Ring {
            buf: Vec::new(),
            cap: cap.max(1),
            head: 0,
            exponent: None,
            fractional: 0,
        }
    }

    /// Whether a stored value is present and not a whole non-negative number.
    fn is_fractional(&self, stored: f32) -> bool {
        let v = self.decode(stored);
        v.is_finite() && (v < 0.0 || v.fract() != 0.0)
    }

    /// Whether every value held is a whole non-negative number (counts).
    pub(super) fn whole(&self) -> bool {
        self.fractional == 0
    }

    fn encode(&mut self, v: f64) -> f32 {
        if v.is_nan() {
            return f32::NAN;
        }
        if self.exponent.is_none() && v != 0.0 && v.is_finite() {
            self.exponent = Some((v.abs().log2().floor() as i32).clamp(-1000, 1000));
        }
        let scaled = v * power_of_two(-self.exponent.unwrap_or(0));
        scaled.clamp(f64::from(f32::MIN), f64::from(f32::MAX)) as f32
    }

    fn decode(&self, v: f32) -> f64 {
        f64::from(v) * power_of_two(self.exponent.unwrap_or(0))
    }

    pub(super) fn push(&mut self, v: f64) {
        let stored = self.encode(v);
        self.fractional += u32::from(self.is_fractional(stored));
        if self.buf.len() < self.cap {
            self.buf.push(stored);
        } else {
            self.fractional -= u32::from(self.is_fractional(self.buf[self.head]));
            self.buf[self.head] = stored;
            self.head = (self.head + 1) % self.cap;
        }
    }

    fn index(&self, lag: usize) -> Option<usize> {
        let n = self.buf.len();
        if lag == 0 || lag > n {
            return None;
        }
        Some(if n < self.cap {
            n - lag
        } else {
            (self.head + self.cap - lag) % self.cap
        })
    }

    /// The value `lag` pushes ago (1 = the latest).
    pub(super) fn lag(&self, lag: usize) -> Option<f64> {
        let v = self.buf[self.index(lag)?];
        (!v.is_nan()).then(|| self.decode(v))
    }

    /// Holds up to `cap` values from now on (never fewer than it holds), keeping them.
    pub(super) fn grow(&mut self, cap: usize) {
        if cap > self.cap {
            self.buf = self.ordered().collect();
            self.head = 0;
            self.cap = cap;
        }
    }

    /// Forgets the value `lag` pushes ago.
    pub(super) fn forget(&mut self, lag: usize) {
        if let Some(i) = self.index(lag) {
            self.fractional -= u32::from(self.is_fractional(self.buf[i]));
            self.buf[i] = f32::NAN;
        }
    }

    /// The stored values, oldest first.
    pub(super) fn ordered(&self) -> impl Iterator<Item = f32> + '_ {
        let (newer, older) = self.buf.split_at(self.head);
        older.iter().chain(newer).copied()
    }

    /// The values present, oldest first.
    pub(super) fn finite(&self) -> impl Iterator<Item = f64> + '_ {
        let factor = power_of_two(self.exponent.unwrap_or(0));
        self.ordered()
            .filter(|v| !v.is_nan())
            .map(move |v| f64::from(v) * factor)
    }

    pub(super) fn from_parts(
        cap: usize,
        exponent: Option<i32>,
        values: impl IntoIterator<Item = f32>,
    ) -> Option<Ring> {
        let buf: Vec<f32> = values.into_iter().collect();
        let mut ring = Ring {
            buf,
            cap,
            head: 0,
            exponent,
            fractional: 0,
        };
        ring.fractional = ring.buf.iter().filter(|v| ring.is_fractional(**v)).count() as u32;
        (cap > 0 && ring.buf.len() <= cap).then_some(ring)
    }
}

impl PartialEq for Ring {
    /// Equal when they hold the same values in the same order (missing equals missing).
    fn eq(&self, other: &Self) -> bool {
        self.cap == other.cap
            && self.buf.len() == other.buf.len()
            && self
                .finite()
                .zip(other.finite())
                .all(|(a, b)| a.to_bits() == b.to_bits())
            && self
                .ordered()
                .map(f32::is_nan)
                .eq(other.ordered().map(f32::is_nan))
    }
}

/// The ring as stored in JSON: oldest first, missing as null.
#[derive(Serialize, Deserialize)]
struct RingRepr {
    cap: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exponent: Option<i32>,
    values: Vec<Option<f32>>,
}

impl Serialize for Ring {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        RingRepr {
            cap: self.cap,
            exponent: self.exponent,
            values: self.ordered().map(|v| (!v.is_nan()).then_some(v)).collect(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Ring {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let repr = RingRepr::deserialize(d)?;
        Ring::from_parts(
            repr.cap,
            repr.exponent,
            repr.values.into_iter().map(|v| v.unwrap_or(f32::NAN)),
        )
        .ok_or_else(|| serde::de::Error::custom("ring holds more values than its capacity"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powers_of_two_are_exact() {
        for e in [-1000, -53, -1, 0, 1, 10, 52, 1000] {
            assert_eq!(power_of_two(e), 2f64.powi(e), "{e}");
        }
    }
}
