//! `gaia-validator`: the single binary. Parses the command line and hands off to a command.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = gaia_validator::cli::Cli::parse();
    gaia_validator::commands::dispatch(cli)
}
