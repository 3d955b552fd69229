//! Day-1 on the full 0.25° grid (721 × 1440, the five Day-1 variables): the pure computation over
//! in-memory fields, and the whole score from xarray-written stores (generated once by
//! scripts/fixtures/scoring_day1.py). `gaia-validator bench score` compares the same run with the
//! Python reference and the decode-only floor.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use gaia_scoring::day1::{
    parallel_map, score_day1, score_day1_fields, Day1Config, Day1Fields, Day1Request,
};
use gaia_scoring::regrid::{nearest_level, nearest_time};
use gaia_scoring::zarr::{Climatology, Dataset, OpenOptions};
use gaia_scoring::{Field2, Grid};
use ndarray::Array2;

fn grid() -> Arc<Grid> {
    let lat = (0..721).map(|i| 90.0 - 0.25 * i as f64).collect();
    let lon = (0..1440).map(|j| 0.25 * j as f64).collect();
    Arc::new(Grid::new(lat, lon).expect("0.25 degree grid"))
}

/// A smooth field plus a deterministic wiggle, so correlations are not degenerate.
fn field(g: &Arc<Grid>, base: f64, amp: f64, phase: f64) -> Field2 {
    let values = Array2::from_shape_fn(g.shape(), |(i, j)| {
        let (la, lo) = (g.lat[i].to_radians(), g.lon[j].to_radians());
        base + amp
            * ((2.0 * lo + phase).sin() * la.cos() + 0.3 * ((i * 7 + j * 13) % 17) as f64 / 17.0)
    });
    Field2::new(Arc::clone(g), values).expect("shape")
}

fn inputs() -> Vec<Day1Fields> {
    let g = grid();
    let config = Day1Config::default();
    let bases = [288.0, 101_325.0, 0.0, 0.0, 54_000.0];
    let amps = [10.0, 1_000.0, 8.0, 8.0, 2_000.0];
    config
        .variables
        .iter()
        .zip(bases.iter().zip(amps))
        .map(|(spec, (&b, a))| Day1Fields {
            forecast_mean_all_levels: None,
            spec: spec.clone(),
            forecast: field(&g, b, a, 0.1),
            truth: field(&g, b, a, 0.0),
            reference: field(&g, b, a, -0.1),
            climatology: field(&g, b, a * 0.8, 0.5),
        })
        .collect()
}

fn bench_fields(c: &mut Criterion) {
    let data = inputs();
    let config = Day1Config::default();
    c.bench_function("day1_compute_0p25_5vars", |b| {
        b.iter(|| score_day1_fields(&data, &config, Some(12.0), None).expect("score"))
    });
}

fn bench_stores(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = match gaia_testkit::run_python(
        "scripts/fixtures/scoring_day1.py",
        &[
            dir.path().to_str().expect("utf-8"),
            "--grid-deg",
            "0.25",
            "--no-expected",
            "--cases",
            "honest",
        ],
    ) {
        Ok(out) => out,
        Err(e) => {
            eprintln!("skipping the store benchmark: {e}");
            return;
        }
    };
    let j: serde_json::Value = serde_json::from_str(&out).expect("fixture JSON");
    let s = |v: &serde_json::Value| v.as_str().expect("string").to_string();
    let req = Day1Request {
        forecast: s(&j["cases"]["honest"]["forecast"]),
        truth: s(&j["cases"]["honest"]["truth"]),
        reference: s(&j["reference"]),
        climatology: s(&j["climatology"]),
        bearer_token: None,
        frozen_manifest: None,
        gfs_init_time: s(&j["gfs_init"]).parse::<DateTime<Utc>>().expect("time"),
        lead_hours: 12.0,
        valid_time: None,
        config: Day1Config::default(),
        threads: 1,
        miner_requests_per_minute: gaia_scoring::zarr::DEFAULT_REQUESTS_PER_MINUTE,
        miner_download_deadline_s: gaia_scoring::zarr::DEFAULT_DOWNLOAD_DEADLINE.as_secs(),
    };
    for threads in [1, 2] {
        let mut r = req.clone();
        r.threads = threads;
        c.bench_function(&format!("day1_stores_0p25_5vars_threads{threads}"), |b| {
            b.iter(|| score_day1(&r).expect("score"))
        });
        c.bench_function(
            &format!("day1_decode_only_0p25_5vars_threads{threads}"),
            |b| b.iter(|| decode_only(&r, threads)),
        );
    }
}

/// Read every field the Day-1 score reads, once (the floor the score is compared with).
fn decode_only(req: &Day1Request, threads: usize) {
    let valid = req.valid_time();
    let opts = OpenOptions::default();
    let clim = Climatology::open(&req.climatology, &opts).expect("climatology");
    let sources: Vec<_> = [&req.forecast, &req.truth, &req.reference]
        .iter()
        .map(|loc| {
            let ds = Dataset::open(loc, &opts).expect("store");
            let ti = nearest_time(&ds.times().expect("times"), valid, TimeDelta::hours(12))
                .expect("time");
            let levels = ds.pressure_levels().expect("levels").unwrap_or_default();
            (ds, ti, levels)
        })
        .collect();
    parallel_map(&req.config.variables, threads, |spec| {
        for (ds, ti, levels) in &sources {
            let li = spec
                .level_hpa
                .map(|l| nearest_level(levels, l, 10.0).expect("level"));
            std::hint::black_box(ds.read_field(&spec.name, *ti, li).expect("read"));
        }
        std::hint::black_box(clim.field(&spec.name, spec.level_hpa, valid).expect("clim"));
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(10));
    targets = bench_fields, bench_stores
}
criterion_main!(benches);
