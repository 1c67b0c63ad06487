//! Every id and hash Seismo stores or sends, in one place: anomaly group ids, series ids, the
//! shard of a series, the model fingerprint, schedule names and the NextToken seal.
//!
//! Each of these is stored (a group under its id, a series' state in its shard, a runtime
//! with its model's fingerprint) or held by a client (a NextToken, a schedule), so changing
//! one silently orphans stored data. `shared/tests/ids.rs` and the API's `tests/tokens.rs` pin
//! their outputs; the FNV-1a they are built on is tested here against the published vectors.
//!
//! All of them use 64-bit FNV-1a ([`fnv1a`]); what differs between them is written down by
//! the [`Fnv1a`] variant each uses (a seed mixed into the offset basis, and a byte after each
//! part so that `("ab", "c")` is not `("a", "bc")`).

use serde_json::json;

use crate::model::CreateMetricSetRequest;

/// The FNV-1a 64 offset basis.
const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
/// The FNV-1a 64 prime.
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// A 64-bit FNV-1a over parts: the offset basis xor `seed`, and `separator` (if any) hashed
/// after each part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fnv1a {
    /// Mixed into the offset basis (xor), so two hashes of the same parts differ.
    pub seed: u64,
    /// Hashed after each part.
    pub separator: Option<u8>,
}

impl Fnv1a {
    /// Plain FNV-1a: no seed, no separator.
    pub const PLAIN: Fnv1a = Fnv1a {
        seed: 0,
        separator: None,
    };

    /// The hash of the domain's ids (groups, series, shards, fingerprints): parts separated
    /// by 0x1f (the unit separator), from the basis xor `seed`.
    pub const fn ids(seed: u64) -> Fnv1a {
        Fnv1a {
            seed,
            separator: Some(0x1f),
        }
    }

    /// The NextToken checksum's hash: parts separated by 0, no seed.
    pub const TOKEN: Fnv1a = Fnv1a {
        seed: 0,
        separator: Some(0),
    };

    /// The hash of `parts`.
    pub fn hash<'a>(self, parts: impl IntoIterator<Item = &'a [u8]>) -> u64 {
        let mut h = OFFSET_BASIS ^ self.seed;
        for part in parts {
            for &b in part.iter().chain(self.separator.as_ref()) {
                h = (h ^ u64::from(b)).wrapping_mul(PRIME);
            }
        }
        h
    }

    /// The hash of string `parts`.
    pub fn hash_strs<'a>(self, parts: impl IntoIterator<Item = &'a str>) -> u64 {
        self.hash(parts.into_iter().map(str::as_bytes))
    }
}

/// Plain 64-bit FNV-1a of `bytes` (no seed, no separator).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    Fnv1a::PLAIN.hash([bytes])
}

/// A UUID-shaped id that is the same for the same namespace, measure and start: recomputing a
/// group gives the same id, so retries never duplicate one.
pub fn group_id(namespace: &str, measure: &str, start: i64) -> String {
    let start = start.to_string();
    let parts = [namespace, measure, start.as_str()];
    let hex = format!(
        "{:016x}{:016x}",
        Fnv1a::ids(1).hash_strs(parts),
        Fnv1a::ids(2).hash_strs(parts)
    );
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A stable id of a series: the measure and its dimension values.
pub fn series_id(measure: &str, dimensions: &[String]) -> String {
    let mut parts = vec![measure];
    parts.extend(dimensions.iter().map(String::as_str));
    format!("{:016x}", Fnv1a::ids(3).hash_strs(parts))
}

/// The shard of a series (its dimension values), stable across runs; zero shards count as one.
pub fn shard_of(dimensions: &[String], shards: u32) -> u32 {
    let parts = dimensions.iter().map(String::as_str);
    (Fnv1a::ids(0).hash_strs(parts) % u64::from(shards.max(1))) as u32
}

/// What a detector's model depends on: its measures, dimensions, filters, frequency and time
/// zone. A detector deactivated to change something else (an alert, the Offset, a data path)
/// and activated again keeps its model; one whose series changed learns anew.
pub fn model_fingerprint(metric_set: &CreateMetricSetRequest) -> String {
    let basis = json!({
        "metrics": metric_set.metric_list,
        "dimensions": metric_set.dimension_list,
        "filters": metric_set.dimension_filter_list,
        "frequency": metric_set.metric_set_frequency,
        "timezone": metric_set.timezone,
    });
    format!(
        "{:016x}",
        Fnv1a::ids(0).hash_strs([basis.to_string().as_str()])
    )
}

/// The name of a detector's recurring schedule: the detector's name (the last `:` part of
/// its ARN).
pub fn schedule_name(detector_arn: &str) -> &str {
    detector_arn.rsplit(':').next().unwrap_or(detector_arn)
}

/// The name of a detector's one-time schedule doing `word` (`activate`, `backtest`):
/// `NAME.WORD` (detector names cannot hold a `.`, so it is no other detector's schedule); a
/// name too long for the scheduler's 64 characters keeps its first 45 characters and a hash of
/// the whole: `FIRST45.HHHHHHHH.WORD`.
pub fn once_schedule_name(detector_name: &str, word: &str) -> String {
    if detector_name.len() + 1 + word.len() <= 64 {
        return format!("{detector_name}.{word}");
    }
    let hash = fnv1a(detector_name.as_bytes());
    let cut = &detector_name[..detector_name
        .char_indices()
        .nth(45)
        .map_or(detector_name.len(), |(i, _)| i)];
    format!("{cut}.{:08x}.{word}", hash as u32)
}

/// The NextToken that continues a listing (`scope`, see the API's paging) after `key`: the
/// key in hex, a `.` and a checksum of the scope and key (a checksum, so a token is
/// recognised, not a secret).
pub fn seal_next_token(key: &str, scope: &str) -> String {
    let hex: String = key.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{hex}.{}", token_checksum(scope, key))
}

/// The key a NextToken sealed by [`seal_next_token`] for `scope` continues after; None for a
/// token of another listing, altered, or not one at all.
pub fn open_next_token(token: &str, scope: &str) -> Option<String> {
    let (hex, sum) = token.split_once('.')?;
    if hex.len() % 2 != 0 || !hex.is_ascii() {
        return None;
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .ok()?;
    let key = String::from_utf8(bytes).ok()?;
    (sum == token_checksum(scope, &key)).then_some(key)
}

fn token_checksum(scope: &str, key: &str) -> String {
    format!("{:016x}", Fnv1a::TOKEN.hash_strs([scope, key]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_gives_the_published_64_bit_vectors() {
        // From the FNV reference test suite (Fowler, Noll, Vo: "FNV-1a 64-bit test vectors",
        // www.isthe.com/chongo/src/fnv/test_fnv.c).
        for (input, hash) in [
            ("", 0xcbf2_9ce4_8422_2325_u64),
            ("a", 0xaf63_dc4c_8601_ec8c),
            ("b", 0xaf63_df4c_8601_f1a5),
            ("c", 0xaf63_de4c_8601_eff2),
            ("foo", 0xdcb2_7518_fed9_d577),
            ("foobar", 0x8594_4171_f739_67e8),
        ] {
            assert_eq!(fnv1a(input.as_bytes()), hash, "{input:?}");
            assert_eq!(Fnv1a::PLAIN.hash_strs([input]), hash, "{input:?}");
        }
        // Without a separator, parts are just concatenated.
        assert_eq!(
            Fnv1a::PLAIN.hash_strs(["foo", "bar"]),
            0x8594_4171_f739_67e8
        );
    }

    #[test]
    fn a_separator_is_hashed_after_each_part_and_a_seed_moves_the_basis() {
        // "a" then 0x1f is the plain hash of the two bytes.
        assert_eq!(Fnv1a::ids(0).hash_strs(["a"]), fnv1a(b"a\x1f"));
        assert_eq!(Fnv1a::TOKEN.hash_strs(["a", "b"]), fnv1a(b"a\0b\0"));
        assert_ne!(
            Fnv1a::ids(0).hash_strs(["ab", "c"]),
            Fnv1a::ids(0).hash_strs(["a", "bc"])
        );
        // No parts: the basis xor the seed.
        assert_eq!(Fnv1a::ids(3).hash_strs([]), 0xcbf2_9ce4_8422_2325 ^ 3);
    }

    #[test]
    fn a_token_opens_for_its_own_scope_only() {
        let token = seal_next_token("arn:x/1", "ListAlerts:{}");
        assert_eq!(
            open_next_token(&token, "ListAlerts:{}").as_deref(),
            Some("arn:x/1")
        );
        assert_eq!(open_next_token(&token, "ListAnomalyDetectors:{}"), None);
        for bad in ["", ".", "zz.0", "6.0", "61"] {
            assert_eq!(open_next_token(bad, "ListAlerts:{}"), None, "{bad:?}");
        }
    }

    #[test]
    fn long_detector_names_keep_45_characters_and_a_hash() {
        let long = "d".repeat(70);
        let name = once_schedule_name(&long, "backtest");
        assert!(name.len() <= 64, "{name}");
        assert!(name.starts_with(&"d".repeat(45)), "{name}");
        // Pinned: a schedule already created under this name must still be found.
        assert_eq!(
            name,
            "ddddddddddddddddddddddddddddddddddddddddddddd.06476bf5.backtest"
        );
    }
}
