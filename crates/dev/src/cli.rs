//! Command-line interface of the developer binary: every production subcommand of
//! `gaia-validator` (flattened from [`gaia_validator::cli::Command`], same code) plus the demo,
//! the simulated miners and the benchmarks, which the production binary does not contain.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use gaia_validator::cli::GlobalArgs;

/// Developer tools of the Gaia validator: the demo, simulated miners, benchmarks, and every
/// `gaia-validator` command (whose compute workers here also offer the diagnostic `sys.*` jobs).
#[derive(Debug, Parser)]
#[command(name = "gaia-dev", version, about)]
pub struct DevCli {
    /// Options every subcommand takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: DevCommand,
}

/// The subcommands: the developer tools, then the production ones.
#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Run the validator's main job locally for a short while and print a summary.
    Demo(DemoArgs),
    /// Write a synthetic world and serve simulated miners on loopback until Ctrl-C
    /// (docs/miner-sim.md); prints one JSON line per miner.
    SimMiners(SimMinersArgs),
    /// Weeks of simulated operation in minutes, calm and under chaos, judged by the five soak
    /// criteria (docs/soak.md); exits 0 only if every criterion passes.
    Soak(SoakArgs),
    /// Benchmarks that print figures.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Every subcommand of the production binary.
    #[command(flatten)]
    Validator(gaia_validator::cli::Command),
}

/// Arguments of `sim-miners`.
#[derive(Debug, Args)]
pub struct SimMinersArgs {
    /// Number of miners: the first K of the demo fleet (3 honest, slow, offline, GFS cloner,
    /// lying hash, chunk swapper, NaN injector, wrong units), then honest ones.
    #[arg(long, default_value_t = 10)]
    pub count: usize,
    /// Explicit comma-separated behaviours instead of --count (uids 0, 1, ...), e.g.
    /// `honest:0.9,slow:3,offline,gfs_cloner,lying_hash,chunk_swapper,nan_injector,wrong_units`.
    #[arg(long)]
    pub behaviours: Option<String>,
    /// Directory for the world's stores (`world/`); the miners serve their forecasts from
    /// memory (`gaia_miner_sim::forecast::build_forecast` writes the same store to disk).
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of the synthetic world.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Grid spacing in degrees (must divide 180 and 360).
    #[arg(long, default_value_t = 4.0)]
    pub grid_deg: f64,
    /// GFS init time (RFC 3339 or YYYY-MM-DD); default today 00Z.
    #[arg(long)]
    pub gfs_init: Option<String>,
    /// Lifetime of the miners' access tokens, minutes.
    #[arg(long, default_value_t = 120)]
    pub token_ttl_minutes: i64,
    /// Only these validator hotkeys may call the miners (repeatable); default: anyone.
    #[arg(long)]
    pub allow_validator: Vec<String>,
    /// What the miners speak: `fiber` (fiber as real miners, plus plain JSON for requests
    /// without fiber headers), `fiber_only` (exactly as a real miner) or `plain`.
    #[arg(long, default_value = "fiber")]
    pub transport: String,
}

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Run the process-spine demo (diagnostic load, no weather) instead of a weather cycle.
    #[arg(long)]
    pub spine: bool,
    /// How long the spine demo runs, in seconds.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Grid spacing of the simulated world in degrees.
    #[arg(long, default_value_t = 4.0)]
    pub grid_deg: f64,
    /// Give up when the cycle has not completed after this many seconds.
    #[arg(long, default_value_t = 900)]
    pub timeout_s: u64,
    /// Keep the world, the database and the logs in this directory (default: a temporary one).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Database backend of the soak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SoakDb {
    /// The embedded SQLite store (a file under `--out`).
    Sqlite,
    /// A private PostgreSQL cluster started by the harness (restarted once under chaos).
    Postgres,
}

/// A deliberate fault of the soak's self-test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SoakFault {
    /// The IO-Engine retains memory on every finished job.
    Leak,
    /// The chaos run drops one ERA5 score write.
    Lossy,
}

/// Arguments of `soak`.
#[derive(Debug, Args)]
pub struct SoakArgs {
    /// Simulated days each run covers.
    #[arg(long, default_value_t = 20)]
    pub simulated_days: u32,
    /// Simulated miners (behaviour mix of docs/soak.md).
    #[arg(long, default_value_t = 64)]
    pub miners: u16,
    /// Simulated seconds per wall second (1440: one simulated day in 60 s; the default run of
    /// 20 days and 64 miners passes at it here with an optimised build, docs/soak.md).
    #[arg(long, default_value_t = 1440.0)]
    pub time_scale: f64,
    /// SIGKILL a random child every this many wall seconds in the chaos run (0: never).
    #[arg(long, default_value_t = 5.0)]
    pub chaos_every: f64,
    /// Database backend.
    #[arg(long, value_enum, default_value_t = SoakDb::Sqlite)]
    pub db: SoakDb,
    /// Where the report, the logs and the SQLite databases go.
    #[arg(long, default_value = "soak-out")]
    pub out: PathBuf,
    /// Grid spacing of the simulated world in degrees.
    #[arg(long, default_value_t = 10.0)]
    pub grid_deg: f64,
    /// After the simulated days, wait at most this many wall seconds for the runs whose last
    /// ERA5 lead was due a day before the end to complete (their results are compared).
    #[arg(long, default_value_t = 300)]
    pub drain_timeout_s: u64,
    /// Self-test of the criteria: `leak` (both runs' IO-Engines retain 64 KiB per finished job)
    /// or `lossy` (the chaos run drops one ERA5 score write). The soak must then fail.
    #[arg(long, value_enum, hide = true)]
    pub fault: Option<SoakFault>,
    /// Wall seconds between two samples of /metrics and /proc.
    #[arg(long, default_value_t = 2.0)]
    pub scrape_every_s: f64,
    /// Run the calm run only and judge it alone (long soaks, where a second run of the same
    /// length does not fit): the chaos criteria are not judged, and the report says so.
    #[arg(long, conflicts_with = "judge_kept")]
    pub calm_only: bool,
    /// Run nothing: judge the calm run that an earlier soak with the same `--out`,
    /// `--simulated-days` and `--miners` left there (SQLite), as `--calm-only` would have; for a
    /// long soak stopped once its calm run was done.
    #[arg(long)]
    pub judge_kept: bool,
}

/// Arguments of `bench store`.
#[derive(Debug, Args)]
pub struct BenchStoreArgs {
    /// Number of miners (UIDs), at most 256.
    #[arg(long, default_value_t = 256)]
    pub miners: u32,
    /// Score rows per miner.
    #[arg(long, default_value_t = 100)]
    pub rows_per_miner: u32,
    /// PostgreSQL to use (default: a throwaway database via gaia-testkit).
    #[arg(long)]
    pub postgres_url: Option<String>,
    /// Skip the SQLite backend.
    #[arg(long)]
    pub skip_sqlite: bool,
    /// Skip the PostgreSQL backend.
    #[arg(long)]
    pub skip_postgres: bool,
}

/// `bench` subcommands.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// IPC round-trip latency, throughput and shared memory vs socket.
    Ipc,
    /// Score-row write throughput (256 miners x 100 rows) on SQLite and PostgreSQL.
    Store(BenchStoreArgs),
    /// Day-1 at 0.25°: ours vs the Python reference vs the decode-only floor.
    Score(BenchScoreArgs),
    /// Status page load times with 256 miners x 30 runs on SQLite and PostgreSQL (issue 18).
    Status(BenchStatusArgs),
    /// One ERA5 lead at 0.25° over loopback HTTP: requests, bytes and wall time per store
    /// layout, against the minimum and a local read (uses `--dir`, `--runs`, `--repo`).
    Net(BenchScoreArgs),
}

/// Arguments of `bench status`.
#[derive(Debug, Args)]
pub struct BenchStatusArgs {
    /// Miners (UIDs 0..N), at most 256.
    #[arg(long, default_value_t = 256)]
    pub miners: u32,
    /// Runs, one per day.
    #[arg(long, default_value_t = 30)]
    pub runs: u32,
    /// Timed requests per page (after one warm-up request).
    #[arg(long, default_value_t = 20)]
    pub requests: u32,
    /// PostgreSQL to use (default: a throwaway database from gaia-testkit).
    #[arg(long)]
    pub postgres_url: Option<String>,
    /// Skip SQLite.
    #[arg(long)]
    pub skip_sqlite: bool,
    /// Skip PostgreSQL.
    #[arg(long)]
    pub skip_postgres: bool,
    /// Also save a headless-Chromium screenshot of each page (full height) in this directory.
    #[arg(long)]
    pub screenshots: Option<PathBuf>,
}

/// Arguments of `bench score`.
#[derive(Debug, Args)]
pub struct BenchScoreArgs {
    /// Which score: `day1`, `era5` (one miner and lead: 9 variables, 13 levels) or `all`.
    #[arg(long, default_value = "day1", value_parser = ["day1", "era5", "all"])]
    pub kind: String,
    /// Where the 0.25° stores are generated (once) and reused.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Timed runs of ours and of the decode floor (the median is printed).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Timed runs of the Python reference (ERA5: 0 skips it and the agreement check, for quick
    /// iterations on the kernels).
    #[arg(long, default_value_t = 1)]
    pub python_runs: usize,
    /// Also time ours and the decode floor with this many concurrent variables (1 is always timed).
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Repository root (fixture script and Python reference); default: the build's source tree.
    #[arg(long)]
    pub repo: Option<PathBuf>,
}
