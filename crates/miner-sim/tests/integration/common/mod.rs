//! Helpers shared by the loopback HTTP tests: start a fleet, call endpoints, and run the
//! validator's blocking manifest verification and verify-on-read reads.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use gaia_miner_sim::{Behaviour, Fleet, FleetConfig, MinerInfo, MinerSpec, World, WorldConfig};
use gaia_protocol::{FrozenManifest, VerifyError, VerifyManifestReport};
use gaia_scoring::verify::{fetch_and_verify_manifest, RemoteManifestRequest};
use gaia_scoring::zarr::{Dataset, OpenOptions, ZarrError};
use reqwest::StatusCode;
use serde_json::{json, Value};

pub(crate) const VALIDATOR: &str = "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV";

pub(crate) fn gfs_init() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap()
}

pub(crate) async fn fleet(miners: &[(u16, Behaviour)], allowed: Option<Vec<String>>) -> Fleet {
    let world = Arc::new(
        World::new(WorldConfig {
            seed: 5,
            grid_deg: 20.0,
        })
        .unwrap(),
    );
    let specs = miners
        .iter()
        .map(|(uid, behaviour)| MinerSpec {
            uid: *uid,
            behaviour: *behaviour,
        })
        .collect();
    let mut cfg = FleetConfig::new(world, gfs_init(), specs);
    cfg.allowed_validators = allowed;
    Fleet::start(cfg).await.unwrap()
}

pub(crate) fn base(m: &MinerInfo) -> String {
    format!("http://{}:{}", m.ip, m.port)
}

pub(crate) async fn post(m: &MinerInfo, path: &str, body: Value) -> (StatusCode, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}{path}", base(m)))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

pub(crate) fn initiate_body(hotkey: &str) -> Value {
    json!({"nonce": "n1", "data": {
        "forecast_start_time": "2026-11-28T00:00:00+00:00",
        "previous_step_time": "2026-11-27T18:00:00+00:00",
        "validator_hotkey": VALIDATOR,
        "expected_miner_hotkey": hotkey,
    }})
}

pub(crate) async fn job(m: &MinerInfo, path: &str, job_id: &str) -> (StatusCode, Value) {
    post(m, path, json!({"nonce": null, "data": {"job_id": job_id}})).await
}

pub(crate) async fn get(url: &str, token: Option<&str>) -> reqwest::Response {
    let mut r = reqwest::Client::new().get(url);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap()
}

/// Run the validator's blocking manifest fetch + verification.
pub(crate) async fn verify_remote(
    url: String,
    token: String,
    claimed: String,
    hotkey: String,
) -> Result<VerifyManifestReport, VerifyError> {
    tokio::task::spawn_blocking(move || {
        fetch_and_verify_manifest(&RemoteManifestRequest {
            store_url: url,
            bearer_token: Some(token),
            claimed_hash: claimed,
            miner_hotkey_ss58: hotkey,
            require_sha256: true,
            timeout_seconds: Some(10),
        })
    })
    .await
    .unwrap()
}

/// Open the store over HTTP with verify-on-read and read `var` at time index `t`.
pub(crate) async fn read_verified(
    url: String,
    token: String,
    frozen: FrozenManifest,
    var: &'static str,
    t: usize,
) -> Result<f64, ZarrError> {
    tokio::task::spawn_blocking(move || {
        let opts = OpenOptions {
            bearer_token: Some(token),
            verify: Some(frozen),
            ..OpenOptions::default()
        };
        let ds = Dataset::open(&url, &opts)?;
        Ok(ds.read_field(var, t, None)?.values[[0, 0]])
    })
    .await
    .unwrap()
}

pub(crate) async fn kerchunk_grant(m: &MinerInfo, job_id: &str) -> (String, String, String) {
    let (status, k) = job(m, "/weather-kerchunk-request", job_id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(k["status"], "completed", "{k}");
    (
        format!("{}{}", base(m), k["zarr_store_url"].as_str().unwrap()),
        k["verification_hash"].as_str().unwrap().to_owned(),
        k["access_token"].as_str().unwrap().to_owned(),
    )
}
