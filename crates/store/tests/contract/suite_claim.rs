//! Contract test of the claim order across the three claimable states (pending, retry-scheduled,
//! expired lease) under a backlog, on both backends (see `main.rs`): the claim takes each
//! state's first job and the best of those, which must equal one order over all of them.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use gaia_store::{JobStatus, NewJob, Store};

use crate::fixtures::t0;

fn job(key: &str, job_type: &str, priority: i32, at: DateTime<Utc>) -> NewJob {
    NewJob {
        job_key: key.into(),
        job_type: job_type.into(),
        priority,
        payload: serde_json::json!({}),
        max_attempts: 5,
        scheduled_at: at,
        run_id: None,
    }
}

/// A retry-scheduled job (priority 60), a job whose lease expired (70), a due pending one (80),
/// 150 due and 150 future pending jobs at priority 100, a future one at 50 and a due job of
/// another type: claims at `t0` of the `weather.` type take them by priority, schedule and id
/// across the states, and none that is not due or of another type.
pub(crate) async fn the_claim_orders_every_claimable_state_together(store: &Store) {
    store.migrate().await.unwrap();
    let (t, day1) = (t0(), "weather.day1");
    let early = t - Duration::hours(2);
    let lease = StdDuration::from_secs(30);

    store
        .enqueue_job(&job("r", day1, 60, early), early)
        .await
        .unwrap();
    let r = store.claim_job("c1", early, lease).await.unwrap().unwrap();
    let retry_at = t - Duration::hours(1);
    let status = store
        .fail_job(r.id, "c1", "transient", Some(retry_at), early)
        .await
        .unwrap();
    assert_eq!(status, JobStatus::RetryScheduled);
    store
        .enqueue_job(&job("e", day1, 70, early), early)
        .await
        .unwrap();
    let e = store.claim_job("c2", early, lease).await.unwrap().unwrap();
    assert_eq!(e.job_key, "e", "r waits for its retry time");

    store
        .enqueue_job(&job("p80", day1, 80, t - Duration::hours(3)), early)
        .await
        .unwrap();
    store
        .enqueue_job(&job("p50-later", day1, 50, t + Duration::hours(1)), early)
        .await
        .unwrap();
    store
        .enqueue_job(&job("weights", "weights.set", 1, early), early)
        .await
        .unwrap();
    let mut expected = vec!["r".to_string(), "e".into(), "p80".into()];
    for i in 0..150 {
        // Enqueued newest first: the schedule, not the id, orders the backlog.
        let due = format!("due-{i:03}");
        let at = t - Duration::seconds(i + 1);
        store
            .enqueue_job(&job(&due, day1, 100, at), early)
            .await
            .unwrap();
        let later = format!("later-{i:03}");
        let at = t + Duration::seconds(i + 1);
        store
            .enqueue_job(&job(&later, day1, 100, at), early)
            .await
            .unwrap();
        expected.insert(3, due);
    }

    let mut claimed = Vec::new();
    for n in 0.. {
        let claimer = format!("w{n}");
        match store
            .claim_job_of_type(&claimer, "weather.", t, lease)
            .await
            .unwrap()
        {
            Some(j) => claimed.push(j.job_key),
            None => break,
        }
    }
    assert_eq!(claimed, expected);
    let rest = store.claim_job("any", t, lease).await.unwrap().unwrap();
    assert_eq!(
        rest.job_key, "weights",
        "another type is left for its claimer"
    );
}
