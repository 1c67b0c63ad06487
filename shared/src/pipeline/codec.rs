//! Compact encodings of what the pipeline stores per shard: model states (binary, each series'
//! state as [`SeriesState::to_bytes`]), an interval's values and its scored points (JSON; both
//! are gzip'd by [`super::blob`]).

use crate::engine::{Scored, SeriesState};

/// Series dimension values with one state per measure.
pub(super) type States = Vec<(Vec<String>, Vec<SeriesState>)>;
/// Series dimension values with one value per measure (`None`: no usable value).
pub(super) type Values = Vec<(Vec<String>, Vec<Option<f64>>)>;
/// Series dimension values with one verdict per measure (`None`: nothing to score).
pub(super) type Verdicts = Vec<(Vec<String>, Vec<Option<Scored>>)>;

const STATES_MAGIC: &[u8; 4] = b"SMS1";

fn put_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u32).to_le_bytes());
}

pub(super) fn encode_states(series: &[(Vec<String>, Vec<SeriesState>)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(series.len() * 3_700);
    out.extend_from_slice(STATES_MAGIC);
    put_len(&mut out, series.len());
    for (dims, states) in series {
        put_len(&mut out, dims.len());
        for d in dims {
            put_len(&mut out, d.len());
            out.extend_from_slice(d.as_bytes());
        }
        put_len(&mut out, states.len());
        for s in states {
            let bytes = s.to_bytes();
            put_len(&mut out, bytes.len());
            out.extend_from_slice(&bytes);
        }
    }
    out
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("truncated".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn len(&mut self) -> Result<usize, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
}

pub(super) fn decode_states(bytes: &[u8]) -> Result<States, String> {
    let mut r = Reader(bytes);
    if r.take(4)? != STATES_MAGIC {
        return Err("not a Seismo state blob".into());
    }
    let n = r.len()?;
    let mut out = Vec::with_capacity(n.min(1 << 20));
    for _ in 0..n {
        let dims = (0..r.len()?)
            .map(|_| {
                let len = r.len()?;
                String::from_utf8(r.take(len)?.to_vec()).map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let states = (0..r.len()?)
            .map(|_| {
                let len = r.len()?;
                SeriesState::from_bytes(r.take(len)?).map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.push((dims, states));
    }
    if !r.0.is_empty() {
        return Err("trailing bytes".into());
    }
    Ok(out)
}

pub(super) fn encode_values(values: &[(Vec<String>, Vec<Option<f64>>)]) -> Vec<u8> {
    serde_json::to_vec(values).unwrap_or_default()
}

pub(super) fn decode_values(bytes: &[u8]) -> Result<Values, String> {
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

pub(super) fn encode_scored(scored: &[(Vec<String>, Vec<Option<Scored>>)]) -> Vec<u8> {
    serde_json::to_vec(scored).unwrap_or_default()
}

pub(super) fn decode_scored(bytes: &[u8]) -> Result<Verdicts, String> {
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineConfig;
    use crate::model::Frequency;

    #[test]
    fn states_round_trip_and_damage_is_refused() {
        let config = EngineConfig::for_frequency(Frequency::Pt1h);
        let mut a = SeriesState::new(&config);
        for t in 0..500 {
            a.observe(&config, t * 3600, Some(100.0 + (t % 24) as f64));
        }
        let series = vec![
            (
                vec!["EU".to_string(), "web".to_string()],
                vec![a.clone(), SeriesState::new(&config)],
            ),
            (vec!["US".to_string(), "ü".to_string()], vec![a.clone(), a]),
        ];
        let bytes = encode_states(&series);
        let back = decode_states(&bytes).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[1].0, series[1].0);
        assert_eq!(back[0].1[0].to_bytes(), series[0].1[0].to_bytes());
        assert!(decode_states(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode_states(b"nope").is_err());
    }
}
