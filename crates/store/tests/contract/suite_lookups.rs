//! Contract tests of the narrow reads a per-miner step uses instead of a whole run's rows: one
//! miner's response and forecast stats, and a run's response states without their manifests;
//! each runs on both backends (see `main.rs`).

use gaia_store::{ResponseState, ResponseStatus, Store};

use crate::fixtures::{passed_verification, seeded, stats};

/// The narrow reads return the same rows as the wide ones, and `None` for a miner or run that has
/// none.
pub(crate) async fn one_miners_rows_and_a_runs_states_equal_the_full_rows(store: &Store) {
    let (run_id, ids) = seeded(store, 0, &[3, 1, 2]).await;
    let (other_run, _) = seeded(store, 1, &[1]).await;
    let manifest = serde_json::json!({"files": {"2t/0.0.0": "ab"}});
    store
        .record_verification(ids[0], &passed_verification(&manifest))
        .await
        .unwrap();
    store
        .update_response_status(ids[0], ResponseStatus::VerificationFailed, Some("bad"))
        .await
        .unwrap();

    let full = store.list_responses(run_id).await.unwrap();
    for response in &full {
        let one = store.response_of(run_id, response.miner_uid).await.unwrap();
        assert_eq!(one.as_ref(), Some(response));
    }
    let three = store.response_of(run_id, 3).await.unwrap().unwrap();
    assert_eq!(three.frozen_manifest, Some(manifest), "the whole row");
    assert_eq!(store.response_of(run_id, 9).await.unwrap(), None);
    assert_eq!(store.response_of(other_run, 3).await.unwrap(), None);

    let states = store.list_response_states(run_id).await.unwrap();
    let expected: Vec<ResponseState> = full.iter().map(ResponseState::from).collect();
    assert_eq!(states, expected, "same rows, same (UID) order");
    assert_eq!(
        states.iter().map(|s| s.miner_uid).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(states[2].status, ResponseStatus::VerificationFailed);
    assert!(store.list_response_states(9999).await.unwrap().is_empty());

    store
        .upsert_forecast_stats(&stats(run_id, 2))
        .await
        .unwrap();
    let all = store.list_forecast_stats(run_id).await.unwrap();
    let two = store.forecast_stats_of(run_id, 2).await.unwrap();
    assert_eq!(two.as_ref(), all.iter().find(|s| s.miner_uid == 2));
    assert!(two.is_some());
    assert_eq!(store.forecast_stats_of(run_id, 9).await.unwrap(), None);
    assert_eq!(store.forecast_stats_of(other_run, 2).await.unwrap(), None);
}
