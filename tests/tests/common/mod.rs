//! Setup shared by the pipeline tests: a detector over the generated sample's metric set.

use seismo_shared::generate;
use seismo_shared::pipeline;
use seismo_shared::store::{Kind, Store};
use serde_json::{Value, json};

/// The ARN of the detector named `name`.
pub(crate) fn arn(name: &str) -> String {
    format!("arn:aws:lookoutmetrics:us-east-1:000000000000:AnomalyDetector:{name}")
}

/// Stores the detector `name` in `status` with the generated sample's metric set, changed by
/// `edit` first; returns its ARN.
pub(crate) async fn detector<S: Store>(
    store: &S,
    name: &str,
    status: &str,
    edit: impl FnOnce(&mut Value),
) -> String {
    let arn = arn(name);
    let doc = json!({ "AnomalyDetectorArn": arn, "AnomalyDetectorName": name, "Status": status });
    store.put(Kind::Detector, &arn, doc).await.unwrap();
    let mut ms = serde_json::to_value(generate::metric_set()).unwrap();
    ms["AnomalyDetectorArn"] = json!(arn);
    edit(&mut ms);
    let ms_arn = format!("{}shop-orders", pipeline::metric_set_prefix(&arn));
    store.put(Kind::MetricSet, &ms_arn, ms).await.unwrap();
    arn
}
