//! Summaries read for the operator view: miner outcomes counted per run and the ledger counted
//! per state. They are computed by the database (`GROUP BY`) so a page over hundreds of miners
//! does not fetch every row to count it.

use super::ledger::Job;
use super::status::{JobStatus, ResponseStatus};

/// How many of a run's miner responses are in one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutcomeCount {
    /// The run.
    pub run_id: i64,
    /// The responses' state.
    pub status: ResponseStatus,
    /// How many responses of the run are in it.
    pub count: i64,
}

/// The work ledger at a glance: jobs per state and the job that has waited longest.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerSummary {
    /// Jobs per state (states without jobs are left out), in [`JobStatus::ALL`] order.
    pub counts: Vec<(JobStatus, i64)>,
    /// The waiting (`pending` or `retry_scheduled`) job enqueued first, if any.
    pub oldest_waiting: Option<Job>,
}

impl LedgerSummary {
    /// Number of jobs in `status`.
    pub fn count(&self, status: JobStatus) -> i64 {
        self.counts
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, n)| *n)
    }
}
