//! The protocol and trust code that the validator, its chain client and the simulated miners
//! share: the miner's deterministic job id (spec §1.3), the forecast manifest exactly as the Python
//! miner builds and hashes it (spec §2.1), the check of a served manifest against the miner's
//! claim and hotkey (spec §2.2 steps 4–5), sr25519 signatures as substrate-interface makes them,
//! SS58 addresses and Python-compatible JSON text.
//!
//! Pure and small: no Zarr, no network, no async, and none of the workspace's other crates. What
//! reads a store through a frozen manifest (verify-on-read) and fetches a manifest over HTTP lives
//! in `gaia-scoring`, next to the Zarr reader it wraps. See `docs/zarr-and-verification.md`.
//!
//! | module | what |
//! |---|---|
//! | `job_id` | [`weather_job_id`] |
//! | `manifest` | [`build_manifest`], [`Manifest`], [`FrozenManifest`], [`file_hash`], [`verification_hash`], [`check_store`] |
//! | `verify` | [`verify_manifest_bytes`], [`verify_manifest`]: hash, signer, signature, hash policy |
//! | `signature` | [`Signer`], [`verify_signature`] (sr25519, context `substrate`) |
//! | [`ss58`] | SS58 address encoding and decoding |
//! | [`pyjson`] | `json.dumps(sort_keys=True, indent=4)` byte for byte |
//! | `error` | [`VerifyError`], every refusal by name |

mod error;
mod job_id;
mod manifest;
pub mod pyjson;
mod signature;
pub mod ss58;
mod verify;

pub use error::VerifyError;
pub use job_id::weather_job_id;
pub use manifest::{
    build_manifest, check_store, file_hash, file_hash_streaming, list_store_files,
    verification_hash, BuiltManifest, FrozenManifest, Manifest, StoreCheck, CHUNK_HASH_ALGORITHM,
    EXCLUDED, MANIFEST_SCHEMA_VERSION, PROFILE_STRUCTURE_VERSION,
};
pub use signature::{
    parse_signature_hex, signature_bytes, verify as verify_signature, SignedForm, Signer,
};
pub use verify::{
    verify_manifest, verify_manifest_bytes, VerifyManifestReport, VerifyManifestRequest,
    MAX_MANIFEST_BYTES,
};

#[cfg(test)]
mod prop_tests;

/// Unit tests count their allocations (issue 20: a hostile manifest must not become a huge buffer).
#[cfg(test)]
#[global_allocator]
static ALLOC: gaia_testkit::hostile::CountingAlloc = gaia_testkit::hostile::CountingAlloc;
