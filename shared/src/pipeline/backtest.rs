//! The backtest stage: the metric set's whole history read, trained on and scored, and its
//! groups stored in place of the last backtest's.

use serde_json::json;

use super::PipelineError;
use super::detector::{count_executions, load};
use super::ingest::read_path;
use super::runs::run_once;
use super::status::{Failure, set_status};
use crate::data::Aggregator;
use crate::model::DetectorStatus;
use crate::objects::Objects;
use crate::store::{Kind, Store, keys};

/// Runs the backtest of a detector that is BACK_TEST_ACTIVATING (see [`run_once`]): every file
/// under the metric set's historical path (or its template's fixed prefix) is read through
/// `objects`, the first 70% of the timeline trains the models and the rest is scored; the
/// groups replace the detector's earlier ones, with the data-quality figures, and the detector
/// becomes BACK_TEST_COMPLETE, or FAILED with the reason.
pub async fn run_backtest<S: Store>(
    store: &S,
    objects: &dyn Objects,
    arn: &str,
    token: Option<&str>,
) -> Result<String, PipelineError> {
    run_once(
        store,
        arn,
        token,
        DetectorStatus::BackTestActivating,
        || async {
            let failure = match backtest_now(store, objects, arn).await {
                Ok(()) => return Ok(()),
                Err(PipelineError::Store(e)) => return Err(e.into()),
                Err(e) => e.to_string(),
            };
            let failed = Failure::Set("BACK_TEST_ACTIVATION_FAILURE", failure.as_str());
            set_status(store, arn, None, DetectorStatus::Failed, failed).await?;
            Ok(())
        },
    )
    .await
}

/// The backtest itself: its groups and data quality stored, the detector BACK_TEST_COMPLETE.
/// Anything but a storage error is the reason it failed.
async fn backtest_now<S: Store>(
    store: &S,
    objects: &dyn Objects,
    arn: &str,
) -> Result<(), PipelineError> {
    let d = load(store, arn).await?;
    // The last backtest's groups go; groups the detector found live stay (groups stored before
    // backtests were marked are a backtest's when the detector never ran live).
    let ran_live = count_executions(store, arn).await? > 0;
    let mut live = std::collections::HashSet::new();
    for (key, group) in store.list(Kind::Group, &keys::detector_prefix(arn)).await? {
        if group.get(BACKTEST_MARK).map_or(!ran_live, |m| m == true) {
            store.delete(Kind::Group, &key).await?;
        } else {
            live.insert(key);
        }
    }
    let path = crate::backtest::source_path(&d.metric_set)
        .map_err(|e| PipelineError::Config(e.to_string()))?;
    // One object open at a time (an S3 object is a temporary file while it is read).
    let mut aggregator = Aggregator::new(&d.schema);
    let files = read_path(objects, &path, &mut aggregator)
        .await?
        .map_err(PipelineError::Config)?;
    let options = crate::backtest::BacktestOptions {
        namespace: arn.to_string(),
        ..Default::default()
    };
    let report = crate::backtest::run_read(
        &d.metric_set,
        &d.schema,
        aggregator,
        files,
        &options,
        &mut |_| {},
    )
    .map_err(|e| PipelineError::Config(e.to_string()))?;
    for g in &report.groups {
        let mut g = g.clone();
        g.keep_series(crate::group::MAX_STORED_SERIES);
        let key = keys::group(arn, &g.anomaly_group.anomaly_group_id);
        if live.contains(&key) {
            // The group found live for the same measure and start stays.
            continue;
        }
        let mut doc = serde_json::to_value(&g).map_err(|e| PipelineError::Config(e.to_string()))?;
        doc[BACKTEST_MARK] = json!(true);
        store.put(Kind::Group, &key, doc).await?;
    }
    let quality = json!({
        "train": report.train,
        "inference": report.inference,
        "quality": report.quality,
        "metricSetName": report.metric_set_name,
    });
    store.put(Kind::Quality, arn, quality).await?;
    let from = Some(DetectorStatus::BackTestActivating);
    set_status(
        store,
        arn,
        from,
        DetectorStatus::BackTestComplete,
        Failure::Keep,
    )
    .await?;
    Ok(())
}

/// The member that marks a stored group as a backtest's.
const BACKTEST_MARK: &str = "backTest";
