//! `weights.calculate`: 15 days of score rows and the node table → the weight vector
//! (`gaia_scoring::weights::calculate_weights`, spec §5).

use gaia_scoring::weights;

use super::{ComputeJob, JobContext, JobError};

/// The weight calculation.
#[derive(Debug)]
pub struct CalculateWeights;

impl ComputeJob for CalculateWeights {
    const TASK: &'static str = "weights.calculate";
    type Request = weights::WeightsRequest;
    type Response = weights::WeightsResult;

    fn run(_ctx: &JobContext<'_>, request: Self::Request) -> Result<Self::Response, JobError> {
        weights::calculate_weights(&request).map_err(JobError::scoring)
    }
}
