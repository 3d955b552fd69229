//! Zarr reading (and, in [`write`], a minimal v2 writer) for scoring: forecast, truth, reference and climatology stores as xarray writes
//! them (v2 and v3; blosc, zstd, gzip, zlib or no compression; consolidated metadata; CF time),
//! from a directory or over HTTP(S) with a Bearer token.
//!
//! Owns the store stack (bounded disk/HTTP store → optional verify-on-read → decompression guard →
//! zarrs), metadata validation against [`OpenOptions`] limits, coordinate normalisation and the
//! selection of 2-D fields. Everything a miner serves is treated as hostile: sizes are checked
//! before allocation and every failure is a named [`ZarrError`]. See
//! `docs/zarr-and-verification.md`.

mod climatology;
mod coords;
mod dataset;
mod error;
mod guard;
mod http;
mod meta;
mod options;
mod polite;
#[cfg(test)]
mod prop_tests;
mod read;
mod read_single;
mod store;
pub mod write;

pub use climatology::{long_name, Climatology, LEVEL_TOLERANCE_HPA};
pub use coords::{decode_cf_time, wrap_lon, Orientation};
pub use dataset::{is_local_store, Dataset, LAT_NAMES, LEVEL_NAMES, LON_NAMES, TIME_NAMES};
pub use error::ZarrError;
pub use guard::check_chunk;
pub use meta::{parse_document, ArrayMeta, Compression, Dtype, Format};
pub use options::{
    deadline, OpenOptions, DEFAULT_DOWNLOAD_DEADLINE, DEFAULT_MAX_ARRAY_ELEMENTS,
    DEFAULT_MAX_CHUNK_BYTES, DEFAULT_MAX_COMPRESSION_RATIO, DEFAULT_MAX_DECODED_STORE_BYTES,
    DEFAULT_MAX_METADATA_BYTES, DEFAULT_TIMEOUT, RATIO_CHECK_MIN_BYTES,
};
pub use polite::{RetryPolicy, TransferStats, DEFAULT_REQUESTS_PER_MINUTE};
pub use read_single::SinglePlane;
pub use store::{fetch_raw, slice_whole, ErrorSink};
