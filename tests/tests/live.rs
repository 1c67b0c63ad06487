//! Live detection after history: a detector whose history ended weeks before its first live
//! interval (history exported once, the detector activated a month later) judges the intervals
//! against the weeks it learned, not against the few values it has seen since.

mod common;

use seismo_shared::generate::{self, GenerateOptions};
use seismo_shared::objects::LocalObjects;
use seismo_shared::pipeline::{self, alert::Outbox, local};
use seismo_shared::store::{Kind, MemoryStore, Store};

#[tokio::test]
async fn intervals_a_month_after_the_history_are_judged_by_the_weeks_learned() {
    let dir = tempfile::tempdir().unwrap();
    let options = GenerateOptions::default();
    let generated = generate::generate(dir.path(), &options).unwrap();
    let day = 86_400;
    // History: the first 17 days. Live: 36 hours from day 49 (32 days, more than the four
    // weeks a model keeps, after the history ends), before the first incident.
    let history_end = options.start + 17 * day;
    let live = options.start + 49 * day;
    let hours: Vec<i64> = (0..36).map(|h| live + h * 3600).collect();
    let first_incident = generated.incidents.iter().map(|i| i.start).min().unwrap();
    assert!(*hours.last().unwrap() < first_incident);
    generate::cut_history(dir.path(), history_end).unwrap();

    let store = MemoryStore::new();
    let objects = LocalObjects::new(dir.path());
    let outbox = Outbox::new();
    let arn = common::detector(&store, "shop", "ACTIVATING", |_| {}).await;
    pipeline::activate(&store, &objects, &arn).await.unwrap();
    let status = store.get(Kind::Detector, &arn).await.unwrap().unwrap()["Status"].clone();
    assert_eq!(
        status, "ACTIVE",
        "17 days of hourly history cover the warm-up"
    );

    let mut groups = Vec::new();
    for &hour in &hours {
        let run = local::run_interval(&store, &objects, &outbox, "", &arn, hour)
            .await
            .unwrap();
        assert_eq!(run.problem, None, "{run:?}");
        if run.groups > 0 {
            groups.push(hour - live);
        }
    }
    assert!(
        groups.is_empty(),
        "normal hours flagged, seconds after the first live hour: {groups:?}"
    );
}
