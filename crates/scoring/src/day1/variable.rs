//! Day-1 metrics for one variable (spec §3.3): unit fix, interpolation onto the truth grid (row
//! by row, inside the fused kernel), clone distance and penalty, sanity checks, bias-corrected
//! MSE skill against the GFS reference, ACC against climatology, and the extra RMSE/MAE/bias
//! diagnostics.

use std::borrow::Cow;
use std::sync::Arc;

use crate::field::{Field2, Grid};
use crate::metrics::{clone_penalty, nan_mean, LatWeights};
use crate::regrid::FieldRows;

use super::config::{Day1Config, VariableSpec};
use super::kernel::day1_stats_rows;
use super::report::{finite, Day1VariableResult, VariableStatus};
use super::units::UnitFix;
use super::Day1Error;

/// The four fields of one variable at the scored valid time, each on its own grid.
#[derive(Debug, Clone)]
pub struct Day1Fields {
    /// Which variable (and level) these are.
    pub spec: VariableSpec,
    /// The miner's forecast (F).
    pub forecast: Field2,
    /// The GFS analysis (T); its grid is the target grid.
    pub truth: Field2,
    /// The GFS 00Z forecast (R).
    pub reference: Field2,
    /// The climatology (C).
    pub climatology: Field2,
    /// The NaN-skipping mean of the forecast over all its levels at the valid time, for a
    /// variable on a pressure level: what decides the unit fix (§12-18). `None`: the mean of
    /// `forecast`.
    pub forecast_mean_all_levels: Option<f64>,
}

/// §12-6: every field is interpolated onto the truth grid, even an identical one — row by row,
/// as the kernel asks for them.
fn regrid<'a>(
    field: &'a Field2,
    target: &Grid,
    which: &'static str,
) -> Result<FieldRows<'a>, Day1Error> {
    FieldRows::new(field, target).map_err(|source| Day1Error::Interp { which, source })
}

/// Score one variable. Errors only for structural problems (grids that cannot be interpolated,
/// shapes that do not line up); bad numbers give NaN metrics or a failed sanity check.
pub fn score_variable(
    input: &Day1Fields,
    config: &Day1Config,
) -> Result<Day1VariableResult, Day1Error> {
    let key = input.spec.key();
    let target = Arc::clone(&input.truth.grid);
    let truth = input.truth.values.view();

    let forecast_mean = input
        .forecast_mean_all_levels
        .unwrap_or_else(|| nan_mean(&input.forecast.values.view()));
    let unit_fix = UnitFix::detect(&input.spec.name, forecast_mean, nan_mean(&truth));
    // The forecast is copied only when its units are fixed.
    let forecast_raw = match unit_fix {
        Some(fix) => {
            let mut fixed = input.forecast.clone();
            fix.apply(&mut fixed);
            Cow::Owned(fixed)
        }
        None => Cow::Borrowed(&input.forecast),
    };
    let mut forecast = regrid(&forecast_raw, &target, "forecast")?;
    let mut reference = regrid(&input.reference, &target, "reference")?;
    let mut climatology = regrid(&input.climatology, &target, "climatology")?;
    let w = LatWeights::cos_lat(&target.lat);

    let st = day1_stats_rows(
        target.shape(),
        &mut |i, row| forecast.row_into(i, row),
        &truth,
        &mut |i, row| reference.row_into(i, row),
        &mut |i, row| climatology.row_into(i, row),
        &w,
    )?;
    let distance = st.clone_distance;
    let (penalty, clone_flag) = match config.clone_delta.get(&key) {
        Some(&delta) => {
            let p = clone_penalty(distance, delta, config.clone_gamma);
            (
                p,
                p > 0.0 || distance < config.strict_clamp_fraction * delta,
            )
        }
        None => (0.0, false),
    };

    let pattern = st.pattern_correlation;
    let mut sanity_failures = Vec::new();
    if let (Some(&(lo, hi)), Some((min, max))) = (config.bounds.get(&key), st.forecast_min_max) {
        if min < lo || max > hi {
            sanity_failures.push(format!("values [{min}, {max}] outside bounds [{lo}, {hi}]"));
        }
    }
    if input.spec.name.starts_with('q') {
        if let Some((min, _)) = st.forecast_min_max {
            if min < 0.0 {
                sanity_failures.push(format!("negative humidity {min}"));
            }
        }
    }
    // A NaN correlation fails the check too (decision documented in docs/scoring.md).
    if pattern.is_nan() || pattern < config.pattern_corr_threshold {
        sanity_failures.push(format!(
            "pattern correlation {pattern} below {}",
            config.pattern_corr_threshold
        ));
    }

    Ok(Day1VariableResult {
        variable: input.spec.name.clone(),
        level_hpa: input.spec.level_hpa,
        key,
        status: if sanity_failures.is_empty() {
            VariableStatus::Scored
        } else {
            VariableStatus::SanityFailed
        },
        sanity_failures,
        unit_fix,
        skill: finite(st.skill),
        skill_penalised: finite(st.skill - penalty),
        acc: finite(st.acc),
        forecast_mse: finite(st.forecast_mse),
        reference_mse: finite(st.reference_mse),
        bias_correction: finite(st.bias_correction),
        clone_distance: finite(distance),
        clone_penalty: penalty,
        clone_flag,
        pattern_correlation: finite(pattern),
        rmse: finite(st.mse.sqrt()),
        mae: finite(st.mae),
        bias: finite(st.bias),
    })
}
