//! Shared-memory arrays: large inputs and outputs travel as files in a RAM-backed directory
//! (`/dev/shm`) mapped by both processes, and only their [`SharedArrayRef`] crosses the socket.
//!
//! Ownership contract:
//! - The process that **creates** a segment owns it: dropping the owning [`SharedArray`] removes
//!   the file. The IO-Engine creates input segments and drops them when the job ends, whatever
//!   the outcome.
//! - A worker creates result segments **detached** ([`SharedArray::into_detached`]): ownership
//!   passes to the IO-Engine with the `ResultUnit`, which adopts them ([`SharedArray::adopt`])
//!   or, for an orphaned result, removes them at once.
//! - Every segment name starts with `gaia-<supervisor pid>-<job id>-`, so that after a worker
//!   crash the engine removes the job's segments by prefix ([`remove_with_prefix`]) and the
//!   supervisor sweeps its own prefix at shutdown: no segment outlives its job, a crash or a stop.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use memmap2::MmapMut;

use crate::types::SharedArrayRef;

/// Element types a shared array may hold (numpy spellings accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// 32-bit float (`float32`, `<f4`, `f4`).
    F32,
    /// 64-bit float (`float64`, `<f8`, `f8`).
    F64,
    /// 32-bit signed integer.
    I32,
    /// 64-bit signed integer.
    I64,
    /// Unsigned byte.
    U8,
}

impl Dtype {
    /// Parse a numpy dtype string (little-endian or native only).
    pub fn parse(s: &str) -> Result<Self, ShmError> {
        Ok(match s.trim_start_matches(['<', '=', '|']) {
            "f4" | "float32" => Dtype::F32,
            "f8" | "float64" => Dtype::F64,
            "i4" | "int32" => Dtype::I32,
            "i8" | "int64" => Dtype::I64,
            "u1" | "uint8" => Dtype::U8,
            _ => return Err(ShmError::BadDtype(s.to_string())),
        })
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::F64 | Dtype::I64 => 8,
            Dtype::U8 => 1,
        }
    }

    /// Canonical numpy spelling.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "<f4",
            Dtype::F64 => "<f8",
            Dtype::I32 => "<i4",
            Dtype::I64 => "<i8",
            Dtype::U8 => "|u1",
        }
    }
}

/// Errors creating or opening shared arrays.
#[derive(Debug, thiserror::Error)]
pub enum ShmError {
    /// Unsupported dtype string.
    #[error("unsupported dtype {0:?}")]
    BadDtype(String),
    /// Segment name with characters other than `[A-Za-z0-9._-]`, or too long.
    #[error("invalid segment name {0:?}")]
    BadName(String),
    /// Shape whose byte size overflows or exceeds the limit.
    #[error("shape {shape:?} of {dtype} is too large (limit {limit} bytes)")]
    TooLarge {
        /// Requested shape.
        shape: Vec<usize>,
        /// Element type.
        dtype: String,
        /// Limit in bytes.
        limit: u64,
    },
    /// The segment file's size does not match shape × dtype.
    #[error("segment {name} holds {actual} bytes, shape and dtype need {expected}")]
    SizeMismatch {
        /// Segment name.
        name: String,
        /// Bytes needed.
        expected: u64,
        /// Bytes present.
        actual: u64,
    },
    /// OS error on a segment file.
    #[error("shared memory segment {path}: {source}")]
    Io {
        /// Segment path.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
}

/// Largest segment accepted (16 GiB): a bound on what a reference may ask a process to map.
pub const MAX_SEGMENT_BYTES: u64 = 16 << 30;

/// A mapped shared-memory array.
#[derive(Debug)]
pub struct SharedArray {
    path: PathBuf,
    map: MmapMut,
    reference: SharedArrayRef,
    owned: bool,
}

fn check_name(name: &str) -> Result<(), ShmError> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ShmError::BadName(name.to_string()))
    }
}

fn byte_len(shape: &[usize], dtype: Dtype) -> Result<u64, ShmError> {
    let too_large = || ShmError::TooLarge {
        shape: shape.to_vec(),
        dtype: dtype.name().to_string(),
        limit: MAX_SEGMENT_BYTES,
    };
    let mut n: u64 = dtype.size() as u64;
    for &d in shape {
        n = n.checked_mul(d as u64).ok_or_else(too_large)?;
    }
    if n > MAX_SEGMENT_BYTES {
        return Err(too_large());
    }
    Ok(n)
}

impl SharedArray {
    /// Create a zero-filled segment `dir/name` owned by this process.
    pub fn create(dir: &Path, name: &str, shape: &[usize], dtype: Dtype) -> Result<Self, ShmError> {
        check_name(name)?;
        let len = byte_len(shape, dtype)?;
        let path = dir.join(name);
        let io = |source| ShmError::Io {
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io)?;
        let mapped = file.set_len(len).and_then(|_| {
            // SAFETY: the file was just created by us with create_new and sized; other processes
            // only map it after they receive its reference.
            unsafe { MmapMut::map_mut(&file) }
        });
        let map = match mapped {
            Ok(map) => map,
            Err(e) => {
                let _ = fs::remove_file(&path);
                return Err(io(e));
            }
        };
        let reference = SharedArrayRef {
            name: name.to_string(),
            shape: shape.to_vec(),
            dtype: dtype.name().into(),
        };
        Ok(Self {
            path,
            map,
            reference,
            owned: true,
        })
    }

    /// Map an existing segment described by `reference` without taking ownership.
    pub fn open(dir: &Path, reference: &SharedArrayRef) -> Result<Self, ShmError> {
        check_name(&reference.name)?;
        let dtype = Dtype::parse(&reference.dtype)?;
        let expected = byte_len(&reference.shape, dtype)?;
        let path = dir.join(&reference.name);
        let io = |source| ShmError::Io {
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io)?;
        let actual = file.metadata().map_err(io)?.len();
        if actual != expected {
            return Err(ShmError::SizeMismatch {
                name: reference.name.clone(),
                expected,
                actual,
            });
        }
        // SAFETY: the size was checked against the reference; the segment protocol gives one
        // writer at a time (the creator before dispatch, the worker during the job).
        let map = unsafe { MmapMut::map_mut(&file) }.map_err(io)?;
        Ok(Self {
            path,
            map,
            reference: reference.clone(),
            owned: false,
        })
    }

    /// Map an existing segment and take ownership of it (it is removed on drop).
    pub fn adopt(dir: &Path, reference: &SharedArrayRef) -> Result<Self, ShmError> {
        let mut array = Self::open(dir, reference)?;
        array.owned = true;
        Ok(array)
    }

    /// Give up ownership: the segment stays when this value is dropped.
    pub fn into_detached(mut self) -> SharedArrayRef {
        self.owned = false;
        self.reference.clone()
    }

    /// The reference to send over the socket.
    pub fn reference(&self) -> &SharedArrayRef {
        &self.reference
    }

    /// The raw bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// The raw bytes, writable.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.map
    }

    /// The elements as `f32`, if that is the dtype.
    pub fn as_f32(&self) -> Option<&[f32]> {
        (Dtype::parse(&self.reference.dtype).ok()? == Dtype::F32).then(|| {
            // SAFETY: mappings are page-aligned and the length is a multiple of 4 (checked).
            unsafe {
                std::slice::from_raw_parts(self.map.as_ptr().cast::<f32>(), self.map.len() / 4)
            }
        })
    }

    /// The elements as mutable `f32`, if that is the dtype.
    pub fn as_f32_mut(&mut self) -> Option<&mut [f32]> {
        (Dtype::parse(&self.reference.dtype).ok()? == Dtype::F32).then(|| {
            // SAFETY: as in `as_f32`, and we hold the only mutable borrow of the mapping.
            unsafe {
                std::slice::from_raw_parts_mut(
                    self.map.as_mut_ptr().cast::<f32>(),
                    self.map.len() / 4,
                )
            }
        })
    }

    /// Path of the segment file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SharedArray {
    fn drop(&mut self) {
        if self.owned {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Remove every segment in `dir` whose name starts with `prefix`; returns how many were removed.
pub fn remove_with_prefix(dir: &Path, prefix: &str) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .filter(|e| fs::remove_file(e.path()).is_ok())
        .count()
}

/// The segment-name prefix of one job under one supervisor.
pub fn job_prefix(supervisor_pid: u32, job_id: &str) -> String {
    let safe: String = job_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    format!("gaia-{supervisor_pid}-{safe}-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_open_adopt_and_cleanup() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = SharedArray::create(dir.path(), "gaia-1-j-in", &[2, 3], Dtype::F32).unwrap();
        a.as_f32_mut()
            .unwrap()
            .copy_from_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let r = a.reference().clone();
        {
            let b = SharedArray::open(dir.path(), &r).unwrap();
            assert_eq!(b.as_f32().unwrap()[5], 6.0);
        }
        assert!(
            dir.path().join("gaia-1-j-in").exists(),
            "a non-owner must not remove"
        );
        drop(a);
        assert!(
            !dir.path().join("gaia-1-j-in").exists(),
            "the owner removes on drop"
        );

        let c = SharedArray::create(dir.path(), "gaia-1-j-out", &[4], Dtype::F64).unwrap();
        let r = c.into_detached();
        assert!(dir.path().join("gaia-1-j-out").exists());
        let d = SharedArray::adopt(dir.path(), &r).unwrap();
        assert!(d.as_f32().is_none());
        drop(d);
        assert!(!dir.path().join("gaia-1-j-out").exists());
    }

    #[test]
    fn refuses_bad_names_sizes_and_mismatches() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            SharedArray::create(dir.path(), "../x", &[1], Dtype::U8),
            Err(ShmError::BadName(_))
        ));
        assert!(matches!(
            SharedArray::create(dir.path(), "gaia-big", &[usize::MAX, 2], Dtype::F64),
            Err(ShmError::TooLarge { .. })
        ));
        let _a = SharedArray::create(dir.path(), "gaia-m", &[8], Dtype::U8).unwrap();
        let wrong = SharedArrayRef {
            name: "gaia-m".into(),
            shape: vec![8],
            dtype: "<f8".into(),
        };
        assert!(matches!(
            SharedArray::open(dir.path(), &wrong),
            Err(ShmError::SizeMismatch { .. })
        ));
        assert!(matches!(Dtype::parse(">f4"), Err(ShmError::BadDtype(_))));
        for s in ["float32", "<f8", "i4", "int64", "|u1"] {
            let d = Dtype::parse(s).unwrap();
            assert_eq!(Dtype::parse(d.name()).unwrap(), d);
        }
    }

    #[test]
    fn prefix_sweep_removes_only_matching_segments() {
        let dir = tempfile::tempdir().unwrap();
        let p = job_prefix(42, "job/1");
        assert_eq!(p, "gaia-42-job_1-");
        for n in ["a", "b"] {
            SharedArray::create(dir.path(), &format!("{p}{n}"), &[1], Dtype::U8)
                .unwrap()
                .into_detached();
        }
        SharedArray::create(dir.path(), "gaia-42-other-x", &[1], Dtype::U8)
            .unwrap()
            .into_detached();
        assert_eq!(remove_with_prefix(dir.path(), &p), 2);
        assert_eq!(remove_with_prefix(dir.path(), "gaia-42-"), 1);
        assert_eq!(remove_with_prefix(Path::new("/nonexistent-dir"), "x"), 0);
    }
}
