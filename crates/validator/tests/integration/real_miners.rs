//! Real miners at production scale (issue "real miners", acceptance 2 and 4): a miner that
//! rate-limits like production (a sliding 60-second window, 429 with `Retry-After` beyond it)
//! and an honest miner, both serving the production store layout (all 13 levels of a step in one
//! chunk, blosc-zstd, `plev`), with all ten ERA5 leads due at once (the sim cycle's run is 11
//! days old). Every lead of both miners is scored; the validator keeps under the miner's limit
//! (its per-step budget, one step per miner at a time), so the miner refuses nothing, and each
//! ERA5 step's result records what it fetched and how long the budget made it wait. A miner
//! whose store answers slowly holds one ledger slot at a time (issue 15 point 3).

use std::time::Duration;

use gaia_dev::harness::Validator;
use gaia_dev::sim_cycle::SimCycle;
use gaia_miner_sim::{Behaviour, MinerSpec};
use gaia_store::{ResponseStatus, Store, StoreConfig};
use gaia_testkit::TestSqlite;

use crate::BIN;

/// The miner's limit, and the validator's budget under it (both per minute).
const MINER_LIMIT: u32 = 900;
const VALIDATOR_BUDGET: &str = "600";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rate_limited_miner_gets_every_lead_scored_without_a_refusal() {
    let db = TestSqlite::create().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let miners = vec![
        MinerSpec {
            uid: 0,
            behaviour: Behaviour::RateLimited {
                per_minute: MINER_LIMIT,
            },
        },
        MinerSpec {
            uid: 1,
            behaviour: Behaviour::Honest { skill: 0.9 },
        },
    ];
    let cycle = SimCycle::prepare(dir.path(), &db.url(), 10.0, miners)
        .await
        .unwrap();
    let zmeta = cycle.fleet.store_file(0, ".zmetadata").unwrap();
    let zmeta = String::from_utf8(zmeta).unwrap();
    assert!(
        zmeta.contains("\"plev/.zarray\"") && zmeta.contains("\"blosc\""),
        "production layout"
    );
    let mut env = cycle.validator_env();
    env.retain(|(k, _)| k != "WEATHER__MINER_REQUESTS_PER_MINUTE");
    env.push((
        "WEATHER__MINER_REQUESTS_PER_MINUTE".into(),
        VALIDATOR_BUDGET.into(),
    ));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let v = tokio::task::block_in_place(|| Validator::start(BIN, &pairs));
    let store = Store::open(&StoreConfig::new(db.url())).await.unwrap();
    let run = match cycle.wait_done(&store, Duration::from_secs(300)).await {
        Ok(r) => r,
        Err(e) => panic!("{e}; log:\n{}", v.logs()),
    };

    let stats = store.list_forecast_stats(run.id).await.unwrap();
    for r in store.list_responses(run.id).await.unwrap() {
        assert_eq!(r.status, ResponseStatus::Completed, "uid {}", r.miner_uid);
        let s = stats.iter().find(|s| s.miner_uid == r.miner_uid).unwrap();
        assert_eq!(
            s.era5_completeness,
            Some(1.0),
            "uid {}: all ten leads",
            r.miner_uid
        );
    }
    let limiter = cycle.fleet.limiter(0).unwrap();
    assert_eq!(limiter.refused(), 0, "the validator stayed under the limit");
    assert!(limiter.served() > 100, "{} requests", limiter.served());

    // Each ERA5 step of the rate-limited miner says what it fetched and what it waited.
    let jobs = store.list_jobs_for_run(run.id).await.unwrap();
    let fetched: Vec<&serde_json::Value> = jobs
        .iter()
        .filter(|j| j.job_type == "weather.era5" && j.payload["uid"] == 0)
        .filter_map(|j| j.result.as_ref().map(|r| &r["fetched"]))
        .collect();
    assert_eq!(fetched.len(), 10, "{jobs:?}");
    for f in &fetched {
        assert!(f["requests"].as_u64().unwrap() >= 9, "{f}");
        assert!(f["bytes"].as_u64().unwrap() > 0, "{f}");
    }
    let waited: u64 = fetched
        .iter()
        .map(|f| f["waited_ms"].as_u64().unwrap())
        .sum();
    assert!(waited > 0, "the budget spaced the requests: {fetched:?}");
    let metrics = v.metrics();
    assert!(
        metrics.contains("gaia_miner_fetch_requests_total{kind=\"era5\"}"),
        "{metrics}"
    );
    drop(v);
    cycle.fleet.stop().await;
}

/// Issue 15 point 3: a miner whose store answers every read slowly, with all ten ERA5 leads due
/// at once. Its leads take turns without holding the ledger: a lead that finds the miner's store
/// being read yields its slot (outcome `yielded`, no attempt spent) instead of waiting in it, so
/// the other miner's work runs beside it; every lead of both is scored.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_store_holds_one_ledger_slot_and_every_lead_is_scored() {
    let db = TestSqlite::create().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let miners = vec![
        MinerSpec {
            uid: 0,
            behaviour: Behaviour::SlowStore { delay_ms: 150 },
        },
        MinerSpec {
            uid: 1,
            behaviour: Behaviour::Honest { skill: 0.9 },
        },
    ];
    let cycle = SimCycle::prepare(dir.path(), &db.url(), 10.0, miners)
        .await
        .unwrap();
    let env = cycle.validator_env();
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let v = tokio::task::block_in_place(|| Validator::start(BIN, &pairs));
    let store = Store::open(&StoreConfig::new(db.url())).await.unwrap();
    let run = match cycle.wait_done(&store, Duration::from_secs(300)).await {
        Ok(r) => r,
        Err(e) => panic!("{e}; log:\n{}", v.logs()),
    };
    let stats = store.list_forecast_stats(run.id).await.unwrap();
    for r in store.list_responses(run.id).await.unwrap() {
        assert_eq!(r.status, ResponseStatus::Completed, "uid {}", r.miner_uid);
        let s = stats.iter().find(|s| s.miner_uid == r.miner_uid).unwrap();
        assert_eq!(s.era5_completeness, Some(1.0), "uid {}", r.miner_uid);
    }
    // Every lead ran once to the end: yielding spent no attempt.
    let jobs = store.list_jobs_for_run(run.id).await.unwrap();
    for j in jobs.iter().filter(|j| j.job_type == "weather.era5") {
        assert_eq!(j.attempts, 1, "{}: {:?}", j.job_key, j.last_error);
    }
    let metrics = v.metrics();
    let yielded: f64 = metrics
        .lines()
        .find(|l| {
            l.starts_with(
                "gaia_weather_ledger_jobs_total{job_type=\"weather.era5\",outcome=\"yielded\"}",
            )
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0);
    assert!(
        yielded > 0.0,
        "the slow miner's leads took turns by yielding; metrics:\n{metrics}"
    );
    drop(v);
    cycle.fleet.stop().await;
}
