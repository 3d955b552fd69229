//! Tests of the ledger runner: step outcomes, the reserved slot.

use super::*;
use futures::FutureExt;
use gaia_store::{JobStatus, NewJob, StoreConfig};
use serde_json::json;

/// Finishes `done`, asks `again` to run twice, fails `fatal` for good and `flaky` once,
/// yields `yield` five times (more than its three attempts) before finishing.
struct Script;

/// How often `yield` has yielded.
static YIELDED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl StepHandler for Script {
    fn run<'a>(&'a self, job: &'a Job) -> StepFuture<'a> {
        async move {
            match job.payload["kind"].as_str().unwrap_or("") {
                "done" => Ok(StepOutcome::Done(Some(json!({"ok": job.id})))),
                "again" if job.attempts < 2 => Ok(StepOutcome::Again {
                    at: Utc::now(),
                    reason: "not yet".into(),
                }),
                "again" => Ok(StepOutcome::Done(None)),
                "flaky" if job.attempts < 2 => {
                    Err(StepError::retry("flaky", chrono::Duration::zero()))
                }
                "flaky" => Ok(StepOutcome::Done(None)),
                "yield" if YIELDED.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 5 => {
                    Ok(StepOutcome::Yield {
                        at: Utc::now(),
                        reason: "store busy".into(),
                    })
                }
                "yield" => Ok(StepOutcome::Done(None)),
                _ => Err(StepError::fatal("broken")),
            }
        }
        .boxed()
    }
}

fn job(key: &str, job_type: &str, kind: &str) -> NewJob {
    NewJob {
        job_key: key.into(),
        job_type: job_type.into(),
        priority: 1,
        payload: json!({ "kind": kind }),
        max_attempts: 3,
        scheduled_at: Utc::now() - chrono::Duration::seconds(1),
        run_id: None,
    }
}

/// A runner with `slots` general slots and `reserved` prefixes over a fresh SQLite ledger (the
/// directory lives as long as the returned guard), and its metrics registry.
async fn sqlite_runner(
    slots: usize,
    reserved: &[&str],
) -> (
    tempfile::TempDir,
    Store,
    LedgerRunner,
    prometheus_client::registry::Registry,
) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/l.db", dir.path().display());
    let store = Store::open(&StoreConfig::new(url)).await.unwrap();
    let (metrics, registry) = Metrics::new(None);
    let runner = LedgerRunner::new(
        store.clone(),
        RunnerConfig {
            slots,
            lease: Duration::from_secs(30),
            idle_poll: Duration::from_millis(10),
            reserved_prefixes: reserved.iter().map(|p| p.to_string()).collect(),
        },
        metrics,
    );
    (dir, store, runner, registry)
}

#[tokio::test]
async fn steps_end_done_again_retried_or_failed_with_their_reasons() {
    let (_dir, store, mut runner, _registry) = sqlite_runner(2, &[]).await;
    runner.register("t.script", Arc::new(Script));
    let mut ids = Vec::new();
    for (key, ty, kind) in [
        ("a", "t.script", "done"),
        ("b", "t.script", "again"),
        ("c", "t.script", "flaky"),
        ("d", "t.script", "fatal"),
        ("e", "t.unknown", "done"),
        ("f", "t.script", "yield"),
    ] {
        ids.push(
            store
                .enqueue_job(&job(key, ty, kind), Utc::now())
                .await
                .unwrap()
                .job_id,
        );
    }
    let (stop, rx) = watch::channel(false);
    let handle = tokio::spawn(runner.run(rx));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let mut done = true;
        for id in &ids {
            done &= store
                .get_job(*id)
                .await
                .unwrap()
                .unwrap()
                .status
                .is_terminal();
        }
        if done {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "jobs did not settle");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(true).unwrap();
    handle.await.unwrap();
    let get = |i: usize| {
        let store = store.clone();
        let id = ids[i];
        async move { store.get_job(id).await.unwrap().unwrap() }
    };
    let a = get(0).await;
    assert_eq!(a.status, JobStatus::Succeeded);
    assert_eq!(a.result, Some(json!({"ok": a.id})));
    assert_eq!(get(1).await.status, JobStatus::Succeeded);
    assert_eq!(get(1).await.attempts, 2);
    assert_eq!(get(2).await.status, JobStatus::Succeeded);
    let d = get(3).await;
    assert_eq!(d.status, JobStatus::Failed);
    assert_eq!(d.last_error.as_deref(), Some("broken"));
    let e = get(4).await;
    assert_eq!(e.status, JobStatus::Failed);
    assert!(e.last_error.unwrap().contains("no handler for job type"));
    // Six runs of a step with three attempts: yielding spent none of them.
    let f = get(5).await;
    assert_eq!((f.status, f.attempts), (JobStatus::Succeeded, 1));
    assert_eq!(YIELDED.load(std::sync::atomic::Ordering::SeqCst), 6);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &_registry).unwrap();
    assert!(
        text.contains("gaia_weather_ledger_jobs_total{job_type=\"t.script\",outcome=\"failed\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "gaia_weather_ledger_jobs_total{job_type=\"t.script\",outcome=\"yielded\"} 5"
        ),
        "{text}"
    );
}

/// Holds its slot until `release` turns true (a slow miner's scoring step).
struct Hog(watch::Receiver<bool>);

impl StepHandler for Hog {
    fn run<'a>(&'a self, _job: &'a Job) -> StepFuture<'a> {
        let mut release = self.0.clone();
        async move {
            while !*release.borrow() {
                if release.changed().await.is_err() {
                    break;
                }
            }
            Ok(StepOutcome::Done(None))
        }
        .boxed()
    }
}

/// Issue 15 point 3: with every general slot held by slow steps, `weights.set` and
/// `metagraph.sync` still run at once, in the reserved slot.
#[tokio::test]
async fn the_validators_own_steps_do_not_wait_behind_slow_ones() {
    let (_dir, store, mut runner, _registry) = sqlite_runner(2, &["weights.", "metagraph."]).await;
    let (release, held) = watch::channel(false);
    runner.register("weather.era5", Arc::new(Hog(held)));
    runner.register("weights.set", Arc::new(Script));
    runner.register("metagraph.sync", Arc::new(Script));
    for k in 0..4 {
        let key = format!("slow-{k}");
        store
            .enqueue_job(&job(&key, "weather.era5", "slow"), Utc::now())
            .await
            .unwrap();
    }
    let (stop, rx) = watch::channel(false);
    let handle = tokio::spawn(runner.run(rx));
    // Both general slots are held before the validator's own steps arrive.
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while store.count_jobs(JobStatus::InProgress).await.unwrap() < 2 {
        assert!(std::time::Instant::now() < until, "slow steps not claimed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut own = Vec::new();
    for (key, ty) in [("w", "weights.set"), ("m", "metagraph.sync")] {
        let id = store
            .enqueue_job(&job(key, ty, "done"), Utc::now())
            .await
            .unwrap()
            .job_id;
        own.push(id);
    }
    for id in own {
        loop {
            let j = store.get_job(id).await.unwrap().unwrap();
            if j.status == JobStatus::Succeeded {
                assert_eq!(j.claimed_by.as_deref(), Some("io-engine/reserved"));
                break;
            }
            assert!(
                std::time::Instant::now() < until,
                "{j:?} waited behind slow steps"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    assert_eq!(store.count_jobs(JobStatus::InProgress).await.unwrap(), 2);
    release.send(true).unwrap();
    stop.send(true).unwrap();
    handle.await.unwrap();
}

/// Fails with an infrastructure fault until its fifth run, then finishes.
struct DiskFullFourTimes(std::sync::atomic::AtomicU32);

impl StepHandler for DiskFullFourTimes {
    fn run<'a>(&'a self, _job: &'a Job) -> StepFuture<'a> {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            if n < 4 {
                Err(StepError {
                    infrastructure: true,
                    ..StepError::retry("database: disk full", chrono::Duration::zero())
                })
            } else {
                Ok(StepOutcome::Done(None))
            }
        }
        .boxed()
    }
}

/// Issue 15 point 1: faults of the validator's own infrastructure do not spend a step's
/// attempts: a step with two attempts survives four disk-full failures and then succeeds.
#[tokio::test]
async fn infrastructure_faults_do_not_spend_attempts() {
    let (_dir, store, mut runner, registry) = sqlite_runner(1, &[]).await;
    runner.register(
        "weather.day1",
        Arc::new(DiskFullFourTimes(std::sync::atomic::AtomicU32::new(0))),
    );
    let new = NewJob {
        max_attempts: 2,
        ..job("d", "weather.day1", "x")
    };
    let id = store.enqueue_job(&new, Utc::now()).await.unwrap().job_id;
    let (stop, rx) = watch::channel(false);
    let handle = tokio::spawn(runner.run(rx));
    let until = std::time::Instant::now() + Duration::from_secs(20);
    let j = loop {
        let j = store.get_job(id).await.unwrap().unwrap();
        if j.status.is_terminal() {
            break j;
        }
        assert!(std::time::Instant::now() < until, "{j:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    stop.send(true).unwrap();
    handle.await.unwrap();
    assert_eq!(j.status, JobStatus::Succeeded, "{j:?}");
    assert_eq!(j.attempts, 1, "only the successful run counted");
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        text.contains(
            "gaia_weather_ledger_jobs_total{job_type=\"weather.day1\",outcome=\"deferred\"} 4"
        ),
        "{text}"
    );
}

#[test]
fn store_errors_become_retryable_step_errors() {
    let e: StepError = gaia_store::StoreError::NotFound { what: "x".into() }.into();
    assert!(e.retry_at.is_some() && e.reason.contains("database"));
    assert!(!e.infrastructure, "a missing row is the step's problem");
    let io = gaia_store::StoreError::NotWritable {
        path: "/data/gaia.db".into(),
        url: "sqlite:///data/gaia.db".into(),
        cause: std::io::Error::other("read-only file system"),
    };
    assert!(StepError::from(io).infrastructure);
    assert!(StepError::fatal("f").retry_at.is_none());
}

/// A response's closing step: waits an hour while any of its two leads is open.
struct Closing(Store);

impl StepHandler for Closing {
    fn run<'a>(&'a self, _job: &'a Job) -> StepFuture<'a> {
        async move {
            for key in ["weather.era5:11:24", "weather.era5:11:48"] {
                let lead = self.0.find_job_by_key(key).await?;
                if !lead.is_some_and(|l| l.status.is_terminal()) {
                    return Ok(StepOutcome::Again {
                        at: Utc::now() + chrono::Duration::hours(1),
                        reason: format!("{key} open"),
                    });
                }
            }
            Ok(StepOutcome::Done(None))
        }
        .boxed()
    }
}

/// An ERA5 lead: lead 24 succeeds, any other fails for good.
struct Lead;

impl StepHandler for Lead {
    fn run<'a>(&'a self, job: &'a Job) -> StepFuture<'a> {
        async move {
            match job.payload["lead_hours"].as_u64() {
                Some(24) => Ok(StepOutcome::Done(None)),
                _ => Err(StepError::fatal("truth unreadable")),
            }
        }
        .boxed()
    }
}

/// A waiting closing step runs again as soon as its last lead ends, succeeded or failed for
/// good, not at the hour it asked for.
#[tokio::test]
async fn the_end_of_a_lead_wakes_its_waiting_closing_step() {
    let (_dir, store, mut runner, _registry) = sqlite_runner(1, &[]).await;
    runner.register("weather.era5", Arc::new(Lead));
    runner.register("weather.overall", Arc::new(Closing(store.clone())));
    let soon = Utc::now() + chrono::Duration::milliseconds(500);
    let lead = |hours: u32| NewJob {
        job_key: format!("weather.era5:11:{hours}"),
        job_type: "weather.era5".into(),
        priority: 1,
        payload: json!({"run_id": 3, "uid": 7, "response_id": 11, "lead_hours": hours}),
        max_attempts: 1,
        scheduled_at: soon,
        run_id: None,
    };
    let closing = NewJob {
        job_key: "weather.overall:11".into(),
        job_type: "weather.overall".into(),
        payload: json!({"run_id": 3, "uid": 7, "response_id": 11}),
        ..job("unused", "weather.overall", "")
    };
    let closing_id = store
        .enqueue_job(&closing, Utc::now())
        .await
        .unwrap()
        .job_id;
    let (stop, rx) = watch::channel(false);
    let handle = tokio::spawn(runner.run(rx));
    // The closing step runs first and waits for its leads an hour.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while store.get_job(closing_id).await.unwrap().unwrap().attempts == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "closing step never ran"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for hours in [24, 48] {
        store.enqueue_job(&lead(hours), Utc::now()).await.unwrap();
    }
    loop {
        let j = store.get_job(closing_id).await.unwrap().unwrap();
        if j.status.is_terminal() {
            assert_eq!(j.status, JobStatus::Succeeded);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "closing step not woken: {j:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(true).unwrap();
    handle.await.unwrap();
    let lead48 = store
        .find_job_by_key("weather.era5:11:48")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lead48.status, JobStatus::Failed);
}
