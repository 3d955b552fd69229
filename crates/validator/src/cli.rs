//! Command-line interface of the production binary: one subcommand per job.
//!
//! Every subcommand's implementation lives in `commands/<name>.rs`; this file only declares the
//! arguments so `--help` shows the whole tool in one place. The developer binary (`gaia-dev`, crate
//! `crates/dev`) flattens [`GlobalArgs`] and [`Command`] into its own command line and adds the
//! demo, the simulated miners and the benchmarks.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use gaia_scoring::ScoringProfile;

/// The validator of the Gaia weather subnet.
#[derive(Debug, Parser)]
#[command(name = "gaia-validator", version, about)]
pub struct Cli {
    /// Options every subcommand takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes (shared with the developer binary).
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Settings file (TOML). Built-in defaults < this file < `.env` < environment.
    #[arg(long, global = true, env = "GAIA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log line format. Default: `json` for `run` and the processes it starts, `pretty` for
    /// one-shot commands (`migrate`, `score`, `manifest`, `weights`).
    #[arg(long, global = true, value_enum, env = "LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
}

impl GlobalArgs {
    /// The format of a long-running process's log lines (`run` and its children): JSON unless
    /// asked otherwise, for log collectors.
    pub fn service_log_format(&self) -> LogFormat {
        self.log_format.unwrap_or(LogFormat::Json)
    }

    /// The format of a one-shot command's log lines (on stderr, beside its output on stdout):
    /// human-readable unless asked otherwise.
    pub fn tool_log_format(&self) -> LogFormat {
        self.log_format.unwrap_or(LogFormat::Pretty)
    }
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
    /// Apply pending database migrations (or only show the schema version with --status).
    Migrate(MigrateArgs),
    /// Score a forecast store by hand (the same functions the compute handlers run).
    #[command(subcommand)]
    Score(ScoreCommand),
    /// Recorded weight vectors from the database (top miners, burn, outcome); with
    /// `--scores-json FILE`, compute the weights from 15 days of score rows in a file instead
    /// (docs/weights.md).
    Weights(WeightsArgs),
    /// Current and recent runs, the ledger, the last weights and the settings in force
    /// (read-only; docs/operations.md "Operator view").
    Status(StatusArgs),
    /// The newest runs with their stage and miners per outcome (read-only).
    Runs(RunsArgs),
    /// One run, per miner: status, Day-1, each ERA5 lead, overall, failure reason (read-only).
    ShowRun(ShowRunArgs),
    /// One miner's history across runs (read-only).
    Miner(MinerArgs),
    /// Queue the weather run of the current cycle (today's 00Z GFS) in the work ledger, as the
    /// daily schedule does; a running validator picks it up.
    RunNow(RunNowArgs),
    /// Build or check a forecast store's manifest (spec §2; the simulated miner uses `build`).
    #[command(subcommand)]
    Manifest(ManifestCommand),
    /// The go/no-go checklist before a cut-over: settings, database, disk, chain, clock, truth
    /// sources, miners (docs/rollout.md); exit 0 only when every required check passes.
    Preflight(PreflightArgs),
    /// Compare this validator's weights with a control validator's (chain or database) and say
    /// go or no-go (docs/rollout.md).
    Compare(CompareArgs),
    /// Internal: the IO-Engine process (started by the supervisor).
    #[command(hide = true)]
    IoEngine(ChildArgs),
    /// Internal: one compute worker process (started by the supervisor).
    #[command(hide = true)]
    ComputeWorker(ChildArgs),
}

impl Command {
    /// A command that does its job and exits (as opposed to `run` and the processes it starts):
    /// it logs to stderr in human form by default.
    pub fn is_one_shot(&self) -> bool {
        matches!(
            self,
            Command::Migrate(_)
                | Command::Score(_)
                | Command::Weights(_)
                | Command::Manifest(_)
                | Command::Status(_)
                | Command::Runs(_)
                | Command::ShowRun(_)
                | Command::Miner(_)
                | Command::RunNow(_)
                | Command::Preflight(_)
                | Command::Compare(_)
        )
    }
}

/// Arguments of `weights`.
#[derive(Debug, Args)]
pub struct WeightsArgs {
    /// JSON file with the score rows, the node list and optional settings (docs/weights.md);
    /// without it, the vectors recorded in the database are shown.
    #[arg(long)]
    pub scores_json: Option<PathBuf>,
    /// How many recorded vectors to show, newest first (database mode).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub history: u32,
    /// Database to read (default: the settings' DATABASE_URL, else `<data_dir>/gaia.db`).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Reference time of the 15-day window (RFC 3339); default: the file's `now`, else now.
    #[arg(long)]
    pub now: Option<String>,
    /// Print the full result as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Scoring profile (spec §11): the weights are the same in both; accepted for symmetry.
    #[arg(long, default_value = "production")]
    pub profile: ScoringProfile,
}

/// Arguments of `preflight`.
#[derive(Debug, Args)]
pub struct PreflightArgs {
    /// Skip every check that needs the network (chain, remote truth sources, miners); they are
    /// listed as `skip`.
    #[arg(long)]
    pub offline: bool,
    /// Print the checks as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Database to check (default: the settings' DATABASE_URL, else `<data_dir>/gaia.db`).
    #[arg(long)]
    pub database_url: Option<String>,
}

/// Arguments of `compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The control validator: `chain:<uid or SS58 hotkey>` (its `Weights` on the chain of
    /// CHAIN__ENDPOINT / CHAIN__NETUID) or `db:<postgres URL>` (a Python validator's database).
    #[arg(long)]
    pub control: String,
    /// Our database (default: the settings' DATABASE_URL, else `<data_dir>/gaia.db`).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// `k` of the top-k overlap.
    #[arg(long, default_value_t = 10)]
    pub top_k: usize,
    /// Go needs a cosine similarity of at least this.
    #[arg(long, default_value_t = 0.99)]
    pub min_cosine: f64,
    /// Go needs an L1 distance of the normalised vectors of at most this.
    #[arg(long, default_value_t = 0.05)]
    pub max_l1: f64,
    /// Go needs every u16 value within this of the control's.
    #[arg(long, default_value_t = 655)]
    pub max_abs_delta: u16,
    /// Go needs a Spearman rank correlation of at least this.
    #[arg(long, default_value_t = 0.95)]
    pub min_spearman: f64,
    /// Go needs at least this share of the top-k UIDs in common.
    #[arg(long, default_value_t = 0.8)]
    pub min_top_k_overlap: f64,
    /// The control's scoring profile (the Python validators run `production`).
    #[arg(long, default_value = "production")]
    pub control_profile: ScoringProfile,
    /// Database control: the reference time of the 15-day window (RFC 3339; default now).
    #[arg(long)]
    pub now: Option<String>,
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
    /// File holding the bearer token for a miner URL (or set `GAIA_MINER_TOKEN`); a secret is
    /// never a command-line argument, where `ps` and shell history show it.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Print the full report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Scoring profile (spec §11): Day-1 is the same in both; accepted for symmetry.
    #[arg(long, default_value = "production")]
    pub profile: ScoringProfile,
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
    /// GFS initialisation time (RFC 3339). Default: what the forecast store says (a root
    /// `gfs_init_time`-style attribute, else the date of its `time` units at 00:00 UTC).
    #[arg(long)]
    pub gfs_init: Option<String>,
    /// File holding the bearer token for a miner URL (or set `GAIA_MINER_TOKEN`); a secret is
    /// never a command-line argument, where `ps` and shell history show it.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Print the full reports as JSON.
    #[arg(long)]
    pub json: bool,
    /// Scoring profile (spec §11): `production` (the Python validators' numbers) or `spec`.
    #[arg(long, default_value = "production")]
    pub profile: ScoringProfile,
    /// The response's Day-1 score: with it, the overall score of the leads scored is printed too.
    #[arg(long)]
    pub day1_score: Option<f64>,
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
    /// File holding the 32-byte sr25519 seed (hex) of the signing hotkey (or set
    /// `GAIA_MANIFEST_SIGN_SEED`); also sets the signer address.
    #[arg(long, value_name = "FILE")]
    pub sign_seed_file: Option<PathBuf>,
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

/// Where the read-only commands read, and how they print.
#[derive(Debug, Clone, Args)]
pub struct ViewArgs {
    /// Database to read (default: the settings' DATABASE_URL, else `<data_dir>/gaia.db`).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Print the records as JSON (field names are stable) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Database and output format.
    #[command(flatten)]
    pub view: ViewArgs,
    /// How many recent runs to list.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub runs: u32,
}

/// Arguments of `runs`.
#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Database and output format.
    #[command(flatten)]
    pub view: ViewArgs,
    /// How many runs, newest first.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: u32,
}

/// Arguments of `show-run`.
#[derive(Debug, Args)]
pub struct ShowRunArgs {
    /// The run's id (as `runs` lists it).
    pub id: i64,
    /// Database and output format.
    #[command(flatten)]
    pub view: ViewArgs,
}

/// Arguments of `miner`.
#[derive(Debug, Args)]
pub struct MinerArgs {
    /// The miner's UID (0–255).
    pub uid: u8,
    /// How many runs, newest first.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: u32,
    /// Database and output format.
    #[command(flatten)]
    pub view: ViewArgs,
}

/// Arguments of `run-now`.
#[derive(Debug, Args)]
pub struct RunNowArgs {
    /// Database and output format.
    #[command(flatten)]
    pub view: ViewArgs,
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
