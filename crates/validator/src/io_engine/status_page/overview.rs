//! The status page's overview (`/`): the settings in force, the processes (workers connected,
//! restarts), the recent runs with their outcomes, the work ledger with its oldest waiting job,
//! and when weights were last set, shadowed and attempted. A pure function from
//! [`crate::operator::Overview`] and [`ProcessInfo`] to HTML.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::html::{ago, badge, card, esc, page, table, td, td_html, td_num, time};
use super::pages::outcomes_of;
use super::svg::outcome_bar;
use crate::operator::{Overview, RunSummary, WeightsAttempt};

/// The supervisor's name for planned worker recycling in its restart counts.
const RECYCLES: &str = "recycles";

/// The processes as the IO-Engine sees them (the overview's "workers and restarts").
#[derive(Debug, Clone, Default)]
pub struct ProcessInfo {
    /// Compute workers connected now.
    pub workers_connected: i64,
    /// Workers the settings ask for.
    pub workers_configured: usize,
    /// Jobs dispatched and not answered yet.
    pub in_flight: usize,
    /// Jobs waiting for a worker.
    pub queue_depth: usize,
    /// Restarts per process class since the supervisor started (when it published them).
    pub restarts: Option<BTreeMap<String, u64>>,
}

fn runs_table(runs: &[RunSummary]) -> String {
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let text: Vec<String> = r
                .outcomes
                .iter()
                .map(|(s, n)| format!("{} {n}", s.as_str()))
                .collect();
            vec![
                td_html(&format!(r#"<a href="/runs/{0}">run {0}</a>"#, r.id)),
                td(&time(Some(r.gfs_init))),
                td(&time(Some(r.started))),
                td_html(&badge(r.status.as_str())),
                td_num(&r.miners.to_string()),
                td_html(&format!(
                    "{}<div class=\"muted\">{}</div>",
                    outcome_bar(&outcomes_of(r)),
                    esc(&text.join(", "))
                )),
                td_html(&format!(
                    r#"<span class="reason">{}</span>"#,
                    esc(r.error.as_deref().unwrap_or(""))
                )),
            ]
        })
        .collect();
    if rows.is_empty() {
        return r#"<p class="muted">No runs yet. The daily weather task queues one at its cron time; <code>gaia-validator run-now</code> queues today's.</p>"#.to_owned();
    }
    table(
        "runs",
        &[
            "Run",
            "GFS cycle",
            "Started",
            "Stage",
            "Miners",
            "Outcomes",
            "Error",
        ],
        &rows,
    )
}

fn weights_line(label: &str, w: Option<&WeightsAttempt>, now: DateTime<Utc>) -> Vec<String> {
    match w {
        None => vec![td(label), td("never"), td(""), td(""), td("")],
        Some(w) => vec![
            td(label),
            td(&format!(
                "{} ({})",
                time(Some(w.created_at)),
                ago(w.created_at, now)
            )),
            td_html(&badge(if w.shadow {
                "shadow"
            } else {
                w.outcome.as_str()
            })),
            td_num(&w.nonzero.to_string()),
            td_num(
                &w.burn_share
                    .map_or_else(|| "n/a".to_owned(), |b| format!("{:.1} %", b * 100.0)),
            ),
        ],
    }
}

/// The overview: settings, processes, the ledger, the last weights and the recent runs.
pub fn overview(o: &Overview, p: &ProcessInfo) -> String {
    let now = o.generated_at;
    let mut body = String::new();
    // The supervisor counts planned worker recycling beside the restarts; it is not a failure.
    let restarts = p.restarts.as_ref().map_or_else(
        || "–".to_owned(),
        |r| {
            r.iter()
                .filter(|(k, _)| k.as_str() != RECYCLES)
                .map(|(_, v)| v)
                .sum::<u64>()
                .to_string()
        },
    );
    let stuck = o
        .ledger
        .counts
        .get(&gaia_store::JobStatus::Quarantined)
        .copied()
        .unwrap_or(0)
        + o.ledger
            .counts
            .get(&gaia_store::JobStatus::Failed)
            .copied()
            .unwrap_or(0);
    body.push_str(r#"<div class="cards">"#);
    body.push_str(&card("Chain", &esc(&o.settings.chain_mode)));
    body.push_str(&card("Weights mode", &esc(&o.settings.weights_mode)));
    body.push_str(&card("Scoring profile", &esc(&o.settings.scoring_profile)));
    body.push_str(&card("Database", &esc(&o.database)));
    body.push_str(&card(
        "Workers connected",
        &format!("{} / {}", p.workers_connected, p.workers_configured),
    ));
    body.push_str(&card("Process restarts", &esc(&restarts)));
    body.push_str(&card(
        "Jobs in flight / queued",
        &format!("{} / {}", p.in_flight, p.queue_depth),
    ));
    body.push_str(&card(
        "Ledger jobs failed for good",
        &format!(
            r#"<span class="{}">{stuck}</span><div class="muted" style="font-size:12px;font-weight:400">failed + quarantined, all time</div>"#,
            if stuck > 0 { "err" } else { "" }
        ),
    ));
    body.push_str("</div>");

    body.push_str("<h2>Recent runs</h2>");
    body.push_str(&runs_table(&o.runs));

    body.push_str("<h2>Work ledger</h2>");
    let rows: Vec<Vec<String>> = o
        .ledger
        .counts
        .iter()
        .map(|(s, n)| vec![td_html(&badge(s.as_str())), td_num(&n.to_string())])
        .collect();
    if rows.is_empty() {
        body.push_str(r#"<p class="muted">The ledger is empty.</p>"#);
    } else {
        body.push_str(&table("ledger", &["State", "Jobs"], &rows));
    }
    match &o.ledger.oldest_waiting {
        Some(j) => {
            let _ = write!(
                body,
                r#"<p class="note" id="oldest-waiting">Oldest waiting job: <code>{}</code> ({}), queued {} ({}), due {}, attempts {}/{}{}</p>"#,
                esc(&j.job_key),
                esc(j.status.as_str()),
                time(Some(j.created_at)),
                ago(j.created_at, now),
                time(Some(j.due)),
                j.attempts,
                j.max_attempts,
                j.last_error
                    .as_deref()
                    .map(|e| format!(r#", last error: <span class="err">{}</span>"#, esc(e)))
                    .unwrap_or_default()
            );
        }
        None => body.push_str(r#"<p class="muted" id="oldest-waiting">Nothing is waiting.</p>"#),
    }

    body.push_str(r#"<h2>Weights <a href="/weights" style="font-size:13px">details</a></h2>"#);
    body.push_str(&table(
        "last-weights",
        &["", "When", "Outcome", "Miners", "Burn share"],
        &[
            weights_line("Last set on chain", o.last_weights_set.as_ref(), now),
            weights_line("Last shadowed", o.last_weights_shadowed.as_ref(), now),
            weights_line("Last attempt", o.last_weights_attempt.as_ref(), now),
        ],
    ));
    if let Some(r) = &p.restarts {
        if !r.is_empty() {
            let rows: Vec<Vec<String>> = r
                .iter()
                .map(|(k, v)| {
                    let what = if k.as_str() == RECYCLES {
                        "compute workers recycled after their job quota (planned, not a failure)"
                    } else {
                        "replaced after a crash, a job timeout or the memory limit"
                    };
                    vec![td(k), td_num(&v.to_string()), td(what)]
                })
                .collect();
            body.push_str("<h2>Process restarts since the supervisor started</h2>");
            body.push_str(&table("restarts", &["Class", "Count", "Meaning"], &rows));
        }
    }
    let _ = write!(
        body,
        r#"<p class="muted">Read at {} UTC. Reload for fresh figures.</p>"#,
        time(Some(now))
    );
    page("Overview", &body)
}
