//! Picking the time step and pressure level to score, with the production tolerances
//! (spec §3.2: nearest time within a tolerance, nearest level within 10 hPa; §4.3: exact match).

use chrono::{DateTime, TimeDelta, Utc};

/// The requested time or level is not in the dataset within the tolerance.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SelectError {
    /// The coordinate has no values.
    #[error("the dataset has no {what} values")]
    Empty {
        /// `time` or `pressure_level`.
        what: &'static str,
    },
    /// The nearest time is further away than allowed.
    #[error("no time within {tolerance_hours} h of {wanted} (nearest: {nearest})")]
    TimeOutOfTolerance {
        /// The requested valid time.
        wanted: DateTime<Utc>,
        /// The nearest time found.
        nearest: DateTime<Utc>,
        /// The allowed deviation in hours.
        tolerance_hours: f64,
    },
    /// The nearest level is further away than allowed.
    #[error(
        "no pressure level within {tolerance_hpa} hPa of {wanted} hPa (nearest: {nearest} hPa)"
    )]
    LevelOutOfTolerance {
        /// Requested level (hPa).
        wanted: f64,
        /// Nearest level found (hPa).
        nearest: f64,
        /// Allowed deviation (hPa).
        tolerance_hpa: f64,
    },
}

/// Index of the value nearest to `target` by `dist`; on a tie the later one wins (pandas'
/// `get_indexer(method="nearest")` prefers the right neighbour on a monotonic increasing index).
fn nearest_by<T>(values: &[T], dist: impl Fn(&T) -> f64) -> Option<(usize, f64)> {
    let mut best: Option<(usize, f64)> = None;
    for (i, v) in values.iter().enumerate() {
        let d = dist(v);
        if d.is_nan() {
            continue;
        }
        if best.is_none_or(|(_, bd)| d <= bd) {
            best = Some((i, d));
        }
    }
    best
}

/// The index of the time nearest to `wanted`, if within `tolerance` (inclusive).
pub fn nearest_time(
    times: &[DateTime<Utc>],
    wanted: DateTime<Utc>,
    tolerance: TimeDelta,
) -> Result<usize, SelectError> {
    let tol_s = tolerance.num_milliseconds() as f64 / 1000.0;
    let (i, d) = nearest_by(times, |t| {
        (*t - wanted).num_milliseconds().abs() as f64 / 1000.0
    })
    .ok_or(SelectError::Empty { what: "time" })?;
    if d > tol_s {
        return Err(SelectError::TimeOutOfTolerance {
            wanted,
            nearest: times[i],
            tolerance_hours: tol_s / 3600.0,
        });
    }
    Ok(i)
}

/// The index of the pressure level nearest to `wanted` (hPa), if within `tolerance_hpa`.
pub fn nearest_level(
    levels: &[f64],
    wanted: f64,
    tolerance_hpa: f64,
) -> Result<usize, SelectError> {
    let (i, d) = nearest_by(levels, |l| (l - wanted).abs()).ok_or(SelectError::Empty {
        what: "pressure_level",
    })?;
    if d > tolerance_hpa {
        return Err(SelectError::LevelOutOfTolerance {
            wanted,
            nearest: levels[i],
            tolerance_hpa,
        });
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, h, 0, 0).unwrap()
    }

    #[test]
    fn time_selection_with_tolerance() {
        let times = [t(0), t(6), t(12), t(18)];
        assert_eq!(nearest_time(&times, t(12), TimeDelta::zero()).unwrap(), 2);
        assert_eq!(nearest_time(&times, t(13), TimeDelta::hours(3)).unwrap(), 2);
        // tie between 0 and 6 -> the later one
        assert_eq!(nearest_time(&times, t(3), TimeDelta::hours(3)).unwrap(), 1);
        assert!(matches!(
            nearest_time(&times, t(13), TimeDelta::zero()),
            Err(SelectError::TimeOutOfTolerance { .. })
        ));
        assert!(matches!(
            nearest_time(&[], t(1), TimeDelta::zero()),
            Err(SelectError::Empty { .. })
        ));
    }

    #[test]
    fn level_selection_with_tolerance() {
        let levels = [1000.0, 850.0, 500.0, 50.0];
        assert_eq!(nearest_level(&levels, 500.0, 0.0).unwrap(), 2);
        assert_eq!(nearest_level(&levels, 505.0, 10.0).unwrap(), 2);
        assert!(matches!(
            nearest_level(&levels, 520.0, 10.0),
            Err(SelectError::LevelOutOfTolerance { .. })
        ));
        assert!(nearest_level(&[], 500.0, 10.0).is_err());
    }
}
