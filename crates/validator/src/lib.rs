//! The validator binary's library: the three process kinds (supervisor, IO-Engine, compute
//! worker), their configuration and telemetry, and the command-line commands that start them.

pub mod chain;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod compute;
pub mod config;
pub mod faults;
pub mod files;
pub mod io_engine;
pub mod jobs;
pub mod memory;
pub mod miners;
pub mod operator;
pub mod retry;
pub mod rollout;
pub mod runtime;
pub mod supervisor;
pub mod tasks;
pub mod telemetry;
pub mod truth;

/// Unit tests count their allocations (issue 20: a hostile length must not become a huge buffer).
#[cfg(test)]
#[global_allocator]
static ALLOC: gaia_testkit::hostile::CountingAlloc = gaia_testkit::hostile::CountingAlloc;
