//! Property tests of the protocol's parsers of outside bytes (issue 20): a miner's manifest JSON
//! and signature, SS58 addresses and hex signatures. Arbitrary and mutated inputs end in a value
//! or a typed [`VerifyError`], within a time and allocation bound; the writers round-trip
//! (manifest ↔ Python-compatible bytes, any JSON value ↔ `pyjson`, float ↔ Python `repr`, SS58).

use std::collections::BTreeMap;

use gaia_testkit::hostile::{bounded, config, hostile, Limits};
use proptest::prelude::*;
use serde_json::Value;

use crate::{
    parse_signature_hex, pyjson, ss58, verification_hash, verify_manifest_bytes, Manifest, Signer,
    VerifyError, CHUNK_HASH_ALGORITHM, MANIFEST_SCHEMA_VERSION, PROFILE_STRUCTURE_VERSION,
};

fn signer() -> Signer {
    Signer::from_seed(&[7u8; 32]).expect("a 32-byte seed is a key")
}

/// A manifest as a miner writes it (the layout of a production store).
fn manifest_seed(signer_ss58: &str) -> Vec<u8> {
    let mut files = BTreeMap::new();
    for key in [
        ".zattrs",
        ".zgroup",
        ".zmetadata",
        "2t/.zarray",
        "2t/.zattrs",
        "2t/0.0.0",
        "z/.zarray",
        "z/0.0.0.0",
        "lat/0",
        "time/0",
    ] {
        files.insert(key.to_string(), crate::file_hash(key, key.as_bytes()));
    }
    Manifest {
        manifest_schema_version: MANIFEST_SCHEMA_VERSION.into(),
        profile_structure_version: PROFILE_STRUCTURE_VERSION.into(),
        chunk_hash_algorithm: CHUNK_HASH_ALGORITHM.into(),
        signer_hotkey_ss58: signer_ss58.into(),
        files,
    }
    .to_python_bytes()
}

fn seeds() -> Vec<Vec<u8>> {
    vec![
        manifest_seed(&signer().ss58()),
        br#"{"files": {"../../etc/passwd": "00"}, "signer_hotkey_ss58": 5}"#.to_vec(),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |x| x.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn manifest() -> impl Strategy<Value = Manifest> {
    (
        any::<String>(),
        any::<String>(),
        any::<String>(),
        any::<String>(),
        prop::collection::btree_map(any::<String>(), any::<String>(), 0..8),
    )
        .prop_map(|(a, b, c, d, files)| Manifest {
            manifest_schema_version: a,
            profile_structure_version: b,
            chunk_hash_algorithm: c,
            signer_hotkey_ss58: d,
            files,
        })
}

proptest! {
    #![proptest_config(config(20000))]

    /// Hostile manifest bytes parse or are `BadManifest`, quickly and without a big allocation.
    #[test]
    fn prop_hostile_manifests_parse_or_are_refused(bytes in hostile(seeds())) {
        let out = bounded("Manifest::parse", &bytes, Limits::default(), || Manifest::parse(&bytes))?;
        if let Err(e) = out {
            prop_assert!(matches!(e, VerifyError::BadManifest(_)), "{e:?}");
        }
    }

    /// The whole check on bytes a miner signed honestly: any outcome is a typed one, and an
    /// accepted manifest is exactly one whose parse succeeded with the right signer and sha256.
    #[test]
    fn prop_signed_hostile_manifests_verify_or_are_refused(bytes in hostile(seeds())) {
        let signer = signer();
        let ss58 = signer.ss58();
        let signature = signer.sign(&bytes);
        let hash = verification_hash(&bytes);
        let out = bounded("verify_manifest_bytes", &bytes, Limits::default(), || verify_manifest_bytes(&bytes, &signature, &hash, &ss58, true))?;
        let parsed = Manifest::parse(&bytes);
        match out {
            Ok(report) => {
                let m = parsed.map_err(|e| TestCaseError::fail(format!("accepted but does not parse: {e}")))?;
                prop_assert_eq!(&m.signer_hotkey_ss58, &ss58);
                prop_assert_eq!(m.chunk_hash_algorithm.as_str(), CHUNK_HASH_ALGORITHM);
                prop_assert_eq!(report.file_count, m.files.len());
            }
            Err(VerifyError::BadManifest(_)) => prop_assert!(parsed.is_err()),
            Err(VerifyError::SignerMismatch { .. } | VerifyError::UnsupportedHashAlgorithm(_)) => prop_assert!(parsed.is_ok()),
            Err(e) => prop_assert!(false, "unexpected error for an honest signature: {e:?}"),
        }
        // Any other claimed hash or a cut signature is refused before parsing.
        prop_assert!(matches!(verify_manifest_bytes(&bytes, &signature, "00", &ss58, true), Err(VerifyError::HashMismatch { .. })), "a wrong claimed hash is refused first");
        prop_assert!(verify_manifest_bytes(&bytes, &signature[..63], &hash, &ss58, true).is_err());
    }

    /// A manifest's Python bytes parse back to the same manifest, and writing is stable.
    #[test]
    fn prop_manifest_round_trips(m in manifest()) {
        let bytes = m.to_python_bytes();
        let back = Manifest::parse(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(back.to_python_bytes(), bytes);
    }

    /// Python-compatible JSON of any value is JSON that reads back as the same value, ASCII only.
    #[test]
    fn prop_pyjson_round_trips(v in json()) {
        let text = pyjson::dumps_sorted_indent4(&v);
        prop_assert!(text.is_ascii());
        let back: Value = serde_json::from_str(&text).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
        prop_assert_eq!(back, v);
    }

    /// `repr(float)` reads back as the same float; the non-finite ones have Python's names.
    #[test]
    fn prop_py_float_repr_round_trips(x in any::<f64>()) {
        let text = pyjson::py_float_repr(x);
        if x.is_finite() {
            let back: f64 = text.parse().map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
            prop_assert_eq!(back.to_bits(), x.to_bits(), "{}", text);
        } else {
            prop_assert!(["NaN", "Infinity", "-Infinity"].contains(&text.as_str()));
        }
    }

    /// SS58: any key round-trips; any text decodes or is `BadSs58`.
    #[test]
    fn prop_ss58_round_trips_and_refuses(key in any::<[u8; 32]>(), prefix in 0u8..64, text in ".{0,64}", bytes in hostile(vec![b"5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY".to_vec()])) {
        prop_assert_eq!(ss58::decode(&ss58::encode(&key, prefix)).ok(), Some((u16::from(prefix), key)));
        for t in [text, String::from_utf8_lossy(&bytes).into_owned()] {
            let out = bounded("ss58::decode", t.as_bytes(), Limits::default(), || ss58::decode(&t))?;
            if let Err(e) = out {
                prop_assert!(matches!(e, VerifyError::BadSs58(_)), "{e:?}");
            }
        }
    }

    /// Hex signatures: 64 bytes or a typed `SignatureFormat`.
    #[test]
    fn prop_signature_hex_parses_or_is_refused(text in "(0x)?[0-9a-fA-Fg ]{0,140}", sig in prop::collection::vec(any::<u8>(), 64)) {
        match parse_signature_hex(&text) {
            Ok(_) => {
                let t = text.trim();
                prop_assert_eq!(t.strip_prefix("0x").unwrap_or(t).len(), 128);
            }
            Err(e) => prop_assert!(matches!(e, VerifyError::SignatureFormat(_)), "{e:?}"),
        }
        prop_assert_eq!(parse_signature_hex(&format!("0x{}", hex::encode(&sig))).ok().map(|s| s.to_vec()), Some(sig));
    }
}
