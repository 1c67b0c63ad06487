//! A detector's status: the one place it is written and read. Each caller's difference is an
//! explicit parameter: whether the change must find a given status first, what happens to the
//! failure fields, whether `LastModificationTime` is stamped, and which status a document
//! without one reads as.

use serde_json::Value;

use crate::model::{DetectorDoc, DetectorStatus, Document};
use crate::store::{Kind, Store, StoreError, update};

/// What a status change does to the detector's `FailureType` and `FailureReason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure<'a> {
    /// Leaves them as they are (the pipeline's own moves: LEARNING to ACTIVE, a backtest done).
    Keep,
    /// Removes them.
    Clear,
    /// Sets them to this failure type and reason.
    Set(&'a str, &'a str),
}

/// Writes a status into a detector document, keeping every other field; `stamp` (epoch
/// seconds, as the API writes its times), when given, becomes its `LastModificationTime` (the
/// API stamps the changes it is asked for; the pipeline's own moves do not).
pub fn write_status(
    doc: &mut DetectorDoc,
    status: DetectorStatus,
    failure: Failure<'_>,
    stamp: Option<f64>,
) {
    doc.status = Some(status);
    if let Some(t) = stamp {
        doc.last_modification_time = Some(t);
    }
    match failure {
        Failure::Keep => {}
        Failure::Clear => (doc.failure_type, doc.failure_reason) = (None, None),
        Failure::Set(kind, reason) => {
            doc.failure_type = Some(kind.to_string());
            doc.failure_reason = Some(reason.to_string());
        }
    }
}

/// Sets the detector's status (see [`write_status`]), keeping every other field; with
/// `only_from`, only while the detector is still in that status (a move of the pipeline's own,
/// which a change asked for meanwhile, such as a deactivation, must win over). A detector that
/// is gone stays gone; one that does not read as a detector is not rewritten (an error).
pub async fn set_status<S: Store>(
    store: &S,
    arn: &str,
    only_from: Option<DetectorStatus>,
    status: DetectorStatus,
    failure: Failure<'_>,
) -> Result<(), StoreError> {
    update(store, Kind::Detector, arn, |current| {
        let Some(current) = current else {
            return Ok(None);
        };
        let mut doc = DetectorDoc::from_value(current.clone())
            .map_err(|e| StoreError::Backend(format!("{arn}: {e}")))?;
        if only_from.is_some_and(|from| doc.status != Some(from)) {
            return Ok(None);
        }
        write_status(&mut doc, status, failure, None);
        Ok::<_, StoreError>(Some(doc.to_value()))
    })
    .await?;
    Ok(())
}

/// A detector document's status; `None` when there is no document, or it has no status the
/// API knows.
pub fn detector_status(doc: Option<&Value>) -> Option<DetectorStatus> {
    doc.and_then(|d| DetectorDoc::from_value(d.clone()).ok())
        .and_then(|d| d.status)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::DetectorStatus::{Active, Deactivated, Failed, Learning};

    fn typed(doc: Value) -> DetectorDoc {
        DetectorDoc::from_value(doc).unwrap()
    }
    use crate::store::MemoryStore;

    const ARN: &str = "arn:aws:lookoutmetrics:us-east-1:123456789012:AnomalyDetector:d";

    async fn stored(store: &MemoryStore) -> Value {
        store.get(Kind::Detector, ARN).await.unwrap().unwrap()
    }

    #[test]
    fn write_status_sets_clears_or_keeps_the_failure() {
        let failed =
            json!({ "Status": "FAILED", "FailureType": "T", "FailureReason": "R", "X": 1 });
        let cases = [
            ("keep", Failure::Keep, Some("T"), Some("R")),
            ("clear", Failure::Clear, None, None),
            ("set", Failure::Set("U", "why"), Some("U"), Some("why")),
        ];
        for (name, failure, kind, reason) in cases {
            let mut typed_doc = typed(failed.clone());
            write_status(&mut typed_doc, DetectorStatus::Active, failure, None);
            let doc = typed_doc.to_value();
            assert_eq!(doc["Status"], "ACTIVE", "{name}");
            assert_eq!(doc["FailureType"].as_str(), kind, "{name}");
            assert_eq!(doc["FailureReason"].as_str(), reason, "{name}");
            assert_eq!(doc["X"], 1, "{name}: other fields stay");
            assert!(
                doc.get("LastModificationTime").is_none(),
                "{name}: no stamp"
            );
        }
    }

    #[test]
    fn write_status_stamps_only_when_asked() {
        let mut doc = typed(json!({ "Status": "ACTIVE", "LastModificationTime": 5 }));
        write_status(
            &mut doc,
            DetectorStatus::Deleting,
            Failure::Clear,
            Some(42.0),
        );
        assert_eq!(doc.to_value()["LastModificationTime"], 42.0);
        write_status(&mut doc, DetectorStatus::Deactivated, Failure::Clear, None);
        assert_eq!(doc.to_value()["LastModificationTime"], 42.0);
    }

    #[tokio::test]
    async fn set_status_only_from_leaves_another_status_alone() {
        let store = MemoryStore::new();
        let doc = json!({ "Status": "DEACTIVATED", "FailureType": "T" });
        store.put(Kind::Detector, ARN, doc.clone()).await.unwrap();
        set_status(&store, ARN, Some(Learning), Active, Failure::Keep)
            .await
            .unwrap();
        assert_eq!(stored(&store).await, doc, "a deactivation meanwhile stays");
        set_status(&store, ARN, Some(Deactivated), Active, Failure::Keep)
            .await
            .unwrap();
        let after = stored(&store).await;
        assert_eq!(after["Status"], "ACTIVE");
        assert_eq!(after["FailureType"], "T", "a move keeps the failure fields");
    }

    #[tokio::test]
    async fn set_status_writes_the_failure_and_never_revives_a_deleted_detector() {
        let store = MemoryStore::new();
        set_status(&store, ARN, None, Failed, Failure::Set("T", "R"))
            .await
            .unwrap();
        assert_eq!(store.get(Kind::Detector, ARN).await.unwrap(), None);
        store
            .put(Kind::Detector, ARN, json!({ "Status": "ACTIVATING" }))
            .await
            .unwrap();
        set_status(&store, ARN, None, Failed, Failure::Set("T", "R"))
            .await
            .unwrap();
        let after = stored(&store).await;
        assert_eq!(
            after,
            json!({ "Status": "FAILED", "FailureType": "T", "FailureReason": "R" })
        );
        set_status(&store, ARN, None, Active, Failure::Clear)
            .await
            .unwrap();
        assert_eq!(stored(&store).await, json!({ "Status": "ACTIVE" }));
    }

    #[test]
    fn detector_status_reads_the_callers_default() {
        let doc = json!({ "Status": "LEARNING" });
        assert_eq!(detector_status(Some(&doc)), Some(Learning));
        assert_eq!(detector_status(None), None);
        assert_eq!(detector_status(Some(&json!({}))), None);
        assert_eq!(
            detector_status(Some(&json!({ "Status": "SLEEPING" }))),
            None
        );
        assert_eq!(detector_status(Some(&json!({ "Status": 3 }))), None);
    }
}
