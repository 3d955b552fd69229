//! `gaia-validator score day1|era5`: score one forecast store by hand with the same library
//! functions the `weather.score.day1` / `weather.score.era5` compute handlers run, and print the
//! report (a table, or JSON with `--json`; field names in docs/scoring.md).

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::{DateTime, TimeDelta, Utc};
use gaia_scoring::aggregate::{aggregate_overall, score_lead, OverallOutcome, OverallRequest};
use gaia_scoring::day1::{score_day1, Day1Config, Day1Report, Day1Request};
use gaia_scoring::era5::{score_era5_lead, Era5Config, Era5Request};
use gaia_scoring::zarr::{Dataset, OpenOptions};
use serde_json::json;

use crate::cli::{ScoreCommand, ScoreDay1Args, ScoreEra5Args};

/// Run the subcommand.
pub fn run(cmd: &ScoreCommand) -> anyhow::Result<ExitCode> {
    crate::memory::keep_freed_memory_for_scoring();
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
        bearer_token: miner_token(args.token_file.as_deref())?,
        frozen_manifest: None,
        gfs_init_time: gfs_init(args)?,
        lead_hours: args.lead_hours,
        valid_time: None,
        config: Day1Config::default(),
        threads: 1,
        miner_requests_per_minute: gaia_scoring::zarr::DEFAULT_REQUESTS_PER_MINUTE,
        miner_download_deadline_s: gaia_scoring::zarr::DEFAULT_DOWNLOAD_DEADLINE.as_secs(),
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

/// The last lines of `score era5`: ERA5_norm and completeness of the leads scored, the overall
/// score when the Day-1 score was given, or why the completeness gate fails.
pub fn render_summary(summary: &OverallOutcome, with_day1: bool) -> String {
    match summary {
        OverallOutcome::Scored(s) => {
            let mut text = format!(
                "ERA5_norm {:.6} (Σ L_h / 10 over {} lead(s); completeness {:.1})",
                s.era5_norm,
                s.leads.len(),
                s.completeness
            );
            if with_day1 {
                text.push_str(&format!(
                    "\noverall {:.6} = 0.95 · ERA5_norm + 0.05 · [Day-1 ≥ 0.1] (pass: {})",
                    s.overall, s.day1_pass
                ));
            }
            text
        }
        OverallOutcome::Incomplete {
            lead_hours,
            missing,
            ..
        } => format!(
            "ERA5 incomplete at lead {lead_hours} h: missing {} (era5_scoring_failed)",
            missing.join(", ")
        ),
    }
}

/// The GFS init time of `score era5`: given, or what the forecast store says.
/// The miner bearer token from `--token-file` or `GAIA_MINER_TOKEN`.
fn miner_token(file: Option<&std::path::Path>) -> anyhow::Result<Option<String>> {
    crate::files::secret(file, "GAIA_MINER_TOKEN").context("reading the miner token")
}

fn era5_init(args: &ScoreEra5Args) -> anyhow::Result<DateTime<Utc>> {
    if let Some(s) = &args.gfs_init {
        return parse_time(s);
    }
    let options = OpenOptions {
        bearer_token: miner_token(args.token_file.as_deref())?,
        ..OpenOptions::default()
    };
    let forecast = Dataset::open(&args.forecast, &options).context("opening the forecast")?;
    match forecast
        .init_time()
        .context("reading the forecast's init time")?
    {
        Some(t) => {
            eprintln!("GFS init {} (from the forecast store)", t.to_rfc3339());
            Ok(t)
        }
        None => bail!("the forecast store does not say its init time: pass --gfs-init"),
    }
}

fn era5(args: &ScoreEra5Args) -> anyhow::Result<ExitCode> {
    let init = era5_init(args)?;
    let mut out = Vec::new();
    let mut any_failed = false;
    let mut scored = Vec::new();
    for &lead in &args.lead_hours {
        let req = Era5Request {
            forecast: args.forecast.clone(),
            truth: args.truth.clone(),
            climatology: args.climatology.clone(),
            bearer_token: miner_token(args.token_file.as_deref())?,
            frozen_manifest: None,
            gfs_init_time: init,
            lead_hours: lead,
            config: Era5Config {
                profile: args.profile,
                ..Era5Config::default()
            },
        };
        match score_era5_lead(&req) {
            Ok(report) => {
                let metrics = report.to_lead_metrics();
                let lead_score = score_lead(&metrics);
                scored.push(metrics);
                if !args.json {
                    println!(
                        "lead {lead} h: scored  skill_norm {} acc_norm {} rmse_norm {} L_h {:.6}",
                        num(lead_score.skill_norm),
                        num(lead_score.acc_norm),
                        num(lead_score.rmse_norm),
                        lead_score.score
                    );
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
                        for l in v.levels.iter().filter(|l| l.level_hpa.is_some()) {
                            println!(
                                "       {:>6} hPa  rmse {:>14} acc {:>10} skill {:>10}",
                                l.level_hpa.unwrap_or_default(),
                                num(l.rmse),
                                num(l.acc),
                                num(l.skill)
                            );
                        }
                    }
                }
                out.push(json!({ "lead_hours": lead, "lead_score": lead_score, "report": report }));
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
    // ERA5_norm (and the overall score given the Day-1 score) over the leads scored here; a lead
    // not scored counts 0, as in the lifecycle.
    let summary = aggregate_overall(&OverallRequest {
        leads: scored,
        day1_score: args.day1_score,
        config: Default::default(),
    })?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "leads": out, "summary": summary }))?
        );
    } else {
        println!("{}", render_summary(&summary, args.day1_score.is_some()));
    }
    Ok(if any_failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
