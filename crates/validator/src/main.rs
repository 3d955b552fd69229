//! `gaia-validator`: the production binary. Parses the command line and hands off to a command;
//! its compute workers offer the production jobs only (the diagnostics live in `gaia-dev`).

use clap::Parser;

fn main() -> std::process::ExitCode {
    gaia_validator::memory::tune_allocator();
    let cli = gaia_validator::cli::Cli::parse();
    gaia_validator::commands::dispatch(
        &cli.global,
        &cli.command,
        gaia_validator::commands::Extensions::PRODUCTION,
    )
}
