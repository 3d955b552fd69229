//! The scoring crate's integration tests, one binary (as `crates/store/tests/contract`): the
//! Zarr reader against stores written by the reference tools, hostile stores, verification on
//! read and of manifests, and every scoring formula (Day-1, ERA5, aggregation, weights) against
//! values computed independently by the numpy/xarray fixture scripts.

mod aggregate_era5;
mod aggregate_row;
mod day1_fixtures;
mod era5_fixtures;
mod era5_stored_levels;
mod verify_manifest;
mod verify_on_read;
mod weights_calculate;
mod weights_quantize;
mod weights_reference;
mod zarr_hostile;
mod zarr_read;
mod zarr_support;
