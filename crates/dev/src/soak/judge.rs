//! The verdict of a soak from its runs' outcomes: the criteria table and the figures of the
//! report. A full soak is judged on both runs (memory on the calm one, whose processes are not
//! restarted by chaos; crashes, the queue and the slow store on the chaos one; the two compared
//! bit for bit). A soak of the calm run only (`--calm-only`, or `--judge-kept` of a soak stopped
//! after its calm run: the long runs of docs/soak.md, where a second run of the same length does
//! not fit) is judged on that run alone, and the report says that the chaos criteria were not
//! judged.

use std::collections::BTreeMap;

use super::criteria::{self, Criterion};
use super::run::RunOutcome;
use super::{data, report, world};
use crate::cli::SoakArgs;

/// Judge a full soak: the calm run and the chaos run over the same world.
pub fn both(args: &SoakArgs, days: u32, calm: RunOutcome, chaos: RunOutcome) -> report::Report {
    let mut criteria = vec![criteria::crashes(
        chaos.crashed,
        &chaos.chaos,
        chaos.supervisor_alive,
    )];
    criteria.extend(memory(&calm));
    criteria.push(lag(&calm, "calm"));
    criteria.push(lag(&chaos, "chaos"));
    criteria.push(criteria::queue_depth(&chaos.samples, 0.1));
    let diff = data::differences(&calm.settled, &chaos.settled);
    criteria.push(Criterion {
        name: "chaos_equals_calm_mismatches".into(),
        value: diff.len() as f64,
        threshold: 0.0,
        pass: diff.is_empty(),
        detail: format!(
            "{} settled responses, {} score rows compared{}{}",
            calm.settled.responses.len(),
            calm.settled.rows.len(),
            [("calm", &calm), ("chaos", &chaos)]
                .iter()
                .filter(|(_, r)| r.drained_s.is_none())
                .map(|(n, _)| format!("; the {n} run's drain timed out with runs still open"))
                .collect::<String>(),
            diff.first()
                .map(|d| format!("; first: {d}"))
                .unwrap_or_default()
        ),
    });
    criteria.push(lead_rule(&calm, "calm"));
    criteria.push(lead_rule(&chaos, "chaos"));
    criteria.extend(slow_store(args.miners, &chaos, "chaos"));
    let mut figures = serde_json::json!({
        "wall_s_calm": calm.wall_s,
        "wall_s_chaos": chaos.wall_s,
        "drain_s_calm": calm.drained_s,
        "drain_s_chaos": chaos.drained_s,
    });
    extend(&mut figures, common_figures(args, days, &chaos, "chaos"));
    finish(criteria, figures, chaos, "chaos")
}

/// Judge the calm run alone: every criterion a calm run can show (crashes, memory, lag, queue,
/// §12-1, the slow store); the chaos criteria are named as not judged in the figures.
pub fn calm_only(args: &SoakArgs, days: u32, calm: RunOutcome) -> report::Report {
    let mut criteria = vec![criteria::crashes(calm.crashed, &[], calm.supervisor_alive)];
    criteria.extend(memory(&calm));
    criteria.push(lag(&calm, "calm"));
    criteria.push(criteria::queue_depth(&calm.samples, 0.1));
    criteria.push(lead_rule(&calm, "calm"));
    criteria.extend(slow_store(args.miners, &calm, "calm"));
    let mut figures = serde_json::json!({
        "runs_judged": "calm only: no chaos run, so chaos kills, chaos lag and \
                        chaos_equals_calm were not judged",
        "wall_s_calm": calm.wall_s,
        "drain_s_calm": calm.drained_s,
    });
    extend(&mut figures, common_figures(args, days, &calm, "calm"));
    finish(criteria, figures, calm, "calm")
}

/// The report of the judged `criteria`, plotting `run` (named `plotted`).
fn finish(
    criteria: Vec<Criterion>,
    figures: serde_json::Value,
    run: RunOutcome,
    plotted: &str,
) -> report::Report {
    report::Report {
        pass: criteria.iter().all(|c| c.pass),
        criteria,
        figures,
        plotted_run: plotted.to_string(),
        samples: run.samples,
        chaos: run.chaos,
        weights: run.weights,
    }
}

/// Memory is judged on the calm run: chaos restarts make a saw-tooth of fresh processes.
fn memory(calm: &RunOutcome) -> [Criterion; 3] {
    let (day, wall) = criteria::io_engine_memory(&calm.samples, 0.25);
    [day, wall, criteria::worker_baseline(&calm.samples)]
}

fn lag(run: &RunOutcome, name: &str) -> Criterion {
    let mut lag = criteria::lag(&run.samples);
    lag.name = format!("{}_{name}", lag.name);
    lag
}

fn lead_rule(run: &RunOutcome, name: &str) -> Criterion {
    let (checked, bad) = &run.lead_rule;
    Criterion {
        name: format!("lead_by_lead_violations_{name}"),
        value: bad.len() as f64,
        threshold: 0.0,
        pass: bad.is_empty() && *checked > 0,
        detail: format!(
            "{checked} overall scores checked{}",
            bad.first()
                .map(|d| format!("; first: {d}"))
                .unwrap_or_default()
        ),
    }
}

/// The slow miner's scores arrive: every settled cycle of `run` holds its ten leads (fleets
/// with a slow store only).
fn slow_store(miners: u16, run: &RunOutcome, name: &str) -> Option<Criterion> {
    let specs = world::fleet_specs(miners);
    let slow = specs.iter().find(|m| m.behaviour == world::SLOW_STORE)?;
    let uid = u8::try_from(slow.uid).unwrap_or(u8::MAX);
    let (checked, missing) = data::unscored(&run.settled, uid);
    Some(Criterion {
        name: "slow_store_miner_unscored_cycles".into(),
        value: missing.len() as f64,
        threshold: 0.0,
        pass: missing.is_empty() && checked > 0,
        detail: format!(
            "uid {uid} (every read 100 ms late): {checked} settled cycles of the {name} run{}",
            missing
                .first()
                .map(|d| format!("; first: {d}"))
                .unwrap_or_default()
        ),
    })
}

/// Settings, jobs, rates and peak memory, from the samples of `run`.
fn common_figures(args: &SoakArgs, days: u32, run: &RunOutcome, name: &str) -> serde_json::Value {
    let jobs = run.samples.last().map_or(0.0, |s| s.jobs);
    let mut peak = BTreeMap::<String, u64>::new();
    for s in &run.samples {
        for (n, _, r) in &s.rss {
            let k = if n.starts_with("compute") {
                "compute"
            } else {
                n.as_str()
            };
            let e = peak.entry(k.to_string()).or_default();
            *e = (*e).max(*r);
        }
    }
    let mut figures = serde_json::json!({
        "simulated_days": days,
        "miners": args.miners,
        "time_scale": args.time_scale,
        "chaos_every_s": args.chaos_every,
        "db": format!("{:?}", args.db).to_lowercase(),
        "wall_s_per_simulated_day": run.wall_s / f64::from(days),
        "supervisor_restarts": run.samples.last().map_or(0, |s| s.supervisor_restarts),
        format!("compute_jobs_{name}"): jobs,
        "jobs_per_s": jobs / run.wall_s.max(1e-3),
        "peak_rss_bytes": peak,
    });
    // A calm-only soak ran no chaos: its figures do not show a chaos period.
    if name != "chaos" {
        if let Some(f) = figures.as_object_mut() {
            f.remove("chaos_every_s");
        }
    }
    figures
}

fn extend(into: &mut serde_json::Value, from: serde_json::Value) {
    if let (Some(into), serde_json::Value::Object(from)) = (into.as_object_mut(), from) {
        into.extend(from);
    }
}
