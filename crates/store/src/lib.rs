//! Durable state of the validator: schema, migrations and every query, with a PostgreSQL and an
//! embedded SQLite backend behind one interface, [`Store`].
//!
//! - [`Store::connect`] / [`Store::open`] pick the backend from the URL (`postgres://`,
//!   `postgresql://` or `sqlite://`); the caller resolves defaults.
//! - Migrations are versioned per backend (`migrations/postgres`, `migrations/sqlite`, same
//!   logical schema) and embedded in the binary.
//! - All SQL lives in `sql`, written once for both backends; `postgres::dialect` and
//!   `sqlite::dialect` hold the few places where the dialects differ.
//! - Transient failures (lost connection, server restart, busy database) are retried with
//!   back-off per [`RetryPolicy`]; every write is idempotent, so a retry never duplicates.
//!
//! docs/storage.md describes the schema, the status values and the ledger semantics.

mod config;
mod error;
mod postgres;
pub mod python_db;
pub mod records;
mod retry;
mod sql;
mod sqlite;
mod store;
mod url;

pub use config::{RetryPolicy, StoreConfig};
pub use error::{StoreError, StoreResult};
pub use records::chain::{NodeRecord, ScoreRow, UidVector, WeightRecord, UID_COUNT};
pub use records::ledger::{Enqueued, Job, NewJob, ReapReport, RetentionReport};
pub use records::operator::{LedgerSummary, OutcomeCount};
pub use records::status::{
    ComponentKind, ForecastStatus, JobStatus, ResponseMilestone, ResponseStatus, RunStatus,
    ScoreRowStatus, WeightOutcome,
};
pub use records::weather::{
    ComponentScore, ForecastStats, MinerResponse, MinerScore, NewResponse, NewRun, ResponseState,
    Run, Verification, ERA5_LEADS,
};
pub use store::{InstanceLock, LockKept, MigrationStatus, Store, MAX_LISTING};
pub use url::{redact, Backend, DatabaseUrl};
