//! `weather.verify.manifest` end to end from a store location (spec §2.2 step 4): fetch
//! `manifest.json` and `manifest.sig` with the miner's Bearer token (bounded size and time), then
//! run the pure checks of [`gaia_protocol::verify_manifest_bytes`].
//!
//! For a compute handler that is handed the store URL instead of the fetched bytes.

use std::time::Duration;

use gaia_protocol::{verify_manifest_bytes, VerifyError, VerifyManifestReport, MAX_MANIFEST_BYTES};
use serde::{Deserialize, Serialize};

use crate::zarr::{fetch_raw, OpenOptions};

/// Payload of `weather.verify.manifest` when the worker fetches the files itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteManifestRequest {
    /// The store: `https://ip:port/forecasts/<job>.zarr` or a directory.
    pub store_url: String,
    /// The miner's access token (`Authorization: Bearer`).
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// The verification hash the miner reported.
    pub claimed_hash: String,
    /// The miner's hotkey.
    pub miner_hotkey_ss58: String,
    /// Require `chunk_hash_algorithm == "sha256"`.
    #[serde(default = "default_true")]
    pub require_sha256: bool,
    /// Per-request timeout in seconds (default 60).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
}

fn default_true() -> bool {
    true
}

/// Fetch and verify a miner's manifest.
pub fn fetch_and_verify_manifest(
    req: &RemoteManifestRequest,
) -> Result<VerifyManifestReport, VerifyError> {
    let options = OpenOptions {
        bearer_token: req.bearer_token.clone(),
        timeout: Duration::from_secs(req.timeout_seconds.unwrap_or(60)),
        max_chunk_bytes: MAX_MANIFEST_BYTES as u64,
        max_metadata_bytes: MAX_MANIFEST_BYTES as u64,
        ..OpenOptions::default()
    };
    let fetch = |key: &str| -> Result<Vec<u8>, VerifyError> {
        fetch_raw(&req.store_url, key, &options)
            .map_err(|e| VerifyError::Fetch(format!("{key}: {e}")))?
            .ok_or_else(|| VerifyError::Fetch(format!("{key}: not found")))
    };
    let manifest = fetch("manifest.json")?;
    let signature = fetch("manifest.sig")?;
    verify_manifest_bytes(
        &manifest,
        &signature,
        &req.claimed_hash,
        &req.miner_hotkey_ss58,
        req.require_sha256,
    )
}
