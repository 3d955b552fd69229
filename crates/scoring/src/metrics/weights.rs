//! Latitude weights: the cos(latitude) area weighting every spatial mean of the spec uses.
//!
//! The production code builds `np.cos(np.deg2rad(lat))` broadcast over longitude and sets the
//! weight to 0 where the latitude is NaN (spec §3.3, MET @L76-77). Because the weight depends on
//! the row only, it is stored once per latitude and applied row by row.

/// cos(latitude) weights, one per latitude row.
#[derive(Debug, Clone, PartialEq)]
pub struct LatWeights {
    per_row: Vec<f64>,
}

impl LatWeights {
    /// cos(lat) for latitudes in degrees; NaN (or otherwise non-finite) latitudes get weight 0,
    /// and the tiny negative values cos can return at ±90° for rounding reasons are clamped to 0.
    pub fn cos_lat(lat_degrees: &[f64]) -> Self {
        let per_row = lat_degrees
            .iter()
            .map(|&lat| {
                if lat.is_finite() {
                    lat.to_radians().cos().max(0.0)
                } else {
                    0.0
                }
            })
            .collect();
        Self { per_row }
    }

    /// Uniform weights (1 per row), for tests and unweighted variants.
    pub fn uniform(rows: usize) -> Self {
        Self {
            per_row: vec![1.0; rows],
        }
    }

    /// The weight of each latitude row.
    pub fn as_slice(&self) -> &[f64] {
        &self.per_row
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.per_row.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.per_row.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cos_lat_matches_definition() {
        let w = LatWeights::cos_lat(&[90.0, 60.0, 0.0, -60.0, f64::NAN]);
        let s = w.as_slice();
        assert!(s[0].abs() < 1e-15);
        assert!((s[1] - 0.5).abs() < 1e-15);
        assert_eq!(s[2], 1.0);
        assert!((s[3] - 0.5).abs() < 1e-15);
        assert_eq!(s[4], 0.0);
        assert_eq!(w.len(), 5);
        assert!(!w.is_empty());
        assert_eq!(LatWeights::uniform(2).as_slice(), &[1.0, 1.0]);
    }
}
