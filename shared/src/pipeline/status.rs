//! A detector's status: set, moved from one status to another, and read.

use serde_json::{Value, json};

use crate::store::{Kind, Store, StoreError, update};

/// Sets the detector's status (and failure), keeping every other field.
pub async fn set_status<S: Store>(
    store: &S,
    arn: &str,
    status: &str,
    failure: Option<(&str, &str)>,
) -> Result<(), StoreError> {
    update(store, Kind::Detector, arn, |current| {
        Ok::<_, StoreError>(current.map(|c| {
            let mut doc = c.clone();
            doc["Status"] = json!(status);
            if let Value::Object(m) = &mut doc {
                m.remove("FailureType");
                m.remove("FailureReason");
                if let Some((kind, reason)) = failure {
                    m.insert("FailureType".into(), json!(kind));
                    m.insert("FailureReason".into(), json!(reason));
                }
            }
            doc
        }))
    })
    .await?;
    Ok(())
}

/// Moves the detector from `from` to `to`, only if it is still `from`.
pub(super) async fn set_status_from<S: Store>(
    store: &S,
    arn: &str,
    from: &str,
    to: &str,
) -> Result<(), StoreError> {
    update(store, Kind::Detector, arn, |current| {
        Ok::<_, StoreError>(current.filter(|c| c["Status"] == from).map(|c| {
            let mut doc = c.clone();
            doc["Status"] = json!(to);
            doc
        }))
    })
    .await?;
    Ok(())
}

/// A detector document's status, `DELETED` when there is none.
pub(super) fn status_of(doc: Option<Value>) -> String {
    doc.as_ref()
        .and_then(|d| d["Status"].as_str())
        .unwrap_or("DELETED")
        .to_string()
}
