//! The validator binary's library: the three process kinds (supervisor, IO-Engine, compute
//! worker), their configuration and telemetry, and the command-line commands that start them.

pub mod cli;
pub mod commands;
pub mod config;
pub mod runtime;
pub mod telemetry;
pub mod compute;
pub mod io_engine;
pub mod supervisor;
pub mod tasks;
