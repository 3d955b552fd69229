//! Metric primitives shared by the Day-1 and ERA5 scores: cos-latitude weights, weighted
//! MSE/MAE/bias and centred correlation with xskillscore's NaN semantics, the bias-corrected MSE
//! skill, the anomaly correlation and the anti-cloning distance.
//!
//! They live apart from the score assemblies so that both scores (and their tests) use one
//! definition of every formula.

mod moment_passes;
pub(crate) mod moments;
#[cfg(target_arch = "x86_64")]
pub(crate) mod moments_avx2;
pub mod skill;
pub mod stats;
pub mod weights;

pub use skill::{
    anomaly_correlation, bias_corrected_skill, clone_distance, clone_penalty, skill_from_mse,
    SkillScore, ACC_MIN_STD,
};
pub use stats::{
    mean_difference, nan_mean, nan_mean_std, nan_min_max, nan_sum_count, nan_sum_count_2d,
    weighted_bias, weighted_mae, weighted_mse, weighted_pearson, MetricError,
};
pub use weights::LatWeights;
