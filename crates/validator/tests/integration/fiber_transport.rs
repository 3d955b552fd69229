//! The fiber transport end to end on loopback: `MinerClient<FiberTransport>` against simulated
//! miners speaking fiber (handshake, encrypted initiate-fetch / poll / kerchunk, key cache,
//! one re-handshake after a miner restart), the fixed request of miner-protocol.md §8.7 and the
//! RSA-OAEP exchange checked at the miner, the miner's refusals (§5, §6), and hostile miners —
//! garbage answers, a wrong key id, an expired nonce, a replayed request, a miner that never
//! answers — each ending in its named error within a bound; and HTTPS through a TLS front with a
//! self-signed certificate, as real miners run behind nginx.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use gaia_miner_sim::fiber::rsa_key_for;
use gaia_miner_sim::{
    Behaviour, FiberMiner, FiberRejection, Fleet, FleetConfig, MinerInfo, MinerSpec, Transport,
    World, WorldConfig,
};
use gaia_validator::miners::client::{MinerClient, MinerError, PlainJsonTransport};
use gaia_validator::miners::fiber::wire::{
    self, encrypt_symmetric_key, parse_public_key, system_unix_ns, SignedHeaders, SymmetricKey,
};
use gaia_validator::miners::fiber::{
    dev_validator_signer, FiberError, FiberOptions, FiberTransport, MinerDirectory, NonceSource,
};
use gaia_validator::miners::url_policy::{MinerAddress, UrlPolicy};
use rsa::traits::PublicKeyParts as _;
use rsa::{BigUint, Oaep, Pkcs1v15Encrypt};
use serde_json::{json, Value};

// miner-protocol.md §8.
const VALIDATOR_SS58: &str = "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV";
const MINER_SS58: &str = "5GU2wYArpfPATbMJvm7WGM5wJqyWdWiZdn7Jo1GoQ4ixmrAo";
const KEY_ID: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const NONCE: &str = "1732780800123456789_AbCdEfGhIj";
const PYTHON_SIG: &str = "0xa819f332ddb508112d7a4c913dbe51b2ff63bc6c73a74170d8ae256ebf082e419ab1ab2ab6f464d62941d34e42dee01c2074666efdab10dd67b490756d68a98a";
const TOKEN: &str = "gAAAAABnSCMAAAECAwQFBgcICQoLDA0OD4NAWJbnhQDKa_yiBCKsNKXnZZhVSbTyPuBukrlDWZnc3SsaXZzt8WXMc0J1gxG4QLOukegxQp8pWRq2fr7l2ODY4NCoCKBc3wHc8kDneRbZAxaWyeusuUrObU-fF6evpH2qF21G7bS0u-Sg6eDtxkvPQYxH7o5xgnephoT_MhmEvQNRBXhr9YUZf_3HFNkHFw==";

/// Generous bound for a failing call whose steps are capped at 1 s.
const BOUND: Duration = Duration::from_secs(6);

fn key_bytes() -> [u8; 32] {
    std::array::from_fn(|i| i as u8)
}

fn addr(m: &MinerInfo) -> MinerAddress {
    MinerAddress {
        ip: m.ip.parse().unwrap(),
        port: m.port,
        scheme: "http",
    }
}

fn loopback(a: SocketAddr) -> MinerAddress {
    MinerAddress {
        ip: a.ip(),
        port: a.port(),
        scheme: "http",
    }
}

async fn fleet(behaviours: &[Behaviour], transport: Transport) -> (Fleet, DateTime<Utc>) {
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
    let mut cfg = FleetConfig::new(world, gfs_init, miners);
    cfg.transport = transport;
    (Fleet::start(cfg).await.unwrap(), gfs_init)
}

fn quick_options() -> FiberOptions {
    FiberOptions {
        post_timeout: Duration::from_secs(1),
        handshake_timeout_cap: Some(Duration::from_secs(1)),
        ..FiberOptions::default()
    }
}

fn transport(options: FiberOptions) -> FiberTransport {
    FiberTransport::new(
        Arc::new(dev_validator_signer()),
        Arc::new(MinerDirectory::default()),
        options,
    )
    .unwrap()
}

fn client(t: FiberTransport) -> MinerClient<FiberTransport> {
    MinerClient::new(
        t,
        UrlPolicy {
            allow_private: true,
        },
    )
}

fn register(t: &FiberTransport, fleet: &Fleet) {
    for m in fleet.miners() {
        t.directory().set(&addr(m), &m.hotkey);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_then_encrypted_initiate_poll_kerchunk() {
    let (fleet, gfs_init) = fleet(
        &[
            Behaviour::Honest { skill: 0.9 },
            Behaviour::Slow { polls: 1 },
        ],
        Transport::default(),
    )
    .await;
    let t = transport(FiberOptions::default());
    register(&t, &fleet);
    let c = client(t);
    let validator = dev_validator_signer().ss58();
    for m in fleet.miners() {
        let a = c
            .initiate_fetch(&addr(m), gfs_init, &validator, &m.hotkey)
            .await
            .unwrap();
        let job = a.job_id.clone().expect("job id");
        assert_eq!(Some(job.clone()), m.job_id);
        let mut polls = 0;
        loop {
            polls += 1;
            let p = c.poll(&addr(m), &job).await.unwrap();
            if p.status.as_deref() == Some("completed") {
                break;
            }
            assert_eq!(p.status.as_deref(), Some("processing"), "{p:?}");
            assert!(polls < 5);
        }
        let k = c.kerchunk(&addr(m), &job).await.unwrap();
        let loc = c.store_location(&addr(m), &k).unwrap();
        assert_eq!(Some(loc.claimed_hash.clone()), m.manifest_hash);
        // The store is read outside fiber, with the Bearer token (§7.4).
        let manifest = reqwest::Client::new()
            .get(format!("{}/manifest.json", loc.url))
            .bearer_auth(&loc.token)
            .send()
            .await
            .unwrap();
        assert_eq!(manifest.status(), 200);
        let f = fleet.fiber(m.uid).unwrap();
        assert_eq!(f.handshakes(), 1, "one key for every call to this miner");
        assert_eq!(f.accepted(), 2 + polls);
        assert!(f.rejections().is_empty(), "{:?}", f.rejections());
    }
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miner_restart_costs_exactly_one_rehandshake() {
    let (fleet, _) = fleet(&[Behaviour::Honest { skill: 0.8 }], Transport::FiberOnly).await;
    let m = &fleet.miners()[0];
    let t = transport(FiberOptions::default());
    register(&t, &fleet);
    let job = m.job_id.clone().unwrap();
    let data = json!({ "job_id": job });
    let first = t
        .request(
            &addr(m),
            "/weather-poll-job-status",
            data.clone(),
            Duration::from_secs(15),
        )
        .await
        .unwrap();
    // Not initiated by this validator yet: the miner answers not_found.
    assert_eq!(first["status"], "not_found");
    let f = fleet.fiber(0).unwrap();
    f.forget_keys(); // the miner crashed and came back without its keys
    let again = t
        .request(
            &addr(m),
            "/weather-poll-job-status",
            data,
            Duration::from_secs(15),
        )
        .await
        .unwrap();
    assert_eq!(again["status"], "not_found");
    let c = t.counters();
    assert_eq!((c.handshakes, c.retries, c.posts), (2, 1, 3));
    assert_eq!(f.rejections(), vec![FiberRejection::NoSymmetricKey]);
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transports_of_the_fleet() {
    // Fiber only, as the real miner: plain JSON is refused with FastAPI's 422.
    let (only, _) = fleet(&[Behaviour::Honest { skill: 0.8 }], Transport::FiberOnly).await;
    let m = &only.miners()[0];
    let plain = MinerClient::new(
        PlainJsonTransport::new().unwrap(),
        UrlPolicy {
            allow_private: true,
        },
    );
    match plain.poll(&addr(m), m.job_id.as_deref().unwrap()).await {
        Err(MinerError::Status { status: 422, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(
        only.fiber(0).unwrap().rejections(),
        vec![FiberRejection::MissingHeader]
    );
    only.stop().await;
    // Plain: no handshake route; plain JSON works.
    let (p, _) = fleet(&[Behaviour::Honest { skill: 0.8 }], Transport::Plain).await;
    let m = &p.miners()[0];
    assert!(p.fiber(0).is_none());
    let ok = plain
        .poll(&addr(m), m.job_id.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(ok.status.as_deref(), Some("not_found"));
    let t = transport(quick_options());
    register(&t, &p);
    match t
        .request(
            &addr(m),
            "/weather-poll-job-status",
            json!({"job_id": "x"}),
            Duration::from_secs(15),
        )
        .await
    {
        Err(FiberError::Status { status: 404, .. }) => {}
        other => panic!("{other:?}"),
    }
    p.stop().await;
    // Default (fiber): both on the same server.
    let (both, _) = fleet(&[Behaviour::Honest { skill: 0.8 }], Transport::default()).await;
    let m = &both.miners()[0];
    let ok = plain
        .poll(&addr(m), m.job_id.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(ok.status.as_deref(), Some("not_found"));
    register(&t, &both);
    let v = t
        .request(
            &addr(m),
            "/weather-poll-job-status",
            json!({"job_id": m.job_id}),
            Duration::from_secs(15),
        )
        .await
        .unwrap();
    assert_eq!(v["status"], "not_found");
    both.stop().await;
}

/// Send a fiber request by hand.
async fn raw_post(
    base: &str,
    path: &str,
    headers: &[(&str, &str)],
    content_type: &str,
    body: &str,
) -> (u16, Value) {
    let mut r = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("content-type", content_type)
        .body(body.to_owned());
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_complete_request_of_section_8_7_and_its_replay() {
    let (fleet, _) = fleet(&[Behaviour::Honest { skill: 0.8 }], Transport::FiberOnly).await;
    let m = &fleet.miners()[0];
    let base = addr(m).base_url();
    let f = fleet.fiber(0).unwrap();
    // A stub miner with an injected clock, holding the key of §8.6 under the key id of §8.3.
    f.set_clock(Some(1_732_780_800_200_000_000));
    f.install_key(VALIDATOR_SS58, KEY_ID, &key_bytes());
    let fixed = [
        ("symmetric-key-uuid", KEY_ID),
        ("validator-hotkey", VALIDATOR_SS58),
        ("miner-hotkey", MINER_SS58),
        ("nonce", NONCE),
        ("signature", PYTHON_SIG),
    ];
    let path = "/weather-poll-job-status";
    let (status, body) = raw_post(&base, path, &fixed, "application/octet-stream", TOKEN).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "not_found");
    assert_eq!(body["job_id"], "3f1c2a9e-5b7d-4c2e-9a1b-0d4e6f8a2b3c");
    // The same bytes again: a replay.
    let (status, body) = raw_post(&base, path, &fixed, "application/octet-stream", TOKEN).await;
    assert_eq!(
        (status, body),
        (401, json!({"detail": "Oi, that nonce is not valid!"}))
    );
    assert_eq!(f.rejections(), vec![FiberRejection::NonceReplayed]);

    // Our signer builds the same header set (the signature is randomised, so only its form
    // and validity are fixed), and the miner accepts it.
    let ours = SignedHeaders::sign(
        &dev_validator_signer(),
        MINER_SS58,
        KEY_ID,
        "1732780800123456790_AbCdEfGhIj",
    );
    assert_eq!(ours.validator_hotkey, VALIDATOR_SS58);
    assert_eq!(ours.signature.len(), 130);
    let (status, body) = raw_post(
        &base,
        path,
        &ours.pairs(),
        "application/octet-stream",
        TOKEN,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // 121 s later the same kind of request is stale.
    f.set_clock(Some(1_732_780_800_123_456_790 + 121_000_000_000));
    let stale = SignedHeaders::sign(
        &dev_validator_signer(),
        MINER_SS58,
        KEY_ID,
        "1732780800123456791_AbCdEfGhIj",
    );
    let (status, _) = raw_post(
        &base,
        path,
        &stale.pairs(),
        "application/octet-stream",
        TOKEN,
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(f.rejections().last(), Some(&FiberRejection::NonceExpired));
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miner_checks_in_the_python_order() {
    let (fleet, _) = fleet(&[Behaviour::Honest { skill: 0.8 }], Transport::FiberOnly).await;
    let m = &fleet.miners()[0];
    let base = addr(m).base_url();
    let f = fleet.fiber(0).unwrap();
    let signer = dev_validator_signer();
    let path = "/weather-poll-job-status";
    let fresh = |key_id: &str| {
        SignedHeaders::sign(
            &signer,
            &m.hotkey,
            key_id,
            &wire::nonce_at(system_unix_ns()),
        )
    };

    // Public key: SubjectPublicKeyInfo PEM, 64-char lines, RSA-2048, e = 65537 (§2.1).
    let pk: Value = reqwest::get(format!("{base}/public-encryption-key"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pem = pk["public_key"].as_str().unwrap();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    assert!(pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .all(|l| l.len() <= 64));
    assert!(pk["timestamp"].as_f64().unwrap() > 1.7e9);
    let public = parse_public_key(pem).unwrap();
    assert_eq!(public.size(), 256);
    assert_eq!(public.e(), &BigUint::from(65_537u32));

    // Exchange: our RSA-OAEP-SHA256 ciphertext (344 standard base64 chars) is accepted.
    let key = SymmetricKey::from_bytes(key_bytes());
    let ct = encrypt_symmetric_key(&public, &key).unwrap();
    assert_eq!(ct.len(), 344);
    let h = fresh(KEY_ID);
    let body = json!({ "encrypted_symmetric_key": ct }).to_string();
    let (status, answer) = raw_post(
        &base,
        "/exchange-symmetric-key",
        &h.pairs(),
        "application/json",
        &body,
    )
    .await;
    assert_eq!(
        (status, answer),
        (
            200,
            json!({"status": "Symmetric key exchanged successfully"})
        )
    );
    assert_eq!(f.handshakes(), 1);
    // ... the §8.6 token now decrypts at the miner under that key.
    let (status, answer) = raw_post(
        &base,
        path,
        &fresh(KEY_ID).pairs(),
        "application/octet-stream",
        TOKEN,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    // Other paddings and hashes are refused with 401 (the OAEP-SHA1 case of §8.5).
    let mut rng = rsa::rand_core::OsRng;
    for wrong in [
        public
            .encrypt(&mut rng, Oaep::new::<rsa::sha2::Sha512>(), &key_bytes())
            .unwrap(),
        public
            .encrypt(&mut rng, Pkcs1v15Encrypt, &key_bytes())
            .unwrap(),
    ] {
        let body = json!({ "encrypted_symmetric_key": STANDARD.encode(wrong) }).to_string();
        let (status, answer) = raw_post(
            &base,
            "/exchange-symmetric-key",
            &fresh(KEY_ID).pairs(),
            "application/json",
            &body,
        )
        .await;
        assert_eq!(
            (status, answer),
            (
                401,
                json!({"detail": "Oi, I can't decrypt that symmetric key, sorry"})
            )
        );
    }
    // A non-JSON content type on the exchange: 422.
    let (status, _) = raw_post(
        &base,
        "/exchange-symmetric-key",
        &fresh(KEY_ID).pairs(),
        "application/octet-stream",
        &body,
    )
    .await;
    assert_eq!(status, 422);
    // Missing header: 422 naming it.
    let h = fresh(KEY_ID);
    let without: Vec<_> = h
        .pairs()
        .into_iter()
        .filter(|(n, _)| *n != "miner-hotkey")
        .collect();
    let (status, answer) = raw_post(&base, path, &without, "application/octet-stream", TOKEN).await;
    assert_eq!(status, 422);
    assert_eq!(
        answer["detail"][0]["loc"],
        json!(["header", "miner-hotkey"])
    );
    // Signature without 0x: 500 (fiber raises a TypeError); a wrong signature: 401.
    let h = fresh(KEY_ID);
    let no_prefix = h.signature.trim_start_matches("0x").to_owned();
    let mut pairs = h.pairs();
    pairs[4].1 = &no_prefix;
    let (status, _) = raw_post(&base, path, &pairs, "application/octet-stream", TOKEN).await;
    assert_eq!(status, 500);
    let h = fresh(KEY_ID);
    let other = fresh(KEY_ID);
    let mut pairs = h.pairs();
    pairs[4].1 = &other.signature; // signs another nonce
    let (status, answer) = raw_post(&base, path, &pairs, "application/octet-stream", TOKEN).await;
    assert_eq!(
        (status, answer["detail"].as_str()),
        (
            401,
            Some("Oi, invalid signature, you're not who you said you were!")
        )
    );
    // Unknown key id: 400; garbage and unpadded tokens: 500.
    let (status, answer) = raw_post(
        &base,
        path,
        &fresh(&"ab".repeat(32)).pairs(),
        "application/octet-stream",
        TOKEN,
    )
    .await;
    assert_eq!(
        (status, answer),
        (
            400,
            json!({"detail": "No symmetric key found for that hotkey and uuid"})
        )
    );
    let (status, _) = raw_post(
        &base,
        path,
        &fresh(KEY_ID).pairs(),
        "application/octet-stream",
        "garbage!",
    )
    .await;
    assert_eq!(status, 500);
    let (status, _) = raw_post(
        &base,
        path,
        &fresh(KEY_ID).pairs(),
        "application/octet-stream",
        TOKEN.trim_end_matches('='),
    )
    .await;
    assert_eq!(status, 500);
    // A valid token of a non-JSON plaintext: 500.
    let token = key.fernet().encrypt(b"not json");
    let (status, _) = raw_post(
        &base,
        path,
        &fresh(KEY_ID).pairs(),
        "application/octet-stream",
        &token,
    )
    .await;
    assert_eq!(status, 500);
    use FiberRejection as R;
    assert_eq!(
        f.rejections(),
        vec![
            R::KeyUndecryptable,
            R::KeyUndecryptable,
            R::BadExchangeBody,
            R::MissingHeader,
            R::SignatureFormat,
            R::BadSignature,
            R::NoSymmetricKey,
            R::BadToken,
            R::BadToken,
            R::BadPayload,
        ]
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_list_is_the_metagraph_check() {
    let world = Arc::new(
        World::new(WorldConfig {
            seed: 5,
            grid_deg: 20.0,
        })
        .unwrap(),
    );
    let mut cfg = FleetConfig::new(
        world,
        "2026-11-28T00:00:00Z".parse().unwrap(),
        vec![MinerSpec {
            uid: 0,
            behaviour: Behaviour::Honest { skill: 0.8 },
        }],
    );
    cfg.allowed_validators = Some(vec![MINER_SS58.to_owned()]);
    let fleet = Fleet::start(cfg).await.unwrap();
    let t = transport(quick_options());
    register(&t, &fleet);
    let m = &fleet.miners()[0];
    match t
        .request(
            &addr(m),
            "/weather-poll-job-status",
            json!({"job_id": "x"}),
            Duration::from_secs(15),
        )
        .await
    {
        Err(FiberError::Forbidden { detail, .. }) => {
            assert_eq!(detail, "Hotkey not found in metagraph")
        }
        other => panic!("{other:?}"),
    }
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_future_nonces_are_named_and_bounded() {
    let (fleet, _) = fleet(&[Behaviour::Honest { skill: 0.8 }], Transport::FiberOnly).await;
    let m = &fleet.miners()[0];
    let f = fleet.fiber(0).unwrap();
    let offset_s = Arc::new(AtomicI64::new(0));
    let o = Arc::clone(&offset_s);
    let options = FiberOptions {
        clock: Arc::new(move || {
            let shift = i128::from(o.load(Ordering::SeqCst)) * 1_000_000_000;
            (system_unix_ns() as i128 + shift) as u128
        }),
        ..quick_options()
    };
    let t = transport(options);
    register(&t, &fleet);
    let data = json!({"job_id": m.job_id});
    let path = "/weather-poll-job-status";
    t.request(&addr(m), path, data.clone(), Duration::from_secs(15))
        .await
        .unwrap();
    // The validator clock falls 121 s behind: the encrypted POST is refused, retried once with a
    // fresh nonce, refused again → NonceRefused.
    offset_s.store(-121, Ordering::SeqCst);
    let start = Instant::now();
    match t
        .request(&addr(m), path, data.clone(), Duration::from_secs(15))
        .await
    {
        Err(FiberError::NonceRefused { endpoint }) => assert_eq!(endpoint, path),
        other => panic!("{other:?}"),
    }
    assert!(start.elapsed() < BOUND);
    assert_eq!(f.rejections(), vec![FiberRejection::NonceExpired; 2]);
    assert_eq!(t.counters().retries, 1);
    // 121 s ahead, on a fresh miner key (handshake refused): named at the exchange.
    offset_s.store(121, Ordering::SeqCst);
    t.forget_keys();
    match t
        .request(&addr(m), path, data.clone(), Duration::from_secs(15))
        .await
    {
        Err(FiberError::NonceRefused { endpoint }) => {
            assert_eq!(endpoint, "/exchange-symmetric-key")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(f.rejections().last(), Some(&FiberRejection::NonceFuture));
    // Through the client the name survives in the error text.
    let c = client(t);
    match c.poll(&addr(m), m.job_id.as_deref().unwrap()).await {
        Err(MinerError::Transport { reason, .. }) => {
            assert!(reason.contains("nonce refused"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaying_client_is_refused_by_the_miner() {
    let (fleet, _) = fleet(&[Behaviour::Honest { skill: 0.8 }], Transport::FiberOnly).await;
    let m = &fleet.miners()[0];
    let f = fleet.fiber(0).unwrap();
    // Every request reuses one nonce: the exchange passes, the encrypted POST is a replay.
    let options = FiberOptions {
        nonces: NonceSource::Fixed(wire::nonce_at(system_unix_ns())),
        ..quick_options()
    };
    let t = transport(options);
    register(&t, &fleet);
    let start = Instant::now();
    match t
        .request(
            &addr(m),
            "/weather-poll-job-status",
            json!({"job_id": m.job_id}),
            Duration::from_secs(15),
        )
        .await
    {
        Err(FiberError::NonceRefused { .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(start.elapsed() < BOUND);
    assert_eq!(f.handshakes(), 1);
    assert_eq!(f.rejections(), vec![FiberRejection::NonceReplayed; 2]);
    fleet.stop().await;
}

/// What a hostile stub miner does on the encrypted POST (its handshake is valid).
#[derive(Clone, Copy)]
enum Hostile {
    /// `200` with a non-JSON body.
    Garbage,
    /// `400 No symmetric key found…` whatever the key id.
    NoKey,
    /// Accepts and never answers.
    Hang,
    /// Garbage instead of the public key.
    GarbageKey,
    /// A PEM that is not an RSA key of an accepted size.
    SmallKey,
}

async fn hostile(kind: Hostile) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let pem = FiberMiner::new(rsa_key_for(900).unwrap())
        .unwrap()
        .public_key_pem()
        .to_owned();
    let public = match kind {
        Hostile::GarbageKey => "<html>502 Bad Gateway</html>".to_owned(),
        Hostile::SmallKey => {
            let small = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 1024).unwrap();
            let k = rsa::pkcs8::EncodePublicKey::to_public_key_pem(
                &small.to_public_key(),
                rsa::pkcs8::LineEnding::LF,
            )
            .unwrap();
            json!({"public_key": k, "timestamp": 1.0}).to_string()
        }
        _ => json!({"public_key": pem, "timestamp": 1.0}).to_string(),
    };
    let weather = move || async move {
        match kind {
            Hostile::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                (axum::http::StatusCode::OK, String::new())
            }
            Hostile::NoKey => (
                axum::http::StatusCode::BAD_REQUEST,
                r#"{"detail":"No symmetric key found for that hotkey and uuid"}"#.to_owned(),
            ),
            _ => (axum::http::StatusCode::OK, "\u{0}\u{1}garbage".to_owned()),
        }
    };
    let app = Router::new()
        .route(
            "/public-encryption-key",
            get(move || {
                let p = public.clone();
                async move { p }
            }),
        )
        .route(
            "/exchange-symmetric-key",
            post(|| async { r#"{"status":"Symmetric key exchanged successfully"}"# }),
        )
        .route("/weather-poll-job-status", post(weather));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (a, task)
}

async fn against(
    kind: Hostile,
) -> (
    Result<Value, FiberError>,
    Duration,
    FiberTransport,
    MinerAddress,
) {
    let (a, _task) = hostile(kind).await;
    let t = transport(quick_options());
    let miner = loopback(a);
    t.directory().set(&miner, MINER_SS58);
    let start = Instant::now();
    let r = t
        .request(
            &miner,
            "/weather-poll-job-status",
            json!({"job_id": "j"}),
            Duration::from_secs(15),
        )
        .await;
    (r, start.elapsed(), t, miner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_miners_get_named_errors_within_a_bound() {
    let (r, took, ..) = against(Hostile::Garbage).await;
    assert!(matches!(r, Err(FiberError::GarbageAnswer { .. })), "{r:?}");
    assert!(took < BOUND);

    let (r, ..) = against(Hostile::GarbageKey).await;
    assert!(matches!(r, Err(FiberError::GarbageAnswer { .. })), "{r:?}");
    let (r, ..) = against(Hostile::SmallKey).await;
    assert!(
        matches!(r, Err(FiberError::Wire(wire::WireError::BadPublicKey(_)))),
        "{r:?}"
    );

    // Wrong key id: no retry on a fresh key; on a cached key exactly one re-handshake.
    let (r, _, t, miner) = against(Hostile::NoKey).await;
    assert!(
        matches!(r, Err(FiberError::NoSymmetricKey { status: 400, .. })),
        "{r:?}"
    );
    assert_eq!((t.counters().handshakes, t.counters().retries), (1, 0));
    let start = Instant::now();
    let r = t
        .request(
            &miner,
            "/weather-poll-job-status",
            json!({"job_id": "j"}),
            Duration::from_secs(15),
        )
        .await;
    assert!(matches!(r, Err(FiberError::NoSymmetricKey { .. })), "{r:?}");
    assert!(start.elapsed() < BOUND);
    let c = t.counters();
    assert_eq!((c.handshakes, c.retries, c.posts), (2, 1, 3));

    // A POST that never answers: the POST timeout, no retry.
    let (r, took, t, _) = against(Hostile::Hang).await;
    match r {
        Err(FiberError::Timeout { endpoint, timeout }) => {
            assert_eq!(endpoint, "/weather-poll-job-status");
            assert_eq!(timeout, Duration::from_secs(1));
        }
        other => panic!("{other:?}"),
    }
    assert!(took < BOUND, "{took:?}");
    assert_eq!(t.counters().retries, 0);
    // Through the client: the same failures as MinerError variants.
    let (a, _task) = hostile(Hostile::Garbage).await;
    let t = transport(quick_options());
    t.directory().set(&loopback(a), MINER_SS58);
    assert!(matches!(
        client(t).poll(&loopback(a), "j").await,
        Err(MinerError::Malformed { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_miner_that_never_answers_times_out() {
    // Accepts TCP connections and never writes a byte.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let t = transport(quick_options());
    t.directory().set(&loopback(a), MINER_SS58);
    let c = client(t);
    let start = Instant::now();
    match c.poll(&loopback(a), "j").await {
        Err(MinerError::Timeout { endpoint, timeout }) => {
            assert_eq!(endpoint, "/public-encryption-key");
            assert_eq!(timeout, Duration::from_secs(1));
        }
        other => panic!("{other:?}"),
    }
    assert!(start.elapsed() < BOUND);
    // An unknown miner, an http address that is not loopback: refused before any traffic.
    let t = transport(quick_options());
    let r = t
        .request(
            &loopback(a),
            "/weather-poll-job-status",
            json!({"job_id": "j"}),
            Duration::from_secs(1),
        )
        .await;
    assert!(matches!(r, Err(FiberError::UnknownMiner(_))), "{r:?}");
    let public = MinerAddress {
        ip: "203.0.113.9".parse().unwrap(),
        port: 1,
        scheme: "http",
    };
    let r = t
        .request(
            &public,
            "/weather-poll-job-status",
            json!({"job_id": "j", "expected_miner_hotkey": MINER_SS58}),
            Duration::from_secs(1),
        )
        .await;
    assert!(matches!(r, Err(FiberError::PlainHttpRefused(_))), "{r:?}");
    hold.abort();
}

/// A throwaway self-signed RSA-2048 certificate (`CN=gaia-sim-miner`, made with `openssl req -x509`
/// as the miners' nginx setup does) and its PKCS#8 key, DER as base64: test fixture only.
const TLS_CERT_DER_B64: &str = concat!(
    "MIIDFTCCAf2gAwIBAgIURrCAFNfuo/JoCrrwBHah3bqvXVwwDQYJKoZIhvcNAQELBQAwGTEXMBUGA1UE",
    "AwwOZ2FpYS1zaW0tbWluZXIwIBcNMjYxMTI4MTY0MzM4WhgPMjEyNjExMDQxNjQzMzhaMBkxFzAVBgNV",
    "BAMMDmdhaWEtc2ltLW1pbmVyMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAsJKKg3fg54L+",
    "HAwfrWPGlPBiItS3l3qbDqG3XN0idcXTIlu8Kq5DHK61HpD0obPfKk5fHiqxUvbsYSxo2yZ9I51lPs/v",
    "TAmX1hNriEH0GMcnwI4hYKpTWgVmduTrlvMLWftUroUw5aB576Wb+XxDsuM5FlAGINe+gTGl8mjShMB2",
    "opzxF9S72MoECDN4Hok8aV66zMGgRZilzcDwmErh9B2BxDP9V3eJqJY1z6ZsOj4+VrtWAVl1W0v1lqBp",
    "EacPE0KhmfdcZss9Cw8FlhIaaL+mEttRAtqW6EM1FEe92zFOn91jKlcJ3I7lVbZP4IVJ5ca/pWkw5Vz6",
    "THCd5gHhGQIDAQABo1MwUTAdBgNVHQ4EFgQUt7cb3pkennwsnwtGcc4cxkERbTgwHwYDVR0jBBgwFoAU",
    "t7cb3pkennwsnwtGcc4cxkERbTgwDwYDVR0TAQH/BAUwAwEB/zANBgkqhkiG9w0BAQsFAAOCAQEAUmR/",
    "AT1zHswIfXwkrsqUeXQyQ75IhHj9VTgQ06yFgwSfuJmV1h9GBiOREl5pwsaun7DLUr5XkBl8NGZ689cn",
    "C/7GQ0Sux2+ZRJVGdDObnHXkYVGQOOsj406Kxj+cLf0htgO5PnWdAFJwVGvXw1CCgr5DaooAiUg7F+b0",
    "3G1p2q+11NaE3DOOIJwOt5kYs/Sa/lSwLj5U/sE8hXPOSsM1CVKWNkJ0CUMbUBmBXcc90BUev/zSZg7U",
    "Q98fWdj/RokdGbQboVKTbl1iq/c+7l3GSBMPX2AxxG6UVbRefd0qH17STcY+silVpT9j48kyRrd2tcdG",
    "tyTvAfcyONI47JxqyQ==",
);
const TLS_KEY_DER_B64: &str = concat!(
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCwkoqDd+Dngv4cDB+tY8aU8GIi1LeX",
    "epsOobdc3SJ1xdMiW7wqrkMcrrUekPShs98qTl8eKrFS9uxhLGjbJn0jnWU+z+9MCZfWE2uIQfQYxyfA",
    "jiFgqlNaBWZ25OuW8wtZ+1SuhTDloHnvpZv5fEOy4zkWUAYg176BMaXyaNKEwHainPEX1LvYygQIM3ge",
    "iTxpXrrMwaBFmKXNwPCYSuH0HYHEM/1Xd4moljXPpmw6Pj5Wu1YBWXVbS/WWoGkRpw8TQqGZ91xmyz0L",
    "DwWWEhpov6YS21EC2pboQzUUR73bMU6f3WMqVwncjuVVtk/ghUnlxr+laTDlXPpMcJ3mAeEZAgMBAAEC",
    "ggEABT9/xC9PlRX2v0bpeJ308KeR5SLhJ4yOeAF8uZL9g5ZbA4QKPFMEXeF/8t4AVV+LIB7m8xa2AUcj",
    "SLKZFb1nvgOfNx4XSNFmrMdUPH8oVgWyU+XtjknVsyDitiEw8uI7qcOfdVXyWXra8PFhSMmlmfcostXz",
    "Tq3W5NBg1CsDKcyheCT6hQNQ1yhJSn1+eiUo/raT8Y9iYC9s9s9MPbseSt+oNb442fo1ifokQR9MeUx/",
    "9YIO8sfXVYslJbGDWmulYfgpS353j3ekJu9QmYXo3auGN3Ej6xR4PFJ0GQ0It7ZXHJQCBamVroHvytzK",
    "cD/A754nwRFczOjT0GBisUu04QKBgQDifUvgZLoPXi5O57PYAterc/HlCdZjBXj4JkudpByVSE1N17xo",
    "rbhco+RKaaTllR7H22ouQk0mF1+BLPWUM7FxK3iubLWAoE4qbReFovP1/bUaoFvk9Emffw1roexBKjGv",
    "LvDxkWNWsLQf6LzjU1jjgodQkM/SPnymlw3zymWwOQKBgQDHlDrh0JTehcurCVzzKsXm/kEAIL8OUpDZ",
    "RdcyQg1oQUy71J9TDj8M7RSW6Bf0RhKydbqpocz/MXYMYMZog/+6xV24JXw0RBrIpcISJhOgW63KMNpr",
    "a4xGmwtyFMgbjVu1mNQNGbffYj/D02Bjl8b28ISYy4tO4MCXXaIAnHP34QKBgQDEz2ZA3qaDti59aIBy",
    "A75PgZhAk/TU5SuCTxzEJpij7EkojIBvYg3jipNVSkn9KkCuIO86tWh+4i6efGgGWYkms0TSJSrvU924",
    "pkWbXcerCcT3F0PjR5g2XdxWnEVFNxonhZ3f/Jua+D/9vmttCr8iLAnTq5K7uors5DQ+lbEZmQKBgHiR",
    "rCDPiaAE5E2nkme052ntIAebwNA+QROBhcfu73qUOG8gvD/I035Tm6SvAgmoa5M0XFguT1G7570Cmdp6",
    "I/wJT9z3iFlq62NcACpGpoSx3gPQD6PljRD6iaeZtmous8C5WyGu784b5LnA8PI5txFnrDNChB5a2P6Y",
    "qk4ENmsBAoGARmUazV3Wppb3jH8uz5dqot11GFdMEAOD2WOrhTkYfu4UykJ6N8tmXyqkVQ0AW21cj5V8",
    "LFIqNaxt0IyZElPoMj/oJljpZYUdDM2ZpbxJ7HBr7lI6O10j4CiMIkMwZs1mPrfWz0Csfw2bc0Lkd9Hi",
    "Dtu/alHTimtehNs1Kj6rfFY=",
);

/// An nginx stand-in: terminates TLS with the self-signed certificate and forwards the plain bytes
/// to `backend` (the simulated miner), as a real miner's proxy does (miner-protocol.md §1).
async fn tls_front(backend: SocketAddr) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let cert = STANDARD.decode(TLS_CERT_DER_B64).unwrap();
    let key = STANDARD.decode(TLS_KEY_DER_B64).unwrap();
    tls_front_with(backend, cert, key).await
}

/// A TLS-terminating proxy on loopback with the certificate `cert_der` and its PKCS#8 key
/// `key_der`, forwarding the plain bytes to `backend`; returns its address.
pub(crate) async fn tls_front_with(
    backend: SocketAddr,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio_rustls::rustls::{crypto::ring, ServerConfig};
    let cert = CertificateDer::from(cert_der);
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der));
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut upstream) = tokio::net::TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
            });
        }
    });
    (front, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_self_signed_certificate_by_ip() {
    let (fleet, gfs_init) = fleet(&[Behaviour::Honest { skill: 0.9 }], Transport::FiberOnly).await;
    let m = &fleet.miners()[0];
    let (front, proxy) = tls_front(SocketAddr::from(([127, 0, 0, 1], m.port))).await;
    let miner = MinerAddress {
        ip: front.ip(),
        port: front.port(),
        scheme: "https",
    };
    let t = transport(FiberOptions::default());
    t.directory().set(&miner, &m.hotkey);
    let c = client(t);
    let validator = dev_validator_signer().ss58();
    let a = c
        .initiate_fetch(&miner, gfs_init, &validator, &m.hotkey)
        .await
        .unwrap();
    let job = a.job_id.expect("job id");
    assert_eq!(
        c.poll(&miner, &job).await.unwrap().status.as_deref(),
        Some("completed")
    );
    let k = c.kerchunk(&miner, &job).await.unwrap();
    let loc = c.store_location(&miner, &k).unwrap();
    assert!(loc
        .url
        .starts_with(&format!("https://127.0.0.1:{}/forecasts/", front.port())));
    let insecure = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let manifest = insecure
        .get(format!("{}/manifest.json", loc.url))
        .bearer_auth(&loc.token)
        .send()
        .await
        .unwrap();
    assert_eq!(manifest.status(), 200);
    let f = fleet.fiber(0).unwrap();
    assert_eq!((f.handshakes(), f.accepted()), (1, 3));
    // It really was TLS: plain http to the same port fails, and so does a verifying client.
    let plain = reqwest::get(format!("http://{front}/public-encryption-key")).await;
    assert!(plain.map(|r| !r.status().is_success()).unwrap_or(true));
    assert!(
        reqwest::get(format!("https://{front}/public-encryption-key"))
            .await
            .is_err()
    );
    proxy.abort();
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_share_one_handshake_and_one_failure() {
    let (fleet, _) = fleet(&[Behaviour::Honest { skill: 0.8 }], Transport::FiberOnly).await;
    let m = &fleet.miners()[0];
    let t = Arc::new(transport(FiberOptions::default()));
    register(&t, &fleet);
    let calls = (0..4).map(|_| {
        let t = Arc::clone(&t);
        let a = addr(m);
        async move {
            t.request(
                &a,
                "/weather-poll-job-status",
                json!({"job_id": "j"}),
                Duration::from_secs(15),
            )
            .await
        }
    });
    for r in futures::future::join_all(calls).await {
        assert_eq!(r.unwrap()["status"], "not_found");
    }
    assert_eq!(t.counters().handshakes, 1);
    assert_eq!(fleet.fiber(0).unwrap().handshakes(), 1);
    // A key older than key_ttl is replaced.
    let short = transport(FiberOptions {
        key_ttl: Duration::ZERO,
        ..FiberOptions::default()
    });
    register(&short, &fleet);
    for _ in 0..2 {
        short
            .request(
                &addr(m),
                "/weather-poll-job-status",
                json!({"job_id": "j"}),
                Duration::from_secs(15),
            )
            .await
            .unwrap();
    }
    assert_eq!(short.counters().handshakes, 2);
    fleet.stop().await;

    // Four callers queued on a miner that never answers: one handshake timeout, not four.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let t = Arc::new(transport(quick_options()));
    t.directory().set(&loopback(a), MINER_SS58);
    let start = Instant::now();
    let calls = (0..4).map(|_| {
        let t = Arc::clone(&t);
        async move {
            t.request(
                &loopback(a),
                "/weather-poll-job-status",
                json!({"job_id": "j"}),
                Duration::from_secs(15),
            )
            .await
        }
    });
    for r in futures::future::join_all(calls).await {
        assert!(matches!(r, Err(FiberError::Timeout { .. })), "{r:?}");
    }
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    hold.abort();
}

/// A stub miner in Python with the `cryptography` package, doing what fiber's miner code does
/// with it: RSA-2048 key pair, PEM SubjectPublicKeyInfo, `OAEP(MGF1(SHA256), SHA256, None)`
/// decryption of a standard-base64 key, `Fernet(urlsafe_b64encode(raw))` and `decrypt` of the
/// body. It cannot check the sr25519 signature (no substrate-interface here), only its form.
const PYTHON_MINER: &str = r#"
import base64, json, re, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from cryptography.hazmat.primitives.asymmetric import rsa, padding
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.fernet import Fernet

key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
pem = key.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
keys = {}

class Miner(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/public-encryption-key":
            self.reply(200, {"public_key": pem, "timestamp": time.time()})
        else:
            self.reply(404, {"detail": "Not Found"})

    def do_POST(self):
        try:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            h = self.headers
            validator, uuid = h["validator-hotkey"], h["symmetric-key-uuid"]
            assert re.fullmatch(r"[0-9a-f]{64}", uuid), uuid
            assert re.fullmatch(r"[0-9]+_[A-Za-z0-9]{10}", h["nonce"]), h["nonce"]
            assert re.fullmatch(r"0x[0-9a-f]{128}", h["signature"]), h["signature"]
            assert h["miner-hotkey"]
            if self.path == "/exchange-symmetric-key":
                assert h["content-type"] == "application/json", h["content-type"]
                enc = json.loads(body)["encrypted_symmetric_key"]
                raw = key.decrypt(base64.b64decode(enc), padding.OAEP(
                    mgf=padding.MGF1(algorithm=hashes.SHA256()),
                    algorithm=hashes.SHA256(), label=None))
                keys[(validator, uuid)] = Fernet(base64.urlsafe_b64encode(raw))
                return self.reply(200, {"status": "Symmetric key exchanged successfully"})
            assert h["content-type"] == "application/octet-stream", h["content-type"]
            f = keys.get((validator, uuid))
            if f is None:
                return self.reply(400, {"detail": "No symmetric key found for that hotkey and uuid"})
            payload = json.loads(f.decrypt(body))
            self.reply(200, {"status": "decrypted", "job_id": payload["data"]["job_id"],
                             "message": payload["nonce"], "token_chars": len(body.decode("ascii"))})
        except Exception as e:
            self.reply(500, {"error": f"Internal server error: {type(e).__name__}: {e}"})

server = ThreadingHTTPServer(("127.0.0.1", 0), Miner)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_cryptography_miner_decrypts_our_key_and_body() {
    use tokio::io::AsyncBufReadExt as _;
    let mut child = tokio::process::Command::new("python3")
        .args(["-c", PYTHON_MINER])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 (with the `cryptography` package of the base image) must be available");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    tokio::time::timeout(
        Duration::from_secs(30),
        tokio::io::BufReader::new(stdout).read_line(&mut line),
    )
    .await
    .expect("python miner did not start")
    .unwrap();
    let port: u16 = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("python miner said {line:?}"));
    let miner = loopback(SocketAddr::from(([127, 0, 0, 1], port)));
    let t = transport(quick_options());
    t.directory().set(&miner, MINER_SS58);
    for job in ["job-1", "job-2"] {
        let v = t
            .request(
                &miner,
                "/weather-poll-job-status",
                json!({ "job_id": job }),
                Duration::from_secs(15),
            )
            .await
            .unwrap();
        assert_eq!(v["status"], "decrypted", "{v}");
        assert_eq!(v["job_id"], job);
        assert!(wire::is_fiber_nonce(v["message"].as_str().unwrap()), "{v}");
        assert_eq!(v["token_chars"].as_u64().unwrap() % 4, 0, "padded token");
    }
    assert_eq!(t.counters().handshakes, 1);
    child.kill().await.unwrap();
}
