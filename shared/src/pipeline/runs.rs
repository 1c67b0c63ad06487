//! One-time runs (an activation, a backtest) asked for by the API: who asked last, and a claim
//! so that exactly one caller runs each, with a lost run taken over after [`RUN_LOST_AFTER`].

use serde_json::{Value, json};

use super::PipelineError;
use super::delete::discard;
use super::detector::now;
use super::status::status_of;
use crate::store::{Kind, Store, StoreError, update};

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
    store.put(Kind::Pipeline, &format!("{arn}/run"), doc).await
}

/// When the detector's current one-time run was asked for.
pub async fn run_requested_at<S: Store>(store: &S, arn: &str) -> Result<Option<i64>, StoreError> {
    let doc = store.get(Kind::Pipeline, &format!("{arn}/run")).await?;
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
    let after = update(store, Kind::Pipeline, &format!("{arn}/run"), |current| {
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
    update(store, Kind::Pipeline, &format!("{arn}/run"), |current| {
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
    update(store, Kind::Pipeline, &format!("{arn}/run"), |current| {
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
    running: &str,
    work: impl FnOnce() -> F,
) -> Result<String, PipelineError> {
    let status = status_of(store.get(Kind::Detector, arn).await?);
    if status != running {
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
    let after = status_of(store.get(Kind::Detector, arn).await?);
    if matches!(after.as_str(), "DELETED" | "DELETING") {
        discard(store, arn).await?;
    }
    Ok(after)
}
