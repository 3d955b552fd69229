//! ERA5 per-variable score on the full 0.25° grid (721 × 1440): one atmospheric variable on all
//! 13 levels and one surface variable, over in-memory fields (the per-lead cost is about
//! 4 × surface + 5 × atmospheric).

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use gaia_scoring::era5::{
    score_era5_variable, Era5Config, Era5LevelFields, Era5VariableInput, ERA5_LEVELS_HPA,
};
use gaia_scoring::{Field2, Grid};
use ndarray::Array2;

fn grid() -> Arc<Grid> {
    let lat = (0..721).map(|i| 90.0 - 0.25 * i as f64).collect();
    let lon = (0..1440).map(|j| 0.25 * j as f64).collect();
    Arc::new(Grid::new(lat, lon).expect("0.25 degree grid"))
}

fn field(g: &Arc<Grid>, base: f64, phase: f64) -> Field2 {
    let values = Array2::from_shape_fn(g.shape(), |(i, j)| {
        let (la, lo) = (g.lat[i].to_radians(), g.lon[j].to_radians());
        base + 10.0
            * ((2.0 * lo + phase).sin() * la.cos() + 0.3 * ((i * 7 + j * 13) % 17) as f64 / 17.0)
    });
    Field2::new(Arc::clone(g), values).expect("shape")
}

fn input(g: &Arc<Grid>, variable: &str, levels: &[Option<f64>]) -> Era5VariableInput {
    Era5VariableInput {
        variable: variable.to_string(),
        forecast_units: Some("K".into()),
        truth_units: Some("K".into()),
        levels: levels
            .iter()
            .map(|&level_hpa| Era5LevelFields {
                level_hpa,
                forecast: field(g, 250.0, 0.1),
                truth: field(g, 250.0, 0.0),
                climatology: field(g, 250.0, 0.5),
            })
            .collect(),
    }
}

fn bench(c: &mut Criterion) {
    let g = grid();
    let config = Era5Config::default();
    let surface = input(&g, "2t", &[None]);
    c.bench_function("era5_surface_variable_0p25", |b| {
        b.iter(|| score_era5_variable(&surface, &config).expect("score"))
    });
    let levels: Vec<Option<f64>> = ERA5_LEVELS_HPA.iter().map(|&l| Some(l)).collect();
    let atmos = input(&g, "t", &levels);
    c.bench_function("era5_atmospheric_variable_13_levels_0p25", |b| {
        b.iter(|| score_era5_variable(&atmos, &config).expect("score"))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(10));
    targets = bench
}
criterion_main!(benches);
