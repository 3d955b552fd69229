//! The one error type of the Zarr reader.
//!
//! Everything a miner serves is hostile, so every way a store can be wrong has its own named
//! variant: callers (the Day-1 and ERA5 handlers) map them onto verification or scoring failures
//! without parsing messages.

use gaia_protocol::VerifyError;

use crate::FieldError;

/// Why a store could not be opened or a field could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ZarrError {
    /// The location is neither an existing directory nor an `http(s)://` URL.
    #[error("`{0}` is not a directory or an http(s) URL")]
    BadLocation(String),
    /// Reading a file of a store on disk failed.
    #[error("reading `{key}`: {source}")]
    Io {
        /// Store key (relative path).
        key: String,
        /// OS error.
        source: std::io::Error,
    },
    /// An HTTP request failed before a status was received (connection, TLS, timeout).
    #[error("HTTP request for `{url}` failed: {message}")]
    Transport {
        /// Requested URL (without the token).
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The server answered with a status other than 200/206/404.
    #[error("HTTP status {status} for `{url}`")]
    HttpStatus {
        /// Requested URL.
        url: String,
        /// Status code.
        status: u16,
    },
    /// The request did not complete within the configured timeout.
    #[error("timed out reading `{url}`")]
    Timeout {
        /// Requested URL.
        url: String,
    },
    /// The store's reads together took longer than its download deadline (a slow miner); the
    /// read stops there instead of holding the worker until the job's timeout.
    #[error("reading the store took longer than its download deadline of {seconds} s ({requests} requests sent); the miner answers too slowly")]
    DownloadDeadline {
        /// The deadline, in seconds.
        seconds: u64,
        /// Requests sent before it passed.
        requests: u64,
    },
    /// Something in the store is larger than the configured limit; refused before allocating.
    #[error("{what} is {size} bytes/elements, over the limit of {limit}")]
    TooLarge {
        /// What was measured (a key, an array, a chunk).
        what: String,
        /// Claimed or observed size.
        size: u64,
        /// The configured limit.
        limit: u64,
    },
    /// A compressed chunk claims (or expands to) more bytes than its chunk shape allows.
    #[error("chunk `{key}` would decompress to {claimed} bytes, but its chunk holds {expected}")]
    DecompressionBomb {
        /// Store key of the chunk.
        key: String,
        /// Size the compressed stream claims or reaches.
        claimed: u64,
        /// Decoded size the chunk shape and data type allow.
        expected: u64,
    },
    /// The store has no root metadata (`zarr.json`, `.zgroup` or `.zmetadata`).
    #[error("no Zarr group metadata at `{0}`")]
    NotAZarrStore(String),
    /// The store's variables cannot be listed: no consolidated metadata and not listable.
    #[error("store `{0}` has no consolidated metadata and cannot be listed")]
    NoConsolidatedMetadata(String),
    /// A metadata document is not valid JSON or lacks a required field.
    #[error("invalid metadata `{key}`: {reason}")]
    BadMetadata {
        /// Store key of the document.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The requested variable is not in the store.
    #[error("variable `{0}` not found")]
    UnknownVariable(String),
    /// A coordinate the reader needs (time, latitude, longitude, level) is missing.
    #[error("coordinate `{0}` not found")]
    MissingCoordinate(String),
    /// The array's data type is not a real number type this reader decodes.
    #[error("variable `{var}` has unsupported data type `{dtype}`")]
    UnsupportedDtype {
        /// Variable name.
        var: String,
        /// Data type as written in the metadata.
        dtype: String,
    },
    /// The array uses a codec or filter outside the supported, bounded set.
    #[error("variable `{var}` uses unsupported codec `{codec}`")]
    UnsupportedCodec {
        /// Variable name.
        var: String,
        /// Codec name or id.
        codec: String,
    },
    /// The array's dimensions are not the expected ones.
    #[error("variable `{var}` has unexpected dimensions: {reason}")]
    BadDimensions {
        /// Variable name.
        var: String,
        /// What is wrong.
        reason: String,
    },
    /// An index is outside a dimension.
    #[error("index {index} out of range for dimension `{dim}` of length {len} in `{var}`")]
    IndexOutOfRange {
        /// Variable name.
        var: String,
        /// Dimension name.
        dim: String,
        /// Requested index.
        index: usize,
        /// Dimension length.
        len: u64,
    },
    /// The time coordinate cannot be decoded (units, calendar, values).
    #[error("cannot decode time: {0}")]
    BadTime(String),
    /// A latitude/longitude coordinate is not a usable regular grid.
    #[error("bad grid: {0}")]
    Grid(#[from] FieldError),
    /// Decoding a chunk failed (truncated, corrupt, wrong size for its data type).
    #[error("decoding `{var}` failed: {message}")]
    Decode {
        /// Variable name.
        var: String,
        /// The decoder's message.
        message: String,
    },
    /// Verify-on-read refused a key (hash mismatch, missing from the manifest).
    #[error(transparent)]
    Verification(#[from] VerifyError),
    /// The climatology has no entry for the requested selection.
    #[error("climatology has no `{0}`")]
    ClimatologyMissing(String),
}

impl ZarrError {
    /// A failure that may pass if the same read is tried later: a transport error, a timeout, or
    /// HTTP 429 / 500 / 502 / 503 / 504 (a busy or rate-limiting miner). Callers turn it into a
    /// step that runs again later rather than a failed score.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transport { .. } | Self::Timeout { .. } | Self::DownloadDeadline { .. } => true,
            Self::HttpStatus { status, .. } => matches!(status, 429 | 500 | 502 | 503 | 504),
            _ => false,
        }
    }
}
