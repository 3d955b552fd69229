//! The `set_weights` extrinsic bytes against golden files made independently by
//! `scripts/fixtures/chain_fixtures.py` (scalecodec with an explicit type registry, fiber's
//! quantisation, substrate-interface sr25519 signatures; `docs/chain-client.md`).
//!
//! Per case: the u16 vectors from `gaia_scoring::weights::quantize_u16` equal fiber's; the call,
//! the explicit and implicit extension bytes and the signing payload are byte-identical; the whole
//! extrinsic is byte-identical once Python's signature is put into ours, and that signature
//! verifies over our payload; a signature we make verifies too. Plus chain.md §3.2's quantisation
//! examples carried through to call bytes.

use gaia_protocol::{verify_signature, SignedForm};
use gaia_scoring::weights::quantize_u16;
use gaia_validator::chain::extrinsic::{
    assemble_signed, signature_range, signed_extrinsic, signing_payload, CallIndex, Era, Implicit,
    SetWeightsCall, SignedExtra,
};
use gaia_validator::chain::wallet::{hotkey_path, load_hotkey};
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/chain");

fn golden() -> Value {
    let text = std::fs::read_to_string(format!("{FIXTURES}/set_weights.json")).expect("golden");
    serde_json::from_str(&text).expect("golden JSON")
}

fn h32(v: &Value) -> [u8; 32] {
    let s = v.as_str().expect("hex string");
    hex::decode(s.trim_start_matches("0x"))
        .expect("hex")
        .try_into()
        .expect("32 bytes")
}

fn u16s(v: &Value) -> Vec<u16> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("int") as u16)
        .collect()
}

struct Built {
    call: Vec<u8>,
    extra: SignedExtra,
    implicit: Implicit,
}

fn build(case: &Value) -> Built {
    let node_weights: Vec<f64> = case["node_weights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let uids: Vec<u16> = (0..node_weights.len() as u16).collect();
    let q = quantize_u16(&uids, &node_weights).expect("quantise");
    assert_eq!(q.uids, u16s(&case["dests"]), "{} dests", case["name"]);
    assert_eq!(q.values, u16s(&case["weights"]), "{} weights", case["name"]);
    let call = SetWeightsCall::new(
        case["netuid"].as_u64().unwrap() as u16,
        q.uids,
        q.values,
        case["version_key"].as_u64().unwrap(),
    )
    .unwrap()
    .encode(CallIndex::SUBTENSOR_SET_WEIGHTS);
    let current = case["current_block"].as_u64().unwrap();
    let era = match case["era_period"].as_u64() {
        Some(period) => Era::mortal(period, current),
        None => Era::Immortal,
    };
    if let Some(birth) = case["era_birth"].as_u64() {
        assert_eq!(era.birth(current), birth, "{} era birth", case["name"]);
    }
    let extra = SignedExtra {
        era,
        nonce: case["nonce"].as_u64().unwrap() as u32,
        tip: case["tip"].as_u64().unwrap(),
        metadata_hash_enabled: false,
    };
    let implicit = Implicit {
        spec_version: case["spec_version"].as_u64().unwrap() as u32,
        transaction_version: case["transaction_version"].as_u64().unwrap() as u32,
        genesis_hash: h32(&case["genesis_hash"]),
        birth_block_hash: h32(&case["birth_block_hash"]),
        metadata_hash: None,
    };
    Built {
        call,
        extra,
        implicit,
    }
}

#[test]
fn golden_indices_are_the_documented_ones() {
    let g = golden();
    assert_eq!(
        g["pallet_index"].as_u64(),
        Some(u64::from(CallIndex::SUBTENSOR_SET_WEIGHTS.pallet))
    );
    assert_eq!(
        g["call_index"].as_u64(),
        Some(u64::from(CallIndex::SUBTENSOR_SET_WEIGHTS.call))
    );
    assert_eq!(g["cases"].as_array().unwrap().len(), 5);
}

#[test]
fn call_extension_and_payload_bytes_match_scalecodec() {
    let g = golden();
    for case in g["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let b = build(case);
        assert_eq!(
            hex::encode(&b.call),
            case["call"].as_str().unwrap(),
            "{name} call"
        );
        assert_eq!(
            hex::encode(b.extra.encode()),
            case["extra"].as_str().unwrap(),
            "{name} extra"
        );
        assert_eq!(
            hex::encode(b.implicit.encode()),
            case["implicit"].as_str().unwrap(),
            "{name} implicit"
        );
        let payload = signing_payload(&b.call, &b.extra, &b.implicit);
        assert_eq!(
            hex::encode(&payload),
            case["payload"].as_str().unwrap(),
            "{name} payload"
        );
        // Every unhashed payload is far longer than 32 bytes (implicit data alone is 73).
        assert_eq!(
            payload.len() == 32,
            case["payload_hashed"].as_bool().unwrap(),
            "{name} hashing"
        );
    }
}

#[test]
fn whole_extrinsic_matches_with_pythons_signature() {
    let g = golden();
    let key = load_hotkey(&hotkey_path(
        &std::path::Path::new(FIXTURES).join("wallets"),
        "gaia",
        "default",
    ))
    .expect("fixture hotkey");
    assert_eq!(key.ss58(), g["signer_ss58"].as_str().unwrap());
    for case in g["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let b = build(case);
        let payload = signing_payload(&b.call, &b.extra, &b.implicit);
        let sig: [u8; 64] = hex::decode(case["signature"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        // Python's signature is valid over the payload we computed.
        assert_eq!(
            verify_signature(key.ss58(), &payload, &sig).expect(name),
            SignedForm::Raw
        );
        let ours = assemble_signed(&key.public_key(), &sig, &b.extra, &b.call);
        assert_eq!(
            hex::encode(&ours),
            case["extrinsic"].as_str().unwrap(),
            "{name} extrinsic"
        );

        // Our own signature: same bytes outside the signature, and it verifies.
        let signed = signed_extrinsic(key.signer(), &b.call, &b.extra, &b.implicit);
        assert_eq!(signed.len(), ours.len());
        let range = signature_range(&signed).expect("signed extrinsic");
        assert_eq!(signature_range(&ours), Some(range.clone()));
        assert_eq!(
            signed[..range.start],
            ours[..range.start],
            "{name} before signature"
        );
        assert_eq!(
            signed[range.end..],
            ours[range.end..],
            "{name} after signature"
        );
        let our_sig: [u8; 64] = signed[range].try_into().unwrap();
        assert!(verify_signature(key.ss58(), &payload, &our_sig).is_ok());
    }
}

#[test]
fn chain_md_quantisation_examples_to_call_bytes() {
    // chain.md §3.2 rows, carried into the call for netuid 237, version 2186. Hand-derived bytes:
    // 07 00 | ed 00 | compact(len) | u16 LE each | compact(len) | u16 LE each | 8a 08 00.. (u64).
    let rows: [(&[f64], &str); 4] = [
        (
            &[65535.0, 2.5, 3.5, 0.0],
            "0700ed000c000001000200", /* dests 0,1,2 */
        ),
        (&[0.1, 0.2, 0.3, 0.0, 0.4], "0700ed00100000010002000400"),
        (&[1e-9, 0.5, 1.0], "0700ed000c000001000200"),
        (&[0.0; 5], "0700ed0000"),
    ];
    let values: [&str; 4] = [
        "0cffff02000400",
        "1000400080ffbfffff",
        "0c00000080ffff",
        "00",
    ];
    for ((weights, head), tail) in rows.iter().zip(values) {
        let uids: Vec<u16> = (0..weights.len() as u16).collect();
        let q = quantize_u16(&uids, weights).unwrap();
        let call = SetWeightsCall::new(237, q.uids, q.values, 2186)
            .unwrap()
            .encode(CallIndex::SUBTENSOR_SET_WEIGHTS);
        assert_eq!(
            hex::encode(call),
            format!("{head}{tail}8a08000000000000"),
            "{weights:?}"
        );
    }
}
