//! One module per subcommand; `dispatch` maps the parsed command line onto them.
//!
//! The binary decides what it offers beyond the production validator ([`Extensions`]): the
//! production binary passes [`Extensions::PRODUCTION`] (nothing), the developer binary (`gaia-dev`)
//! its diagnostic `sys.*` jobs and the generator of diagnostic load that uses them. Everything
//! else — the supervisor, the IO-Engine, the workers — is this code.

use std::process::ExitCode;

use crate::cli::{Command, GlobalArgs};
use crate::compute::HandlerRegistry;
use crate::io_engine::DiagnosticUnit;
use crate::supervisor::EXIT_CONFIG;
use crate::telemetry::logging;

pub mod check_config;
pub mod children;
pub mod compare;
pub mod manifest;
pub mod migrate;
pub mod operator;
pub mod preflight;
pub mod run;
pub mod run_now;
pub mod score;
pub mod weights;

/// What a binary adds to the production validator.
#[derive(Debug, Clone, Copy)]
pub struct Extensions {
    /// Registers compute jobs beside the production ones in every compute worker the binary
    /// starts (applied after [`crate::compute::default_registry`]).
    pub extra_jobs: fn(&mut HandlerRegistry),
    /// The work unit the IO-Engine sends as diagnostic load when `DIAGNOSTIC_LOAD_JOBS_PER_S` is
    /// set; `None`: the binary has no diagnostic jobs and the setting is ignored with a warning.
    pub diagnostic_unit: Option<DiagnosticUnit>,
}

impl Extensions {
    /// The production binary's: nothing beyond the validator's own jobs.
    pub const PRODUCTION: Self = Self {
        extra_jobs: no_extra_jobs,
        diagnostic_unit: None,
    };
}

fn no_extra_jobs(_: &mut HandlerRegistry) {}

/// What every binary does before it parses its command line: tune the allocator and load
/// `./.env` into the environment, so `.env` can set what the command line reads (`LOG_FORMAT`,
/// `GAIA_CONFIG`) as well as the settings. Variables already in the environment win over `.env`.
/// `Err` is the exit code to stop with: `.env` exists but cannot be parsed (the message is on
/// stderr).
pub fn prepare_process() -> Result<(), ExitCode> {
    crate::memory::tune_allocator();
    crate::config::load_dotenv().map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_CONFIG)
    })
}

/// Run the chosen subcommand and turn its outcome into the process exit code.
pub fn dispatch(global: &GlobalArgs, command: &Command, extensions: Extensions) -> ExitCode {
    if command.is_one_shot() {
        logging::init_tool(global.tool_log_format());
    }
    exit_code(match command {
        Command::Version => {
            println!("gaia-validator {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Run => run::run(global),
        Command::CheckConfig => check_config::run(global.config.as_deref()),
        Command::IoEngine(args) => children::io_engine(global, args, extensions.diagnostic_unit),
        Command::ComputeWorker(args) => {
            children::compute_worker(global, args, extensions.extra_jobs)
        }
        Command::Weights(args) => match &args.scores_json {
            Some(file) => weights::run(args, file),
            None => operator::weights(global, args),
        },
        Command::Status(args) => operator::status(global, args),
        Command::Runs(args) => operator::runs(global, args),
        Command::ShowRun(args) => operator::show_run(global, args),
        Command::Miner(args) => operator::miner(global, args),
        Command::RunNow(args) => run_now::run(global, args),
        Command::Manifest(cmd) => manifest::run(cmd),
        Command::Score(cmd) => score::run(cmd),
        Command::Preflight(args) => preflight::run(global, args),
        Command::Compare(args) => compare::run(global, args),
        Command::Migrate(args) => migrate::run(args, global.config.as_deref()),
    })
}

/// A command's outcome as the process exit code; an error is printed to stderr first. An invalid
/// setting anywhere in the error's chain exits with [`EXIT_CONFIG`], anything else with 1.
pub fn exit_code(outcome: anyhow::Result<ExitCode>) -> ExitCode {
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            if err.chain().any(|e| e.is::<crate::config::ConfigError>()) {
                ExitCode::from(EXIT_CONFIG)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
