//! The pieces of fiber's wire format (miner-protocol.md §2–§4, §8), as pure functions so each
//! can be checked against the documented test vectors: the signed header set, the nonce, the
//! RSA-OAEP-SHA256 key exchange body, the Fernet key and the encrypted request body.
//!
//! Base64 alphabets (§8.6): the RSA ciphertext is **standard** base64 with padding; the Fernet
//! key and token are **URL-safe** base64 with padding.

use std::fmt;

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine as _;
use gaia_protocol::Signer;
use rand::distr::{Alphanumeric, SampleString as _};
use rand::RngCore as _;
use rsa::pkcs8::DecodePublicKey as _;
use rsa::traits::PublicKeyParts as _;
use rsa::{Oaep, RsaPublicKey};
use serde_json::{json, Value};

/// `GET` route of the miner's RSA public key (§2.1).
pub const PUBLIC_KEY_PATH: &str = "/public-encryption-key";
/// `POST` route of the key exchange (§2.3).
pub const EXCHANGE_PATH: &str = "/exchange-symmetric-key";
/// Header: the 64-hex key id (§3.1).
pub const HEADER_KEY_UUID: &str = "symmetric-key-uuid";
/// Header: the validator's SS58 hotkey.
pub const HEADER_VALIDATOR_HOTKEY: &str = "validator-hotkey";
/// Header: the target miner's SS58 hotkey.
pub const HEADER_MINER_HOTKEY: &str = "miner-hotkey";
/// Header: the nonce (§3.3).
pub const HEADER_NONCE: &str = "nonce";
/// Header: `0x` + hex of the sr25519 signature (§3.2).
pub const HEADER_SIGNATURE: &str = "signature";

/// Smallest RSA modulus accepted from a miner (fiber generates 2048-bit keys).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted from a miner (bounds the encryption cost).
pub const MAX_RSA_BITS: usize = 8192;

/// A local failure building a fiber request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The miner's public key is not an RSA SubjectPublicKeyInfo PEM of an accepted size.
    #[error("miner public key unusable: {0}")]
    BadPublicKey(String),
    /// RSA-OAEP encryption failed.
    #[error("RSA-OAEP encryption failed: {0}")]
    Encrypt(String),
}

/// Whatever signs as the validator's hotkey: sr25519, signing context `substrate`, over the
/// raw message (§3.2).
pub trait HotkeySigner: Send + Sync {
    /// The SS58 address (prefix 42) sent as `validator-hotkey`.
    fn ss58(&self) -> String;
    /// A 64-byte sr25519 signature of `message`.
    fn sign(&self, message: &[u8]) -> [u8; 64];
}

impl HotkeySigner for Signer {
    fn ss58(&self) -> String {
        Signer::ss58(self)
    }
    fn sign(&self, message: &[u8]) -> [u8; 64] {
        Signer::sign(self, message)
    }
}

/// The `secretSeed` of the well-known development mnemonic ("bottom drive obey lake …"),
/// miner-protocol.md §8.1. Public knowledge: for tests and local runs only.
pub const DEV_VALIDATOR_SEED: [u8; 32] = [
    0xfa, 0xc7, 0x95, 0x9d, 0xbf, 0xe7, 0x2f, 0x05, 0x2e, 0x5a, 0x0c, 0x3c, 0x8d, 0x65, 0x30, 0xf2,
    0x02, 0xb0, 0x2f, 0xd8, 0xf9, 0xf5, 0xca, 0x35, 0x80, 0xec, 0x8d, 0xeb, 0x77, 0x97, 0x47, 0x9e,
];

/// The development validator key of §8.1 (`5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV`).
pub fn dev_validator_signer() -> Signer {
    // A fixed 32-byte seed always expands; the error arm is unreachable.
    Signer::from_seed(&DEV_VALIDATOR_SEED).unwrap_or_else(|_| unreachable!("32-byte seed"))
}

/// A fiber nonce `{ns}_{10 chars of [A-Za-z0-9]}` for the Unix time `unix_ns` (§3.3).
pub fn nonce_at(unix_ns: u128) -> String {
    let suffix = Alphanumeric.sample_string(&mut rand::rng(), 10);
    format!("{unix_ns}_{suffix}")
}

/// The system clock as nanoseconds since the Unix epoch (0 before 1970).
pub fn system_unix_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// The nanosecond timestamp of a nonce as the miner parses it (the part before the first
/// `_`, an integer ≤ 10^20), or `None`.
pub fn nonce_timestamp_ns(nonce: &str) -> Option<u128> {
    let head = nonce.split('_').next()?;
    if head.is_empty() || !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ns: u128 = head.parse().ok()?;
    (ns <= 10u128.pow(20)).then_some(ns)
}

/// Whether `nonce` has fiber's exact format `^[0-9]+_[A-Za-z0-9]{10}$` (§8.4).
pub fn is_fiber_nonce(nonce: &str) -> bool {
    match nonce.split_once('_') {
        Some((ns, tail)) => {
            !ns.is_empty()
                && ns.bytes().all(|b| b.is_ascii_digit())
                && tail.len() == 10
                && tail.bytes().all(|b| b.is_ascii_alphanumeric())
        }
        None => false,
    }
}

/// A fresh 64-lowercase-hex key id (hex of 32 random bytes, §2.2; not an RFC 4122 UUID).
pub fn new_key_id() -> String {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    hex::encode(raw)
}

/// The signed message `{nonce}:{miner_hotkey}:{key_id}` (§3.2).
pub fn signing_message(nonce: &str, miner_hotkey: &str, key_id: &str) -> String {
    format!("{nonce}:{miner_hotkey}:{key_id}")
}

/// `0x` + lowercase hex of a signature (§3.2; a missing `0x` makes a real miner answer 500).
pub fn signature_header(signature: &[u8; 64]) -> String {
    format!("0x{}", hex::encode(signature))
}

/// The five fiber headers of one request (§3.1). Build a fresh set for every HTTP request:
/// a nonce is single-use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `symmetric-key-uuid`.
    pub key_id: String,
    /// `validator-hotkey`.
    pub validator_hotkey: String,
    /// `miner-hotkey`.
    pub miner_hotkey: String,
    /// `nonce`.
    pub nonce: String,
    /// `signature` (`0x…`).
    pub signature: String,
}

impl SignedHeaders {
    /// Sign `nonce:miner_hotkey:key_id` with `signer`.
    pub fn sign(signer: &dyn HotkeySigner, miner_hotkey: &str, key_id: &str, nonce: &str) -> Self {
        let message = signing_message(nonce, miner_hotkey, key_id);
        Self {
            key_id: key_id.to_owned(),
            validator_hotkey: signer.ss58(),
            miner_hotkey: miner_hotkey.to_owned(),
            nonce: nonce.to_owned(),
            signature: signature_header(&signer.sign(message.as_bytes())),
        }
    }

    /// `(name, value)` pairs in fiber's order (Content-Type is set by the caller).
    pub fn pairs(&self) -> [(&'static str, &str); 5] {
        [
            (HEADER_KEY_UUID, &self.key_id),
            (HEADER_VALIDATOR_HOTKEY, &self.validator_hotkey),
            (HEADER_MINER_HOTKEY, &self.miner_hotkey),
            (HEADER_NONCE, &self.nonce),
            (HEADER_SIGNATURE, &self.signature),
        ]
    }
}

/// The 32-byte symmetric key of one handshake. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct SymmetricKey([u8; 32]);

impl fmt::Debug for SymmetricKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SymmetricKey(<redacted>)")
    }
}

impl SymmetricKey {
    /// 32 bytes from the OS CSPRNG (`os.urandom(32)`).
    pub fn generate() -> Self {
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        Self(raw)
    }

    /// A given key (test vectors).
    pub fn from_bytes(raw: [u8; 32]) -> Self {
        Self(raw)
    }

    /// The raw bytes (what goes inside the RSA ciphertext).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The Fernet key string: **URL-safe** base64 of the raw bytes, padded (§4).
    pub fn fernet_key(&self) -> String {
        URL_SAFE.encode(self.0)
    }

    /// The Fernet cipher of this key.
    pub fn fernet(&self) -> fernet::Fernet {
        // A URL-safe encoding of exactly 32 bytes is always a valid Fernet key.
        fernet::Fernet::new(&self.fernet_key())
            .unwrap_or_else(|| unreachable!("32-byte URL-safe key"))
    }
}

/// Parse the miner's `public_key` PEM (SubjectPublicKeyInfo) and check its size.
pub fn parse_public_key(pem: &str) -> Result<RsaPublicKey, WireError> {
    let key = RsaPublicKey::from_public_key_pem(pem.trim())
        .map_err(|e| WireError::BadPublicKey(e.to_string()))?;
    let bits = key.size() * 8;
    if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
        return Err(WireError::BadPublicKey(format!(
            "{bits}-bit modulus (accepted {MIN_RSA_BITS}..={MAX_RSA_BITS})"
        )));
    }
    Ok(key)
}

/// RSA-OAEP (SHA-256 for the label hash and MGF1, empty label) of the raw key bytes, as
/// **standard** base64 with padding (§2.3): 344 characters for a 2048-bit key.
pub fn encrypt_symmetric_key(
    public: &RsaPublicKey,
    key: &SymmetricKey,
) -> Result<String, WireError> {
    let mut rng = rsa::rand_core::OsRng;
    let ct = public
        .encrypt(&mut rng, Oaep::new::<rsa::sha2::Sha256>(), key.as_bytes())
        .map_err(|e| WireError::Encrypt(e.to_string()))?;
    Ok(STANDARD.encode(ct))
}

/// The JSON body of `POST /exchange-symmetric-key`.
pub fn exchange_body(encrypted_key_b64: &str) -> Value {
    json!({ "encrypted_symmetric_key": encrypted_key_b64 })
}

/// The request plaintext `{"data": data, "nonce": body_nonce}` (§4; the body nonce is a
/// second, independent fiber nonce the miner never checks).
pub fn request_plaintext(data: Value, body_nonce: &str) -> Vec<u8> {
    json!({ "data": data, "nonce": body_nonce })
        .to_string()
        .into_bytes()
}

/// The wire body: the Fernet token of `plaintext` (URL-safe base64, padded, ASCII).
pub fn encrypt_body(fernet: &fernet::Fernet, plaintext: &[u8]) -> String {
    fernet.encrypt(plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gaia_protocol::{parse_signature_hex, verify_signature, SignedForm};

    // miner-protocol.md §8.
    const VALIDATOR_SS58: &str = "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV";
    const VALIDATOR_PUB: &str = "46ebddef8cd9bb167dc30878d7113b7e168e6f0646beffd77d69d39bad76b47a";
    const MINER_SS58: &str = "5GU2wYArpfPATbMJvm7WGM5wJqyWdWiZdn7Jo1GoQ4ixmrAo";
    const KEY_ID: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const NONCE: &str = "1732780800123456789_AbCdEfGhIj";
    const PYTHON_SIG: &str = "0xa819f332ddb508112d7a4c913dbe51b2ff63bc6c73a74170d8ae256ebf082e419ab1ab2ab6f464d62941d34e42dee01c2074666efdab10dd67b490756d68a98a";

    #[test]
    fn dev_key_is_the_documented_secret_seed_key() {
        let s = dev_validator_signer();
        assert_eq!(HotkeySigner::ss58(&s), VALIDATOR_SS58);
        assert_eq!(hex::encode(s.public_key()), VALIDATOR_PUB);
    }

    #[test]
    fn second_key_and_ss58_vectors() {
        use rsa::sha2::{Digest as _, Sha256};
        let seed: [u8; 32] = Sha256::digest(b"gaia-miner-test").into();
        assert_eq!(
            hex::encode(seed),
            "ab58ab9317c17c98816ad970dbc533dc45687acd9e790f521cc656298e615c29"
        );
        let miner = Signer::from_seed(&seed).unwrap();
        assert_eq!(
            hex::encode(miner.public_key()),
            "c2bbd20820c27b2f0caf2767339139f2333843f004bbb840f0777aa5737c5a3c"
        );
        assert_eq!(HotkeySigner::ss58(&miner), MINER_SS58);
        // §8.2: the same validator key with prefix 0; both forms decode to one key.
        let public = dev_validator_signer().public_key();
        let prefix0 = gaia_protocol::ss58::encode(&public, 0);
        assert_eq!(prefix0, "12bzRJfh7arnnfPPUZHeJUaE62QLEwhK48QnH9LXeK2m1iZU");
        assert_eq!(gaia_protocol::ss58::decode(&prefix0).unwrap(), (0, public));
        assert_eq!(
            gaia_protocol::ss58::decode(VALIDATOR_SS58).unwrap(),
            (42, public)
        );
    }

    #[test]
    fn header_signature_vector() {
        let msg = signing_message(NONCE, MINER_SS58, KEY_ID);
        assert_eq!(msg.len(), 144);
        assert_eq!(
            msg,
            "1732780800123456789_AbCdEfGhIj:5GU2wYArpfPATbMJvm7WGM5wJqyWdWiZdn7Jo1GoQ4ixmrAo:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
        );
        // 1. the Python-made signature verifies.
        let sig = parse_signature_hex(PYTHON_SIG).unwrap();
        assert_eq!(
            verify_signature(VALIDATOR_SS58, msg.as_bytes(), &sig).unwrap(),
            SignedForm::Raw
        );
        // 2./3. ours verifies and has the header form.
        let h = SignedHeaders::sign(&dev_validator_signer(), MINER_SS58, KEY_ID, NONCE);
        assert_eq!(h.validator_hotkey, VALIDATOR_SS58);
        assert!(h.signature.starts_with("0x"));
        assert_eq!(h.signature.len(), 130);
        assert!(h.signature[2..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        let ours = parse_signature_hex(&h.signature).unwrap();
        assert_eq!(
            verify_signature(VALIDATOR_SS58, msg.as_bytes(), &ours).unwrap(),
            SignedForm::Raw
        );
        let names: Vec<_> = h.pairs().iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "symmetric-key-uuid",
                "validator-hotkey",
                "miner-hotkey",
                "nonce",
                "signature"
            ]
        );
    }

    #[test]
    fn nonce_format_and_parse() {
        let n = nonce_at(1_732_780_800_123_456_789);
        assert!(is_fiber_nonce(&n), "{n}");
        assert!(n.starts_with("1732780800123456789_"));
        assert_eq!(nonce_timestamp_ns(NONCE), Some(1_732_780_800_123_456_789));
        assert!(is_fiber_nonce(NONCE));
        let now = nonce_at(system_unix_ns());
        assert_eq!(now.split('_').next().unwrap().len(), 19);
        assert_ne!(nonce_at(1), nonce_at(1));
        assert_eq!(
            nonce_timestamp_ns("1732780800123456789"),
            Some(1_732_780_800_123_456_789)
        );
        assert_eq!(nonce_timestamp_ns("abc_x"), None);
        assert_eq!(nonce_timestamp_ns("100000000000000000001_x"), None);
        assert!(!is_fiber_nonce("1_abc"));
        assert!(!is_fiber_nonce("x_AbCdEfGhIj"));
    }

    #[test]
    fn key_id_is_64_lowercase_hex() {
        let id = new_key_id();
        assert_eq!(id.len(), 64);
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_ne!(id, new_key_id());
    }

    #[test]
    fn fernet_fixed_vector_decrypts() {
        let mut raw = [0u8; 32];
        for (i, b) in raw.iter_mut().enumerate() {
            *b = i as u8;
        }
        let key = SymmetricKey::from_bytes(raw);
        assert_eq!(
            key.fernet_key(),
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
        );
        let token = "gAAAAABnSCMAAAECAwQFBgcICQoLDA0OD4NAWJbnhQDKa_yiBCKsNKXnZZhVSbTyPuBukrlDWZnc3SsaXZzt8WXMc0J1gxG4QLOukegxQp8pWRq2fr7l2ODY4NCoCKBc3wHc8kDneRbZAxaWyeusuUrObU-fF6evpH2qF21G7bS0u-Sg6eDtxkvPQYxH7o5xgnephoT_MhmEvQNRBXhr9YUZf_3HFNkHFw==";
        assert_eq!(token.len(), 228);
        let plain = key.fernet().decrypt(token).unwrap();
        assert_eq!(
            String::from_utf8(plain).unwrap(),
            r#"{"data": {"job_id": "3f1c2a9e-5b7d-4c2e-9a1b-0d4e6f8a2b3c"}, "nonce": "1732780800223456789_ZyXwVuTsRq"}"#
        );
        let raw_token = URL_SAFE.decode(token).unwrap();
        assert_eq!(raw_token.len(), 169);
        assert_eq!(raw_token[0], 0x80);
        assert_eq!(&raw_token[1..9], &1_732_780_800u64.to_be_bytes());
        assert_eq!(&raw_token[9..25], &raw[..16]);
        assert_eq!(
            hex::encode(&raw_token[137..]),
            "cf418c47ee8e718277a98684ff321984bd035105786bf585197ffdc714d90717"
        );
    }

    #[test]
    fn our_tokens_have_the_documented_layout() {
        let key = SymmetricKey::generate();
        for n in [0usize, 1, 15, 16, 103, 1000] {
            let plain = vec![b'x'; n];
            let token = encrypt_body(&key.fernet(), &plain);
            assert_eq!(token.len() % 4, 0, "padded");
            assert!(token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'='));
            let raw = URL_SAFE.decode(&token).unwrap();
            assert_eq!(raw[0], 0x80);
            assert_eq!(raw.len(), 57 + 16 * ((n + 1).div_ceil(16)));
            let t = u64::from_be_bytes(raw[1..9].try_into().unwrap());
            let now = system_unix_ns() / 1_000_000_000;
            assert!((now as i128 - t as i128).abs() < 5);
            assert_eq!(key.fernet().decrypt(&token).unwrap(), plain);
        }
    }

    #[test]
    fn base64_alphabets_differ_as_documented() {
        let bytes: Vec<u8> = std::iter::repeat_n([0xfb, 0xff], 16).flatten().collect();
        assert!(STANDARD.encode(&bytes).starts_with("+//7"));
        assert!(URL_SAFE.encode(&bytes).starts_with("-__7"));
        assert!(STANDARD.encode(&bytes).ends_with("+/8="));
        assert!(URL_SAFE.encode(&bytes).ends_with("-_8="));
        // A standard-alphabet key with `+`/`/` is refused by the Rust crate (§4): we never make one.
        let key = SymmetricKey::from_bytes([0xfb; 32]);
        assert!(fernet::Fernet::new(&STANDARD.encode(key.as_bytes())).is_none());
        assert!(fernet::Fernet::new(&key.fernet_key()).is_some());
    }

    #[test]
    fn plaintext_has_data_and_nonce() {
        let p = request_plaintext(json!({"job_id": "j"}), NONCE);
        let v: Value = serde_json::from_slice(&p).unwrap();
        assert_eq!(v, json!({"data": {"job_id": "j"}, "nonce": NONCE}));
    }

    #[test]
    fn bad_public_keys_are_named() {
        assert!(matches!(
            parse_public_key("garbage"),
            Err(WireError::BadPublicKey(_))
        ));
        assert!(matches!(
            parse_public_key("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
            Err(WireError::BadPublicKey(_))
        ));
    }
}
