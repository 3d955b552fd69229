//! Every refusal of the trust code by name: a manifest, a signature or an address that does not
//! check out, and the failures of the verify-on-read wrapper and the manifest fetch in
//! `gaia-scoring`, which report in the same vocabulary (`verification_failed`).

use std::path::PathBuf;

/// Why a manifest, a signature or a verified read was refused.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// SHA-256 of the manifest bytes differs from the hash the miner claimed.
    #[error("manifest hash {computed} differs from the claimed {claimed}")]
    HashMismatch {
        /// Claimed by the miner.
        claimed: String,
        /// Computed over the served bytes.
        computed: String,
    },
    /// The manifest's `signer_hotkey_ss58` is not the miner's hotkey.
    #[error("manifest signed for {manifest}, expected {expected}")]
    SignerMismatch {
        /// In the manifest.
        manifest: String,
        /// The miner's hotkey.
        expected: String,
    },
    /// The signature does not verify (wrong signer, edited manifest, garbage).
    #[error("signature does not verify")]
    BadSignature,
    /// The signature or seed is not well-formed (hex, length).
    #[error("malformed signature: {0}")]
    SignatureFormat(String),
    /// The SS58 address does not decode.
    #[error("invalid SS58 address {0}")]
    BadSs58(String),
    /// The manifest is not valid JSON or lacks a field.
    #[error("invalid manifest: {0}")]
    BadManifest(String),
    /// `chunk_hash_algorithm` is not `sha256`.
    #[error("chunk hash algorithm `{0}` is not accepted")]
    UnsupportedHashAlgorithm(String),
    /// Verify-on-read: a value's hash differs from the frozen manifest.
    #[error("`{key}` does not match the frozen manifest")]
    ChunkMismatch {
        /// Store key.
        key: String,
    },
    /// Verify-on-read: a chunk the server serves is not in the frozen manifest.
    #[error("`{key}` is not in the frozen manifest")]
    NotInManifest {
        /// Store key.
        key: String,
    },
    /// Verify-on-read: a file listed in the manifest is gone.
    #[error("`{key}` is in the manifest but missing from the store")]
    MissingFile {
        /// Store key.
        key: String,
    },
    /// Reading a local file failed.
    #[error("reading {path}: {source}")]
    Io {
        /// File or directory.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
    /// The handler payload does not deserialise.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// `manifest.json` or `manifest.sig` could not be fetched (status, timeout, size limit).
    #[error("fetching the manifest failed: {0}")]
    Fetch(String),
    /// A file name in the store is not UTF-8 (Python's miner cannot hash it either).
    #[error("non-UTF-8 path {0}")]
    NonUtf8Path(String),
}
