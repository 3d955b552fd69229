//! Reading xarray-written Zarr v2 and v3 stores from disk and over HTTP on loopback: variables,
//! CF times, levels, the normalised grid and field values must equal what xarray itself returns
//! (exactly: float32 → f64 is exact, so the tolerance is 0; NaN positions must coincide).

use crate::zarr_support::{expected, fixtures, TestServer};
use chrono::{DateTime, TimeZone, Utc};
use gaia_scoring::field::Precision;
use gaia_scoring::zarr::write::{
    attrs, f32_bytes, ArraySpec, Compressor, Dtype as WriteDtype, StoreWriter,
};
use gaia_scoring::zarr::{Climatology, Dataset, Format, OpenOptions, ZarrError};
use serde_json::{json, Value};

const FORECASTS: [&str; 9] = [
    "v2_blosc",
    "v2_gzip",
    "v2_zstd",
    "v3_zstd",
    "v3_blosc",
    "v3_gzip",
    "v3_none",
    "v2_miner",
    "v2_missing_value",
];

fn as_f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn check_dataset(ds: &Dataset, name: &str) {
    let exp = expected(name);
    let want_vars: Vec<String> = exp["variables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ds.variable_names(), want_vars, "{name}: variables");
    let times: Vec<String> = ds
        .times()
        .unwrap()
        .iter()
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .collect();
    let want_times: Vec<String> = exp["times"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(times, want_times, "{name}: times");
    assert_eq!(
        ds.pressure_levels().unwrap(),
        Some(as_f64s(&exp["levels"])),
        "{name}: levels"
    );
    let grid = ds.grid().unwrap();
    assert_eq!(grid.lat, as_f64s(&exp["lat"]), "{name}: lat");
    assert_eq!(grid.lon, as_f64s(&exp["lon"]), "{name}: lon");
    assert_eq!(ds.units("2t").as_deref(), exp["units"]["2t"].as_str());
    for f in exp["fields"].as_array().unwrap() {
        let var = f["var"].as_str().unwrap();
        let t = f["time"].as_u64().unwrap() as usize;
        let level = f["level"].as_u64().map(|l| l as usize);
        let field = ds
            .read_field(var, t, level)
            .unwrap_or_else(|e| panic!("{name} {var}: {e}"));
        let rows = f["values"].as_array().unwrap();
        assert_eq!(
            field.values.dim(),
            (rows.len(), rows[0].as_array().unwrap().len())
        );
        for (i, row) in rows.iter().enumerate() {
            for (j, v) in row.as_array().unwrap().iter().enumerate() {
                let got = field.values[[i, j]];
                match v.as_f64() {
                    Some(want) => assert_eq!(got, want, "{name} {var} t={t} [{i},{j}]"),
                    None => assert!(
                        got.is_nan(),
                        "{name} {var} t={t} [{i},{j}] should be NaN, got {got}"
                    ),
                }
            }
        }
    }
}

#[test]
fn reads_every_fixture_store_from_disk() {
    for name in FORECASTS {
        let path = fixtures().join(format!("{name}.zarr"));
        let ds = Dataset::open(path.to_str().unwrap(), &OpenOptions::default()).unwrap();
        let want = if name.starts_with("v2") {
            Format::V2
        } else {
            Format::V3
        };
        assert_eq!(ds.format(), want);
        check_dataset(&ds, name);
    }
}

#[test]
fn reads_v2_and_v3_over_http_with_a_bearer_token() {
    let server = TestServer::start(fixtures(), Some("jwt-123"));
    let options = OpenOptions {
        bearer_token: Some("jwt-123".into()),
        ..OpenOptions::default()
    };
    for name in ["v2_blosc", "v3_zstd", "v3_blosc", "v2_gzip"] {
        let ds = Dataset::open(&server.url(&format!("{name}.zarr")), &options).unwrap();
        check_dataset(&ds, name);
    }
    // Without the token the server answers 401: a named error, not a panic.
    match Dataset::open(&server.url("v3_zstd.zarr"), &OpenOptions::default()) {
        Err(ZarrError::HttpStatus { status: 401, .. }) => {}
        other => panic!("expected 401, got {other:?}"),
    }
}

#[test]
fn reads_only_the_chunks_a_field_needs() {
    let server = TestServer::start(fixtures(), None);
    let ds = Dataset::open(&server.url("v2_zstd.zarr"), &OpenOptions::default()).unwrap();
    let before = server.requested().len();
    ds.read_field("t", 1, Some(2)).unwrap();
    let chunk_reqs: Vec<String> = server.requested()[before..]
        .iter()
        .filter(|r| r.contains("/t/"))
        .cloned()
        .collect();
    // t has chunks (1, 1, 5, 8) over (3, 3, 9, 16): one time and level → 2 × 2 chunks.
    let mut keys: Vec<&str> = chunk_reqs
        .iter()
        .map(|r| r.rsplit('/').next().unwrap())
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        vec!["1.2.0.0", "1.2.0.1", "1.2.1.0", "1.2.1.1"],
        "{chunk_reqs:?}"
    );
}

/// Several levels in one read: each stored chunk along the level axis holding a requested level
/// is fetched once, chunks holding none are not fetched, and every plane equals its own read.
#[test]
fn a_read_of_several_levels_fetches_each_needed_chunk_once() {
    let server = TestServer::start(fixtures(), None);
    // v2_zstd: t has one level per chunk; v2_miner: all levels of a time in one chunk.
    for (name, want_chunks) in [("v2_zstd", 8), ("v2_miner", 1)] {
        let ds = Dataset::open(
            &server.url(&format!("{name}.zarr")),
            &OpenOptions::default(),
        )
        .unwrap();
        let before = server.requested().len();
        let planes = ds.read_field_levels("t", 1, &[2, 0, 2]).unwrap();
        let chunk_reqs: Vec<String> = server.requested()[before..]
            .iter()
            .filter(|r| r.contains("/t/"))
            .cloned()
            .collect();
        assert_eq!(chunk_reqs.len(), want_chunks, "{name}: {chunk_reqs:?}");
        let mut distinct = chunk_reqs.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            chunk_reqs.len(),
            "{name}: a chunk fetched twice"
        );
        if name == "v2_zstd" {
            // Level 1 lies between the requested ones but is in chunks of its own.
            assert!(
                chunk_reqs.iter().all(|r| !r.contains("/t/1.1.")),
                "{chunk_reqs:?}"
            );
        }
        assert_eq!(planes.len(), 3);
        for (plane, level) in planes.iter().zip([2, 0, 2]) {
            let alone = ds.read_field("t", 1, Some(level)).unwrap();
            let same = plane
                .values
                .iter()
                .zip(alone.values.iter())
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{name} level {level}");
        }
    }
}

#[test]
fn missing_all_nan_chunks_read_as_nan() {
    // xarray does not write the all-NaN msl chunks of time 2.
    let path = fixtures().join("v3_zstd.zarr");
    assert!(!path.join("msl/c/2").exists());
    let ds = Dataset::open(path.to_str().unwrap(), &OpenOptions::default()).unwrap();
    assert!(ds
        .read_field("msl", 2, None)
        .unwrap()
        .values
        .iter()
        .all(|v| v.is_nan()));
}

#[test]
fn selection_errors_are_named() {
    let path = fixtures().join("v3_zstd.zarr");
    let ds = Dataset::open(path.to_str().unwrap(), &OpenOptions::default()).unwrap();
    assert!(matches!(
        ds.read_field("nope", 0, None),
        Err(ZarrError::UnknownVariable(_))
    ));
    assert!(matches!(
        ds.read_field("2t", 3, None),
        Err(ZarrError::IndexOutOfRange { index: 3, .. })
    ));
    assert!(matches!(
        ds.read_field("t", 0, Some(7)),
        Err(ZarrError::IndexOutOfRange { .. })
    ));
    assert!(matches!(
        ds.read_field("t", 0, None),
        Err(ZarrError::BadDimensions { .. })
    ));
    assert!(matches!(
        ds.read_field("2t", 0, Some(0)),
        Err(ZarrError::BadDimensions { .. })
    ));
    assert!(matches!(
        ds.read_field("lat", 0, None),
        Err(ZarrError::BadDimensions { .. })
    ));
    assert!(matches!(
        Dataset::open("/definitely/not/here", &OpenOptions::default()),
        Err(ZarrError::BadLocation(_))
    ));
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        Dataset::open(empty.path().to_str().unwrap(), &OpenOptions::default()),
        Err(ZarrError::NotAZarrStore(_))
    ));
}

fn utc(s: &str) -> DateTime<Utc> {
    let naive = chrono::NaiveDateTime::parse_from_str(s.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S")
        .unwrap();
    Utc.from_utc_datetime(&naive)
}

#[test]
fn climatology_selects_day_of_year_and_six_hourly_hour() {
    let short = |long: &str| match long {
        "2m_temperature" => "2t",
        "geopotential" => "z",
        "specific_humidity" => "q",
        "mean_sea_level_pressure" => "msl",
        other => panic!("{other}"),
    };
    for name in ["clim_v2", "clim_v3"] {
        let path = fixtures().join(format!("{name}.zarr"));
        let clim = Climatology::open(path.to_str().unwrap(), &OpenOptions::default()).unwrap();
        for case in expected(name).as_array().unwrap() {
            let var = short(case["var"].as_str().unwrap());
            let level = case["level"].as_f64();
            let field = clim
                .field(var, level, utc(case["time"].as_str().unwrap()))
                .unwrap();
            assert_eq!(field.grid.lat, as_f64s(&case["lat"]));
            assert_eq!(field.grid.lon, as_f64s(&case["lon"]));
            let want: Vec<f64> = case["values"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(as_f64s)
                .collect();
            let got: Vec<f64> = field.values.iter().copied().collect();
            assert_eq!(got, want, "{name} {var}");
        }
        assert!(matches!(
            clim.field("xx", None, Utc::now()),
            Err(ZarrError::UnknownVariable(_))
        ));
        assert!(matches!(
            clim.field("t", Some(123.0), Utc::now()),
            Err(ZarrError::ClimatologyMissing(_))
        ));
        assert_eq!(clim.grid().unwrap().lat[0], 90.0);
    }
}

#[test]
fn stores_without_consolidated_metadata_are_listed_on_disk_only() {
    // v2: drop `.zmetadata`; v3: drop the root's `consolidated_metadata`.
    let (_d2, v2) = crate::zarr_support::fresh_copy("v2_blosc");
    std::fs::remove_file(v2.join(".zmetadata")).unwrap();
    let (_d3, v3) = crate::zarr_support::fresh_copy("v3_zstd");
    let root = v3.join("zarr.json");
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&root).unwrap()).unwrap();
    doc.as_object_mut().unwrap().remove("consolidated_metadata");
    std::fs::write(&root, serde_json::to_vec(&doc).unwrap()).unwrap();
    for (name, path) in [("v2_blosc", &v2), ("v3_zstd", &v3)] {
        let ds = Dataset::open(path.to_str().unwrap(), &OpenOptions::default()).unwrap();
        check_dataset(&ds, name);
    }
    // Over HTTP a store cannot be listed.
    let server = TestServer::start(v2.parent().unwrap(), None);
    match Dataset::open(&server.url("v2_blosc.zarr"), &OpenOptions::default()) {
        Err(ZarrError::NoConsolidatedMetadata(_)) => {}
        other => panic!("{other:?}"),
    }
}

/// The single-precision reader gives every fixture's `float32` level planes as the `f64` reader
/// does, narrowed: the same grid, the same values bit for bit once widened (the fill value and a
/// CF `missing_value` become NaN in both), whatever the chunking (v3_zstd splits a plane into
/// chunks; the ERA5 `production_layout` case reads 13 levels from one chunk) — and declines what it does not
/// read (float64, no level axis, CF scaling).
#[test]
fn single_precision_planes_are_the_f64_planes_narrowed() {
    let levels = [2, 0, 1, 2];
    for name in FORECASTS {
        let path = fixtures().join(format!("{name}.zarr"));
        let ds = Dataset::open(path.to_str().unwrap(), &OpenOptions::default()).unwrap();
        let single = ds.read_field_levels_single("t", 1, &levels).unwrap();
        // v2_miner stores float64: read in double precision only.
        let float32 = ds.array("t").unwrap().precision() == Precision::F32;
        assert_eq!(single.is_some(), float32, "{name}");
        let Some(single) = single else {
            continue;
        };
        let double = ds.read_field_levels("t", 1, &levels).unwrap();
        assert_eq!(single.len(), levels.len());
        let mut nan = 0;
        for ((s, d), level) in single.iter().zip(&double).zip(levels) {
            assert_eq!(s.grid, d.grid, "{name} level {level}");
            assert_eq!(s.values.len(), d.values.len());
            for (a, b) in s.values.iter().zip(d.values.iter()) {
                assert_eq!(f64::from(*a).to_bits(), b.to_bits(), "{name} level {level}");
                nan += usize::from(a.is_nan());
            }
        }
        if name == "v2_missing_value" {
            // Its one -9999 at time 1, read twice (level 2 is asked for twice) or once.
            assert!(nan >= 1, "{name}: the missing value is NaN");
        }
        assert!(ds
            .read_field_levels_single("msl", 1, &[0])
            .unwrap()
            .is_none());
        assert!(ds.read_field_levels_single("nope", 1, &[0]).is_err());
        assert!(matches!(
            ds.read_field_levels_single("t", 1, &[7]),
            Err(ZarrError::IndexOutOfRange { .. })
        ));
    }
    // A float32 array with CF scaling is read in double precision only.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("scaled.zarr");
    let mut w = StoreWriter::create(&root, Default::default()).unwrap();
    let units = |u: &str| attrs([("units", json!(u))]);
    w.put_coord_i64("time", &[0], units("hours since 2026-01-01 00:00:00"))
        .unwrap();
    w.put_coord_f64("pressure_level", &[500.0, 850.0], units("hPa"))
        .unwrap();
    w.put_coord_f64("lat", &[1.0, 0.0], units("degrees_north"))
        .unwrap();
    w.put_coord_f64("lon", &[0.0, 1.0], units("degrees_east"))
        .unwrap();
    w.add_array(&ArraySpec {
        name: "t".into(),
        dims: ["time", "pressure_level", "lat", "lon"]
            .map(String::from)
            .to_vec(),
        shape: vec![1, 2, 2, 2],
        chunks: vec![1, 1, 2, 2],
        dtype: WriteDtype::F32,
        attrs: attrs([("scale_factor", json!(0.5))]),
        compressor: Compressor::Zstd,
    })
    .unwrap();
    for k in 0..2u64 {
        w.put_chunk("t", &[0, k, 0, 0], &f32_bytes(&[1.0, 2.0, 3.0, 4.0]))
            .unwrap();
    }
    w.finish().unwrap();
    let ds = Dataset::open(root.to_str().unwrap(), &OpenOptions::default()).unwrap();
    assert!(ds.read_field_levels_single("t", 0, &[1]).unwrap().is_none());
    let scaled = ds.read_field_levels("t", 0, &[1]).unwrap();
    assert_eq!(scaled[0].values[[0, 1]], 1.0);
}
