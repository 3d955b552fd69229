//! The byte layer under zarrs: a bounded directory store, the error sink that carries named
//! errors through zarrs' stringly `StorageError`, and the stack (base → verify-on-read →
//! decompression guard) every [`Dataset`](super::Dataset) reads through.

use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use zarrs::storage::byte_range::ByteRangeIterator;
use zarrs::storage::{
    Bytes, MaybeBytes, MaybeBytesIterator, ReadableStorageTraits, StorageError, StoreKey,
};

use super::guard::{GuardedStore, StoreLimits};
use super::http::HttpStore;
use super::polite::{Pacer, TransferStats};
use super::{OpenOptions, ZarrError};
use crate::verify::VerifyingStore;

/// Keeps the first named error raised inside a store so that the reader can return it instead of
/// the flattened string zarrs passes up.
#[derive(Debug, Default, Clone)]
pub struct ErrorSink(Arc<Mutex<Option<ZarrError>>>);

impl ErrorSink {
    /// Remember `err` (the first one wins) and return a `StorageError` carrying its message.
    pub fn record(&self, err: ZarrError) -> StorageError {
        let message = err.to_string();
        if let Ok(mut slot) = self.0.lock() {
            if slot.is_none() {
                *slot = Some(err);
            }
        }
        StorageError::Other(message)
    }

    /// Take the remembered error, if any.
    pub fn take(&self) -> Option<ZarrError> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// A read-only store over a directory that refuses keys larger than a limit before reading them
/// and keys that would escape the directory.
#[derive(Debug)]
pub(super) struct DiskStore {
    root: PathBuf,
    max_bytes: u64,
    sink: ErrorSink,
}

impl DiskStore {
    /// A store rooted at `root`.
    pub(super) fn new(root: &Path, max_bytes: u64, sink: ErrorSink) -> Self {
        Self {
            root: root.to_path_buf(),
            max_bytes,
            sink,
        }
    }

    fn path_of(&self, key: &StoreKey) -> Result<PathBuf, StorageError> {
        let rel = Path::new(key.as_str());
        if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(self.sink.record(ZarrError::BadMetadata {
                key: key.as_str().to_owned(),
                reason: "key escapes the store".into(),
            }));
        }
        Ok(self.root.join(rel))
    }
}

impl ReadableStorageTraits for DiskStore {
    fn get(&self, key: &StoreKey) -> Result<MaybeBytes, StorageError> {
        let path = self.path_of(key)?;
        let io_err = |source| ZarrError::Io {
            key: key.as_str().to_owned(),
            source,
        };
        let meta = match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => m,
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.sink.record(io_err(e))),
        };
        if meta.len() > self.max_bytes {
            return Err(self.sink.record(ZarrError::TooLarge {
                what: format!("key `{}`", key.as_str()),
                size: meta.len(),
                limit: self.max_bytes,
            }));
        }
        match std::fs::read(&path) {
            Ok(bytes) if bytes.len() as u64 <= self.max_bytes => Ok(Some(Bytes::from(bytes))),
            Ok(bytes) => Err(self.sink.record(ZarrError::TooLarge {
                what: format!("key `{}`", key.as_str()),
                size: bytes.len() as u64,
                limit: self.max_bytes,
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.sink.record(io_err(e))),
        }
    }

    fn get_partial_many<'a>(
        &'a self,
        key: &StoreKey,
        byte_ranges: ByteRangeIterator<'a>,
    ) -> Result<MaybeBytesIterator<'a>, StorageError> {
        slice_whole(self.get(key)?, byte_ranges)
    }

    fn size_key(&self, key: &StoreKey) -> Result<Option<u64>, StorageError> {
        let path = self.path_of(key)?;
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            _ => Ok(None),
        }
    }

    fn supports_get_partial(&self) -> bool {
        false
    }
}

/// Serve byte ranges out of a whole value (every store here reads whole keys: verify-on-read must
/// hash the whole stored value anyway).
pub fn slice_whole<'a>(
    whole: MaybeBytes,
    byte_ranges: ByteRangeIterator<'a>,
) -> Result<MaybeBytesIterator<'a>, StorageError> {
    let Some(bytes) = whole else { return Ok(None) };
    let size = bytes.len() as u64;
    let mut parts = Vec::new();
    for range in byte_ranges {
        let (start, end) = (range.start(size), range.end(size));
        if start > end || end > size {
            return Err(StorageError::Other(format!(
                "byte range {start}..{end} outside a value of {size} bytes"
            )));
        }
        // Both bounds are <= bytes.len(), which is a usize.
        parts.push(Ok(bytes.slice(start as usize..end as usize)));
    }
    Ok(Some(Box::new(parts.into_iter())))
}

/// The store stack of one opened location.
pub(super) struct StoreStack {
    /// What zarrs reads through.
    pub storage: Arc<GuardedStore>,
    /// Where stores leave their named errors.
    pub sink: ErrorSink,
    /// The location as given (for messages).
    pub location: String,
    /// A directory store's root, when the location is a directory (enables listing).
    pub root_dir: Option<PathBuf>,
    /// An HTTP store's pacer (its counters say what was fetched); `None` on disk.
    pub pacer: Option<Arc<Pacer>>,
}

impl StoreStack {
    /// What this store fetched over HTTP so far (zero for a directory).
    pub(super) fn transfer(&self) -> TransferStats {
        self.pacer
            .as_ref()
            .map(|p| p.counters.snapshot())
            .unwrap_or_default()
    }
}

type Base = (
    Arc<dyn ReadableStorageTraits>,
    Option<PathBuf>,
    Option<Arc<Pacer>>,
);

/// The bounded base store (no verification, no guard) for a directory or URL.
fn open_base(location: &str, options: &OpenOptions, sink: &ErrorSink) -> Result<Base, ZarrError> {
    Ok(
        if location.starts_with("http://") || location.starts_with("https://") {
            let store = HttpStore::new(location, options, sink.clone())?;
            let pacer = store.pacer();
            (Arc::new(store), None, Some(pacer))
        } else {
            let dir = Path::new(location);
            if !dir.is_dir() {
                return Err(ZarrError::BadLocation(location.to_owned()));
            }
            let limit = options.max_chunk_bytes.max(options.max_metadata_bytes);
            (
                Arc::new(DiskStore::new(dir, limit, sink.clone())),
                Some(dir.into()),
                None,
            )
        },
    )
}

/// Read one raw key (e.g. `manifest.json`) of a store at `location` with the limits and token of
/// `options`; `None` when it does not exist. No verification: this is how the manifest itself
/// is fetched.
pub fn fetch_raw(
    location: &str,
    key: &str,
    options: &OpenOptions,
) -> Result<Option<Vec<u8>>, ZarrError> {
    let sink = ErrorSink::default();
    let (base, _, _) = open_base(location, options, &sink)?;
    let store_key = StoreKey::new(key).map_err(|e| ZarrError::BadMetadata {
        key: key.to_owned(),
        reason: e.to_string(),
    })?;
    match base.get(&store_key) {
        Ok(v) => Ok(v.map(|b| b.to_vec())),
        Err(e) => Err(sink.take().unwrap_or(ZarrError::Transport {
            url: format!("{location}/{key}"),
            message: e.to_string(),
        })),
    }
}

/// Build the stack for `location`: a directory or an `http(s)://` URL.
pub(super) fn open_stack(location: &str, options: &OpenOptions) -> Result<StoreStack, ZarrError> {
    let sink = ErrorSink::default();
    let (base, root_dir, pacer) = open_base(location, options, &sink)?;
    let verified: Arc<dyn ReadableStorageTraits> = match &options.verify {
        Some(manifest) => Arc::new(VerifyingStore::new(base, manifest.clone(), sink.clone())),
        None => base,
    };
    let limits = StoreLimits {
        max_decoded_bytes: options.max_decoded_store_bytes,
        max_ratio: options.max_compression_ratio,
    };
    let storage = Arc::new(GuardedStore::new(verified, sink.clone(), limits));
    Ok(StoreStack {
        storage,
        sink,
        location: location.to_owned(),
        root_dir,
        pacer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use zarrs::storage::byte_range::ByteRange;

    fn key(k: &str) -> StoreKey {
        StoreKey::new(k).unwrap()
    }

    #[test]
    fn disk_store_bounds_escapes_and_slices() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a"), b"0123456789").unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        let sink = ErrorSink::default();
        let small = DiskStore::new(d.path(), 8, sink.clone());
        assert!(small.get(&key("a")).is_err());
        assert!(matches!(
            sink.take(),
            Some(ZarrError::TooLarge {
                size: 10,
                limit: 8,
                ..
            })
        ));
        assert!(small.get(&key("../a")).is_err());
        assert!(matches!(sink.take(), Some(ZarrError::BadMetadata { .. })));
        let s = DiskStore::new(d.path(), 100, sink.clone());
        assert_eq!(s.size_key(&key("a")).unwrap(), Some(10));
        assert_eq!(s.size_key(&key("nope")).unwrap(), None);
        assert_eq!(s.get(&key("sub")).unwrap(), None);
        assert_eq!(s.get(&key("nope")).unwrap(), None);
        let ranges = [ByteRange::FromStart(2, Some(3)), ByteRange::Suffix(2)];
        let parts: Vec<Bytes> = s
            .get_partial_many(&key("a"), Box::new(ranges.into_iter()))
            .unwrap()
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            parts,
            vec![Bytes::from_static(b"234"), Bytes::from_static(b"89")]
        );
        let beyond = [ByteRange::FromStart(20, Some(3))];
        assert!(s
            .get_partial_many(&key("a"), Box::new(beyond.into_iter()))
            .is_err());
        let whole = [ByteRange::FromStart(0, None)];
        assert!(s
            .get_partial_many(&key("nope"), Box::new(whole.into_iter()))
            .unwrap()
            .is_none());
        assert!(!s.supports_get_partial());
    }

    #[test]
    fn stack_layers_report_sizes_and_raw_fetches() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("k"), b"abc").unwrap();
        let loc = d.path().to_str().unwrap();
        let stack = open_stack(loc, &OpenOptions::default()).unwrap();
        assert_eq!(stack.storage.size_key(&key("k")).unwrap(), Some(3));
        let whole = [ByteRange::FromStart(1, None)];
        let part: Vec<Bytes> = stack
            .storage
            .get_partial_many(&key("k"), Box::new(whole.into_iter()))
            .unwrap()
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(part, vec![Bytes::from_static(b"bc")]);
        assert!(!stack.storage.supports_get_partial());
        assert_eq!(
            fetch_raw(loc, "k", &OpenOptions::default()).unwrap(),
            Some(b"abc".to_vec())
        );
        assert_eq!(
            fetch_raw(loc, "missing", &OpenOptions::default()).unwrap(),
            None
        );
        assert!(matches!(
            fetch_raw(loc, "/bad", &OpenOptions::default()),
            Err(ZarrError::BadMetadata { .. })
        ));
        assert!(matches!(
            fetch_raw("/no/such/dir", "k", &OpenOptions::default()),
            Err(ZarrError::BadLocation(_))
        ));
        let tiny = OpenOptions {
            max_chunk_bytes: 1,
            max_metadata_bytes: 1,
            ..OpenOptions::default()
        };
        assert!(matches!(
            fetch_raw(loc, "k", &tiny),
            Err(ZarrError::TooLarge { .. })
        ));
        // The verifying layer reports sizes of verified values only.
        let frozen = gaia_protocol::FrozenManifest {
            files: [("k".to_owned(), gaia_protocol::file_hash("k", b"abc"))].into(),
            verification_hash: String::new(),
            signer_hotkey_ss58: String::new(),
        };
        let verified = open_stack(
            loc,
            &OpenOptions {
                verify: Some(frozen),
                ..OpenOptions::default()
            },
        )
        .unwrap();
        assert_eq!(verified.storage.size_key(&key("k")).unwrap(), Some(3));
        assert_eq!(verified.storage.size_key(&key("zarr.json")).unwrap(), None);
        let part = [ByteRange::Suffix(1)];
        assert!(verified
            .storage
            .get_partial_many(&key("k"), Box::new(part.into_iter()))
            .is_ok());
        assert!(format!(
            "{:?}",
            OpenOptions {
                bearer_token: Some("secret".into()),
                ..OpenOptions::default()
            }
        )
        .contains("redacted"));
    }
}
