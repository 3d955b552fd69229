//! The IO-Engine's tasks. A task ([`GaiaTask`]) has a name, a cron schedule in UTC and one async
//! job; [`schedule`] decides when each job runs, including a run missed while the validator was
//! down, and [`scheduled`] fires them. Jobs queue keyed steps in the work ledger, which the
//! [`ledger`] runner executes: the weather lifecycle ([`weather::lifecycle`]), the metagraph sync
//! and the weight setting. [`runtime`] starts all of it inside the IO-Engine.

pub mod instance;
pub mod ledger;
pub mod metagraph;
pub mod runtime;
pub mod schedule;
pub mod scheduled;
pub mod steps;
pub mod weather;
pub mod weights;

use std::future::Future;
use std::pin::Pin;

/// The boxed future a task's job returns.
pub type JobFuture<'a> = Pin<Box<dyn Future<Output = Result<(), TaskError>> + Send + 'a>>;

/// Why a scheduled job failed (it is logged and retried at its next occurrence or by the ledger).
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The job failed.
    #[error("{task}: {reason}")]
    Failed {
        /// Task name.
        task: String,
        /// What went wrong.
        reason: String,
    },
}

/// A validator task: a name, a 5-field cron schedule (UTC) and the job it runs.
pub trait GaiaTask: Send + Sync {
    /// Stable name (`weather`), used in logs, metrics and the work ledger.
    fn name(&self) -> &str;
    /// Cron pattern in UTC, e.g. `"5 18 * * *"` for 18:05 daily.
    fn cron_schedule(&self) -> &str;
    /// Run one scheduled occurrence. `occurrence` is the cron time it stands for.
    fn run_scheduled_job(&self, occurrence: chrono::DateTime<chrono::Utc>) -> JobFuture<'_>;
}
