//! Live detection after history: a detector whose history ended weeks before its first live
//! interval (history exported once, the detector activated a month later) judges the intervals
//! against the weeks it learned, not against the few values it has seen since.

mod common;

use seismo_lab::generate::{self, GenerateOptions};
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

    let (store, objects, arn) = common::activated(dir.path()).await;
    let outbox = Outbox::new();
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

/// The status of detector `arn`.
async fn status(store: &MemoryStore, arn: &str) -> serde_json::Value {
    store.get(Kind::Detector, arn).await.unwrap().unwrap()["Status"].clone()
}

/// Sets the status of detector `arn`, as the API does before a one-time run.
async fn set_status(store: &MemoryStore, arn: &str, status: &str) {
    let mut doc = store.get(Kind::Detector, arn).await.unwrap().unwrap();
    doc["Status"] = serde_json::json!(status);
    store.put(Kind::Detector, arn, doc).await.unwrap();
}

/// The interval shard 0's model state is as of.
async fn model_at(store: &MemoryStore, arn: &str) -> i64 {
    let head = store
        .get(Kind::Pipeline, &format!("{arn}/state/0"))
        .await
        .unwrap()
        .unwrap();
    head["at"].as_i64().unwrap()
}

#[tokio::test]
async fn activated_again_a_detector_keeps_its_model_unless_its_series_changed() {
    // Deactivated to change something else (an alert, the Offset) and activated again, a
    // detector goes on with the model it built, what it learned live included, from the
    // interval closed last: it neither relearns the history nor scores the intervals that
    // closed while it was deactivated. Activated after its dimensions changed, it relearns.
    let dir = tempfile::tempdir().unwrap();
    let generated = generate::generate(dir.path(), &GenerateOptions::default()).unwrap();
    let incident = generated.incidents[0].start;
    let history_end = incident - 6 * 3600;
    generate::cut_history(dir.path(), history_end).unwrap();
    let (store, objects, arn) = common::activated(dir.path()).await;
    let outbox = Outbox::new();
    let learned_until = model_at(&store, &arn).await;
    assert!(learned_until < history_end);
    for hour in 0..3 {
        local::run_interval(
            &store,
            &objects,
            &outbox,
            "",
            &arn,
            history_end + hour * 3600,
        )
        .await
        .unwrap();
    }
    let live_until = history_end + 2 * 3600;
    assert_eq!(model_at(&store, &arn).await, live_until);

    set_status(&store, &arn, "DEACTIVATED").await;
    set_status(&store, &arn, "ACTIVATING").await;
    pipeline::activate(&store, &objects, &arn).await.unwrap();
    assert_eq!(status(&store, &arn).await, "ACTIVE");
    assert_eq!(
        model_at(&store, &arn).await,
        live_until,
        "the model learned live is kept, not relearned from the history"
    );
    // Two hours after the activation (and its Offset): the interval closed last then, and
    // the ones since.
    let activated = pipeline::runtime(&store, &arn).await.unwrap().activated_at;
    let closed_last = activated - activated % 3600 - 3600;
    let due = local::due(&store, &arn, activated + 2 * 3600)
        .await
        .unwrap();
    assert_eq!(
        due.first(),
        Some(&closed_last),
        "not the intervals since {live_until}: {due:?}"
    );
    assert!(due.len() <= 3, "{due:?}");

    // The dimensions change: the model is for other series, and is learned anew.
    set_status(&store, &arn, "DEACTIVATED").await;
    let ms_arn = format!("{}shop-orders", pipeline::metric_set_prefix(&arn));
    let mut ms = store.get(Kind::MetricSet, &ms_arn).await.unwrap().unwrap();
    ms["DimensionList"] = serde_json::json!(["region", "channel"]);
    store.put(Kind::MetricSet, &ms_arn, ms).await.unwrap();
    set_status(&store, &arn, "ACTIVATING").await;
    pipeline::activate(&store, &objects, &arn).await.unwrap();
    assert_eq!(status(&store, &arn).await, "ACTIVE");
    assert_eq!(model_at(&store, &arn).await, learned_until);
}

#[tokio::test]
async fn a_backtest_keeps_the_groups_found_live() {
    // BackTestAnomalyDetector on a detector that ran live adds its groups beside the live
    // ones (it replaced them all, losing what was found and alerted on).
    let dir = tempfile::tempdir().unwrap();
    let incident = common::sample_up_to_first_incident(dir.path());
    let (store, objects, arn) = common::activated(dir.path()).await;
    let outbox = Outbox::new();
    let run = local::run_interval(&store, &objects, &outbox, "", &arn, incident)
        .await
        .unwrap();
    assert!(run.groups > 0, "{run:?}");
    let groups = || async {
        let all = store.list(Kind::Group, &format!("{arn}/")).await.unwrap();
        let live: Vec<String> = all
            .iter()
            .filter(|(_, g)| g.get("backTest").is_none())
            .map(|(k, _)| k.clone())
            .collect();
        (live, all.len())
    };
    let (live, _) = groups().await;
    assert_eq!(live.len(), run.groups);

    set_status(&store, &arn, "DEACTIVATED").await;
    // The whole history is back: the backtest scores its last 30%, the interval found live
    // among them, and that group stays as it was found live.
    generate::generate(dir.path(), &GenerateOptions::default()).unwrap();
    let before = store.list(Kind::Group, &format!("{arn}/")).await.unwrap();
    // The backtest's groups per measure.
    let backtested = || async {
        let mut by_measure = std::collections::BTreeMap::<String, usize>::new();
        for (_, g) in store.list(Kind::Group, &format!("{arn}/")).await.unwrap() {
            if g.get("backTest").is_some() {
                let measure = g["anomalyGroup"]["PrimaryMetricName"].as_str().unwrap();
                *by_measure.entry(measure.to_string()).or_default() += 1;
            }
        }
        by_measure
    };
    let ms_arn = format!("{}shop-orders", pipeline::metric_set_prefix(&arn));
    for token in ["first", "second"] {
        if token == "second" {
            // Revenue is no longer measured: the second backtest finds no revenue group, and
            // the first's revenue groups must go with the rest of its groups.
            let mut ms = store.get(Kind::MetricSet, &ms_arn).await.unwrap().unwrap();
            ms["MetricList"]
                .as_array_mut()
                .unwrap()
                .retain(|m| m["MetricName"] != "revenue");
            store.put(Kind::MetricSet, &ms_arn, ms).await.unwrap();
        }
        set_status(&store, &arn, "BACK_TEST_ACTIVATING").await;
        pipeline::ask_run(&store, &arn, token, 0).await.unwrap();
        let after = pipeline::run_backtest(&store, &objects, &arn, Some(token))
            .await
            .unwrap();
        assert_eq!(after, "BACK_TEST_COMPLETE");
        let (kept, all) = groups().await;
        assert_eq!(kept, live, "the live groups stay");
        assert!(all > live.len(), "the backtest's groups are added");
        let by_measure = backtested().await;
        if token == "first" {
            assert!(by_measure.get("revenue") > Some(&0), "{by_measure:?}");
        } else {
            assert_eq!(
                by_measure.keys().collect::<Vec<_>>(),
                ["orders"],
                "a second backtest replaces the first's"
            );
        }
    }
    let after = store.list(Kind::Group, &format!("{arn}/")).await.unwrap();
    for (key, group) in &before {
        let now = after.iter().find(|(k, _)| k == key).map(|(_, g)| g);
        assert_eq!(now, Some(group), "{key} as found live");
    }
}
