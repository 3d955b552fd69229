//! Contract tests of the work ledger: keyed enqueue, leases, retries, `max_attempts` and
//! concurrent claimers; each runs on both backends (see `main.rs`).

use std::collections::HashSet;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use gaia_store::{JobStatus, NewJob, Store, StoreError};

use crate::fixtures::t0;

const LEASE: StdDuration = StdDuration::from_secs(30);

fn job(key: &str, priority: i32, max_attempts: i32, at: DateTime<Utc>) -> NewJob {
    NewJob {
        job_key: key.into(),
        job_type: "weather.day1".into(),
        priority,
        payload: serde_json::json!({"key": key}),
        max_attempts,
        scheduled_at: at,
        run_id: None,
    }
}

pub(crate) async fn enqueue_is_idempotent_by_key(store: &Store) {
    store.migrate().await.unwrap();
    let a = store
        .enqueue_job(&job("k1", 10, 3, t0()), t0())
        .await
        .unwrap();
    assert!(a.created);
    let mut other_payload = job("k1", 1, 9, t0());
    other_payload.payload = serde_json::json!({"different": true});
    let b = store.enqueue_job(&other_payload, t0()).await.unwrap();
    assert_eq!(b.job_id, a.job_id);
    assert!(!b.created, "same key is never queued twice");
    let stored = store.get_job(a.job_id).await.unwrap().unwrap();
    assert_eq!(
        (stored.priority, stored.max_attempts),
        (10, 3),
        "first enqueue wins"
    );
    assert_eq!(stored.status, JobStatus::Pending);
    assert_eq!(store.count_jobs(JobStatus::Pending).await.unwrap(), 1);

    let found = store.find_job_by_key("k1").await.unwrap().unwrap();
    assert_eq!(found.id, a.job_id);
    assert!(store.find_job_by_key("nope").await.unwrap().is_none());

    for bad in [job("", 1, 3, t0()), job("k2", 1, 0, t0())] {
        let err = store.enqueue_job(&bad, t0()).await.unwrap_err();
        assert!(matches!(err, StoreError::InvalidInput { .. }), "{err}");
    }
    let mut no_type = job("k3", 1, 1, t0());
    no_type.job_type.clear();
    assert!(store.enqueue_job(&no_type, t0()).await.is_err());
}

pub(crate) async fn claim_respects_priority_schedule_and_lease_holder(store: &Store) {
    store.migrate().await.unwrap();
    let later = store
        .enqueue_job(&job("later", 1, 3, t0() + Duration::hours(1)), t0())
        .await
        .unwrap();
    let low = store
        .enqueue_job(&job("low", 100, 3, t0()), t0())
        .await
        .unwrap();
    let high = store
        .enqueue_job(&job("high", 50, 3, t0()), t0())
        .await
        .unwrap();

    let c = store.claim_job("w1", t0(), LEASE).await.unwrap().unwrap();
    assert_eq!(c.id, high.job_id, "lower priority number first");
    assert_eq!(c.status, JobStatus::InProgress);
    assert_eq!(c.attempts, 1);
    assert_eq!(c.claimed_by.as_deref(), Some("w1"));
    assert_eq!(c.lease_expires_at, Some(t0() + Duration::seconds(30)));
    // The same claimer gets its live lease back (a retried claim does not strand a lease).
    let again = store
        .claim_job("w1", t0() + Duration::seconds(1), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.id, again.attempts), (c.id, 1));

    let err = store
        .complete_job(c.id, "w2", None, t0())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost { .. }), "{err}");
    let result = serde_json::json!({"score": 0.9});
    store
        .complete_job(c.id, "w1", Some(&result), t0())
        .await
        .unwrap();
    store
        .complete_job(c.id, "w1", Some(&result), t0())
        .await
        .unwrap(); // repeat is harmless
    let done = store.get_job(c.id).await.unwrap().unwrap();
    assert_eq!(done.status, JobStatus::Succeeded);
    assert_eq!(done.result, Some(result));
    assert_eq!(done.lease_expires_at, None);

    let next = store.claim_job("w1", t0(), LEASE).await.unwrap().unwrap();
    assert_eq!(next.id, low.job_id);
    assert!(
        store.claim_job("w2", t0(), LEASE).await.unwrap().is_none(),
        "`later` is not due"
    );
    let due = store
        .claim_job("w2", t0() + Duration::hours(1), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(due.id, later.job_id);

    // Type filter: a worker asking for `metagraph.` jobs never gets `weather.` ones.
    let mut sync = job("sync", 500, 3, t0());
    sync.job_type = "metagraph.sync".into();
    let sync = store.enqueue_job(&sync, t0()).await.unwrap();
    let mut weather_like = job("weather_like", 1, 3, t0());
    weather_like.job_type = "weather_x.other".into();
    store.enqueue_job(&weather_like, t0()).await.unwrap();
    assert!(
        store
            .claim_job_of_type("u1", "weather.", t0(), LEASE)
            .await
            .unwrap()
            .is_none(),
        "`weather_x.` must not match the `weather.` prefix"
    );
    let got = store
        .claim_job_of_type("u2", "metagraph.", t0(), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.id, sync.job_id);
    assert!(store
        .complete_job(99999, "w1", None, t0())
        .await
        .unwrap_err()
        .is_not_found());
    assert!(store.claim_job(" ", t0(), LEASE).await.is_err());
    assert!(store
        .claim_job("w3", t0(), StdDuration::ZERO)
        .await
        .is_err());
}

pub(crate) async fn expired_lease_is_reclaimed_until_max_attempts_then_quarantined(store: &Store) {
    store.migrate().await.unwrap();
    let id = store
        .enqueue_job(&job("fragile", 10, 3, t0()), t0())
        .await
        .unwrap()
        .job_id;
    let mut now = t0();
    for attempt in 1..=3 {
        // Nobody else can take it while the lease runs.
        if attempt > 1 {
            assert!(store
                .claim_job("thief", now - Duration::seconds(2), LEASE)
                .await
                .unwrap()
                .is_none());
        }
        let claimer = format!("vanishing-{attempt}");
        let j = store
            .claim_job(&claimer, now, LEASE)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((j.id, j.attempts), (id, attempt));
        now += Duration::seconds(31); // claimer vanished; lease expires
    }
    // Attempts are exhausted: the expired lease is quarantined, not handed out again.
    assert!(store.claim_job("late", now, LEASE).await.unwrap().is_none());
    let j = store.get_job(id).await.unwrap().unwrap();
    assert_eq!(j.status, JobStatus::Quarantined);
    assert_eq!(j.attempts, 3);
    let err = store
        .complete_job(id, "vanishing-3", None, now)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost { .. }), "{err}");
    for _ in 0..3 {
        now += Duration::hours(1);
        assert!(
            store.claim_job("late", now, LEASE).await.unwrap().is_none(),
            "never loops"
        );
    }
}

pub(crate) async fn failure_retries_then_ends_failed(store: &Store) {
    store.migrate().await.unwrap();
    let id = store
        .enqueue_job(&job("flaky", 10, 2, t0()), t0())
        .await
        .unwrap()
        .job_id;
    let j = store.claim_job("w", t0(), LEASE).await.unwrap().unwrap();
    let retry_at = t0() + Duration::seconds(60);
    let s = store
        .fail_job(j.id, "w", "GFS not ready", Some(retry_at), t0())
        .await
        .unwrap();
    assert_eq!(s, JobStatus::RetryScheduled);
    // A repeated fail call (retry after a lost acknowledgement) changes nothing.
    let s2 = store
        .fail_job(j.id, "w", "GFS not ready", Some(retry_at), t0())
        .await
        .unwrap();
    assert_eq!(s2, JobStatus::RetryScheduled);
    let stored = store.get_job(id).await.unwrap().unwrap();
    assert_eq!(stored.next_retry_at, Some(retry_at));
    assert_eq!(stored.last_error.as_deref(), Some("GFS not ready"));

    assert!(store
        .claim_job("w", t0() + Duration::seconds(30), LEASE)
        .await
        .unwrap()
        .is_none());
    let j = store
        .claim_job("w", retry_at, LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(j.attempts, 2);
    let s = store
        .fail_job(
            j.id,
            "w",
            "still broken",
            Some(retry_at + Duration::seconds(60)),
            retry_at,
        )
        .await
        .unwrap();
    assert_eq!(
        s,
        JobStatus::Failed,
        "last attempt ends failed even when a retry is asked"
    );
    assert!(store
        .claim_job("w", retry_at + Duration::days(1), LEASE)
        .await
        .unwrap()
        .is_none());

    // No retry requested: failed at once.
    let id2 = store
        .enqueue_job(&job("fatal", 10, 5, t0()), t0())
        .await
        .unwrap()
        .job_id;
    let j2 = store.claim_job("w", t0(), LEASE).await.unwrap().unwrap();
    assert_eq!(j2.id, id2);
    assert_eq!(
        store
            .fail_job(id2, "w", "bad input", None, t0())
            .await
            .unwrap(),
        JobStatus::Failed
    );
    assert!(store.fail_job(id2, "other", "x", None, t0()).await.is_err());
    assert!(store
        .fail_job(777_777, "w", "x", None, t0())
        .await
        .unwrap_err()
        .is_not_found());
    assert_eq!(store.count_jobs(JobStatus::Failed).await.unwrap(), 2);

    // Finished run-less jobs are removed by retention once old enough.
    let report = store
        .apply_retention(1, t0() + Duration::days(2))
        .await
        .unwrap();
    assert_eq!(report.jobs, 2);
}

pub(crate) async fn reaper_requeues_and_quarantines_expired_leases(store: &Store) {
    store.migrate().await.unwrap();
    let a = store
        .enqueue_job(&job("a", 1, 1, t0()), t0())
        .await
        .unwrap()
        .job_id;
    let b = store
        .enqueue_job(&job("b", 2, 3, t0()), t0())
        .await
        .unwrap()
        .job_id;
    let c = store
        .enqueue_job(&job("c", 3, 3, t0()), t0())
        .await
        .unwrap()
        .job_id;
    for w in ["wa", "wb", "wc"] {
        store.claim_job(w, t0(), LEASE).await.unwrap().unwrap();
    }
    let report = store
        .reap_expired_leases(t0() + Duration::seconds(10))
        .await
        .unwrap();
    assert_eq!(
        (report.requeued, report.quarantined),
        (0, 0),
        "leases still live"
    );
    store.complete_job(c, "wc", None, t0()).await.unwrap();

    let later = t0() + Duration::seconds(31);
    let report = store.reap_expired_leases(later).await.unwrap();
    assert_eq!((report.requeued, report.quarantined), (1, 1));
    assert_eq!(
        store.get_job(a).await.unwrap().unwrap().status,
        JobStatus::Quarantined
    );
    let jb = store.get_job(b).await.unwrap().unwrap();
    assert_eq!(jb.status, JobStatus::RetryScheduled);
    assert_eq!(jb.claimed_by, None);
    let err = store.complete_job(b, "wb", None, later).await.unwrap_err();
    assert!(
        matches!(err, StoreError::LeaseLost { .. }),
        "old holder cannot finish: {err}"
    );
    let again = store.claim_job("wd", later, LEASE).await.unwrap().unwrap();
    assert_eq!((again.id, again.attempts), (b, 2));
}

/// Acceptance 3: two claimers working concurrently over 1 000 queued jobs claim each exactly once.
pub(crate) async fn two_concurrent_claimers_claim_each_job_once(store: &Store) {
    store.migrate().await.unwrap();
    let mut all = HashSet::new();
    for i in 0..1000 {
        let e = store
            .enqueue_job(&job(&format!("bulk-{i:04}"), i % 7, 3, t0()), t0())
            .await
            .unwrap();
        all.insert(e.job_id);
    }
    let worker = |name: &'static str| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            let now = Utc::now();
            while let Some(j) = store
                .claim_job(name, now, StdDuration::from_secs(600))
                .await
                .unwrap()
            {
                store.complete_job(j.id, name, None, now).await.unwrap();
                mine.push(j.id);
            }
            mine
        })
    };
    let (a, b) = tokio::join!(worker("claimer-a"), worker("claimer-b"));
    let (a, b) = (a.unwrap(), b.unwrap());
    let set_a: HashSet<i64> = a.iter().copied().collect();
    let set_b: HashSet<i64> = b.iter().copied().collect();
    assert_eq!(set_a.len(), a.len(), "claimer a got a job twice");
    assert_eq!(set_b.len(), b.len(), "claimer b got a job twice");
    assert!(set_a.is_disjoint(&set_b), "a job was claimed by both");
    assert_eq!(a.len() + b.len(), 1000);
    assert_eq!(&set_a | &set_b, all);
    assert!(
        !a.is_empty() && !b.is_empty(),
        "both claimers worked ({} / {})",
        a.len(),
        b.len()
    );
    assert_eq!(store.count_jobs(JobStatus::Succeeded).await.unwrap(), 1000);
    for id in all.iter().take(50) {
        assert_eq!(store.get_job(*id).await.unwrap().unwrap().attempts, 1);
    }
}

pub(crate) async fn jobs_are_listed_per_run(store: &Store) {
    let (run_id, _) = crate::fixtures::seeded(store, 0, &[1]).await;
    let mut tied = job("r1", 1, 3, t0());
    tied.run_id = Some(run_id);
    let a = store.enqueue_job(&tied, t0()).await.unwrap();
    store
        .enqueue_job(&job("free", 1, 3, t0()), t0())
        .await
        .unwrap();
    let listed = store.list_jobs_for_run(run_id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, a.job_id);
    assert!(store
        .list_jobs_for_run(run_id + 1000)
        .await
        .unwrap()
        .is_empty());
}

pub(crate) async fn a_wake_makes_a_waiting_job_due_and_is_kept_while_it_runs(store: &Store) {
    store.migrate().await.unwrap();
    let far = t0() + Duration::hours(5);
    let soon = t0() + Duration::seconds(10);
    let id = store
        .enqueue_job(&job("closing", 10, 50, t0()), t0())
        .await
        .unwrap()
        .job_id;
    // Pending and not yet due at its schedule: a wake does not move it.
    assert!(!store
        .wake_job("closing", t0() - Duration::hours(1))
        .await
        .unwrap());
    assert!(!store.wake_job("nobody", t0()).await.unwrap());

    // It ran and waits long; a wake makes it due at the wake's time.
    let j = store.claim_job("w", t0(), LEASE).await.unwrap().unwrap();
    store
        .fail_job(j.id, "w", "leads open", Some(far), t0())
        .await
        .unwrap();
    assert!(store.claim_job("w", soon, LEASE).await.unwrap().is_none());
    assert!(store.wake_job("closing", soon).await.unwrap());
    let stored = store.get_job(id).await.unwrap().unwrap();
    assert_eq!(stored.next_retry_at, Some(soon));
    // Waking again later never postpones it.
    assert!(!store
        .wake_job("closing", soon + Duration::seconds(5))
        .await
        .unwrap());
    let j = store.claim_job("w", soon, LEASE).await.unwrap().unwrap();
    assert_eq!(j.id, id);

    // Woken while it runs: its own "again much later" becomes "again from the wake".
    let woke_at = soon + Duration::seconds(1);
    assert!(store.wake_job("closing", woke_at).await.unwrap());
    store
        .fail_job(j.id, "w", "leads open", Some(far), woke_at)
        .await
        .unwrap();
    let stored = store.get_job(id).await.unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::RetryScheduled);
    assert_eq!(stored.next_retry_at, Some(woke_at));
    // Without a wake, the step's own time stands.
    let j = store.claim_job("w", woke_at, LEASE).await.unwrap().unwrap();
    store
        .fail_job(j.id, "w", "leads open", Some(far), woke_at)
        .await
        .unwrap();
    assert_eq!(
        store.get_job(id).await.unwrap().unwrap().next_retry_at,
        Some(far)
    );

    // A finished job is never woken, and keeps no retry time.
    let j = store.claim_job("w", far, LEASE).await.unwrap().unwrap();
    assert!(store.wake_job("closing", far).await.unwrap());
    store.complete_job(j.id, "w", None, far).await.unwrap();
    let done = store.get_job(id).await.unwrap().unwrap();
    assert_eq!(
        (done.status, done.next_retry_at),
        (JobStatus::Succeeded, None)
    );
    assert!(!store.wake_job("closing", far).await.unwrap());
}
