//! Deletion: everything the pipeline stored for a detector removed.

use super::blob;
use crate::store::{Kind, Store, StoreError, keys};

/// Removes everything the pipeline stored for a detector (on DeleteAnomalyDetector).
pub async fn forget<S: Store>(store: &S, arn: &str) -> Result<(), StoreError> {
    blob::delete_under(store, &keys::detector_prefix(arn)).await
}

/// Removes what a one-time run stored for a detector deleted while it ran: the pipeline's
/// bookkeeping, the anomaly groups and the data-quality figures.
pub(super) async fn discard<S: Store>(store: &S, arn: &str) -> Result<(), StoreError> {
    forget(store, arn).await?;
    for (key, _) in store.list(Kind::Group, &keys::detector_prefix(arn)).await? {
        store.delete(Kind::Group, &key).await?;
    }
    store.delete(Kind::Quality, arn).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::MemoryStore;

    const ARN: &str = "arn:aws:lookoutmetrics:us-east-1:123456789012:AnomalyDetector:d";
    /// A detector whose ARN starts with the other's.
    const LONGER: &str = "arn:aws:lookoutmetrics:us-east-1:123456789012:AnomalyDetector:d2";

    async fn seed(store: &MemoryStore, arn: &str) {
        blob::put(store, &keys::state_blob(arn, 0, 1, "x"), b"model")
            .await
            .unwrap();
        let docs = [
            (Kind::Pipeline, keys::runtime(arn)),
            (Kind::Group, keys::group(arn, "g")),
            (Kind::Quality, arn.to_string()),
            (Kind::Detector, arn.to_string()),
        ];
        for (kind, key) in docs {
            store.put(kind, &key, json!({ "k": key })).await.unwrap();
        }
    }

    async fn count(store: &MemoryStore, kind: Kind, arn: &str) -> usize {
        store
            .list(kind, &keys::detector_prefix(arn))
            .await
            .unwrap()
            .len()
    }

    #[tokio::test]
    async fn forget_removes_the_pipeline_data_and_discard_the_results_too() {
        let store = MemoryStore::new();
        seed(&store, ARN).await;
        seed(&store, LONGER).await;
        let longer_pipeline = count(&store, Kind::Pipeline, LONGER).await;
        assert!(longer_pipeline >= 2, "a blob and the runtime");

        forget(&store, ARN).await.unwrap();
        assert_eq!(count(&store, Kind::Pipeline, ARN).await, 0);
        assert_eq!(count(&store, Kind::Group, ARN).await, 1, "groups stay");
        assert!(store.get(Kind::Quality, ARN).await.unwrap().is_some());

        discard(&store, ARN).await.unwrap();
        assert_eq!(count(&store, Kind::Group, ARN).await, 0);
        assert_eq!(store.get(Kind::Quality, ARN).await.unwrap(), None);
        assert!(
            store.get(Kind::Detector, ARN).await.unwrap().is_some(),
            "the detector document is the API's to delete"
        );

        assert_eq!(count(&store, Kind::Pipeline, LONGER).await, longer_pipeline);
        assert_eq!(count(&store, Kind::Group, LONGER).await, 1);
        assert!(store.get(Kind::Quality, LONGER).await.unwrap().is_some());
        let model = blob::get(&store, &keys::state_blob(LONGER, 0, 1, "x")).await;
        assert_eq!(model.unwrap().as_deref(), Some(&b"model"[..]));
    }
}
