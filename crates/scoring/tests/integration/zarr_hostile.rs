//! Hostile stores: absurd metadata, truncated or oversized chunks, decompression bombs, wrong or
//! unsupported data types and codecs, misbehaving HTTP servers. Each must give a named
//! `ZarrError` without panicking and without allocating what the store claims.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::zarr_support::{fixtures, fresh_copy, TestServer};
use gaia_scoring::zarr::{Dataset, OpenOptions, RetryPolicy, ZarrError};
use serde_json::Value;

fn open(path: &Path) -> Result<Dataset, ZarrError> {
    Dataset::open(path.to_str().unwrap(), &OpenOptions::default())
}

/// Edit the consolidated metadata (`.zmetadata` for v2, root `zarr.json` for v3) of a store.
fn edit_consolidated(store: &Path, edit: impl FnOnce(&mut Value)) {
    let (file, pointer) = if store.join("zarr.json").exists() {
        ("zarr.json", "/consolidated_metadata/metadata")
    } else {
        (".zmetadata", "/metadata")
    };
    let path = store.join(file);
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(doc.pointer_mut(pointer).unwrap());
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
}

#[test]
fn absurd_chunk_sizes_are_refused_at_open() {
    let (_d, v2) = fresh_copy("v2_zstd");
    edit_consolidated(&v2, |m| {
        m["2t/.zarray"]["chunks"] = serde_json::json!([1, 1_000_000, 1_000_000])
    });
    match open(&v2) {
        Err(ZarrError::TooLarge { size, .. }) => assert_eq!(size, 4_000_000_000_000),
        other => panic!("{other:?}"),
    }
    let (_d, v3) = fresh_copy("v3_zstd");
    edit_consolidated(&v3, |m| {
        m["t"]["chunk_grid"]["configuration"]["chunk_shape"] =
            serde_json::json!([u64::MAX, 2, 1, 1])
    });
    assert!(matches!(
        open(&v3),
        Err(ZarrError::TooLarge { size: u64::MAX, .. })
    ));
}

#[test]
fn absurd_shapes_and_read_sizes_are_refused() {
    let (_d, v3) = fresh_copy("v3_zstd");
    edit_consolidated(&v3, |m| {
        m["2t"]["shape"] = serde_json::json!([3, 900_000_000, 16])
    });
    let ds = open(&v3).unwrap();
    // The variable no longer matches its coordinates: refused before reading anything.
    assert!(matches!(
        ds.read_field("2t", 0, None),
        Err(ZarrError::BadDimensions { .. })
    ));
    // A read larger than the element limit is refused before allocating.
    let small = OpenOptions {
        max_array_elements: 100,
        ..OpenOptions::default()
    };
    let ds = Dataset::open(fixtures().join("v3_zstd.zarr").to_str().unwrap(), &small).unwrap();
    assert!(matches!(
        ds.read_field("2t", 0, None),
        Err(ZarrError::TooLarge {
            size: 144,
            limit: 100,
            ..
        })
    ));
    // Metadata documents have their own limit.
    let tiny = OpenOptions {
        max_metadata_bytes: 100,
        ..OpenOptions::default()
    };
    assert!(matches!(
        Dataset::open(fixtures().join("v2_blosc.zarr").to_str().unwrap(), &tiny),
        Err(ZarrError::TooLarge { .. })
    ));
}

fn truncate(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    std::fs::write(path, &bytes[..bytes.len() / 2]).unwrap();
}

#[test]
fn truncated_chunks_give_decode_errors() {
    for (store, chunk) in [
        ("v2_zstd", "2t/0.0.0"),
        ("v2_blosc", "2t/0.0.0"),
        ("v2_gzip", "2t/0.0.0"),
        ("v3_none", "2t/c/0/0/0"),
        ("v3_zstd", "2t/c/0/0/0"),
    ] {
        let (_d, path) = fresh_copy(store);
        truncate(&path.join(chunk));
        let ds = open(&path).unwrap();
        match ds.read_field("2t", 0, None) {
            Err(ZarrError::Decode { .. }) => {}
            other => panic!("{store}: expected a decode error, got {other:?}"),
        }
        // Other chunks still read.
        assert!(ds.read_field("2t", 1, None).is_ok(), "{store}");
    }
}

#[test]
fn wrong_and_unsupported_dtypes() {
    // Metadata claims float64 but the (uncompressed) chunks hold float32 bytes.
    let (_d, v3) = fresh_copy("v3_none");
    edit_consolidated(&v3, |m| m["2t"]["data_type"] = Value::from("float64"));
    let ds = open(&v3).unwrap();
    assert!(matches!(
        ds.read_field("2t", 0, None),
        Err(ZarrError::Decode { .. })
    ));
    for dtype in ["|S4", "<M8[ns]", "<c8", "<f2"] {
        let (_d, v2) = fresh_copy("v2_zstd");
        edit_consolidated(&v2, |m| m["2t/.zarray"]["dtype"] = Value::from(dtype));
        assert!(
            matches!(open(&v2), Err(ZarrError::UnsupportedDtype { .. })),
            "{dtype}"
        );
    }
    let (_d, v3) = fresh_copy("v3_zstd");
    edit_consolidated(&v3, |m| m["q"]["data_type"] = Value::from("complex64"));
    assert!(matches!(open(&v3), Err(ZarrError::UnsupportedDtype { .. })));
}

#[test]
fn unsupported_codecs_are_refused() {
    let (_d, v2) = fresh_copy("v2_zstd");
    edit_consolidated(&v2, |m| {
        m["2t/.zarray"]["compressor"] = serde_json::json!({"id": "bz2", "level": 1})
    });
    assert!(matches!(open(&v2), Err(ZarrError::UnsupportedCodec { .. })));
    let (_d, v2) = fresh_copy("v2_zstd");
    edit_consolidated(&v2, |m| {
        m["2t/.zarray"]["filters"] = serde_json::json!([{"id": "delta", "dtype": "<f4"}])
    });
    assert!(matches!(open(&v2), Err(ZarrError::UnsupportedCodec { .. })));
    let (_d, v3) = fresh_copy("v3_zstd");
    edit_consolidated(&v3, |m| {
        m["2t"]["codecs"] = serde_json::json!([{"name": "sharding_indexed", "configuration": {}}])
    });
    assert!(matches!(open(&v3), Err(ZarrError::UnsupportedCodec { .. })));
    let (_d, v3) = fresh_copy("v3_zstd");
    edit_consolidated(&v3, |m| {
        m["2t"]["codecs"] =
            serde_json::json!([{"name": "bytes"}, {"name": "zstd"}, {"name": "gzip"}])
    });
    assert!(matches!(open(&v3), Err(ZarrError::UnsupportedCodec { .. })));
}

#[test]
fn decompression_bombs_are_refused_before_decoding() {
    // Bombs small enough to pass the stored-size check (≤ 1204 bytes for a 160-byte chunk).
    let zeros = vec![0u8; 16 << 20];
    // zstd: 16 MiB of zeros compress to ~500 bytes; the chunk may hold 1×5×8 float32 = 160 bytes.
    let (_d, v2) = fresh_copy("v2_zstd");
    std::fs::write(
        v2.join("2t/0.0.0"),
        zstd::bulk::compress(&zeros, 1).unwrap(),
    )
    .unwrap();
    match open(&v2).unwrap().read_field("2t", 0, None) {
        Err(ZarrError::DecompressionBomb {
            claimed,
            expected: 160,
            ..
        }) => assert!(claimed >= 16 << 20),
        other => panic!("{other:?}"),
    }
    // gzip: no size header, so the guard counts while decoding and stops just past the limit.
    let (_d, v2) = fresh_copy("v2_gzip");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&zeros[..256 << 10]).unwrap();
    std::fs::write(v2.join("2t/0.0.0"), gz.finish().unwrap()).unwrap();
    assert!(matches!(
        open(&v2).unwrap().read_field("2t", 0, None),
        Err(ZarrError::DecompressionBomb { expected: 160, .. })
    ));
    // blosc: a header claiming 2 GiB.
    let (_d, v2) = fresh_copy("v2_blosc");
    let chunk = v2.join("2t/0.0.0");
    let mut bytes = std::fs::read(&chunk).unwrap();
    bytes[4..8].copy_from_slice(&(2u32 << 30).to_le_bytes());
    std::fs::write(&chunk, bytes).unwrap();
    assert!(matches!(
        open(&v2).unwrap().read_field("2t", 0, None),
        Err(ZarrError::DecompressionBomb {
            claimed: 2147483648,
            ..
        })
    ));
    // Uncompressed: a stored value far larger than the chunk.
    let (_d, v3) = fresh_copy("v3_none");
    std::fs::write(v3.join("2t/c/0/0/0"), vec![0u8; 400]).unwrap();
    assert!(matches!(
        open(&v3).unwrap().read_field("2t", 0, None),
        Err(ZarrError::DecompressionBomb { .. })
    ));
}

#[test]
fn stored_keys_over_the_limit_are_not_read() {
    // A stored chunk far larger than its decoded size is refused before decoding.
    let (_d, v3) = fresh_copy("v3_zstd");
    std::fs::write(v3.join("2t/c/0/0/0"), vec![0u8; 50_000]).unwrap();
    let ds = open(&v3).unwrap();
    assert!(matches!(
        ds.read_field("2t", 0, None),
        Err(ZarrError::TooLarge {
            size: 50_000,
            limit: 1204,
            ..
        })
    ));
    // Every key (metadata included) is bounded by max(max_chunk_bytes, max_metadata_bytes)
    // before it is read.
    let tiny = OpenOptions {
        max_chunk_bytes: 1000,
        max_metadata_bytes: 1000,
        ..OpenOptions::default()
    };
    match Dataset::open(fixtures().join("v3_zstd.zarr").to_str().unwrap(), &tiny) {
        Err(ZarrError::TooLarge { limit: 1000, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn nan_inf_and_huge_values_are_returned_as_stored() {
    let ds = open(&fixtures().join("v3_extreme.zarr")).unwrap();
    let f = ds.read_field("2t", 0, None).unwrap();
    assert_eq!(f.values[[0, 0]], f64::INFINITY);
    assert_eq!(f.values[[0, 1]], f64::NEG_INFINITY);
    assert_eq!(f.values[[0, 2]], f64::from(1e13f32));
    assert!(f.values.iter().skip(3).all(|v| v.is_finite()));
}

#[test]
fn corrupt_metadata_is_a_named_error() {
    let (_d, v2) = fresh_copy("v2_zstd");
    std::fs::write(v2.join(".zmetadata"), b"{not json").unwrap();
    assert!(matches!(open(&v2), Err(ZarrError::BadMetadata { .. })));
    let (_d, v3) = fresh_copy("v3_zstd");
    edit_consolidated(&v3, |m| m["2t"]["shape"] = Value::from("big"));
    assert!(matches!(open(&v3), Err(ZarrError::BadMetadata { .. })));
    let (_d, v3) = fresh_copy("v3_zstd");
    edit_consolidated(&v3, |m| {
        m["2t"]["dimension_names"] = serde_json::json!(["time"])
    });
    assert!(matches!(open(&v3), Err(ZarrError::BadDimensions { .. })));
    let (_d, v3) = fresh_copy("v3_zstd");
    edit_consolidated(
        &v3,
        |m| {
            m["time"]["attributes"] =
                serde_json::json!({"units": "hours since 2026-11-27", "calendar": "360_day"})
        },
    );
    assert!(matches!(
        open(&v3).unwrap().times(),
        Err(ZarrError::BadTime(_))
    ));
}

/// Issue 15 point 3: a store that answers every GET slowly ends its read at the store's download
/// deadline, however many requests are left and whatever the per-request timeout, instead of
/// holding a worker until the scoring job's timeout (an hour in production).
#[test]
fn a_slow_store_ends_at_its_download_deadline() {
    let server = TestServer::start(fixtures(), None);
    let url = server.url("v3_zstd.zarr");
    let deadline = |ms| OpenOptions {
        download_deadline: Some(Duration::from_millis(ms)),
        ..OpenOptions::default()
    };
    // Each answer takes 400 ms, well under the 120 s request timeout: the reads add up.
    server.control.delay_ms.store(400, Ordering::SeqCst);
    let read = |options: &OpenOptions| -> Result<(), ZarrError> {
        let ds = Dataset::open(&url, options)?;
        ds.read_field("msl", 0, None)?;
        ds.read_field("t", 0, Some(0)).map(|_| ())
    };
    match read(&deadline(1000)) {
        Err(e @ ZarrError::DownloadDeadline { seconds: 1, .. }) => {
            assert!(e.is_transient(), "a slow miner may be faster later");
            assert!(e.to_string().contains("download deadline of 1 s"), "{e}");
        }
        other => panic!("expected the download deadline, got {other:?}"),
    }
    // One answer that would take 10 s: the request is cut at the deadline, not at the 120 s
    // request timeout (nor retried six times).
    server.control.delay_ms.store(10_000, Ordering::SeqCst);
    let started = std::time::Instant::now();
    let result = Dataset::open(&url, &deadline(1000));
    assert!(
        matches!(result, Err(ZarrError::DownloadDeadline { .. })),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the read ran past its deadline: {:?}",
        started.elapsed()
    );
    // Without a deadline (truth stores) the same slow answers are only bounded per request.
    server.control.delay_ms.store(50, Ordering::SeqCst);
    read(&OpenOptions::default()).expect("a slow but steady store without a deadline");
    read(&deadline(60_000)).expect("within a generous deadline");
}

#[test]
fn misbehaving_http_servers() {
    let server = TestServer::start(fixtures(), None);
    let url = server.url("v3_zstd.zarr");
    // Stalls past the timeout.
    server.control.delay_ms.store(1500, Ordering::SeqCst);
    let once = RetryPolicy {
        attempts: 1,
        ..RetryPolicy::default()
    };
    let quick = OpenOptions {
        timeout: Duration::from_millis(300),
        retry: once,
        ..OpenOptions::default()
    };
    assert!(matches!(
        Dataset::open(&url, &quick),
        Err(ZarrError::Timeout { .. })
    ));
    server.control.delay_ms.store(0, Ordering::SeqCst);
    // Declares a body larger than the limit.
    server.control.fake_length.store(10 << 30, Ordering::SeqCst);
    assert!(matches!(
        Dataset::open(&url, &OpenOptions::default()),
        Err(ZarrError::TooLarge { .. })
    ));
    server.control.fake_length.store(0, Ordering::SeqCst);
    // Server errors: retried with back-off (three tries here), then reported as transient.
    server.control.fail.store(true, Ordering::SeqCst);
    let before = server.requested().len();
    let three = OpenOptions {
        retry: RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(5),
            ..RetryPolicy::default()
        },
        ..OpenOptions::default()
    };
    match Dataset::open(&url, &three) {
        Err(e @ ZarrError::HttpStatus { status: 500, .. }) => assert!(e.is_transient()),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.requested().len() - before, 3, "three tries");
    server.control.fail.store(false, Ordering::SeqCst);
    // Nothing listening.
    assert!(matches!(
        Dataset::open("http://127.0.0.1:9/x.zarr", &quick),
        Err(ZarrError::Transport { .. } | ZarrError::Timeout { .. })
    ));
    // A URL that cannot carry a store.
    assert!(matches!(
        Dataset::open("http://127.0.0.1:9/x.zarr?token=1", &quick),
        Err(ZarrError::BadLocation(_))
    ));
}
