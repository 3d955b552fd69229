//! Where [`super::stores::write_dataset`] puts a store: on disk through the shared Zarr v2
//! writer ([`StoreWriter`]), or in memory through [`MemSink`], which keeps the small files
//! (metadata and coordinates) as bytes and only the SHA-256 of each data chunk (spec §2.1 file
//! hash), so a miner's manifest can be computed without the store ever existing on disk.
//!
//! [`MemSink`] formats metadata exactly as [`StoreWriter`] does (`serde_json` pretty JSON,
//! consolidated `.zmetadata` last); the tests compare both sinks byte for byte.

use std::collections::BTreeMap;

use gaia_protocol::file_hash;
use serde_json::{json, Map, Value};

use crate::zarr_v2::{ArraySpec, Compressor, Dtype, StoreWriter, WriteError};

/// A destination for one Zarr v2 store.
pub trait ZarrSink {
    /// Compress coordinates written from now on with `c`.
    fn set_coord_compressor(&mut self, c: Compressor);
    /// Declare an array (its `.zarray` and `.zattrs`).
    fn add_array(&mut self, spec: &ArraySpec) -> Result<(), WriteError>;
    /// The chunk at grid index `index` of array `name`, from little-endian element bytes.
    fn put_chunk(&mut self, name: &str, index: &[u64], raw: &[u8]) -> Result<(), WriteError>;
    /// A whole 1-D float64 coordinate in one chunk.
    fn put_coord_f64(
        &mut self,
        name: &str,
        values: &[f64],
        attrs: Map<String, Value>,
    ) -> Result<(), WriteError>;
    /// A whole 1-D int64 coordinate in one chunk.
    fn put_coord_i64(
        &mut self,
        name: &str,
        values: &[i64],
        attrs: Map<String, Value>,
    ) -> Result<(), WriteError>;
    /// A whole 1-D int32 coordinate in one chunk.
    fn put_coord_i32(
        &mut self,
        name: &str,
        values: &[i32],
        attrs: Map<String, Value>,
    ) -> Result<(), WriteError>;
}

impl ZarrSink for StoreWriter {
    fn set_coord_compressor(&mut self, c: Compressor) {
        StoreWriter::set_coord_compressor(self, c);
    }
    fn add_array(&mut self, spec: &ArraySpec) -> Result<(), WriteError> {
        StoreWriter::add_array(self, spec)
    }
    fn put_chunk(&mut self, name: &str, index: &[u64], raw: &[u8]) -> Result<(), WriteError> {
        StoreWriter::put_chunk(self, name, index, raw)
    }
    fn put_coord_f64(
        &mut self,
        name: &str,
        values: &[f64],
        attrs: Map<String, Value>,
    ) -> Result<(), WriteError> {
        StoreWriter::put_coord_f64(self, name, values, attrs)
    }
    fn put_coord_i64(
        &mut self,
        name: &str,
        values: &[i64],
        attrs: Map<String, Value>,
    ) -> Result<(), WriteError> {
        StoreWriter::put_coord_i64(self, name, values, attrs)
    }
    fn put_coord_i32(
        &mut self,
        name: &str,
        values: &[i32],
        attrs: Map<String, Value>,
    ) -> Result<(), WriteError> {
        StoreWriter::put_coord_i32(self, name, values, attrs)
    }
}

/// Store-relative key → bytes.
pub type Files = BTreeMap<String, Vec<u8>>;
/// Store-relative key → hex manifest hash.
pub type Hashes = BTreeMap<String, String>;

/// A store kept in memory: small files as bytes, data chunks as their manifest hash only.
#[derive(Debug, Clone, Default)]
pub struct MemSink {
    /// Store-relative key → bytes, for metadata and for chunks of arrays not in `hash_only`.
    files: Files,
    /// Store-relative key → hex `file_hash(key, bytes)`, for every file (metadata included).
    hashes: Hashes,
    consolidated: BTreeMap<String, Value>,
    arrays: BTreeMap<String, (Compressor, usize)>,
    coord_compressor: Compressor,
    hash_only: Vec<String>,
}

fn encode(v: &Value) -> Result<Vec<u8>, WriteError> {
    serde_json::to_string_pretty(v)
        .map(String::into_bytes)
        .map_err(|e| WriteError::Encode(e.to_string()))
}

impl MemSink {
    /// A store with group attributes; chunks of the arrays named in `hash_only` are hashed and
    /// dropped, every other file is kept.
    pub fn create(group_attrs: Map<String, Value>, hash_only: &[&str]) -> Result<Self, WriteError> {
        let mut s = Self {
            hash_only: hash_only.iter().map(|s| (*s).to_owned()).collect(),
            ..Self::default()
        };
        s.put_meta(".zgroup", json!({ "zarr_format": 2 }))?;
        s.put_meta(".zattrs", Value::Object(group_attrs))?;
        Ok(s)
    }

    fn put_file(&mut self, key: String, bytes: Vec<u8>, keep: bool) {
        self.hashes.insert(key.clone(), file_hash(&key, &bytes));
        if keep {
            self.files.insert(key, bytes);
        }
    }

    fn put_meta(&mut self, key: &str, v: Value) -> Result<(), WriteError> {
        self.put_file(key.to_owned(), encode(&v)?, true);
        self.consolidated.insert(key.to_owned(), v);
        Ok(())
    }

    fn put_1d(
        &mut self,
        name: &str,
        dtype: Dtype,
        raw: &[u8],
        n: usize,
        attrs: Map<String, Value>,
    ) -> Result<(), WriteError> {
        self.add_array(&ArraySpec {
            name: name.to_owned(),
            dims: vec![name.to_owned()],
            shape: vec![n as u64],
            chunks: vec![n as u64],
            dtype,
            attrs,
            compressor: self.coord_compressor,
        })?;
        self.put_chunk(name, &[0], raw)
    }

    /// Write `.zmetadata` and return (kept files, hash of every file), as
    /// [`StoreWriter::finish`] ends a store on disk.
    pub fn finish(mut self) -> Result<(Files, Hashes), WriteError> {
        let doc = json!({
            "metadata": self.consolidated,
            "zarr_consolidated_format": 1,
        });
        self.put_file(".zmetadata".into(), encode(&doc)?, true);
        Ok((self.files, self.hashes))
    }
}

/// `.zarray` of `spec`, as [`StoreWriter::add_array`] writes it.
fn zarray(spec: &ArraySpec) -> Value {
    let compressor = match spec.compressor {
        Compressor::Zstd => {
            json!({ "id": "zstd", "level": crate::zarr_v2::ZSTD_LEVEL, "checksum": false })
        }
        Compressor::Blosc {
            cname,
            clevel,
            shuffle,
        } => json!({
            "id": "blosc",
            "cname": match cname { crate::zarr_v2::BloscName::Zstd => "zstd", crate::zarr_v2::BloscName::Lz4 => "lz4" },
            "clevel": clevel,
            "shuffle": shuffle as u8,
            "blocksize": 0,
        }),
    };
    let (code, fill) = match spec.dtype {
        Dtype::F32 => ("<f4", Value::String("NaN".into())),
        Dtype::F64 => ("<f8", Value::String("NaN".into())),
        Dtype::I64 => ("<i8", Value::Null),
        Dtype::I32 => ("<i4", Value::Null),
    };
    json!({
        "chunks": spec.chunks,
        "compressor": compressor,
        "dimension_separator": ".",
        "dtype": code,
        "fill_value": fill,
        "filters": Value::Null,
        "order": "C",
        "shape": spec.shape,
        "zarr_format": 2,
    })
}

/// Bytes per element of `d`.
pub fn typesize(d: Dtype) -> usize {
    match d {
        Dtype::F32 | Dtype::I32 => 4,
        Dtype::F64 | Dtype::I64 => 8,
    }
}

impl ZarrSink for MemSink {
    fn set_coord_compressor(&mut self, c: Compressor) {
        self.coord_compressor = c;
    }

    fn add_array(&mut self, spec: &ArraySpec) -> Result<(), WriteError> {
        let mut attrs = spec.attrs.clone();
        attrs.insert("_ARRAY_DIMENSIONS".into(), json!(spec.dims));
        self.put_meta(&format!("{}/.zarray", spec.name), zarray(spec))?;
        self.put_meta(&format!("{}/.zattrs", spec.name), Value::Object(attrs))?;
        self.arrays
            .insert(spec.name.clone(), (spec.compressor, typesize(spec.dtype)));
        Ok(())
    }

    fn put_chunk(&mut self, name: &str, index: &[u64], raw: &[u8]) -> Result<(), WriteError> {
        let key: Vec<String> = index.iter().map(u64::to_string).collect();
        let key = format!("{name}/{}", key.join("."));
        let (compressor, typesize) = self.arrays.get(name).copied().unwrap_or_default();
        let bytes = compressor.compress(raw, typesize.max(1))?;
        let keep = !self.hash_only.iter().any(|h| h == name);
        self.put_file(key, bytes, keep);
        Ok(())
    }

    fn put_coord_f64(
        &mut self,
        name: &str,
        values: &[f64],
        attrs: Map<String, Value>,
    ) -> Result<(), WriteError> {
        let raw = crate::zarr_v2::f64_bytes(values);
        self.put_1d(name, Dtype::F64, &raw, values.len(), attrs)
    }

    fn put_coord_i64(
        &mut self,
        name: &str,
        values: &[i64],
        attrs: Map<String, Value>,
    ) -> Result<(), WriteError> {
        let raw = crate::zarr_v2::i64_bytes(values);
        self.put_1d(name, Dtype::I64, &raw, values.len(), attrs)
    }

    fn put_coord_i32(
        &mut self,
        name: &str,
        values: &[i32],
        attrs: Map<String, Value>,
    ) -> Result<(), WriteError> {
        let raw = crate::zarr_v2::i32_bytes(values);
        self.put_1d(name, Dtype::I32, &raw, values.len(), attrs)
    }
}
