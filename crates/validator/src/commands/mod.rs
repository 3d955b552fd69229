//! One module per subcommand; `dispatch` maps the parsed command line onto them.
//!
//! The binary decides which compute jobs its workers offer beyond the production ones: the
//! production binary passes [`no_extra_jobs`], the developer binary (`gaia-dev`) its diagnostic
//! `sys.*` handlers. Everything else — the supervisor, the IO-Engine, the workers — is this code.

use std::process::ExitCode;

use crate::cli::{Command, GlobalArgs};
use crate::compute::HandlerRegistry;

pub mod check_config;
pub mod children;
pub mod manifest;
pub mod migrate;
pub mod run;
pub mod score;
pub mod weights;

/// Registers compute handlers beside the production ones in every compute worker the binary
/// starts (applied after [`crate::compute::default_registry`]).
pub type ExtraJobs = fn(&mut HandlerRegistry);

/// The production binary's [`ExtraJobs`]: none.
pub fn no_extra_jobs(_: &mut HandlerRegistry) {}

/// Run the chosen subcommand and turn its outcome into the process exit code.
pub fn dispatch(global: &GlobalArgs, command: &Command, extra_jobs: ExtraJobs) -> ExitCode {
    exit_code(match command {
        Command::Version => {
            println!("gaia-validator {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Run => run::run(global),
        Command::CheckConfig => check_config::run(global.config.as_deref()),
        Command::IoEngine(args) => children::io_engine(global, args),
        Command::ComputeWorker(args) => children::compute_worker(global, args, extra_jobs),
        Command::Weights(args) => weights::run(args),
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
