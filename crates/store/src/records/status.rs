//! Status values stored as text, as typed enums.
//!
//! Names follow gaia-weather-spec.md §1.5 so that a database written by the Python validator
//! reads the same. The database stores the string from `as_str`; reading an unknown string gives
//! [`StoreError::CorruptValue`] naming the column instead of a silent default.

use std::fmt;
use std::str::FromStr;

use crate::error::StoreError;

macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $name:ident, column = $column:literal,
        { $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The text stored in the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text ),+
                }
            }
        }

        impl FromStr for $name {
            type Err = StoreError;
            fn from_str(s: &str) -> Result<Self, StoreError> {
                match s {
                    $( $text => Ok($name::$variant), )+
                    other => Err(StoreError::CorruptValue {
                        column: $column,
                        value: other.to_owned(),
                    }),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = StoreError;
            fn try_from(s: String) -> Result<Self, StoreError> {
                s.parse()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum! {
    /// Status of a daily run (`weather_forecast_runs.status`).
    RunStatus, column = "weather_forecast_runs.status", {
        /// Just created.
        Created => "created",
        /// GFS analysis being downloaded.
        Seeding => "seeding",
        /// GFS inputs available.
        GfsReady => "gfs_ready",
        /// Miners being asked to forecast.
        QueryingMiners => "querying_miners",
        /// Waiting for miners' forecasts.
        AwaitingResults => "awaiting_results",
        /// Scoring in progress.
        Scoring => "scoring",
        /// Every score of the run is final (the Python pipeline never set this; we do).
        Completed => "completed",
        /// Failed (no miners, no jobs, …).
        Failed => "failed",
        /// Abandoned because it got stuck.
        StaleAbandoned => "stale_abandoned",
    }
}

text_enum! {
    /// Status of one miner's response to a run (`weather_miner_responses.status`).
    ResponseStatus, column = "weather_miner_responses.status", {
        /// Row created, nothing asked yet.
        Received => "received",
        /// The miner accepted the fetch request.
        FetchInitiated => "fetch_initiated",
        /// The miner reports inference running.
        InferenceRunning => "inference_running",
        /// Still waiting for the miner.
        AwaitingMinerCompletion => "awaiting_miner_completion",
        /// The miner reports its forecast ready.
        ForecastReady => "forecast_ready",
        /// The manifest is being verified.
        VerifyingManifest => "verifying_manifest",
        /// Manifest frozen and store opened: ready for scoring.
        VerifiedManifestStoreOpened => "verified_manifest_store_opened",
        /// Day-1 score stored.
        Day1Scored => "day1_scored",
        /// ERA5 scoring under way.
        Era5Scoring => "era5_scoring",
        /// All scores stored.
        Completed => "completed",
        /// Generic failure.
        Failed => "failed",
        /// Signature or hash check failed.
        VerificationFailed => "verification_failed",
        /// Verification could not be carried out.
        VerificationError => "verification_error",
        /// Verification did not finish in time.
        VerificationTimeout => "verification_timeout",
        /// ERA5 scoring failed.
        Era5ScoringFailed => "era5_scoring_failed",
        /// The miner could not be reached.
        MinerOffline => "miner_offline",
    }
}

text_enum! {
    /// Per-miner pipeline status in `weather_forecast_stats.forecast_status`.
    ForecastStatus, column = "weather_forecast_stats.forecast_status", {
        /// Row created with the run.
        Seeded => "seeded",
        /// Day-1 score known.
        Day1Scored => "day1_scored",
        /// ERA5 leads being scored.
        Era5Scoring => "era5_scoring",
        /// Final.
        Completed => "completed",
        /// The miner's forecast could not be scored.
        Failed => "failed",
    }
}

text_enum! {
    /// State of a work-ledger job (`work_ledger.status`); see docs/storage.md for transitions.
    JobStatus, column = "work_ledger.status", {
        /// Waiting to be claimed (from `scheduled_at`).
        Pending => "pending",
        /// Claimed; `claimed_by` holds the lease until `lease_expires_at`.
        InProgress => "in_progress",
        /// Done.
        Succeeded => "succeeded",
        /// Failed for good (no retry requested, or attempts exhausted).
        Failed => "failed",
        /// Failed, claimable again from `next_retry_at`.
        RetryScheduled => "retry_scheduled",
        /// Its claimers kept vanishing until `max_attempts` ran out; needs an operator.
        Quarantined => "quarantined",
    }
}

impl JobStatus {
    /// True when the job will never run again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Quarantined
        )
    }
}

text_enum! {
    /// Which pass a component score belongs to.
    ComponentKind, column = "weather_forecast_component_scores.score_type", {
        /// Day-1 quality control against GFS.
        Day1 => "day1",
        /// Final scoring against ERA5.
        Era5 => "era5",
    }
}

text_enum! {
    /// Stage of a `score_table` row.
    ScoreRowStatus, column = "score_table.status", {
        /// Being built.
        Pending => "pending",
        /// Built from Day-1 scores only.
        InitialScoresCompiled => "initial_scores_compiled",
        /// Built from final ERA5 scores.
        FinalScoresCompiled => "final_scores_compiled",
    }
}

text_enum! {
    /// Outcome of one weight-setting attempt.
    WeightOutcome, column = "weight_history.outcome", {
        /// Submitted to the chain.
        Submitted => "submitted",
        /// Not submitted (rate limit, not eligible, nothing to set).
        Skipped => "skipped",
        /// Submission attempted and failed.
        Failed => "failed",
    }
}

/// A timing milestone of a miner response (each its own timestamp column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMilestone {
    /// `job_accepted_at`.
    JobAccepted,
    /// `inference_started_at`.
    InferenceStarted,
    /// `inference_completed_at`.
    InferenceCompleted,
    /// `day1_scoring_completed_at`.
    Day1ScoringCompleted,
    /// `era5_scoring_completed_at`.
    Era5ScoringCompleted,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_value() {
        for s in RunStatus::ALL {
            assert_eq!(s.as_str().parse::<RunStatus>().unwrap(), *s);
        }
        for s in ResponseStatus::ALL {
            assert_eq!(ResponseStatus::try_from(s.to_string()).unwrap(), *s);
        }
        for s in JobStatus::ALL {
            assert_eq!(s.as_str().parse::<JobStatus>().unwrap(), *s);
        }
        assert!(JobStatus::Quarantined.is_terminal());
        assert!(!JobStatus::RetryScheduled.is_terminal());
    }

    #[test]
    fn unknown_value_names_column() {
        let err = "claimed".parse::<JobStatus>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unexpected value in work_ledger.status: \"claimed\""
        );
    }
}
