//! Coordinate conventions: CF time decoding ("hours since 2026-11-27 00:00:00") and the grid
//! normalisation every reader output follows (latitude 90 → −90, longitude ascending in [0, 360)).
//!
//! xarray writes datetimes as integer offsets with a CF `units` attribute and a `calendar`; only
//! the Gregorian family is meaningful for forecasts and is accepted here.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};

use super::ZarrError;
use crate::Grid;

/// Calendars that coincide with chrono's proleptic Gregorian calendar for our dates.
const CALENDARS: [&str; 4] = [
    "standard",
    "gregorian",
    "proleptic_gregorian",
    "julian_gregorian",
];

/// Decode CF time values given the `units` and optional `calendar` attributes.
pub fn decode_cf_time(
    values: &[f64],
    units: &str,
    calendar: Option<&str>,
) -> Result<Vec<DateTime<Utc>>, ZarrError> {
    if let Some(cal) = calendar {
        if !CALENDARS.contains(&cal.to_ascii_lowercase().as_str()) {
            return Err(ZarrError::BadTime(format!("unsupported calendar `{cal}`")));
        }
    }
    let (unit, origin) = units
        .split_once(" since ")
        .ok_or_else(|| ZarrError::BadTime(format!("units `{units}` lack `since`")))?;
    let unit_ns: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "nanoseconds" | "nanosecond" | "ns" => 1.0,
        "microseconds" | "microsecond" | "us" => 1e3,
        "milliseconds" | "millisecond" | "ms" => 1e6,
        "seconds" | "second" | "s" | "sec" | "secs" => 1e9,
        "minutes" | "minute" | "min" | "mins" => 60e9,
        "hours" | "hour" | "h" | "hr" | "hrs" => 3600e9,
        "days" | "day" | "d" => 86400e9,
        other => {
            return Err(ZarrError::BadTime(format!(
                "unsupported time unit `{other}`"
            )))
        }
    };
    let origin = parse_origin(origin.trim())?;
    values
        .iter()
        .map(|&v| {
            let ns = v * unit_ns;
            // ±200 years in ns stays well inside i64; anything else is not a forecast time.
            if !ns.is_finite() || ns.abs() > 200.0 * 365.25 * 86400e9 {
                return Err(ZarrError::BadTime(format!("time value {v} out of range")));
            }
            Ok(origin + Duration::nanoseconds(ns.round() as i64))
        })
        .collect()
}

fn parse_origin(s: &str) -> Result<DateTime<Utc>, ZarrError> {
    // Accept "2026-11-27", "2026-11-27 00:00:00", "2026-11-27T00:00:00", optional fraction,
    // and a trailing "Z", "UTC", "+00:00" or "+0000".
    let mut t = s.trim();
    for suffix in ["Z", " UTC", "UTC", "+00:00", "+0000", " +00:00"] {
        if let Some(rest) = t.strip_suffix(suffix) {
            t = rest.trim_end();
            break;
        }
    }
    let t = t.replace('T', " ");
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(&t, fmt) {
            return Ok(dt.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(&t, "%Y-%m-%d") {
        if let Some(dt) = d.and_hms_opt(0, 0, 0) {
            return Ok(dt.and_utc());
        }
    }
    Err(ZarrError::BadTime(format!(
        "cannot parse reference date `{s}`"
    )))
}

/// How stored rows/columns map onto the normalised grid.
#[derive(Debug, Clone)]
pub struct Orientation {
    /// The normalised grid.
    pub grid: std::sync::Arc<Grid>,
    /// `lat_src[i]` = stored latitude index of normalised row `i`.
    pub lat_src: Vec<usize>,
    /// `lon_src[j]` = stored longitude index of normalised column `j`.
    pub lon_src: Vec<usize>,
}

impl Orientation {
    /// Normalise stored latitude and longitude vectors (either latitude order, longitudes in
    /// [−180, 180) or [0, 360)).
    pub fn new(lat: &[f64], lon: &[f64]) -> Result<Self, ZarrError> {
        let mut lat_src: Vec<usize> = (0..lat.len()).collect();
        // Descending latitude; NaN is rejected by Grid::new afterwards (total_cmp keeps it sortable).
        lat_src.sort_by(|&a, &b| lat[b].total_cmp(&lat[a]));
        let wrapped: Vec<f64> = lon.iter().map(|&x| wrap_lon(x)).collect();
        let mut lon_src: Vec<usize> = (0..lon.len()).collect();
        lon_src.sort_by(|&a, &b| wrapped[a].total_cmp(&wrapped[b]));
        let grid = Grid::new(
            lat_src.iter().map(|&i| lat[i]).collect(),
            lon_src.iter().map(|&j| wrapped[j]).collect(),
        )?;
        Ok(Self {
            grid: std::sync::Arc::new(grid),
            lat_src,
            lon_src,
        })
    }
}

/// Longitude in [0, 360).
pub fn wrap_lon(x: f64) -> f64 {
    let w = x.rem_euclid(360.0);
    // rem_euclid can round up to exactly 360.0 for tiny negative inputs.
    if w >= 360.0 {
        0.0
    } else {
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_hours_and_days() {
        let t = decode_cf_time(&[0.0, 6.0, 30.0], "hours since 2026-11-27", None).unwrap();
        assert_eq!(t[2].to_rfc3339(), "2026-11-28T06:00:00+00:00");
        let d =
            decode_cf_time(&[1.5], "days since 2000-01-01T00:00:00Z", Some("standard")).unwrap();
        assert_eq!(d[0].to_rfc3339(), "2000-01-02T12:00:00+00:00");
        let m = decode_cf_time(&[90.0], "minutes since 2026-01-01 06:00:00", None).unwrap();
        assert_eq!(m[0].to_rfc3339(), "2026-01-01T07:30:00+00:00");
    }

    #[test]
    fn rejects_bad_time() {
        assert!(decode_cf_time(&[0.0], "hours", None).is_err());
        assert!(decode_cf_time(&[0.0], "fortnights since 2026-01-01", None).is_err());
        assert!(decode_cf_time(&[0.0], "hours since yesterday", None).is_err());
        assert!(decode_cf_time(&[0.0], "hours since 2026-01-01", Some("360_day")).is_err());
        assert!(decode_cf_time(&[f64::NAN], "hours since 2026-01-01", None).is_err());
        assert!(decode_cf_time(&[1e300], "hours since 2026-01-01", None).is_err());
    }

    #[test]
    fn normalises_orientation() {
        let o = Orientation::new(&[-10.0, 0.0, 10.0], &[-180.0, -90.0, 0.0, 90.0]).unwrap();
        assert_eq!(o.grid.lat, vec![10.0, 0.0, -10.0]);
        assert_eq!(o.lat_src, vec![2, 1, 0]);
        assert_eq!(o.grid.lon, vec![0.0, 90.0, 180.0, 270.0]);
        assert_eq!(o.lon_src, vec![2, 3, 0, 1]);
        assert!(Orientation::new(&[0.0, 0.0], &[0.0]).is_err());
        assert!(Orientation::new(&[0.0], &[0.0, 360.0]).is_err());
        assert_eq!(wrap_lon(-1e-20), 0.0);
    }
}
