//! Simulated Gaia weather miners and the synthetic world they forecast, for the demo, the
//! validator's integration tests and soak tests.
//!
//! * [`world`] — a deterministic synthetic atmosphere and its stores: GFS analysis (Day-1
//!   truth), GFS 00Z forecast (reference), ERA5 (truth for leads 24…240 h) and a
//!   WeatherBench2-layout climatology, all Zarr v2 with consolidated metadata.
//! * [`forecast`] — a miner's 40 × 6 h forecast store, manifest and sr25519 signature;
//!   [`served`] — the same store generated chunk by chunk on request, with no disk.
//! * [`behaviour`] — honest with a skill, slow, offline, GFS cloner, lying hash, chunk swapper,
//!   NaN injector, wrong units.
//! * [`miner`] — transport-independent endpoint logic; [`server`] — plain-JSON HTTP (axum);
//!   [`fiber`] — the fiber-encrypted transport of real miners on top of it.
//! * [`fleet`] — K miners on loopback with their uid, hotkey, port and behaviour.
//!
//! See `docs/miner-sim.md`.

pub mod behaviour;
mod error;
pub mod fiber;
pub mod fleet;
pub mod forecast;
pub mod jwt;
pub mod keys;
pub mod limits;
pub mod miner;
pub mod rng;
pub mod served;
pub mod server;
pub mod world;
/// The Zarr v2 writer (moved to `gaia_scoring::zarr::write`, shared with the validator).
pub use gaia_scoring::zarr::write as zarr_v2;

pub use behaviour::Behaviour;
pub use error::SimError;
pub use fiber::{FiberMiner, FiberRejection, Transport};
pub use fleet::{demo_fleet, Fleet, FleetConfig, MinerInfo, MinerSpec};
pub use world::stores::write_world;
pub use world::{ErrorModel, World, WorldConfig, WorldPaths};
