//! The weather task: talking to miners (client, transport, URL policy) and, in the lifecycle,
//! the daily run.

pub mod miner_client;
pub mod url_policy;
