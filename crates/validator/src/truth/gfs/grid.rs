//! Coordinates of a served GFS cycle and the scorer's orientation: picking the time index of a
//! forecast step (the NOMADS time axis, `days since 1-1-1`, may be out of order), the indices of
//! the wanted pressure levels, and the permutations that put latitude 90 → −90 and longitude
//! ascending in [0, 360). Missing values (the DAS `missing_value`/`_FillValue`, 9.999e20 on
//! NOMADS) become NaN.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

/// A coordinate problem of the served dataset.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GridError {
    /// The time axis has no step at the wanted offset.
    #[error("no time step {step_hours} h after the cycle start (steps: {available})")]
    NoStep {
        /// Wanted step.
        step_hours: u32,
        /// What the axis has (first few, hours).
        available: String,
    },
    /// The time axis does not start near the expected cycle.
    #[error("time axis starts at {found}, expected the cycle {expected}")]
    WrongCycle {
        /// Decoded first time.
        found: String,
        /// The cycle.
        expected: String,
    },
    /// A wanted pressure level is not served.
    #[error("pressure level {level} hPa not among {available:?}")]
    NoLevel {
        /// Wanted level.
        level: u32,
        /// Served levels.
        available: Vec<f64>,
    },
    /// A coordinate is empty or not finite.
    #[error("coordinate `{name}` is empty or has non-finite values")]
    BadCoordinate {
        /// The coordinate.
        name: &'static str,
    },
    /// The latitude/longitude axes do not make a grid the scorer can use.
    #[error("lat/lon axes: {reason}")]
    Irregular {
        /// What is wrong.
        reason: String,
    },
}

/// Decode GrADS's `days since 1-1-1 00:00:0.0` (proleptic Gregorian) to UTC.
pub fn grads_days_to_utc(days: f64) -> Option<DateTime<Utc>> {
    let origin = NaiveDate::from_ymd_opt(1, 1, 1)?
        .and_hms_opt(0, 0, 0)?
        .and_utc();
    let ms = (days * 86_400_000.0).round();
    if !ms.is_finite() || ms.abs() > 1e15 {
        return None;
    }
    origin.checked_add_signed(TimeDelta::milliseconds(ms as i64))
}

/// The index of the step `step_hours` after the cycle start (the earliest time, whatever the
/// order of the axis), within 30 minutes. The start is checked to lie within three days of
/// `cycle` (GrADS and CF disagree by two days on the calendar of year 1, so the absolute value
/// only guards against a wrong dataset; the step is found relative to the start).
pub fn step_index(
    times_days: &[f64],
    cycle: DateTime<Utc>,
    step_hours: u32,
) -> Result<usize, GridError> {
    let bad = GridError::BadCoordinate { name: "time" };
    if times_days.is_empty() || times_days.iter().any(|t| !t.is_finite()) {
        return Err(bad);
    }
    let start = times_days.iter().copied().fold(f64::INFINITY, f64::min);
    let found = grads_days_to_utc(start).ok_or(bad)?;
    if (found - cycle).num_hours().abs() > 72 {
        return Err(GridError::WrongCycle {
            found: found.to_rfc3339(),
            expected: cycle.to_rfc3339(),
        });
    }
    let want = start + f64::from(step_hours) / 24.0;
    let (index, dist) = times_days
        .iter()
        .enumerate()
        .map(|(i, t)| (i, (t - want).abs()))
        .fold((0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
    if dist * 24.0 > 0.5 {
        let mut hours: Vec<f64> = times_days.iter().map(|t| (t - start) * 24.0).collect();
        hours.sort_by(f64::total_cmp);
        hours.truncate(12);
        return Err(GridError::NoStep {
            step_hours,
            available: format!("{hours:?}"),
        });
    }
    Ok(index)
}

/// The index of each of `levels` (hPa) in the served `lev` axis (within 0.5 hPa).
pub fn level_indices(lev: &[f64], levels: &[u32]) -> Result<Vec<usize>, GridError> {
    levels
        .iter()
        .map(|&l| {
            lev.iter()
                .position(|v| (v - f64::from(l)).abs() < 0.5)
                .ok_or_else(|| GridError::NoLevel {
                    level: l,
                    available: lev.to_vec(),
                })
        })
        .collect()
}

/// How served rows/columns map to the scorer's: `lat[i]` = served row `lat_order[i]`, etc.
#[derive(Debug, Clone, PartialEq)]
pub struct Orientation {
    /// Served row of each output row (latitude descending).
    pub lat_order: Vec<usize>,
    /// Served column of each output column (longitude ascending in [0, 360)).
    pub lon_order: Vec<usize>,
    /// Output latitudes, 90 → −90.
    pub lat: Vec<f64>,
    /// Output longitudes in [0, 360), ascending.
    pub lon: Vec<f64>,
}

impl Orientation {
    /// From the served `lat` and `lon` axes.
    pub fn new(lat: &[f64], lon: &[f64]) -> Result<Self, GridError> {
        if lat.is_empty() || lat.iter().any(|v| !v.is_finite() || v.abs() > 90.0) {
            return Err(GridError::BadCoordinate { name: "lat" });
        }
        if lon.is_empty() || lon.iter().any(|v| !v.is_finite()) {
            return Err(GridError::BadCoordinate { name: "lon" });
        }
        // The scorer's own normalisation (latitude 90 → −90, longitude ascending in [0, 360)).
        let o =
            gaia_scoring::zarr::Orientation::new(lat, lon).map_err(|e| GridError::Irregular {
                reason: e.to_string(),
            })?;
        Ok(Self {
            lat: o.grid.lat.clone(),
            lon: o.grid.lon.clone(),
            lat_order: o.lat_src,
            lon_order: o.lon_src,
        })
    }

    /// Reorder one served (lat, lon) plane, scaling it and turning missing values into NaN.
    pub fn apply(&self, served: &[f64], missing: &[f64], scale: f64) -> Vec<f32> {
        let nlon = self.lon_order.len();
        let is_missing = |v: f64| {
            !v.is_finite()
                || v.abs() >= 9.99e20
                || missing
                    .iter()
                    .any(|m| (v - m).abs() <= m.abs() * 1e-6 + f64::MIN_POSITIVE)
        };
        let mut out = Vec::with_capacity(self.lat_order.len() * nlon);
        for &row in &self.lat_order {
            for &col in &self.lon_order {
                let v = served.get(row * nlon + col).copied().unwrap_or(f64::NAN);
                out.push(if is_missing(v) {
                    f32::NAN
                } else {
                    (v * scale) as f32
                });
            }
        }
        out
    }
}
