//! `gaia-validator run-now`: queue the weather run of the current cycle (today's 00Z GFS init)
//! in the work ledger, through the same function the daily `weather` task uses
//! (`tasks::scheduled::queue_weather_run`), claimable at once. A running validator's ledger
//! runner picks it up; without one it waits in the ledger.
//!
//! The ledger keys a run by its cycle, so when the cycle's run is already queued (or done) this
//! says so and changes nothing — a second run of the same cycle is never started.

use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use serde::Serialize;

use super::operator::open;
use crate::cli::{GlobalArgs, RunNowArgs};
use crate::tasks::scheduled::queue_weather_run;

/// What `run-now` did (its `--json`).
#[derive(Debug, Serialize)]
pub struct RunNowReport {
    /// The step's ledger key (`weather.run:<YYYYMMDDHH>`).
    pub job_key: String,
    /// Its ledger id.
    pub job_id: i64,
    /// True when queued now; false when the cycle's run was already in the ledger.
    pub queued: bool,
    /// The job's state in the ledger after the call.
    pub status: String,
}

/// Run the subcommand.
pub fn run(global: &GlobalArgs, args: &RunNowArgs) -> anyhow::Result<ExitCode> {
    let s = open(global.config.as_deref(), args.view.database_url.as_deref())?;
    let report = s.runtime.block_on(async {
        let now = crate::clock::now();
        let (job_key, enqueued) = queue_weather_run(&s.store, now, Utc::now()).await?;
        let status = s
            .store
            .get_job(enqueued.job_id)
            .await?
            .map_or_else(|| "unknown".to_owned(), |j| j.status.to_string());
        anyhow::Ok(RunNowReport {
            job_key,
            job_id: enqueued.job_id,
            queued: enqueued.created,
            status,
        })
    })?;
    if args.view.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).context("encoding the report")?
        );
    } else if report.queued {
        println!(
            "queued {} (ledger job {}): a running validator starts it within seconds",
            report.job_key, report.job_id
        );
    } else {
        println!(
            "{} is already in the ledger (job {}, {}): nothing queued; the cycle's run is \
             never started twice",
            report.job_key, report.job_id, report.status
        );
    }
    Ok(ExitCode::SUCCESS)
}
