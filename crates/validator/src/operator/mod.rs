//! The operator view: what the read-only commands (`status`, `runs`, `run`, `miner`,
//! `weights`) print and what the IO-Engine's status page draws, read from the database once
//! and shaped here so both show the same numbers.
//!
//! - `views`: the serialisable records (the commands' `--json` is exactly these) and the
//!   functions that read them from a [`gaia_store::Store`];
//! - `weights`: what a recorded weight vector says at a glance (top miners, burn share, change
//!   since the previous one) — pure functions;
//! - `text`: the commands' readable tables.
//!
//! Nothing here writes to the database; `run-now` (`commands::run_now`) is the one operator
//! command that does, through the ledger like the schedule.

pub mod text;
pub mod views;
pub mod weights;

pub use views::{
    miner_history, overview, run_detail, runs, weights_view, MinerHistory, MinerLine, MinerRunLine,
    Overview, OverviewContext, RunDetail, RunSummary, ViewError, WeightsView,
};
pub use weights::{WeightsAttempt, WeightsChange};

#[cfg(test)]
#[path = "text_tests.rs"]
mod text_tests;
