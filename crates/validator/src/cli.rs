//! Command-line interface: one binary, one subcommand per job.
//!
//! Every subcommand's implementation lives in `commands/<name>.rs`; this file only declares the
//! arguments so `--help` shows the whole tool in one place.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The validator of the Gaia weather subnet.
#[derive(Debug, Parser)]
#[command(name = "gaia-validator", version, about)]
pub struct Cli {
    /// Settings file (TOML). Built-in defaults < this file < `.env` < environment.
    #[arg(long, global = true, env = "GAIA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log line format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Json, env = "LOG_FORMAT")]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (for machines).
    Json,
    /// Human-readable lines.
    Pretty,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the validator: the supervisor starts the IO-Engine and the compute pool.
    Run,
    /// Print the resolved settings (secrets redacted) and exit; non-zero on an invalid value.
    CheckConfig,
    /// Print the version and exit.
    Version,
    /// Run the validator's main job locally for a short while and print a summary.
    Demo(DemoArgs),
    /// Benchmarks that print figures.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Compute the weights from 15 days of score rows in a JSON file (docs/weights.md).
    Weights(WeightsArgs),
    /// Internal: the IO-Engine process (started by the supervisor).
    #[command(hide = true)]
    IoEngine(ChildArgs),
    /// Internal: one compute worker process (started by the supervisor).
    #[command(hide = true)]
    ComputeWorker(ChildArgs),
}

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How long to run, in seconds.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
}

/// Arguments of `weights`.
#[derive(Debug, Args)]
pub struct WeightsArgs {
    /// JSON file with the score rows, the node list and optional settings (docs/weights.md).
    #[arg(long)]
    pub scores_json: PathBuf,
    /// Reference time of the 15-day window (RFC 3339); default: the file's `now`, else now.
    #[arg(long)]
    pub now: Option<String>,
    /// Print the full result as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments the supervisor passes to its children.
#[derive(Debug, Args)]
pub struct ChildArgs {
    /// The Unix socket the IO-Engine serves the compute pool on.
    #[arg(long)]
    pub socket: PathBuf,
    /// A name for logs and metrics (e.g. `compute-3`).
    #[arg(long)]
    pub name: String,
}

/// `bench` subcommands.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// IPC round-trip latency, throughput and shared memory vs socket.
    Ipc,
}
