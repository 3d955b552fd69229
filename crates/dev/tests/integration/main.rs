//! The developer binary's integration tests, one binary (as `crates/store/tests/contract`): the
//! process spine under load and failure, the operations files against a live validator, and the
//! developer commands (`demo`, `bench ipc`), and the operator view (commands and status page,
//! in headless Chromium). They start `gaia-dev run` — the production
//! supervisor, IO-Engine and workers, whose workers also offer the diagnostic `sys.*` jobs (echo,
//! sleep, crash, panic, alloc, spin, checksum) these tests drive the pool with.

mod cli_commands;
mod engine_inprocess;
mod fuzz_targets;
mod ops_config;
mod ops_metrics;
mod ops_secrets;
mod ops_view;
mod soak;
mod spine_lifecycle;
mod spine_processes;

/// The binary under test: the developer one.
const BIN: &str = env!("CARGO_BIN_EXE_gaia-dev");
