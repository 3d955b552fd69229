//! The weather task: the daily run's lifecycle (spec §1), as ledger steps.

pub mod lifecycle;
