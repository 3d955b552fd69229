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

pub mod check_config;
pub mod children;
pub mod manifest;
pub mod migrate;
pub mod operator;
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

/// Run the chosen subcommand and turn its outcome into the process exit code.
pub fn dispatch(global: &GlobalArgs, command: &Command, extensions: Extensions) -> ExitCode {
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
        Command::Migrate(args) => migrate::run(args, global.config.as_deref()),
    })
}

/// A command's outcome as the process exit code; an error is printed to stderr first.
pub fn exit_code(outcome: anyhow::Result<ExitCode>) -> ExitCode {
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
