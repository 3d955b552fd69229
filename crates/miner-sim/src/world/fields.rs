//! The synthetic atmosphere: a climatological base state per variable and level (realistic
//! magnitudes and units) plus travelling planetary waves whose phases come from the world seed.
//! Truth, reference and miner forecasts are all evaluations of these functions, so every store
//! of one world is mutually consistent.

use crate::rng::SplitMix;

/// Surface variables (dims time, lat, lon).
pub const SURFACE_VARS: [&str; 4] = ["2t", "msl", "10u", "10v"];
/// Pressure-level variables (dims time, pressure_level, lat, lon).
pub const ATMOS_VARS: [&str; 5] = ["t", "u", "v", "q", "z"];
/// The 13 pressure levels in hPa, as the miner writes them.
pub const LEVELS_HPA: [i64; 13] = [
    50, 100, 150, 200, 250, 300, 400, 500, 600, 700, 850, 925, 1000,
];

/// Canonical CF units of a variable (what the validator's unit check accepts).
pub fn units(var: &str) -> &'static str {
    match var {
        "2t" | "t" => "K",
        "msl" => "Pa",
        "10u" | "10v" | "u" | "v" => "m s-1",
        "q" => "kg kg-1",
        "z" => "m**2 s**-2",
        _ => "1",
    }
}

/// Long (CF) name of a variable, written as the `long_name` attribute.
pub fn long_name(var: &str) -> &'static str {
    gaia_scoring::zarr::long_name(var).unwrap_or("unknown")
}

/// Typical anomaly amplitude of a variable: the scale of waves and of forecast noise.
pub fn anomaly_scale(var: &str, level_hpa: Option<f64>) -> f64 {
    let p = level_hpa.unwrap_or(1000.0) / 1000.0;
    match var {
        "2t" => 4.0,
        "msl" => 900.0,
        "10u" | "10v" => 3.5,
        "t" => 3.0,
        "u" | "v" => 5.0 + 4.0 * (1.0 - p),
        "q" => 1.5e-3 * p * p + 2e-7,
        "z" => 500.0 + 700.0 * (1.0 - p),
        _ => 1.0,
    }
}

/// Climatological mean at latitude `lat_deg` (degrees) for `var` at `level_hpa`.
pub fn base(var: &str, level_hpa: Option<f64>, lat_deg: f64) -> f64 {
    let la = lat_deg.to_radians();
    let s2 = la.sin().powi(2);
    let p = level_hpa.unwrap_or(1000.0);
    let pr = p / 1000.0;
    match var {
        "2t" => 300.0 - 48.0 * s2,
        "msl" => 101_325.0 + 900.0 * (2.0 * la).cos() - 400.0 * (4.0 * la).cos(),
        "10u" => -6.0 * (2.0 * la).cos() * la.cos() + 2.0,
        "10v" => 1.5 * (2.0 * la).sin() * la.cos(),
        "t" => {
            let surface = 300.0 - 48.0 * s2;
            (surface * pr.powf(0.19)).max(210.0 + 8.0 * s2)
        }
        "u" => {
            let jet = 30.0 * (-((p - 250.0) / 250.0).powi(2)).exp();
            jet * (2.0 * la).sin().powi(2) + 3.0 * la.cos() - 2.0
        }
        "v" => 0.8 * (2.0 * la).sin() * (1.0 - pr),
        "q" => 0.016 * pr.powi(3) * la.cos().powi(2) + 2e-6,
        "z" => 287.0 * (255.0 - 15.0 * s2) * (1013.25 / p).ln() - 1500.0 * s2 * (1.0 - pr),
        _ => 0.0,
    }
}

/// One travelling wave of the anomaly field, with its grid tables precomputed.
#[derive(Debug, Clone)]
struct Wave {
    zonal: f64,
    phase: f64,
    speed: f64,
    /// amp · cos(m·lat) · √cos(lat) per latitude row.
    rows: Vec<f64>,
    /// cos(k·lon) per longitude column.
    cos_cols: Vec<f64>,
    /// sin(k·lon) per longitude column.
    sin_cols: Vec<f64>,
}

/// The seeded wave set of one variable on one grid.
#[derive(Debug, Clone)]
pub struct Waves {
    waves: Vec<Wave>,
}

impl Waves {
    /// Waves for `var` from the world seed (independent per variable) on the grid `lat` × `lon`
    /// (degrees).
    pub fn new(seed: u64, var: &str, lat: &[f64], lon: &[f64]) -> Self {
        let tag = var
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(131) + u64::from(b));
        let mut r = SplitMix::new(seed ^ tag.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let waves = (0..5)
            .map(|k| {
                let zonal = f64::from(1 + k + (r.next_u64() % 3) as u32);
                let meridional = f64::from(1 + (r.next_u64() % 3) as u32);
                let phase = r.uniform() * std::f64::consts::TAU;
                // radians of longitude per hour: 5–15 degrees per day eastward
                let speed = (5.0 + 10.0 * r.uniform()).to_radians() / 24.0;
                let amp = 0.5 + r.uniform();
                let rows = lat
                    .iter()
                    .map(|d| {
                        let la = d.to_radians();
                        amp * (meridional * la).cos() * la.cos().max(0.0).sqrt()
                    })
                    .collect();
                let cos_cols = lon.iter().map(|d| (zonal * d.to_radians()).cos()).collect();
                let sin_cols = lon.iter().map(|d| (zonal * d.to_radians()).sin()).collect();
                Wave {
                    zonal,
                    phase,
                    speed,
                    rows,
                    cos_cols,
                    sin_cols,
                }
            })
            .collect();
        Self { waves }
    }

    /// The anomaly (in units of [`anomaly_scale`]) at `hours` since the world epoch, with the
    /// waves' phase shifted by `phase_drift` radians per zonal wavenumber, added times `scale`
    /// to `out` (row-major lat × lon).
    pub fn add_to(&self, out: &mut [f64], hours: f64, phase_drift: f64, scale: f64) {
        for w in &self.waves {
            let p = -w.speed * hours + w.phase + phase_drift * w.zonal;
            let (sp, cp) = p.sin_cos();
            let nlon = w.cos_cols.len();
            for (i, row) in out.chunks_mut(nlon).enumerate() {
                let a = 0.5 * scale * w.rows[i];
                for ((x, c), s) in row.iter_mut().zip(&w.cos_cols).zip(&w.sin_cols) {
                    // cos(k·lon + p) = cos(k·lon)·cos p − sin(k·lon)·sin p
                    *x += a * (c * cp - s * sp);
                }
            }
        }
    }
}
