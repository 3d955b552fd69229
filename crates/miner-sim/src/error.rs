//! The crate's error type: every failure of world writing, forecast building, key handling or
//! serving is a named variant.

use std::path::PathBuf;

/// Why a simulated miner or the synthetic world could not be built or served.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A setting is out of range (grid spacing, behaviour, fleet size, ...).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// File or directory.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
    /// Encoding metadata or compressing a chunk failed.
    #[error("encoding failed: {0}")]
    Encode(String),
    /// Writing a Zarr store failed.
    #[error("zarr: {0}")]
    Zarr(#[from] gaia_scoring::zarr::write::WriteError),
    /// Building or signing the manifest failed.
    #[error("manifest: {0}")]
    Manifest(#[from] gaia_protocol::VerifyError),
    /// Binding or serving the HTTP listener failed.
    #[error("server: {0}")]
    Server(String),
    /// A behaviour string does not parse.
    #[error("unknown behaviour `{0}` (honest[:skill], slow[:polls], offline, gfs_cloner, lying_hash, chunk_swapper, nan_injector, wrong_units)")]
    UnknownBehaviour(String),
}
