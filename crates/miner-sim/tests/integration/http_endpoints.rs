//! The simulated miners' endpoints over real loopback HTTP (reqwest): the honest exchange end
//! to end, bad input, access tokens and path confinement, and the validator allow-list.

use crate::common::*;
use chrono::{TimeDelta, Utc};
use gaia_miner_sim::{jwt, Behaviour};
use gaia_protocol::weather_job_id;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn honest_miner_full_exchange() {
    let f = fleet(&[(1, Behaviour::Honest { skill: 0.9 })], None).await;
    let m = f.miner(1).unwrap().clone();
    let (status, r) = post(&m, "/weather-initiate-fetch", initiate_body(&m.hotkey)).await;
    assert_eq!(status, StatusCode::OK);
    let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 8, "every key present: {r}");
    assert_eq!(r["status"], "fetch_accepted");
    assert!(r["access_token"].is_null() && r["actual_hotkey"].is_null());
    let job_id = r["job_id"].as_str().unwrap().to_owned();
    assert_eq!(job_id, weather_job_id(gfs_init(), &m.hotkey));
    assert_eq!(Some(&job_id), m.job_id.as_ref());

    let (_, p) = job(&m, "/weather-poll-job-status", &job_id).await;
    assert_eq!(
        p,
        json!({"status": "completed", "job_id": job_id, "message": "Forecast ready", "output_ready": true})
    );
    let (url, claimed, token) = kerchunk_grant(&m, &job_id).await;
    assert!(url.contains("/forecasts/weather_forecast_2026112800_miner_hk_"));
    assert_eq!(Some(&claimed), m.manifest_hash.as_ref());
    let claims = jwt::validate(f.core(1).unwrap().jwt_secret(), &token).unwrap();
    assert_eq!(claims.job_id, job_id);
    assert!(url.ends_with(&claims.file_path));

    // Fast path on a second initiate.
    let (_, again) = post(&m, "/weather-initiate-fetch", initiate_body(&m.hotkey)).await;
    assert_eq!(again["status"], "completed");
    assert_eq!(again["verification_hash"], claimed.as_str());
    assert!(again["access_token"].is_string());

    // Manifest verifies exactly as the validator checks it; the store reads with verify-on-read.
    let report = verify_remote(
        url.clone(),
        token.clone(),
        claimed.clone(),
        m.hotkey.clone(),
    )
    .await
    .unwrap();
    let v = read_verified(url.clone(), token.clone(), report.frozen.clone(), "2t", 1)
        .await
        .unwrap();
    assert!((150.0..350.0).contains(&v));

    // Listing, HEAD, query-string token, missing file.
    let listing: Value = get(&url, Some(&token)).await.json().await.unwrap();
    let files: Vec<&str> = listing["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    for want in [
        ".zmetadata",
        ".zgroup",
        "manifest.json",
        "manifest.sig",
        "2t",
        "plev",
    ] {
        assert!(files.contains(&want), "{want} in {files:?}");
    }
    let sub: Value = get(&format!("{url}/2t/"), Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert!(sub["files"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x == "1.0.0"));
    let head = reqwest::Client::new()
        .head(format!("{url}/manifest.sig"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    let len = head
        .headers()
        .get("content-length")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(len.as_deref(), Some("64"));
    assert!(head.bytes().await.unwrap().is_empty());
    let q = get(&format!("{url}/.zgroup?token={token}"), None).await;
    assert_eq!(q.status(), StatusCode::OK);
    let raw = reqwest::Client::new()
        .get(format!("{url}/.zgroup"))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::OK);
    assert_eq!(
        get(&format!("{url}/2t/99.0.0"), Some(&token))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    f.stop().await;
}

#[tokio::test]
async fn bad_requests_are_refused_with_named_statuses() {
    let f = fleet(
        &[
            (1, Behaviour::Honest { skill: 0.8 }),
            (2, Behaviour::Honest { skill: 0.8 }),
        ],
        None,
    )
    .await;
    let m = f.miner(1).unwrap().clone();
    let other = f.miner(2).unwrap().clone();
    let client = reqwest::Client::new();
    // Malformed JSON, missing data, bad datetime.
    let r = client
        .post(format!("{}/weather-initiate-fetch", base(&m)))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "Invalid request payload");
    let (s, _) = post(&m, "/weather-poll-job-status", json!({"nonce": "x"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let mut bad_time = initiate_body(&m.hotkey);
    bad_time["data"]["forecast_start_time"] = json!("yesterday");
    assert_eq!(
        post(&m, "/weather-initiate-fetch", bad_time).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // Wrong hotkey.
    let (s, r) = post(&m, "/weather-initiate-fetch", initiate_body(&other.hotkey)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["status"], "fetch_rejected");
    assert_eq!(r["expected_hotkey"], other.hotkey.as_str());
    assert_eq!(r["actual_hotkey"], m.hotkey.as_str());
    assert!(r["job_id"].is_null());
    // Empty and unknown job ids.
    let (s, r) = job(&m, "/weather-poll-job-status", "").await;
    assert_eq!(
        (s, r["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Missing job_id in request"))
    );
    assert_eq!(
        job(&m, "/weather-kerchunk-request", " ").await.0,
        StatusCode::BAD_REQUEST
    );
    let (_, r) = job(&m, "/weather-poll-job-status", "nope").await;
    assert_eq!(
        r,
        json!({"status": "not_found", "job_id": "nope", "message": "Job not found"})
    );
    let (_, r) = job(&m, "/weather-kerchunk-request", "nope").await;
    assert_eq!(r["status"], "not_found");
    assert_eq!(r.as_object().unwrap().len(), 5);
    assert!(r["zarr_store_url"].is_null());

    // Tokens and paths.
    let (_, r) = post(&m, "/weather-initiate-fetch", initiate_body(&m.hotkey)).await;
    let job_id = r["job_id"].as_str().unwrap().to_owned();
    let (url, _, token) = kerchunk_grant(&m, &job_id).await;
    let manifest = format!("{url}/manifest.json");
    assert_eq!(
        get(&manifest, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&manifest, Some("garbage")).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let secret = f.core(1).unwrap().jwt_secret().to_vec();
    let dir_name = url.rsplit('/').next().unwrap().to_owned();
    let expired = jwt::issue(
        &secret,
        &job_id,
        &dir_name,
        Utc::now() - TimeDelta::seconds(10),
    )
    .unwrap();
    let r = get(&manifest, Some(&expired)).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.json::<Value>().await.unwrap()["detail"],
        "Token has expired"
    );
    let foreign = jwt::issue(
        b"someone else",
        &job_id,
        &dir_name,
        Utc::now() + TimeDelta::minutes(5),
    )
    .unwrap();
    assert_eq!(
        get(&manifest, Some(&foreign)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let other_dir = jwt::issue(
        &secret,
        &job_id,
        "other.zarr",
        Utc::now() + TimeDelta::minutes(5),
    )
    .unwrap();
    assert_eq!(
        get(&manifest, Some(&other_dir)).await.status(),
        StatusCode::FORBIDDEN
    );
    let encoded = format!("{url}%2F..%2F..%2Fminer_2%2Fx");
    assert_eq!(
        get(&encoded, Some(&token)).await.status(),
        StatusCode::FORBIDDEN
    );
    // A literal `..` segment (reqwest would normalise it away, so speak HTTP by hand).
    let mut s = tokio::net::TcpStream::connect((m.ip.as_str(), m.port))
        .await
        .unwrap();
    let req = format!(
        "GET /forecasts/{dir_name}/../{dir_name}/manifest.json HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).await.unwrap();
    assert!(resp.starts_with("HTTP/1.1 403"), "{resp}");
    f.stop().await;
}

#[tokio::test]
async fn validator_allow_list_is_enforced() {
    let f = fleet(
        &[(1, Behaviour::Honest { skill: 0.8 })],
        Some(vec![VALIDATOR.into()]),
    )
    .await;
    let m = f.miner(1).unwrap().clone();
    let mut body = initiate_body(&m.hotkey);
    assert_eq!(
        post(&m, "/weather-initiate-fetch", body.clone()).await.0,
        StatusCode::OK
    );
    body["data"]["validator_hotkey"] = json!("5GU2wYArpfPATbMJvm7WGM5wJqyWdWiZdn7Jo1GoQ4ixmrAo");
    let (s, r) = post(&m, "/weather-initiate-fetch", body).await;
    assert_eq!(
        (s, r["detail"].as_str()),
        (StatusCode::FORBIDDEN, Some("Hotkey not found in metagraph"))
    );
    let r = reqwest::Client::new()
        .post(format!("{}/weather-poll-job-status", base(&m)))
        .header("validator-hotkey", "5Stranger")
        .json(&json!({"data": {"job_id": "x"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    f.stop().await;
}
