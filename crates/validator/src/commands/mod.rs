//! One module per subcommand; `dispatch` maps the parsed command line onto them.

use std::process::ExitCode;

use crate::cli::{Cli, Command};

pub mod weights;

/// Run the chosen subcommand and turn its outcome into the process exit code.
pub fn dispatch(cli: Cli) -> ExitCode {
    let outcome: anyhow::Result<ExitCode> = match &cli.command {
        Command::Version => {
            println!("gaia-validator {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Weights(args) => weights::run(args),
        _ => Err(anyhow::anyhow!("not implemented yet")),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
