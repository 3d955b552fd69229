//! The validator's miner client against real simulated miners over loopback HTTP: the happy path
//! from initiate-fetch to a checked store location, the SSRF policy on a loopback miner, an
//! offline miner, a lying miner's hash passed through for verification, and bounded answers.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use gaia_miner_sim::{Behaviour, Fleet, FleetConfig, MinerInfo, MinerSpec, World, WorldConfig};
use gaia_validator::miners::client::{MinerClient, MinerError, PlainJsonTransport};
use gaia_validator::miners::url_policy::{MinerAddress, UrlPolicy, UrlRefusal};

const VALIDATOR: &str = "5CiPPseXPECbkjWCa6MnjNokrgYjMqmKndv2rSnekmSK2DjL";

fn addr(m: &MinerInfo) -> MinerAddress {
    MinerAddress {
        ip: m.ip.parse().unwrap(),
        port: m.port,
        scheme: "http",
    }
}

async fn fleet(behaviours: &[Behaviour]) -> (Fleet, DateTime<Utc>) {
    let world = Arc::new(
        World::new(WorldConfig {
            seed: 5,
            grid_deg: 20.0,
        })
        .unwrap(),
    );
    let gfs_init: DateTime<Utc> = "2026-11-28T00:00:00Z".parse().unwrap();
    let miners = behaviours
        .iter()
        .enumerate()
        .map(|(i, b)| MinerSpec {
            uid: i as u16,
            behaviour: *b,
        })
        .collect();
    let fleet = Fleet::start(FleetConfig::new(world, gfs_init, miners))
        .await
        .unwrap();
    (fleet, gfs_init)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_initiate_fetch_to_a_checked_store_location() {
    let (fleet, gfs_init) = fleet(&[
        Behaviour::Honest { skill: 0.9 },
        Behaviour::Offline,
        Behaviour::LyingHash,
    ])
    .await;
    let client = MinerClient::new(
        PlainJsonTransport::new().unwrap(),
        UrlPolicy {
            allow_private: true,
        },
    );
    let honest = &fleet.miners()[0];
    let a = client
        .initiate_fetch(&addr(honest), gfs_init, VALIDATOR, &honest.hotkey)
        .await
        .unwrap();
    let job_id = a.job_id.clone().expect("job id");
    assert_eq!(Some(job_id.clone()), honest.job_id, "deterministic job id");
    assert!(
        matches!(a.status.as_deref(), Some("fetch_accepted" | "completed")),
        "{a:?}"
    );
    let p = client.poll(&addr(honest), &job_id).await.unwrap();
    assert_eq!(p.status.as_deref(), Some("completed"), "{p:?}");
    let k = client.kerchunk(&addr(honest), &job_id).await.unwrap();
    let loc = client.store_location(&addr(honest), &k).unwrap();
    assert!(
        loc.url
            .starts_with(&format!("http://127.0.0.1:{}/forecasts/", honest.port)),
        "{}",
        loc.url
    );
    assert_eq!(Some(loc.claimed_hash.clone()), honest.manifest_hash);

    // The same loopback miner under the production policy is refused before any request.
    let strict = MinerClient::new(PlainJsonTransport::new().unwrap(), UrlPolicy::default());
    match strict
        .initiate_fetch(&addr(honest), gfs_init, VALIDATOR, &honest.hotkey)
        .await
    {
        Err(MinerError::Refused(UrlRefusal::NonPublicAddress(_))) => {}
        other => panic!("expected a refusal, got {other:?}"),
    }

    // Offline: a transport error, quickly.
    let offline = &fleet.miners()[1];
    match client
        .initiate_fetch(&addr(offline), gfs_init, VALIDATOR, &offline.hotkey)
        .await
    {
        Err(MinerError::Transport { .. }) => {}
        other => panic!("expected a transport error, got {other:?}"),
    }

    // The liar's claimed hash is passed on untouched: verification (not the client) rejects it.
    let liar = &fleet.miners()[2];
    let a = client
        .initiate_fetch(&addr(liar), gfs_init, VALIDATOR, &liar.hotkey)
        .await
        .unwrap();
    let k = client
        .kerchunk(&addr(liar), a.job_id.as_deref().unwrap())
        .await
        .unwrap();
    let loc = client.store_location(&addr(liar), &k).unwrap();
    assert_ne!(Some(loc.claimed_hash), liar.manifest_hash);

    // A wrong expected hotkey is the miner's to reject; unknown jobs are `not_found`.
    let p = client.poll(&addr(honest), "no-such-job").await.unwrap();
    assert_eq!(p.status.as_deref(), Some("not_found"));
    fleet.stop().await;
}

#[tokio::test]
async fn incomplete_or_foreign_answers_are_refused() {
    use gaia_validator::miners::client::KerchunkAnswer;
    let client = MinerClient::new(PlainJsonTransport::new().unwrap(), UrlPolicy::default());
    let m = MinerAddress {
        ip: "81.2.69.7".parse().unwrap(),
        port: 8091,
        scheme: "https",
    };
    let good_hash = "ab".repeat(32);
    let answer = |url: Option<&str>, hash: Option<&str>, token: Option<&str>| KerchunkAnswer {
        status: Some("completed".into()),
        zarr_store_url: url.map(Into::into),
        verification_hash: hash.map(Into::into),
        access_token: token.map(Into::into),
        ..Default::default()
    };
    assert!(matches!(
        client.store_location(&m, &answer(None, Some(&good_hash), Some("t"))),
        Err(MinerError::Incomplete("zarr_store_url"))
    ));
    assert!(matches!(
        client.store_location(&m, &answer(Some("/forecasts/a.zarr"), None, Some("t"))),
        Err(MinerError::Incomplete("verification_hash"))
    ));
    assert!(matches!(
        client.store_location(
            &m,
            &answer(Some("/forecasts/a.zarr"), Some(&good_hash), None)
        ),
        Err(MinerError::Incomplete("access_token"))
    ));
    assert!(matches!(
        client.store_location(
            &m,
            &answer(Some("/forecasts/a.zarr"), Some("xyz"), Some("t"))
        ),
        Err(MinerError::Malformed { .. })
    ));
    let foreign = client.store_location(
        &m,
        &answer(
            Some("https://10.0.0.5:8091/forecasts/a.zarr"),
            Some(&good_hash),
            Some("t"),
        ),
    );
    match foreign {
        Err(MinerError::Refused(r)) => assert!(
            r.to_string()
                .contains("not at the miner's registered address"),
            "{r}"
        ),
        other => panic!("{other:?}"),
    }
    let ok = client
        .store_location(
            &m,
            &answer(Some("/forecasts/a.zarr"), Some(&good_hash), Some("t")),
        )
        .unwrap();
    assert_eq!(ok.url, "https://81.2.69.7:8091/forecasts/a.zarr");
}
