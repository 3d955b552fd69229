//! The weather jobs (spec §2–§5): manifest verification, the Day-1 score, one ERA5 lead, the
//! per-miner aggregation and the run's score row — thin typed wrappers over the pure functions
//! of `gaia-scoring`.
//!
//! | job | task | function |
//! |---|---|---|
//! | [`VerifyManifest`] | `weather.verify.manifest` | `gaia_scoring::verify::fetch_and_verify_manifest` / `gaia_protocol::verify_manifest` |
//! | [`ScoreDay1`] | `weather.score.day1` | `day1::score_day1` |
//! | [`ScoreEra5Lead`] | `weather.score.era5` | `era5::score_era5_lead` |
//! | [`ScoreOverall`] | `weather.score.overall` | `aggregate::aggregate_overall` (§4.4) |
//! | [`BuildScoreRow`] | `weather.score.row` | `aggregate::build_score_row` (§5.1) |

use gaia_protocol::{verify_manifest, VerifyManifestReport, VerifyManifestRequest};
use gaia_scoring::verify::{fetch_and_verify_manifest, RemoteManifestRequest};
use gaia_scoring::{aggregate, day1, era5};
use serde::{Deserialize, Serialize};

use super::{ComputeJob, FailureKind, JobContext, JobError};

/// Where the manifest to verify comes from: the worker fetches it from the miner's store, or the
/// IO-Engine already fetched its bytes. On the wire the request is the chosen form's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ManifestSource {
    /// The worker fetches `manifest.json` and `manifest.sig` from the store URL.
    Remote(RemoteManifestRequest),
    /// The IO-Engine fetched the files; their bytes travel in the request.
    Fetched(VerifyManifestRequest),
}

/// Manifest verification (spec §2.2 steps 4–5). Every failure — fetch, hash, signer, signature,
/// hash policy — is a verification failure.
#[derive(Debug)]
pub struct VerifyManifest;

impl ComputeJob for VerifyManifest {
    const TASK: &'static str = "weather.verify.manifest";
    type Request = ManifestSource;
    type Response = VerifyManifestReport;

    fn run(_ctx: &JobContext<'_>, request: Self::Request) -> Result<Self::Response, JobError> {
        match request {
            ManifestSource::Remote(r) => fetch_and_verify_manifest(&r),
            ManifestSource::Fetched(r) => verify_manifest(&r),
        }
        .map_err(JobError::verification)
    }
}

/// The Day-1 score of one forecast (spec §3).
#[derive(Debug)]
pub struct ScoreDay1;

impl ComputeJob for ScoreDay1 {
    const TASK: &'static str = "weather.score.day1";
    type Request = day1::Day1Request;
    type Response = day1::Day1Report;

    fn run(_ctx: &JobContext<'_>, request: Self::Request) -> Result<Self::Response, JobError> {
        day1::score_day1(&request).map_err(|e| {
            if e.is_transient() {
                JobError::new(FailureKind::Transient, e)
            } else {
                JobError::verification_or_scoring(e.is_verification_failure(), e)
            }
        })
    }
}

/// One ERA5 lead of one forecast (spec §4).
#[derive(Debug)]
pub struct ScoreEra5Lead;

impl ComputeJob for ScoreEra5Lead {
    const TASK: &'static str = "weather.score.era5";
    type Request = era5::Era5Request;
    type Response = era5::Era5LeadReport;

    fn run(_ctx: &JobContext<'_>, request: Self::Request) -> Result<Self::Response, JobError> {
        era5::score_era5_lead(&request).map_err(|e| {
            // A miner that rate-limits or is busy beyond the read's retries: the step runs
            // again later (ledger back-off); the lead is not lost.
            if e.is_transient() {
                JobError::new(FailureKind::Transient, e)
            } else {
                JobError::verification_or_scoring(e.is_verification_failure(), e)
            }
        })
    }
}

/// The per-lead and overall scores of one miner's response (spec §4.4).
#[derive(Debug)]
pub struct ScoreOverall;

impl ComputeJob for ScoreOverall {
    const TASK: &'static str = "weather.score.overall";
    type Request = aggregate::OverallRequest;
    type Response = aggregate::OverallOutcome;

    fn run(_ctx: &JobContext<'_>, request: Self::Request) -> Result<Self::Response, JobError> {
        aggregate::aggregate_overall(&request).map_err(JobError::scoring)
    }
}

/// A run's 256-UID `score_table` row (spec §5.1).
#[derive(Debug)]
pub struct BuildScoreRow;

impl ComputeJob for BuildScoreRow {
    const TASK: &'static str = "weather.score.row";
    type Request = aggregate::ScoreRowRequest;
    type Response = aggregate::ScoreRow;

    fn run(_ctx: &JobContext<'_>, request: Self::Request) -> Result<Self::Response, JobError> {
        aggregate::build_score_row(&request).map_err(JobError::scoring)
    }
}
