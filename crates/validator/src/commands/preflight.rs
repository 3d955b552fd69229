//! `preflight [--offline] [--json]`: the go/no-go checklist (`rollout::preflight`). Invalid
//! settings stop it at once with [`EXIT_CONFIG`] (the `settings` line says why); otherwise it
//! exits 0 when every required check passed and [`EXIT_NO_GO`] when one failed.

use std::process::ExitCode;

use chrono::Utc;

use crate::cli::{GlobalArgs, PreflightArgs};
use crate::config;
use crate::rollout::preflight::{render, run_checks, Check, Preflight};
use crate::rollout::EXIT_NO_GO;
use crate::supervisor::EXIT_CONFIG;

fn print(p: &Preflight, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(p)?);
    } else {
        print!("{}", render(p));
    }
    Ok(())
}

/// Run the subcommand.
pub fn run(global: &GlobalArgs, args: &PreflightArgs) -> anyhow::Result<ExitCode> {
    let loaded = match config::load(global.config.as_deref()) {
        Ok(l) => l,
        Err(e) => {
            let p = Preflight::of(vec![Check::fail(
                "settings",
                e.to_string(),
                "fix the setting (`gaia-validator check-config` prints what is in force)",
            )]);
            print(&p, args.json)?;
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    let settings = loaded.settings;
    let mut value = "valid".to_string();
    if !loaded.unknown_keys.is_empty() {
        value = format!(
            "valid; unknown keys ignored: {}",
            loaded.unknown_keys.join(", ")
        );
    }
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(|| settings.resolved_database_url());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut checks = vec![Check::pass("settings", value)];
    checks.extend(runtime.block_on(run_checks(&settings, &url, args.offline, Utc::now())));
    let p = Preflight::of(checks);
    print(&p, args.json)?;
    Ok(if p.is_go() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_NO_GO)
    })
}
