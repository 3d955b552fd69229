//! The validator crate's integration tests, one binary (as `crates/store/tests/contract`): the
//! chain client against golden files and a loopback node, the miner side against simulated miners,
//! the GFS fetcher against a real DAP2 server, and the production binary `gaia-validator run`
//! driven through the harness of `gaia_dev::harness` (its compute pool and the weather lifecycle).
//!
//! Tests that need the diagnostic `sys.*` jobs or the demo start `gaia-dev` instead and live in
//! `crates/dev/tests/integration`.

mod chain_extrinsic;
mod chain_node;
mod chain_online;
mod chain_wallet;
mod chain_websocket;
mod fiber_transport;
mod full_disk;
mod gfs_opendap;
mod hardened;
mod miner_client;
mod pool_handlers;
mod production_binary;
mod real_miners;
mod rollout_compare;
mod rollout_preflight;
mod spine_faults;
mod weather_lifecycle;
mod weather_window;

/// The binary under test: the production one.
const BIN: &str = env!("CARGO_BIN_EXE_gaia-validator");
