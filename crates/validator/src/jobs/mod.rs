//! The typed catalogue of compute jobs: the contract between the IO-Engine, which asks for a
//! job, and the compute workers, which run it.
//!
//! Every job is one type implementing [`ComputeJob`]: its task name (the only place that name is
//! written), its request and response types, and the pure function a worker runs. The IO-Engine
//! side calls [`crate::io_engine::Dispatcher::run`]`::<J>(request)` and gets `J::Response` back;
//! the worker side registers the types (`crate::compute::HandlerRegistry::register`). Requests
//! reject unknown fields, so a misspelt setting is an error rather than a silent default.
//!
//! A failure travels as a [`FailureKind`] next to its message, so the lifecycle never parses
//! error text to decide what a failure means.
//!
//! What a handler may touch: its request, the shared-memory arrays named in its
//! [`JobContext`], the files and URLs its request names, and nothing else — no database, no
//! tokio, no global state that outlives the job (a worker is recycled after a number of jobs, so
//! anything leaked is returned to the OS).

pub mod weather;
pub mod weights;

use std::collections::BTreeMap;
use std::path::Path;

pub use gaia_ipc::FailureKind;
use gaia_ipc::SharedArrayRef;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// One kind of compute job.
pub trait ComputeJob: 'static {
    /// The namespaced task name on the wire, e.g. `weather.score.day1`.
    const TASK: &'static str;
    /// What the IO-Engine sends.
    type Request: Serialize + DeserializeOwned;
    /// What the worker answers.
    type Response: Serialize + DeserializeOwned;
    /// Run the job (in a compute worker).
    fn run(ctx: &JobContext<'_>, request: Self::Request) -> Result<Self::Response, JobError>;
}

/// What a handler may see of its job besides the request.
#[derive(Debug)]
pub struct JobContext<'a> {
    /// Job id.
    pub job_id: &'a str,
    /// Directory of shared-memory segments.
    pub shm_dir: &'a Path,
    /// Input arrays passed by reference.
    pub shared: &'a BTreeMap<String, SharedArrayRef>,
    /// Prefix a handler must give to any result segment it creates.
    pub segment_prefix: &'a str,
}

/// Why a job failed: a kind the IO-Engine acts on, and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct JobError {
    /// What kind of failure this is.
    pub kind: FailureKind,
    /// What went wrong, for logs and the database.
    pub message: String,
}

impl JobError {
    /// A failure of `kind`.
    pub fn new(kind: FailureKind, message: impl std::fmt::Display) -> Self {
        Self {
            kind,
            message: message.to_string(),
        }
    }

    /// The forecast is not what the miner signed.
    pub fn verification(message: impl std::fmt::Display) -> Self {
        Self::new(FailureKind::Verification, message)
    }

    /// The handler could not score its input.
    pub fn scoring(message: impl std::fmt::Display) -> Self {
        Self::new(FailureKind::Scoring, message)
    }

    /// A verification failure when `verification`, otherwise a scoring failure (the scorers
    /// say which of the two their error is).
    pub fn verification_or_scoring(verification: bool, message: impl std::fmt::Display) -> Self {
        match verification {
            true => Self::verification(message),
            false => Self::scoring(message),
        }
    }

    /// A defect or a broken contract.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::new(FailureKind::Internal, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compute::handlers::register_all;
    use crate::compute::HandlerRegistry;

    #[test]
    fn every_job_of_the_catalogue_is_registered() {
        let mut reg = HandlerRegistry::default();
        register_all(&mut reg);
        assert_eq!(
            reg.task_names(),
            [
                weather::ScoreDay1::TASK,
                weather::ScoreEra5Lead::TASK,
                weather::ScoreOverall::TASK,
                weather::BuildScoreRow::TASK,
                weather::VerifyManifest::TASK,
                weights::CalculateWeights::TASK,
            ]
        );
        assert_eq!(
            reg.task_names(),
            [
                "weather.score.day1",
                "weather.score.era5",
                "weather.score.overall",
                "weather.score.row",
                "weather.verify.manifest",
                "weights.calculate"
            ]
        );
    }

    #[test]
    fn a_payload_of_the_wrong_shape_is_a_named_bad_payload() {
        let mut reg = HandlerRegistry::default();
        register_all(&mut reg);
        let shared = Default::default();
        let ctx = JobContext {
            job_id: "j",
            shm_dir: std::path::Path::new("/tmp"),
            shared: &shared,
            segment_prefix: "p",
        };
        for task in reg.task_names() {
            let err =
                reg.get(task).unwrap()(&ctx, &serde_json::json!({"nonsense": true})).unwrap_err();
            assert_eq!(err.kind, FailureKind::Internal, "{task}: {err}");
            assert!(
                err.message.contains(&format!("bad payload for {task}")),
                "{task}: {err}"
            );
        }
    }

    /// A misspelt setting must not silently fall back to its default (`"thread": 4` would mean one
    /// thread): every request type, and the settings inside it, refuse fields they do not know.
    #[test]
    fn an_unknown_field_is_refused_by_name() {
        let mut reg = HandlerRegistry::default();
        register_all(&mut reg);
        let shared = Default::default();
        let ctx = JobContext {
            job_id: "j",
            shm_dir: std::path::Path::new("/tmp"),
            shared: &shared,
            segment_prefix: "p",
        };
        let stores = serde_json::json!({
            "forecast": "/nonexistent/f", "truth": "/nonexistent/t",
            "climatology": "/nonexistent/c", "gfs_init_time": "2026-01-01T00:00:00Z",
        });
        let with = |extra: serde_json::Value| {
            let mut v = stores.clone();
            v.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            v
        };
        let cases = [
            (
                weather::ScoreDay1::TASK,
                with(serde_json::json!({"reference": "/nonexistent/r", "thread": 4})),
                "thread",
            ),
            (
                weather::ScoreDay1::TASK,
                with(serde_json::json!({"reference": "/nonexistent/r", "config": {"treads": 4}})),
                "treads",
            ),
            (
                weather::ScoreEra5Lead::TASK,
                with(serde_json::json!({"lead_hours": 24, "config": {"thread": 4}})),
                "thread",
            ),
            (
                weather::ScoreEra5Lead::TASK,
                with(serde_json::json!({"lead_hours": 24, "lead_hour": 48})),
                "lead_hour",
            ),
        ];
        for (task, payload, field) in cases {
            let err = reg.get(task).unwrap()(&ctx, &payload).unwrap_err();
            assert_eq!(err.kind, FailureKind::Internal, "{task}: {err}");
            assert!(
                err.message.contains(&format!("bad payload for {task}"))
                    && err.message.contains(&format!("unknown field `{field}`")),
                "{task} {field}: {err}"
            );
        }
    }
}
