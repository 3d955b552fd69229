//! Contract tests of the weather tables, node mirror, score table, weight history and
//! retention; each runs on both backends (see `main.rs`).

use chrono::Duration;
use gaia_store::{
    ComponentKind, ComponentScore, ForecastStatus, JobStatus, NewJob, ResponseMilestone,
    ResponseStatus, RunStatus, ScoreRow, ScoreRowStatus, Store, StoreError, UidVector,
    Verification, WeightOutcome, WeightRecord,
};

use crate::fixtures::{new_response, new_run, node, passed_verification, score, seeded, stats, t0};

pub(crate) async fn migrate_creates_schema_and_second_run_is_noop(store: &Store) {
    let before = store.migration_status().await.unwrap();
    assert!(before.applied.is_empty(), "{before:?}");
    assert_eq!(before.current(), None);
    assert_eq!(before.pending, vec![1, 2, 3, 4]);
    assert!(
        store.list_nodes().await.is_err(),
        "schema must not exist before migrating"
    );

    let first = store.migrate().await.unwrap();
    assert_eq!(first.applied, vec![1, 2, 3, 4]);
    assert!(first.is_up_to_date());
    assert_eq!(first.latest_known, 4);
    assert!(store.list_nodes().await.unwrap().is_empty());

    let second = store.migrate().await.unwrap();
    assert_eq!(second, first, "second migrate must be a no-op");
    assert_eq!(store.migration_status().await.unwrap().current(), Some(4));
}

pub(crate) async fn nodes_upsert_list_delete_cascades(store: &Store) {
    let (run_id, _) = seeded(store, 0, &[3, 1, 2]).await;
    let mut changed = node(2);
    changed.hotkey = "new-hotkey".into();
    changed.ip = String::new();
    store.upsert_node(&changed).await.unwrap();
    let nodes = store.list_nodes().await.unwrap();
    assert_eq!(
        nodes.iter().map(|n| n.uid).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(nodes[1], changed);
    assert_eq!(nodes[0], node(1));

    assert!(store.delete_node(2).await.unwrap());
    assert!(!store.delete_node(2).await.unwrap());
    let uids: Vec<u8> = store
        .list_responses(run_id)
        .await
        .unwrap()
        .iter()
        .map(|r| r.miner_uid)
        .collect();
    assert_eq!(uids, vec![1, 3], "deleting a node removes its responses");
}

pub(crate) async fn run_create_is_idempotent_and_status_updates(store: &Store) {
    store.migrate().await.unwrap();
    let a = store.create_run(&new_run(1)).await.unwrap();
    assert_eq!(a.status, RunStatus::Created);
    let again = store.create_run(&new_run(1)).await.unwrap();
    assert_eq!(again, a, "same GFS cycle returns the same run");
    let b = store.create_run(&new_run(0)).await.unwrap();
    assert_ne!(a.id, b.id);

    store
        .update_run_status(a.id, RunStatus::Failed, Some("no miners"), Some(t0()))
        .await
        .unwrap();
    store
        .mark_final_scoring_attempted(a.id, t0())
        .await
        .unwrap();
    let got = store.get_run(a.id).await.unwrap().unwrap();
    assert_eq!(got.status, RunStatus::Failed);
    assert_eq!(got.error_message.as_deref(), Some("no miners"));
    assert_eq!(got.completion_time, Some(t0()));
    assert_eq!(got.final_scoring_attempted_time, Some(t0()));
    assert_eq!(
        got.gfs_input_metadata,
        Some(serde_json::json!({"cycle": "00Z"}))
    );

    let err = store
        .update_run_status(9999, RunStatus::Scoring, None, None)
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(store.get_run(9999).await.unwrap().is_none());

    let recent = store
        .list_runs_since(t0() - Duration::hours(12))
        .await
        .unwrap();
    assert_eq!(recent.iter().map(|r| r.id).collect::<Vec<_>>(), vec![b.id]);
}

pub(crate) async fn response_upsert_keeps_one_row_and_updates(store: &Store) {
    let (run_id, ids) = seeded(store, 0, &[7]).await;
    let mut again = new_response(run_id, 7);
    again.job_id = None; // keeps the stored job id
    again.status = ResponseStatus::FetchInitiated;
    let r = store.upsert_response(&again).await.unwrap();
    assert_eq!(r.id, ids[0]);
    assert_eq!(
        r.job_id.as_deref(),
        Some(format!("job-{run_id}-7").as_str())
    );
    assert_eq!(r.status, ResponseStatus::FetchInitiated);
    assert_eq!(store.list_responses(run_id).await.unwrap().len(), 1);

    let manifest = serde_json::json!({"files": {"a": "00"}});
    store
        .record_verification(r.id, &passed_verification(&manifest))
        .await
        .unwrap();
    store
        .update_response_status(r.id, ResponseStatus::VerificationFailed, Some("bad sig"))
        .await
        .unwrap();
    store
        .set_response_retry(r.id, 2, Some(t0() + Duration::minutes(30)))
        .await
        .unwrap();
    for m in [
        ResponseMilestone::JobAccepted,
        ResponseMilestone::InferenceStarted,
        ResponseMilestone::InferenceCompleted,
        ResponseMilestone::Day1ScoringCompleted,
        ResponseMilestone::Era5ScoringCompleted,
    ] {
        store
            .mark_response_milestone(r.id, m, t0() + Duration::hours(1))
            .await
            .unwrap();
    }
    let got = store.get_response(r.id).await.unwrap().unwrap();
    assert_eq!(got.verification_passed, Some(true));
    assert_eq!(got.frozen_manifest, Some(manifest));
    assert_eq!(got.status, ResponseStatus::VerificationFailed);
    assert_eq!(got.error_message.as_deref(), Some("bad sig"));
    assert_eq!(got.retry_count, 2);
    assert_eq!(got.next_retry_time, Some(t0() + Duration::minutes(30)));
    let h1 = Some(t0() + Duration::hours(1));
    assert_eq!(
        [
            got.job_accepted_at,
            got.inference_started_at,
            got.inference_completed_at,
            got.day1_scoring_completed_at,
            got.era5_scoring_completed_at
        ],
        [h1; 5]
    );
    assert!(store
        .update_response_status(424242, ResponseStatus::Failed, None)
        .await
        .unwrap_err()
        .is_not_found());
    assert!(store
        .record_verification(
            424242,
            &Verification {
                hash_computed: None,
                passed: false,
                frozen_manifest: None,
                manifest_frozen_at: None
            }
        )
        .await
        .unwrap_err()
        .is_not_found());
    assert!(store
        .set_response_retry(424242, 1, None)
        .await
        .unwrap_err()
        .is_not_found());
    assert!(store
        .mark_response_milestone(424242, ResponseMilestone::JobAccepted, t0())
        .await
        .unwrap_err()
        .is_not_found());

    // A response for a UID without a node row violates the foreign key.
    let err = store
        .upsert_response(&new_response(run_id, 200))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Query {
                operation: "upsert_response",
                ..
            }
        ),
        "{err}"
    );
}

pub(crate) async fn score_upsert_same_key_twice_keeps_latest(store: &Store) {
    let (run_id, ids) = seeded(store, 0, &[5]).await;
    let first = score(ids[0], run_id, 5, 24, 0.5);
    store
        .upsert_miner_scores(std::slice::from_ref(&first))
        .await
        .unwrap();
    let mut second = first.clone();
    second.score = Some(0.75);
    second.metrics = Some(serde_json::json!({"n": 2}));
    store.upsert_miner_scores(&[second.clone()]).await.unwrap();

    let rows = store.list_miner_scores(ids[0]).await.unwrap();
    assert_eq!(rows, vec![second.clone()], "one row with the latest value");

    // A different lead is a different key.
    store
        .upsert_miner_scores(&[score(ids[0], run_id, 5, 48, 0.1)])
        .await
        .unwrap();
    assert_eq!(store.count_miner_scores(run_id).await.unwrap(), 2);
    store.upsert_miner_scores(&[]).await.unwrap();
}

pub(crate) async fn non_finite_score_is_rejected_and_nothing_written(store: &Store) {
    let (run_id, ids) = seeded(store, 0, &[5]).await;
    let good = score(ids[0], run_id, 5, 24, 0.5);
    let mut bad = score(ids[0], run_id, 5, 48, 0.5);
    bad.score = Some(f64::NAN);
    let err = store.upsert_miner_scores(&[good, bad]).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::InvalidInput {
                field: "MinerScore.score",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(store.count_miner_scores(run_id).await.unwrap(), 0);
    let mut st = stats(run_id, 5);
    st.overall_forecast_score = Some(f64::INFINITY);
    assert!(matches!(
        store.upsert_forecast_stats(&st).await,
        Err(StoreError::InvalidInput { .. })
    ));
}

pub(crate) async fn component_scores_upsert_by_key(store: &Store) {
    let (run_id, ids) = seeded(store, 0, &[9]).await;
    let mut c = ComponentScore {
        response_id: ids[0],
        run_id,
        miner_uid: 9,
        score_type: ComponentKind::Era5,
        lead_hours: 24,
        variable_name: "z".into(),
        pressure_level: 500,
        valid_time_utc: t0() + Duration::hours(24),
        rmse: Some(120.5),
        mse: Some(14520.25),
        acc: Some(0.91),
        skill_score: Some(0.4),
        skill_score_gfs: None,
        skill_score_climatology: Some(0.4),
        bias: Some(-1.5),
        mae: Some(99.0),
        clone_penalty: Some(0.0),
        variable_weight: Some(0.2),
        qc_flags: Some(serde_json::json!({"nan_fraction": 0.0})),
        calculated_at: t0(),
    };
    store
        .upsert_component_scores(std::slice::from_ref(&c))
        .await
        .unwrap();
    c.acc = Some(0.95);
    let mut surface = c.clone();
    surface.variable_name = "2t".into();
    surface.pressure_level = 0;
    store
        .upsert_component_scores(&[c.clone(), surface.clone()])
        .await
        .unwrap();
    let rows = store.list_component_scores(ids[0]).await.unwrap();
    assert_eq!(rows, vec![surface, c]);
    let mut bad = rows[0].clone();
    bad.rmse = Some(f64::NAN);
    assert!(store.upsert_component_scores(&[bad]).await.is_err());
}

pub(crate) async fn stats_upsert_merges_partial_writes(store: &Store) {
    let (run_id, _) = seeded(store, 0, &[4, 6]).await;
    let mut day1 = stats(run_id, 4);
    day1.forecast_status = ForecastStatus::Day1Scored;
    day1.forecast_score_initial = Some(0.42);
    store.upsert_forecast_stats(&day1).await.unwrap();

    let mut era5 = stats(run_id, 4);
    era5.forecast_status = ForecastStatus::Completed;
    for (i, lead) in gaia_store::ERA5_LEADS.iter().enumerate() {
        era5.set_era5(*lead, 0.5 + i as f64 / 100.0).unwrap();
    }
    assert!(era5.set_era5(30, 0.1).is_err());
    era5.era5_combined_score = Some(0.545);
    era5.era5_completeness = Some(1.0);
    era5.overall_forecast_score = Some(0.56775);
    let stored = store.upsert_forecast_stats(&era5).await.unwrap();
    assert_eq!(
        stored.forecast_score_initial,
        Some(0.42),
        "day-1 value kept"
    );
    assert_eq!(stored.forecast_status, ForecastStatus::Completed);
    assert_eq!(stored.era5_by_lead()[9], Some(0.59));
    store
        .upsert_forecast_stats(&stats(run_id, 6))
        .await
        .unwrap();
    let all = store.list_forecast_stats(run_id).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0], stored);
}

pub(crate) async fn score_table_rows_upsert_and_window_read(store: &Store) {
    store.migrate().await.unwrap();
    let mut ids = Vec::new();
    for days in [20, 10, 1] {
        ids.push(store.create_run(&new_run(days)).await.unwrap().id);
    }
    let row = |i: usize, days: i64, fill: f64| {
        let mut scores = UidVector::empty();
        for uid in 0..=255u8 {
            if uid % 3 != 0 {
                scores
                    .set(uid, Some(fill + f64::from(uid) / 1000.0))
                    .unwrap();
            }
        }
        ScoreRow {
            task_name: "weather".into(),
            task_id: format!("weather_scores_{}", ids[i]),
            run_id: Some(ids[i]),
            scores,
            created_at: t0() - Duration::days(days),
            status: ScoreRowStatus::InitialScoresCompiled,
        }
    };
    for (i, d) in [20, 10, 1].into_iter().enumerate() {
        store.upsert_score_row(&row(i, d, 0.1)).await.unwrap();
    }
    let rebuilt = row(1, 10, 0.3);
    store.upsert_score_row(&rebuilt).await.unwrap();
    store
        .set_score_row_status(
            "weather",
            &rebuilt.task_id,
            ScoreRowStatus::FinalScoresCompiled,
        )
        .await
        .unwrap();
    let window = store
        .score_rows_since("weather", t0() - Duration::days(15))
        .await
        .unwrap();
    assert_eq!(window.len(), 2, "the 20-day-old row is outside the window");
    assert_eq!(
        window[0].scores, rebuilt.scores,
        "rebuilt row replaced, not duplicated"
    );
    assert_eq!(window[0].status, ScoreRowStatus::FinalScoresCompiled);
    assert_eq!(window[0].scores.get(0), None);
    assert_eq!(window[1].scores.get(254), Some(0.1 + 254.0 / 1000.0));
    assert_eq!(window[1].scores.get(255), None);
    assert!(store
        .score_rows_since("other", t0() - Duration::days(30))
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .set_score_row_status("weather", "nope", ScoreRowStatus::Pending)
        .await
        .unwrap_err()
        .is_not_found());
    let mut empty_id = row(0, 20, 0.0);
    empty_id.task_id.clear();
    assert!(store.upsert_score_row(&empty_id).await.is_err());
}

pub(crate) async fn weight_history_is_idempotent_by_key(store: &Store) {
    store.migrate().await.unwrap();
    let mut w = UidVector::new(vec![Some(0.0); 256]).unwrap();
    w.set(252, Some(0.75)).unwrap();
    w.set(17, Some(0.25)).unwrap();
    let rec = WeightRecord {
        attempt_key: "weights-block-1000".into(),
        created_at: t0(),
        block: Some(1000),
        weights: w,
        outcome: WeightOutcome::Submitted,
        detail: Some("0xabc".into()),
    };
    assert!(store.record_weights(&rec).await.unwrap());
    assert!(
        !store.record_weights(&rec).await.unwrap(),
        "same key is not recorded twice"
    );
    let mut later = rec.clone();
    later.attempt_key = "weights-block-1250".into();
    later.created_at = t0() + Duration::hours(1);
    later.outcome = WeightOutcome::Failed;
    later.block = None;
    store.record_weights(&later).await.unwrap();
    let hist = store.weight_history_since(t0()).await.unwrap();
    assert_eq!(hist, vec![rec.clone(), later]);
    let mut bad = rec;
    bad.attempt_key.clear();
    assert!(store.record_weights(&bad).await.is_err());
}

pub(crate) async fn retention_deletes_old_runs_with_their_rows(store: &Store) {
    let (old_run, old_resp) = seeded(store, 100, &[1, 2]).await;
    let new_run_row = store.create_run(&new_run(5)).await.unwrap();
    let new_resp = store
        .upsert_response(&new_response(new_run_row.id, 1))
        .await
        .unwrap();
    for (run, resp) in [(old_run, old_resp[0]), (new_run_row.id, new_resp.id)] {
        store
            .upsert_miner_scores(&[score(resp, run, 1, 24, 0.3)])
            .await
            .unwrap();
        store.upsert_forecast_stats(&stats(run, 1)).await.unwrap();
        store
            .upsert_score_row(&ScoreRow {
                task_name: "weather".into(),
                task_id: format!("weather_scores_{run}"),
                run_id: Some(run),
                scores: UidVector::empty(),
                created_at: t0(),
                status: ScoreRowStatus::Pending,
            })
            .await
            .unwrap();
        let job = NewJob {
            job_key: format!("weather.day1:run={run}"),
            job_type: "weather.day1".into(),
            priority: 60,
            payload: serde_json::json!({"run": run}),
            max_attempts: 3,
            scheduled_at: t0(),
            run_id: Some(run),
        };
        store.enqueue_job(&job, t0()).await.unwrap();
    }
    let report = store.apply_retention(90, t0()).await.unwrap();
    assert_eq!(report.runs, 1);
    assert!(store.get_run(old_run).await.unwrap().is_none());
    assert!(store.get_response(old_resp[0]).await.unwrap().is_none());
    assert_eq!(store.count_miner_scores(old_run).await.unwrap(), 0);
    assert!(store.list_forecast_stats(old_run).await.unwrap().is_empty());
    assert_eq!(store.count_jobs(JobStatus::Pending).await.unwrap(), 1);
    let rows = store
        .score_rows_since("weather", t0() - Duration::days(400))
        .await
        .unwrap();
    assert_eq!(
        rows.iter().map(|r| r.run_id).collect::<Vec<_>>(),
        vec![Some(new_run_row.id)]
    );
    // The recent run is intact.
    assert_eq!(store.count_miner_scores(new_run_row.id).await.unwrap(), 1);
    assert_eq!(
        store
            .list_forecast_stats(new_run_row.id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.apply_retention(90, t0()).await.unwrap().runs, 0);
    assert!(store.apply_retention(0, t0()).await.is_err());
}

/// Issue 15 point 2: a database serves one validator; the lock goes with its holder.
pub(crate) async fn a_second_instance_lock_is_refused_until_the_first_is_dropped(store: &Store) {
    store.migrate().await.unwrap();
    let first = store.lock_instance().await.unwrap();
    let err = store.lock_instance().await.unwrap_err();
    assert!(
        matches!(err, gaia_store::StoreError::InstanceLocked { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("one validator per database"),
        "{err}"
    );
    first.release().await;
    // The server ends the released session asynchronously.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match store.lock_instance().await {
            Ok(_) => break,
            Err(e) => assert!(std::time::Instant::now() < until, "still locked: {e}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
