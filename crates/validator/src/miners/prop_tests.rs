//! Property tests of what a miner sends over fiber (issue 20): answer bodies and status codes,
//! the RSA public key PEM, the store location it hands back (path traversal, foreign hosts),
//! nonces and axon addresses. Arbitrary and mutated inputs end in a value or a typed error naming
//! the endpoint, within a time and allocation bound; an accepted store URL is always on the
//! miner's own address under `/forecasts/`.

use std::net::IpAddr;

use gaia_testkit::hostile::{bounded, config, hostile, Limits};
use proptest::prelude::*;
use serde_json::Value;

use super::client::{InitiateFetchAnswer, KerchunkAnswer, PollAnswer};
use super::fiber::wire::{is_fiber_nonce, nonce_timestamp_ns, parse_public_key, WireError};
use super::fiber::{axon_address, axon_ip, parse_axon_ip, FiberError};
use super::url_policy::{MinerAddress, UrlPolicy, UrlRefusal};

/// The miner is on a documentation address (203.0.113.7), so the policy allows private ones.
/// A real 2048-bit SubjectPublicKeyInfo PEM as a miner serves it.
const MINER_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAx0dbmfIMIfqTq4rUbvrR
llT5QGuFqiZ0zS5b7XFzaMarnOEtWPn6UchqcuTG/O0nBYSfZIR0buNLvs2YzMV8
v9LG9Q3MH/hPgpWTjrs2IoErwXfZMKF0E2J3caaVj0TejfiYvTo6CwvFjeyZOu5A
4UItBUZ9m7AoZtZhBmeE0MSqNAx4HAW/HbQKrEcfl+cNGty9FGM/etsO9e4cNuTR
HVMKHsCDnv4nPeMm8vtBu64siZ89zEnbloCQR4BRCZ2gJk26xDYwRECXn5xnngCw
DEn+KGRSe05H1b0TzjLTe30Imf6e7K8bMthJ6fZByXwlwiKYDCEf2JXvVEyulxJ3
VwIDAQAB
-----END PUBLIC KEY-----
";

/// Answers of the Gaia miner endpoints as a miner sends them.
fn answer_seeds() -> Vec<Vec<u8>> {
    vec![
        br#"{"status": "fetch_accepted", "job_id": "weather_job_2026010100_5F3sa", "message": "queued"}"#.to_vec(),
        br#"{"status": "completed", "message": "ok", "zarr_store_url": "/forecasts/weather_forecast_2026010100_miner_hk.zarr", "verification_hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "access_token": "eyJhbGciOiJIUzI1NiJ9.e30.x"}"#.to_vec(),
        br#"{"detail": "No symmetric key found for the given key id"}"#.to_vec(),
        br#"{"public_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "timestamp": 1767225600.5, "hotkey": "5F"}"#.to_vec(),
    ]
}

fn url_seeds() -> Vec<Vec<u8>> {
    vec![
        b"/forecasts/weather_forecast_2026010100_miner_hk.zarr".to_vec(),
        b"https://203.0.113.7:8091/forecasts/a.zarr".to_vec(),
        b"https://user@203.0.113.7:8091/forecasts/../../etc/passwd".to_vec(),
        b"http://[2001:db8::1]:8091/forecasts/x.zarr".to_vec(),
    ]
}

fn miner() -> MinerAddress {
    MinerAddress {
        ip: IpAddr::from([203, 0, 113, 7]),
        port: 8091,
        scheme: "https",
    }
}

proptest! {
    #![proptest_config(config(20000))]

    /// Any status and body: JSON for a 2xx, else a named error; the endpoint is always named.
    #[test]
    fn prop_hostile_answers_are_classified(bytes in hostile(answer_seeds()), status in prop_oneof![Just(200u16), Just(401), Just(403), Just(429), 100u16..600]) {
        let endpoint = "/weather-kerchunk-request";
        let out = bounded("classify_answer", &bytes, Limits::default(), || super::fiber::classify_answer(endpoint, status, &bytes))?;
        match out {
            Ok(v) => {
                prop_assert!((200..300).contains(&status));
                // The typed answers read any JSON object (missing keys are None) or refuse it.
                let _ = serde_json::from_value::<InitiateFetchAnswer>(v.clone());
                let _ = serde_json::from_value::<PollAnswer>(v.clone());
                if let Ok(k) = serde_json::from_value::<KerchunkAnswer>(v) {
                    if let Some(url) = k.zarr_store_url {
                        check_resolved(&url)?;
                    }
                }
            }
            Err(FiberError::KeyExchangeRefused { detail }) => prop_assert!(detail.chars().count() <= 200),
            Err(e) => {
                let text = e.to_string();
                prop_assert!(text.contains(endpoint), "{text}");
                prop_assert!(text.chars().count() < 400, "detail is truncated: {} chars", text.chars().count());
            }
        }
    }

    /// The miner's public key: a usable 2048..=4096-bit key or `BadPublicKey`.
    #[test]
    fn prop_hostile_public_keys_parse_or_are_refused(bytes in hostile(vec![MINER_PEM.as_bytes().to_vec()])) {
        let text = String::from_utf8_lossy(&bytes);
        let out = bounded("parse_public_key", &bytes, Limits::default(), || parse_public_key(&text))?;
        if let Err(e) = out {
            prop_assert!(matches!(e, WireError::BadPublicKey(_)), "{e:?}");
        }
    }

    /// A store location from the miner is on the miner's own address under /forecasts/, or refused.
    #[test]
    fn prop_hostile_store_urls_stay_on_the_miner(bytes in hostile(url_seeds())) {
        check_resolved(&String::from_utf8_lossy(&bytes))?;
    }

    /// Nonces and axon addresses: any text, no panic; the accepted forms are the documented ones.
    #[test]
    fn prop_nonces_and_axon_ips(text in prop_oneof![".{0,40}", "[0-9]{1,25}_[A-Za-z0-9]{10}", "[0-9]{1,45}"], ip in any::<u128>(), ip_type in any::<u8>(), port in any::<u16>()) {
        if is_fiber_nonce(&text) {
            let digits = text.split('_').next().unwrap_or_default();
            prop_assert_eq!(nonce_timestamp_ns(&text).is_some(), digits.parse::<u128>().is_ok_and(|n| n <= 10u128.pow(20)));
        }
        if let Some(ip) = parse_axon_ip(&text) {
            prop_assert!(!ip.is_unspecified());
        }
        match axon_address(ip, ip_type, port) {
            Some(a) => prop_assert!(port != 0 && ip != 0 && Some(a.ip) == axon_ip(ip, ip_type)),
            None => prop_assert!(port == 0 || axon_ip(ip, ip_type).is_none()),
        }
    }
}

/// `returned` resolves to a URL on the miner under `/forecasts/` without traversal, or is refused.
fn check_resolved(returned: &str) -> Result<(), TestCaseError> {
    let m = miner();
    let out = bounded(
        "resolve_store_url",
        returned.as_bytes(),
        Limits::default(),
        || {
            (UrlPolicy {
                allow_private: true,
            })
            .resolve_store_url(&m, returned)
        },
    )?;
    match out {
        Ok(url) => {
            let base = format!("{}/forecasts/", m.base_url());
            prop_assert!(url.starts_with(&base), "{url}");
            let path = &url[base.len() - 1..];
            prop_assert!(!path.split('/').any(|s| s == ".." || s == "."), "{url}");
            // `@` in a path is harmless: the authority ends at the first `/` of the base URL.
            prop_assert!(
                !url.contains(['?', '#', '%', '\\']) && !url.chars().any(char::is_control),
                "{url}"
            );
        }
        Err(UrlRefusal::NonPublicAddress(_)) => {
            prop_assert!(false, "private addresses are allowed here")
        }
        Err(_) => {}
    }
    Ok(())
}

#[test]
fn the_seed_key_parses() {
    assert!(parse_public_key(MINER_PEM).is_ok());
    let v: Value = serde_json::from_slice(&answer_seeds()[1]).expect("seed is JSON");
    assert!(serde_json::from_value::<KerchunkAnswer>(v).is_ok());
}
