//! Opening a fresh store per test, and builders of valid records.

use chrono::{DateTime, Duration, TimeZone, Utc};
use gaia_store::{
    ForecastStatus, MinerScore, NewResponse, NewRun, NodeRecord, ResponseStatus, Store, StoreConfig,
};
use gaia_testkit::{TestPostgres, TestSqlite};

/// What keeps the database alive for the test's duration.
#[allow(dead_code)]
pub(crate) enum Guard {
    Pg(TestPostgres),
    Sqlite(TestSqlite),
}

/// A connected but not yet migrated store.
pub(crate) struct Fixture {
    pub(crate) store: Store,
    #[allow(dead_code)]
    pub(crate) guard: Guard,
}

pub(crate) async fn sqlite() -> Fixture {
    let db = TestSqlite::create().expect("temp dir");
    let url = db.url();
    let store = Store::connect(&StoreConfig::new(&url).with_pool(1, 4))
        .await
        .expect("open sqlite");
    Fixture {
        store,
        guard: Guard::Sqlite(db),
    }
}

pub(crate) async fn postgres() -> Fixture {
    let db = TestPostgres::create().await.expect("test postgres");
    let url = db.url().to_owned();
    let store = Store::connect(&StoreConfig::new(&url).with_pool(1, 4))
        .await
        .expect("open postgres");
    Fixture {
        store,
        guard: Guard::Pg(db),
    }
}

/// A fixed reference time (microsecond precision, as both backends store).
pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap()
}

pub(crate) fn node(uid: u8) -> NodeRecord {
    NodeRecord {
        uid,
        hotkey: format!("hk-{uid}"),
        coldkey: format!("ck-{}", uid / 4),
        ip: format!("10.0.0.{uid}"),
        port: 8091,
        stake: 10.5 * f64::from(uid),
        incentive: 0.0,
        trust: 0.25,
        vtrust: 0.0,
        validator_permit: uid == 0,
        last_updated: t0(),
    }
}

pub(crate) fn new_run(days_before_t0: i64) -> NewRun {
    let gfs = t0() - Duration::days(days_before_t0);
    NewRun {
        run_initiation_time: gfs + Duration::minutes(5),
        target_forecast_time_utc: gfs,
        gfs_init_time_utc: gfs,
        gfs_input_metadata: Some(serde_json::json!({"cycle": "00Z"})),
    }
}

pub(crate) fn new_response(run_id: i64, uid: u8) -> NewResponse {
    NewResponse {
        run_id,
        miner_uid: uid,
        miner_hotkey: format!("hk-{uid}"),
        job_id: Some(format!("job-{run_id}-{uid}")),
        zarr_url: Some(format!("http://10.0.0.{uid}:8091/forecast.zarr")),
        verification_hash_claimed: Some("ab".repeat(32)),
        status: ResponseStatus::Received,
        response_time: t0(),
    }
}

pub(crate) fn score(response_id: i64, run_id: i64, uid: u8, lead: i32, value: f64) -> MinerScore {
    MinerScore {
        response_id,
        run_id,
        miner_uid: uid,
        miner_hotkey: format!("hk-{uid}"),
        score_type: format!("era5_rmse_z500_{lead}h"),
        lead_hours: lead,
        variable_level: "z500".into(),
        valid_time_utc: t0() + Duration::hours(i64::from(lead)),
        score: Some(value),
        metrics: Some(serde_json::json!({"n": lead})),
        calculation_time: t0(),
        error_message: None,
    }
}

/// Migrate and create a run with `uids` as nodes and responses; returns (run id, response ids).
pub(crate) async fn seeded(store: &Store, days_before_t0: i64, uids: &[u8]) -> (i64, Vec<i64>) {
    store.migrate().await.expect("migrate");
    let run = store
        .create_run(&new_run(days_before_t0))
        .await
        .expect("run");
    let mut ids = Vec::new();
    for &uid in uids {
        store.upsert_node(&node(uid)).await.expect("node");
        ids.push(
            store
                .upsert_response(&new_response(run.id, uid))
                .await
                .expect("resp")
                .id,
        );
    }
    (run.id, ids)
}

/// A passed verification that froze `manifest` at `t0` (computed hash `cd`).
pub(crate) fn passed_verification(manifest: &serde_json::Value) -> gaia_store::Verification {
    gaia_store::Verification {
        hash_computed: Some("cd".into()),
        passed: true,
        frozen_manifest: Some(manifest.clone()),
        manifest_frozen_at: Some(t0()),
    }
}

#[allow(dead_code)]
pub(crate) fn stats(run_id: i64, uid: u8) -> gaia_store::ForecastStats {
    gaia_store::ForecastStats::new(
        run_id,
        uid,
        format!("hk-{uid}"),
        ForecastStatus::Seeded,
        t0(),
    )
}
