//! `gaia-validator score day1|era5`: score one forecast store by hand with the same library
//! functions the `weather.score.day1` / `weather.score.era5` compute handlers run, and print the
//! report (a table, or JSON with `--json`; field names in docs/scoring.md).

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::{DateTime, TimeDelta, Utc};
use gaia_scoring::day1::{score_day1, Day1Config, Day1Report, Day1Request};
use gaia_scoring::era5::{score_era5_lead, Era5Config, Era5Request};
use gaia_scoring::zarr::{Dataset, OpenOptions};
use serde_json::json;

use crate::cli::{ScoreCommand, ScoreDay1Args, ScoreEra5Args};

/// Run the subcommand.
pub fn run(cmd: &ScoreCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ScoreCommand::Day1(args) => day1(args),
        ScoreCommand::Era5(args) => era5(args),
    }
}

fn parse_time(s: &str) -> anyhow::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .with_context(|| format!("`{s}` is not an RFC 3339 time"))
}

/// The GFS init time: given, or the truth store's only time minus the lead.
fn gfs_init(args: &ScoreDay1Args) -> anyhow::Result<DateTime<Utc>> {
    if let Some(s) = &args.gfs_init {
        return parse_time(s);
    }
    let truth = Dataset::open(&args.truth, &OpenOptions::default()).context("opening the truth")?;
    let times = truth.times().context("reading the truth's times")?;
    match times.as_slice() {
        [only] => Ok(*only - TimeDelta::milliseconds((args.lead_hours * 3.6e6).round() as i64)),
        _ => bail!("the truth store has {} times: pass --gfs-init", times.len()),
    }
}

/// Build the Day-1 request from the command line.
pub fn day1_request(args: &ScoreDay1Args) -> anyhow::Result<Day1Request> {
    Ok(Day1Request {
        forecast: args.forecast.clone(),
        truth: args.truth.clone(),
        reference: args.reference.clone(),
        climatology: args.climatology.clone(),
        bearer_token: args.token.clone(),
        frozen_manifest: None,
        gfs_init_time: gfs_init(args)?,
        lead_hours: args.lead_hours,
        valid_time: None,
        config: Day1Config::default(),
        threads: 1,
    })
}

fn day1(args: &ScoreDay1Args) -> anyhow::Result<ExitCode> {
    let report = score_day1(&day1_request(args)?).context("Day-1 scoring failed")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render_day1(&report));
    }
    Ok(ExitCode::SUCCESS)
}

fn num(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{v:.6}"))
}

/// A human-readable table of a Day-1 report.
pub fn render_day1(r: &Day1Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Day-1 score {:.6}  passed={} clamped={} qc_failed={}",
        r.score, r.passed, r.clamped, r.qc_failed
    );
    let _ = writeln!(
        s,
        "{:<6} {:<13} {:>10} {:>10} {:>12} {:>12} {:>12} {:>12}",
        "var", "status", "skill", "acc", "rmse", "mae", "bias", "clone_d"
    );
    for v in &r.variables {
        let _ = writeln!(
            s,
            "{:<6} {:<13} {:>10} {:>10} {:>12} {:>12} {:>12} {:>12}",
            v.key,
            format!("{:?}", v.status),
            num(v.skill_penalised),
            num(v.acc),
            num(v.rmse),
            num(v.mae),
            num(v.bias),
            num(v.clone_distance)
        );
    }
    s
}

fn era5(args: &ScoreEra5Args) -> anyhow::Result<ExitCode> {
    let init = parse_time(&args.gfs_init)?;
    let mut out = Vec::new();
    let mut any_failed = false;
    for &lead in &args.lead_hours {
        let req = Era5Request {
            forecast: args.forecast.clone(),
            truth: args.truth.clone(),
            climatology: args.climatology.clone(),
            bearer_token: args.token.clone(),
            frozen_manifest: None,
            gfs_init_time: init,
            lead_hours: lead,
            config: Era5Config::default(),
        };
        match score_era5_lead(&req) {
            Ok(report) => {
                if !args.json {
                    println!("lead {lead} h:");
                    for v in &report.variables {
                        println!(
                            "  {:<4} rmse {:>14} acc {:>10} skill {:>10} coverage {:.5}{}",
                            v.variable,
                            num(v.rmse),
                            num(v.acc),
                            num(v.skill),
                            v.coverage,
                            v.error
                                .as_ref()
                                .map(|e| format!("  error: {e}"))
                                .unwrap_or_default()
                        );
                    }
                }
                out.push(json!({ "lead_hours": lead, "report": report }));
            }
            Err(e) => {
                any_failed = true;
                if !args.json {
                    println!("lead {lead} h: FAILED: {e}");
                }
                out.push(json!({
                    "lead_hours": lead,
                    "error": e.to_string(),
                    "verification_failure": e.is_verification_failure(),
                }));
            }
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(if any_failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
