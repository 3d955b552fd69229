//! Day-1 metrics for one variable (spec §3.3): unit fix, interpolation onto the truth grid,
//! clone distance and penalty, sanity checks, bias-corrected MSE skill against the GFS
//! reference, ACC against climatology, and the extra RMSE/MAE/bias diagnostics.

use std::sync::Arc;

use crate::field::{Field2, Grid};
use crate::metrics::{
    anomaly_correlation, bias_corrected_skill, clone_distance, clone_penalty, nan_mean,
    nan_min_max, weighted_bias, weighted_mae, weighted_mse, weighted_pearson, LatWeights,
};
use crate::regrid::interp_to_grid;

use super::config::{Day1Config, VariableSpec};
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
}

fn regrid(field: &Field2, target: &Arc<Grid>, which: &'static str) -> Result<Field2, Day1Error> {
    interp_to_grid(field, target).map_err(|source| Day1Error::Interp { which, source })
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

    let mut forecast_raw = input.forecast.clone();
    let unit_fix = UnitFix::detect(
        &input.spec.name,
        nan_mean(&forecast_raw.values.view()),
        nan_mean(&truth),
    );
    if let Some(fix) = unit_fix {
        fix.apply(&mut forecast_raw.values);
    }
    let forecast = regrid(&forecast_raw, &target, "forecast")?;
    let reference = regrid(&input.reference, &target, "reference")?;
    let climatology = regrid(&input.climatology, &target, "climatology")?;
    let (f, r, c) = (
        forecast.values.view(),
        reference.values.view(),
        climatology.values.view(),
    );
    let w = LatWeights::cos_lat(&target.lat);

    let distance = clone_distance(&f, &r, &w)?;
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

    let pattern = weighted_pearson(&f, &r, &w)?;
    let mut sanity_failures = Vec::new();
    if let (Some(&(lo, hi)), Some((min, max))) = (config.bounds.get(&key), nan_min_max(&f)) {
        if min < lo || max > hi {
            sanity_failures.push(format!("values [{min}, {max}] outside bounds [{lo}, {hi}]"));
        }
    }
    if input.spec.name.starts_with('q') {
        if let Some((min, _)) = nan_min_max(&f) {
            if min < 0.0 {
                sanity_failures.push(format!("negative humidity {min}"));
            }
        }
    }
    if !(pattern >= config.pattern_corr_threshold) {
        sanity_failures.push(format!(
            "pattern correlation {pattern} below {}",
            config.pattern_corr_threshold
        ));
    }

    let skill = bias_corrected_skill(&f, &truth, &r, &w)?;
    let acc = anomaly_correlation(&f, &truth, &c, &w)?;
    let mse = weighted_mse(&f, &truth, &w)?;

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
        skill: finite(skill.skill),
        skill_penalised: finite(skill.skill - penalty),
        acc: finite(acc),
        forecast_mse: finite(skill.forecast_mse),
        reference_mse: finite(skill.reference_mse),
        bias_correction: finite(skill.bias_correction),
        clone_distance: finite(distance),
        clone_penalty: penalty,
        clone_flag,
        pattern_correlation: finite(pattern),
        rmse: finite(mse.sqrt()),
        mae: finite(weighted_mae(&f, &truth, &w)?),
        bias: finite(weighted_bias(&f, &truth, &w)?),
    })
}
