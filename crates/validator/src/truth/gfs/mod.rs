//! GFS truth (analysis) and reference (forecast) for the Day-1 score, fetched the way production
//! does (spec §3.1): subsets of the NOMADS GrADS-DODS OPeNDAP server
//! (`https://nomads.ncep.noaa.gov/dods/gfs_0p25/gfs{YYYYmmdd}/gfs_0p25_{HH}z`), renamed,
//! unit-converted, reoriented and written as a local Zarr store the scorer opens unchanged.
//!
//! * [`dds`] and [`xdr`]: the DAP2 text and binary formats; [`dap`]: the HTTP client (bounded
//!   sizes, timeouts, retries with back-off).
//! * [`fields`]: variables, names on the server, unit conversion; [`grid`]: time/level
//!   selection and orientation.
//! * [`fetch`]: [`GfsFetcher`], which ties them together and caches the stores under the truth
//!   cache directory.
//!
//! See `docs/truth-data.md`.

pub mod dap;
pub mod dds;
pub mod fetch;
pub mod fields;
pub mod grid;
pub mod xdr;

#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::sources::{DataError, DataKind};

pub use dap::{DapError, DapOptions};
pub use fetch::{GfsFetcher, GfsOptions, GfsProduct};
pub use fields::{FieldListError, FieldSet};

/// The prefix of a data-source template served over OPeNDAP:
/// `opendap:https://nomads.ncep.noaa.gov/dods/gfs_0p25`.
pub const OPENDAP_PREFIX: &str = "opendap:";

/// Why a GFS subset could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum GfsError {
    /// A request failed.
    #[error(transparent)]
    Dap(DapError),
    /// The served coordinates do not fit the request.
    #[error("{url}: {source}")]
    Grid {
        /// The dataset URL.
        url: String,
        /// What is wrong.
        source: grid::GridError,
    },
    /// A wanted variable (or axis) is not served.
    #[error("{url}: variable `{variable}` not served")]
    MissingVariable {
        /// The dataset URL.
        url: String,
        /// The server-side name.
        variable: String,
    },
    /// A variable is not laid out `(time, [lev,] lat, lon)` on the served axes.
    #[error("{url}: `{variable}` has dimensions {dims}, expected (time, [lev,] lat, lon)")]
    Layout {
        /// The dataset URL.
        url: String,
        /// The server-side name.
        variable: String,
        /// The declared dimensions.
        dims: String,
    },
    /// A field came back with the wrong number of values.
    #[error("{url}: `{variable}` did not come back as one {expected}-point plane")]
    Shape {
        /// The dataset URL.
        url: String,
        /// The server-side name.
        variable: String,
        /// Points expected.
        expected: usize,
    },
    /// Every value of a field is missing (the step is not written yet).
    #[error("{url}: `{variable}` is entirely missing values")]
    AllMissing {
        /// The dataset URL.
        url: String,
        /// The server-side name.
        variable: String,
    },
    /// The store could not be written.
    #[error("writing the GFS store: {0}")]
    Write(String),
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The lead is not a whole number of hours in 0..=384.
    #[error("lead {0} h is not a whole number of hours within a GFS run")]
    Lead(f64),
    /// The wanted analysis time is not a GFS cycle (00/06/12/18Z).
    #[error("{0} is not a GFS cycle time")]
    NotACycle(String),
    /// The field list is invalid.
    #[error(transparent)]
    Fields(#[from] FieldListError),
}

impl GfsError {
    /// Whether this means "not published yet, try again later" (the dataset or the step is
    /// missing, or its values are not written yet).
    pub fn is_not_available(&self) -> bool {
        match self {
            GfsError::Dap(e) => e.is_not_available(),
            GfsError::Grid { source, .. } => matches!(source, grid::GridError::NoStep { .. }),
            GfsError::AllMissing { .. } => true,
            _ => false,
        }
    }
}

/// The local store of an `opendap:` source (`base` is the template without the prefix) for the
/// run whose GFS init is `gfs_init`, fetched by `fetcher`. A dataset, step or value not
/// published yet is [`DataError::NotYetAvailable`] (the lifecycle retries later); anything else
/// is [`DataError::Download`].
pub async fn resolve(
    fetcher: Option<&GfsFetcher>,
    kind: DataKind,
    base: &str,
    gfs_init: DateTime<Utc>,
) -> Result<String, DataError> {
    let download = |reason: String| DataError::Download {
        kind: kind.name(),
        reason,
    };
    let product = match kind {
        DataKind::GfsAnalysis => GfsProduct::Analysis,
        DataKind::GfsForecast => GfsProduct::Forecast,
        _ => return Err(download("`opendap:` sources serve only GFS".into())),
    };
    let fetcher = fetcher.ok_or_else(|| download("no GFS OPeNDAP fetcher configured".into()))?;
    match fetcher.fetch(base, product, gfs_init).await {
        Ok(path) => Ok(path.display().to_string()),
        Err(e) if e.is_not_available() => Err(DataError::NotYetAvailable {
            kind: kind.name(),
            init: gfs_init.format("%Y%m%d%H").to_string(),
            location: e.to_string(),
        }),
        Err(e) => Err(download(e.to_string())),
    }
}
