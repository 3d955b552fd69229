//! A minimal Zarr v2 writer producing the files xarray writes with `consolidated=True`:
//! `.zgroup`, `.zattrs`, one directory per array with `.zarray`/`.zattrs` (dimension names in
//! `_ARRAY_DIMENSIONS`), zstd-compressed chunks named `i.j.k`, and `.zmetadata` at the end.
//!
//! Hand-written rather than through `zarrs` so the stored bytes are fully under our control
//! (the simulated miners' chunk swapper and manifest hash depend on them) and the output is
//! deterministic. Used by the simulated world and miners, and by the validator for the truth
//! stores it builds itself (GFS fetched over OPeNDAP).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

/// Why a store could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A file or directory could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Metadata or a chunk could not be encoded.
    #[error("encode: {0}")]
    Encode(String),
}

/// zstd level used for every chunk (fast; numcodecs `Zstd(level=1)`).
pub const ZSTD_LEVEL: i32 = 1;

/// Element type of an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// Little-endian float32 (`<f4`), fill value NaN.
    F32,
    /// Little-endian float64 (`<f8`), fill value NaN.
    F64,
    /// Little-endian int64 (`<i8`), no fill value.
    I64,
    /// Little-endian int32 (`<i4`), no fill value.
    I32,
}

/// How a chunk is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compressor {
    /// numcodecs `Zstd(level=1)` (the default).
    #[default]
    Zstd,
    /// numcodecs `Blosc` with this inner compressor, level and shuffle (production miners:
    /// zstd level 3 bit-shuffle for values, lz4 for coordinates).
    Blosc {
        /// Inner compressor.
        cname: BloscName,
        /// Level 0–9.
        clevel: u8,
        /// Shuffle before compressing.
        shuffle: Shuffle,
    },
}

/// Blosc's inner compressor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BloscName {
    /// `zstd`.
    Zstd,
    /// `lz4`.
    Lz4,
}

/// Blosc's shuffle filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shuffle {
    /// None (numcodecs 0).
    No,
    /// Byte shuffle (numcodecs 1).
    Byte,
    /// Bit shuffle (numcodecs 2).
    Bit,
}

impl Compressor {
    /// Production miners' value compressor: blosc zstd level 3 with bit-shuffle.
    pub const PRODUCTION_VALUES: Compressor = Compressor::Blosc {
        cname: BloscName::Zstd,
        clevel: 3,
        shuffle: Shuffle::Bit,
    };
    /// Production miners' coordinate compressor: blosc lz4 level 5 with byte shuffle.
    pub const PRODUCTION_COORDS: Compressor = Compressor::Blosc {
        cname: BloscName::Lz4,
        clevel: 5,
        shuffle: Shuffle::Byte,
    };

    fn metadata(self) -> Value {
        match self {
            Compressor::Zstd => json!({ "id": "zstd", "level": ZSTD_LEVEL, "checksum": false }),
            Compressor::Blosc {
                cname,
                clevel,
                shuffle,
            } => json!({
                "id": "blosc",
                "cname": match cname { BloscName::Zstd => "zstd", BloscName::Lz4 => "lz4" },
                "clevel": clevel,
                "shuffle": shuffle as u8,
                "blocksize": 0,
            }),
        }
    }

    /// Compress one chunk of elements of `typesize` bytes.
    pub fn compress(self, raw: &[u8], typesize: usize) -> Result<Vec<u8>, WriteError> {
        use zarrs::array::codec::{
            BloscCodec, BloscCompressionLevel, BloscCompressor, BloscShuffleMode,
        };
        use zarrs::array::BytesToBytesCodecTraits;
        let Compressor::Blosc {
            cname,
            clevel,
            shuffle,
        } = self
        else {
            return compress(raw);
        };
        let enc = |e: String| WriteError::Encode(format!("blosc: {e}"));
        let level = BloscCompressionLevel::try_from(clevel).map_err(|e| enc(format!("{e:?}")))?;
        let codec = BloscCodec::new(
            match cname {
                BloscName::Zstd => BloscCompressor::Zstd,
                BloscName::Lz4 => BloscCompressor::LZ4,
            },
            level,
            None,
            match shuffle {
                Shuffle::No => BloscShuffleMode::NoShuffle,
                Shuffle::Byte => BloscShuffleMode::Shuffle,
                Shuffle::Bit => BloscShuffleMode::BitShuffle,
            },
            Some(typesize),
        )
        .map_err(|e| enc(e.to_string()))?;
        let out = codec
            .encode(
                std::borrow::Cow::Borrowed(raw),
                &zarrs::array::CodecOptions::default(),
            )
            .map_err(|e| enc(e.to_string()))?;
        Ok(out.into_owned())
    }
}

impl Dtype {
    fn code(self) -> &'static str {
        match self {
            Dtype::F32 => "<f4",
            Dtype::F64 => "<f8",
            Dtype::I64 => "<i8",
            Dtype::I32 => "<i4",
        }
    }

    fn fill(self) -> Value {
        match self {
            Dtype::F32 | Dtype::F64 => Value::String("NaN".into()),
            Dtype::I64 | Dtype::I32 => Value::Null,
        }
    }
}

/// One array's metadata as declared to the writer.
#[derive(Debug, Clone)]
pub struct ArraySpec {
    /// Array name (a directory under the store root).
    pub name: String,
    /// Dimension names, outermost first.
    pub dims: Vec<String>,
    /// Shape, same length as `dims`.
    pub shape: Vec<u64>,
    /// Chunk shape, same length as `dims`.
    pub chunks: Vec<u64>,
    /// Element type.
    pub dtype: Dtype,
    /// Attributes other than `_ARRAY_DIMENSIONS`.
    pub attrs: Map<String, Value>,
    /// How its chunks are compressed.
    pub compressor: Compressor,
}

/// Writes one v2 store; call [`StoreWriter::finish`] to write the consolidated metadata.
#[derive(Debug)]
pub struct StoreWriter {
    root: PathBuf,
    consolidated: BTreeMap<String, Value>,
    /// Each declared array's compressor and element size.
    arrays: BTreeMap<String, (Compressor, usize)>,
    /// The compressor of coordinates written by the `put_coord_*` helpers.
    coord_compressor: Compressor,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WriteError + '_ {
    move |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn write_json(path: &Path, v: &Value) -> Result<(), WriteError> {
    let text = serde_json::to_string_pretty(v).map_err(|e| WriteError::Encode(e.to_string()))?;
    fs::write(path, text).map_err(io(path))
}

impl StoreWriter {
    /// Create (replacing any previous content) the store directory `root` with group attributes.
    pub fn create(root: &Path, group_attrs: Map<String, Value>) -> Result<Self, WriteError> {
        if root.exists() {
            fs::remove_dir_all(root).map_err(io(root))?;
        }
        fs::create_dir_all(root).map_err(io(root))?;
        let mut w = Self {
            root: root.to_path_buf(),
            consolidated: BTreeMap::new(),
            arrays: BTreeMap::new(),
            coord_compressor: Compressor::Zstd,
        };
        let zgroup = json!({ "zarr_format": 2 });
        let zattrs = Value::Object(group_attrs);
        w.put_meta(".zgroup", &zgroup)?;
        w.put_meta(".zattrs", &zattrs)?;
        Ok(w)
    }

    /// Compress coordinates written from now on with `c`.
    pub fn set_coord_compressor(&mut self, c: Compressor) {
        self.coord_compressor = c;
    }

    fn put_meta(&mut self, key: &str, v: &Value) -> Result<(), WriteError> {
        write_json(&self.root.join(key), v)?;
        self.consolidated.insert(key.to_owned(), v.clone());
        Ok(())
    }

    /// Declare an array: writes its `.zarray` and `.zattrs`.
    pub fn add_array(&mut self, spec: &ArraySpec) -> Result<(), WriteError> {
        let dir = self.root.join(&spec.name);
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        let zarray = json!({
            "chunks": spec.chunks,
            "compressor": spec.compressor.metadata(),
            "dimension_separator": ".",
            "dtype": spec.dtype.code(),
            "fill_value": spec.dtype.fill(),
            "filters": Value::Null,
            "order": "C",
            "shape": spec.shape,
            "zarr_format": 2,
        });
        let mut attrs = spec.attrs.clone();
        attrs.insert("_ARRAY_DIMENSIONS".into(), json!(spec.dims));
        self.put_meta(&format!("{}/.zarray", spec.name), &zarray)?;
        self.put_meta(&format!("{}/.zattrs", spec.name), &Value::Object(attrs))?;
        let typesize = match spec.dtype {
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::F64 | Dtype::I64 => 8,
        };
        self.arrays
            .insert(spec.name.clone(), (spec.compressor, typesize));
        Ok(())
    }

    /// Write the chunk at grid index `index` of array `name` from little-endian element bytes.
    pub fn put_chunk(&self, name: &str, index: &[u64], raw: &[u8]) -> Result<(), WriteError> {
        let key: Vec<String> = index.iter().map(u64::to_string).collect();
        let path = self.root.join(name).join(key.join("."));
        let (compressor, typesize) = self.arrays.get(name).copied().unwrap_or_default();
        fs::write(&path, compressor.compress(raw, typesize.max(1))?).map_err(io(&path))
    }

    /// A whole 1-D float64 coordinate in one chunk.
    pub fn put_coord_f64(
        &mut self,
        name: &str,
        values: &[f64],
        attrs: Map<String, Value>,
    ) -> Result<(), WriteError> {
        self.put_1d(name, Dtype::F64, &f64_bytes(values), values.len(), attrs)
    }

    /// A whole 1-D int64 coordinate in one chunk.
    pub fn put_coord_i64(
        &mut self,
        name: &str,
        values: &[i64],
        attrs: Map<String, Value>,
    ) -> Result<(), WriteError> {
        self.put_1d(name, Dtype::I64, &i64_bytes(values), values.len(), attrs)
    }

    /// A whole 1-D int32 coordinate in one chunk.
    pub fn put_coord_i32(
        &mut self,
        name: &str,
        values: &[i32],
        attrs: Map<String, Value>,
    ) -> Result<(), WriteError> {
        self.put_1d(name, Dtype::I32, &i32_bytes(values), values.len(), attrs)
    }

    fn put_1d(
        &mut self,
        name: &str,
        dtype: Dtype,
        raw: &[u8],
        n: usize,
        attrs: Map<String, Value>,
    ) -> Result<(), WriteError> {
        let spec = ArraySpec {
            name: name.to_owned(),
            dims: vec![name.to_owned()],
            shape: vec![n as u64],
            chunks: vec![n as u64],
            dtype,
            attrs,
            compressor: self.coord_compressor,
        };
        self.add_array(&spec)?;
        self.put_chunk(name, &[0], raw)
    }

    /// Write `.zmetadata` (consolidated metadata, as `xarray.to_zarr(consolidated=True)`).
    pub fn finish(self) -> Result<PathBuf, WriteError> {
        let doc = json!({
            "metadata": self.consolidated,
            "zarr_consolidated_format": 1,
        });
        write_json(&self.root.join(".zmetadata"), &doc)?;
        Ok(self.root)
    }
}

/// zstd-compress one chunk.
pub fn compress(raw: &[u8]) -> Result<Vec<u8>, WriteError> {
    zstd::bulk::compress(raw, ZSTD_LEVEL).map_err(|e| WriteError::Encode(format!("zstd: {e}")))
}

/// Little-endian bytes of plain numbers: one copy on a little-endian machine (every target the
/// validator runs on), a conversion per value elsewhere. The copy also keeps debug builds fast:
/// the simulated miners of the tests and the soak write every forecast chunk through here, and
/// the per-value iterator chain cost them half their CPU unoptimised.
fn le_bytes<T: bytemuck::Pod, const N: usize>(values: &[T], to_le: fn(T) -> [u8; N]) -> Vec<u8> {
    if cfg!(target_endian = "little") {
        bytemuck::cast_slice::<T, u8>(values).to_vec()
    } else {
        values.iter().flat_map(|v| to_le(*v)).collect()
    }
}

/// Little-endian bytes of float32 values.
pub fn f32_bytes(values: &[f32]) -> Vec<u8> {
    le_bytes(values, f32::to_le_bytes)
}

/// Little-endian bytes of float64 values.
pub fn f64_bytes(values: &[f64]) -> Vec<u8> {
    le_bytes(values, f64::to_le_bytes)
}

/// Little-endian bytes of int64 values (a chunk of an `<i8` coordinate).
pub fn i64_bytes(values: &[i64]) -> Vec<u8> {
    le_bytes(values, i64::to_le_bytes)
}

/// Little-endian bytes of int32 values (a chunk of an `<i4` coordinate).
pub fn i32_bytes(values: &[i32]) -> Vec<u8> {
    le_bytes(values, i32::to_le_bytes)
}

/// A `Map` from `(key, value)` pairs (attribute helper).
pub fn attrs<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

#[cfg(test)]
mod byte_tests {
    use super::{f32_bytes, f64_bytes, i32_bytes, i64_bytes};

    /// The value-by-value bytes the copy must equal.
    fn each<T: Copy, const N: usize>(values: &[T], to_le: fn(T) -> [u8; N]) -> Vec<u8> {
        values.iter().flat_map(|v| to_le(*v)).collect()
    }

    /// The copy gives exactly the bytes of converting value by value (the definition the
    /// readers and Python's `<f4`/`<f8`/`<i4`/`<i8` use), NaN payloads and signs included.
    #[test]
    fn the_copy_gives_each_values_little_endian_bytes() {
        let f32s = [
            0.0,
            -0.0,
            1.5,
            -273.15,
            f32::NAN,
            f32::INFINITY,
            f32::MIN_POSITIVE,
        ];
        let f64s = [0.0, -0.0, 1.5e300, -273.15, f64::NAN, f64::NEG_INFINITY];
        let i64s = [0, -1, i64::MIN, i64::MAX, 1_700_000_000_000_000_000];
        let i32s = [0, -1, i32::MIN, i32::MAX, 720];
        assert_eq!(f32_bytes(&f32s), each(&f32s, f32::to_le_bytes));
        assert_eq!(f64_bytes(&f64s), each(&f64s, f64::to_le_bytes));
        assert_eq!(i64_bytes(&i64s), each(&i64s, i64::to_le_bytes));
        assert_eq!(i32_bytes(&i32s), each(&i32s, i32::to_le_bytes));
        assert_eq!(f32_bytes(&[1.0]), vec![0x00, 0x00, 0x80, 0x3f]);
        assert!(f64_bytes(&[]).is_empty());
    }
}
