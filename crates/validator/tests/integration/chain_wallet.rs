//! Hotkey files written by the real `bittensor-wallet` Keyfile writer
//! (`scripts/fixtures/chain_fixtures.py`, committed under `tests/fixtures/chain/wallets/`): the
//! plain ones load to the addresses bittensor-wallet printed, an encrypted one and tampered copies
//! are refused with named errors that name the file.

use std::path::{Path, PathBuf};

use gaia_validator::chain::wallet::{hotkey_path, load_hotkey, WalletError};
use gaia_validator::chain::ChainError;
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/chain");

fn path(name: &str) -> PathBuf {
    hotkey_path(&Path::new(FIXTURES).join("wallets"), "gaia", name)
}

fn expected() -> Value {
    let text = std::fs::read_to_string(format!("{FIXTURES}/set_weights.json")).expect("golden");
    serde_json::from_str::<Value>(&text).expect("JSON")["wallets"].clone()
}

#[test]
fn bittensor_wallet_files_load_to_their_addresses() {
    let want = expected();
    for name in ["default", "devphrase"] {
        let key = load_hotkey(&path(name)).expect(name);
        assert_eq!(key.ss58(), want[name]["ss58"].as_str().unwrap(), "{name}");
        assert_eq!(
            format!("0x{}", hex::encode(key.public_key())),
            want[name]["public_key"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(key.path(), path(name));
    }
    // The development phrase key is chain.md §4.3's test vector.
    assert_eq!(
        load_hotkey(&path("devphrase")).unwrap().ss58(),
        "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV"
    );
}

#[test]
fn encrypted_hotkey_is_refused_by_name() {
    let err = load_hotkey(&path("encrypted")).unwrap_err();
    assert!(
        matches!(&err, WalletError::Encrypted { path: p, format } if *p == path("encrypted") && format.contains("NACL")),
        "{err:?}"
    );
    assert!(err.to_string().contains("hotkeys/encrypted"), "{err}");
}

#[test]
fn tampered_files_are_mismatches_naming_the_file() {
    let want = expected();
    match load_hotkey(&path("wrong_ss58")) {
        Err(WalletError::Mismatch {
            path: p,
            field,
            in_file,
            derived,
        }) => {
            assert_eq!(p, path("wrong_ss58"));
            assert_eq!(field, "ss58Address");
            assert_eq!(in_file, want["wrong_ss58_file_value"].as_str().unwrap());
            assert_eq!(derived, want["default"]["ss58"].as_str().unwrap());
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    let err = load_hotkey(&path("wrong_pubkey")).unwrap_err();
    assert!(
        matches!(
            &err,
            WalletError::Mismatch {
                field: "publicKey",
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("wrong_pubkey") && text.contains("publicKey"),
        "{text}"
    );
    // Converts into the chain layer's error.
    let chain: ChainError = err.into();
    assert!(chain.to_string().contains("wrong_pubkey"));
}

#[test]
fn missing_and_malformed_files_are_named_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    assert!(matches!(load_hotkey(&missing), Err(WalletError::Io { path, .. }) if path == missing));

    let cases: [(&str, &str); 5] = [
        ("not_json", "hello"),
        (
            "no_seed",
            r#"{"ss58Address": "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV"}"#,
        ),
        (
            "short_seed",
            r#"{"secretSeed": "0x1234", "ss58Address": "x"}"#,
        ),
        (
            "no_ss58",
            r#"{"secretSeed": "0xfac7959dbfe72f052e5a0c3c8d6530f202b02fd8f9f5ca3580ec8deb7797479e"}"#,
        ),
        ("array", "[1, 2]"),
    ];
    for (name, body) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        let err = load_hotkey(&p).unwrap_err();
        match name {
            "short_seed" => assert!(matches!(err, WalletError::BadSeed { .. }), "{err:?}"),
            _ => assert!(matches!(err, WalletError::Format { .. }), "{name}: {err:?}"),
        }
        assert!(err.to_string().contains(name), "{err}");
        assert!(!err.to_string().contains("fac7959d"), "seed leaked: {err}");
    }

    let big = dir.path().join("big");
    std::fs::write(&big, vec![b' '; 100 * 1024]).unwrap();
    assert!(matches!(
        load_hotkey(&big),
        Err(WalletError::TooLarge { .. })
    ));
}
