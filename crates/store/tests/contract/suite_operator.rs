//! Contract tests of the operator view's read-only queries (newest-first listings with limits,
//! outcome and ledger counts); each runs on both backends (see `main.rs`).

use chrono::Duration;
use gaia_store::{
    JobStatus, NewJob, OutcomeCount, ResponseStatus, Store, StoreError, UidVector, WeightOutcome,
    WeightRecord, MAX_LISTING,
};

use crate::fixtures::{seeded, stats, t0};

/// Three runs (3, 2 and 1 days before t0; created in that order) with miners 1 and 2.
async fn three_runs(store: &Store) -> Vec<i64> {
    let mut runs = Vec::new();
    for days in [3, 2, 1] {
        runs.push(seeded(store, days, &[1, 2]).await.0);
    }
    runs
}

pub(crate) async fn recent_runs_newest_first_with_outcome_counts(store: &Store) {
    let runs = three_runs(store).await;
    let newest = store.recent_runs(2).await.unwrap();
    assert_eq!(
        newest.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![runs[2], runs[1]],
        "newest GFS cycle first, limited"
    );
    assert_eq!(store.recent_runs(50).await.unwrap().len(), 3);

    let resp = store.list_responses(runs[2]).await.unwrap();
    store
        .update_response_status(resp[0].id, ResponseStatus::Completed, None)
        .await
        .unwrap();
    store
        .update_response_status(resp[1].id, ResponseStatus::MinerOffline, Some("refused"))
        .await
        .unwrap();
    let counts = store.outcome_counts_of_recent_runs(2).await.unwrap();
    let of = |run: i64| -> Vec<(ResponseStatus, i64)> {
        counts
            .iter()
            .filter(|c| c.run_id == run)
            .map(|c| (c.status, c.count))
            .collect()
    };
    assert_eq!(of(runs[1]), vec![(ResponseStatus::Received, 2)]);
    let mut newest_counts = of(runs[2]);
    newest_counts.sort_by_key(|(s, _)| s.as_str());
    assert_eq!(
        newest_counts,
        vec![
            (ResponseStatus::Completed, 1),
            (ResponseStatus::MinerOffline, 1)
        ]
    );
    assert!(of(runs[0]).is_empty(), "only the 2 newest runs: {counts:?}");
    assert!(counts.iter().all(|c: &OutcomeCount| c.count > 0));

    for bad in [0, MAX_LISTING + 1] {
        let err = store.recent_runs(bad).await.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::InvalidInput {
                    field: "runs limit",
                    ..
                }
            ),
            "{err}"
        );
    }
}

pub(crate) async fn miner_history_follows_runs_newest_first(store: &Store) {
    let runs = three_runs(store).await;
    for (i, run) in runs.iter().enumerate() {
        let mut s = stats(*run, 2);
        s.overall_forecast_score = Some([0.1, 0.2, 0.3][i]);
        store.upsert_forecast_stats(&s).await.unwrap();
    }
    let hist = store.miner_stats_history(2, 2).await.unwrap();
    assert_eq!(
        hist.iter()
            .map(|s| (s.run_id, s.overall_forecast_score))
            .collect::<Vec<_>>(),
        vec![(runs[2], Some(0.3)), (runs[1], Some(0.2))]
    );
    assert!(store.miner_stats_history(1, 10).await.unwrap().is_empty());
    let responses = store.miner_response_history(1, 10).await.unwrap();
    assert_eq!(
        responses.iter().map(|r| r.run_id).collect::<Vec<_>>(),
        vec![runs[2], runs[1], runs[0]]
    );
    assert!(responses.iter().all(|r| r.miner_uid == 1));
    assert!(store
        .miner_response_history(9, 10)
        .await
        .unwrap()
        .is_empty());
}

pub(crate) async fn ledger_summary_counts_states_and_finds_oldest_waiting(store: &Store) {
    store.migrate().await.unwrap();
    let empty = store.ledger_summary().await.unwrap();
    assert!(empty.counts.is_empty() && empty.oldest_waiting.is_none());
    let job = |key: &str| NewJob {
        job_key: key.into(),
        job_type: "weather.run".into(),
        priority: 5,
        payload: serde_json::json!({}),
        max_attempts: 3,
        scheduled_at: t0(),
        run_id: None,
    };
    store.enqueue_job(&job("first"), t0()).await.unwrap();
    store
        .enqueue_job(&job("second"), t0() + Duration::minutes(1))
        .await
        .unwrap();
    store
        .enqueue_job(&job("third"), t0() + Duration::minutes(2))
        .await
        .unwrap();
    let now = t0() + Duration::minutes(3);
    let claimed = store
        .claim_job("c", now, std::time::Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.job_key, "first");
    let summary = store.ledger_summary().await.unwrap();
    assert_eq!(
        summary.counts,
        vec![(JobStatus::Pending, 2), (JobStatus::InProgress, 1)]
    );
    assert_eq!(summary.count(JobStatus::Failed), 0);
    let oldest = summary.oldest_waiting.unwrap();
    assert_eq!(oldest.job_key, "second", "claimed jobs are not waiting");
    assert_eq!(oldest.created_at, t0() + Duration::minutes(1));
}

pub(crate) async fn recent_weights_newest_first(store: &Store) {
    store.migrate().await.unwrap();
    for i in 0..3i64 {
        let mut v = UidVector::empty();
        v.set(7, Some(0.1 * (i as f64 + 1.0))).unwrap();
        store
            .record_weights(&WeightRecord {
                attempt_key: format!("w{i}"),
                created_at: t0() + Duration::hours(i),
                block: Some(100 + i),
                weights: v,
                outcome: WeightOutcome::Submitted,
                detail: None,
            })
            .await
            .unwrap();
    }
    let w = store.recent_weights(2).await.unwrap();
    assert_eq!(
        w.iter().map(|r| r.attempt_key.as_str()).collect::<Vec<_>>(),
        vec!["w2", "w1"]
    );
    assert_eq!(w[0].weights.get(7), Some(0.1 * 3.0));
    assert!(store.recent_weights(0).await.is_err());
}
