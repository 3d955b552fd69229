//! Message types exchanged between the IO-Engine and compute workers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Default per-job timeout, as in the v4.0 design.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 300;

/// A named shared-memory array: the segment name plus shape and dtype (numpy spelling, e.g. `"<f4"`
/// or `"float32"`). The bytes live in the segment, never in the frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedArrayRef {
    /// Segment name (a file name under the shared-memory directory).
    pub name: String,
    /// Array shape, C order.
    pub shape: Vec<usize>,
    /// Element type.
    pub dtype: String,
}

/// One unit of work sent to the compute pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkUnit {
    /// Unique id of this job; the result carries it back.
    pub job_id: String,
    /// Namespaced handler name, e.g. `weather.score.day1`.
    pub task_name: String,
    /// Handler input.
    pub payload: serde_json::Value,
    /// Large arrays passed by reference.
    #[serde(default)]
    pub shared_data: Option<BTreeMap<String, SharedArrayRef>>,
    /// How long the IO-Engine waits before it declares the job timed out.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

fn default_timeout() -> u64 {
    DEFAULT_TIMEOUT_SECONDS
}

impl WorkUnit {
    /// A work unit with no shared arrays and the default timeout.
    pub fn new(
        job_id: impl Into<String>,
        task_name: impl Into<String>,
        payload: serde_json::Value,
    ) -> Self {
        Self {
            job_id: job_id.into(),
            task_name: task_name.into(),
            payload,
            shared_data: None,
            timeout_seconds: DEFAULT_TIMEOUT_SECONDS,
        }
    }
}

/// Why a job failed, as the handler classified it. The IO-Engine acts on this kind and never
/// parses the error text to learn it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The input is not what the miner signed (spec §2.2): the forecast is rejected.
    Verification,
    /// The handler ran and could not score its input.
    Scoring,
    /// A passing condition: the same job may succeed when tried again later.
    Transient,
    /// A defect or a broken contract: a request of the wrong shape, a panic, an unknown task.
    Internal,
}

impl FailureKind {
    /// The kind's name as it appears on the wire and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Verification => "verification",
            FailureKind::Scoring => "scoring",
            FailureKind::Transient => "transient",
            FailureKind::Internal => "internal",
        }
    }
}

/// The answer to one [`WorkUnit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultUnit {
    /// The job this answers.
    pub job_id: String,
    /// The handler that ran.
    pub task_name: String,
    /// Whether the handler returned a result.
    pub success: bool,
    /// Handler output when `success`. A handler may answer JSON `null`: that is `Some(Null)` and
    /// travels as `"result": null`, while `None` leaves the key out (issue 20: `null` used to come
    /// back as `None`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub result: Option<serde_json::Value>,
    /// Large output arrays passed by reference.
    #[serde(default)]
    pub shared_data_result: Option<BTreeMap<String, SharedArrayRef>>,
    /// Error text when not `success`.
    pub error: Option<String>,
    /// What kind of failure `error` is, when not `success` (absent from older workers: treat as
    /// [`FailureKind::Internal`]).
    #[serde(default)]
    pub failure_kind: Option<FailureKind>,
    /// PID of the worker that ran the job.
    pub worker_pid: u32,
    /// Handler wall time in milliseconds.
    pub execution_time_ms: f64,
}

/// A key that is present, whatever its value (`null` included), is `Some`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}
