//! `check-config`: resolve the settings, print them with secrets redacted, report unknown keys.

use std::path::Path;
use std::process::ExitCode;

use crate::config;

/// Print the resolved settings; exit non-zero when a value is invalid.
pub fn run(file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let loaded = match config::load(file) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let redacted = loaded.settings.redacted();
    println!("{}", serde_json::to_string_pretty(&redacted)?);
    println!(
        "# database in force: {}",
        config::redact_url(&loaded.settings.resolved_database_url())
    );
    for key in &loaded.unknown_keys {
        eprintln!("warning: unknown setting `{key}` is ignored");
    }
    Ok(ExitCode::SUCCESS)
}
