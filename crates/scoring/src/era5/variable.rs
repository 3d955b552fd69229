//! The ERA5 score of one variable at one lead (spec §4.3 items 3-7): interpolation onto the
//! ERA5 grid, edge salvage, manipulation and coverage checks, climatology fill, then per-level
//! MSE/ACC/skill/MAE/bias combined with the thickness weights.

use std::borrow::Cow;
use std::sync::Arc;

use crate::field::{Field2, Grid};
use crate::metrics::{
    anomaly_correlation, bias_corrected_skill, weighted_bias, weighted_mae, weighted_mse,
    LatWeights,
};
use crate::regrid::{interp_to_grid, interp_to_grid_cow};

use super::checks::{coverage_counts, edge_salvage, fill_from_climatology, has_extreme};
use super::config::Era5Config;
use super::levels::thickness_weights;
use super::report::{Era5LevelResult, Era5VariableResult};
use super::units::check_units;
use super::Era5Error;

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// The fields of one level (or of a surface variable) at the valid time.
#[derive(Debug, Clone)]
pub struct Era5LevelFields {
    /// Pressure level in hPa; `None` for a surface variable.
    pub level_hpa: Option<f64>,
    /// The miner's forecast (any grid).
    pub forecast: Field2,
    /// ERA5 (its grid is the target grid).
    pub truth: Field2,
    /// The climatology (any grid).
    pub climatology: Field2,
}

/// All levels of one variable.
#[derive(Debug, Clone)]
pub struct Era5VariableInput {
    /// Short variable name.
    pub variable: String,
    /// The forecast's `units` attribute.
    pub forecast_units: Option<String>,
    /// The truth's `units` attribute.
    pub truth_units: Option<String>,
    /// One entry per level (one entry for a surface variable).
    pub levels: Vec<Era5LevelFields>,
}

/// A level after the checks: forecast (filled) and climatology on the truth grid.
struct Prepared<'a> {
    forecast: Field2,
    climatology: Cow<'a, Field2>,
}

fn regrid(f: &Field2, target: &Arc<Grid>, variable: &str) -> Result<Field2, Era5Error> {
    interp_to_grid(f, target).map_err(|source| Era5Error::Interp {
        variable: variable.to_string(),
        source,
    })
}

/// Score one variable. Miner-level failures (manipulation, coverage, non-finite surface ACC,
/// structural problems) are errors; a unit mismatch or a NaN level ACC is reported in the
/// result's `error` field, as production writes an `era5_error_*` row for them.
pub fn score_era5_variable(
    input: &Era5VariableInput,
    config: &Era5Config,
) -> Result<Era5VariableResult, Era5Error> {
    let var = input.variable.as_str();
    let mut result = Era5VariableResult {
        variable: var.to_string(),
        levels: Vec::new(),
        rmse: None,
        mse: None,
        acc: None,
        skill: None,
        mae: None,
        bias: None,
        mean_bias_unweighted: None,
        coverage: 0.0,
        edge_salvaged_points: 0,
        climatology_filled_points: 0,
        units: input.forecast_units.clone(),
        error: None,
    };
    for (who, units) in [
        ("forecast", &input.forecast_units),
        ("truth", &input.truth_units),
    ] {
        if let Err(expected) = check_units(var, units.as_deref()) {
            result.error = Some(format!(
                "{who} units `{}` are not the expected `{expected}`",
                units.as_deref().unwrap_or_default()
            ));
            return Ok(result);
        }
    }
    let level_values: Vec<f64> = input.levels.iter().filter_map(|l| l.level_hpa).collect();
    let omega = if level_values.is_empty() {
        vec![1.0; input.levels.len().min(1)]
    } else {
        thickness_weights(&level_values).ok_or_else(|| Era5Error::BadLevels(var.to_string()))?
    };
    if omega.len() != input.levels.len() || omega.is_empty() {
        return Err(Era5Error::BadLevels(var.to_string()));
    }

    // Interpolate, salvage, check each level; coverage counts over all levels.
    let (mut total, mut covered) = (0usize, 0usize);
    let mut prepared = Vec::with_capacity(input.levels.len());
    for lvl in &input.levels {
        let target = &lvl.truth.grid;
        let mut forecast = regrid(&lvl.forecast, target, var)?;
        let climatology =
            interp_to_grid_cow(&lvl.climatology, target).map_err(|source| Era5Error::Interp {
                variable: var.to_string(),
                source,
            })?;
        if config.edge_salvage {
            result.edge_salvaged_points += edge_salvage(&mut forecast.values);
        }
        if has_extreme(&forecast.values.view(), config.extreme_value_threshold) {
            return Err(Era5Error::ExtremeValues {
                variable: var.to_string(),
                level_hpa: lvl.level_hpa,
            });
        }
        let (t, c) = coverage_counts(&forecast.values.view(), &lvl.truth.values.view());
        total += t;
        covered += c;
        prepared.push(Prepared {
            forecast,
            climatology,
        });
    }
    let coverage = if total == 0 {
        0.0
    } else {
        covered as f64 / total as f64
    };
    result.coverage = coverage;
    if coverage < config.nan_injection_coverage {
        return Err(Era5Error::NanInjection {
            variable: var.to_string(),
            coverage,
        });
    }
    if coverage < config.min_finite_coverage {
        return Err(Era5Error::InsufficientCoverage {
            variable: var.to_string(),
            coverage,
            required: config.min_finite_coverage,
        });
    }

    let (mut bias_sum, mut bias_n) = (0.0, 0usize);
    let mut nan_acc_levels = Vec::new();
    for ((lvl, prep), &w_k) in input.levels.iter().zip(prepared.iter_mut()).zip(&omega) {
        result.climatology_filled_points +=
            fill_from_climatology(&mut prep.forecast.values, &prep.climatology.values.view());
        let w = LatWeights::cos_lat(&lvl.truth.grid.lat);
        let (f, t, c) = (
            prep.forecast.values.view(),
            lvl.truth.values.view(),
            prep.climatology.values.view(),
        );
        let mse = weighted_mse(&f, &t, &w)?;
        let acc = anomaly_correlation(&f, &t, &c, &w)?;
        let skill = bias_corrected_skill(&f, &t, &c, &w)?.skill;
        for (&x, &y) in f.iter().zip(t.iter()) {
            let d = x - y;
            if !d.is_nan() {
                bias_sum += d;
                bias_n += 1;
            }
        }
        if !acc.is_finite() {
            nan_acc_levels.push(lvl.level_hpa);
        }
        result.levels.push(Era5LevelResult {
            level_hpa: lvl.level_hpa,
            weight: w_k,
            mse: finite(mse),
            rmse: finite(mse.sqrt()),
            acc: finite(acc),
            skill: finite(skill),
            mae: finite(weighted_mae(&f, &t, &w)?),
            bias: finite(weighted_bias(&f, &t, &w)?),
        });
    }
    let wsum = |get: fn(&Era5LevelResult) -> Option<f64>| -> Option<f64> {
        let mut acc = 0.0;
        for l in &result.levels {
            acc += l.weight * get(l)?;
        }
        finite(acc)
    };
    result.mse = wsum(|l| l.mse);
    result.rmse = result.mse.map(f64::sqrt);
    result.mae = wsum(|l| l.mae);
    result.bias = wsum(|l| l.bias);
    result.skill = finite(
        result
            .levels
            .iter()
            .map(|l| l.weight * l.skill.unwrap_or(0.0))
            .sum(),
    );
    result.mean_bias_unweighted = finite(bias_sum / bias_n as f64);
    if nan_acc_levels.is_empty() {
        result.acc = wsum(|l| l.acc);
    } else if input.levels.len() == 1 && input.levels[0].level_hpa.is_none() {
        return Err(Era5Error::SurfaceAccNonFinite(var.to_string()));
    } else {
        result.error = Some(format!("ACC is NaN at level(s) {nan_acc_levels:?} hPa"));
    }
    Ok(result)
}
