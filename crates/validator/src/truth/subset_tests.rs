//! Tests of the subset mirror against stores written by xarray, served over loopback HTTP.

use super::*;
use chrono::Datelike;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use gaia_scoring::zarr::{Climatology, Dataset, OpenOptions};

use crate::truth::cache::CacheLimits;
use crate::truth::sources::{DataKind, DataSources};

type Served = (PathBuf, Arc<Mutex<Vec<String>>>, Arc<AtomicUsize>);

/// A static file server over `root`, recording the keys asked for.
async fn serve(root: PathBuf) -> (String, Arc<Mutex<Vec<String>>>) {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let state: Served = (root, asked.clone(), Arc::default());
    let app = axum::Router::new()
        .route(
            "/{*path}",
            axum::routing::get(
                |State((root, asked, _)): State<Served>, UrlPath(path): UrlPath<String>| async move {
                    asked.lock().unwrap().push(path.clone());
                    tokio::fs::read(root.join(path))
                        .await
                        .map_err(|_| StatusCode::NOT_FOUND)
                },
            ),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), asked)
}

/// The fixture stores (written by xarray) and the values numpy expects.
fn fixtures(dir: &Path) -> Value {
    let out =
        gaia_testkit::run_python("scripts/fixtures/remote_truth.py", &[dir.to_str().unwrap()])
            .unwrap();
    serde_json::from_str(&out).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .to_utc()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archives_are_mirrored_as_subsets_the_scorer_reads() {
    let src = tempfile::tempdir().unwrap();
    let expected = fixtures(src.path());
    let (base, asked) = serve(src.path().to_path_buf()).await;
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = TruthCache::new(cache_dir.path().to_path_buf(), CacheLimits::default()).unwrap();
    let sources = DataSources::new([
        String::new(),
        String::new(),
        format!("{base}/arco_era5.zarr"),
        format!("{base}/wb2_climatology.zarr"),
    ])
    .with_cache(cache.clone());
    let valid = time(&expected["valid_time"]);
    let init = valid - chrono::Duration::hours(48);

    // ERA5: only the valid time's chunks of the nine variables, renamed to short names.
    let era5 = sources
        .resolve_at(DataKind::Era5, init, Some(valid))
        .await
        .unwrap();
    let data_keys: Vec<String> = asked
        .lock()
        .unwrap()
        .iter()
        .filter(|k| !k.ends_with(".zmetadata") && k.contains("arco"))
        .cloned()
        .collect();
    let coords = ["/time/", "/level/", "/latitude/", "/longitude/"];
    let data: Vec<&String> = data_keys
        .iter()
        .filter(|k| !coords.iter().any(|c| k.contains(c)))
        .collect();
    assert_eq!(data.len(), 9, "one chunk per variable: {data:?}");
    assert!(data
        .iter()
        .all(|k| k.ends_with("/8.0.0") || k.ends_with("/8.0.0.0")));
    let ds = Dataset::open(&era5, &OpenOptions::default()).unwrap();
    let mut names = ds.variable_names();
    names.sort();
    assert_eq!(names, ["10u", "10v", "2t", "msl", "q", "t", "u", "v", "z"]);
    let t = ds
        .times()
        .unwrap()
        .iter()
        .position(|t| *t == valid)
        .unwrap();
    let field = ds.read_field("2t", t, None).unwrap();
    let want = floats(&expected["2t"]);
    assert_eq!(field.values.len(), want.len());
    for (g, w) in field.values.iter().zip(&want) {
        assert!((g - w).abs() < 1e-4, "{g} vs {w}");
    }
    let levels = ds.pressure_levels().unwrap().unwrap();
    let l500 = levels.iter().position(|l| *l == 500.0).unwrap();
    let field = ds.read_field("t", t, Some(l500)).unwrap();
    for (g, w) in field.values.iter().zip(floats(&expected["t500"])) {
        assert!((g - w).abs() < 1e-4, "{g} vs {w}");
    }

    // Asked again: served from the cache, nothing fetched.
    let before = asked.lock().unwrap().len();
    let again = sources
        .resolve_at(DataKind::Era5, init, Some(valid))
        .await
        .unwrap();
    assert_eq!(again, era5);
    assert_eq!(asked.lock().unwrap().len(), before);

    // A time the archive does not hold yet: "not yet available", and no store left behind.
    let late = time(&expected["start"]) + chrono::Duration::days(40);
    let err = sources
        .resolve_at(DataKind::Era5, init, Some(late))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            crate::truth::sources::DataError::NotYetAvailable { .. }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("not in the store yet"), "{err}");

    // Climatology: the valid day of year only, long names kept for its reader.
    let clim = sources
        .resolve_at(DataKind::Climatology, init, Some(valid))
        .await
        .unwrap();
    let doy = valid.ordinal();
    let clim_chunks: Vec<String> = asked
        .lock()
        .unwrap()
        .iter()
        .filter(|k| k.contains("wb2") && !k.ends_with(".zmetadata"))
        .filter(|k| {
            ![
                "/hour/",
                "/dayofyear/",
                "/level/",
                "/latitude/",
                "/longitude/",
            ]
            .iter()
            .any(|c| k.contains(c))
        })
        .cloned()
        .collect();
    assert_eq!(clim_chunks.len(), 5, "{clim_chunks:?}");
    assert!(clim_chunks.iter().all(|k| k
        .split('/')
        .next_back()
        .unwrap()
        .starts_with(&format!("0.{}.", doy - 1))));
    let climatology = Climatology::open(&clim, &OpenOptions::default()).unwrap();
    let field = climatology.field("z", Some(500.0), valid).unwrap();
    assert!(field.values.iter().all(|v| v.is_finite()));
    let other_day = valid + chrono::Duration::days(3);
    let err = climatology.field("2t", None, other_day).unwrap();
    assert!(
        err.values.iter().all(|v| v.is_nan()),
        "days outside the subset are fill values"
    );
    let leftovers: Vec<_> = std::fs::read_dir(cache.dir())
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "partial"))
        .collect();
    assert!(leftovers.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_or_missing_metadata_is_a_named_error() {
    let src = tempfile::tempdir().unwrap();
    let store = src.path().join("bad.zarr");
    std::fs::create_dir_all(&store).unwrap();
    let meta = json!({"zarr_consolidated_format": 1, "metadata": {
        "x/.zarray": {"shape": [4], "chunks": [0], "dtype": "<f4", "zarr_format": 2},
        "x/.zattrs": {"_ARRAY_DIMENSIONS": ["time"]},
        "y/.zarray": {"shape": [4, 4], "chunks": [1, 1], "dtype": "<f4", "zarr_format": 2,
            "fill_value": null, "order": "C", "compressor": null, "filters": null},
        "y/.zattrs": {"_ARRAY_DIMENSIONS": ["a", "b"]},
    }});
    std::fs::write(store.join(".zmetadata"), meta.to_string()).unwrap();
    let (base, _) = serve(src.path().to_path_buf()).await;
    let cache_dir = tempfile::tempdir().unwrap();
    let limits = CacheLimits {
        max_chunks: 3,
        ..CacheLimits::default()
    };
    let cache = TruthCache::new(cache_dir.path().to_path_buf(), limits).unwrap();
    let subset = |arrays: &[(&str, &str)]| Subset {
        arrays: arrays
            .iter()
            .map(|(r, l)| ((*r).to_owned(), (*l).to_owned()))
            .collect(),
        select: vec![],
        skip_missing: false,
    };
    let url = format!("{base}/bad.zarr");
    let cases = [
        (subset(&[("x", "x")]), "do not match"),
        (subset(&[("nope", "n")]), "no such array"),
        (subset(&[("y", "../y")]), "escapes the store"),
        (subset(&[("y", "y")]), "more than 3 chunks"),
    ];
    for (s, want) in cases {
        let err = cache.mirror_subset(&url, &s).await.unwrap_err();
        assert!(err.to_string().contains(want), "{err} (wanted {want})");
    }
    let mut skip = subset(&[("nope", "n")]);
    skip.skip_missing = true;
    let err = cache.mirror_subset(&url, &skip).await.unwrap_err();
    assert!(err.to_string().contains("none of the requested"), "{err}");
    let err = cache
        .mirror_subset(&format!("{base}/absent.zarr"), &subset(&[("x", "x")]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains(".zmetadata not found"), "{err}");
}

/// A server answering each path with the statuses in `script` (then 200 "ok"), counting hits.
async fn flaky(script: Vec<(u16, Option<&'static str>)>) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let state = (Arc::new(script), hits.clone());
    type Flaky = (Arc<Vec<(u16, Option<&'static str>)>>, Arc<AtomicUsize>);
    let app = axum::Router::new()
        .route(
            "/{*path}",
            axum::routing::get(|State((script, hits)): State<Flaky>| async move {
                let n = hits.fetch_add(1, Ordering::SeqCst);
                let (status, retry_after) = script.get(n).copied().unwrap_or((200, None));
                let mut response = axum::response::Response::new(axum::body::Body::from("ok"));
                *response.status_mut() = StatusCode::from_u16(status).unwrap();
                if let Some(r) = retry_after {
                    response
                        .headers_mut()
                        .insert("retry-after", r.parse().unwrap());
                }
                response
            }),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), hits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_server_errors_are_retried_with_backoff_then_named() {
    let dir = tempfile::tempdir().unwrap();
    let limits = CacheLimits {
        attempts: 3,
        backoff: std::time::Duration::from_millis(20),
        ..CacheLimits::default()
    };
    let cache = TruthCache::new(dir.path().to_path_buf(), limits).unwrap();

    // Two rate-limit answers (one with Retry-After: 0), then the body.
    let (base, hits) = flaky(vec![(429, Some("0")), (503, None)]).await;
    let started = Instant::now();
    let body = cache.get(&format!("{base}/k")).await.unwrap();
    assert_eq!(body.as_deref(), Some(&b"ok"[..]));
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(60),
        "backed off 20 + 40 ms"
    );

    // Always failing: bounded attempts and a named error.
    let (base, hits) = flaky(vec![(503, None); 10]).await;
    let err = cache.get(&format!("{base}/k")).await.unwrap_err();
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    assert!(
        err.to_string().contains("503") && err.to_string().contains("after 3 attempts"),
        "{err}"
    );

    // A client error is not retried.
    let (base, hits) = flaky(vec![(403, None); 10]).await;
    let err = cache.get(&format!("{base}/k")).await.unwrap_err();
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert!(err.to_string().contains("403"), "{err}");
}
