//! sr25519 signatures over manifests, as substrate-interface makes and checks them: schnorrkel
//! with signing context `substrate`; verification also accepts the `<Bytes>…</Bytes>`-wrapped
//! message (miner-protocol.md §3.2, §7.4). Keys come from a 32-byte mini secret expanded in
//! Ed25519 mode (§8.1).

use schnorrkel::{ExpansionMode, Keypair, MiniSecretKey, PublicKey, Signature};

use crate::{ss58, VerifyError};

const CONTEXT: &[u8] = b"substrate";

/// Which form of the message a signature was made over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignedForm {
    /// The raw message bytes.
    Raw,
    /// `<Bytes>` + message + `</Bytes>` (Polkadot.js-style wrapping).
    BytesWrapped,
}

/// Parse a signature given as hex (with or without `0x`) or as raw bytes.
pub fn parse_signature_hex(text: &str) -> Result<[u8; 64], VerifyError> {
    let t = text.trim();
    let t = t.strip_prefix("0x").unwrap_or(t);
    let raw = hex::decode(t).map_err(|e| VerifyError::SignatureFormat(format!("not hex: {e}")))?;
    signature_bytes(&raw)
}

/// Check that `raw` is a 64-byte signature.
pub fn signature_bytes(raw: &[u8]) -> Result<[u8; 64], VerifyError> {
    raw.try_into()
        .map_err(|_| VerifyError::SignatureFormat(format!("{} bytes, expected 64", raw.len())))
}

/// Verify `signature` of `message` by the key behind `ss58_address`.
pub fn verify(
    ss58_address: &str,
    message: &[u8],
    signature: &[u8; 64],
) -> Result<SignedForm, VerifyError> {
    let (_, key) = ss58::decode(ss58_address)?;
    let public = PublicKey::from_bytes(&key)
        .map_err(|_| VerifyError::BadSs58(format!("`{ss58_address}` is not an sr25519 key")))?;
    let sig = Signature::from_bytes(signature).map_err(|_| VerifyError::BadSignature)?;
    if public.verify_simple(CONTEXT, message, &sig).is_ok() {
        return Ok(SignedForm::Raw);
    }
    let mut wrapped = Vec::with_capacity(message.len() + 15);
    wrapped.extend_from_slice(b"<Bytes>");
    wrapped.extend_from_slice(message);
    wrapped.extend_from_slice(b"</Bytes>");
    if public.verify_simple(CONTEXT, &wrapped, &sig).is_ok() {
        return Ok(SignedForm::BytesWrapped);
    }
    Err(VerifyError::BadSignature)
}

/// A signing key from a 32-byte seed (substrate-interface `Keypair.create_from_seed`).
pub struct Signer {
    keypair: Keypair,
}

impl Signer {
    /// Expand `seed` as a schnorrkel mini secret key (Ed25519 expansion mode).
    pub fn from_seed(seed: &[u8; 32]) -> Result<Self, VerifyError> {
        let mini = MiniSecretKey::from_bytes(seed)
            .map_err(|_| VerifyError::SignatureFormat("bad seed".into()))?;
        Ok(Self {
            keypair: mini.expand_to_keypair(ExpansionMode::Ed25519),
        })
    }

    /// Parse a seed given as 64 hex digits (optional `0x`).
    pub fn from_seed_hex(text: &str) -> Result<Self, VerifyError> {
        let t = text.trim();
        let raw = hex::decode(t.strip_prefix("0x").unwrap_or(t))
            .map_err(|e| VerifyError::SignatureFormat(format!("seed not hex: {e}")))?;
        let seed: [u8; 32] = raw
            .try_into()
            .map_err(|_| VerifyError::SignatureFormat("seed must be 32 bytes".into()))?;
        Self::from_seed(&seed)
    }

    /// The public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.keypair.public.to_bytes()
    }

    /// The SS58 address (prefix 42).
    pub fn ss58(&self) -> String {
        ss58::encode(&self.public_key(), 42)
    }

    /// Sign `message` (randomised, so two signatures of one message differ).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.keypair.sign_simple(CONTEXT, message).to_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // miner-protocol.md §8.1 and §8.3.
    const VALIDATOR_SEED: &str = "fac7959dbfe72f052e5a0c3c8d6530f202b02fd8f9f5ca3580ec8deb7797479e";
    const VALIDATOR_SS58: &str = "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV";
    const MINER_SEED: &str = "ab58ab9317c17c98816ad970dbc533dc45687acd9e790f521cc656298e615c29";
    const MINER_SS58: &str = "5GU2wYArpfPATbMJvm7WGM5wJqyWdWiZdn7Jo1GoQ4ixmrAo";
    const MESSAGE: &str = "1732780800123456789_AbCdEfGhIj:5GU2wYArpfPATbMJvm7WGM5wJqyWdWiZdn7Jo1GoQ4ixmrAo:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const PYTHON_SIG: &str = "0xa819f332ddb508112d7a4c913dbe51b2ff63bc6c73a74170d8ae256ebf082e419ab1ab2ab6f464d62941d34e42dee01c2074666efdab10dd67b490756d68a98a";

    #[test]
    fn keys_match_the_documented_vectors() {
        assert_eq!(
            Signer::from_seed_hex(VALIDATOR_SEED).unwrap().ss58(),
            VALIDATOR_SS58
        );
        assert_eq!(
            Signer::from_seed_hex(&format!("0x{MINER_SEED}"))
                .unwrap()
                .ss58(),
            MINER_SS58
        );
    }

    #[test]
    fn python_made_signature_verifies() {
        assert_eq!(MESSAGE.len(), 144);
        let sig = parse_signature_hex(PYTHON_SIG).unwrap();
        assert_eq!(
            verify(VALIDATOR_SS58, MESSAGE.as_bytes(), &sig).unwrap(),
            SignedForm::Raw
        );
        assert!(matches!(
            verify(MINER_SS58, MESSAGE.as_bytes(), &sig),
            Err(VerifyError::BadSignature)
        ));
        assert!(matches!(
            verify(VALIDATOR_SS58, b"other", &sig),
            Err(VerifyError::BadSignature)
        ));
    }

    #[test]
    fn sign_verify_and_wrapped_form() {
        let s = Signer::from_seed_hex(MINER_SEED).unwrap();
        let sig = s.sign(b"manifest");
        assert_eq!(
            verify(MINER_SS58, b"manifest", &sig).unwrap(),
            SignedForm::Raw
        );
        let wrapped = s.sign(b"<Bytes>manifest</Bytes>");
        assert_eq!(
            verify(MINER_SS58, b"manifest", &wrapped).unwrap(),
            SignedForm::BytesWrapped
        );
    }

    #[test]
    fn malformed_inputs_are_named_errors() {
        assert!(matches!(
            parse_signature_hex("zz"),
            Err(VerifyError::SignatureFormat(_))
        ));
        assert!(matches!(
            parse_signature_hex("0x00"),
            Err(VerifyError::SignatureFormat(_))
        ));
        assert!(matches!(
            verify(MINER_SS58, b"m", &[0u8; 64]),
            Err(VerifyError::BadSignature)
        ));
        assert!(Signer::from_seed_hex("00").is_err());
        assert!(Signer::from_seed_hex("xyz").is_err());
    }
}
