//! One module per developer subcommand; `dispatch` maps the parsed command line onto them and
//! hands every production subcommand to `gaia_validator::commands::dispatch` with the diagnostic
//! `sys.*` handlers as the extra compute jobs.

use std::process::ExitCode;

use gaia_validator::commands::exit_code;

use crate::cli::{BenchCommand, DevCli, DevCommand};

pub mod bench_ipc;
pub mod bench_net;
pub mod bench_score;
pub mod bench_status;
pub mod bench_store;
pub mod demo;
pub mod demo_spine;
pub mod sim_miners;

/// Run the chosen subcommand and turn its outcome into the process exit code.
pub fn dispatch(cli: &DevCli) -> ExitCode {
    match &cli.command {
        DevCommand::Validator(command) => gaia_validator::commands::dispatch(
            &cli.global,
            command,
            crate::sys_handlers::EXTENSIONS,
        ),
        DevCommand::Demo(args) => exit_code(demo::run(&cli.global, args)),
        DevCommand::Soak(args) => exit_code(crate::soak::run(args)),
        DevCommand::SimMiners(args) => exit_code(sim_miners::run(args)),
        DevCommand::Bench(BenchCommand::Ipc) => exit_code(bench_ipc::run()),
        DevCommand::Bench(BenchCommand::Store(args)) => exit_code(bench_store::run(args)),
        DevCommand::Bench(BenchCommand::Score(args)) => exit_code(bench_score::run(args)),
        DevCommand::Bench(BenchCommand::Net(args)) => exit_code(bench_net::run(args)),
        DevCommand::Bench(BenchCommand::Status(args)) => exit_code(bench_status::run(args)),
    }
}
