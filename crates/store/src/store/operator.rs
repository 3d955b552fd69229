//! Read-only operations of [`Store`] behind the operator view (`gaia-validator status`, `runs`,
//! `run`, `miner`, `weights` and the status page). Limits are checked here so a bad `--limit`
//! is a typed error naming the field, never a database error.

use super::{on_backend, Store};
use crate::error::{StoreError, StoreResult};
use crate::records::chain::WeightRecord;
use crate::records::operator::{LedgerSummary, OutcomeCount};
use crate::records::status::JobStatus;
use crate::records::weather::{ForecastStats, MinerResponse, Run};

/// Largest `limit` a listing accepts (more would only be a mistake or an attack on the page).
pub const MAX_LISTING: u32 = 10_000;

fn limit(field: &'static str, n: u32) -> StoreResult<i64> {
    if n == 0 || n > MAX_LISTING {
        return Err(StoreError::InvalidInput {
            field,
            reason: format!("{n} is not between 1 and {MAX_LISTING}"),
        });
    }
    Ok(i64::from(n))
}

impl Store {
    /// The `n` newest runs (by GFS init time), newest first.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for `n` = 0 or above [`MAX_LISTING`];
    /// [`StoreError::Query`] when the database fails.
    pub async fn recent_runs(&self, n: u32) -> StoreResult<Vec<Run>> {
        let n = limit("runs limit", n)?;
        on_backend!(self, "recent_runs", |q, p| q::recent_runs(p, n))
    }

    /// Miner responses counted per run and state, for the `n` newest runs (runs without
    /// responses have no entry), by run id then state.
    ///
    /// # Errors
    /// As [`Store::recent_runs`]; [`StoreError::CorruptValue`] for an unknown state.
    pub async fn outcome_counts_of_recent_runs(&self, n: u32) -> StoreResult<Vec<OutcomeCount>> {
        let n = limit("runs limit", n)?;
        let rows = on_backend!(self, "outcome_counts_of_recent_runs", |q, p| {
            q::response_counts_of_recent_runs(p, n)
        })?;
        rows.into_iter()
            .map(|(run_id, status, count)| {
                Ok(OutcomeCount {
                    run_id,
                    status: status.parse()?,
                    count,
                })
            })
            .collect()
    }

    /// Jobs per state and the waiting job enqueued first.
    ///
    /// # Errors
    /// [`StoreError::Query`] when the database fails; [`StoreError::CorruptValue`] for an
    /// unknown state.
    pub async fn ledger_summary(&self) -> StoreResult<LedgerSummary> {
        let rows = on_backend!(self, "ledger_counts", |q, p| q::ledger_counts(p))?;
        let mut counts = Vec::with_capacity(rows.len());
        for (status, n) in rows {
            counts.push((status.parse::<JobStatus>()?, n));
        }
        counts.sort_by_key(|(s, _)| JobStatus::ALL.iter().position(|a| a == s));
        let oldest_waiting =
            on_backend!(self, "oldest_waiting_job", |q, p| q::oldest_waiting_job(p))?;
        Ok(LedgerSummary {
            counts,
            oldest_waiting,
        })
    }

    /// A miner's stats in its `n` newest runs, newest first.
    ///
    /// # Errors
    /// As [`Store::recent_runs`].
    pub async fn miner_stats_history(&self, uid: u8, n: u32) -> StoreResult<Vec<ForecastStats>> {
        let n = limit("miner history limit", n)?;
        on_backend!(self, "miner_stats_history", |q, p| q::miner_stats_history(
            p, uid, n
        ))
    }

    /// A miner's responses in its `n` newest runs, newest first.
    ///
    /// # Errors
    /// As [`Store::recent_runs`].
    pub async fn miner_response_history(&self, uid: u8, n: u32) -> StoreResult<Vec<MinerResponse>> {
        let n = limit("miner history limit", n)?;
        on_backend!(self, "miner_response_history", |q, p| {
            q::miner_response_history(p, uid, n)
        })
    }

    /// The `n` newest weight-setting attempts, newest first.
    ///
    /// # Errors
    /// As [`Store::recent_runs`].
    pub async fn recent_weights(&self, n: u32) -> StoreResult<Vec<WeightRecord>> {
        let n = limit("weights history limit", n)?;
        on_backend!(self, "recent_weights", |q, p| q::recent_weights(p, n))
    }
}
