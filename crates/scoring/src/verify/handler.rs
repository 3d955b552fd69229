//! The compute handler `weather.verify.manifest` (spec §2.2 steps 4–5): the IO-Engine either
//! fetched `manifest.json` and `manifest.sig` from the miner
//! ([`VerifyManifestRequest`], checked by [`gaia_protocol::verify_manifest`]) or hands the worker
//! the store location ([`RemoteManifestRequest`], fetched and checked by
//! [`fetch_and_verify_manifest`]).

use gaia_protocol::{verify_manifest, VerifyError, VerifyManifestReport, VerifyManifestRequest};

use super::remote::{fetch_and_verify_manifest, RemoteManifestRequest};

/// JSON-in entry point (the validator's `weather.verify.manifest` job takes the typed forms): a
/// payload with `store_url` is a [`RemoteManifestRequest`] (the worker fetches the files), any
/// other a [`VerifyManifestRequest`] (the IO-Engine fetched them).
pub fn handle_verify_manifest(
    payload: &serde_json::Value,
) -> Result<VerifyManifestReport, VerifyError> {
    let bad = |e: serde_json::Error| VerifyError::BadRequest(e.to_string());
    if payload.get("store_url").is_some() {
        let req: RemoteManifestRequest = serde_json::from_value(payload.clone()).map_err(bad)?;
        fetch_and_verify_manifest(&req)
    } else {
        let req: VerifyManifestRequest = serde_json::from_value(payload.clone()).map_err(bad)?;
        verify_manifest(&req)
    }
}
