//! The weather lifecycle end to end: the real validator (`run`: supervisor, IO-Engine, pool) on
//! a real database, simulated miners on loopback, a synthetic world on disk.
//!
//! - the seed's lifecycle test (Task 4.1): a verified forecast record inserted by hand, a
//!   `weather.score.day1` unit dispatched through the IO-Engine, then the stored rows;
//! - a full cycle on both backends, checking every miner's named outcome and the weights;
//! - `kill -9` of the IO-Engine mid-cycle: the cycle still finishes with the same scores as an
//!   uninterrupted one and without duplicate rows.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::BIN;
use chrono::Utc;
use gaia_dev::harness::{unit, Validator};
use gaia_dev::sim_cycle::{demo_specs, SimCycle};
use gaia_miner_sim::{Behaviour, MinerSpec};
use gaia_protocol::verify_manifest_bytes;
use gaia_store::{
    ForecastStats, ForecastStatus, JobStatus, NewResponse, NewRun, ResponseStatus, RunStatus,
    Store, StoreConfig, Verification,
};
use gaia_testkit::{TestPostgres, TestSqlite};
use gaia_validator::jobs::weather::ScoreDay1;
use gaia_validator::jobs::ComputeJob;
use gaia_validator::miners::client::{MinerClient, PlainJsonTransport};
use gaia_validator::miners::url_policy::{MinerAddress, UrlPolicy};
use gaia_validator::tasks::steps::{Occurrence, ResponseRef, WeatherStep};
use serde_json::{json, Value};

/// A coarse world keeps debug-build scoring fast; the lifecycle is the same at any grid.
pub(crate) const GRID_DEG: f64 = 10.0;
pub(crate) const CYCLE_TIMEOUT: Duration = Duration::from_secs(240);

pub(crate) fn start_validator(cycle: &SimCycle, extra: &[(&str, &str)]) -> Validator {
    let env = cycle.validator_env();
    let mut pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    pairs.extend_from_slice(extra);
    tokio::task::block_in_place(|| Validator::start(BIN, &pairs))
}

pub(crate) async fn open(url: &str) -> Store {
    Store::open(&StoreConfig::new(url)).await.unwrap()
}

/// Per-uid (status, Day-1, overall) of the cycle's run.
pub(crate) async fn outcomes(
    store: &Store,
    run_id: i64,
) -> BTreeMap<u8, (ResponseStatus, Option<f64>, Option<f64>)> {
    let stats = store.list_forecast_stats(run_id).await.unwrap();
    store
        .list_responses(run_id)
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            let s = stats.iter().find(|s| s.miner_uid == r.miner_uid);
            (
                r.miner_uid,
                (
                    r.status,
                    s.and_then(|s| s.forecast_score_initial),
                    s.and_then(|s| s.overall_forecast_score),
                ),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seed_lifecycle_day1_unit_through_the_io_engine_on_postgres() {
    let pg = TestPostgres::create().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let honest = vec![MinerSpec {
        uid: 0,
        behaviour: Behaviour::Honest { skill: 0.9 },
    }];
    let cycle = SimCycle::start(dir.path(), pg.url(), GRID_DEG, honest)
        .await
        .unwrap();
    let store = open(pg.url()).await;
    let miner = cycle.fleet.miners()[0].clone();

    // A verified forecast record, inserted directly: node, run, response, frozen manifest.
    let metagraph: Vec<gaia_validator::chain::MetagraphNode> =
        serde_json::from_str(&std::fs::read_to_string(&cycle.metagraph).unwrap()).unwrap();
    store
        .upsert_node(&metagraph[0].to_record(Utc::now()))
        .await
        .unwrap();
    let run = store
        .create_run(&NewRun {
            run_initiation_time: Utc::now(),
            target_forecast_time_utc: cycle.gfs_init,
            gfs_init_time_utc: cycle.gfs_init,
            gfs_input_metadata: None,
        })
        .await
        .unwrap();
    let store_name = miner.store_name.clone().unwrap();
    let manifest = cycle.fleet.store_file(miner.uid, "manifest.json").unwrap();
    let signature = cycle.fleet.store_file(miner.uid, "manifest.sig").unwrap();
    let hash = miner.manifest_hash.clone().unwrap();
    let report = verify_manifest_bytes(&manifest, &signature, &hash, &miner.hotkey, true).unwrap();
    let url = format!(
        "http://{}:{}/forecasts/{}",
        miner.ip, miner.port, store_name
    );
    let response = store
        .upsert_response(&NewResponse {
            run_id: run.id,
            miner_uid: 0,
            miner_hotkey: miner.hotkey.clone(),
            job_id: miner.job_id.clone(),
            zarr_url: Some(url.clone()),
            verification_hash_claimed: Some(hash.clone()),
            status: ResponseStatus::VerifiedManifestStoreOpened,
            response_time: Utc::now(),
        })
        .await
        .unwrap();
    let frozen = serde_json::to_value(&report.frozen).unwrap();
    store
        .record_verification(
            response.id,
            &Verification {
                hash_computed: Some(hash.clone()),
                passed: true,
                frozen_manifest: Some(frozen.clone()),
                manifest_frozen_at: Some(Utc::now()),
            },
        )
        .await
        .unwrap();
    store
        .upsert_forecast_stats(&ForecastStats::new(
            run.id,
            0,
            &miner.hotkey,
            ForecastStatus::Seeded,
            Utc::now(),
        ))
        .await
        .unwrap();

    // No ERA5 lead eligible during this test: the row must show the Day-1 fallback alone.
    let mut v = start_validator(&cycle, &[("WEATHER__ERA5_DELAY_DAYS", "30")]);

    // The WorkUnit, dispatched through the IO-Engine to the pool.
    let client = MinerClient::new(
        PlainJsonTransport::new().unwrap(),
        UrlPolicy {
            allow_private: true,
        },
    );
    let address = MinerAddress {
        ip: miner.ip.parse().unwrap(),
        port: miner.port,
        scheme: "http",
    };
    client
        .initiate_fetch(&address, cycle.gfs_init, "validator", &miner.hotkey)
        .await
        .unwrap();
    for _ in 0..20 {
        let polled = client
            .poll(&address, miner.job_id.as_deref().unwrap())
            .await
            .unwrap();
        if polled.status.as_deref() == Some("completed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let token = client
        .kerchunk(&address, miner.job_id.as_deref().unwrap())
        .await
        .unwrap()
        .access_token
        .unwrap();
    let payload = json!({
        "forecast": url, "truth": cycle.world.gfs_analysis, "reference": cycle.world.gfs_forecast,
        "climatology": cycle.world.climatology, "bearer_token": token, "frozen_manifest": frozen,
        "gfs_init_time": cycle.gfs_init, "lead_hours": 12.0,
    });
    let answer =
        tokio::task::block_in_place(|| v.dispatch(&unit("seed-day1", ScoreDay1::TASK, payload)));
    assert_eq!(answer["outcome"], "success", "{answer}");
    let unit_result = &answer["result"];
    assert_eq!(unit_result["success"], true, "{answer}");
    assert_eq!(unit_result["task_name"], ScoreDay1::TASK);
    let result = &unit_result["result"];
    let score = result["score"].as_f64().unwrap();
    assert!(score > 0.1 && score <= 1.0, "{result}");
    assert_eq!(result["qc_failed"], false);
    let scored = result["variables"].as_array().unwrap();
    assert_eq!(scored.len(), 5, "2t, msl, 10u, 10v, z500: {result}");
    assert!(scored.iter().all(|v| v["status"] == "scored"), "{result}");

    // The same step through the lifecycle: score rows and the run's score_table row.
    store
        .enqueue_job(
            &WeatherStep::Day1(ResponseRef {
                run_id: run.id,
                uid: 0,
                response_id: response.id,
            })
            .step()
            .new_job(3, Utc::now()),
            Utc::now(),
        )
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let stored = loop {
        let scores = store.list_miner_scores(response.id).await.unwrap();
        let rows = store
            .score_rows_since("weather", run.gfs_init_time_utc)
            .await
            .unwrap();
        if let (Some(s), Some(row)) = (
            scores.iter().find(|s| s.score_type == "day1_qc_score"),
            rows.first(),
        ) {
            break (s.clone(), row.clone());
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no Day-1 rows; log:\n{}",
            v.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (day1_row, score_row) = stored;
    assert!(
        (day1_row.score.unwrap() - score).abs() < 1e-12,
        "same inputs, same score"
    );
    assert_eq!(score_row.run_id, Some(run.id));
    assert_eq!(score_row.created_at, run.gfs_init_time_utc, "§12-2");
    assert!(score_row
        .task_id
        .starts_with(&format!("weather_scores_{}_", run.id)));
    assert_eq!(
        score_row.scores.get(0),
        Some(0.05),
        "Day-1 pass → 0.05 until ERA5"
    );
    let components = store.list_component_scores(response.id).await.unwrap();
    assert_eq!(components.len(), 5, "{components:?}");
    let resp = store.get_response(response.id).await.unwrap().unwrap();
    assert_eq!(resp.status, ResponseStatus::Day1Scored);

    v.signal(nix::sys::signal::Signal::SIGTERM);
    let status = tokio::task::block_in_place(|| v.wait_exit(Duration::from_secs(30)));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "clean shutdown; log:\n{}",
        v.logs()
    );
    cycle.fleet.stop().await;
}

/// Run one full cycle of the demo fleet against `url`; checks every miner's outcome and the
/// weights, and returns the per-uid outcomes.
async fn full_cycle(url: &str) -> BTreeMap<u8, (ResponseStatus, Option<f64>, Option<f64>)> {
    let dir = tempfile::tempdir().unwrap();
    let cycle = SimCycle::prepare(dir.path(), url, GRID_DEG, demo_specs())
        .await
        .unwrap();
    // No scheduled metagraph sync during the test: the recompute check below changes node_table.
    let v = start_validator(&cycle, &[("CHAIN__METAGRAPH_SYNC_CRON", "0 0 1 1 *")]);
    let store = open(url).await;
    let run = match cycle.wait_done(&store, CYCLE_TIMEOUT).await {
        Ok(r) => r,
        Err(e) => panic!("{e}; log:\n{}", v.logs()),
    };
    let got = outcomes(&store, run.id).await;
    check_outcomes(&got);
    recompute_follows_a_hotkey_change(&store, &run, &v).await;
    let weights = store
        .weight_history_since(run.run_initiation_time)
        .await
        .unwrap();
    let record = weights
        .iter()
        .find(|w| w.attempt_key == format!("weights.set:run:{}", run.id))
        .expect("weights recorded for the run");
    assert_eq!(record.outcome, gaia_store::WeightOutcome::Submitted);
    let w: Vec<f64> = record
        .weights
        .as_slice()
        .iter()
        .map(|x| x.unwrap_or(0.0))
        .collect();
    assert!(
        (w.iter().sum::<f64>() - 1.0).abs() < 1e-9,
        "weights sum to 1"
    );
    let best = (0..10).max_by(|a, b| w[*a].total_cmp(&w[*b])).unwrap();
    assert_eq!(
        best,
        0,
        "the most skilled miner earns the most: {:?}",
        &w[..10]
    );
    assert!(v
        .metrics()
        .contains("gaia_weather_scores_total{kind=\"era5\"}"));
    drop(v);
    cycle.fleet.stop().await;
    got
}

/// The score row of `run` as stored.
async fn score_row(store: &Store, run: &gaia_store::Run) -> Vec<f64> {
    let since = run.gfs_init_time_utc - chrono::Duration::seconds(1);
    let rows = store.score_rows_since("weather", since).await.unwrap();
    let row = rows
        .iter()
        .find(|r| r.run_id == Some(run.id))
        .expect("the run's score row");
    row.scores
        .as_slice()
        .iter()
        .map(|x| x.unwrap_or(0.0))
        .collect()
}

/// UID 0 changes hands after the run: the `weather.recompute` step rebuilds the row so the new
/// hotkey does not inherit the old one's score.
async fn recompute_follows_a_hotkey_change(store: &Store, run: &gaia_store::Run, v: &Validator) {
    assert!(score_row(store, run).await[0] > 0.5, "uid 0 scored");
    let mut node = store
        .list_nodes()
        .await
        .unwrap()
        .into_iter()
        .find(|n| n.uid == 0)
        .unwrap();
    node.hotkey = "5NewOwnerOfUid0xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx".into();
    store.upsert_node(&node).await.unwrap();
    // One stored overall score drifts from its leads: the recompute rewrites that one and
    // leaves every result that comes out as stored untouched.
    let honest = store.forecast_stats_of(run.id, 1).await.unwrap().unwrap();
    let mut drifted = honest.clone();
    drifted.overall_forecast_score = Some(0.123);
    store.upsert_forecast_stats(&drifted).await.unwrap();
    let recompute = WeatherStep::Recompute(Occurrence::at(chrono::Utc::now())).step();
    let key = recompute.key();
    let key = key.as_str();
    store
        .enqueue_job(
            &recompute.new_job(2, chrono::Utc::now()),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let job = store.find_job_by_key(key).await.unwrap().unwrap();
        if job.status == gaia_store::JobStatus::Succeeded {
            let result = job.result.unwrap();
            assert_eq!(result["rebuilt"], 1);
            assert!(result["reaggregated"].as_u64() > Some(1), "{result}");
            assert_eq!(result["rewritten"], 1, "only the drifted result: {result}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline && !job.status.is_terminal(),
            "recompute not done: {job:?}\n{}",
            v.logs()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let restored = store.forecast_stats_of(run.id, 1).await.unwrap().unwrap();
    assert_eq!(
        restored.overall_forecast_score.map(f64::to_bits),
        honest.overall_forecast_score.map(f64::to_bits),
        "the drifted overall score is recomputed from its leads"
    );
    let row = score_row(store, run).await;
    assert_eq!(row[0], 0.0, "the new hotkey has no score: {:?}", &row[..10]);
    assert!(row[1] > 0.0, "other UIDs keep theirs: {:?}", &row[..10]);
}

pub(crate) fn check_outcomes(got: &BTreeMap<u8, (ResponseStatus, Option<f64>, Option<f64>)>) {
    use ResponseStatus::*;
    let status = |uid: u8| got[&uid].0;
    let overall = |uid: u8| got[&uid].2.unwrap_or(0.0);
    for uid in [0, 1, 2, 3] {
        assert_eq!(status(uid), Completed, "honest/slow uid {uid}: {got:?}");
    }
    assert!(
        overall(0) > overall(1) && overall(1) > overall(2),
        "skill orders overall: {got:?}"
    );
    assert!(overall(2) > 0.05, "{got:?}");
    assert_eq!(status(4), MinerOffline, "offline: {got:?}");
    assert!(
        got[&5].1.unwrap() <= 0.05 + 1e-12,
        "cloner's Day-1 clamped: {got:?}"
    );
    assert_eq!(status(6), VerificationFailed, "lying hash: {got:?}");
    assert_eq!(status(7), VerificationFailed, "chunk swapper: {got:?}");
    assert_eq!(
        status(8),
        Era5ScoringFailed,
        "NaN injector rejected: {got:?}"
    );
    assert!(overall(8) <= 0.05 + 1e-12, "{got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn full_cycle_on_sqlite() {
    let db = TestSqlite::create().unwrap();
    full_cycle(&db.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn full_cycle_on_postgres() {
    let pg = TestPostgres::create().await.unwrap();
    full_cycle(pg.url()).await;
}

/// Row counts that would grow if a step wrote twice.
/// The cycle's run once its first miner score is stored (scoring under way); fails the test,
/// with the validator's log, when none is within [`CYCLE_TIMEOUT`].
pub(crate) async fn first_scored_run(
    store: &Store,
    cycle: &SimCycle,
    v: &Validator,
) -> gaia_store::Run {
    let deadline = std::time::Instant::now() + CYCLE_TIMEOUT;
    loop {
        let runs = store
            .list_runs_since(cycle.gfs_init - chrono::Duration::days(1))
            .await
            .unwrap();
        if let Some(run) = runs.first() {
            if store.count_miner_scores(run.id).await.unwrap() > 0 {
                return run.clone();
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "scoring never started; log:\n{}",
            v.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn row_counts(store: &Store, run_id: i64) -> (i64, usize, usize) {
    let scores = store.count_miner_scores(run_id).await.unwrap();
    let mut components = 0;
    for r in store.list_responses(run_id).await.unwrap() {
        components += store.list_component_scores(r.id).await.unwrap().len();
    }
    let jobs = store.list_jobs_for_run(run_id).await.unwrap();
    assert!(
        jobs.iter()
            .all(|j| j.status.is_terminal() || j.status == JobStatus::RetryScheduled),
        "{jobs:?}"
    );
    (scores, components, jobs.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_of_the_io_engine_mid_cycle_resumes_without_duplicates() {
    // Reference: the same cycle, uninterrupted.
    let reference_db = TestSqlite::create().unwrap();
    let reference = full_cycle(&reference_db.url()).await;
    let ref_store = open(&reference_db.url()).await;
    let ref_run = ref_store
        .list_runs_since(Utc::now() - chrono::Duration::days(30))
        .await
        .unwrap()[0]
        .clone();
    let ref_counts = row_counts(&ref_store, ref_run.id).await;

    let pg = TestPostgres::create().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cycle = SimCycle::prepare(dir.path(), pg.url(), GRID_DEG, demo_specs())
        .await
        .unwrap();
    let v = start_validator(&cycle, &[]);
    let store = open(pg.url()).await;
    // Wait until scoring is under way, then kill the IO-Engine.
    let run = first_scored_run(&store, &cycle, &v).await;
    let engine = v.pid_of("io-engine").unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(engine as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let before = store.get_run(run.id).await.unwrap().unwrap();
    assert_ne!(
        before.status,
        RunStatus::Completed,
        "the kill must land mid-cycle"
    );
    tokio::task::block_in_place(|| {
        v.wait_state("a new IO-Engine", Duration::from_secs(60), |s| {
            s.children
                .iter()
                .any(|c| c.name == "io-engine" && c.pid != engine)
        })
    });
    let done = match cycle.wait_done(&store, CYCLE_TIMEOUT).await {
        Ok(r) => r,
        Err(e) => panic!("{e}; log:\n{}", v.logs()),
    };
    let got = outcomes(&store, done.id).await;
    check_outcomes(&got);
    for (uid, (status, day1, overall)) in &reference {
        let (s, d, o) = &got[uid];
        assert_eq!(s, status, "uid {uid}");
        let close = |a: &Option<f64>, b: &Option<f64>| match (a, b) {
            (Some(a), Some(b)) => (a - b).abs() <= 1e-12,
            (None, None) => true,
            _ => false,
        };
        assert!(
            close(d, day1) && close(o, overall),
            "uid {uid}: {got:?} vs {reference:?}"
        );
    }
    assert_eq!(
        row_counts(&store, done.id).await,
        ref_counts,
        "no duplicate rows"
    );
    let restarts: Value = serde_json::to_value(v.state()).unwrap();
    assert!(restarts.to_string().contains("io-engine"));
    drop(v);
    cycle.fleet.stop().await;
}
