//! One-time runs (an activation, a backtest) asked for by the API: who asked last, and a claim
//! so that exactly one caller runs each, with a lost run taken over after [`RUN_LOST_AFTER`].

use serde_json::{Value, json};

use super::PipelineError;
use super::delete::discard;
use super::detector::now;
use super::status::detector_status;
use crate::model::DetectorStatus;
use crate::store::{Kind, Store, StoreError, keys, update};

/// How long a one-time run (an activation, a backtest) asked for may take before it is taken
/// for lost (the ingest function's 15 minutes, and margin) and may be asked for again.
pub const RUN_LOST_AFTER: i64 = 1_200;

/// Records that the API asked for a one-time run of a detector: its token (which the run's
/// event carries) and when. Another request replaces it, so a run asked for earlier does not
/// start.
pub async fn ask_run<S: Store>(
    store: &S,
    arn: &str,
    token: &str,
    now: i64,
) -> Result<(), StoreError> {
    let doc = json!({ "token": token, "requestedAt": now });
    store.put(Kind::Pipeline, &keys::run(arn), doc).await
}

/// When the detector's current one-time run was asked for.
pub async fn run_requested_at<S: Store>(store: &S, arn: &str) -> Result<Option<i64>, StoreError> {
    let doc = store.get(Kind::Pipeline, &keys::run(arn)).await?;
    Ok(doc.and_then(|d| d["requestedAt"].as_i64()))
}

/// Who runs the one-time work asked for.
enum RunClaim {
    /// This caller, under this claim.
    Ours(String),
    /// Another caller, less than [`RUN_LOST_AFTER`] ago (a duplicate event while it runs, or
    /// the retry of a run that failed and could not give its claim back).
    Held,
    /// Nobody: this event's run is not (or no longer) the one asked for.
    Outdated,
}

/// Claims the run asked for with `token` (`None`: whichever was asked for last), for exactly
/// one caller; a claim older than [`RUN_LOST_AFTER`] is a lost run's and is taken over.
async fn claim_run<S: Store>(
    store: &S,
    arn: &str,
    token: Option<&str>,
) -> Result<RunClaim, StoreError> {
    let claim = crate::objects::unique_suffix();
    let at = now();
    let lost = |c: &Value| c["claimedAt"].as_i64().unwrap_or(0) + RUN_LOST_AFTER < at;
    let asked = |c: &Value| token.is_none_or(|t| c["token"] == t);
    let after = update(store, Kind::Pipeline, &keys::run(arn), |current| {
        Ok::<_, StoreError>(
            current
                .filter(|c| c["claim"].is_null() || lost(c))
                .filter(|c| asked(c))
                .map(|c| {
                    let mut next = c.clone();
                    next["claim"] = json!(claim);
                    next["claimedAt"] = json!(at);
                    next
                }),
        )
    })
    .await?;
    Ok(match after {
        Some(d) if d["claim"] == claim.as_str() => RunClaim::Ours(claim),
        Some(d) if asked(&d) && !d["claim"].is_null() => RunClaim::Held,
        _ => RunClaim::Outdated,
    })
}

/// Gives a claimed run back (its work failed on storage), so the retry of its event runs it.
async fn release_run<S: Store>(store: &S, arn: &str, claim: &str) -> Result<(), StoreError> {
    update(store, Kind::Pipeline, &keys::run(arn), |current| {
        Ok::<_, StoreError>(current.filter(|c| c["claim"] == claim).map(|c| {
            let mut next = c.clone();
            next["claim"] = Value::Null;
            next
        }))
    })
    .await?;
    Ok(())
}

/// Clears the claim on a detector's one-time run, so it runs again: for `seismo serve` when it
/// starts, since no run of its own can be going then (one killed mid-way left the detector
/// ACTIVATING for twenty minutes).
pub async fn reset_run_claim<S: Store>(store: &S, arn: &str) -> Result<(), StoreError> {
    update(store, Kind::Pipeline, &keys::run(arn), |current| {
        Ok::<_, StoreError>(current.filter(|c| !c["claim"].is_null()).map(|c| {
            let mut next = c.clone();
            next["claim"] = Value::Null;
            next
        }))
    })
    .await?;
    Ok(())
}

/// Runs the one-time work asked for while the detector is `running` (the API set that status
/// and scheduled this). Only the run asked for last with `token` (any, when `None`) runs, once:
/// another status, a duplicate or an outdated event changes nothing. A detector deleted while
/// it ran loses what the run stored. Returns the status after. Only a storage failure is an
/// error (retried).
pub(super) async fn run_once<S: Store, F: Future<Output = Result<(), PipelineError>>>(
    store: &S,
    arn: &str,
    token: Option<&str>,
    running: DetectorStatus,
    work: impl FnOnce() -> F,
) -> Result<String, PipelineError> {
    let doc = store.get(Kind::Detector, arn).await?;
    let status = status_name(detector_status(doc.as_ref()));
    if status != running.as_str() {
        return Ok(status);
    }
    let claim = match claim_run(store, arn, token).await? {
        RunClaim::Ours(claim) => claim,
        RunClaim::Outdated => return Ok(status),
        // Not done, so not acknowledged: the event is retried (or dead-lettered), and runs
        // once that run is done or taken for lost.
        RunClaim::Held => return Err(PipelineError::Busy(format!("{arn}: {running} runs"))),
    };
    if let Err(e) = work().await {
        // Retried: the retry must find the run unclaimed (best effort: storage is failing).
        let _ = release_run(store, arn, &claim).await;
        return Err(e);
    }
    let doc = store.get(Kind::Detector, arn).await?;
    let after = detector_status(doc.as_ref());
    if matches!(after, None | Some(DetectorStatus::Deleting)) {
        discard(store, arn).await?;
    }
    Ok(status_name(after))
}

/// What a run reports a detector's status as: its status, or [`GONE`] when it is no more.
fn status_name(status: Option<DetectorStatus>) -> String {
    status.map_or(GONE, DetectorStatus::as_str).to_string()
}

/// The status a run reports for a detector that is gone (deleted while, or before, it ran).
pub(super) const GONE: &str = "DELETED";

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::DetectorStatus::BackTestActivating;
    use crate::store::MemoryStore;

    const ARN: &str = "arn:aws:lookoutmetrics:us-east-1:123456789012:AnomalyDetector:d";

    async fn detector(store: &MemoryStore, status: &str) {
        let doc = json!({ "Status": status });
        store.put(Kind::Detector, ARN, doc).await.unwrap();
    }

    async fn claim(store: &MemoryStore, token: Option<&str>) -> RunClaim {
        claim_run(store, ARN, token).await.unwrap()
    }

    #[tokio::test]
    async fn a_run_is_claimed_once_and_only_for_the_token_asked_last() {
        let store = MemoryStore::new();
        assert!(
            matches!(claim(&store, None).await, RunClaim::Outdated),
            "nothing asked"
        );
        ask_run(&store, ARN, "a", 100).await.unwrap();
        ask_run(&store, ARN, "b", 200).await.unwrap();
        assert_eq!(run_requested_at(&store, ARN).await.unwrap(), Some(200));
        assert!(matches!(claim(&store, Some("a")).await, RunClaim::Outdated));
        let RunClaim::Ours(held) = claim(&store, Some("b")).await else {
            panic!("the run asked for last is claimed");
        };
        assert!(matches!(claim(&store, Some("b")).await, RunClaim::Held));
        assert!(matches!(claim(&store, None).await, RunClaim::Held));
        release_run(&store, ARN, "another claim").await.unwrap();
        assert!(
            matches!(claim(&store, None).await, RunClaim::Held),
            "only the holder gives a claim back"
        );
        release_run(&store, ARN, &held).await.unwrap();
        assert!(matches!(claim(&store, Some("b")).await, RunClaim::Ours(_)));
    }

    #[tokio::test]
    async fn a_lost_claim_is_taken_over_and_a_reset_clears_a_claim() {
        let store = MemoryStore::new();
        let key = keys::run(ARN);
        let run = |claimed_at: i64| json!({ "token": "a", "requestedAt": 0, "claim": "old", "claimedAt": claimed_at });
        store
            .put(Kind::Pipeline, &key, run(now() - RUN_LOST_AFTER + 60))
            .await
            .unwrap();
        assert!(matches!(claim(&store, Some("a")).await, RunClaim::Held));
        store
            .put(Kind::Pipeline, &key, run(now() - RUN_LOST_AFTER - 1))
            .await
            .unwrap();
        assert!(matches!(claim(&store, Some("a")).await, RunClaim::Ours(_)));
        assert!(matches!(claim(&store, Some("a")).await, RunClaim::Held));
        reset_run_claim(&store, ARN).await.unwrap();
        let doc = store.get(Kind::Pipeline, &key).await.unwrap().unwrap();
        assert!(doc["claim"].is_null(), "{doc}");
        assert_eq!(doc["token"], "a");
        assert!(matches!(claim(&store, Some("a")).await, RunClaim::Ours(_)));
    }

    #[tokio::test]
    async fn run_once_runs_the_work_once_and_only_in_its_status() {
        let store = MemoryStore::new();
        let runs = std::sync::atomic::AtomicUsize::new(0);
        let counted = &runs;
        let work = move || async move {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok::<(), PipelineError>(())
        };
        let ran = || runs.load(std::sync::atomic::Ordering::SeqCst);
        let once = |token| run_once(&store, ARN, token, DetectorStatus::Activating, work);
        assert_eq!(once(None).await.unwrap(), "DELETED", "no detector");
        detector(&store, "ACTIVE").await;
        ask_run(&store, ARN, "t", now()).await.unwrap();
        assert_eq!(once(Some("t")).await.unwrap(), "ACTIVE", "another status");
        assert_eq!(ran(), 0);
        detector(&store, "ACTIVATING").await;
        assert_eq!(once(Some("old")).await.unwrap(), "ACTIVATING", "outdated");
        assert_eq!(ran(), 0);
        assert_eq!(once(Some("t")).await.unwrap(), "ACTIVATING");
        assert_eq!(ran(), 1);
        assert!(
            matches!(once(Some("t")).await, Err(PipelineError::Busy(_))),
            "a duplicate while the claim is held is retried later"
        );
        assert_eq!(ran(), 1);
    }

    #[tokio::test]
    async fn failed_work_gives_the_claim_back_for_its_retry() {
        let store = MemoryStore::new();
        detector(&store, "BACK_TEST_ACTIVATING").await;
        ask_run(&store, ARN, "t", now()).await.unwrap();
        let down = || async { Err(StoreError::Backend("down".into()).into()) };
        let failed = run_once(&store, ARN, Some("t"), BackTestActivating, down).await;
        assert!(matches!(failed, Err(PipelineError::Store(_))), "{failed:?}");
        let up = || async { Ok(()) };
        let retried = run_once(&store, ARN, Some("t"), BackTestActivating, up).await;
        assert_eq!(retried.unwrap(), "BACK_TEST_ACTIVATING");
    }

    #[tokio::test]
    async fn a_detector_deleted_while_it_ran_loses_what_the_run_stored() {
        let store = MemoryStore::new();
        detector(&store, "ACTIVATING").await;
        ask_run(&store, ARN, "t", now()).await.unwrap();
        let s = &store;
        let work = move || async move {
            s.put(Kind::Group, &keys::group(ARN, "g"), json!({}))
                .await?;
            s.put(Kind::Quality, ARN, json!({})).await?;
            s.put(Kind::Pipeline, &keys::runtime(ARN), json!({}))
                .await?;
            s.put(Kind::Detector, ARN, json!({ "Status": "DELETING" }))
                .await?;
            Ok::<(), PipelineError>(())
        };
        let after = run_once(&store, ARN, Some("t"), DetectorStatus::Activating, work).await;
        assert_eq!(after.unwrap(), "DELETING");
        let prefix = keys::detector_prefix(ARN);
        assert!(store.list(Kind::Group, &prefix).await.unwrap().is_empty());
        assert!(
            store
                .list(Kind::Pipeline, &prefix)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.get(Kind::Quality, ARN).await.unwrap(), None);
    }
}
