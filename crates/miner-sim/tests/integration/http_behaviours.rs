//! The misbehaving miners as the validator meets them over loopback HTTP: slow and offline,
//! the lying hash (manifest verification) and the chunk swap (verify-on-read), duplicate uids and
//! forecasts built on demand for another GFS cycle.

use std::sync::Arc;

use crate::common::*;
use gaia_miner_sim::forecast::SWAPPED_CHUNK;
use gaia_miner_sim::{Behaviour, Fleet, FleetConfig, MinerSpec, World, WorldConfig};
use gaia_protocol::{file_hash, verification_hash, VerifyError};
use gaia_scoring::zarr::ZarrError;
use serde_json::json;

#[tokio::test]
async fn slow_and_offline_miners() {
    let f = fleet(
        &[(3, Behaviour::Slow { polls: 2 }), (4, Behaviour::Offline)],
        None,
    )
    .await;
    let slow = f.miner(3).unwrap().clone();
    let (_, r) = post(
        &slow,
        "/weather-initiate-fetch",
        initiate_body(&slow.hotkey),
    )
    .await;
    let job_id = r["job_id"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        let (_, k) = job(&slow, "/weather-kerchunk-request", &job_id).await;
        assert_eq!(k["status"], "processing");
        let (_, p) = job(&slow, "/weather-poll-job-status", &job_id).await;
        assert_eq!(p["status"], "processing");
        assert!(p.get("output_ready").is_none());
    }
    let (_, p) = job(&slow, "/weather-poll-job-status", &job_id).await;
    assert_eq!(p["status"], "completed");
    kerchunk_grant(&slow, &job_id).await;

    let offline = f.miner(4).unwrap().clone();
    assert!(offline.job_id.is_none() && offline.store_name.is_none());
    let err = reqwest::Client::new()
        .post(format!("{}/weather-initiate-fetch", base(&offline)))
        .json(&initiate_body(&offline.hotkey))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err}");
    f.stop().await;
}

#[tokio::test]
async fn lying_hash_and_chunk_swapper_fail_verification() {
    let f = fleet(
        &[(6, Behaviour::LyingHash), (7, Behaviour::ChunkSwapper)],
        None,
    )
    .await;
    let liar = f.miner(6).unwrap().clone();
    let (_, r) = post(
        &liar,
        "/weather-initiate-fetch",
        initiate_body(&liar.hotkey),
    )
    .await;
    let (url, claimed, token) = kerchunk_grant(&liar, r["job_id"].as_str().unwrap()).await;
    let served = get(&format!("{url}/manifest.json"), Some(&token))
        .await
        .bytes()
        .await
        .unwrap();
    assert_ne!(verification_hash(&served), claimed);
    let err = verify_remote(url, token, claimed, liar.hotkey.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, VerifyError::HashMismatch { .. }), "{err}");

    let swapper = f.miner(7).unwrap().clone();
    let (_, r) = post(
        &swapper,
        "/weather-initiate-fetch",
        initiate_body(&swapper.hotkey),
    )
    .await;
    let (url, claimed, token) = kerchunk_grant(&swapper, r["job_id"].as_str().unwrap()).await;
    let chunk_url = format!("{url}/{SWAPPED_CHUNK}");
    let before = get(&chunk_url, Some(&token)).await.bytes().await.unwrap();
    let other_before = get(&format!("{url}/2t/2.0.0"), Some(&token))
        .await
        .bytes()
        .await
        .unwrap();
    // The validator fetches and freezes the manifest: it verifies (hash and signature are honest).
    let report = verify_remote(url.clone(), token.clone(), claimed, swapper.hotkey.clone())
        .await
        .unwrap();
    assert_eq!(
        report.frozen.files[SWAPPED_CHUNK],
        file_hash(SWAPPED_CHUNK, &before)
    );
    let after = get(&chunk_url, Some(&token)).await.bytes().await.unwrap();
    assert_ne!(
        before, after,
        "the chunk changes after the first manifest fetch"
    );
    let other_after = get(&format!("{url}/2t/2.0.0"), Some(&token))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(other_before, other_after, "only one chunk is swapped");
    // Verify-on-read catches it at Day-1's lead (time index 1), not elsewhere.
    assert!(
        read_verified(url.clone(), token.clone(), report.frozen.clone(), "2t", 2)
            .await
            .is_ok()
    );
    let err = read_verified(url, token, report.frozen, "2t", 1)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ZarrError::Verification(VerifyError::ChunkMismatch { .. })
        ),
        "{err}"
    );
    f.stop().await;
}

#[tokio::test]
async fn fleet_rejects_duplicate_uids_and_builds_on_demand() {
    let world = Arc::new(
        World::new(WorldConfig {
            seed: 5,
            grid_deg: 20.0,
        })
        .unwrap(),
    );
    let dup = vec![
        MinerSpec {
            uid: 1,
            behaviour: Behaviour::Offline,
        },
        MinerSpec {
            uid: 1,
            behaviour: Behaviour::GfsCloner,
        },
    ];
    let cfg = FleetConfig::new(world, gfs_init(), dup);
    assert!(Fleet::start(cfg).await.is_err());

    // A request for another GFS cycle builds that forecast in the background.
    let f = fleet(&[(2, Behaviour::GfsCloner)], None).await;
    let m = f.miner(2).unwrap().clone();
    let mut body = initiate_body(&m.hotkey);
    body["data"]["forecast_start_time"] = json!("2026-11-29T00:00:00");
    body["data"]["previous_step_time"] = json!("2026-11-28T18:00:00");
    let (_, r) = post(&m, "/weather-initiate-fetch", body.clone()).await;
    assert_eq!(r["status"], "fetch_accepted");
    let job_id = r["job_id"].as_str().unwrap().to_owned();
    assert_ne!(Some(&job_id), m.job_id.as_ref());
    let mut status = String::new();
    for _ in 0..100 {
        let (_, p) = job(&m, "/weather-poll-job-status", &job_id).await;
        status = p["status"].as_str().unwrap().to_owned();
        if status != "processing" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, "completed");
    let (_, again) = post(&m, "/weather-initiate-fetch", body).await;
    assert_eq!(again["status"], "completed");
    f.stop().await;
}
