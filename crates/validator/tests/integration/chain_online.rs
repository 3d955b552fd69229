//! The online chain client against a loopback JSON-RPC node serving the storage of
//! `tests/fixtures/chain/online_storage.json` (made independently by
//! `scripts/fixtures/chain_online_fixtures.py`: substrate-interface hashers, scalecodec values).
//!
//! Checked: the metagraph equals the fixture's plain values (SS58 keys, IPv4 / IPv6 / unserved
//! axons, a permit vector shorter than the UID count, a missing coldkey), with and without
//! `state_queryStorageAt`; head, `LastUpdate` and commit-reveal reads (absent key = on);
//! refusals that send nothing (commit-reveal on or absent, rate limited, version key, not
//! registered, no hotkey, no such subnet); the submitted extrinsic equals the Python-built one
//! except for the signature, which verifies over the Python-built payload; garbage, oversized,
//! slow, trickling, endless, failing and unreachable nodes give named, bounded errors.

use std::sync::Arc;
use std::time::{Duration, Instant};

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use gaia_protocol::{verify_signature, SignedForm, Signer};
use gaia_validator::chain::extrinsic::signature_range;
use gaia_validator::chain::metadata::MetadataError;
use gaia_validator::chain::online::{Confirmation, OnlineChain};
use gaia_validator::chain::rpc::RpcError;
use gaia_validator::chain::{Chain, ChainError};
use serde_json::{json, Value};

use crate::chain_node::{chain, options, serve, serve_on, set, weights, Mode, Wire};

#[tokio::test]
async fn metagraph_head_and_last_update_match_the_fixture() {
    metagraph_head_and_last_update_over(Wire::Http).await;
}

#[tokio::test]
async fn metagraph_head_and_last_update_match_the_fixture_over_a_websocket() {
    metagraph_head_and_last_update_over(Wire::WebSocket).await;
}

async fn metagraph_head_and_last_update_over(wire: Wire) {
    let (mock, url) = serve_on(wire).await;
    let fx = mock.fx.clone();
    let chain = chain(&url, &fx);
    assert_eq!(chain.node().url(), url);
    let nodes = chain.metagraph().await.unwrap();
    let want = fx["metagraph"].as_array().unwrap();
    assert_eq!(nodes.len(), want.len());
    for (n, w) in nodes.iter().zip(want) {
        assert_eq!(u64::from(n.uid), w["uid"].as_u64().unwrap());
        assert_eq!(n.hotkey, w["hotkey"].as_str().unwrap(), "uid {}", n.uid);
        assert_eq!(n.coldkey, w["coldkey"].as_str().unwrap(), "uid {}", n.uid);
        assert_eq!(n.ip, w["ip"].as_str().unwrap(), "uid {}", n.uid);
        assert_eq!(u64::from(n.port), w["port"].as_u64().unwrap());
        assert_eq!(n.validator_permit, w["validator_permit"].as_bool().unwrap());
        assert_eq!(
            (n.stake, n.incentive, n.trust, n.vtrust),
            (0.0, 0.0, 0.0, 0.0)
        );
    }
    assert_eq!(nodes[2].hotkey, fx["own_ss58"].as_str().unwrap());
    assert!(mock
        .methods
        .lock()
        .unwrap()
        .contains(&"state_queryStorageAt".to_string()));

    *mock.mode.lock().unwrap() = Mode::NoQueryStorageAt;
    assert_eq!(chain.metagraph().await.unwrap(), nodes, "per-key fallback");
    *mock.mode.lock().unwrap() = Mode::Normal;

    assert_eq!(
        chain.current_block().await.unwrap(),
        fx["head"].as_u64().unwrap()
    );
    assert_eq!(chain.last_update_block().await.unwrap(), 1000);
    // Permits [1, 0, 1, 0], LastUpdate [100, 0, 1000, 50], head 1203: UID 0 is 1103 blocks
    // behind, UID 2 (us) 203 — only UID 2 is an active validator (spec §5.4).
    assert_eq!(chain.active_validators().await.unwrap(), vec![2]);
    assert!(!chain.commit_reveal_enabled().await.unwrap());
    set(&mock, "CommitRevealWeightsEnabled", None);
    assert!(
        chain.commit_reveal_enabled().await.unwrap(),
        "absent = true"
    );

    // state_getKeysPaged over the Keys(237, ·) prefix lists the four UIDs' keys, paged.
    let keys_prefix = gaia_validator::chain::storage::keys_key(237, 0);
    let (_, at) = chain.node().head().await.unwrap();
    let first = chain
        .node()
        .keys_paged(&keys_prefix[..34], 3, None, at)
        .await
        .unwrap();
    let rest = chain
        .node()
        .keys_paged(&keys_prefix[..34], 3, Some(first.last().unwrap()), at)
        .await
        .unwrap();
    assert_eq!((first.len(), rest.len()), (3, 1));

    // A malformed value is a named storage error; an absent subnet is an error, not an
    // empty metagraph.
    let axon_key = {
        let storage = mock.storage.lock().unwrap();
        storage
            .iter()
            .find(|(_, v)| v.len() == 2 + 68)
            .map(|(k, _)| k.clone())
            .unwrap()
    };
    mock.storage
        .lock()
        .unwrap()
        .insert(axon_key.clone(), "0x00".into());
    let err = chain.metagraph().await.unwrap_err();
    assert!(
        matches!(err, ChainError::Storage(ref e) if e.item == "Axons"),
        "{err}"
    );
    mock.storage.lock().unwrap().remove(&axon_key);
    set(&mock, "SubnetworkN", None);
    let err = chain.metagraph().await.unwrap_err().to_string();
    assert!(err.contains("SubnetworkN(237) is absent"), "{err}");
}

#[tokio::test]
async fn refusals_send_nothing() {
    let (mock, url) = serve().await;
    let fx = mock.fx.clone();
    let chain = chain(&url, &fx);
    let (dests, values) = weights(&fx);

    set(&mock, "CommitRevealWeightsEnabled", Some("true"));
    let err = chain.set_weights(&dests, &values).await.unwrap_err();
    assert!(
        matches!(err, ChainError::CommitRevealEnabled { netuid: 237 }),
        "{err}"
    );
    set(&mock, "CommitRevealWeightsEnabled", None);
    let err = chain.set_weights(&dests, &values).await.unwrap_err();
    assert!(
        matches!(err, ChainError::CommitRevealEnabled { netuid: 237 }),
        "{err}"
    );
    set(&mock, "CommitRevealWeightsEnabled", Some("false"));

    set(&mock, "WeightsSetRateLimit", Some("large"));
    let err = chain.set_weights(&dests, &values).await.unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::RateLimited {
                netuid: 237,
                uid: 2,
                blocks_since: 203,
                limit: 500
            }
        ),
        "{err}"
    );
    set(&mock, "WeightsSetRateLimit", Some("value"));

    set(&mock, "WeightsVersionKey", Some("too_high"));
    let err = chain.set_weights(&dests, &values).await.unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::VersionKeyTooLow {
                ours: 2186,
                chain: 3000
            }
        ),
        "{err}"
    );
    set(&mock, "WeightsVersionKey", Some("value"));

    let stranger = Signer::from_seed(&[9; 32]).unwrap();
    let other = OnlineChain::new(&url, options(), 237, Some(stranger)).unwrap();
    let err = other.set_weights(&dests, &values).await.unwrap_err();
    assert!(
        matches!(err, ChainError::NotRegistered { netuid: 237, .. }),
        "{err}"
    );
    assert!(matches!(
        other.last_update_block().await,
        Err(ChainError::NotRegistered { .. })
    ));
    let keyless = OnlineChain::new(&url, options(), 237, None).unwrap();
    assert!(matches!(
        keyless.set_weights(&dests, &values).await,
        Err(ChainError::NoHotkey)
    ));
    assert!(matches!(
        chain.set_weights(&[1, 1], &[1, 2]).await,
        Err(ChainError::BadWeights(_))
    ));

    assert!(mock.submitted.lock().unwrap().is_empty());
    assert!(!mock
        .methods
        .lock()
        .unwrap()
        .contains(&"author_submitExtrinsic".to_string()));
}

fn confirming(url: &str, fx: &Value) -> OnlineChain {
    chain(url, fx).with_confirmation(Confirmation {
        poll: Duration::from_millis(20),
        max_wait: Duration::from_millis(300),
    })
}

#[tokio::test]
async fn submitted_extrinsic_is_the_python_one_modulo_signature() {
    submission_over(Wire::Http).await;
}

#[tokio::test]
async fn submitted_extrinsic_is_the_python_one_over_a_websocket() {
    submission_over(Wire::WebSocket).await;
}

async fn submission_over(wire: Wire) {
    let (mock, url) = serve_on(wire).await;
    let fx = mock.fx.clone();
    let (dests, values) = weights(&fx);
    let receipt = confirming(&url, &fx)
        .set_weights(&dests, &values)
        .await
        .unwrap();
    assert!(receipt.submitted);
    assert_eq!(receipt.block, 1204, "the inclusion block from LastUpdate");
    assert!(
        receipt.detail.starts_with("included at block 1204"),
        "{}",
        receipt.detail
    );
    let submitted = mock.submitted.lock().unwrap().clone();
    assert_eq!(submitted.len(), 1);
    let mut bytes = hex::decode(submitted[0].trim_start_matches("0x")).unwrap();
    let hash = hex::encode(Blake2b::<U32>::digest(&bytes));
    assert!(receipt.detail.contains(&hash), "{}", receipt.detail);
    let range = signature_range(&bytes).expect("a signed v4 extrinsic");
    let signature: [u8; 64] = bytes[range.clone()].try_into().unwrap();
    bytes[range].fill(0);
    let sw = &fx["set_weights"];
    assert_eq!(
        hex::encode(&bytes),
        sw["extrinsic_unsigned"].as_str().unwrap()
    );
    let payload = hex::decode(sw["payload"].as_str().unwrap()).unwrap();
    assert_eq!(
        verify_signature(fx["own_ss58"].as_str().unwrap(), &payload, &signature).unwrap(),
        SignedForm::Raw
    );
    // Now LastUpdate is 1204 and the head 1203: the next attempt is rate limited, not sent.
    let err = chain(&url, &fx)
        .set_weights(&dests, &values)
        .await
        .unwrap_err();
    assert!(matches!(err, ChainError::RateLimited { .. }), "{err}");
    assert_eq!(mock.submitted.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn without_inclusion_the_submission_is_reported_not_included() {
    let (mock, url) = serve().await;
    let fx = mock.fx.clone();
    *mock.include.lock().unwrap() = false;
    let (dests, values) = weights(&fx);
    let started = Instant::now();
    let err = confirming(&url, &fx)
        .set_weights(&dests, &values)
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(matches!(err, ChainError::NotIncluded { .. }), "{err}");
    assert_eq!(
        mock.submitted.lock().unwrap().len(),
        1,
        "sent once, never resent"
    );
    // A pool refusal is named, and not retried.
    *mock.refuse_submit.lock().unwrap() = true;
    let err = chain(&url, &fx)
        .set_weights(&dests, &values)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("author_submitExtrinsic")
            && err.contains("1010")
            && err.contains("Custom error: 6 (subtensor: RateLimitExceeded)"),
        "{err}"
    );
    let tries = mock
        .methods
        .lock()
        .unwrap()
        .iter()
        .filter(|m| *m == "author_submitExtrinsic")
        .count();
    assert_eq!(tries, 2, "one refused attempt after the first submission");
    *mock.refuse_submit.lock().unwrap() = false;
    // Without confirmation the pool's acceptance is the receipt.
    let receipt = chain(&url, &fx).set_weights(&dests, &values).await.unwrap();
    assert_eq!(receipt.block, 1203);
    assert!(
        receipt.detail.starts_with("submitted 0x"),
        "{}",
        receipt.detail
    );
}

/// What a misbehaving node's error must look like.
type ErrorCheck = fn(&RpcError) -> bool;

#[tokio::test]
async fn bad_nodes_give_named_bounded_errors() {
    bad_nodes_over(Wire::Http).await;
}

#[tokio::test]
async fn bad_websocket_nodes_give_named_bounded_errors() {
    bad_nodes_over(Wire::WebSocket).await;
}

async fn bad_nodes_over(wire: Wire) {
    let (mock, url) = serve_on(wire).await;
    let fx = mock.fx.clone();
    let chain = chain(&url, &fx);
    let cases: [(Mode, ErrorCheck); 6] = [
        (Mode::Garbage, |e| matches!(e, RpcError::Malformed { .. })),
        (Mode::Oversized, |e| {
            matches!(
                e,
                RpcError::TooLarge {
                    limit: 1_048_576,
                    ..
                }
            )
        }),
        (Mode::Endless, |e| {
            matches!(
                e,
                RpcError::TooLarge {
                    limit: 1_048_576,
                    ..
                }
            )
        }),
        (Mode::Trickle, |e| {
            matches!(e, RpcError::Timeout { attempts: 2, .. })
        }),
        (Mode::Slow, |e| {
            matches!(e, RpcError::Timeout { attempts: 2, .. })
        }),
        (Mode::ServerError, |e| {
            matches!(e, RpcError::Transport { attempts: 2, .. })
        }),
    ];
    for (mode, check) in cases {
        *mock.mode.lock().unwrap() = mode;
        let started = Instant::now();
        let err = chain.current_block().await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3), "bounded");
        match &err {
            ChainError::Rpc(e) => {
                assert!(check(e), "{e}");
                assert!(e.to_string().contains("chain_getBlockHash"), "{e}");
            }
            other => panic!("not an RPC error: {other}"),
        }
        assert!(mock.submitted.lock().unwrap().is_empty());
    }
    // Nothing listening.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let scheme = match wire {
        Wire::Http => "http",
        Wire::WebSocket => "ws",
    };
    let dead = format!("{scheme}://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = OnlineChain::new(&dead, options(), 237, None)
        .unwrap()
        .current_block()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::Rpc(RpcError::Transport { attempts: 2, .. })
        ),
        "{err}"
    );
}

#[tokio::test]
async fn concurrent_submissions_send_once() {
    let (mock, url) = serve().await;
    let fx = mock.fx.clone();
    let (dests, values) = weights(&fx);
    let chain = confirming(&url, &fx);
    let (a, b) = tokio::join!(
        chain.set_weights(&dests, &values),
        chain.set_weights(&dests, &values)
    );
    let (ok, refused) = if a.is_ok() { (a, b) } else { (b, a) };
    assert_eq!(ok.unwrap().block, 1204);
    let err = refused.unwrap_err();
    assert!(matches!(err, ChainError::RateLimited { .. }), "{err}");
    assert_eq!(mock.submitted.lock().unwrap().len(), 1);
}

/// The weights step and the metagraph sync on top of the online chain: shadow mode sends
/// nothing, `on` submits once and records the inclusion; `node_table` gets the fixture's nodes.
#[tokio::test]
async fn weights_step_and_metagraph_sync_over_the_online_chain() {
    use gaia_validator::tasks::weights::{WeightsMode, WeightsStep};
    let (mock, url) = serve().await;
    let fx = mock.fx.clone();
    let dir = tempfile::tempdir().unwrap();
    let store = gaia_store::Store::open(&gaia_store::StoreConfig::new(format!(
        "sqlite://{}/w.db",
        dir.path().display()
    )))
    .await
    .unwrap();
    let chain: Arc<dyn Chain> = Arc::new(confirming(&url, &fx));

    let n = gaia_validator::tasks::metagraph::sync_metagraph(chain.as_ref(), &store)
        .await
        .unwrap();
    assert_eq!(n, 4);
    let rows = store.list_nodes().await.unwrap();
    let want = fx["metagraph"].as_array().unwrap();
    assert_eq!(rows.len(), want.len());
    for (r, w) in rows.iter().zip(want) {
        assert_eq!(r.hotkey, w["hotkey"].as_str().unwrap());
        assert_eq!(r.ip, w["ip"].as_str().unwrap());
        assert_eq!(u64::from(r.port), w["port"].as_u64().unwrap());
    }

    let mut vector = vec![0.0; 256];
    vector[0] = 1.0;
    vector[3] = 0.5;
    let result: gaia_scoring::weights::WeightsResult = serde_json::from_value(json!({
        "weights": vector, "pre_burn_weights": vector, "aggregated_scores": vector,
        "uids": [0, 1, 3], "values": [65535, 2, 4], "rows_used": 1, "fallback": null,
        "midpoint": null, "cv": null, "contrast_applied": false, "burn_uid": null,
        "warnings": []
    }))
    .unwrap();
    let (metrics, _) = gaia_validator::telemetry::metrics::Metrics::new(None);
    let step = |mode| WeightsStep {
        chain: chain.clone(),
        store: store.clone(),
        dispatcher: gaia_validator::io_engine::Dispatcher::new(
            4,
            metrics.clone(),
            dir.path().to_path_buf(),
            std::process::id(),
        ),
        metrics: metrics.clone(),
        mode,
        netuid: 237,
    };
    let now = chrono::Utc::now();
    step(WeightsMode::Shadow)
        .apply("shadow", &result, now)
        .await
        .unwrap();
    assert!(
        mock.submitted.lock().unwrap().is_empty(),
        "shadow sends nothing"
    );
    step(WeightsMode::On)
        .apply("on", &result, now)
        .await
        .unwrap();
    assert_eq!(mock.submitted.lock().unwrap().len(), 1);
    let history = store
        .weight_history_since(now - chrono::Duration::hours(1))
        .await
        .unwrap();
    let outcomes: Vec<(&str, Option<i64>)> = history
        .iter()
        .map(|h| (h.outcome.as_str(), h.block))
        .collect();
    assert!(outcomes.contains(&("skipped", Some(1203))), "{outcomes:?}");
    assert!(
        outcomes.contains(&("submitted", Some(1204))),
        "{outcomes:?}"
    );
}

/// The runtime metadata is checked before the first submission: a moved pallet, a renamed field
/// or a new extension that carries data refuse (nothing sent); a new zero-sized extension passes.
#[tokio::test]
async fn runtime_metadata_is_checked_before_submitting() {
    let (mock, url) = serve().await;
    let fx = mock.fx.clone();
    let (dests, values) = weights(&fx);
    for (variant, says) in [
        ("pallet_moved", "(8, 0)"),
        ("field_renamed", "netuid_index"),
        ("extension_added", "CheckNewThing"),
    ] {
        *mock.metadata.lock().unwrap() = variant;
        let err = chain(&url, &fx)
            .set_weights(&dests, &values)
            .await
            .unwrap_err();
        match &err {
            ChainError::Metadata(MetadataError::Mismatch(m)) => assert!(m.contains(says), "{m}"),
            other => panic!("{variant}: {other}"),
        }
    }
    assert!(mock.submitted.lock().unwrap().is_empty());
    *mock.metadata.lock().unwrap() = "zero_sized_added";
    chain(&url, &fx).set_weights(&dests, &values).await.unwrap();
    assert_eq!(mock.submitted.lock().unwrap().len(), 1);
}
