//! The paths of the scoring steps that end before any score: the frozen manifest missing, the
//! miner gone, its manifest hash changed, no fresh token, truth not there yet. Each against a
//! scripted plain-JSON miner on loopback.

use gaia_store::Verification;

use super::*;
use crate::tasks::steps::{LeadRef, ResponseRef, WeatherStep};
use crate::tasks::weather::lifecycle::test_support::{job, scripted_miner, settled, setup};

const HASH_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const HASH_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn kerchunk(hash: &str) -> serde_json::Value {
    json!({"status": "completed", "zarr_store_url": "/forecasts/job.zarr",
           "verification_hash": hash, "access_token": "t"})
}

/// Give `uid`'s response a job, store URL, claimed hash and (unless `frozen` is false) a frozen
/// manifest, as a verified query leaves it; returns its id.
async fn verified(ctx: &WeatherContext, run: &Run, uid: u8, frozen: bool) -> i64 {
    let r = ctx.response_of(run.id, uid).await.unwrap();
    ctx.store
        .upsert_response(&gaia_store::NewResponse {
            run_id: run.id,
            miner_uid: uid,
            miner_hotkey: r.miner_hotkey.clone(),
            job_id: Some(format!("job-{uid}")),
            zarr_url: Some("http://127.0.0.1:1/forecasts/job.zarr".into()),
            verification_hash_claimed: Some(HASH_A.into()),
            status: ResponseStatus::VerifiedManifestStoreOpened,
            response_time: Utc::now(),
        })
        .await
        .unwrap();
    if frozen {
        let v = Verification {
            hash_computed: Some(HASH_A.into()),
            passed: true,
            frozen_manifest: Some(json!({"files": {}})),
            manifest_frozen_at: Some(Utc::now()),
        };
        ctx.store.record_verification(r.id, &v).await.unwrap();
    }
    r.id
}

/// The Day-1 job of `uid`'s response `response_id` in `run`.
fn day1(run: &Run, uid: u8, response_id: i64, attempts: i32) -> Job {
    let r = ResponseRef {
        run_id: run.id,
        uid,
        response_id,
    };
    job(WeatherStep::Day1(r), attempts)
}

async fn day1_step(ctx: &WeatherContext, job: &Job) -> Result<StepOutcome, StepError> {
    super::super::handle(ctx, job).await
}

async fn era5_step(ctx: &WeatherContext, job: &Job) -> Result<StepOutcome, StepError> {
    super::super::handle(ctx, job).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoring_stops_with_a_named_status_before_any_score() {
    let dir = tempfile::tempdir().unwrap();
    let same = scripted_miner(vec![("/weather-kerchunk-request", vec![kerchunk(HASH_A)])]).await;
    let changed = scripted_miner(vec![("/weather-kerchunk-request", vec![kerchunk(HASH_B)])]).await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let miners = [(1, same), (2, same), (3, changed), (4, closed), (5, same)];
    let (ctx, run) = setup(dir.path(), &miners).await;

    // 1: verified, truth not there yet → run again later, response untouched.
    let id = verified(&ctx, &run, 1, true).await;
    match day1_step(&ctx, &day1(&run, 1, id, 1)).await.unwrap() {
        StepOutcome::Again { reason, .. } => {
            assert!(reason.contains("not available yet"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        settled(&ctx, &run, 1).await.0,
        ResponseStatus::VerifiedManifestStoreOpened
    );
    // The same for an ERA5 lead.
    let lead = LeadRef {
        run_id: run.id,
        uid: 1,
        response_id: id,
        lead_hours: 24,
    };
    let era5 = job(WeatherStep::Era5(lead), 1);
    assert!(matches!(
        era5_step(&ctx, &era5).await.unwrap(),
        StepOutcome::Again { .. }
    ));
    let mut no_lead = era5.clone();
    no_lead.payload = json!({"run_id": run.id, "uid": 1, "response_id": id});
    let err = era5_step(&ctx, &no_lead).await.unwrap_err();
    assert!(
        err.reason.contains("missing field `lead_hours`"),
        "{}",
        err.reason
    );
    assert!(err.retry_at.is_none(), "a malformed payload is fatal");

    // 2: no frozen manifest → verification failed.
    let id = verified(&ctx, &run, 2, false).await;
    day1_step(&ctx, &day1(&run, 2, id, 1)).await.unwrap();
    let (status, reason) = settled(&ctx, &run, 2).await;
    assert_eq!(status, ResponseStatus::VerificationFailed);
    assert!(reason.contains("missing frozen manifest"), "{reason}");
    // Settled: a re-run is skipped.
    match day1_step(&ctx, &day1(&run, 2, id, 2)).await.unwrap() {
        StepOutcome::Done(Some(v)) => assert_eq!(v["skipped"], "verification_failed"),
        other => panic!("{other:?}"),
    }

    // 3: the miner now claims another manifest hash.
    let id = verified(&ctx, &run, 3, true).await;
    day1_step(&ctx, &day1(&run, 3, id, 1)).await.unwrap();
    let (status, reason) = settled(&ctx, &run, 3).await;
    assert_eq!(status, ResponseStatus::VerificationError);
    assert!(reason.contains("manifest hash changed"), "{reason}");

    // 4: unreachable for a fresh token → a retryable step error, response untouched.
    let id = verified(&ctx, &run, 4, true).await;
    let err = day1_step(&ctx, &day1(&run, 4, id, 1)).await.unwrap_err();
    assert!(err.reason.starts_with("fresh token:"), "{}", err.reason);
    assert!(err.retry_at.is_some());

    // 5: deregistered (hotkey changed) before scoring.
    let id = verified(&ctx, &run, 5, true).await;
    let mut node = ctx.store.list_nodes().await.unwrap();
    node.retain(|n| n.uid == 5);
    let mut moved = node.remove(0);
    moved.hotkey = "someone-else".into();
    ctx.store.upsert_node(&moved).await.unwrap();
    day1_step(&ctx, &day1(&run, 5, id, 1)).await.unwrap();
    let (status, reason) = settled(&ctx, &run, 5).await;
    assert_eq!(status, ResponseStatus::Failed);
    assert!(reason.contains("deregistered before scoring"), "{reason}");
}
