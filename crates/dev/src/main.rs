//! `gaia-dev`: the developer binary. Parses the command line and hands off to a command.

use clap::Parser;

fn main() -> std::process::ExitCode {
    if let Err(code) = gaia_validator::commands::prepare_process() {
        return code;
    }
    // The soak's deliberate faults (off unless GAIA_DEV_FAULT_* is set; never in gaia-validator).
    gaia_validator::faults::install(gaia_validator::faults::Faults::from_env());
    gaia_dev::commands::dispatch(&gaia_dev::cli::DevCli::parse())
}
