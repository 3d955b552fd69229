//! Decompression guard: before zarrs decodes a chunk, check that its compressed stream cannot
//! expand past the decoded size its chunk shape allows (a "zip bomb" would otherwise make the
//! decoder allocate whatever the stream claims).
//!
//! Blosc and zstd declare their output size in headers, which are checked for free; gzip and zlib
//! do not, so they are test-decoded into a counting sink that stops one byte past the limit.
//!
//! A bomb that stays within its chunk's size still costs decoding time: a 9 KB zstd stream of a
//! 256 MiB chunk is ~400× an honest store's CPU. So a large chunk's compression ratio is capped
//! ([`OpenOptions::max_compression_ratio`](super::OpenOptions)) and so is the total decoded size
//! read through one opened store (`max_decoded_store_bytes`).

use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use zarrs::storage::byte_range::ByteRangeIterator;
use zarrs::storage::{
    MaybeBytes, MaybeBytesIterator, ReadableStorageTraits, StorageError, StoreKey,
};

use super::meta::Compression;
use super::options::RATIO_CHECK_MIN_BYTES;
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
    limits: StoreLimits,
    decoded: AtomicU64,
}

/// The per-store limits of [`GuardedStore`].
#[derive(Debug, Clone, Copy)]
pub(super) struct StoreLimits {
    /// Largest total decoded size of the chunks read.
    pub max_decoded_bytes: u64,
    /// Largest decoded ÷ stored ratio of a chunk of at least [`RATIO_CHECK_MIN_BYTES`].
    pub max_ratio: u64,
}

impl GuardedStore {
    /// Wrap `inner`; errors are recorded in `sink`.
    pub(super) fn new(
        inner: Arc<dyn ReadableStorageTraits>,
        sink: ErrorSink,
        limits: StoreLimits,
    ) -> Self {
        Self {
            inner,
            guards: RwLock::new(HashMap::new()),
            sink,
            limits,
            decoded: AtomicU64::new(0),
        }
    }

    /// The ratio and running-total checks of one chunk of `stored` bytes decoding to `expected`.
    fn check_budget(&self, key: &str, stored: u64, expected: u64) -> Result<(), ZarrError> {
        let ratio = expected / stored.max(1);
        if expected >= RATIO_CHECK_MIN_BYTES && ratio > self.limits.max_ratio {
            return Err(ZarrError::TooLarge {
                what: format!("compression ratio of chunk `{key}` ({stored} bytes stored)"),
                size: ratio,
                limit: self.limits.max_ratio,
            });
        }
        let total = self.decoded.fetch_add(expected, Ordering::Relaxed) + expected;
        if total > self.limits.max_decoded_bytes {
            return Err(ZarrError::TooLarge {
                what: format!("decoded bytes read from the store (at chunk `{key}`)"),
                size: total,
                limit: self.limits.max_decoded_bytes,
            });
        }
        Ok(())
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
                .and_then(|()| self.check_budget(key.as_str(), bytes.len() as u64, expected))
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

#[cfg(test)]
mod tests {
    use super::super::store::DiskStore;
    use super::*;

    const MIB: u64 = 1024 * 1024;

    fn guarded(dir: &std::path::Path, limits: StoreLimits) -> (GuardedStore, ErrorSink) {
        let sink = ErrorSink::default();
        let inner = Arc::new(DiskStore::new(dir, 1 << 30, sink.clone()));
        (GuardedStore::new(inner, sink.clone(), limits), sink)
    }

    fn key(k: &str) -> StoreKey {
        StoreKey::new(k).unwrap()
    }

    /// A zstd stream of `n` bytes of noise-free but varied floats (compresses about 4×) and one of
    /// zeros (a bomb: thousands to one).
    fn chunks(n: usize) -> (Vec<u8>, Vec<u8>) {
        let field: Vec<u8> = (0..n / 4)
            .flat_map(|i| (280.0f32 + (i as f32 * 0.37).sin() * 20.0).to_le_bytes())
            .collect();
        let honest = zstd::bulk::compress(&field, 3).unwrap();
        let bomb = zstd::bulk::compress(&vec![0u8; n], 3).unwrap();
        (honest, bomb)
    }

    #[test]
    fn a_bomb_within_its_chunk_size_is_refused_by_its_ratio() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("t")).unwrap();
        let size = 4 * MIB as usize;
        let (honest, bomb) = chunks(size);
        std::fs::write(d.path().join("t/0.0"), &honest).unwrap();
        std::fs::write(d.path().join("t/1.0"), &bomb).unwrap();
        let limits = StoreLimits {
            max_decoded_bytes: 1 << 40,
            max_ratio: crate::zarr::DEFAULT_MAX_COMPRESSION_RATIO,
        };
        let (store, sink) = guarded(d.path(), limits);
        store.register("t", Compression::Zstd, size as u64);
        assert!(store.get(&key("t/0.0")).unwrap().is_some(), "honest chunk");
        assert!(store.get(&key("t/1.0")).is_err());
        match sink.take() {
            Some(ZarrError::TooLarge { what, size, limit }) => {
                assert!(
                    what.contains("compression ratio of chunk `t/1.0`"),
                    "{what}"
                );
                assert!(size > limit && limit == 2048, "{size} {limit}");
            }
            other => panic!("{other:?}"),
        }
        // Small chunks (coordinates) are not ratio-checked.
        std::fs::create_dir(d.path().join("lat")).unwrap();
        std::fs::write(
            d.path().join("lat/0"),
            zstd::bulk::compress(&[0u8; 4096], 3).unwrap(),
        )
        .unwrap();
        store.register("lat", Compression::Zstd, 4096);
        assert!(store.get(&key("lat/0")).unwrap().is_some());
    }

    #[test]
    fn the_decoded_total_of_one_store_is_capped() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("t")).unwrap();
        let size = 2 * MIB as usize;
        let (honest, _) = chunks(size);
        for k in ["t/0.0", "t/1.0", "t/2.0"] {
            std::fs::write(d.path().join(k), &honest).unwrap();
        }
        let limits = StoreLimits {
            max_decoded_bytes: 5 * MIB,
            max_ratio: 2048,
        };
        let (store, sink) = guarded(d.path(), limits);
        store.register("t", Compression::Zstd, size as u64);
        assert!(store.get(&key("t/0.0")).is_ok());
        assert!(store.get(&key("t/1.0")).is_ok());
        assert!(store.get(&key("t/2.0")).is_err(), "6 MiB decoded > 5 MiB");
        match sink.take() {
            Some(ZarrError::TooLarge { what, size, limit }) => {
                assert!(what.contains("decoded bytes read from the store"), "{what}");
                assert_eq!((size, limit), (6 * MIB, 5 * MIB));
            }
            other => panic!("{other:?}"),
        }
        // Metadata keys are neither checked nor counted.
        std::fs::write(d.path().join("t/.zarray"), b"{}").unwrap();
        assert!(store.get(&key("t/.zarray")).is_ok());
    }
}
