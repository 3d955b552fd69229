//! Command-line interface: one binary, one subcommand per job.
//!
//! Every subcommand's implementation lives in `commands/<name>.rs`; this file only declares the
//! arguments so `--help` shows the whole tool in one place.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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

pub use crate::telemetry::logging::LogFormat;

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
    /// Apply pending database migrations (or only show the schema version with --status).
    Migrate(MigrateArgs),
    /// Benchmarks that print figures.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Score a forecast store by hand (the same functions the compute handlers run).
    #[command(subcommand)]
    Score(ScoreCommand),
    /// Compute the weights from 15 days of score rows in a JSON file (docs/weights.md).
    Weights(WeightsArgs),
    /// Build or check a forecast store's manifest (spec §2; the simulated miner uses `build`).
    #[command(subcommand)]
    Manifest(ManifestCommand),
    /// Write a synthetic world and serve simulated miners on loopback until Ctrl-C
    /// (docs/miner-sim.md); prints one JSON line per miner.
    SimMiners(SimMinersArgs),
    /// Internal: the IO-Engine process (started by the supervisor).
    #[command(hide = true)]
    IoEngine(ChildArgs),
    /// Internal: one compute worker process (started by the supervisor).
    #[command(hide = true)]
    ComputeWorker(ChildArgs),
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
    /// Directory for the world's stores (`world/`) and the miners' forecasts (`miners/`).
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
    pub dir: Option<std::path::PathBuf>,
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

/// `score` subcommands.
#[derive(Debug, Subcommand)]
pub enum ScoreCommand {
    /// Day-1 quality-control score (spec §3) of one forecast against GFS.
    Day1(ScoreDay1Args),
    /// ERA5 per-(lead, variable) scores (spec §4.3) of one forecast.
    Era5(ScoreEra5Args),
}

/// Arguments of `score day1`.
#[derive(Debug, Args)]
pub struct ScoreDay1Args {
    /// The miner's forecast store (directory or http(s) URL).
    #[arg(long)]
    pub forecast: String,
    /// The GFS analysis store (truth).
    #[arg(long)]
    pub truth: String,
    /// The GFS 00Z forecast store (reference).
    #[arg(long)]
    pub reference: String,
    /// The WeatherBench2 climatology store.
    #[arg(long)]
    pub climatology: String,
    /// Lead time in hours.
    #[arg(long, default_value_t = 12.0)]
    pub lead_hours: f64,
    /// GFS initialisation time (RFC 3339). Default: the truth store's only time minus the lead.
    #[arg(long)]
    pub gfs_init: Option<String>,
    /// Bearer token for a miner URL.
    #[arg(long, env = "GAIA_MINER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print the full report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `score era5`.
#[derive(Debug, Args)]
pub struct ScoreEra5Args {
    /// The miner's forecast store (directory or http(s) URL).
    #[arg(long)]
    pub forecast: String,
    /// The ERA5 truth store.
    #[arg(long)]
    pub truth: String,
    /// The WeatherBench2 climatology store.
    #[arg(long)]
    pub climatology: String,
    /// Lead times in hours, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "24,48,72,96,120,144,168,192,216,240"
    )]
    pub lead_hours: Vec<u32>,
    /// GFS initialisation time (RFC 3339).
    #[arg(long)]
    pub gfs_init: String,
    /// Bearer token for a miner URL.
    #[arg(long, env = "GAIA_MINER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print the full reports as JSON.
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
    /// PID of the supervisor (prefix of shared-memory segment names).
    #[arg(long, default_value_t = 0)]
    pub supervisor_pid: u32,
}

/// `manifest` subcommands.
#[derive(Debug, Subcommand)]
pub enum ManifestCommand {
    /// Hash every file of a store directory and write `manifest.json` (and `manifest.sig`).
    Build(ManifestBuildArgs),
    /// Check a manifest (hash, optional signature) and every file of a store against it.
    Verify(ManifestVerifyArgs),
}

/// Arguments of `manifest build`.
#[derive(Debug, Args)]
pub struct ManifestBuildArgs {
    /// The Zarr store directory.
    pub store: PathBuf,
    /// 32-byte sr25519 seed (hex) of the signing hotkey; also sets the signer address.
    #[arg(long, env = "GAIA_MANIFEST_SIGN_SEED", hide_env_values = true)]
    pub sign_seed: Option<String>,
    /// Signer SS58 address to record when not signing.
    #[arg(long)]
    pub signer: Option<String>,
    /// Where to write the manifest (default `<store>/manifest.json`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where to write the raw signature (default `manifest.sig` beside the manifest).
    #[arg(long)]
    pub sig_out: Option<PathBuf>,
}

/// Arguments of `manifest verify`.
#[derive(Debug, Args)]
pub struct ManifestVerifyArgs {
    /// The Zarr store directory.
    pub store: PathBuf,
    /// The manifest file.
    #[arg(long)]
    pub manifest: PathBuf,
    /// The expected signer (the miner's hotkey); enables the signature check.
    #[arg(long)]
    pub hotkey: Option<String>,
    /// The signature as hex (default: the raw `manifest.sig` beside the manifest).
    #[arg(long)]
    pub signature: Option<String>,
    /// The verification hash the miner claimed (default: not checked).
    #[arg(long)]
    pub claimed_hash: Option<String>,
}

/// Arguments of `migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Only print the applied schema version and pending migrations; change nothing.
    #[arg(long)]
    pub status: bool,
    /// Database to migrate (default: the settings' DATABASE_URL, else `<data_dir>/gaia.db`).
    #[arg(long)]
    pub database_url: Option<String>,
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
    /// Timed runs of the Python reference.
    #[arg(long, default_value_t = 1)]
    pub python_runs: usize,
    /// Also time ours and the decode floor with this many concurrent variables (1 is always timed).
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Repository root (fixture script and Python reference); default: the build's source tree.
    #[arg(long)]
    pub repo: Option<PathBuf>,
}
