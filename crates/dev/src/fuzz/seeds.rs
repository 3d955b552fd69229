//! Seed inputs of the fuzz targets: the layouts production sees (xarray's `.zarray`, `.zattrs`,
//! `.zmetadata` and v3 `zarr.json`, the GrADS and pydap DDS, the scalecodec metadata and storage
//! fixture, a miner's manifest and answers, IPC frames, settings files).

use std::collections::BTreeMap;

use gaia_protocol::{
    Manifest, CHUNK_HASH_ALGORITHM, MANIFEST_SCHEMA_VERSION, PROFILE_STRUCTURE_VERSION,
};
use serde_json::Value;

/// `.zarray` of a production forecast variable as xarray writes it (blosc zstd, bit shuffle).
pub const ZARRAY: &str = r#"{"chunks":[1,721,1440],"compressor":{"blocksize":0,"clevel":3,"cname":"zstd","id":"blosc","shuffle":2},"dtype":"<f4","fill_value":"NaN","filters":null,"order":"C","shape":[40,721,1440],"zarr_format":2}"#;
/// `.zattrs` of that variable.
pub const ZATTRS: &str = r#"{"_ARRAY_DIMENSIONS":["time","lat","lon"],"long_name":"2 metre temperature","units":"K","missing_value":-9999.0}"#;
/// `zarr.json` of an array as zarr-python 3 writes it.
pub const ZARR_JSON: &str = r#"{"shape":[2,721,1440],"data_type":"float32","chunk_grid":{"name":"regular","configuration":{"chunk_shape":[1,721,1440]}},"chunk_key_encoding":{"name":"default","configuration":{"separator":"/"}},"fill_value":0.0,"codecs":[{"name":"bytes","configuration":{"endian":"little"}},{"name":"zstd","configuration":{"level":0,"checksum":false}}],"attributes":{"_FillValue":"AADAfw==","units":"K"},"dimension_names":["time","lat","lon"],"zarr_format":3,"node_type":"array","storage_transformers":[]}"#;

/// Consolidated v2 metadata holding [`ZARRAY`] and [`ZATTRS`].
pub fn zmetadata() -> String {
    format!(
        r#"{{"metadata":{{".zgroup":{{"zarr_format":2}},".zattrs":{{}},"2t/.zarray":{ZARRAY},"2t/.zattrs":{ZATTRS}}},"zarr_consolidated_format":1}}"#
    )
}

/// A v3 root with inline consolidated metadata holding [`ZARR_JSON`].
pub fn v3_root() -> String {
    format!(
        r#"{{"zarr_format":3,"node_type":"group","attributes":{{}},"consolidated_metadata":{{"kind":"inline","must_understand":false,"metadata":{{"2t":{ZARR_JSON}}}}}}}"#
    )
}

/// The GrADS-style DDS of a NOMADS GFS dataset.
pub const GRADS_DDS: &str = "Dataset {\n    Float64 time[time = 3];\n    Grid {\n     ARRAY:\n        Float32 tmp2m[time = 1][lat = 2][lon = 2];\n     MAPS:\n        Float64 time[time = 1];\n        Float64 lat[lat = 2];\n        Float64 lon[lon = 2];\n    } tmp2m;\n} gfs_0p25_12z;\n";
/// A pydap-style DDS (anonymous dimensions, a structure).
pub const PYDAP_DDS: &str = "Dataset {\n Grid {\n Array:\n Float32 hgtprs[1][2][3];\n Maps:\n Float64 time[time = 1];\n Float64 lev[lev = 2];\n Float64 lat[lat = 3];\n } hgtprs;\n Structure { Int32 a; String s; } st;\n} x;";
/// A DAS as GrADS serves it.
pub const DAS: &str = "Attributes {\n NC_GLOBAL { String title \"GFS 0.25 deg\"; }\n tmp2m {\n Float32 _FillValue 9.999E20;\n Float32 missing_value 9.999E20;\n String long_name \"** 2 m above ground temperature [k] \";\n nested { Int32 a 1, 2; }\n }\n}";

/// A `.dods` body for [`GRADS_DDS`].
pub fn dods_body() -> Vec<u8> {
    let be32 = |v: &[f32]| v.iter().flat_map(|x| x.to_be_bytes()).collect::<Vec<u8>>();
    let be64 = |v: &[f64]| v.iter().flat_map(|x| x.to_be_bytes()).collect::<Vec<u8>>();
    let len2 = |n: u32| [n.to_be_bytes(), n.to_be_bytes()].concat();
    let mut b = GRADS_DDS.as_bytes().to_vec();
    b.extend_from_slice(b"Data:\n");
    b.extend(len2(3));
    b.extend(be64(&[739555.5, 739555.75, 739555.625]));
    b.extend(len2(4));
    b.extend(be32(&[1.0, 2.0, 9.999e20, 4.0]));
    b.extend(len2(1));
    b.extend(be64(&[739555.5]));
    b.extend(len2(2));
    b.extend(be64(&[-90.0, 90.0]));
    b.extend(len2(2));
    b.extend(be64(&[0.0, 180.0]));
    b
}

const CHAIN_FIXTURE: &str =
    include_str!("../../../validator/tests/fixtures/chain/online_storage.json");

/// Hex strings of one section of the scalecodec fixture, as bytes.
pub fn chain_fixture(section: &str) -> Vec<Vec<u8>> {
    let doc: Value = serde_json::from_str(CHAIN_FIXTURE).unwrap_or(Value::Null);
    doc[section]
        .as_object()
        .map(|m| {
            m.values()
                .filter_map(Value::as_str)
                .filter_map(|s| hex::decode(s.trim_start_matches("0x")).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// A miner's manifest of a production-layout store.
pub fn manifest() -> Vec<u8> {
    let mut files = BTreeMap::new();
    for key in [
        ".zattrs",
        ".zgroup",
        ".zmetadata",
        "2t/.zarray",
        "2t/.zattrs",
        "2t/0.0.0",
        "lat/0",
        "time/0",
    ] {
        files.insert(
            key.to_string(),
            gaia_protocol::file_hash(key, key.as_bytes()),
        );
    }
    Manifest {
        manifest_schema_version: MANIFEST_SCHEMA_VERSION.into(),
        profile_structure_version: PROFILE_STRUCTURE_VERSION.into(),
        chunk_hash_algorithm: CHUNK_HASH_ALGORITHM.into(),
        signer_hotkey_ss58: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY".into(),
        files,
    }
    .to_python_bytes()
}

/// Answers of the Gaia miner endpoints.
pub fn miner_answers() -> Vec<Vec<u8>> {
    vec![
        br#"{"status": "fetch_accepted", "job_id": "weather_job_2026010100_5F3sa", "message": "queued"}"#.to_vec(),
        br#"{"status": "completed", "zarr_store_url": "/forecasts/weather_forecast_2026010100_miner_hk.zarr", "verification_hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "access_token": "eyJ.e30.x"}"#.to_vec(),
        br#"{"detail": "No symmetric key found for the given key id"}"#.to_vec(),
        br#"{"zarr_store_url": "https://u@203.0.113.7:8091/forecasts/../../etc/passwd"}"#.to_vec(),
    ]
}

/// A real 2048-bit public key PEM.
pub const MINER_PEM: &str = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAx0dbmfIMIfqTq4rUbvrR\nllT5QGuFqiZ0zS5b7XFzaMarnOEtWPn6UchqcuTG/O0nBYSfZIR0buNLvs2YzMV8\nv9LG9Q3MH/hPgpWTjrs2IoErwXfZMKF0E2J3caaVj0TejfiYvTo6CwvFjeyZOu5A\n4UItBUZ9m7AoZtZhBmeE0MSqNAx4HAW/HbQKrEcfl+cNGty9FGM/etsO9e4cNuTR\nHVMKHsCDnv4nPeMm8vtBu64siZ89zEnbloCQR4BRCZ2gJk26xDYwRECXn5xnngCw\nDEn+KGRSe05H1b0TzjLTe30Imf6e7K8bMthJ6fZByXwlwiKYDCEf2JXvVEyulxJ3\nVwIDAQAB\n-----END PUBLIC KEY-----\n";

/// A settings file as an operator writes it.
pub const SETTINGS_TOML: &str = "num_compute_workers = 2\nipc_queue_size = 64\nrestart_backoff_max_s = 30.0\ndatabase_url = \"postgres://gaia:pw@127.0.0.1:5432/gaia\"\nmetrics_addr = \"127.0.0.1:9100\"\n\n[weather]\nenabled = true\nrun_hour_utc = 1\nquery_retry_delays_s = [60, 300, 900]\nmanifest_freeze_window_hours = 2.5\nrecompute_cron = \"5 18 * * *\"\n\n[chain]\nmode = \"offline\"\nnetuid = 237\n";
/// A `.env` file in the blueprint's flat and nested forms.
pub const SETTINGS_ENV: &str = "NUM_COMPUTE_WORKERS=3\nIPC_QUEUE_SIZE=128\nDATABASE_URL=postgres://gaia:pw@db/gaia\nWEATHER__DB_RUN_RETENTION_DAYS=30\nWEATHER__QUERY_RETRY_DELAYS_S=[1,2]\nCHAIN__NETUID=57\nexport LOG_LEVEL='debug'\n# comment\n";
