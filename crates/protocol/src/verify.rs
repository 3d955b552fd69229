//! The check of a served manifest (spec §2.2 steps 4–5): the bytes of `manifest.json` and
//! `manifest.sig` as the miner served them are checked for the hash the miner claimed, the signer
//! against the miner's hotkey, the sr25519 signature and the hash policy; the result is the
//! manifest to freeze. Fetching the files is the caller's business (the IO-Engine, or
//! `gaia_scoring::verify::fetch_and_verify_manifest` in a compute worker).

use serde::{Deserialize, Serialize};

use crate::manifest::{verification_hash, FrozenManifest, Manifest, CHUNK_HASH_ALGORITHM};
use crate::signature::{parse_signature_hex, signature_bytes, verify, SignedForm};
use crate::VerifyError;

/// Largest manifest accepted (a 0.25° forecast has a few thousand files; 64 MiB is generous).
pub const MAX_MANIFEST_BYTES: usize = 64 * 1024 * 1024;

/// Payload of `weather.verify.manifest` when the manifest files were already fetched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyManifestRequest {
    /// The exact bytes of `manifest.json` as served (UTF-8 text; Python writes pure ASCII).
    pub manifest_json: String,
    /// `manifest.sig` as hex (raw 64 bytes served by the miner, hex-encoded by the IO-Engine).
    pub signature_hex: String,
    /// The verification hash the miner reported.
    pub claimed_hash: String,
    /// The miner's hotkey from the metagraph / database.
    pub miner_hotkey_ss58: String,
    /// Require `chunk_hash_algorithm == "sha256"` (`WEATHER_REQUIRE_SHA256_MANIFESTS`, default
    /// true).
    #[serde(default = "default_true")]
    pub require_sha256: bool,
}

fn default_true() -> bool {
    true
}

/// Result of `weather.verify.manifest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyManifestReport {
    /// SHA-256 of the manifest bytes (equals the claimed hash).
    pub verification_hash: String,
    /// Number of files in the manifest.
    pub file_count: usize,
    /// Which message form the signature covered.
    pub signed_form: SignedForm,
    /// What to persist and pass to later scoring jobs.
    pub frozen: FrozenManifest,
}

/// Verify a fetched manifest; every failure is a named [`VerifyError`].
pub fn verify_manifest(req: &VerifyManifestRequest) -> Result<VerifyManifestReport, VerifyError> {
    let sig = parse_signature_hex(&req.signature_hex)?;
    verify_manifest_bytes(
        req.manifest_json.as_bytes(),
        &sig,
        &req.claimed_hash,
        &req.miner_hotkey_ss58,
        req.require_sha256,
    )
}

/// The same check on raw bytes (`manifest.json` and the raw 64-byte `manifest.sig`).
pub fn verify_manifest_bytes(
    manifest: &[u8],
    signature: &[u8],
    claimed_hash: &str,
    miner_hotkey_ss58: &str,
    require_sha256: bool,
) -> Result<VerifyManifestReport, VerifyError> {
    if manifest.len() > MAX_MANIFEST_BYTES {
        return Err(VerifyError::BadManifest(format!(
            "{} bytes, over {MAX_MANIFEST_BYTES}",
            manifest.len()
        )));
    }
    let computed = verification_hash(manifest);
    if !computed.eq_ignore_ascii_case(claimed_hash.trim()) {
        return Err(VerifyError::HashMismatch {
            claimed: claimed_hash.to_owned(),
            computed,
        });
    }
    let parsed = Manifest::parse(manifest)?;
    if parsed.signer_hotkey_ss58 != miner_hotkey_ss58 {
        return Err(VerifyError::SignerMismatch {
            manifest: parsed.signer_hotkey_ss58,
            expected: miner_hotkey_ss58.to_owned(),
        });
    }
    let sig = signature_bytes(signature)?;
    let signed_form = verify(miner_hotkey_ss58, manifest, &sig)?;
    if require_sha256 && parsed.chunk_hash_algorithm != CHUNK_HASH_ALGORITHM {
        return Err(VerifyError::UnsupportedHashAlgorithm(
            parsed.chunk_hash_algorithm,
        ));
    }
    Ok(VerifyManifestReport {
        verification_hash: computed.clone(),
        file_count: parsed.files.len(),
        signed_form,
        frozen: FrozenManifest::from_manifest(&parsed, computed),
    })
}
