//! The weather task: talking to miners (client, transport, URL policy) and, in the lifecycle,
//! the daily run.

pub mod fiber;
pub mod gfs;
pub mod lifecycle;
pub mod miner_client;
pub mod sources;
pub mod truth_cache;
pub mod truth_subset;
pub mod url_policy;
