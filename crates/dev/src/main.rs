//! `gaia-dev`: the developer binary. Parses the command line and hands off to a command.

use clap::Parser;

fn main() -> std::process::ExitCode {
    gaia_validator::memory::tune_allocator();
    gaia_dev::commands::dispatch(&gaia_dev::cli::DevCli::parse())
}
