//! Property tests of the Zarr metadata parsers and the decompression guard (issue 20). A miner
//! serves `.zarray`, `.zattrs`, `.zmetadata`, `zarr.json` and chunk bytes: arbitrary and mutated
//! documents (huge shapes and chunks, wrong types, NaN/inf, deep nesting, `..` in keys) end in a
//! validated [`ArrayMeta`] or a [`ZarrError`] naming the array, within a time and allocation
//! bound; the guard refuses a chunk that would decode to more than its declared size; the
//! writer's metadata parses back to what was written; a whole store opened from disk with one
//! hostile metadata file is opened or refused, never a panic.

use std::path::Path;

use gaia_testkit::hostile::{bounded, config, hostile, mutated, Limits};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::meta::{arrays_from_v3_root, arrays_from_zmetadata, parse_json, parse_v2, parse_v3};
use super::write::{self, ArraySpec, Compressor, StoreWriter};
use super::{check_chunk, Compression, Dataset, OpenOptions, ZarrError};

/// `.zarray` of a production forecast variable as xarray writes it (blosc zstd, bit shuffle).
const ZARRAY: &str = r#"{"chunks":[1,721,1440],"compressor":{"blocksize":0,"clevel":3,"cname":"zstd","id":"blosc","shuffle":2},"dtype":"<f4","fill_value":"NaN","filters":null,"order":"C","shape":[40,721,1440],"zarr_format":2}"#;
const ZATTRS: &str = r#"{"_ARRAY_DIMENSIONS":["time","lat","lon"],"long_name":"2 metre temperature","units":"K","missing_value":-9999.0}"#;
/// `zarr.json` of an array as zarr-python 3 writes it.
const ZARR_JSON: &str = r#"{"shape":[2,721,1440],"data_type":"float32","chunk_grid":{"name":"regular","configuration":{"chunk_shape":[1,721,1440]}},"chunk_key_encoding":{"name":"default","configuration":{"separator":"/"}},"fill_value":0.0,"codecs":[{"name":"bytes","configuration":{"endian":"little"}},{"name":"zstd","configuration":{"level":0,"checksum":false}}],"attributes":{"_FillValue":"AADAfw==","units":"K"},"dimension_names":["time","lat","lon"],"zarr_format":3,"node_type":"array","storage_transformers":[]}"#;

fn zmetadata() -> String {
    format!(
        r#"{{"metadata":{{".zgroup":{{"zarr_format":2}},".zattrs":{{}},"2t/.zarray":{ZARRAY},"2t/.zattrs":{ZATTRS},"../x/.zarray":{ZARRAY}}},"zarr_consolidated_format":1}}"#
    )
}

fn v3_root() -> String {
    format!(
        r#"{{"zarr_format":3,"node_type":"group","attributes":{{}},"consolidated_metadata":{{"kind":"inline","must_understand":false,"metadata":{{"2t":{ZARR_JSON}}}}}}}"#
    )
}

fn seeds() -> Vec<Vec<u8>> {
    vec![
        ZARRAY.into(),
        ZATTRS.into(),
        ZARR_JSON.into(),
        zmetadata().into_bytes(),
        v3_root().into_bytes(),
    ]
}

/// The error of a metadata parse names the array (or the document) it is about.
fn names_its_subject(e: &ZarrError, name: &str) -> bool {
    let text = e.to_string();
    text.contains(name) || text.contains(".zmetadata") || text.contains("zarr.json")
}

/// Every metadata path on one document: parse as v2 `.zarray` (with the seed's attributes), as
/// v3 `zarr.json`, as consolidated v2 and v3 roots; validated arrays pass the limit check or fail
/// it by name.
fn parse_all(bytes: &[u8]) -> Result<(), TestCaseError> {
    let options = OpenOptions::default();
    let attrs: Value =
        serde_json::from_str(ZATTRS).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let doc = match parse_json("2t/.zarray", bytes, &options) {
        Ok(doc) => doc,
        Err(e) => {
            prop_assert!(matches!(e, ZarrError::BadMetadata { .. }), "{e:?}");
            return Ok(());
        }
    };
    let mut metas = Vec::new();
    for r in [
        parse_v2("2t", &doc, Some(&attrs)),
        parse_v2("2t", &doc, Some(&doc)),
        parse_v3("2t", &doc),
    ] {
        match r {
            Ok(m) => metas.push(m),
            Err(e) => prop_assert!(names_its_subject(&e, "2t"), "{e}"),
        }
    }
    match arrays_from_zmetadata(&doc) {
        Ok(arrays) => {
            prop_assert!(
                arrays.keys().all(|k| !k.contains('/')),
                "nested or traversing names are skipped: {:?}",
                arrays.keys()
            );
            metas.extend(arrays.into_values());
        }
        Err(e) => prop_assert!(!e.to_string().is_empty()),
    }
    if let Ok(Some(arrays)) = arrays_from_v3_root(&doc) {
        metas.extend(arrays.into_values());
    }
    for m in metas {
        prop_assert_eq!(m.shape.len(), m.chunks.len());
        if let Err(e) = m.check_limits(&options) {
            prop_assert!(
                matches!(e, ZarrError::TooLarge { .. }) && names_its_subject(&e, &m.name),
                "{e}"
            );
        }
        let _ = (m.missing_values(), m.precision(), m.dim_index(&["lat"]));
    }
    Ok(())
}

fn compression() -> impl Strategy<Value = Compression> {
    prop::sample::select(vec![
        Compression::None,
        Compression::Blosc,
        Compression::Zstd,
        Compression::Gzip,
        Compression::Zlib,
    ])
}

/// A real compressed chunk of `n` bytes in each codec, as seeds for the guard.
fn chunk_seeds(n: usize) -> Vec<Vec<u8>> {
    let raw: Vec<u8> = (0..n).map(|i| (i % 7) as u8).collect();
    let mut out = vec![raw.clone(), write::compress(&raw).unwrap_or_default()];
    if let Ok(b) = Compressor::PRODUCTION_VALUES.compress(&raw, 4) {
        out.push(b);
    }
    for level in [flate2::Compression::fast(), flate2::Compression::best()] {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), level);
        let mut zl = flate2::write::ZlibEncoder::new(Vec::new(), level);
        let _ = std::io::Write::write_all(&mut gz, &raw);
        let _ = std::io::Write::write_all(&mut zl, &raw);
        out.extend(gz.finish().ok());
        out.extend(zl.finish().ok());
    }
    out
}

/// A small production-layout forecast store (time, lat, lon, one variable).
fn write_store(root: &Path) -> Result<(), write::WriteError> {
    let mut w = StoreWriter::create(
        root,
        write::attrs([("forecast_init_time", json!("2026-01-01T00:00:00"))]),
    )?;
    w.put_coord_i64(
        "time",
        &[0, 6],
        write::attrs([
            ("units", json!("hours since 2026-01-01 00:00:00")),
            ("calendar", json!("proleptic_gregorian")),
        ]),
    )?;
    w.put_coord_f64(
        "lat",
        &[90.0, 0.0, -90.0],
        write::attrs([("units", json!("degrees_north"))]),
    )?;
    w.put_coord_f64(
        "lon",
        &[0.0, 90.0, 180.0, 270.0],
        write::attrs([("units", json!("degrees_east"))]),
    )?;
    let spec = ArraySpec {
        name: "2t".into(),
        dims: vec!["time".into(), "lat".into(), "lon".into()],
        shape: vec![2, 3, 4],
        chunks: vec![1, 3, 4],
        dtype: write::Dtype::F32,
        attrs: write::attrs([("units", json!("K"))]),
        compressor: Compressor::PRODUCTION_VALUES,
    };
    w.add_array(&spec)?;
    for t in 0..2u64 {
        w.put_chunk("2t", &[t, 0, 0], &write::f32_bytes(&[280.0; 12]))?;
    }
    w.finish().map(|_| ())
}

proptest! {
    #![proptest_config(config(20000))]

    #[test]
    fn prop_hostile_metadata_is_validated_or_refused(bytes in hostile(seeds())) {
        bounded("zarr metadata", &bytes, Limits::default(), || parse_all(&bytes))??;
    }

    /// The guard: any bytes in any codec are accepted only when they cannot decode to more than
    /// the declared size (checked here by decoding with a cap).
    #[test]
    fn prop_guard_refuses_bombs(bytes in prop_oneof![hostile(chunk_seeds(4096)), mutated(chunk_seeds(4096))], codec in compression(), expected in prop_oneof![Just(4096u64), 0u64..10_000]) {
        let limits = Limits { peak_bytes: 8 << 20, ..Limits::default() };
        let out = bounded("check_chunk", &bytes, limits, || check_chunk("2t/0.0.0", &bytes, codec, expected))?;
        match out {
            Ok(()) => {
                use std::io::Read;
                let cap = expected + 64;
                let decoded = match codec {
                    Compression::Gzip => flate2::read::GzDecoder::new(&bytes[..]).take(cap + 1).read_to_end(&mut Vec::new()).ok(),
                    Compression::Zlib => flate2::read::ZlibDecoder::new(&bytes[..]).take(cap + 1).read_to_end(&mut Vec::new()).ok(),
                    Compression::None => Some(bytes.len()),
                    _ => None,
                };
                if let Some(n) = decoded {
                    prop_assert!(n as u64 <= cap, "{codec:?}: {n} bytes decoded from a chunk declared {expected}");
                }
            }
            Err(e) => prop_assert!(
                matches!(e, ZarrError::DecompressionBomb { .. } | ZarrError::Decode { .. } | ZarrError::TooLarge { .. }) && e.to_string().contains("2t/0.0.0"),
                "{e}"
            ),
        }
    }
}

proptest! {
    #![proptest_config(config(1000))]

    /// What the writer declares is what the reader validates.
    #[test]
    fn prop_written_metadata_round_trips(shape in prop::collection::vec(1u64..50, 1..4), chunk_div in 1u64..4, f64s in any::<bool>(), zstd in any::<bool>()) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let root = dir.path().join("s.zarr");
        let mut w = StoreWriter::create(&root, serde_json::Map::new()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let dims: Vec<String> = (0..shape.len()).map(|i| format!("d{i}")).collect();
        let chunks: Vec<u64> = shape.iter().map(|s| s.div_ceil(chunk_div)).collect();
        let spec = ArraySpec {
            name: "v".into(),
            dims: dims.clone(),
            shape: shape.clone(),
            chunks: chunks.clone(),
            dtype: if f64s { write::Dtype::F64 } else { write::Dtype::F32 },
            attrs: serde_json::Map::new(),
            compressor: if zstd { Compressor::Zstd } else { Compressor::PRODUCTION_VALUES },
        };
        w.add_array(&spec).map_err(|e| TestCaseError::fail(e.to_string()))?;
        w.finish().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let options = OpenOptions::default();
        let read = |key: &str| -> Result<Value, TestCaseError> {
            let bytes = std::fs::read(root.join(key)).map_err(|e| TestCaseError::fail(e.to_string()))?;
            parse_json(key, &bytes, &options).map_err(|e| TestCaseError::fail(e.to_string()))
        };
        let meta = parse_v2("v", &read("v/.zarray")?, Some(&read("v/.zattrs")?)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&meta.shape, &shape);
        prop_assert_eq!(&meta.chunks, &chunks);
        prop_assert_eq!(&meta.dims, &dims);
        prop_assert_eq!(meta.chunk_bytes, chunks.iter().product::<u64>() * if f64s { 8 } else { 4 });
        prop_assert_eq!(meta.compression, if zstd { Compression::Zstd } else { Compression::Blosc });
        let consolidated = arrays_from_zmetadata(&read(".zmetadata")?).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(consolidated.get("v").map(|m| m.shape.clone()), Some(shape));
    }

    /// A whole store on disk with one metadata file replaced by hostile bytes: opened (and its
    /// coordinates read) or refused with an error, within the bounds.
    #[test]
    fn prop_stores_with_hostile_metadata_open_or_fail(which in prop::sample::select(vec![".zmetadata", "2t/.zarray", "2t/.zattrs", "time/.zarray", "lat/.zattrs", ".zattrs"]), seed in any::<u64>()) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let root = dir.path().join("f.zarr");
        write_store(&root).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let path = root.join(which);
        let original = std::fs::read(&path).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let hostile = gaia_testkit::hostile::mutate(&original, &mut gaia_testkit::hostile::Rng::new(seed), 6, 1 << 20);
        std::fs::write(&path, &hostile).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let location = root.to_string_lossy().into_owned();
        let limits = Limits { time: std::time::Duration::from_secs(5), ..Limits::default() };
        bounded("Dataset::open", &hostile, limits, || {
            if let Ok(ds) = Dataset::open(&location, &OpenOptions::default()) {
                let _ = (ds.variable_names(), ds.times(), ds.init_time(), ds.grid(), ds.units("2t"));
                let _ = ds.read_field("2t", 0, None);
            }
        })?;
    }
}
