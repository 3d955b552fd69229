//! `gaia-validator`: the production binary. Parses the command line and hands off to a command;
//! its compute workers offer the production jobs only (the diagnostics live in `gaia-dev`).

use clap::Parser;

fn main() -> std::process::ExitCode {
    if let Err(code) = gaia_validator::commands::prepare_process() {
        return code;
    }
    let cli = gaia_validator::cli::Cli::parse();
    gaia_validator::commands::dispatch(
        &cli.global,
        &cli.command,
        gaia_validator::commands::Extensions::PRODUCTION,
    )
}
