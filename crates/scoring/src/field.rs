//! The in-memory unit every score works on: one 2-D (latitude × longitude) field on a regular grid.
//!
//! Readers produce [`Field2`] values already normalised to the dataset conventions of the spec
//! (latitude descending 90 → −90, longitude ascending in [0, 360)); scoring functions consume them.
//! Values are `f64` whatever the stored dtype, so that every formula is evaluated in double
//! precision; missing values are NaN. A field remembers when its values came from a `float32`
//! array ([`Precision::F32`]): the reference interpolates such fields with a first pass in
//! single precision (spec §12-8), and so does `regrid::interp_to_grid`.

use std::sync::Arc;

use ndarray::Array2;

/// Errors building a field or a grid.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FieldError {
    /// The value array does not have the grid's shape.
    #[error("field shape {actual:?} does not match grid shape {expected:?}")]
    ShapeMismatch {
        /// Grid shape (lat, lon).
        expected: (usize, usize),
        /// Array shape.
        actual: (usize, usize),
    },
    /// A coordinate vector is empty, not finite or not strictly monotonic in the required order.
    #[error("coordinate `{name}` is invalid: {reason}")]
    BadCoordinate {
        /// `lat` or `lon`.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// A regular latitude/longitude grid in the normalised orientation.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Latitudes in degrees, strictly descending (90 → −90).
    pub lat: Vec<f64>,
    /// Longitudes in degrees, strictly ascending, each in [0, 360).
    pub lon: Vec<f64>,
}

impl Grid {
    /// Build a grid, checking the normalised orientation.
    pub fn new(lat: Vec<f64>, lon: Vec<f64>) -> Result<Self, FieldError> {
        check_strict(&lat, "lat", |a, b| a > b, "strictly descending")?;
        check_strict(&lon, "lon", |a, b| a < b, "strictly ascending")?;
        if let Some(bad) = lat.iter().find(|v| !(-90.0..=90.0).contains(*v)) {
            return Err(bad_coord("lat", format!("value {bad} outside [-90, 90]")));
        }
        if let Some(bad) = lon.iter().find(|v| !(0.0..360.0).contains(*v)) {
            return Err(bad_coord("lon", format!("value {bad} outside [0, 360)")));
        }
        Ok(Self { lat, lon })
    }

    /// (number of latitudes, number of longitudes).
    pub fn shape(&self) -> (usize, usize) {
        (self.lat.len(), self.lon.len())
    }
}

/// The precision the values of a field were stored in (they are all exactly representable in it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Read from a `float32` array (the usual miner, ERA5 and climatology dtype).
    F32,
    /// Double precision: read from a `float64` or integer array, or computed.
    #[default]
    F64,
}

/// One 2-D field: values on a shared grid.
#[derive(Debug, Clone)]
pub struct Field2 {
    /// The grid the values sit on.
    pub grid: Arc<Grid>,
    /// Values indexed `[lat, lon]`; NaN where missing.
    pub values: Array2<f64>,
    /// What the values were stored as ([`Precision::F64`] unless a reader says otherwise).
    pub precision: Precision,
}

impl Field2 {
    /// Pair values with a grid, checking the shape.
    pub fn new(grid: Arc<Grid>, values: Array2<f64>) -> Result<Self, FieldError> {
        let actual = values.dim();
        if actual != grid.shape() {
            return Err(FieldError::ShapeMismatch {
                expected: grid.shape(),
                actual,
            });
        }
        Ok(Self {
            grid,
            values,
            precision: Precision::F64,
        })
    }

    /// The same field, marked as stored in `precision` (the caller guarantees every value is
    /// exactly representable in it).
    pub fn stored_as(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }
}

fn bad_coord(name: &'static str, reason: String) -> FieldError {
    FieldError::BadCoordinate { name, reason }
}

fn check_strict(
    values: &[f64],
    name: &'static str,
    ordered: impl Fn(f64, f64) -> bool,
    rule: &str,
) -> Result<(), FieldError> {
    if values.is_empty() {
        return Err(bad_coord(name, "empty".into()));
    }
    if let Some(v) = values.iter().find(|v| !v.is_finite()) {
        return Err(bad_coord(name, format!("non-finite value {v}")));
    }
    if values.windows(2).any(|w| !ordered(w[0], w[1])) {
        return Err(bad_coord(name, format!("not {rule}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_accepts_normalised_orientation() {
        let g = Grid::new(vec![90.0, 0.0, -90.0], vec![0.0, 120.0, 240.0]).unwrap();
        assert_eq!(g.shape(), (3, 3));
    }

    #[test]
    fn grid_rejects_wrong_order_and_ranges() {
        assert!(Grid::new(vec![-90.0, 90.0], vec![0.0]).is_err());
        assert!(Grid::new(vec![90.0], vec![10.0, 5.0]).is_err());
        assert!(Grid::new(vec![91.0], vec![0.0]).is_err());
        assert!(Grid::new(vec![0.0], vec![360.0]).is_err());
        assert!(Grid::new(vec![], vec![0.0]).is_err());
        assert!(Grid::new(vec![f64::NAN], vec![0.0]).is_err());
    }

    #[test]
    fn field_checks_shape() {
        let g = Arc::new(Grid::new(vec![10.0, 0.0], vec![0.0, 1.0, 2.0]).unwrap());
        assert!(Field2::new(g.clone(), Array2::zeros((2, 3))).is_ok());
        let err = Field2::new(g, Array2::zeros((3, 2))).unwrap_err();
        assert_eq!(
            err,
            FieldError::ShapeMismatch {
                expected: (2, 3),
                actual: (3, 2)
            }
        );
    }
}
