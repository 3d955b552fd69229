//! Every SQL statement of the store, written once for both backends.
//!
//! PostgreSQL and SQLite share almost all of their SQL: the same tables, `INSERT … ON CONFLICT
//! … DO UPDATE` upserts with `EXCLUDED`, `RETURNING`, `COALESCE`, `substr`/`length`. So each
//! statement, and the Rust that binds its values and reads its rows, exists once, in the files
//! below, grouped by table:
//!
//! | File | Owns |
//! |---|---|
//! | `schema.rs` | migration state, ping |
//! | `runs.rs` | `weather_forecast_runs`, `weather_miner_responses` |
//! | `scores.rs` | `weather_miner_scores`, `…_component_scores`, `weather_forecast_stats` |
//! | `chain.rs` | `node_table`, `score_table`, `weight_history`, retention |
//! | `ledger.rs` | `work_ledger` |
//! | `operator.rs` | read-only listings and counts of the operator view, across tables |
//!
//! Each file wraps its functions in [`for_each_backend!`], which compiles them once per backend
//! (into submodules `postgres` and `sqlite`) against that backend's `Db` type. That keeps the
//! bodies plain, concrete `sqlx` calls: a generic function over `sqlx::Database` would need an
//! `Encode + Type` bound for every bound Rust type, a `FromRow` bound for every record and an
//! `Executor` bound for the pool and the transaction, on every function. (rustfmt does not format
//! inside the macro: keep the usual style by hand.)
//!
//! What the two dialects really do differently lives in `crate::postgres::dialect` and
//! `crate::sqlite::dialect`, each item with the reason: the statement that asks whether the
//! migrations table exists, how a write transaction begins, and the row lock of the ledger claim.
//! The shared code reaches them by name (`Db`, `begin_write`, `MIGRATIONS_TABLE_EXISTS`,
//! `CLAIM_NEXT`); a backend that lacks one does not compile. Even there the text is shared where
//! it can be: the claim's selection rule is [`claim_next!`], and a dialect only adds its row lock.
//!
//! Placeholders are PostgreSQL's `$1, $2, …` in both. SQLite reads `$NNN` as a named parameter
//! and sqlx's SQLite driver binds parameter `$N` to the N-th bound value (sqlx-sqlite
//! `arguments.rs`), so a number may be used twice in one statement (`$1` in
//! `QUARANTINE_EXPIRED`), as in PostgreSQL. One difference remains: a placeholder with no bound
//! value is an error in PostgreSQL but NULL in SQLite, so the contract suite, which runs every
//! statement on both, catches a missing `.bind` on PostgreSQL.
//!
//! Functions return raw `sqlx` results; [`crate::Store`] adds retries, error context and input
//! checks. Writes are idempotent on natural keys so a retried call never duplicates a row.

mod chain;
mod ledger;
mod operator;
mod runs;
mod schema;
mod scores;

pub(crate) use ledger::{claim_branch, claim_next};

/// Result of one statement, before [`crate::Store`] adds context.
pub(crate) type Res<T> = Result<T, sqlx::Error>;

/// The one row of a `RETURNING` write. Such writes are read with `fetch_all`, never `fetch_one`
/// or `fetch_optional`: those stop stepping after the first row, and on SQLite the autocommit
/// COMMIT then happens when the statement is reset — its error (a full disk) was lost, so the
/// write reported success, with its id, and had been rolled back.
pub(crate) fn one_row<T>(rows: Vec<T>) -> Res<T> {
    rows.into_iter().next().ok_or(sqlx::Error::RowNotFound)
}

/// Compile the given items once per backend: into `mod postgres` with
/// `crate::postgres::dialect::*` in scope and into `mod sqlite` with `crate::sqlite::dialect::*`,
/// each also seeing the enclosing file's imports.
macro_rules! for_each_backend {
    ($($item:item)*) => {
        /// The statements of this file, run on PostgreSQL.
        pub(crate) mod postgres {
            use super::*;
            use crate::postgres::dialect::*;
            $($item)*
        }
        /// The statements of this file, run on SQLite.
        pub(crate) mod sqlite {
            use super::*;
            use crate::sqlite::dialect::*;
            $($item)*
        }
    };
}
use for_each_backend;

/// Every statement as run on PostgreSQL (the `q` of `on_backend!` for that backend).
pub(crate) mod postgres {
    pub(crate) use super::chain::postgres::*;
    pub(crate) use super::ledger::postgres::*;
    pub(crate) use super::operator::postgres::*;
    pub(crate) use super::runs::postgres::*;
    pub(crate) use super::schema::postgres::*;
    pub(crate) use super::scores::postgres::*;
}

/// Every statement as run on SQLite (the `q` of `on_backend!` for that backend).
pub(crate) mod sqlite {
    pub(crate) use super::chain::sqlite::*;
    pub(crate) use super::ledger::sqlite::*;
    pub(crate) use super::operator::sqlite::*;
    pub(crate) use super::runs::sqlite::*;
    pub(crate) use super::schema::sqlite::*;
    pub(crate) use super::scores::sqlite::*;
}
