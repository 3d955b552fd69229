//! `check-config`: resolve the settings, print them with secrets redacted, report unknown keys.
//!
//! Stdout is pure JSON (`check-config | jq .chain` works); notes and warnings go to stderr. An
//! invalid setting exits with [`EXIT_CONFIG`] (78), the code the service managers are told not to
//! restart on.

use std::path::Path;
use std::process::ExitCode;

use crate::config;
use crate::supervisor::EXIT_CONFIG;

/// Print the resolved settings; exit non-zero when a value is invalid.
pub fn run(file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let loaded = match config::load(file) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    let redacted = loaded.settings.redacted();
    println!("{}", serde_json::to_string_pretty(&redacted)?);
    eprintln!(
        "note: database in force: {}",
        config::redact_url(&loaded.settings.resolved_database_url())
    );
    for key in &loaded.unknown_keys {
        eprintln!("warning: unknown setting `{key}` is ignored");
    }
    Ok(ExitCode::SUCCESS)
}
