//! Decompression guard: before zarrs decodes a chunk, check that its compressed stream cannot
//! expand past the decoded size its chunk shape allows (a "zip bomb" would otherwise make the
//! decoder allocate whatever the stream claims).
//!
//! Blosc and zstd declare their output size in headers, which are checked for free; gzip and zlib
//! do not, so they are test-decoded into a counting sink that stops one byte past the limit.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, RwLock};

use zarrs::storage::byte_range::ByteRangeIterator;
use zarrs::storage::{
    MaybeBytes, MaybeBytesIterator, ReadableStorageTraits, StorageError, StoreKey,
};

use super::meta::Compression;
use super::store::{slice_whole, ErrorSink};
use super::ZarrError;

/// Bytes a chunk codec may add around the raw data (crc32c checksum, headers).
const SLACK: u64 = 64;

const METADATA_NAMES: [&str; 5] = [".zarray", ".zattrs", ".zgroup", "zarr.json", ".zmetadata"];

/// A store wrapper that checks every chunk of a registered array against its decoded size.
pub(super) struct GuardedStore {
    inner: Arc<dyn ReadableStorageTraits>,
    guards: RwLock<HashMap<String, (Compression, u64)>>,
    sink: ErrorSink,
}

impl GuardedStore {
    /// Wrap `inner`; errors are recorded in `sink`.
    pub(super) fn new(inner: Arc<dyn ReadableStorageTraits>, sink: ErrorSink) -> Self {
        Self {
            inner,
            guards: RwLock::new(HashMap::new()),
            sink,
        }
    }

    /// Register array `name`: its chunks are compressed with `compression` and decode to at most
    /// `chunk_bytes` bytes.
    pub(super) fn register(&self, name: &str, compression: Compression, chunk_bytes: u64) {
        if let Ok(mut g) = self.guards.write() {
            g.insert(name.to_owned(), (compression, chunk_bytes));
        }
    }

    fn guard_for(&self, key: &str) -> Option<(Compression, u64)> {
        let (array, rest) = key.split_once('/')?;
        if METADATA_NAMES.contains(&rest) {
            return None;
        }
        self.guards.read().ok()?.get(array).copied()
    }
}

/// Check a compressed chunk value against the decoded size `expected`.
pub fn check_chunk(
    key: &str,
    bytes: &[u8],
    compression: Compression,
    expected: u64,
) -> Result<(), ZarrError> {
    let bomb = |claimed: u64| ZarrError::DecompressionBomb {
        key: key.to_owned(),
        claimed,
        expected,
    };
    let corrupt = |message: &str| ZarrError::Decode {
        var: key.to_owned(),
        message: message.to_owned(),
    };
    // No codec here stores a chunk much larger than its decoded size (incompressible data plus
    // headers); anything beyond that is refused before it reaches a decoder.
    let stored_limit = expected.saturating_add(expected / 8).saturating_add(1024);
    if bytes.len() as u64 > stored_limit {
        return Err(ZarrError::TooLarge {
            what: format!("stored chunk `{key}`"),
            size: bytes.len() as u64,
            limit: stored_limit,
        });
    }
    match compression {
        Compression::None => {
            let len = bytes.len() as u64;
            if len > expected + SLACK {
                return Err(bomb(len));
            }
        }
        Compression::Blosc => {
            // Blosc header: version, versionlz, flags, typesize, nbytes u32, blocksize u32, cbytes u32.
            if bytes.len() < 16 {
                return Err(corrupt("blosc chunk shorter than its 16-byte header"));
            }
            let word = |i: usize| {
                u64::from(u32::from_le_bytes([
                    bytes[i],
                    bytes[i + 1],
                    bytes[i + 2],
                    bytes[i + 3],
                ]))
            };
            let (nbytes, cbytes) = (word(4), word(12));
            if nbytes > expected {
                return Err(bomb(nbytes));
            }
            if cbytes != bytes.len() as u64 {
                return Err(corrupt(
                    "blosc header size disagrees with the stored length (truncated?)",
                ));
            }
        }
        Compression::Zstd => {
            let bound = zstd::zstd_safe::decompress_bound(bytes)
                .map_err(|_| corrupt("not a valid zstd stream (truncated?)"))?;
            if bound > expected + SLACK {
                return Err(bomb(bound));
            }
        }
        Compression::Gzip | Compression::Zlib => {
            let limit = expected + SLACK;
            let mut sink = std::io::sink();
            let copied = match compression {
                Compression::Gzip => std::io::copy(
                    &mut flate2::read::GzDecoder::new(bytes).take(limit + 1),
                    &mut sink,
                ),
                _ => std::io::copy(
                    &mut flate2::read::ZlibDecoder::new(bytes).take(limit + 1),
                    &mut sink,
                ),
            }
            .map_err(|e| corrupt(&format!("deflate stream: {e}")))?;
            if copied > limit {
                return Err(bomb(copied));
            }
        }
    }
    Ok(())
}

impl ReadableStorageTraits for GuardedStore {
    fn get(&self, key: &StoreKey) -> Result<MaybeBytes, StorageError> {
        let value = self.inner.get(key)?;
        if let (Some(bytes), Some((compression, expected))) = (&value, self.guard_for(key.as_str()))
        {
            check_chunk(key.as_str(), bytes, compression, expected)
                .map_err(|e| self.sink.record(e))?;
        }
        Ok(value)
    }

    fn get_partial_many<'a>(
        &'a self,
        key: &StoreKey,
        byte_ranges: ByteRangeIterator<'a>,
    ) -> Result<MaybeBytesIterator<'a>, StorageError> {
        slice_whole(self.get(key)?, byte_ranges)
    }

    fn size_key(&self, key: &StoreKey) -> Result<Option<u64>, StorageError> {
        self.inner.size_key(key)
    }

    fn supports_get_partial(&self) -> bool {
        false
    }
}
