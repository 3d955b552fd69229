//! Read-only access to a Python Gaia validator's PostgreSQL database (spec §6), the control of a
//! blue/green rollout: its `score_table` rows (one `uid_N_score` column per UID, `created_at` =
//! the run's GFS init) and its `node_table`. Nothing is written and no migration is run; a
//! database without those tables is refused with a message naming it.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, PgPool, Row};

use crate::records::chain::UID_COUNT;
use crate::url::{Backend, DatabaseUrl};
use crate::{StoreError, StoreResult};

/// One `score_table` row of the Python validator.
#[derive(Debug, Clone, PartialEq)]
pub struct PythonScoreRow {
    /// `task_name` (`weather`).
    pub task_name: String,
    /// `task_id` (`weather_scores_{run_id}_{YYYYmmddTHHMMZ}`).
    pub task_id: String,
    /// `created_at`: the run's GFS init.
    pub created_at: DateTime<Utc>,
    /// `status`.
    pub status: Option<String>,
    /// `uid_0_score … uid_255_score`.
    pub scores: Vec<Option<f64>>,
}

/// One `node_table` row of the Python validator (the columns the weights use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonNode {
    /// `uid`.
    pub uid: i32,
    /// `hotkey`.
    pub hotkey: Option<String>,
    /// `coldkey`.
    pub coldkey: Option<String>,
    /// `ip`.
    pub ip: Option<String>,
}

/// A connection to a Python validator's database.
#[derive(Debug, Clone)]
pub struct PythonValidatorDb {
    pool: PgPool,
    url: String,
}

impl PythonValidatorDb {
    /// Connect to `url` (`postgres://` only) and check that `score_table` exists.
    ///
    /// # Errors
    /// [`StoreError::InvalidUrl`] for a non-PostgreSQL URL, [`StoreError::Connect`] when the
    /// server refuses, [`StoreError::NotFound`] when there is no `score_table`.
    pub async fn connect(url: &str) -> StoreResult<PythonValidatorDb> {
        let parsed = DatabaseUrl::parse(url)?;
        let redacted = parsed.redacted();
        if parsed.backend() != Backend::Postgres {
            return Err(StoreError::InvalidUrl {
                url: redacted,
                reason: "a Python validator's database is PostgreSQL (postgres://…)".into(),
            });
        }
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(std::time::Duration::from_secs(15))
            .connect(parsed.expose())
            .await
            .map_err(|cause| StoreError::Connect {
                backend: Backend::Postgres,
                url: redacted.clone(),
                cause,
            })?;
        let db = PythonValidatorDb {
            pool,
            url: redacted,
        };
        let has: bool = sqlx::query_scalar("SELECT to_regclass('score_table') IS NOT NULL")
            .fetch_one(&db.pool)
            .await
            .map_err(|cause| db.query_err("python score_table check", cause))?;
        if !has {
            return Err(StoreError::NotFound {
                what: format!(
                    "table score_table in `{}` (not a Gaia validator's database)",
                    db.url
                ),
            });
        }
        Ok(db)
    }

    /// The URL, password redacted.
    pub fn redacted_url(&self) -> &str {
        &self.url
    }

    fn query_err(&self, operation: &'static str, cause: sqlx::Error) -> StoreError {
        StoreError::Query {
            operation,
            url: self.url.clone(),
            cause,
        }
    }

    /// `score_table` rows of `task_name` created at or after `since`, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Query`] when the query fails (e.g. a `uid_N_score` column is missing).
    pub async fn score_rows_since(
        &self,
        task_name: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<PythonScoreRow>> {
        let columns: Vec<String> = (0..UID_COUNT).map(|u| format!("uid_{u}_score")).collect();
        let sql = format!(
            "SELECT task_name, task_id, created_at, status, {} FROM score_table \
             WHERE task_name = $1 AND created_at >= $2 ORDER BY created_at, task_id",
            columns.join(", ")
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(task_name)
            .bind(since)
            .fetch_all(&self.pool)
            .await
            .map_err(|cause| self.query_err("python score_table", cause))?;
        rows.iter()
            .map(|row| {
                let get = |cause| self.query_err("python score_table row", cause);
                let scores = (0..UID_COUNT)
                    .map(|u| row.try_get::<Option<f64>, _>(4 + u).map_err(get))
                    .collect::<StoreResult<Vec<_>>>()?;
                Ok(PythonScoreRow {
                    task_name: row.try_get("task_name").map_err(get)?,
                    task_id: row.try_get("task_id").map_err(get)?,
                    created_at: row.try_get("created_at").map_err(get)?,
                    status: row.try_get("status").map_err(get)?,
                    scores,
                })
            })
            .collect()
    }

    /// Every `node_table` row, by UID (empty when the table does not exist).
    ///
    /// # Errors
    /// [`StoreError::Query`] when the query fails.
    pub async fn nodes(&self) -> StoreResult<Vec<PythonNode>> {
        let has: bool = sqlx::query_scalar("SELECT to_regclass('node_table') IS NOT NULL")
            .fetch_one(&self.pool)
            .await
            .map_err(|cause| self.query_err("python node_table check", cause))?;
        if !has {
            return Ok(Vec::new());
        }
        let rows = sqlx::query("SELECT uid, hotkey, coldkey, ip FROM node_table ORDER BY uid")
            .fetch_all(&self.pool)
            .await
            .map_err(|cause| self.query_err("python node_table", cause))?;
        rows.iter()
            .map(|row| {
                let get = |cause| self.query_err("python node_table row", cause);
                Ok(PythonNode {
                    uid: row.try_get("uid").map_err(get)?,
                    hotkey: row.try_get("hotkey").map_err(get)?,
                    coldkey: row.try_get("coldkey").map_err(get)?,
                    ip: row.try_get("ip").map_err(get)?,
                })
            })
            .collect()
    }
}
