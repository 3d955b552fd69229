//! Manifests built in Rust are byte-identical to the Python miner's (golden bytes from
//! `scripts/fixtures/manifest_golden.py`, i.e. Python's own `json.dumps`), and the
//! `weather.verify.manifest` check accepts a valid signature and rejects a wrong signer, an
//! edited manifest, a changed claimed hash and a foreign hash algorithm.

use std::path::Path;

use crate::zarr_support::fresh_copy;
use gaia_protocol::{
    build_manifest, check_store, verification_hash, verify_manifest, verify_manifest_bytes,
    Manifest, SignedForm, Signer, VerifyError, VerifyManifestReport, VerifyManifestRequest,
};

/// miner-protocol.md §8.1 "miner" key and its address.
const MINER_SEED: &str = "ab58ab9317c17c98816ad970dbc533dc45687acd9e790f521cc656298e615c29";
const MINER_SS58: &str = "5GU2wYArpfPATbMJvm7WGM5wJqyWdWiZdn7Jo1GoQ4ixmrAo";
/// §8.1 validator key (used here as "someone else").
const OTHER_SEED: &str = "fac7959dbfe72f052e5a0c3c8d6530f202b02fd8f9f5ca3580ec8deb7797479e";

fn python_manifest(store: &Path, signer: &str) -> (Vec<u8>, String) {
    let out = store.parent().unwrap().join("golden-manifest.json");
    let printed = gaia_testkit::run_python(
        "scripts/fixtures/manifest_golden.py",
        &[store.to_str().unwrap(), signer, out.to_str().unwrap()],
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(printed.trim()).unwrap();
    (
        std::fs::read(out).unwrap(),
        v["verification_hash"].as_str().unwrap().to_owned(),
    )
}

/// Files whose names exercise `ensure_ascii` escaping and sorting.
fn add_awkward_files(store: &Path) {
    let extra = store.join("extra");
    std::fs::create_dir_all(extra.join("deeper")).unwrap();
    std::fs::write(extra.join("ünïcødé ☃.txt"), "snow").unwrap();
    std::fs::write(extra.join("😀.bin"), [0u8, 1, 2, 255]).unwrap();
    std::fs::write(extra.join("quote\"back\\slash\ttab.txt"), "").unwrap();
    std::fs::write(extra.join("deeper/a.b"), "x").unwrap();
    std::fs::write(extra.join("a.b"), "y").unwrap();
    // Excluded only at the root.
    std::fs::write(extra.join("manifest.json"), "nested, included").unwrap();
    std::fs::write(store.join("manifest.sig"), "excluded").unwrap();
}

#[test]
fn manifest_bytes_and_hash_match_python() {
    for name in ["v2_blosc", "v3_zstd"] {
        let (_d, store) = fresh_copy(name);
        add_awkward_files(&store);
        let built = build_manifest(&store, MINER_SS58).unwrap();
        let (golden, golden_hash) = python_manifest(&store, MINER_SS58);
        assert_eq!(
            String::from_utf8_lossy(&built.bytes),
            String::from_utf8_lossy(&golden),
            "{name}"
        );
        assert_eq!(built.bytes, golden, "{name}: bytes");
        assert_eq!(built.verification_hash, golden_hash, "{name}: hash");
        assert_eq!(verification_hash(&golden), golden_hash);
        // The awkward names really went through Python's ensure_ascii escaping.
        let text = String::from_utf8(golden.clone()).unwrap();
        for escaped in ["\\u2603", "\\ud83d\\ude00", "quote\\\"back\\\\slash\\ttab"] {
            assert!(text.contains(escaped), "{escaped} not in golden manifest");
        }
        assert!(built.manifest.files.contains_key("extra/manifest.json"));
        assert!(!built.manifest.files.contains_key("manifest.sig"));
        // Parsing and re-serialising reproduces the bytes.
        assert_eq!(Manifest::parse(&golden).unwrap().to_python_bytes(), golden);
    }
}

fn signed(store: &Path, seed: &str) -> (Vec<u8>, [u8; 64], String) {
    let built = build_manifest(store, MINER_SS58).unwrap();
    let sig = Signer::from_seed_hex(seed).unwrap().sign(&built.bytes);
    (built.bytes, sig, built.verification_hash)
}

fn request(bytes: &[u8], sig: &[u8; 64], claimed: &str) -> VerifyManifestRequest {
    VerifyManifestRequest {
        manifest_json: String::from_utf8(bytes.to_vec()).unwrap(),
        signature_hex: format!("0x{}", hex::encode(sig)),
        claimed_hash: claimed.to_owned(),
        miner_hotkey_ss58: MINER_SS58.to_owned(),
        require_sha256: true,
    }
}

#[test]
fn accepts_a_valid_signature_and_freezes_the_manifest() {
    let (_d, store) = fresh_copy("v3_zstd");
    let (bytes, sig, hash) = signed(&store, MINER_SEED);
    let report = verify_manifest(&request(&bytes, &sig, &hash)).unwrap();
    assert_eq!(report.verification_hash, hash);
    assert_eq!(report.signed_form, SignedForm::Raw);
    assert_eq!(report.frozen.signer_hotkey_ss58, MINER_SS58);
    assert_eq!(report.file_count, report.frozen.files.len());
    assert_eq!(report.frozen.files, Manifest::parse(&bytes).unwrap().files);
    // The payload and report travel as JSON between processes.
    let wire = serde_json::to_string(&report).unwrap();
    assert_eq!(
        serde_json::from_str::<VerifyManifestReport>(&wire).unwrap(),
        report
    );
    let req: VerifyManifestRequest = serde_json::from_str(
        &serde_json::json!({"manifest_json": "{}", "signature_hex": "00", "claimed_hash": "x", "miner_hotkey_ss58": MINER_SS58}).to_string(),
    )
    .unwrap();
    assert!(req.require_sha256, "defaults to the production policy");
}

#[test]
fn rejects_wrong_signer_edited_manifest_and_changed_hash() {
    let (_d, store) = fresh_copy("v3_zstd");
    // Signed by another key.
    let (bytes, sig, hash) = signed(&store, OTHER_SEED);
    assert!(matches!(
        verify_manifest(&request(&bytes, &sig, &hash)),
        Err(VerifyError::BadSignature)
    ));
    // Edited after signing (claimed hash updated to match, so only the signature catches it).
    let (bytes, sig, _) = signed(&store, MINER_SEED);
    let text = String::from_utf8(bytes.clone()).unwrap();
    let first = Manifest::parse(&bytes)
        .unwrap()
        .files
        .into_values()
        .next()
        .unwrap();
    let edited = text.replacen(&first, &"0".repeat(64), 1).into_bytes();
    assert_ne!(edited, bytes);
    let edited_hash = verification_hash(&edited);
    assert!(matches!(
        verify_manifest(&request(&edited, &sig, &edited_hash)),
        Err(VerifyError::BadSignature)
    ));
    // Claimed hash differs from the served bytes.
    match verify_manifest(&request(&bytes, &sig, &edited_hash)) {
        Err(VerifyError::HashMismatch { claimed, computed }) => {
            assert_eq!(claimed, edited_hash);
            assert_eq!(computed, verification_hash(&bytes));
        }
        other => panic!("{other:?}"),
    }
    // Manifest names another hotkey than the miner's.
    let mut req = request(&bytes, &sig, &verification_hash(&bytes));
    req.miner_hotkey_ss58 = Signer::from_seed_hex(OTHER_SEED).unwrap().ss58();
    assert!(matches!(
        verify_manifest(&req),
        Err(VerifyError::SignerMismatch { .. })
    ));
    // Malformed signature and manifest.
    let mut req = request(&bytes, &sig, &verification_hash(&bytes));
    req.signature_hex = "0x1234".into();
    assert!(matches!(
        verify_manifest(&req),
        Err(VerifyError::SignatureFormat(_))
    ));
    let junk = b"not json";
    assert!(matches!(
        verify_manifest_bytes(junk, &sig, &verification_hash(junk), MINER_SS58, true),
        Err(VerifyError::BadManifest(_))
    ));
}

#[test]
fn refuses_non_sha256_manifests_by_policy() {
    let (_d, store) = fresh_copy("v2_zstd");
    let mut m = build_manifest(&store, MINER_SS58).unwrap().manifest;
    m.chunk_hash_algorithm = "xxh64".into();
    let bytes = m.to_python_bytes();
    let sig = Signer::from_seed_hex(MINER_SEED).unwrap().sign(&bytes);
    let hash = verification_hash(&bytes);
    assert!(matches!(
        verify_manifest_bytes(&bytes, &sig, &hash, MINER_SS58, true),
        Err(VerifyError::UnsupportedHashAlgorithm(a)) if a == "xxh64"
    ));
    assert!(verify_manifest_bytes(&bytes, &sig, &hash, MINER_SS58, false).is_ok());
}

#[test]
fn whole_store_check_finds_every_difference() {
    let (_d, store) = fresh_copy("v2_zstd");
    let files = build_manifest(&store, MINER_SS58).unwrap().manifest.files;
    let ok = check_store(&store, &files).unwrap();
    assert!(ok.ok());
    assert_eq!(ok.matched, files.len());
    std::fs::write(store.join("2t/0.0.0"), b"swapped").unwrap();
    std::fs::remove_file(store.join("2t/1.0.0")).unwrap();
    std::fs::write(store.join("2t/9.9.9"), b"new").unwrap();
    let bad = check_store(&store, &files).unwrap();
    assert!(!bad.ok());
    assert_eq!(bad.mismatched, vec!["2t/0.0.0".to_owned()]);
    assert_eq!(bad.missing, vec!["2t/1.0.0".to_owned()]);
    assert_eq!(bad.extra, vec!["2t/9.9.9".to_owned()]);
    assert!(matches!(
        build_manifest(&store.join("nope"), MINER_SS58),
        Err(VerifyError::Io { .. })
    ));
}

#[test]
fn fetches_and_verifies_a_served_manifest() {
    use gaia_scoring::verify::{fetch_and_verify_manifest, RemoteManifestRequest};
    let (dir, store) = fresh_copy("v2_zstd");
    let built = build_manifest(&store, MINER_SS58).unwrap();
    std::fs::write(store.join("manifest.json"), &built.bytes).unwrap();
    let sig = Signer::from_seed_hex(MINER_SEED)
        .unwrap()
        .sign(&built.bytes);
    std::fs::write(store.join("manifest.sig"), sig).unwrap();
    let server = crate::zarr_support::TestServer::start(dir.path(), Some("jwt"));
    let mut req = RemoteManifestRequest {
        store_url: server.url("v2_zstd.zarr"),
        bearer_token: Some("jwt".into()),
        claimed_hash: built.verification_hash.clone(),
        miner_hotkey_ss58: MINER_SS58.into(),
        require_sha256: true,
        timeout_seconds: Some(5),
    };
    let report = fetch_and_verify_manifest(&req).unwrap();
    assert_eq!(report.frozen.files, built.manifest.files);
    // The same from a directory.
    let local = RemoteManifestRequest {
        store_url: store.to_str().unwrap().into(),
        ..req.clone()
    };
    assert_eq!(fetch_and_verify_manifest(&local).unwrap(), report);
    req.bearer_token = Some("wrong".into());
    assert!(
        matches!(fetch_and_verify_manifest(&req), Err(VerifyError::Fetch(m)) if m.contains("401"))
    );
    req.bearer_token = Some("jwt".into());
    std::fs::remove_file(store.join("manifest.sig")).unwrap();
    assert!(
        matches!(fetch_and_verify_manifest(&req), Err(VerifyError::Fetch(m)) if m.contains("not found"))
    );
}

#[test]
fn json_handler_dispatches_on_the_payload_shape() {
    use gaia_scoring::verify::handle_verify_manifest;
    let (_d, store) = fresh_copy("v3_zstd");
    let (bytes, sig, hash) = signed(&store, MINER_SEED);
    let fetched = serde_json::to_value(request(&bytes, &sig, &hash)).unwrap();
    assert_eq!(
        handle_verify_manifest(&fetched).unwrap().verification_hash,
        hash
    );
    std::fs::write(store.join("manifest.json"), &bytes).unwrap();
    std::fs::write(store.join("manifest.sig"), sig).unwrap();
    let remote = serde_json::json!({
        "store_url": store.to_str().unwrap(), "claimed_hash": hash, "miner_hotkey_ss58": MINER_SS58
    });
    assert_eq!(
        handle_verify_manifest(&remote).unwrap().verification_hash,
        hash
    );
    let junk = serde_json::json!({"store_url": 3});
    assert!(matches!(
        handle_verify_manifest(&junk),
        Err(VerifyError::BadRequest(_))
    ));
    assert!(matches!(
        handle_verify_manifest(&serde_json::json!([])),
        Err(VerifyError::BadRequest(_))
    ));
}
