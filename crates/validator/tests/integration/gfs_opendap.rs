//! The GFS OPeNDAP fetcher against a real DAP2 server on loopback: `scripts/fixtures/gfs_opendap.py`
//! writes two small GFS cycles as NetCDF in the NOMADS GrADS-DODS layout, serves them with
//! pydap's server-side handler (as Grids, and as plain arrays), and computes independently with
//! numpy what the validator must store (renamed, hgtprs × 9.80665, latitude 90 → −90, NaN where
//! missing). The stores are read back with the scorer's own reader and scored by the Day-1
//! scorer; failure routes (garbage, 404, NOMADS' "not an available dataset", truncated bodies,
//! 429, 503, a server that never answers) must give named errors after bounded retries.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use gaia_scoring::day1::{score_day1, Day1Config, Day1Request};
use gaia_scoring::zarr::{Dataset, OpenOptions};
use gaia_validator::truth::gfs::dap::DapError;
use gaia_validator::truth::gfs::{
    DapOptions, FieldSet, GfsError, GfsFetcher, GfsOptions, GfsProduct,
};
use gaia_validator::truth::sources::{DataError, DataKind, DataSources};
use serde_json::Value;

/// Relative tolerance of a stored value against the numpy value (both float32 of the same
/// float64 product; only the last bit may differ).
const REL_TOL: f64 = 1e-6;

pub(crate) struct Server {
    child: Child,
    port: u16,
    expected: Value,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub(crate) fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let script = gaia_testkit::python::workspace_root().join("scripts/fixtures/gfs_opendap.py");
        let mut child = Command::new(gaia_testkit::python::python_interpreter())
            .arg(script)
            .arg(dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the fixture server");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("fixture server did not start");
        let info: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
            let _ = child.kill();
            panic!("fixture server said {line:?}: {e}")
        });
        let expected_path = info["expected"].as_str().unwrap().to_owned();
        let expected = serde_json::from_slice(&std::fs::read(expected_path).unwrap()).unwrap();
        Server {
            child,
            port: info["port"].as_u64().unwrap() as u16,
            expected,
            _dir: dir,
        }
    }

    pub(crate) fn base(&self, route: &str) -> String {
        format!("http://127.0.0.1:{}/{route}/gfs_0p25", self.port)
    }

    /// Requests the server has seen per route.
    async fn stats(&self) -> Value {
        let url = format!("http://127.0.0.1:{}/stats", self.port);
        let body = reqwest::get(url).await.unwrap().bytes().await.unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    async fn count(&self, route: &str) -> u64 {
        self.stats().await[route].as_u64().unwrap_or(0)
    }
}

fn gfs_init() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
}

fn fast_dap(attempts: u32) -> DapOptions {
    DapOptions {
        timeout: Duration::from_secs(20),
        attempts,
        backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        ..DapOptions::default()
    }
}

fn fetcher(dir: &Path, fields: &str, dap: DapOptions) -> GfsFetcher {
    GfsFetcher::new(
        dir.to_path_buf(),
        GfsOptions {
            fields: FieldSet::parse(fields).unwrap(),
            lead_hours: 12.0,
            dap,
        },
    )
    .unwrap()
}

/// Compare the stored store at `path` with the fixture's independent values for `product`.
fn check_store(path: &Path, expected: &Value, fields: &[&str]) -> usize {
    let ds = Dataset::open(path.to_str().unwrap(), &OpenOptions::default()).unwrap();
    let valid: DateTime<Utc> = expected["valid"].as_str().unwrap().parse().unwrap();
    assert_eq!(ds.times().unwrap(), vec![valid]);
    let levels = ds.pressure_levels().unwrap().unwrap_or_default();
    let mut compared = 0;
    for key in fields {
        let (name, level) = match key.split_once('@') {
            Some((n, l)) => (n, Some(l.parse::<f64>().unwrap())),
            None => (*key, None),
        };
        let level_index = level.map(|l| levels.iter().position(|x| *x == l).unwrap());
        let field = ds.read_field(name, 0, level_index).unwrap();
        let want = expected["fields"][key].as_array().unwrap();
        let lat: Vec<f64> = serde_json::from_value(expected["lat"].clone()).unwrap();
        let lon: Vec<f64> = serde_json::from_value(expected["lon"].clone()).unwrap();
        assert_eq!(field.grid.lat, lat, "{key}: latitude 90 → −90");
        assert_eq!(field.grid.lon, lon, "{key}: longitude");
        assert_eq!(field.values.len(), want.len(), "{key}");
        for (i, (got, want)) in field.values.iter().zip(want).enumerate() {
            match want.as_f64() {
                None => assert!(got.is_nan(), "{key}[{i}]: {got}, want missing"),
                Some(w) => assert!(
                    (got - w).abs() <= REL_TOL * w.abs().max(1e-30),
                    "{key}[{i}]: {got}, want {w}"
                ),
            }
            compared += 1;
        }
    }
    compared
}

const ALL: [&str; 4] = ["2t", "msl", "10u", "10v"];
const LEVELS: [u32; 13] = [
    50, 100, 150, 200, 250, 300, 400, 500, 600, 700, 850, 925, 1000,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_field_matches_the_independent_values_in_both_server_layouts() {
    let server = Server::start();
    let mut keys: Vec<String> = ALL.iter().map(|s| s.to_string()).collect();
    for v in ["z", "t", "u", "v", "q"] {
        keys.extend(LEVELS.iter().map(|l| format!("{v}@{l}")));
    }
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    for route in ["dods", "flat"] {
        let cache = tempfile::tempdir().unwrap();
        let f = fetcher(cache.path(), "all", fast_dap(3));
        let base = server.base(route);
        let analysis = f
            .fetch(&base, GfsProduct::Analysis, gfs_init())
            .await
            .unwrap();
        let forecast = f
            .fetch(&base, GfsProduct::Forecast, gfs_init())
            .await
            .unwrap();
        assert!(analysis.starts_with(cache.path()) && analysis != forecast);
        let n = check_store(&analysis, &server.expected["analysis"], &keys)
            + check_store(&forecast, &server.expected["forecast"], &keys);
        assert_eq!(n, 2 * 69 * 37 * 72, "{route}");
        // A second fetch reuses the store without asking the server.
        let before = server.count(route).await;
        let again = f
            .fetch(&base, GfsProduct::Analysis, gfs_init())
            .await
            .unwrap();
        assert_eq!(again, analysis);
        assert_eq!(server.count(route).await, before);
        // Nothing partial is left behind.
        let names: Vec<String> = std::fs::read_dir(cache.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.iter().all(|n| n.ends_with(".zarr")), "{names:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_fetch_through_the_opendap_template_and_the_day1_scorer_reads_the_stores() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("truth-cache");
    let template = format!("opendap:{}", server.base("dods"));
    let world = gaia_miner_sim::World::new(gaia_miner_sim::WorldConfig {
        seed: 7,
        grid_deg: 5.0,
    })
    .unwrap();
    let paths = gaia_miner_sim::write_world(&world, &dir.path().join("world"), gfs_init()).unwrap();
    let sources = DataSources::new([
        template.clone(),
        template,
        paths.era5.display().to_string(),
        paths.climatology.display().to_string(),
    ])
    .with_gfs(fetcher(&cache, "2t,msl,10u,10v,z@500", fast_dap(3)));
    let truth = sources
        .resolve(DataKind::GfsAnalysis, gfs_init())
        .await
        .unwrap();
    let reference = sources
        .resolve(DataKind::GfsForecast, gfs_init())
        .await
        .unwrap();
    assert!(truth.starts_with(cache.to_str().unwrap()), "{truth}");
    let keys = ["2t", "msl", "10u", "10v", "z@500"];
    check_store(Path::new(&truth), &server.expected["analysis"], &keys);
    check_store(Path::new(&reference), &server.expected["forecast"], &keys);
    // The Day-1 scorer takes them as truth and reference, unchanged.
    let report = score_day1(&Day1Request {
        forecast: paths.gfs_forecast.display().to_string(),
        truth,
        reference,
        climatology: paths.climatology.display().to_string(),
        bearer_token: None,
        frozen_manifest: None,
        gfs_init_time: gfs_init(),
        lead_hours: 12.0,
        valid_time: None,
        config: Day1Config::default(),
        threads: 1,
        miner_requests_per_minute: gaia_scoring::zarr::DEFAULT_REQUESTS_PER_MINUTE,
        miner_download_deadline_s: gaia_scoring::zarr::DEFAULT_DOWNLOAD_DEADLINE.as_secs(),
    })
    .unwrap();
    assert_eq!(report.variables.len(), 5, "{report:?}");
    // A cycle that is not published yet: retry later, not a failure.
    let later = gfs_init() + chrono::TimeDelta::days(3);
    let err = sources
        .resolve(DataKind::GfsAnalysis, later)
        .await
        .unwrap_err();
    assert!(matches!(err, DataError::NotYetAvailable { .. }), "{err}");
    assert!(
        err.to_string().contains("not an available dataset"),
        "{err}"
    );
}

fn dap_error(e: GfsError) -> DapError {
    match e {
        GfsError::Dap(d) => d,
        other => panic!("expected a DAP error, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_and_failing_servers_give_named_errors_after_bounded_retries() {
    let server = Server::start();
    let cache = tempfile::tempdir().unwrap();
    let f = fetcher(cache.path(), "2t,z@500", fast_dap(3));
    let fetch = |route: &'static str| {
        let f = f.clone();
        let base = server.base(route);
        async move { f.fetch(&base, GfsProduct::Analysis, gfs_init()).await }
    };

    // A missing dataset, answered with 404: not available, not retried.
    let err = fetch("flat").await;
    assert!(err.is_ok(), "the flat layout serves this cycle");
    let missing = f
        .fetch(
            &server.base("flat"),
            GfsProduct::Analysis,
            gfs_init() + chrono::TimeDelta::days(5),
        )
        .await
        .unwrap_err();
    assert!(missing.is_not_available(), "{missing}");
    assert!(
        missing.to_string().contains("gfs20261106/gfs_0p25_12z.dds"),
        "{missing}"
    );

    // Garbage: a named malformed-answer error naming the URL, no retry.
    let err = dap_error(fetch("garbage").await.unwrap_err());
    assert!(
        matches!(&err, DapError::Malformed { url, .. } if url.contains("/garbage/")),
        "{err}"
    );
    assert_eq!(server.count("garbage").await, 1);

    // Truncated data bodies: retried (3 attempts), then a named truncation error naming the
    // request (and so the variable).
    let err = dap_error(fetch("truncated").await.unwrap_err());
    match &err {
        DapError::Exhausted { attempts: 3, last } => {
            assert!(matches!(**last, DapError::Truncated { .. }), "{err}");
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains(".dods?time,lev,lat,lon"), "{err}");
    assert_eq!(
        server.count("truncated").await,
        2 + 3,
        "dds + das + 3 data attempts"
    );

    // Rate limited: bounded attempts, then the status.
    let err = dap_error(fetch("busy").await.unwrap_err());
    assert!(
        matches!(&err, DapError::Exhausted { attempts: 3, last } if matches!(**last, DapError::Status { status: 429, .. })),
        "{err}"
    );
    assert_eq!(server.count("busy").await, 3);

    // Two 503s, then healthy: the back-off carries the fetch through.
    let path = fetch("flaky").await.unwrap();
    assert!(path.is_dir());

    // A server that never answers in time: every attempt times out; bounded total time.
    let slow = fetcher(
        tempfile::tempdir().unwrap().path(),
        "2t",
        DapOptions {
            timeout: Duration::from_millis(500),
            ..fast_dap(2)
        },
    );
    let started = Instant::now();
    let err = slow
        .fetch(&server.base("slow"), GfsProduct::Analysis, gfs_init())
        .await
        .unwrap_err();
    let err = dap_error(err);
    assert!(
        matches!(&err, DapError::Exhausted { attempts: 2, last } if matches!(**last, DapError::Transport { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // No partial store is left behind by any failure.
    for entry in std::fs::read_dir(cache.path()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.contains("partial"), "{name}");
    }
}
