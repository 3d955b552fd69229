//! Verify-on-read (spec §2.2 step 8, §2.3): a store wrapper that re-hashes every value it serves
//! exactly like the manifest (§2.1) and compares it with the frozen manifest, so a miner cannot
//! swap a chunk after the manifest was frozen.
//!
//! Contract: a key listed in the manifest must exist and hash to the listed value
//! ([`VerifyError::ChunkMismatch`], [`VerifyError::MissingFile`]). A metadata key not listed is
//! treated as absent without asking the server (Python's strict metadata mode raises `KeyError`,
//! which zarr reads as "absent"). A chunk key not listed is absent only if the server does not
//! have it either (an all-NaN chunk xarray never wrote); if the server now serves it, the read
//! fails with [`VerifyError::NotInManifest`] — stricter than Python, which silently read NaN.

use std::sync::Arc;

use gaia_protocol::{file_hash, FrozenManifest, VerifyError};
use zarrs::storage::byte_range::ByteRangeIterator;
use zarrs::storage::{
    MaybeBytes, MaybeBytesIterator, ReadableStorageTraits, StorageError, StoreKey,
};

use crate::zarr::ErrorSink;

const METADATA_SUFFIXES: [&str; 5] = [".zarray", ".zattrs", ".zgroup", ".zmetadata", "zarr.json"];

/// Whether `key` names a Zarr metadata document.
pub fn is_metadata_key(key: &str) -> bool {
    let name = key.rsplit('/').next().unwrap_or(key);
    METADATA_SUFFIXES.contains(&name)
}

/// A store whose every read is checked against a frozen manifest.
pub struct VerifyingStore {
    inner: Arc<dyn ReadableStorageTraits>,
    manifest: FrozenManifest,
    sink: ErrorSink,
}

impl VerifyingStore {
    /// Wrap `inner`; failures are recorded in `sink` as named errors.
    pub fn new(
        inner: Arc<dyn ReadableStorageTraits>,
        manifest: FrozenManifest,
        sink: ErrorSink,
    ) -> Self {
        Self {
            inner,
            manifest,
            sink,
        }
    }

    fn fail(&self, e: VerifyError) -> StorageError {
        self.sink.record(e.into())
    }
}

impl ReadableStorageTraits for VerifyingStore {
    fn get(&self, key: &StoreKey) -> Result<MaybeBytes, StorageError> {
        let k = key.as_str();
        match self.manifest.files.get(k) {
            Some(expected) => {
                let Some(bytes) = self.inner.get(key)? else {
                    return Err(self.fail(VerifyError::MissingFile { key: k.to_owned() }));
                };
                if !file_hash(k, &bytes).eq_ignore_ascii_case(expected) {
                    return Err(self.fail(VerifyError::ChunkMismatch { key: k.to_owned() }));
                }
                Ok(Some(bytes))
            }
            None if is_metadata_key(k) => Ok(None),
            None => match self.inner.get(key)? {
                None => Ok(None),
                Some(_) => Err(self.fail(VerifyError::NotInManifest { key: k.to_owned() })),
            },
        }
    }

    fn get_partial_many<'a>(
        &'a self,
        key: &StoreKey,
        byte_ranges: ByteRangeIterator<'a>,
    ) -> Result<MaybeBytesIterator<'a>, StorageError> {
        crate::zarr::slice_whole(self.get(key)?, byte_ranges)
    }

    fn size_key(&self, key: &StoreKey) -> Result<Option<u64>, StorageError> {
        Ok(self.get(key)?.map(|b| b.len() as u64))
    }

    fn supports_get_partial(&self) -> bool {
        false
    }
}
