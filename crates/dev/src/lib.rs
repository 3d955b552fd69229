//! The developer binary's library (`gaia-dev`): everything a developer runs that the production
//! binary `gaia-validator` must not contain — the demo, the simulated miners, the benchmarks, the
//! diagnostic compute handlers (`sys.*`, one of which aborts its worker) — and the process
//! harness the integration tests drive a real validator with, and the fuzz targets of the
//! parsers of outside bytes (`gaia-fuzz`).
//!
//! `gaia-dev` also offers every production subcommand, through the same library code
//! (`gaia_validator::commands::dispatch`): the supervisor re-executes its own binary for its
//! children, so `gaia-dev run` starts `gaia-dev io-engine` and `gaia-dev compute-worker`, whose
//! workers register the `sys.*` handlers beside the production ones.

pub mod browser;
pub mod cli;
pub mod commands;
pub mod fuzz;
pub mod harness;
pub mod sim_cycle;
pub mod soak;
pub mod sys_handlers;
