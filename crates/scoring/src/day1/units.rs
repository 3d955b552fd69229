//! Day-1 unit auto-fixes on the miner's field (spec §3.2, WSM @L2039-2075): a miner that wrote
//! geopotential height, °C or hPa is converted rather than scored as garbage.
//!
//! The decision compares unweighted NaN-skipping means of the forecast (on its own grid) and of
//! the truth.

use crate::field::{Field2, Precision};
use serde::{Deserialize, Serialize};

/// Standard gravity, m s⁻²: geopotential height (gpm) × g = geopotential (m² s⁻²).
pub const STANDARD_GRAVITY: f64 = 9.80665;

/// A unit conversion applied to a forecast field.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitFix {
    /// `z` given as geopotential height: multiplied by 9.80665.
    GeopotentialHeightToGeopotential,
    /// Temperature given in °C: 273.15 added.
    CelsiusToKelvin,
    /// Pressure given in hPa: multiplied by 100.
    HectopascalToPascal,
}

impl UnitFix {
    /// Decide the fix for `variable` from the forecast and truth means, as production does:
    /// `z` mean < 10 000 with truth > 40 000; `2t`/`t` mean < 100 with truth > 200; `msl` mean
    /// < 2 000 with truth > 50 000.
    pub fn detect(variable: &str, forecast_mean: f64, truth_mean: f64) -> Option<Self> {
        match variable {
            "z" if forecast_mean < 10_000.0 && truth_mean > 40_000.0 => {
                Some(Self::GeopotentialHeightToGeopotential)
            }
            "2t" | "t" if forecast_mean < 100.0 && truth_mean > 200.0 => {
                Some(Self::CelsiusToKelvin)
            }
            "msl" if forecast_mean < 2_000.0 && truth_mean > 50_000.0 => {
                Some(Self::HectopascalToPascal)
            }
            _ => None,
        }
    }

    /// Apply the conversion in place, in the precision the field was stored in (§12-18: numpy
    /// keeps a `float32` array `float32` when it is scaled or shifted by a Python number).
    pub fn apply(self, field: &mut Field2) {
        let single = field.precision == Precision::F32;
        let op = |x: f64| -> f64 {
            match (self, single) {
                (Self::GeopotentialHeightToGeopotential, false) => x * STANDARD_GRAVITY,
                (Self::CelsiusToKelvin, false) => x + 273.15,
                (Self::HectopascalToPascal, false) => x * 100.0,
                (Self::GeopotentialHeightToGeopotential, true) => {
                    f64::from(x as f32 * STANDARD_GRAVITY as f32)
                }
                (Self::CelsiusToKelvin, true) => f64::from(x as f32 + 273.15f32),
                (Self::HectopascalToPascal, true) => f64::from(x as f32 * 100f32),
            }
        };
        field.values.mapv_inplace(op);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn detects_each_fix_and_nothing_else() {
        assert_eq!(
            UnitFix::detect("z", 5_600.0, 55_000.0),
            Some(UnitFix::GeopotentialHeightToGeopotential)
        );
        assert_eq!(
            UnitFix::detect("2t", 15.0, 288.0),
            Some(UnitFix::CelsiusToKelvin)
        );
        assert_eq!(
            UnitFix::detect("t", -40.0, 230.0),
            Some(UnitFix::CelsiusToKelvin)
        );
        assert_eq!(
            UnitFix::detect("msl", 1013.0, 101_300.0),
            Some(UnitFix::HectopascalToPascal)
        );
        assert_eq!(UnitFix::detect("msl", 101_000.0, 101_300.0), None);
        assert_eq!(UnitFix::detect("10u", 1.0, 300.0), None);
        assert_eq!(UnitFix::detect("2t", f64::NAN, 288.0), None);
    }

    fn field(values: ndarray::Array2<f64>) -> Field2 {
        let g = std::sync::Arc::new(
            crate::Grid::new(vec![0.0], (0..values.ncols()).map(|j| j as f64).collect()).unwrap(),
        );
        Field2::new(g, values).unwrap()
    }

    #[test]
    fn applies_conversions() {
        let mut v = field(array![[1.0, 2.0]]);
        UnitFix::HectopascalToPascal.apply(&mut v);
        assert_eq!(v.values, array![[100.0, 200.0]]);
        UnitFix::CelsiusToKelvin.apply(&mut v);
        assert_eq!(v.values, array![[373.15, 473.15]]);
        let mut z = field(array![[1.0]]);
        UnitFix::GeopotentialHeightToGeopotential.apply(&mut z);
        assert_eq!(z.values[[0, 0]], STANDARD_GRAVITY);
    }

    /// §12-18: a float32 field is converted in float32, as numpy does.
    #[test]
    fn a_float32_field_is_converted_in_float32() {
        let mut t = field(array![[f64::from(15.3f32)]]).stored_as(Precision::F32);
        UnitFix::CelsiusToKelvin.apply(&mut t);
        assert_eq!(t.values[[0, 0]], f64::from(15.3f32 + 273.15f32));
        assert_ne!(t.values[[0, 0]], f64::from(15.3f32) + 273.15);
        let mut z = field(array![[f64::from(5600.7f32)]]).stored_as(Precision::F32);
        UnitFix::GeopotentialHeightToGeopotential.apply(&mut z);
        assert_eq!(z.values[[0, 0]], f64::from(5600.7f32 * 9.80665f32));
    }
}
