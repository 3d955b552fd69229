//! The store's error type.
//!
//! Every error that can mention the database names it by its *redacted* URL (password replaced by
//! `***`, see [`crate::url`]), so errors can be logged and shown to operators verbatim. The
//! driver's error is part of the message (field `cause`) rather than a chained `source`, so
//! printing the chain does not repeat it.

use crate::url::Backend;

/// Result alias of the store.
pub type StoreResult<T> = Result<T, StoreError>;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another validator holds this database's instance lock.
    #[error("another validator is using database `{url}` ({holder}); one validator per database")]
    InstanceLocked {
        /// The database URL, password redacted.
        url: String,
        /// What is known of the holder.
        holder: String,
    },
    /// The database URL could not be understood (unknown scheme, malformed).
    #[error("invalid database URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given, password redacted.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The database could not be reached or refused the connection.
    #[error("cannot connect to {backend} database `{url}`: {cause}")]
    Connect {
        /// Which backend was being opened.
        backend: Backend,
        /// The URL, password redacted.
        url: String,
        /// The driver's error.
        cause: sqlx::Error,
    },
    /// The SQLite file (or, before it exists, its directory) cannot be written: a read-only file,
    /// directory or file system (SQLite itself would only say "unable to open database file").
    #[error("SQLite database `{url}` is not writable: {path}: {cause}")]
    NotWritable {
        /// The file or directory that refuses writes.
        path: std::path::PathBuf,
        /// The URL, password redacted.
        url: String,
        /// OS error (permission denied, read-only file system).
        cause: std::io::Error,
    },
    /// The SQLite file's directory could not be created.
    #[error("cannot create directory {path} for SQLite database `{url}`: {cause}")]
    CreateDir {
        /// Directory that could not be created.
        path: std::path::PathBuf,
        /// The URL, password redacted.
        url: String,
        /// OS error.
        cause: std::io::Error,
    },
    /// Applying or inspecting migrations failed.
    #[error("migrations on `{url}` failed: {cause}")]
    Migrate {
        /// The URL, password redacted.
        url: String,
        /// The migrator's error.
        cause: sqlx::migrate::MigrateError,
    },
    /// A query failed with a non-transient error, or a transient one outlasted the retry budget.
    #[error("{operation} on `{url}` failed: {cause}")]
    Query {
        /// Name of the store operation (e.g. `upsert_miner_scores`).
        operation: &'static str,
        /// The URL, password redacted.
        url: String,
        /// The driver's error.
        cause: sqlx::Error,
    },
    /// A row the operation needs does not exist.
    #[error("{what} not found")]
    NotFound {
        /// Which row (e.g. `weather_forecast_runs id 7`).
        what: String,
    },
    /// A caller-supplied value is out of range or malformed; nothing was written.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// Which field of which record.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A value read back from the database is not one this version understands.
    #[error("unexpected value in {column}: {value:?}")]
    CorruptValue {
        /// Table and column.
        column: &'static str,
        /// The stored value.
        value: String,
    },
    /// A ledger job was completed or failed by a claimer that no longer holds its lease.
    #[error("job {job_id} is not leased to `{claimer}` (lease expired or taken over)")]
    LeaseLost {
        /// The job.
        job_id: i64,
        /// The claimer that tried to finish it.
        claimer: String,
    },
}

impl StoreError {
    /// True for a fault of the database or its disk (unreachable, a query that failed after its
    /// retries, a full or read-only disk), not of the data asked for: the validator's own problem,
    /// which must not cost a step its attempts.
    pub fn is_infrastructure(&self) -> bool {
        match self {
            StoreError::Connect { .. }
            | StoreError::NotWritable { .. }
            | StoreError::CreateDir { .. } => true,
            StoreError::Query { cause, .. } => infrastructure_cause(cause),
            _ => false,
        }
    }

    /// True when the error is a missing row.
    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::NotFound { .. })
    }
}

/// Whether a driver error is the database's or its disk's fault rather than the statement's:
/// I/O and pool failures, SQLite's full disk / I/O error / read-only / busy / locked, PostgreSQL's
/// connection exceptions (class 08), insufficient resources (53: disk full, out of memory) and
/// operator intervention (57: shutdown).
fn infrastructure_cause(cause: &sqlx::Error) -> bool {
    match cause {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            if code.len() == 5 {
                // A PostgreSQL SQLSTATE: its class is the first two characters.
                ["08", "53", "57"]
                    .iter()
                    .any(|class| code.starts_with(class))
            } else {
                // A SQLite result code; extended codes keep the primary one in the low byte.
                code.parse::<u32>()
                    .is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 8 | 10 | 13))
            }
        }
        _ => false,
    }
}
