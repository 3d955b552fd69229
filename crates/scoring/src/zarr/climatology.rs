//! The WeatherBench2 ERA5 hourly climatology (1990–2019, 6-hourly): long variable names, dims
//! `hour, dayofyear, [level,] latitude, longitude`. A field is selected by the day of year of
//! the valid time and `hour = 6·floor(hour/6)`, each the nearest coordinate value (spec §3.1).

use chrono::{DateTime, Datelike, Timelike, Utc};

use super::{Dataset, OpenOptions, ZarrError};
use crate::{Field2, Grid};

/// Level selections further than this from the requested level (hPa) are refused.
pub const LEVEL_TOLERANCE_HPA: f64 = 0.5;

/// WeatherBench2 long name of a short variable name (`2t` → `2m_temperature`, ...).
pub fn long_name(short: &str) -> Option<&'static str> {
    Some(match short {
        "2t" => "2m_temperature",
        "msl" => "mean_sea_level_pressure",
        "10u" => "10m_u_component_of_wind",
        "10v" => "10m_v_component_of_wind",
        "t" => "temperature",
        "u" => "u_component_of_wind",
        "v" => "v_component_of_wind",
        "q" => "specific_humidity",
        "z" => "geopotential",
        _ => return None,
    })
}

/// An opened climatology store.
#[derive(Debug)]
pub struct Climatology {
    ds: Dataset,
    hours: Vec<f64>,
    days: Vec<f64>,
    levels: Option<Vec<f64>>,
}

fn nearest(values: &[f64], target: f64) -> Option<usize> {
    values
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .min_by(|a, b| (a.1 - target).abs().total_cmp(&(b.1 - target).abs()))
        .map(|(i, _)| i)
}

impl Climatology {
    /// Open a climatology store (directory or URL) and read its `hour`, `dayofyear` and `level`
    /// coordinates.
    pub fn open(location: &str, options: &OpenOptions) -> Result<Self, ZarrError> {
        let ds = Dataset::open(location, options)?;
        let hours = ds
            .read_1d("hour")
            .map_err(|_| ZarrError::MissingCoordinate("hour".into()))?;
        let days = ds
            .read_1d("dayofyear")
            .map_err(|_| ZarrError::MissingCoordinate("dayofyear".into()))?;
        let levels = ds.pressure_levels()?;
        Ok(Self {
            ds,
            hours,
            days,
            levels,
        })
    }

    /// The normalised grid of the climatology.
    pub fn grid(&self) -> Result<std::sync::Arc<Grid>, ZarrError> {
        self.ds.grid()
    }

    /// The climatological field of `short_var` (`"2t"`, `"z"`, ...) at `level_hpa` for the
    /// valid time's day of year and 6-hourly hour.
    pub fn field(
        &self,
        short_var: &str,
        level_hpa: Option<f64>,
        valid_time: DateTime<Utc>,
    ) -> Result<Field2, ZarrError> {
        let var =
            long_name(short_var).ok_or_else(|| ZarrError::UnknownVariable(short_var.to_owned()))?;
        let hour = f64::from(6 * (valid_time.hour() / 6));
        let doy = f64::from(valid_time.ordinal());
        let missing = |what: String| ZarrError::ClimatologyMissing(what);
        let h = nearest(&self.hours, hour).ok_or_else(|| missing("hour".into()))?;
        let d = nearest(&self.days, doy).ok_or_else(|| missing("dayofyear".into()))?;
        let mut sel: Vec<(&[&str], usize)> = vec![(&["hour"], h), (&["dayofyear"], d)];
        if let Some(level) = level_hpa {
            let levels = self
                .levels
                .as_ref()
                .ok_or_else(|| missing("level axis".into()))?;
            let l = nearest(levels, level)
                .filter(|&l| (levels[l] - level).abs() <= LEVEL_TOLERANCE_HPA)
                .ok_or_else(|| missing(format!("level {level} hPa")))?;
            sel.push((&super::dataset::LEVEL_NAMES, l));
        }
        self.ds.read_plane(var, &sel)
    }
}
