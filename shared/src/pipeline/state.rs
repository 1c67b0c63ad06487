//! A shard's model state: a blob per version and a head that points at the current one,
//! swapped with compare-and-swap so a duplicate or late run leaves nothing behind.

use serde_json::json;

use super::{PipelineError, blob, codec};
use crate::engine::SeriesState;
use crate::store::{Kind, Store, StoreError, keys};

/// Writes a shard's state as of interval `at`: a blob under a key of its own first, then the
/// head that points at it (compare-and-swap), then the previous version is removed. A run that
/// loses the swap removes its own blob, so a duplicate or late run leaves nothing behind.
pub(super) async fn write_state<S: Store>(
    store: &S,
    arn: &str,
    shard: u32,
    at: i64,
    series: &[(Vec<String>, Vec<SeriesState>)],
    feedback_at: f64,
) -> Result<bool, StoreError> {
    let head_key = keys::state(arn, shard);
    let current = store.get(Kind::Pipeline, &head_key).await?;
    let previous = current.as_ref().and_then(|h| h["at"].as_i64());
    if previous.is_some_and(|p| p >= at) && at != i64::MIN {
        return Ok(false);
    }
    let blob_key = keys::state_blob(arn, shard, at, &crate::objects::unique_suffix());
    blob::put(store, &blob_key, &codec::encode_states(series)).await?;
    let head =
        json!({ "at": at, "blob": blob_key, "series": series.len(), "feedbackAt": feedback_at });
    match store
        .replace(Kind::Pipeline, &head_key, current.as_ref(), head)
        .await
    {
        Ok(()) => {}
        // Another run got there first: this blob is nobody's. Fine when that run wrote the
        // same interval (a duplicate of this step); otherwise retry this one later.
        Err(StoreError::Changed) => {
            blob::delete(store, &blob_key).await?;
            let now = store.get(Kind::Pipeline, &head_key).await?;
            if now.as_ref().and_then(|h| h["at"].as_i64()) == Some(at) {
                return Ok(false);
            }
            return Err(StoreError::Changed);
        }
        // The swap may have happened (a timeout after the write): the head says. If not,
        // this blob is nobody's (best effort: a failure here leaves it, as before).
        Err(e) => {
            let now = store.get(Kind::Pipeline, &head_key).await;
            let named = |h: &serde_json::Value| h["blob"].as_str() == Some(blob_key.as_str());
            match now {
                Ok(Some(h)) if named(&h) => {}
                Ok(_) => {
                    let _ = blob::delete(store, &blob_key).await;
                    return Err(e);
                }
                Err(_) => return Err(e),
            }
        }
    }
    if let Some(old) = current.as_ref().and_then(|h| h["blob"].as_str()) {
        blob::delete(store, old).await?;
    }
    Ok(true)
}

/// A shard's model state: as of which interval, the series, and the time of the newest
/// feedback applied (feedback is applied once, in the order it was given).
pub(super) struct ShardState {
    pub(super) at: Option<i64>,
    pub(super) series: codec::States,
    pub(super) feedback_at: f64,
}

/// The feedback mark of a state that has applied none.
pub(super) const NO_FEEDBACK: f64 = -1.0;

pub(super) async fn read_state<S: Store>(
    store: &S,
    arn: &str,
    shard: u32,
) -> Result<ShardState, PipelineError> {
    let Some(head) = store.get(Kind::Pipeline, &keys::state(arn, shard)).await? else {
        return Ok(ShardState {
            at: None,
            series: Vec::new(),
            feedback_at: NO_FEEDBACK,
        });
    };
    let mut head = head;
    // A concurrent run of the shard may swap the head and remove the blob it named between
    // the two reads: read the head again (a blob still missing then is lost for good).
    let mut bytes = None;
    for _ in 0..3 {
        let blob_key = head["blob"].as_str().unwrap_or_default().to_string();
        if let Some(b) = blob::get(store, &blob_key).await? {
            bytes = Some(b);
            break;
        }
        match store.get(Kind::Pipeline, &keys::state(arn, shard)).await? {
            Some(now) if now != head => head = now,
            _ => break,
        }
    }
    let at = head["at"].as_i64().filter(|&t| t != i64::MIN);
    let blob_key = head["blob"].as_str().unwrap_or_default();
    let bytes =
        bytes.ok_or_else(|| PipelineError::Config(format!("state blob {blob_key} is missing")))?;
    let series = codec::decode_states(&bytes)
        .map_err(|e| PipelineError::Config(format!("state of shard {shard}: {e}")))?;
    let feedback_at = head["feedbackAt"].as_f64().unwrap_or(NO_FEEDBACK);
    Ok(ShardState {
        at,
        series,
        feedback_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineConfig;
    use crate::model::Frequency;
    use crate::store::MemoryStore;

    const ARN: &str = "arn:aws:lookoutmetrics:us-east-1:123456789012:AnomalyDetector:d";

    fn series() -> Vec<(Vec<String>, Vec<SeriesState>)> {
        let config = EngineConfig::for_frequency(Frequency::Pt1h);
        let mut state = SeriesState::new(&config);
        for t in 0..30 {
            state.observe(&config, t * 3_600, Some(10.0 + (t % 5) as f64));
        }
        vec![(vec!["a".to_string(), "b".to_string()], vec![state])]
    }

    /// Blobs stored for a shard (their heads, not their parts).
    async fn versions(store: &MemoryStore, shard: u32) -> usize {
        let under = store
            .list(Kind::Pipeline, &keys::state_blobs(ARN, shard))
            .await
            .unwrap();
        under.iter().filter(|(k, _)| !k.contains('#')).count()
    }

    #[tokio::test]
    async fn a_shard_without_state_reads_empty() {
        let store = MemoryStore::new();
        let state = read_state(&store, ARN, 3).await.unwrap();
        assert_eq!(state.at, None);
        assert!(state.series.is_empty());
        assert_eq!(state.feedback_at, NO_FEEDBACK);
    }

    #[tokio::test]
    async fn a_state_reads_back_and_an_older_or_repeated_interval_is_refused() {
        let store = MemoryStore::new();
        let series = series();
        assert!(
            write_state(&store, ARN, 1, 7_200, &series, 5.0)
                .await
                .unwrap()
        );
        let read = read_state(&store, ARN, 1).await.unwrap();
        assert_eq!(read.at, Some(7_200));
        assert_eq!(read.feedback_at, 5.0);
        assert_eq!(read.series.len(), 1);
        assert_eq!(read.series[0].0, series[0].0);
        assert_eq!(read.series[0].1[0].to_bytes(), series[0].1[0].to_bytes());

        assert!(
            !write_state(&store, ARN, 1, 7_200, &series, 6.0)
                .await
                .unwrap()
        );
        assert!(
            !write_state(&store, ARN, 1, 3_600, &series, 6.0)
                .await
                .unwrap()
        );
        assert_eq!(read_state(&store, ARN, 1).await.unwrap().feedback_at, 5.0);

        assert!(
            write_state(&store, ARN, 1, 10_800, &series, 6.0)
                .await
                .unwrap()
        );
        assert_eq!(
            versions(&store, 1).await,
            1,
            "the replaced version is removed"
        );
        assert_eq!(read_state(&store, ARN, 1).await.unwrap().at, Some(10_800));
    }

    #[tokio::test]
    async fn a_model_installed_before_any_interval_can_be_installed_again() {
        let store = MemoryStore::new();
        let series = series();
        assert!(
            write_state(&store, ARN, 0, i64::MIN, &series, NO_FEEDBACK)
                .await
                .unwrap()
        );
        assert_eq!(read_state(&store, ARN, 0).await.unwrap().at, None);
        assert!(
            write_state(&store, ARN, 0, i64::MIN, &[], NO_FEEDBACK)
                .await
                .unwrap()
        );
        assert!(read_state(&store, ARN, 0).await.unwrap().series.is_empty());
        assert_eq!(versions(&store, 0).await, 1);
    }
}
