//! `gaia-dev`: the developer binary. Parses the command line and hands off to a command.

use clap::Parser;

fn main() -> std::process::ExitCode {
    if let Err(code) = gaia_validator::commands::prepare_process() {
        return code;
    }
    gaia_dev::commands::dispatch(&gaia_dev::cli::DevCli::parse())
}
