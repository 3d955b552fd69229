//! One module per subcommand; `dispatch` maps the parsed command line onto them.

use std::process::ExitCode;

use crate::cli::{BenchCommand, Cli, Command};

pub mod bench_ipc;
pub mod bench_score;
pub mod bench_store;
pub mod check_config;
pub mod children;
pub mod demo;
pub mod demo_spine;
pub mod manifest;
pub mod migrate;
pub mod run;
pub mod score;
pub mod sim_miners;
pub mod weights;

/// Run the chosen subcommand and turn its outcome into the process exit code.
pub fn dispatch(cli: Cli) -> ExitCode {
    let outcome: anyhow::Result<ExitCode> = match &cli.command {
        Command::Version => {
            println!("gaia-validator {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Run => run::run(&cli),
        Command::CheckConfig => check_config::run(cli.config.as_deref()),
        Command::Demo(args) => demo::run(&cli, args),
        Command::Bench(BenchCommand::Ipc) => bench_ipc::run(),
        Command::IoEngine(args) => children::io_engine(&cli, args),
        Command::ComputeWorker(args) => children::compute_worker(&cli, args),
        Command::Weights(args) => weights::run(args),
        Command::Manifest(cmd) => manifest::run(cmd),
        Command::SimMiners(args) => sim_miners::run(args),
        Command::Score(cmd) => score::run(cmd),
        Command::Bench(BenchCommand::Score(args)) => bench_score::run(args),
        Command::Migrate(args) => migrate::run(args, cli.config.as_deref()),
        Command::Bench(BenchCommand::Store(args)) => bench_store::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
