//! The read-only commands' readable output: fixed-width tables, one line per run, miner or
//! weight vector. `--json` prints the records of `views` instead; this file only formats.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::views::{MinerHistory, MinerLine, Overview, RunDetail, RunSummary, WeightsView};
use super::weights::WeightsAttempt;

/// A score with 4 decimals, or `-`.
pub fn score(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |x| format!("{x:.4}"))
}

/// A time as `YYYY-MM-DD HH:MM`, or `-`.
pub fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "-".to_owned(),
        |t| t.format("%Y-%m-%d %H:%M").to_string(),
    )
}

/// `completed=7 miner_offline=1`.
fn outcomes(r: &RunSummary) -> String {
    let parts: Vec<String> = r.outcomes.iter().map(|(s, n)| format!("{s}={n}")).collect();
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join(" ")
    }
}

/// The runs table.
pub fn runs(runs: &[RunSummary]) -> String {
    let mut out = format!(
        "{:>5}  {:<16}  {:<16}  {:<16}  {:>6}  outcomes\n",
        "run", "gfs init", "started", "status", "miners"
    );
    for r in runs {
        let _ = writeln!(
            out,
            "{:>5}  {:<16}  {:<16}  {:<16}  {:>6}  {}{}",
            r.id,
            time(Some(r.gfs_init)),
            time(Some(r.started)),
            r.status.as_str(),
            r.miners,
            outcomes(r),
            r.error
                .as_deref()
                .map(|e| format!("  error: {e}"))
                .unwrap_or_default()
        );
    }
    if runs.is_empty() {
        out.push_str("(no runs yet)\n");
    }
    out
}

fn attempt_line(label: &str, w: Option<&WeightsAttempt>) -> String {
    match w {
        None => format!("{label:<18} never\n"),
        Some(w) => format!(
            "{label:<18} {} ({}, block {}, {} miners, burn {})\n",
            time(Some(w.created_at)),
            w.outcome.as_str(),
            w.block.map_or_else(|| "?".to_owned(), |b| b.to_string()),
            w.nonzero,
            w.burn_share
                .map_or_else(|| "n/a".to_owned(), |b| format!("{:.1} %", b * 100.0))
        ),
    }
}

/// The `status` report.
pub fn overview(o: &Overview) -> String {
    let mut out = format!(
        "database: {}   chain: {}   weights: {}   scoring profile: {}\n\n",
        o.database, o.settings.chain_mode, o.settings.weights_mode, o.settings.scoring_profile
    );
    out.push_str("recent runs\n");
    out.push_str(&runs(&o.runs));
    out.push_str("\nledger\n");
    if o.ledger.counts.is_empty() {
        out.push_str("  (empty)\n");
    }
    for (s, n) in &o.ledger.counts {
        let _ = writeln!(out, "  {:<16} {n}", s.as_str());
    }
    match &o.ledger.oldest_waiting {
        Some(j) => {
            let _ = writeln!(
                out,
                "  oldest waiting: {} ({}, queued {}, due {}, attempts {}/{}){}",
                j.job_key,
                j.status.as_str(),
                time(Some(j.created_at)),
                time(Some(j.due)),
                j.attempts,
                j.max_attempts,
                j.last_error
                    .as_deref()
                    .map(|e| format!(", last error: {e}"))
                    .unwrap_or_default()
            );
        }
        None => out.push_str("  oldest waiting: none\n"),
    }
    out.push_str("\nweights\n");
    out.push_str(&attempt_line("  last set", o.last_weights_set.as_ref()));
    out.push_str(&attempt_line(
        "  last shadowed",
        o.last_weights_shadowed.as_ref(),
    ));
    out.push_str(&attempt_line(
        "  last attempt",
        o.last_weights_attempt.as_ref(),
    ));
    out
}

fn miner_row(out: &mut String, prefix: &str, m: &MinerLine) {
    let leads: Vec<String> = m.era5.iter().map(|l| score(l.score)).collect();
    let _ = writeln!(
        out,
        "{prefix}{:>4}  {:<24}  {:>7}  {}  {:>7}  {}",
        m.uid,
        m.status.as_str(),
        score(m.day1),
        leads
            .iter()
            .map(|s| format!("{s:>7}"))
            .collect::<Vec<_>>()
            .join(" "),
        score(m.overall),
        m.reason.as_deref().unwrap_or("")
    );
}

fn miner_header(prefix: &str) -> String {
    let leads: Vec<String> = gaia_store::ERA5_LEADS
        .iter()
        .map(|h| format!("{:>7}", format!("L{h}")))
        .collect();
    format!(
        "{prefix}{:>4}  {:<24}  {:>7}  {}  {:>7}  reason\n",
        "uid",
        "status",
        "day1",
        leads.join(" "),
        "overall"
    )
}

/// The `run <id>` report.
pub fn run(d: &RunDetail) -> String {
    let mut out = runs(std::slice::from_ref(&d.run));
    out.push('\n');
    out.push_str(&miner_header(""));
    for m in &d.miners {
        miner_row(&mut out, "", m);
    }
    out
}

/// The `miner <uid>` report.
pub fn miner(h: &MinerHistory) -> String {
    let mut out = format!(
        "miner {}  hotkey {}\n\n",
        h.uid,
        h.hotkey.as_deref().unwrap_or("(not in the metagraph)")
    );
    out.push_str(&miner_header(&format!(
        "{:>5}  {:<16}  ",
        "run", "gfs init"
    )));
    for r in &h.runs {
        miner_row(
            &mut out,
            &format!("{:>5}  {:<16}  ", r.run_id, time(r.gfs_init)),
            &r.line,
        );
    }
    if h.runs.is_empty() {
        out.push_str("(in no run yet)\n");
    }
    out
}

/// The `weights` report (recorded vectors).
pub fn weights(w: &WeightsView) -> String {
    let mut out = format!(
        "burn uid: {}\n\n{:<16}  {:<10}  {:>9}  {:>6}  {:>6}  top miners (uid:weight)\n",
        w.burn_uid
            .map_or_else(|| "not in the metagraph".to_owned(), |u| u.to_string()),
        "when",
        "outcome",
        "block",
        "miners",
        "burn"
    );
    for a in &w.attempts {
        let top: Vec<String> = a
            .top
            .iter()
            .take(5)
            .map(|(u, x)| format!("{u}:{x:.4}"))
            .collect();
        let _ = writeln!(
            out,
            "{:<16}  {:<10}  {:>9}  {:>6}  {:>6}  {}",
            time(Some(a.created_at)),
            if a.shadow {
                "shadow"
            } else {
                a.outcome.as_str()
            },
            a.block.map_or_else(|| "?".to_owned(), |b| b.to_string()),
            a.nonzero,
            a.burn_share
                .map_or_else(|| "n/a".to_owned(), |b| format!("{:.1}%", b * 100.0)),
            top.join(" ")
        );
    }
    if w.attempts.is_empty() {
        out.push_str("(no weights recorded yet)\n");
    }
    if let Some(c) = &w.change {
        let _ = writeln!(
            out,
            "\nchange since {}: L1 distance {:.4}",
            c.previous_key, c.l1_distance
        );
    }
    out
}
