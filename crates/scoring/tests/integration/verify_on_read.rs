//! Verify-on-read: a dataset opened with a frozen manifest reads exactly what an unverified open
//! reads while the store is unchanged, and refuses a chunk swapped, removed or added after the
//! manifest was frozen — on disk and over HTTP, with Rust- and Python-built manifests.

use std::path::Path;

use crate::zarr_support::{fresh_copy, TestServer};
use gaia_protocol::{build_manifest, FrozenManifest, Manifest, VerifyError};
use gaia_scoring::zarr::{Dataset, OpenOptions, ZarrError};

const SIGNER: &str = "5GU2wYArpfPATbMJvm7WGM5wJqyWdWiZdn7Jo1GoQ4ixmrAo";

fn freeze(store: &Path) -> FrozenManifest {
    let built = build_manifest(store, SIGNER).unwrap();
    FrozenManifest::from_manifest(&built.manifest, built.verification_hash)
}

fn verified(store: &str, frozen: &FrozenManifest) -> Result<Dataset, ZarrError> {
    Dataset::open(
        store,
        &OpenOptions {
            verify: Some(frozen.clone()),
            ..OpenOptions::default()
        },
    )
}

fn assert_same(a: &Dataset, b: &Dataset, var: &str, t: usize, l: Option<usize>) {
    let (x, y) = (
        a.read_field(var, t, l).unwrap(),
        b.read_field(var, t, l).unwrap(),
    );
    assert_eq!(x.grid, y.grid);
    for (p, q) in x.values.iter().zip(y.values.iter()) {
        assert!(p == q || (p.is_nan() && q.is_nan()));
    }
}

#[test]
fn unchanged_store_reads_identically() {
    for name in ["v2_blosc", "v3_zstd"] {
        let (_d, store) = fresh_copy(name);
        let frozen = freeze(&store);
        let s = store.to_str().unwrap();
        let (plain, checked) = (
            Dataset::open(s, &OpenOptions::default()).unwrap(),
            verified(s, &frozen).unwrap(),
        );
        assert_eq!(checked.times().unwrap(), plain.times().unwrap());
        for (var, t, l) in [("2t", 0, None), ("msl", 2, None), ("z", 1, Some(2))] {
            assert_same(&plain, &checked, var, t, l);
        }
    }
}

fn expect_verification(
    result: Result<impl std::fmt::Debug, ZarrError>,
    want: fn(&VerifyError) -> bool,
) {
    match result {
        Err(ZarrError::Verification(e)) if want(&e) => {}
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn swapped_removed_or_added_chunks_are_refused() {
    let (_d, store) = fresh_copy("v3_zstd");
    let frozen = freeze(&store);
    // Swap time 0's chunk for time 1's: valid Zarr data, wrong bytes for this key.
    std::fs::copy(store.join("2t/c/1/0/0"), store.join("2t/c/0/0/0")).unwrap();
    // Remove a listed chunk.
    std::fs::remove_file(store.join("10u/c/1/0/0")).unwrap();
    // Add a chunk where xarray wrote none (msl at time 2 is all NaN).
    std::fs::create_dir_all(store.join("msl/c/2/0")).unwrap();
    std::fs::copy(store.join("msl/c/1/0/0"), store.join("msl/c/2/0/0")).unwrap();
    let ds = verified(store.to_str().unwrap(), &frozen).unwrap();
    expect_verification(
        ds.read_field("2t", 0, None),
        |e| matches!(e, VerifyError::ChunkMismatch { key } if key == "2t/c/0/0/0"),
    );
    expect_verification(
        ds.read_field("10u", 1, None),
        |e| matches!(e, VerifyError::MissingFile { key } if key == "10u/c/1/0/0"),
    );
    expect_verification(
        ds.read_field("msl", 2, None),
        |e| matches!(e, VerifyError::NotInManifest { key } if key == "msl/c/2/0/0"),
    );
    // Untouched chunks still read; chunks missing at freeze time and now read as NaN.
    assert!(ds.read_field("2t", 2, None).is_ok());
    assert!(ds.read_field("10v", 2, None).is_ok());
}

#[test]
fn tampered_metadata_is_refused_at_open() {
    let (_d, store) = fresh_copy("v2_zstd");
    let frozen = freeze(&store);
    let zmeta = store.join(".zmetadata");
    let text = std::fs::read_to_string(&zmeta)
        .unwrap()
        .replace("unit_2t", "unit_XX");
    std::fs::write(&zmeta, text).unwrap();
    expect_verification(
        verified(store.to_str().unwrap(), &frozen),
        |e| matches!(e, VerifyError::ChunkMismatch { key } if key == ".zmetadata"),
    );
    // A metadata document absent from the manifest counts as absent: a manifest without
    // `.zmetadata` and `.zgroup` leaves no way to find the arrays.
    let mut stripped = freeze(&fresh_copy("v2_zstd").1);
    stripped
        .files
        .retain(|k, _| k != ".zmetadata" && k != ".zgroup");
    let (_d2, store2) = fresh_copy("v2_zstd");
    assert!(matches!(
        verified(store2.to_str().unwrap(), &stripped),
        Err(ZarrError::NotAZarrStore(_))
    ));
}

#[test]
fn verify_on_read_over_http_with_a_python_manifest() {
    let (dir, store) = fresh_copy("v2_blosc");
    let out = dir.path().join("m.json");
    gaia_testkit::run_python(
        "scripts/fixtures/manifest_golden.py",
        &[store.to_str().unwrap(), SIGNER, out.to_str().unwrap()],
    )
    .unwrap();
    let bytes = std::fs::read(&out).unwrap();
    let frozen = FrozenManifest::from_manifest(
        &Manifest::parse(&bytes).unwrap(),
        gaia_protocol::verification_hash(&bytes),
    );
    let server = TestServer::start(dir.path(), Some("tok"));
    let options = OpenOptions {
        verify: Some(frozen),
        bearer_token: Some("tok".into()),
        ..OpenOptions::default()
    };
    let url = server.url("v2_blosc.zarr");
    let ds = Dataset::open(&url, &options).unwrap();
    assert!(ds.read_field("t", 1, Some(0)).is_ok());
    std::fs::copy(store.join("t/0.0.0.0"), store.join("t/1.0.0.0")).unwrap();
    let ds = Dataset::open(&url, &options).unwrap();
    expect_verification(ds.read_field("t", 1, Some(0)), |e| {
        matches!(e, VerifyError::ChunkMismatch { .. })
    });
}
