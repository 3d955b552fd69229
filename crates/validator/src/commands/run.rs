//! `run`: the production entry point — the supervisor.

use std::process::ExitCode;

use crate::cli::{GlobalArgs, LogFormat};
use crate::config;
use crate::runtime::RuntimeDir;
use crate::supervisor::child::ChildLaunch;
use crate::supervisor::{Supervisor, EXIT_CONFIG, EXIT_STARTUP};
use crate::telemetry::logging;

/// The settings' runtime directory, or a fresh one under the temporary directory.
fn runtime_dir(settings: &config::Settings) -> anyhow::Result<(RuntimeDir, bool)> {
    match &settings.runtime_dir {
        Some(dir) => {
            let rt = RuntimeDir::new(dir);
            rt.create()?;
            Ok((rt, false))
        }
        None => {
            let dir = std::env::temp_dir().join(format!("gaia-validator-{}", std::process::id()));
            let rt = RuntimeDir::new(dir);
            rt.create()?;
            Ok((rt, true))
        }
    }
}

/// Online, the hotkey file must load (exist, be unencrypted, match its address) before anything
/// starts: otherwise the IO-Engine would fail at every restart until the budget is spent.
fn usable_identity(settings: &config::Settings) -> Result<(), String> {
    match (&settings.chain.hotkey_file, settings.chain.mode.as_str()) {
        (Some(path), "online") => crate::chain::wallet::load_hotkey(path)
            .map(|_| ())
            .map_err(|e| format!("invalid setting CHAIN__HOTKEY_FILE: {e}")),
        _ => Ok(()),
    }
}

/// Start the supervisor and run until it stops.
pub fn run(global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let loaded = match config::load(global.config.as_deref()) {
        Ok(l) => l,
        Err(e) => {
            logging::startup_error("supervisor", global.service_log_format(), &e.to_string());
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    let settings = loaded.settings;
    crate::clock::install(crate::clock::BusinessClock::from_settings(&settings));
    if let Err(e) = usable_identity(&settings) {
        logging::startup_error("supervisor", global.service_log_format(), &e);
        return Ok(ExitCode::from(EXIT_CONFIG));
    }
    logging::init(
        "supervisor",
        global.service_log_format(),
        &settings.log_level,
    );
    for key in &loaded.unknown_keys {
        tracing::warn!(key = %key, "unknown setting ignored");
    }
    let (runtime, created) = runtime_dir(&settings)?;
    let _instance = match crate::supervisor::instance::lock(&runtime) {
        Ok(lock) => lock,
        Err(e) => {
            tracing::error!(error = %e, "refusing to start");
            return Ok(ExitCode::from(EXIT_STARTUP));
        }
    };
    // Whatever is published here belongs to a validator that is gone (we hold the lock).
    runtime.remove_published();
    let launch = ChildLaunch {
        exe: std::env::current_exe()?,
        config: global.config.clone(),
        log_format: match global.service_log_format() {
            LogFormat::Json => "json".into(),
            LogFormat::Pretty => "pretty".into(),
        },
        runtime: runtime.clone(),
        supervisor_pid: std::process::id(),
    };
    tracing::info!(
        workers = settings.num_compute_workers,
        runtime = %runtime.root().display(),
        "supervisor starting"
    );
    let code = Supervisor::new(settings, launch).run();
    if created {
        let _ = std::fs::remove_dir_all(runtime.root());
    } else {
        runtime.remove_published();
    }
    Ok(ExitCode::from(code))
}
