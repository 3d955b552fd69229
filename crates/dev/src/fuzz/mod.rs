//! Fuzz targets (issue 20): every parser of outside bytes wrapped for the stable in-process loop
//! of [`gaia_testkit::fuzz`], run by the `gaia-fuzz` binary (`scripts/fuzz TARGET --minutes M`).
//!
//! A target returns `Ok(label)` naming what the input led to (the error variant, or `ok`), which
//! the loop uses as coverage-free feedback, and `Err` for a broken property (a round-trip that
//! does not hold, an error that does not name its subject). Panics are caught by the loop. Seeds
//! are the real inputs the tests use; [`seeds`] holds them.

pub mod seeds;
mod targets;

pub use targets::{find, TARGETS};

/// The variant name of an error's `Debug` form (`BadManifest("...")` → `BadManifest`), a label
/// with a bounded number of values.
pub fn label_of(e: &impl std::fmt::Debug) -> String {
    let text = format!("{e:?}");
    let end = text.find(['(', ' ', '{']).unwrap_or(text.len());
    text[..end].chars().take(48).collect()
}
