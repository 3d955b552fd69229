//! The reading side of forecast verification (spec §2.2 step 8, §2.3) and the
//! `weather.verify.manifest` compute handler: the verify-on-read store wrapper the Zarr reader puts
//! under every forecast read, the fetch of `manifest.json`/`manifest.sig` from a store location,
//! and the handler function that picks between the two request shapes.
//!
//! The manifest itself, its hash, the signature and SS58 checks and the pure manifest check are
//! protocol code shared with the chain client and the simulated miners: `gaia_protocol`. This
//! module holds only what needs the Zarr storage stack. See `docs/zarr-and-verification.md`.

mod handler;
mod on_read;
mod remote;

pub use handler::handle_verify_manifest;
pub use on_read::{is_metadata_key, VerifyingStore};
pub use remote::{fetch_and_verify_manifest, RemoteManifestRequest};
