//! Metagraph, score-table, weight-history and retention operations of [`Store`].

use chrono::{DateTime, Utc};

use super::{found, on_backend, Store};
use crate::error::{StoreError, StoreResult};
use crate::records::chain::{NodeRecord, ScoreRow, WeightRecord};
use crate::records::ledger::RetentionReport;
use crate::records::status::ScoreRowStatus;

impl Store {
    /// Insert or replace the node row of `node.uid`.
    ///
    /// # Errors
    /// [`StoreError::Query`] when the database fails.
    pub async fn upsert_node(&self, node: &NodeRecord) -> StoreResult<()> {
        on_backend!(self, "upsert_node", |q, p| q::upsert_node(p, node))
    }

    /// Every node row, by UID.
    ///
    /// # Errors
    /// [`StoreError::Query`] when the database fails.
    pub async fn list_nodes(&self) -> StoreResult<Vec<NodeRecord>> {
        on_backend!(self, "list_nodes", |q, p| q::list_nodes(p))
    }

    /// Delete the node row of `uid` (e.g. its hotkey changed); the miner's responses, scores and
    /// stats go with it. Returns whether a row existed.
    ///
    /// # Errors
    /// [`StoreError::Query`] when the database fails.
    pub async fn delete_node(&self, uid: u8) -> StoreResult<bool> {
        on_backend!(self, "delete_node", |q, p| q::delete_node(p, uid))
    }

    /// Insert or replace the `score_table` row with the same `(task_name, task_id)`.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an empty task name or id;
    /// [`StoreError::Query`] when the database fails.
    pub async fn upsert_score_row(&self, row: &ScoreRow) -> StoreResult<()> {
        if row.task_name.is_empty() || row.task_id.is_empty() {
            return Err(StoreError::InvalidInput {
                field: "ScoreRow.task_name/task_id",
                reason: "must not be empty".into(),
            });
        }
        on_backend!(self, "upsert_score_row", |q, p| q::upsert_score_row(p, row))
    }

    /// Rows of `task_name` created at or after `since`, oldest first (the weight window read).
    ///
    /// # Errors
    /// [`StoreError::Query`] when the database fails.
    pub async fn score_rows_since(
        &self,
        task_name: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<ScoreRow>> {
        on_backend!(self, "score_rows_since", |q, p| q::score_rows_since(
            p, task_name, since
        ))
    }

    /// Change the status of a `score_table` row.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when no such row exists.
    pub async fn set_score_row_status(
        &self,
        task_name: &str,
        task_id: &str,
        status: ScoreRowStatus,
    ) -> StoreResult<()> {
        let updated = on_backend!(self, "set_score_row_status", |q, p| {
            q::set_score_row_status(p, task_name, task_id, status)
        })?;
        found(updated, || {
            format!("score_table row ({task_name}, {task_id})")
        })
    }

    /// Record a weight-setting attempt; returns false when `attempt_key` was already recorded
    /// (nothing written).
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an empty key; [`StoreError::Query`] when the database
    /// fails.
    pub async fn record_weights(&self, record: &WeightRecord) -> StoreResult<bool> {
        if record.attempt_key.is_empty() {
            return Err(StoreError::InvalidInput {
                field: "WeightRecord.attempt_key",
                reason: "must not be empty".into(),
            });
        }
        on_backend!(self, "record_weights", |q, p| q::record_weights(p, record))
    }

    /// Weight-setting attempts at or after `since`, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Query`] when the database fails.
    pub async fn weight_history_since(
        &self,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<WeightRecord>> {
        on_backend!(
            self,
            "weight_history_since",
            |q, p| q::weight_history_since(p, since)
        )
    }

    /// Delete runs started more than `retention_days` before `now`, with all their rows
    /// (responses, scores, component scores, stats, score-table rows, jobs), plus finished jobs
    /// not tied to a run and untouched for that long. One transaction.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for `retention_days == 0` (would delete today's run);
    /// [`StoreError::Query`] when the database fails.
    pub async fn apply_retention(
        &self,
        retention_days: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<RetentionReport> {
        if retention_days == 0 {
            return Err(StoreError::InvalidInput {
                field: "retention_days",
                reason: "must be at least 1".into(),
            });
        }
        let cutoff = now - chrono::Duration::days(i64::from(retention_days));
        let (runs, jobs) = on_backend!(self, "apply_retention", |q, p| q::delete_older_than(
            p, cutoff
        ))?;
        if runs > 0 || jobs > 0 {
            tracing::info!(runs, jobs, %cutoff, "retention deleted old runs");
        }
        Ok(RetentionReport { runs, jobs })
    }
}
