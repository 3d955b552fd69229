//! The miner simulator's integration tests, one binary: its HTTP endpoints and behaviours over
//! loopback, and the stores it writes, read back and scored by the reference Python tools.

mod common;
mod http_behaviours;
mod http_endpoints;
mod stores_and_scoring;
