//! The numeric core of the validator: Zarr reading (with verify-on-read against a frozen
//! manifest), the `weather.verify.manifest` handler, the Day-1 and ERA5 scores and the weight
//! calculation. The manifest, hash and signature code it verifies with is `gaia_protocol`.
//!
//! Pure code over arrays and files: no tokio, no database. Every formula follows
//! `shared/docs/gaia-weather-spec.md`; the compute workers wrap these functions as handlers.

pub mod aggregate;
pub mod day1;
pub mod era5;
pub mod field;
pub mod metrics;
pub mod profile;
pub mod regrid;
mod simd;
pub mod verify;
pub mod weights;
pub mod zarr;

pub use field::{Field2, FieldError, Grid, Precision};
pub use profile::ScoringProfile;
pub use zarr::{Climatology, Dataset, OpenOptions, ZarrError};

/// Unit tests count their allocations (issue 20: hostile metadata must not become a huge buffer).
#[cfg(test)]
#[global_allocator]
static ALLOC: gaia_testkit::hostile::CountingAlloc = gaia_testkit::hostile::CountingAlloc;
