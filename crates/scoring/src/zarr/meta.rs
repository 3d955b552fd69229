//! Our own reading of array metadata (Zarr v2 `.zarray`/`.zattrs` and v3 `zarr.json`, from
//! consolidated metadata when present) and its validation against the configured limits, done
//! before zarrs is handed the metadata, so that a hostile store is refused before anything is
//! allocated: data type, codecs, chunk sizes and dimension names are all checked here.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use zarrs::array::{ArrayMetadata, ArrayMetadataV2, ArrayMetadataV3};

use super::{OpenOptions, ZarrError};

/// Zarr format of a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Zarr v2 (`.zgroup`, `.zarray`, `.zattrs`, `.zmetadata`).
    V2,
    /// Zarr v3 (`zarr.json`).
    V3,
}

/// The real-number data types the reader decodes (all converted to `f64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// Signed integers.
    I8,
    /// Signed 16-bit.
    I16,
    /// Signed 32-bit.
    I32,
    /// Signed 64-bit.
    I64,
    /// Unsigned 8-bit.
    U8,
    /// Unsigned 16-bit.
    U16,
    /// Unsigned 32-bit.
    U32,
    /// Unsigned 64-bit.
    U64,
}

impl Dtype {
    /// Bytes per element.
    pub fn size(self) -> u64 {
        match self {
            Dtype::I8 | Dtype::U8 => 1,
            Dtype::I16 | Dtype::U16 => 2,
            Dtype::F32 | Dtype::I32 | Dtype::U32 => 4,
            Dtype::F64 | Dtype::I64 | Dtype::U64 => 8,
        }
    }

    fn from_v2(s: &str) -> Option<Self> {
        // "<f4", ">f8", "|u1": byte order is handled by zarrs; only the kind and size matter here.
        let body = s.strip_prefix(['<', '>', '|', '=']).unwrap_or(s);
        Some(match body {
            "f4" => Dtype::F32,
            "f8" => Dtype::F64,
            "i1" => Dtype::I8,
            "i2" => Dtype::I16,
            "i4" => Dtype::I32,
            "i8" => Dtype::I64,
            "u1" => Dtype::U8,
            "u2" => Dtype::U16,
            "u4" => Dtype::U32,
            "u8" => Dtype::U64,
            _ => return None,
        })
    }

    fn from_v3(s: &str) -> Option<Self> {
        Some(match s {
            "float32" => Dtype::F32,
            "float64" => Dtype::F64,
            "int8" => Dtype::I8,
            "int16" => Dtype::I16,
            "int32" => Dtype::I32,
            "int64" => Dtype::I64,
            "uint8" => Dtype::U8,
            "uint16" => Dtype::U16,
            "uint32" => Dtype::U32,
            "uint64" => Dtype::U64,
            _ => return None,
        })
    }
}

/// The compression of an array's chunks (at most one stage; all have a bounded decoder check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Stored raw.
    None,
    /// Blosc (any inner compressor).
    Blosc,
    /// Zstandard.
    Zstd,
    /// Gzip.
    Gzip,
    /// Zlib.
    Zlib,
}

impl Compression {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "blosc" => Compression::Blosc,
            "zstd" => Compression::Zstd,
            "gzip" => Compression::Gzip,
            "zlib" => Compression::Zlib,
            _ => return None,
        })
    }
}

/// One array's metadata, validated.
#[derive(Debug, Clone)]
pub struct ArrayMeta {
    /// Array name (path in the store, no leading slash).
    pub name: String,
    /// Array shape.
    pub shape: Vec<u64>,
    /// Regular chunk shape.
    pub chunks: Vec<u64>,
    /// Element type.
    pub dtype: Dtype,
    /// Dimension names (v2 `_ARRAY_DIMENSIONS`, v3 `dimension_names`).
    pub dims: Vec<String>,
    /// User attributes.
    pub attrs: Map<String, Value>,
    /// The value xarray masks to NaN: the v2 `fill_value`, or the v3 `_FillValue` attribute
    /// (base64 of the little-endian element); `None` when nothing is masked.
    pub fill: Option<f64>,
    /// Chunk compression.
    pub compression: Compression,
    /// Decoded bytes of one chunk.
    pub chunk_bytes: u64,
    /// The metadata handed to zarrs.
    pub zarrs: ArrayMetadata,
}

impl ArrayMeta {
    /// The CF `missing_value` attribute's values (a number or a list of numbers), in the array's
    /// element type as xarray compares them (a float32 array's `-9999.0` is `-9999f32`); NaN and
    /// non-numbers are ignored.
    pub fn missing_values(&self) -> Vec<f64> {
        let numbers: Vec<f64> = match self.attrs.get("missing_value") {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_f64).collect(),
            Some(v) => v.as_f64().into_iter().collect(),
            None => Vec::new(),
        };
        numbers
            .into_iter()
            .filter(|x| !x.is_nan())
            .map(|x| match self.dtype {
                Dtype::F32 => f64::from(x as f32),
                _ => x,
            })
            .collect()
    }

    /// The precision of the values as read: single for a `float32` array without CF scaling
    /// (xarray keeps it `float32`), double otherwise.
    pub fn precision(&self) -> crate::field::Precision {
        let scaled = ["scale_factor", "add_offset"]
            .iter()
            .any(|k| self.attrs.contains_key(*k));
        if self.dtype == Dtype::F32 && !scaled {
            crate::field::Precision::F32
        } else {
            crate::field::Precision::F64
        }
    }
}

fn bad(key: &str, reason: impl Into<String>) -> ZarrError {
    ZarrError::BadMetadata {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

fn u64_list(v: Option<&Value>, key: &str, field: &str) -> Result<Vec<u64>, ZarrError> {
    let arr = v
        .and_then(Value::as_array)
        .ok_or_else(|| bad(key, format!("`{field}` missing")))?;
    arr.iter()
        .map(|x| {
            x.as_u64()
                .ok_or_else(|| bad(key, format!("`{field}` holds a non-integer")))
        })
        .collect()
}

fn parse_fill(v: Option<&Value>, dtype: Dtype) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            hex if hex.starts_with("0x") => {
                let bits = u64::from_str_radix(&hex[2..], 16).ok()?;
                match dtype {
                    Dtype::F32 => u32::try_from(bits)
                        .ok()
                        .map(|b| f64::from(f32::from_bits(b))),
                    Dtype::F64 => Some(f64::from_bits(bits)),
                    _ => None,
                }
            }
            _ => None,
        },
        _ => None,
    }
}

/// xarray's v3 mask value: the `_FillValue` attribute, a number or base64 of the little-endian
/// element bytes (the array's own `fill_value` only fills missing chunks and is not masked).
fn v3_mask_value(attrs: &Map<String, Value>, dtype: Dtype) -> Option<f64> {
    match attrs.get("_FillValue")? {
        Value::String(s) => {
            let raw = base64_decode(s)?;
            if raw.len() as u64 != dtype.size() {
                return None;
            }
            let mut b = [0u8; 8];
            b[..raw.len()].copy_from_slice(&raw);
            Some(match dtype {
                Dtype::F32 => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                Dtype::F64 => f64::from_le_bytes(b),
                Dtype::I8 => f64::from(b[0] as i8),
                Dtype::U8 => f64::from(b[0]),
                Dtype::I16 => f64::from(i16::from_le_bytes([b[0], b[1]])),
                Dtype::U16 => f64::from(u16::from_le_bytes([b[0], b[1]])),
                Dtype::I32 => f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                Dtype::U32 => f64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                Dtype::I64 => i64::from_le_bytes(b) as f64,
                Dtype::U64 => u64::from_le_bytes(b) as f64,
            })
        }
        other => parse_fill(Some(other), dtype),
    }
}

/// Standard base64 (with or without padding); `None` on any invalid character.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    Some(out)
}

/// Validate and describe an array from its v2 `.zarray` and `.zattrs` documents.
pub(super) fn parse_v2(
    name: &str,
    zarray: &Value,
    zattrs: Option<&Value>,
) -> Result<ArrayMeta, ZarrError> {
    let key = format!("{name}/.zarray");
    let dtype_s = zarray
        .get("dtype")
        .and_then(Value::as_str)
        .unwrap_or("<missing>");
    let dtype = Dtype::from_v2(dtype_s).ok_or_else(|| ZarrError::UnsupportedDtype {
        var: name.to_owned(),
        dtype: dtype_s.to_owned(),
    })?;
    let compression = match zarray.get("compressor") {
        None | Some(Value::Null) => Compression::None,
        Some(c) => {
            let id = c
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("<missing id>");
            Compression::from_name(id).ok_or_else(|| ZarrError::UnsupportedCodec {
                var: name.to_owned(),
                codec: id.to_owned(),
            })?
        }
    };
    match zarray.get("filters") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) if a.is_empty() => {}
        Some(other) => {
            return Err(ZarrError::UnsupportedCodec {
                var: name.to_owned(),
                codec: format!("filters {other}"),
            })
        }
    }
    let attrs = match zattrs {
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(bad(&format!("{name}/.zattrs"), "not an object")),
        None => Map::new(),
    };
    let dims = attrs
        .get("_ARRAY_DIMENSIONS")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|d| d.as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default();
    let mut md: ArrayMetadataV2 =
        serde_json::from_value(zarray.clone()).map_err(|e| bad(&key, e.to_string()))?;
    md.attributes = attrs.clone();
    finish(
        name,
        &key,
        u64_list(zarray.get("shape"), &key, "shape")?,
        u64_list(zarray.get("chunks"), &key, "chunks")?,
        dtype,
        dims,
        attrs,
        parse_fill(zarray.get("fill_value"), dtype),
        compression,
        ArrayMetadata::V2(md),
    )
}

/// Validate and describe an array from its v3 `zarr.json` document.
pub(super) fn parse_v3(name: &str, doc: &Value) -> Result<ArrayMeta, ZarrError> {
    let key = format!("{name}/zarr.json");
    let dtype_s = doc
        .get("data_type")
        .and_then(Value::as_str)
        .unwrap_or("<non-string>");
    let dtype = Dtype::from_v3(dtype_s).ok_or_else(|| ZarrError::UnsupportedDtype {
        var: name.to_owned(),
        dtype: dtype_s.to_owned(),
    })?;
    let grid = doc
        .get("chunk_grid")
        .ok_or_else(|| bad(&key, "`chunk_grid` missing"))?;
    if grid.get("name").and_then(Value::as_str) != Some("regular") {
        return Err(bad(&key, "only the regular chunk grid is supported"));
    }
    let chunks = u64_list(
        grid.pointer("/configuration/chunk_shape"),
        &key,
        "chunk_shape",
    )?;
    let mut compression = Compression::None;
    let codecs = doc
        .get("codecs")
        .and_then(Value::as_array)
        .ok_or_else(|| bad(&key, "`codecs`"))?;
    for codec in codecs {
        let cname = codec
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("<missing name>");
        match cname {
            "bytes" | "transpose" | "crc32c" => {}
            other => match Compression::from_name(other) {
                Some(c) if compression == Compression::None => compression = c,
                _ => {
                    return Err(ZarrError::UnsupportedCodec {
                        var: name.to_owned(),
                        codec: other.to_owned(),
                    })
                }
            },
        }
    }
    if doc
        .get("storage_transformers")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
    {
        return Err(ZarrError::UnsupportedCodec {
            var: name.to_owned(),
            codec: "storage_transformers".into(),
        });
    }
    let attrs = doc
        .get("attributes")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let dims = doc
        .get("dimension_names")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|d| d.as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default();
    let md: ArrayMetadataV3 =
        serde_json::from_value(doc.clone()).map_err(|e| bad(&key, e.to_string()))?;
    let mask = v3_mask_value(&attrs, dtype);
    finish(
        name,
        &key,
        u64_list(doc.get("shape"), &key, "shape")?,
        chunks,
        dtype,
        dims,
        attrs,
        mask,
        compression,
        ArrayMetadata::V3(md),
    )
}

#[allow(clippy::too_many_arguments)]
fn finish(
    name: &str,
    key: &str,
    shape: Vec<u64>,
    chunks: Vec<u64>,
    dtype: Dtype,
    dims: Vec<String>,
    attrs: Map<String, Value>,
    fill: Option<f64>,
    compression: Compression,
    zarrs: ArrayMetadata,
) -> Result<ArrayMeta, ZarrError> {
    if shape.len() != chunks.len() || shape.is_empty() {
        return Err(bad(
            key,
            format!("shape {shape:?} and chunks {chunks:?} disagree"),
        ));
    }
    if chunks.contains(&0) {
        return Err(bad(key, "zero chunk length"));
    }
    if !dims.is_empty() && dims.len() != shape.len() {
        return Err(ZarrError::BadDimensions {
            var: name.to_owned(),
            reason: format!("{} names for {} dimensions", dims.len(), shape.len()),
        });
    }
    let chunk_bytes = chunks
        .iter()
        .try_fold(dtype.size(), |acc, &c| acc.checked_mul(c))
        .unwrap_or(u64::MAX);
    Ok(ArrayMeta {
        name: name.to_owned(),
        shape,
        chunks,
        dtype,
        dims,
        attrs,
        fill,
        compression,
        chunk_bytes,
        zarrs,
    })
}

impl ArrayMeta {
    /// Refuse chunks whose decoded size is over the limit (before anything is read).
    pub fn check_limits(&self, options: &OpenOptions) -> Result<(), ZarrError> {
        if self.chunk_bytes > options.max_chunk_bytes {
            return Err(ZarrError::TooLarge {
                what: format!("decoded chunk of `{}` ({:?})", self.name, self.chunks),
                size: self.chunk_bytes,
                limit: options.max_chunk_bytes,
            });
        }
        Ok(())
    }

    /// Index of the dimension named by any of `names`.
    pub fn dim_index(&self, names: &[&str]) -> Option<usize> {
        self.dims.iter().position(|d| names.contains(&d.as_str()))
    }
}

/// Parse a JSON document read from the store, enforcing the metadata size limit.
pub(super) fn parse_json(
    key: &str,
    bytes: &[u8],
    options: &OpenOptions,
) -> Result<Value, ZarrError> {
    if bytes.len() as u64 > options.max_metadata_bytes {
        return Err(ZarrError::TooLarge {
            what: format!("metadata `{key}`"),
            size: bytes.len() as u64,
            limit: options.max_metadata_bytes,
        });
    }
    serde_json::from_slice(bytes).map_err(|e| bad(key, e.to_string()))
}

/// All arrays of a v2 consolidated `.zmetadata` document, by name.
pub(super) fn arrays_from_zmetadata(doc: &Value) -> Result<BTreeMap<String, ArrayMeta>, ZarrError> {
    let md = doc
        .get("metadata")
        .and_then(Value::as_object)
        .ok_or_else(|| bad(".zmetadata", "`metadata` missing"))?;
    let mut out = BTreeMap::new();
    for (k, v) in md {
        if let Some(name) = k.strip_suffix("/.zarray") {
            if name.contains('/') {
                continue; // nested groups are not part of the dataset conventions
            }
            let attrs = md.get(&format!("{name}/.zattrs"));
            out.insert(name.to_owned(), parse_v2(name, v, attrs)?);
        }
    }
    Ok(out)
}

/// All arrays of a v3 root `zarr.json` with inline consolidated metadata, by name; `None` when
/// the document has no consolidated metadata.
pub(super) fn arrays_from_v3_root(
    doc: &Value,
) -> Result<Option<BTreeMap<String, ArrayMeta>>, ZarrError> {
    let Some(md) = doc
        .pointer("/consolidated_metadata/metadata")
        .and_then(Value::as_object)
    else {
        return Ok(None);
    };
    let mut out = BTreeMap::new();
    for (name, v) in md {
        if name.contains('/') || v.get("node_type").and_then(Value::as_str) != Some("array") {
            continue;
        }
        out.insert(name.clone(), parse_v3(name, v)?);
    }
    Ok(Some(out))
}

/// Validate one metadata document as [`Dataset::open`](super::Dataset::open) would, by its key:
/// `.zmetadata` (consolidated v2), `zarr.json` (a v3 root with consolidated metadata, or one
/// array's `NAME/zarr.json`) or `NAME/.zarray` (with `zattrs`, the bytes of `NAME/.zattrs`);
/// every array found passes the limit check of `options`. The entry point of the fuzz harness.
pub fn parse_document(
    key: &str,
    bytes: &[u8],
    zattrs: Option<&[u8]>,
    options: &OpenOptions,
) -> Result<Vec<ArrayMeta>, ZarrError> {
    let doc = parse_json(key, bytes, options)?;
    let arrays: Vec<ArrayMeta> = match key.rsplit_once('/') {
        None if key == ".zmetadata" => arrays_from_zmetadata(&doc)?.into_values().collect(),
        None if key == "zarr.json" => arrays_from_v3_root(&doc)?
            .map(|a| a.into_values().collect())
            .unwrap_or_default(),
        Some((name, "zarr.json")) => vec![parse_v3(name, &doc)?],
        Some((name, ".zarray")) => {
            let attrs = zattrs
                .map(|b| parse_json(&format!("{name}/.zattrs"), b, options))
                .transpose()?;
            vec![parse_v2(name, &doc, attrs.as_ref())?]
        }
        _ => return Err(bad(key, "not a metadata document key")),
    };
    for m in &arrays {
        m.check_limits(options)?;
    }
    Ok(arrays)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_xarray_fill_value_attributes() {
        let mut attrs = Map::new();
        attrs.insert("_FillValue".into(), Value::String("AAAAAAAA+H8=".into()));
        assert!(v3_mask_value(&attrs, Dtype::F64).unwrap().is_nan());
        attrs.insert("_FillValue".into(), Value::String("AADAfw==".into()));
        assert!(v3_mask_value(&attrs, Dtype::F32).unwrap().is_nan());
        attrs.insert("_FillValue".into(), Value::String("//8=".into()));
        assert_eq!(v3_mask_value(&attrs, Dtype::I16), Some(-1.0));
        assert_eq!(v3_mask_value(&attrs, Dtype::F32), None, "wrong width");
        attrs.insert("_FillValue".into(), Value::from(-999));
        assert_eq!(v3_mask_value(&attrs, Dtype::I32), Some(-999.0));
        attrs.insert("_FillValue".into(), Value::String("*".into()));
        assert_eq!(v3_mask_value(&attrs, Dtype::I32), None);
        assert_eq!(v3_mask_value(&Map::new(), Dtype::F32), None);
        assert_eq!(
            parse_fill(Some(&Value::String("0x7fc00000".into())), Dtype::F32).map(f64::is_nan),
            Some(true)
        );
        assert_eq!(
            parse_fill(Some(&Value::String("Infinity".into())), Dtype::F64),
            Some(f64::INFINITY)
        );
        assert_eq!(parse_fill(Some(&Value::Null), Dtype::F64), None);
    }
}
