//! The deterministic synthetic weather world: a regular grid (latitude 90 → −90, longitude
//! 0 … 360) at a configurable resolution, the true state at any time, and forecasts that depart
//! from the truth by an [`ErrorModel`] (phase drift of the travelling waves plus seeded noise
//! growing with lead time). [`stores`] writes the truth, reference and climatology stores.

pub mod fields;
pub mod sink;
pub mod stores;

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::rng::SplitMix;
use crate::SimError;
use fields::{anomaly_scale, base, Waves, ATMOS_VARS, SURFACE_VARS};

pub use stores::{WorldPaths, CLIMATOLOGY_HOURS, ERA5_LEADS};

/// Settings of a world.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WorldConfig {
    /// Seed of the wave phases and of every noise stream.
    pub seed: u64,
    /// Grid spacing in degrees (must divide 180 and 360; default 4: 46 × 90 points).
    pub grid_deg: f64,
}

impl Default for WorldConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            grid_deg: 4.0,
        }
    }
}

/// How a forecast departs from the truth.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ErrorModel {
    /// Phase error of the waves, radians per day of lead (per zonal wavenumber).
    pub phase_drift_per_day: f64,
    /// Noise standard deviation at lead 240 h, in units of the variable's anomaly scale; it
    /// grows as 0.3 + 0.7·√(lead/240).
    pub noise: f64,
    /// Identifies the noise stream (e.g. the miner uid); equal streams give equal noise.
    pub stream: u64,
}

impl ErrorModel {
    /// No error: the truth.
    pub const NONE: ErrorModel = ErrorModel {
        phase_drift_per_day: 0.0,
        noise: 0.0,
        stream: 0,
    };

    /// The GFS 00Z reference forecast's error.
    pub const GFS: ErrorModel = ErrorModel {
        phase_drift_per_day: 0.06,
        noise: 0.45,
        stream: 0x6F5,
    };

    /// An honest miner of `skill` in [0, 1] (1 = perfect) using noise stream `stream`.
    pub fn honest(skill: f64, stream: u64) -> ErrorModel {
        let e = (1.0 - skill).clamp(0.0, 1.0);
        ErrorModel {
            phase_drift_per_day: 0.12 * e,
            noise: 1.2 * e,
            stream,
        }
    }
}

/// The world: grid plus the seeded waves of every variable.
#[derive(Debug, Clone)]
pub struct World {
    config: WorldConfig,
    lat: Vec<f64>,
    lon: Vec<f64>,
    waves: BTreeMap<&'static str, Waves>,
}

/// Time origin of the wave phases.
fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

fn var_tag(var: &str) -> u64 {
    var.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
    })
}

impl World {
    /// Build the world; the grid spacing must divide both 180 and 360 degrees.
    pub fn new(config: WorldConfig) -> Result<World, SimError> {
        let d = config.grid_deg;
        let nlat = 180.0 / d;
        let nlon = 360.0 / d;
        let whole = |x: f64| (x - x.round()).abs() < 1e-9 && x >= 2.0;
        if !(d.is_finite() && d > 0.0 && whole(nlat) && whole(nlon)) {
            return Err(SimError::Config(format!(
                "grid_deg {d} must divide 180 and 360"
            )));
        }
        let nlat = nlat.round() as usize + 1;
        let nlon = nlon.round() as usize;
        let lat: Vec<f64> = (0..nlat).map(|i| 90.0 - d * i as f64).collect();
        let lon: Vec<f64> = (0..nlon).map(|j| d * j as f64).collect();
        let waves = SURFACE_VARS
            .iter()
            .chain(ATMOS_VARS.iter())
            .map(|v| (*v, Waves::new(config.seed, v, &lat, &lon)))
            .collect();
        Ok(World {
            config,
            lat,
            lon,
            waves,
        })
    }

    /// Settings the world was built with.
    pub fn config(&self) -> WorldConfig {
        self.config
    }

    /// Latitudes, 90 → −90.
    pub fn lat(&self) -> &[f64] {
        &self.lat
    }

    /// Longitudes, 0 → 360 − spacing.
    pub fn lon(&self) -> &[f64] {
        &self.lon
    }

    /// Points of one 2-D plane.
    pub fn plane_len(&self) -> usize {
        self.lat.len() * self.lon.len()
    }

    /// The field of `var` (at `level_hpa` for pressure-level variables) valid at `valid`, as a
    /// forecast of lead `lead_hours` with error `err` (`ErrorModel::NONE` gives the truth),
    /// row-major (lat, lon).
    pub fn plane(
        &self,
        var: &str,
        level_hpa: Option<f64>,
        valid: DateTime<Utc>,
        lead_hours: f64,
        err: &ErrorModel,
    ) -> Result<Vec<f32>, SimError> {
        let waves = self
            .waves
            .get(var)
            .ok_or_else(|| SimError::Config(format!("unknown variable `{var}`")))?;
        let hours = (valid - epoch()).num_seconds() as f64 / 3600.0;
        let scale = anomaly_scale(var, level_hpa);
        let drift = err.phase_drift_per_day * lead_hours / 24.0;
        let lead = lead_hours.max(0.0);
        let sigma = if err.noise > 0.0 {
            err.noise * scale * (0.3 + 0.7 * (lead / 240.0).sqrt())
        } else {
            0.0
        };
        let level_bits = level_hpa.map_or(0, |l| l.to_bits());
        let mut rng = SplitMix::for_stream(&[
            self.config.seed,
            err.stream,
            hours.to_bits(),
            var_tag(var),
            level_bits,
        ]);
        let nlon = self.lon.len();
        let mut values: Vec<f64> = self
            .lat
            .iter()
            .flat_map(|&lat| std::iter::repeat_n(base(var, level_hpa, lat), nlon))
            .collect();
        waves.add_to(&mut values, hours, drift, scale);
        Ok(values
            .into_iter()
            .map(|mut x| {
                if sigma > 0.0 {
                    x += sigma * rng.fast_normal();
                }
                if var == "q" {
                    x = x.max(1e-8);
                }
                x as f32
            })
            .collect())
    }

    /// The climatological field (no anomaly) of `var` at `level_hpa`, row-major (lat, lon).
    pub fn climatology_plane(&self, var: &str, level_hpa: Option<f64>) -> Vec<f32> {
        let row: Vec<f32> = self
            .lat
            .iter()
            .map(|&lat| base(var, level_hpa, lat) as f32)
            .collect();
        row.iter()
            .flat_map(|&v| std::iter::repeat_n(v, self.lon.len()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_and_magnitudes() {
        let w = World::new(WorldConfig::default()).unwrap();
        assert_eq!((w.lat().len(), w.lon().len()), (46, 90));
        assert_eq!(w.lat()[0], 90.0);
        assert_eq!(*w.lat().last().unwrap(), -90.0);
        let t = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
        let mean = |v: &[f32]| v.iter().map(|x| f64::from(*x)).sum::<f64>() / v.len() as f64;
        let t2 = w.plane("2t", None, t, 0.0, &ErrorModel::NONE).unwrap();
        assert!((250.0..300.0).contains(&mean(&t2)), "{}", mean(&t2));
        let msl = w.plane("msl", None, t, 0.0, &ErrorModel::NONE).unwrap();
        assert!((99_000.0..103_000.0).contains(&mean(&msl)));
        let z500 = w
            .plane("z", Some(500.0), t, 0.0, &ErrorModel::NONE)
            .unwrap();
        assert!(
            (45_000.0..60_000.0).contains(&mean(&z500)),
            "{}",
            mean(&z500)
        );
        let q = w
            .plane("q", Some(1000.0), t, 0.0, &ErrorModel::NONE)
            .unwrap();
        assert!(q.iter().all(|x| *x > 0.0 && *x < 0.03));
        assert!(World::new(WorldConfig {
            seed: 1,
            grid_deg: 7.0
        })
        .is_err());
        assert!(w.plane("nope", None, t, 0.0, &ErrorModel::NONE).is_err());
    }

    #[test]
    fn deterministic_and_error_grows_with_lead() {
        let w = World::new(WorldConfig {
            seed: 3,
            grid_deg: 10.0,
        })
        .unwrap();
        let t = Utc.with_ymd_and_hms(2026, 11, 29, 0, 0, 0).unwrap();
        let truth = w
            .plane("t", Some(500.0), t, 0.0, &ErrorModel::NONE)
            .unwrap();
        assert_eq!(
            truth,
            w.plane("t", Some(500.0), t, 0.0, &ErrorModel::NONE)
                .unwrap()
        );
        let rmse = |lead: f64| {
            let f = w
                .plane("t", Some(500.0), t, lead, &ErrorModel::honest(0.5, 1))
                .unwrap();
            (f.iter()
                .zip(&truth)
                .map(|(a, b)| f64::from(a - b).powi(2))
                .sum::<f64>()
                / f.len() as f64)
                .sqrt()
        };
        assert!(rmse(12.0) > 0.0);
        assert!(rmse(240.0) > rmse(12.0));
        let other = World::new(WorldConfig {
            seed: 4,
            grid_deg: 10.0,
        })
        .unwrap();
        assert_ne!(
            truth,
            other
                .plane("t", Some(500.0), t, 0.0, &ErrorModel::NONE)
                .unwrap()
        );
    }
}
