//! The fiber side of a simulated miner (miner-protocol.md §2–§6), mirroring the pinned Python
//! fiber miner: an RSA-2048 key pair, `GET /public-encryption-key`, `POST
//! /exchange-symmetric-key` (RSA-OAEP-SHA256), and on the weather POSTs the miner's checks in
//! its order — required headers (422), validator allow-list (403), nonce (401), sr25519
//! signature over `nonce:miner_hotkey:uuid` (401; no `0x` → 500), symmetric key lookup by
//! (validator hotkey, key id) (400), Fernet decryption without TTL, JSON and schema (500).
//! The decrypted `{"data": ..., "nonce": ...}` then goes to the same handlers as plain JSON.
//!
//! [`FiberMiner`] holds the state (key pair, session keys, seen nonces, an injectable clock
//! for fixed test vectors) and records why it refused each request ([`FiberRejection`]), so
//! tests can tell a replay from an expired nonce although both answer the same 401.

pub mod routes;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, OnceLock};

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine as _;
use rsa::pkcs8::{EncodePublicKey as _, LineEnding};
use rsa::{Oaep, RsaPrivateKey};
use serde::{Deserialize, Serialize};

use crate::SimError;

/// RSA modulus size (fiber: 2048, e = 65537).
pub const RSA_BITS: usize = 2048;
/// A stored symmetric key lives 5 h (fiber `SymmetricKeyInfo`, ttl 60·60·5).
pub const SYMMETRIC_KEY_TTL_NS: u128 = 5 * 3600 * 1_000_000_000;
/// Nonce window: ±120 s, and seen nonces are remembered 120 s.
pub const NONCE_WINDOW_NS: u128 = 120 * 1_000_000_000;
/// Largest accepted nonce timestamp (fiber: ≤ 10^20).
const NONCE_MAX: u128 = 100_000_000_000_000_000_000;

/// Which transport a simulated miner speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// Fiber (as the real miner) **and**, for requests carrying none of the fiber headers,
    /// the plain JSON of local tests on the same paths. The default.
    #[default]
    Fiber,
    /// Fiber only, exactly as the real miner: a request without the fiber headers gets 422.
    FiberOnly,
    /// Plain JSON only (no handshake routes, no RSA key).
    Plain,
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Fiber => "fiber",
            Transport::FiberOnly => "fiber_only",
            Transport::Plain => "plain",
        })
    }
}

impl std::str::FromStr for Transport {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, SimError> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "fiber" => Ok(Transport::Fiber),
            "fiber_only" => Ok(Transport::FiberOnly),
            "plain" | "plain_json" => Ok(Transport::Plain),
            other => Err(SimError::Config(format!(
                "unknown transport `{other}` (fiber, fiber_only, plain)"
            ))),
        }
    }
}

/// Why the fiber layer refused a request (the HTTP answer is the Python miner's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FiberRejection {
    /// A required header is missing (422).
    MissingHeader,
    /// The validator is not on the allow-list (403 "Hotkey not found in metagraph").
    NotAllowed,
    /// The nonce was seen in the last 120 s (401).
    NonceReplayed,
    /// The nonce does not parse (401).
    NonceMalformed,
    /// The nonce is more than 120 s old (401).
    NonceExpired,
    /// The nonce is more than 120 s in the future (401).
    NonceFuture,
    /// The signature header lacks `0x` or is not 64 bytes of hex (500, as fiber's TypeError).
    SignatureFormat,
    /// The validator hotkey is not an SS58 address (500).
    BadValidatorHotkey,
    /// The signature does not verify (401).
    BadSignature,
    /// The key-exchange body is not the expected JSON (422).
    BadExchangeBody,
    /// The encrypted key is not standard base64 or not 32 bytes after decryption (500).
    BadEncryptedKey,
    /// RSA-OAEP-SHA256 decryption failed (401).
    KeyUndecryptable,
    /// No key stored for (validator hotkey, key id), or it expired (400).
    NoSymmetricKey,
    /// The body is not a Fernet token of this key (500).
    BadToken,
    /// The plaintext is not the endpoint's JSON (500).
    BadPayload,
}

struct StoredKey {
    fernet: fernet::Fernet,
    expires_ns: u128,
}

#[derive(Default)]
struct State {
    keys: HashMap<(String, String), StoredKey>,
    nonces: HashMap<String, u128>,
    rejections: Vec<FiberRejection>,
    handshakes: u64,
    accepted: u64,
    fixed_now_ns: Option<u128>,
}

/// The fiber state of one simulated miner.
pub struct FiberMiner {
    private: RsaPrivateKey,
    public_pem: String,
    state: Mutex<State>,
}

impl std::fmt::Debug for FiberMiner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FiberMiner").finish_non_exhaustive()
    }
}

/// The RSA key of miner `uid`, generated on first use and kept for the process (a fiber miner
/// makes a fresh key at every process start; RSA-2048 generation costs ~0.1–1 s, so fleets
/// started by one test process share their miners' keys).
pub fn rsa_key_for(uid: u16) -> Result<RsaPrivateKey, SimError> {
    static KEYS: OnceLock<Mutex<HashMap<u16, RsaPrivateKey>>> = OnceLock::new();
    let keys = KEYS.get_or_init(Default::default);
    if let Some(k) = keys.lock().unwrap_or_else(|p| p.into_inner()).get(&uid) {
        return Ok(k.clone());
    }
    let mut rng = rsa::rand_core::OsRng;
    let key = RsaPrivateKey::new(&mut rng, RSA_BITS)
        .map_err(|e| SimError::Server(format!("RSA key generation: {e}")))?;
    Ok(keys
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(uid)
        .or_insert(key)
        .clone())
}

fn system_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

impl FiberMiner {
    /// A miner with this RSA key pair.
    pub fn new(private: RsaPrivateKey) -> Result<Self, SimError> {
        let public_pem = private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| SimError::Server(format!("public key PEM: {e}")))?;
        Ok(Self {
            private,
            public_pem,
            state: Mutex::new(State::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The SubjectPublicKeyInfo PEM served on `/public-encryption-key`.
    pub fn public_key_pem(&self) -> &str {
        &self.public_pem
    }

    /// The miner's clock in ns since the epoch (the system clock unless fixed).
    pub fn now_ns(&self) -> u128 {
        self.lock().fixed_now_ns.unwrap_or_else(system_ns)
    }

    /// Fix the miner's clock (test vectors with a fixed nonce time), or `None` for the system
    /// clock.
    pub fn set_clock(&self, fixed_now_ns: Option<u128>) {
        self.lock().fixed_now_ns = fixed_now_ns;
    }

    /// Forget every symmetric key, as a miner restarted after a crash does.
    pub fn forget_keys(&self) {
        self.lock().keys.clear();
    }

    /// Store `raw` as the key of (`validator_hotkey`, `key_id`) (the fixed request of §8.7).
    pub fn install_key(&self, validator_hotkey: &str, key_id: &str, raw: &[u8; 32]) {
        let now = self.now_ns();
        self.store_key(validator_hotkey, key_id, raw, now);
    }

    fn store_key(&self, validator_hotkey: &str, key_id: &str, raw: &[u8; 32], now: u128) {
        let Some(fernet) = fernet::Fernet::new(&URL_SAFE.encode(raw)) else {
            return;
        };
        self.lock().keys.insert(
            (validator_hotkey.to_owned(), key_id.to_owned()),
            StoredKey {
                fernet,
                expires_ns: now + SYMMETRIC_KEY_TTL_NS,
            },
        );
    }

    /// Every refusal so far, oldest first.
    pub fn rejections(&self) -> Vec<FiberRejection> {
        self.lock().rejections.clone()
    }

    /// Completed key exchanges.
    pub fn handshakes(&self) -> u64 {
        self.lock().handshakes
    }

    /// Weather requests that passed every fiber check.
    pub fn accepted(&self) -> u64 {
        self.lock().accepted
    }

    pub(crate) fn refuse(&self, why: FiberRejection) -> FiberRejection {
        let mut s = self.lock();
        if s.rejections.len() >= 10_000 {
            s.rejections.remove(0);
        }
        s.rejections.push(why);
        why
    }

    /// Fiber's nonce rules (§3.3): seen → replay; parse; record; ±120 s window.
    pub fn check_nonce(&self, nonce: &str) -> Result<(), FiberRejection> {
        let mut s = self.lock();
        let now = s.fixed_now_ns.unwrap_or_else(system_ns);
        s.nonces
            .retain(|_, seen| now.saturating_sub(*seen) < NONCE_WINDOW_NS);
        if s.nonces.contains_key(nonce) {
            return Err(FiberRejection::NonceReplayed);
        }
        let head = nonce.split('_').next().unwrap_or_default();
        let ns = (!head.is_empty() && head.bytes().all(|b| b.is_ascii_digit()))
            .then(|| head.parse::<u128>().ok())
            .flatten()
            .filter(|ns| *ns <= NONCE_MAX)
            .ok_or(FiberRejection::NonceMalformed)?;
        s.nonces.insert(nonce.to_owned(), now);
        if now > ns && now - ns > NONCE_WINDOW_NS {
            return Err(FiberRejection::NonceExpired);
        }
        if ns > now && ns - now > NONCE_WINDOW_NS {
            return Err(FiberRejection::NonceFuture);
        }
        Ok(())
    }

    /// RSA-OAEP-SHA256-decrypt a 32-byte key and store it under (validator, key id).
    pub fn exchange(
        &self,
        validator_hotkey: &str,
        key_id: &str,
        ciphertext: &[u8],
    ) -> Result<(), FiberRejection> {
        let raw = self
            .private
            .decrypt(Oaep::new::<rsa::sha2::Sha256>(), ciphertext)
            .map_err(|_| FiberRejection::KeyUndecryptable)?;
        let raw: [u8; 32] = raw
            .try_into()
            .map_err(|_| FiberRejection::BadEncryptedKey)?;
        let now = self.now_ns();
        self.store_key(validator_hotkey, key_id, &raw, now);
        self.lock().handshakes += 1;
        Ok(())
    }

    /// Decrypt a request body with the key of (validator, key id): Fernet without any time
    /// check, padded token only (as Python's decoder).
    pub fn decrypt(
        &self,
        validator_hotkey: &str,
        key_id: &str,
        token: &[u8],
    ) -> Result<Vec<u8>, FiberRejection> {
        let now = self.now_ns();
        let s = self.lock();
        let key = s
            .keys
            .get(&(validator_hotkey.to_owned(), key_id.to_owned()))
            .filter(|k| k.expires_ns > now)
            .ok_or(FiberRejection::NoSymmetricKey)?;
        let token = std::str::from_utf8(token).map_err(|_| FiberRejection::BadToken)?;
        let token = token.trim();
        if token.len() % 4 != 0 {
            return Err(FiberRejection::BadToken);
        }
        // No TTL and no clock-skew check, as Python's `Fernet.decrypt(token)`: judge the token
        // at a time no timestamp can be after.
        key.fernet
            .decrypt_at_time(token, None, u64::MAX / 2)
            .map_err(|_| FiberRejection::BadToken)
    }

    pub(crate) fn count_accepted(&self) {
        self.lock().accepted += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn miner() -> FiberMiner {
        FiberMiner::new(rsa_key_for(60_000).unwrap()).unwrap()
    }

    #[test]
    fn nonce_rules_in_fiber_order() {
        let m = miner();
        let now: u128 = 1_732_780_800_000_000_000;
        m.set_clock(Some(now));
        let ok = format!("{now}_AbCdEfGhIj");
        assert_eq!(m.check_nonce(&ok), Ok(()));
        assert_eq!(m.check_nonce(&ok), Err(FiberRejection::NonceReplayed));
        assert_eq!(m.check_nonce(&now.to_string()), Ok(()), "suffix optional");
        assert_eq!(m.check_nonce("abc_x"), Err(FiberRejection::NonceMalformed));
        assert_eq!(
            m.check_nonce("100000000000000000001_x"),
            Err(FiberRejection::NonceMalformed)
        );
        let old = format!("{}_x", now - NONCE_WINDOW_NS - 1);
        assert_eq!(m.check_nonce(&old), Err(FiberRejection::NonceExpired));
        // Recorded even though refused: the same string is now a replay.
        assert_eq!(m.check_nonce(&old), Err(FiberRejection::NonceReplayed));
        let future = format!("{}_x", now + NONCE_WINDOW_NS + 1);
        assert_eq!(m.check_nonce(&future), Err(FiberRejection::NonceFuture));
        let edge = format!("{}_y", now - NONCE_WINDOW_NS);
        assert_eq!(m.check_nonce(&edge), Ok(()));
        // Seen nonces are forgotten after 120 s.
        m.set_clock(Some(now + NONCE_WINDOW_NS + 1));
        let again = format!("{}_AbCdEfGhIj", now + NONCE_WINDOW_NS);
        assert_eq!(m.check_nonce(&again), Ok(()));
    }

    #[test]
    fn keys_expire_after_five_hours_and_tokens_must_be_padded() {
        let m = miner();
        let now: u128 = 1_732_780_800_000_000_000;
        m.set_clock(Some(now));
        let raw: [u8; 32] = std::array::from_fn(|i| i as u8);
        m.install_key("v", "k", &raw);
        let token = fernet::Fernet::new(&URL_SAFE.encode(raw))
            .unwrap()
            .encrypt(b"{}");
        assert_eq!(m.decrypt("v", "k", token.as_bytes()).unwrap(), b"{}");
        assert_eq!(
            m.decrypt("v", "other", token.as_bytes()),
            Err(FiberRejection::NoSymmetricKey)
        );
        assert_eq!(
            m.decrypt("w", "k", token.as_bytes()),
            Err(FiberRejection::NoSymmetricKey)
        );
        let unpadded = token.trim_end_matches('=');
        if unpadded.len() != token.len() {
            assert_eq!(
                m.decrypt("v", "k", unpadded.as_bytes()),
                Err(FiberRejection::BadToken)
            );
        }
        // No TTL on the token itself: a token "from" 2024 still decrypts.
        let old = "gAAAAABnSCMAAAECAwQFBgcICQoLDA0OD4NAWJbnhQDKa_yiBCKsNKXnZZhVSbTyPuBukrlDWZnc3SsaXZzt8WXMc0J1gxG4QLOukegxQp8pWRq2fr7l2ODY4NCoCKBc3wHc8kDneRbZAxaWyeusuUrObU-fF6evpH2qF21G7bS0u-Sg6eDtxkvPQYxH7o5xgnephoT_MhmEvQNRBXhr9YUZf_3HFNkHFw==";
        m.set_clock(None);
        m.install_key("v", "k", &raw);
        assert!(m.decrypt("v", "k", old.as_bytes()).is_ok());
        m.set_clock(Some(now));
        m.install_key("v", "k", &raw);
        m.set_clock(Some(now + SYMMETRIC_KEY_TTL_NS));
        assert_eq!(
            m.decrypt("v", "k", token.as_bytes()),
            Err(FiberRejection::NoSymmetricKey)
        );
        m.set_clock(None);
        m.install_key("v", "k", &raw);
        m.forget_keys();
        assert_eq!(
            m.decrypt("v", "k", token.as_bytes()),
            Err(FiberRejection::NoSymmetricKey)
        );
    }

    #[test]
    fn public_key_is_rsa_2048_spki_pem() {
        use rsa::pkcs8::DecodePublicKey as _;
        let m = miner();
        let pem = m.public_key_pem();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(pem.ends_with("-----END PUBLIC KEY-----\n"));
        let key = rsa::RsaPublicKey::from_public_key_pem(pem).unwrap();
        use rsa::traits::PublicKeyParts as _;
        assert_eq!(key.size() * 8, RSA_BITS);
        assert_eq!(key.e(), &rsa::BigUint::from(65_537u32));
        // Same uid, same key within the process.
        assert_eq!(rsa_key_for(60_000).unwrap(), rsa_key_for(60_000).unwrap());
    }

    #[test]
    fn transport_parses_and_prints() {
        for t in [Transport::Fiber, Transport::FiberOnly, Transport::Plain] {
            assert_eq!(t.to_string().parse::<Transport>().unwrap(), t);
        }
        assert_eq!(
            "fiber-only".parse::<Transport>().unwrap(),
            Transport::FiberOnly
        );
        assert!("carrier-pigeon".parse::<Transport>().is_err());
        assert_eq!(Transport::default(), Transport::Fiber);
    }
}
