//! The ERA5 score of one variable at one lead (spec §4.3 items 3-7, §12-6..11): interpolation
//! onto the ERA5 grid and levels, edge salvage, manipulation and coverage checks, climatology
//! fill, then per-level MSE/ACC/skill/MAE/bias combined with the thickness weights.
//!
//! [`ForecastOnTruth`](super::on_truth::ForecastOnTruth) puts a variable's forecast on the truth
//! grid one target level at a time (§12-6/7); [`variable_stats`] runs the fused
//! [`kernel`](super::kernel) on every target level; [`assemble`] applies the checks in the
//! production order (units, levels, per-level interpolation and extreme values, coverage) and
//! combines the levels.

use std::sync::Arc;

use crate::field::{Field2, Grid};
use crate::metrics::{LatWeights, MetricError};
use crate::regrid::{GridInterp, InterpError, LevelPlan};

use super::config::Era5Config;
use super::kernel::{level_stats_rows, KernelOptions, LevelStats, RowFn};
use super::levels::thickness_weights;
pub use super::on_truth::ForecastOnTruth;
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
    /// The miner's forecast at this level (any lat/lon grid).
    pub forecast: Field2,
    /// ERA5 (its grid is the target grid).
    pub truth: Field2,
    /// The climatology (any grid).
    pub climatology: Field2,
}

/// All levels of one variable; the forecast's stored levels are the target levels.
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

fn interp_err(variable: &str) -> impl FnOnce(InterpError) -> Era5Error + '_ {
    move |source| Era5Error::Interp {
        variable: variable.to_string(),
        source,
    }
}

/// The kernel options of a variable: the profile's extreme-value rule and, for surface
/// variables only, the climatology fill (§12-10).
fn kernel_options(config: &Era5Config, surface: bool) -> KernelOptions {
    KernelOptions {
        edge_salvage: config.edge_salvage,
        // §11-2: production never applies the check (values of any size are scored).
        extreme_threshold: if config.profile.checks_extreme_values() {
            config.extreme_value_threshold
        } else {
            f64::INFINITY
        },
        climatology_fill: surface,
    }
}

/// The statistics of one target level: `forecast` gives the forecast's rows on the truth grid
/// (before salvage and fill); the climatology is interpolated onto the truth grid row by row. An
/// extreme value is reported as [`Era5Error::ExtremeValues`]; the coverage decision needs all
/// levels and is [`assemble`]'s.
pub fn level_outcome(
    variable: &str,
    level_hpa: Option<f64>,
    forecast: &mut RowFn<'_>,
    truth: &Field2,
    climatology: &Field2,
    config: &Era5Config,
) -> Result<LevelStats, Era5Error> {
    let target: &Arc<Grid> = &truth.grid;
    let plan = GridInterp::new(&climatology.grid, target).map_err(interp_err(variable))?;
    let clim = climatology.values.as_standard_layout();
    let clim = clim.as_slice().unwrap_or(&[]);
    let mut mid = vec![0.0; climatology.grid.lon.len()];
    let w = LatWeights::cos_lat(&target.lat);
    let stats = level_stats_rows(
        target.shape(),
        forecast,
        &truth.values.view(),
        &mut |i, out| plan.row_into(clim, climatology.precision, i, &mut mid, out),
        &w,
        kernel_options(config, level_hpa.is_none()),
    )?;
    if stats.extreme {
        return Err(Era5Error::ExtremeValues {
            variable: variable.to_string(),
            level_hpa,
        });
    }
    Ok(stats)
}

/// Every target level of a variable in order: the forecast from `forecast`, the truth and the
/// climatology from `truth_and_climatology(k)`. Stops at the first error, as a sequential
/// read-then-score does (a level's truth is read before its forecast is interpolated).
pub fn variable_stats(
    variable: &str,
    forecast: &mut ForecastOnTruth<'_>,
    level_hpa: &[Option<f64>],
    truth_and_climatology: impl FnMut(usize) -> Result<(Field2, Field2), Era5Error>,
    config: &Era5Config,
) -> Result<Vec<LevelStats>, Era5Error> {
    variable_stats_loading(
        variable,
        forecast,
        level_hpa,
        |_, _| Ok(()),
        truth_and_climatology,
        config,
    )
}

/// [`variable_stats`] with the forecast's stored levels read as the target levels need them:
/// `load(forecast, Some(k))` comes before target level k and puts the stored levels it reads
/// into `forecast` (dropping those no later level reads); after any other failure
/// `load(forecast, None)` reads what is left, and a read error there is the variable's, as it
/// would have come first had the whole forecast been read before the truth.
pub fn variable_stats_loading(
    variable: &str,
    forecast: &mut ForecastOnTruth<'_>,
    level_hpa: &[Option<f64>],
    mut load: impl FnMut(&mut ForecastOnTruth<'_>, Option<usize>) -> Result<(), Era5Error>,
    mut truth_and_climatology: impl FnMut(usize) -> Result<(Field2, Field2), Era5Error>,
    config: &Era5Config,
) -> Result<Vec<LevelStats>, Era5Error> {
    let mut out = Vec::with_capacity(level_hpa.len());
    for (k, &level) in level_hpa.iter().enumerate() {
        load(forecast, Some(k))?;
        match level_step(
            variable,
            forecast,
            (k, level),
            &mut truth_and_climatology,
            config,
        ) {
            Ok(stats) => out.push(stats),
            Err(e) => {
                load(forecast, None)?;
                return Err(e);
            }
        }
    }
    Ok(out)
}

/// Target level `k`: its truth and climatology, the checks, the kernel.
fn level_step(
    variable: &str,
    forecast: &mut ForecastOnTruth<'_>,
    (k, level): (usize, Option<f64>),
    truth_and_climatology: &mut impl FnMut(usize) -> Result<(Field2, Field2), Era5Error>,
    config: &Era5Config,
) -> Result<LevelStats, Era5Error> {
    let (truth, climatology) = truth_and_climatology(k)?;
    forecast.check().map_err(interp_err(variable))?;
    if forecast.shape() != truth.grid.shape() {
        return Err(Era5Error::Metric(MetricError::ShapeMismatch {
            left: forecast.shape(),
            right: truth.grid.shape(),
        }));
    }
    level_outcome(
        variable,
        level,
        &mut |i, row| forecast.row_into(k, i, row),
        &truth,
        &climatology,
        config,
    )
}

/// The units check of a variable: `Some(message)` when the forecast or truth unit is wrong.
pub fn units_error(
    variable: &str,
    forecast_units: Option<&str>,
    truth_units: Option<&str>,
) -> Option<String> {
    for (who, units) in [("forecast", forecast_units), ("truth", truth_units)] {
        if let Err(expected) = check_units(variable, units) {
            return Some(format!(
                "{who} units `{}` are not the expected `{expected}`",
                units.unwrap_or_default()
            ));
        }
    }
    None
}

fn empty_result(variable: &str, units: Option<String>) -> Era5VariableResult {
    Era5VariableResult {
        variable: variable.to_string(),
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
        units,
        error: None,
    }
}

/// Combine the level outcomes of one variable (in level order) into its result, applying the
/// checks in the order production applies them: the unit check (a mismatch is the variable's
/// `error`, no metrics), the level weights, the first level that failed interpolation or had an
/// extreme value, the coverage over all levels (NaN injection, then insufficient coverage), and
/// last a NaN ACC (an error for a surface variable, the variable's `error` otherwise).
///
/// `outcome` is the statistics of every level in order, or the first error; `None` when the
/// units are wrong (nothing was computed).
pub fn assemble(
    variable: &str,
    forecast_units: Option<String>,
    truth_units: Option<String>,
    level_hpa: &[Option<f64>],
    outcome: Option<Result<Vec<LevelStats>, Era5Error>>,
    config: &Era5Config,
) -> Result<Era5VariableResult, Era5Error> {
    let var = variable;
    let mut result = empty_result(var, forecast_units.clone());
    if let Some(message) = units_error(var, forecast_units.as_deref(), truth_units.as_deref()) {
        result.error = Some(message);
        return Ok(result);
    }
    let level_values: Vec<f64> = level_hpa.iter().filter_map(|l| *l).collect();
    let omega = if level_values.is_empty() {
        vec![1.0; level_hpa.len().min(1)]
    } else {
        thickness_weights(&level_values).ok_or_else(|| Era5Error::BadLevels(var.to_string()))?
    };
    if omega.len() != level_hpa.len() || omega.is_empty() {
        return Err(Era5Error::BadLevels(var.to_string()));
    }
    // `None` only happens when the units are wrong, which returned above.
    let stats = outcome.ok_or_else(|| Era5Error::BadLevels(var.to_string()))??;
    if stats.len() != omega.len() {
        return Err(Era5Error::BadLevels(var.to_string()));
    }
    let (total, covered) = stats.iter().fold((0usize, 0usize), |(t, c), s| {
        (t + s.truth_finite, c + s.covered)
    });
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
    for ((s, &level), &w_k) in stats.iter().zip(level_hpa).zip(&omega) {
        result.edge_salvaged_points += s.edge_salvaged;
        result.climatology_filled_points += s.filled;
        bias_sum += s.diff_sum;
        bias_n += s.diff_count;
        if !s.acc.is_finite() {
            nan_acc_levels.push(level);
        }
        result.levels.push(Era5LevelResult {
            level_hpa: level,
            weight: w_k,
            mse: finite(s.mse),
            rmse: finite(s.mse.sqrt()),
            acc: finite(s.acc),
            skill: finite(s.skill),
            mae: finite(s.mae),
            bias: finite(s.bias),
        });
    }
    // §11-1 (production): a pressure-level field that edge salvage did not rewrite (no NaN in
    // its outer border at any level) has skill 0.0 at every level, as the Python validators
    // compute it.
    let pressure_levels = level_hpa.iter().any(Option::is_some);
    let salvage_rewrote = config.edge_salvage && stats.iter().any(|s| s.border_nan);
    if pressure_levels && config.profile.zeroes_unsalvaged_level_skill() && !salvage_rewrote {
        for l in &mut result.levels {
            l.skill = Some(0.0);
        }
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
    } else if level_hpa.len() == 1 && level_hpa[0].is_none() {
        return Err(Era5Error::SurfaceAccNonFinite(var.to_string()));
    } else {
        // §12-17: an error row; the RMSE row stays, the ACC and skill rows are not written, so
        // the variable drops out of acc_norm and skill_norm but the lead stays complete.
        result.skill = None;
        result.error = Some(format!("ACC is NaN at level(s) {nan_acc_levels:?} hPa"));
    }
    Ok(result)
}

/// Score one variable over already-read fields: the forecast's stored levels are the entries'
/// levels, interpolated like a store's onto the truth's (§12-7).
/// Miner-level failures (manipulation, coverage, non-finite surface ACC, structural problems)
/// are errors; a unit mismatch or a NaN level ACC is reported in the result's `error` field, as
/// production writes an `era5_error_*` row for them.
pub fn score_era5_variable(
    input: &Era5VariableInput,
    config: &Era5Config,
) -> Result<Era5VariableResult, Era5Error> {
    let var = input.variable.as_str();
    let level_hpa: Vec<Option<f64>> = input.levels.iter().map(|l| l.level_hpa).collect();
    let units_ok = units_error(
        var,
        input.forecast_units.as_deref(),
        input.truth_units.as_deref(),
    )
    .is_none();
    let outcome = match input.levels.first() {
        Some(first) if units_ok => {
            let raw: Vec<Field2> = input.levels.iter().map(|l| l.forecast.clone()).collect();
            let target = Arc::clone(&first.truth.grid);
            let plan = if first.level_hpa.is_none() {
                Ok(None)
            } else {
                let levels: Vec<f64> = level_hpa.iter().map(|l| l.unwrap_or(f64::NAN)).collect();
                LevelPlan::new(&levels, &levels)
                    .map(Some)
                    .map_err(interp_err(var))
            };
            Some(plan.and_then(|plan| {
                let mut forecast = match plan {
                    None => ForecastOnTruth::surface(&raw[0], &target),
                    Some(plan) => ForecastOnTruth::levels(&raw, plan, &target),
                };
                variable_stats(
                    var,
                    &mut forecast,
                    &level_hpa,
                    |k| {
                        let l = &input.levels[k];
                        Ok((l.truth.clone(), l.climatology.clone()))
                    },
                    config,
                )
            }))
        }
        _ => None,
    };
    assemble(
        var,
        input.forecast_units.clone(),
        input.truth_units.clone(),
        &level_hpa,
        outcome,
        config,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(acc: f64, skill: f64) -> LevelStats {
        LevelStats {
            edge_salvaged: 0,
            border_nan: false,
            extreme: false,
            truth_finite: 100,
            covered: 100,
            filled: 0,
            mse: 4.0,
            mae: 1.5,
            bias: 0.5,
            acc,
            skill,
            diff_sum: 50.0,
            diff_count: 100,
        }
    }

    /// §12-17: a pressure-level variable with a NaN ACC at one level keeps its RMSE and loses its
    /// ACC and skill, so it counts as present for the completeness gate but only in rmse_norm.
    #[test]
    fn a_nan_level_acc_keeps_the_rmse_and_drops_acc_and_skill() {
        let cfg = Era5Config::default();
        let levels = [Some(500.0), Some(850.0)];
        let ok = assemble(
            "t",
            None,
            None,
            &levels,
            Some(Ok(vec![level(0.9, 0.4), level(0.8, 0.2)])),
            &cfg,
        )
        .unwrap();
        assert!(ok.acc.is_some() && ok.skill.is_some() && ok.error.is_none());
        let r = assemble(
            "t",
            None,
            None,
            &levels,
            Some(Ok(vec![level(0.9, 0.4), level(f64::NAN, 0.2)])),
            &cfg,
        )
        .unwrap();
        assert_eq!(r.rmse, ok.rmse, "the RMSE row stays");
        assert_eq!((r.acc, r.skill), (None, None));
        assert!(r.error.as_deref().unwrap().contains("ACC is NaN"), "{r:?}");
        let m = r.to_variable_metrics();
        assert!(m.is_present() && m.rmse.is_some() && m.acc.is_none() && m.skill.is_none());
        // A surface variable with a NaN ACC fails the variable instead.
        let surface = assemble(
            "2t",
            None,
            None,
            &[None],
            Some(Ok(vec![level(f64::NAN, 0.2)])),
            &cfg,
        );
        assert!(
            matches!(surface, Err(Era5Error::SurfaceAccNonFinite(_))),
            "{surface:?}"
        );
    }
}
