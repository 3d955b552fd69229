//! Backend-specific behaviour: URL errors, the SQLite default file, and a PostgreSQL restart in
//! the middle of a write loop.

use std::time::Duration as StdDuration;

use gaia_store::{Backend, RetryPolicy, Store, StoreConfig, StoreError};
use gaia_testkit::{SmallDisk, TestPostgres, TestSqlite};

use crate::fixtures::{score, seeded};

fn quick_fail(url: &str) -> StoreConfig {
    let mut c = StoreConfig::new(url).with_retry(RetryPolicy {
        initial_delay: StdDuration::from_millis(20),
        max_delay: StdDuration::from_millis(50),
        give_up_after: StdDuration::from_millis(200),
    });
    c.acquire_timeout = StdDuration::from_secs(2);
    c
}

#[tokio::test]
async fn unsupported_scheme_names_redacted_url() {
    let err = Store::connect(&quick_fail("mysql://gaia:hunter2@db/gaia"))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::InvalidUrl { .. }), "{msg}");
    assert!(msg.contains("mysql://gaia:***@db/gaia"), "{msg}");
    assert!(msg.contains("unsupported scheme"), "{msg}");
    assert!(!msg.contains("hunter2"), "{msg}");
}

#[tokio::test]
async fn unreachable_postgres_names_redacted_url_and_cause() {
    // Port 1 on loopback: nothing listens, the connection is refused.
    let err = Store::connect(&quick_fail("postgres://gaia:hunter2@127.0.0.1:1/gaia"))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            StoreError::Connect {
                backend: Backend::Postgres,
                ..
            }
        ),
        "{msg}"
    );
    assert!(
        msg.contains(
            "cannot connect to PostgreSQL database `postgres://gaia:***@127.0.0.1:1/gaia`"
        ),
        "{msg}"
    );
    assert!(
        msg.to_lowercase().contains("refused"),
        "names what failed: {msg}"
    );
    assert!(!msg.contains("hunter2"), "{msg}");
}

#[tokio::test]
async fn missing_postgres_database_is_named() {
    let pg = TestPostgres::create().await.unwrap();
    let url = pg
        .url()
        .rsplit_once('/')
        .map(|(base, _)| format!("{base}/no_such_db"))
        .unwrap();
    let url = url.replacen("postgres://postgres@", "postgres://postgres:pw@", 1);
    let err = Store::connect(&quick_fail(&url)).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("postgres://postgres:***@"), "{msg}");
    assert!(msg.contains("no_such_db"), "{msg}");
    assert!(msg.contains("does not exist"), "{msg}");
}

#[tokio::test]
async fn sqlite_directory_that_cannot_exist_is_named() {
    let err = Store::connect(&quick_fail("sqlite:///dev/null/sub/gaia.db"))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::CreateDir { .. }), "{msg}");
    assert!(msg.contains("/dev/null/sub"), "{msg}");
}

#[tokio::test]
async fn sqlite_default_file_is_created_on_first_start() {
    let tmp = TestSqlite::create().unwrap();
    let nested = tmp.path().parent().unwrap().join("data/dir/gaia.db");
    let url = format!("sqlite://{}", nested.display());
    assert!(!nested.exists());
    let store = Store::open(&StoreConfig::new(&url)).await.unwrap();
    assert!(nested.exists());
    assert_eq!(store.backend(), Backend::Sqlite);
    assert_eq!(store.migration_status().await.unwrap().current(), Some(4));
    store.ping().await.unwrap();
    store.close().await;
    // Reopening an existing file migrates nothing.
    let again = Store::open(&StoreConfig::new(&url)).await.unwrap();
    assert!(again.migration_status().await.unwrap().is_up_to_date());
}

/// Acceptance 5: `pg_ctl restart` while a loop writes one score row per statement. The loop
/// completes through retries, and every row is there exactly once with its value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_mid_write_loop_loses_and_duplicates_nothing() {
    let pg = TestPostgres::create_private().await.unwrap();
    let config = StoreConfig::new(pg.url())
        .with_pool(1, 2)
        .with_retry(RetryPolicy {
            initial_delay: StdDuration::from_millis(50),
            max_delay: StdDuration::from_millis(500),
            give_up_after: StdDuration::from_secs(60),
        });
    let store = Store::connect(&config).await.unwrap();
    let (run_id, ids) = seeded(&store, 0, &[1]).await;

    const ROWS: i32 = 400;
    let restarted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut restart_task = None;
    for i in 0..ROWS {
        if i == 100 {
            let cluster = pg.cluster().expect("private cluster");
            let flag = restarted.clone();
            restart_task = Some(std::thread::spawn(move || {
                cluster.restart().expect("pg_ctl restart");
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
            }));
        }
        let mut s = score(ids[0], run_id, 1, i + 1, f64::from(i) / 1000.0);
        s.score_type = format!("row_{i}");
        store.upsert_miner_scores(&[s]).await.unwrap();
        // Keep writing slowly while the server goes down and comes back; from row 200 on, wait
        // for the restart to have finished so rows are written before, during and after it.
        while i > 100 && !restarted.load(std::sync::atomic::Ordering::SeqCst) {
            tokio::time::sleep(StdDuration::from_millis(5)).await;
            if i < 200 {
                break;
            }
        }
    }
    restart_task.unwrap().join().unwrap();
    assert!(restarted.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(
        store.count_miner_scores(run_id).await.unwrap(),
        i64::from(ROWS)
    );
    let rows = store.list_miner_scores(ids[0]).await.unwrap();
    let mut seen: Vec<i32> = rows.iter().map(|r| r.lead_hours).collect();
    seen.sort_unstable();
    assert_eq!(seen, (1..=ROWS).collect::<Vec<_>>());
    for r in &rows {
        assert_eq!(r.score, Some(f64::from(r.lead_hours - 1) / 1000.0));
    }
}

/// Make the database look as if migration `version` had never run (its change is replayed by
/// the next `migrate`).
async fn forget_migration(store: &Store, url: &str, version: i64) {
    let forget = "DELETE FROM _sqlx_migrations WHERE version = $1";
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query(forget)
            .bind(version)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(forget)
            .bind(version)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
    assert_eq!(
        store.migration_status().await.unwrap().pending,
        vec![version]
    );
}

/// A database written by a version before migration 2: its weather score row carries the run's
/// wall-clock start (18:00) instead of the GFS init time. Forgetting migration 2 and migrating
/// again replays it on that row; a row of another task keeps its time.
async fn score_rows_are_restamped_at_gfs_init(store: &Store, url: &str) {
    let (run_id, _) = seeded(store, 3, &[1]).await;
    let run = store.get_run(run_id).await.unwrap().unwrap();
    let gfs_init = run.gfs_init_time_utc;
    let row = |task_name: &str, task_id: String, created_at| gaia_store::ScoreRow {
        task_name: task_name.into(),
        task_id,
        run_id: Some(run_id),
        scores: gaia_store::UidVector::empty(),
        created_at,
        status: gaia_store::ScoreRowStatus::InitialScoresCompiled,
    };
    let started = gfs_init + chrono::Duration::hours(18);
    store
        .upsert_score_row(&row("weather", format!("weather_scores_{run_id}"), started))
        .await
        .unwrap();
    store
        .upsert_score_row(&row("other", "other_1".into(), started))
        .await
        .unwrap();
    forget_migration(store, url, 2).await;
    assert_eq!(store.migrate().await.unwrap().current(), Some(4));
    let stamp = |task: &str| {
        let task = task.to_owned();
        async move {
            let rows = store
                .score_rows_since(&task, gfs_init - chrono::Duration::days(1))
                .await
                .unwrap();
            assert_eq!(rows.len(), 1, "{task}: {rows:?}");
            rows[0].created_at
        }
    };
    assert_eq!(
        stamp("weather").await,
        gfs_init,
        "restamped at the GFS init"
    );
    assert_eq!(
        stamp("other").await,
        started,
        "not a weather row: unchanged"
    );
}

/// Tests `$sqlite` and `$postgres` running the migration check `$check(store, url)` on a store
/// connected (not yet migrated) to a fresh database of each backend.
macro_rules! migration_on_both_backends {
    ($check:ident: $sqlite:ident, $postgres:ident) => {
        #[tokio::test]
        async fn $sqlite() {
            let db = TestSqlite::create().unwrap();
            let store = Store::connect(&StoreConfig::new(db.url())).await.unwrap();
            $check(&store, &db.url()).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            let pg = TestPostgres::create().await.unwrap();
            let store = Store::connect(&StoreConfig::new(pg.url())).await.unwrap();
            $check(&store, pg.url()).await;
        }
    };
}

migration_on_both_backends!(score_rows_are_restamped_at_gfs_init:
    migration_2_restamps_score_rows_on_sqlite,
    migration_2_restamps_score_rows_on_postgres);

/// A ledger written by a version before migration 3: its closing steps carry the old priorities
/// (overall 105, finalize 110), so they waited until no ERA5 lead (100) of any run was due.
/// Replaying migration 3 gives them ERA5's priority: the older run's closing steps, due first,
/// are claimed before a newer run's lead; other job types keep theirs.
async fn closing_steps_take_their_turn_with_era5_after_migration_3(store: &Store, url: &str) {
    store.migrate().await.unwrap();
    let now = chrono::Utc::now();
    let job = |key: &str, job_type: &str, priority: i32, due_minutes_ago: i64| gaia_store::NewJob {
        job_key: key.into(),
        job_type: job_type.into(),
        priority,
        payload: serde_json::json!({}),
        max_attempts: 3,
        scheduled_at: now - chrono::Duration::minutes(due_minutes_ago),
        run_id: None,
    };
    for j in [
        job("weather.era5:9:24", "weather.era5", 100, 1),
        job("weather.overall:1", "weather.overall", 105, 60),
        job("weather.finalize:1", "weather.finalize", 110, 59),
        job("other.thing:1", "other.thing", 105, 60),
    ] {
        store.enqueue_job(&j, now).await.unwrap();
    }
    forget_migration(store, url, 3).await;
    assert_eq!(store.migrate().await.unwrap().current(), Some(4));
    let priority = |key: &'static str| async move {
        store.find_job_by_key(key).await.unwrap().unwrap().priority
    };
    assert_eq!(priority("weather.overall:1").await, 100);
    assert_eq!(priority("weather.finalize:1").await, 100);
    assert_eq!(priority("weather.era5:9:24").await, 100);
    assert_eq!(priority("other.thing:1").await, 105, "not a closing step");
    let lease = StdDuration::from_secs(30);
    let mut order = Vec::new();
    for claimer in ["c1", "c2", "c3"] {
        let claimed = store
            .claim_job_of_type(claimer, "weather.", now, lease)
            .await;
        order.push(claimed.unwrap().expect("a due job").job_key);
    }
    assert_eq!(
        order,
        [
            "weather.overall:1",
            "weather.finalize:1",
            "weather.era5:9:24"
        ]
    );
}

migration_on_both_backends!(closing_steps_take_their_turn_with_era5_after_migration_3:
    migration_3_puts_closing_steps_in_turn_with_era5_on_sqlite,
    migration_3_puts_closing_steps_in_turn_with_era5_on_postgres);

/// Issue 15 point 1: a full disk must not poison the SQLite pool. Writes fail while the disk is
/// full (SQLite rolls the transaction back by itself, so sqlx's own ROLLBACK failed and the
/// connection went back to the pool at a non-zero transaction depth: every later claim failed
/// with "attempted to call begin_with at non-zero transaction depth" until a restart). Once
/// space returns, claims and writes work again on the same store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_full_disk_errors_end_when_space_returns() {
    let disk = SmallDisk::mount("2m").unwrap();
    let url = format!("sqlite://{}", disk.path().join("gaia.db").display());
    let store = Store::connect(&quick_fail(&url).with_pool(1, 3))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let lease = StdDuration::from_secs(30);
    let now = chrono::Utc::now();
    let job = |k: usize| gaia_store::NewJob {
        job_key: format!("job-{k}"),
        job_type: "weather.day1".into(),
        priority: 1,
        payload: serde_json::json!({ "pad": "x".repeat(20_000), "k": k }),
        max_attempts: 3,
        scheduled_at: now,
        run_id: None,
    };
    store.enqueue_job(&job(0), now).await.unwrap();
    let filler = disk.fill().unwrap();
    // Pages freed by earlier writes are reused first: write until SQLite reports the full disk,
    // then keep claiming and writing for a while (each failure used to poison a connection).
    let (mut full_errors, mut reported) = (0, Vec::new());
    for k in 1..400 {
        match store.enqueue_job(&job(k), now).await {
            Ok(e) if e.created => reported.push(k),
            Ok(e) => panic!("job-{k} was new, got {e:?}"),
            Err(e) => {
                assert!(e.to_string().contains("full"), "{e}");
                assert!(
                    e.is_infrastructure(),
                    "a full disk is the validator's fault: {e}"
                );
                full_errors += 1;
            }
        }
        let _ = store.claim_job("c1", now, lease).await;
        if full_errors >= 10 {
            break;
        }
    }
    assert!(full_errors > 0, "the disk never filled");
    std::fs::remove_file(filler).unwrap();
    // Nothing reported written was lost (a `RETURNING` write used to report success, with an id,
    // for a row its failed autocommit had rolled back).
    for k in reported {
        let key = format!("job-{k}");
        assert!(
            store.find_job_by_key(&key).await.unwrap().is_some(),
            "{key} was reported enqueued but is not in the ledger"
        );
    }
    // Space is back. A step that failed on the full disk is put back without spending its
    // attempt (`defer_job`), so a job with one attempt is still claimable afterwards.
    let once = gaia_store::NewJob {
        max_attempts: 1,
        job_type: "test.once".into(),
        ..job(500)
    };
    let id = store.enqueue_job(&once, now).await.unwrap().job_id;
    let claim = || store.claim_job_of_type("c3", "test.", now, lease);
    let claimed = claim().await.unwrap().expect("a job");
    assert_eq!((claimed.id, claimed.attempts), (id, 1));
    let status = store
        .defer_job(id, "c3", "database: disk full", now, now)
        .await
        .unwrap();
    assert_eq!(status, gaia_store::JobStatus::RetryScheduled);
    let again = store.get_job(id).await.unwrap().unwrap();
    assert_eq!(again.attempts, 0, "the attempt was refunded");
    assert_eq!(again.last_error.as_deref(), Some("database: disk full"));
    let reclaimed = claim().await.unwrap().expect("claimable again");
    assert_eq!((reclaimed.id, reclaimed.attempts), (id, 1));
    store.complete_job(id, "c3", None, now).await.unwrap();
    // Every connection of the pool must be usable again.
    for k in 100..110 {
        store.enqueue_job(&job(k), now).await.unwrap();
        let claimed = store.claim_job("c2", now, lease).await.unwrap();
        let job = claimed.expect("a job to claim");
        store
            .complete_job(job.id, "c2", None, now)
            .await
            .unwrap_or_else(|e| panic!("complete after space returned: {e}"));
    }
    store.close().await;
}

/// Issue 15 point 9: a SQLite database on a read-only file system is named as not writable (it
/// was reported as "unable to open database file"), for an existing file and a new one.
#[tokio::test]
async fn sqlite_on_a_read_only_file_system_is_named_not_writable() {
    let disk = SmallDisk::mount("2m").unwrap();
    let url = format!("sqlite://{}", disk.path().join("gaia.db").display());
    let store = Store::open(&quick_fail(&url)).await.unwrap();
    store.close().await;
    let remount = |mode: &str| {
        let out = std::process::Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(disk.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    remount("ro");
    for name in ["gaia.db", "new.db"] {
        let url = format!("sqlite://{}", disk.path().join(name).display());
        let err = Store::connect(&quick_fail(&url)).await.unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, StoreError::NotWritable { .. }), "{text}");
        assert!(
            text.contains("not writable") && text.to_lowercase().contains("read-only"),
            "{text}"
        );
    }
    remount("rw");
    let store = Store::connect(&quick_fail(&url)).await.unwrap();
    store.ping().await.unwrap();
}
