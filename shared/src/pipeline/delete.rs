//! Deletion: everything the pipeline stored for a detector removed.

use super::blob;
use crate::store::{Kind, Store, StoreError};

/// Removes everything the pipeline stored for a detector (on DeleteAnomalyDetector).
pub async fn forget<S: Store>(store: &S, arn: &str) -> Result<(), StoreError> {
    blob::delete_under(store, &format!("{arn}/")).await
}

/// Removes what a one-time run stored for a detector deleted while it ran: the pipeline's
/// bookkeeping, the anomaly groups and the data-quality figures.
pub(super) async fn discard<S: Store>(store: &S, arn: &str) -> Result<(), StoreError> {
    forget(store, arn).await?;
    for (key, _) in store.list(Kind::Group, &format!("{arn}/")).await? {
        store.delete(Kind::Group, &key).await?;
    }
    store.delete(Kind::Quality, arn).await?;
    Ok(())
}
