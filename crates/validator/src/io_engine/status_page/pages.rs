//! The status page's detail pages, each a pure function from a view (`crate::operator`) to
//! HTML: a run, a miner and the weights, plus the error page (the overview is `overview`).
//! What each page answers is in docs/operations.md ("Operator view").

use std::fmt::Write;

use chrono::{DateTime, Utc};
use gaia_store::ERA5_LEADS;

use super::html::{
    ago, badge, card, esc, num, page, score_colour, table, td, td_html, td_num, time,
};
use super::svg::{bar_chart, heat_map, line_plot, outcome_bar, HeatRow, Point};
use crate::operator::{MinerHistory, RunDetail, RunSummary, WeightsView};

/// A run's outcomes as `(status, count)`, for the outcome bar.
pub(super) fn outcomes_of(r: &RunSummary) -> Vec<(String, i64)> {
    r.outcomes
        .iter()
        .map(|(s, n)| (s.as_str().to_owned(), *n))
        .collect()
}

/// A run: its summary, the miners × leads heat map and every miner's status and reason.
pub fn run(d: &RunDetail) -> String {
    let r = &d.run;
    let mut body = String::new();
    body.push_str(r#"<div class="cards">"#);
    body.push_str(&card("Stage", &badge(r.status.as_str())));
    body.push_str(&card("GFS cycle", &esc(&time(Some(r.gfs_init)))));
    body.push_str(&card("Started", &esc(&time(Some(r.started)))));
    body.push_str(&card("Finished", &esc(&time(r.completed))));
    body.push_str(&card("Miners", &r.miners.to_string()));
    body.push_str(&card(
        "Outcomes",
        &format!(
            "{}<div class=\"muted\" style=\"font-size:12px;font-weight:400\">{}</div>",
            outcome_bar(&outcomes_of(r)),
            esc(&r
                .outcomes
                .iter()
                .map(|(s, n)| format!("{} {n}", s.as_str()))
                .collect::<Vec<_>>()
                .join(", "))
        ),
    ));
    body.push_str("</div>");
    if let Some(e) = &r.error {
        let _ = write!(body, r#"<p class="note err">Run error: {}</p>"#, esc(e));
    }
    body.push_str(
        "<h2>Scores per miner: Day-1, ERA5 lead score L<sub>h</sub> (24 h … 240 h), overall</h2>",
    );
    let mut columns = vec!["Day-1".to_owned()];
    columns.extend(ERA5_LEADS.iter().map(|h| format!("L{h}")));
    columns.push("Overall".to_owned());
    let rows: Vec<HeatRow> = d
        .miners
        .iter()
        .map(|m| {
            let mut cells = vec![m.day1];
            cells.extend(m.era5.iter().map(|l| l.score));
            cells.push(m.overall);
            HeatRow {
                uid: m.uid,
                cells,
                status: m.status.as_str().to_owned(),
            }
        })
        .collect();
    if rows.is_empty() {
        body.push_str(r#"<p class="muted">No miner was asked in this run.</p>"#);
    } else {
        body.push_str(&heat_map("heatmap", &columns, &rows));
    }
    body.push_str("<h2>Miners</h2>");
    let table_rows: Vec<Vec<String>> = d
        .miners
        .iter()
        .map(|m| {
            let short: String = m.hotkey.chars().take(10).collect();
            vec![
                td_html(&format!(r#"<a href="/miners/{0}">{0}</a>"#, m.uid)),
                td_html(&format!(
                    r#"<span title="{}">{}…</span>"#,
                    esc(&m.hotkey),
                    esc(&short)
                )),
                td_html(&badge(m.status.as_str())),
                score_td(m.day1),
                score_td(m.era5_combined),
                score_td(m.overall),
                td_html(&format!(
                    r#"<span class="reason">{}</span>"#,
                    esc(m.reason.as_deref().unwrap_or(""))
                )),
            ]
        })
        .collect();
    body.push_str(&table(
        "miners",
        &[
            "UID",
            "Hotkey",
            "Status",
            "Day-1",
            "ERA5 mean",
            "Overall",
            "Failure reason",
        ],
        &table_rows,
    ));
    page(
        &format!("Run {} · GFS {}", r.id, time(Some(r.gfs_init))),
        &body,
    )
}

fn score_td(v: Option<f64>) -> String {
    format!(
        r#"<td class="n" style="background:{}">{}</td>"#,
        if v.is_some() {
            score_colour(v)
        } else {
            "transparent".to_owned()
        },
        num(v)
    )
}

/// A miner: its score history plot and outcome in every run.
pub fn miner(h: &MinerHistory) -> String {
    let mut body = String::new();
    let completed = h
        .runs
        .iter()
        .filter(|r| r.line.status == gaia_store::ResponseStatus::Completed)
        .count();
    body.push_str(r#"<div class="cards">"#);
    body.push_str(&card("UID", &h.uid.to_string()));
    body.push_str(&card(
        "Hotkey",
        &format!(
            r#"<span style="font-size:13px">{}</span>"#,
            esc(h.hotkey.as_deref().unwrap_or("not in the metagraph"))
        ),
    ));
    body.push_str(&card("Runs", &h.runs.len().to_string()));
    body.push_str(&card(
        "Completed",
        &format!("{completed} / {}", h.runs.len()),
    ));
    if let Some(last) = h.runs.first() {
        body.push_str(&card("Latest outcome", &badge(last.line.status.as_str())));
    }
    body.push_str("</div>");
    body.push_str("<h2>Score history</h2>");
    let oldest_first: Vec<_> = h.runs.iter().rev().collect();
    let points = |f: &dyn Fn(&crate::operator::MinerRunLine) -> Option<f64>| -> Vec<Point> {
        oldest_first
            .iter()
            .map(|r| Point {
                label: format!("run {} · {}", r.run_id, time(r.gfs_init)),
                href: format!("/runs/{}", r.run_id),
                value: f(r),
            })
            .collect()
    };
    let overall = points(&|r| r.line.overall);
    let day1 = points(&|r| r.line.day1);
    let era5 = points(&|r| r.line.era5_combined);
    let scored = |r: &&crate::operator::MinerRunLine| {
        r.line.overall.is_some() || r.line.day1.is_some() || r.line.era5_combined.is_some()
    };
    if h.runs.is_empty() {
        body.push_str(r#"<p class="muted">This miner is in no run yet.</p>"#);
    } else if !h.runs.iter().any(|r| scored(&r)) {
        body.push_str(r#"<p class="note">No score to plot: the miner was not scored in any of these runs (the failure reasons are below).</p>"#);
    } else {
        body.push_str(&line_plot(
            "history",
            &[
                ("overall", "#1f6feb", &overall),
                ("ERA5 mean", "#2da44e", &era5),
                ("Day-1", "#d4a72c", &day1),
            ],
        ));
    }
    body.push_str("<h2>Outcome per run</h2>");
    let rows: Vec<Vec<String>> = h
        .runs
        .iter()
        .map(|r| {
            vec![
                td_html(&format!(r#"<a href="/runs/{0}">run {0}</a>"#, r.run_id)),
                td(&time(r.gfs_init)),
                td_html(&badge(r.line.status.as_str())),
                score_td(r.line.day1),
                score_td(r.line.era5_combined),
                score_td(r.line.overall),
                td_html(&format!(
                    r#"<span class="reason">{}</span>"#,
                    esc(r.line.reason.as_deref().unwrap_or(""))
                )),
            ]
        })
        .collect();
    body.push_str(&table(
        "outcomes",
        &[
            "Run",
            "GFS cycle",
            "Status",
            "Day-1",
            "ERA5 mean",
            "Overall",
            "Failure reason",
        ],
        &rows,
    ));
    page(&format!("Miner {}", h.uid), &body)
}

/// Weights: the newest vector as a bar chart, its burn share and change, and the history.
pub fn weights(w: &WeightsView, now: DateTime<Utc>) -> String {
    let mut body = String::new();
    let Some(newest) = w.attempts.first() else {
        body.push_str(r#"<p class="muted">No weights recorded yet: the weights task records a vector after the first run completes (CHAIN__WEIGHTS_MODE shadow or on).</p>"#);
        return page("Weights", &body);
    };
    body.push_str(r#"<div class="cards">"#);
    body.push_str(&card(
        "Newest vector",
        &format!(
            "{}<div class=\"muted\" style=\"font-size:12px;font-weight:400\">{} ({})</div>",
            badge(if newest.shadow {
                "shadow"
            } else {
                newest.outcome.as_str()
            }),
            esc(&time(Some(newest.created_at))),
            esc(&ago(newest.created_at, now))
        ),
    ));
    body.push_str(&card(
        "Block",
        &newest
            .block
            .map_or_else(|| "–".to_owned(), |b| b.to_string()),
    ));
    body.push_str(&card("Miners with weight", &newest.nonzero.to_string()));
    body.push_str(&card(
        "Burn share",
        &match (newest.burn_share, w.burn_uid) {
            (Some(b), Some(uid)) => format!(
                "{:.1} % <span class=\"muted\" style=\"font-size:12px\">to uid {uid}</span>",
                b * 100.0
            ),
            _ => "n/a (burn hotkey not in the metagraph)".to_owned(),
        },
    ));
    if let Some(c) = &w.change {
        body.push_str(&card(
            "Change since previous (L1)",
            &format!(
                r#"{:.4}<div class="muted" style="font-size:12px;font-weight:400">Σ|w − w_prev|: 0 = same vector, 2 = no overlap</div>"#,
                c.l1_distance
            ),
        ));
    }
    body.push_str("</div>");
    body.push_str("<h2>Newest vector: miners with weight, largest first</h2>");
    if let (Some(uid), Some(share)) = (w.burn_uid, newest.burn_share) {
        let _ = write!(
            body,
            r#"<p class="muted">The burn UID {uid} ({:.1} % of the total) is left out of the chart so the miners' bars stay readable.</p>"#,
            share * 100.0
        );
    }
    body.push_str(&bar_chart("weights-chart", &newest.weights, w.burn_uid));
    body.push_str("<h2>Largest weights</h2>");
    let rows: Vec<Vec<String>> = newest
        .top
        .iter()
        .map(|(uid, v)| {
            vec![
                td_html(&format!(
                    r#"<a href="/miners/{uid}">{uid}</a>{}"#,
                    if Some(*uid) == w.burn_uid {
                        " (burn)"
                    } else {
                        ""
                    }
                )),
                td_num(&format!("{v:.6}")),
                td_num(&format!("{:.2} %", 100.0 * v / newest.total.max(1e-12))),
            ]
        })
        .collect();
    body.push_str(&table("top", &["UID", "Weight", "Share"], &rows));
    if let Some(c) = &w.change {
        let _ = write!(
            body,
            "<h2>Largest changes since <code>{}</code></h2>",
            esc(&c.previous_key)
        );
        let rows: Vec<Vec<String>> = c
            .largest_moves
            .iter()
            .map(|(uid, d)| vec![td(&uid.to_string()), td_num(&format!("{d:+.6}"))])
            .collect();
        if rows.is_empty() {
            body.push_str(r#"<p class="muted">Identical to the previous vector.</p>"#);
        } else {
            body.push_str(&table("changes", &["UID", "Weight change"], &rows));
        }
    }
    body.push_str("<h2>History</h2>");
    let rows: Vec<Vec<String>> = w
        .attempts
        .iter()
        .map(|a| {
            let top: Vec<String> = a
                .top
                .iter()
                .take(5)
                .map(|(u, x)| format!("{u}: {x:.4}"))
                .collect();
            vec![
                td(&time(Some(a.created_at))),
                td_html(&badge(if a.shadow {
                    "shadow"
                } else {
                    a.outcome.as_str()
                })),
                td_num(&a.block.map_or_else(|| "–".to_owned(), |b| b.to_string())),
                td_num(&a.nonzero.to_string()),
                td_num(
                    &a.burn_share
                        .map_or_else(|| "n/a".to_owned(), |b| format!("{:.1} %", b * 100.0)),
                ),
                td(&top.join(", ")),
                td_html(&format!(
                    r#"<span class="reason" style="color:#57606a">{}</span>"#,
                    esc(a.detail.as_deref().unwrap_or(""))
                )),
            ]
        })
        .collect();
    body.push_str(&table(
        "history",
        &[
            "When",
            "Outcome",
            "Block",
            "Miners",
            "Burn",
            "Top miners",
            "Detail",
        ],
        &rows,
    ));
    page("Weights", &body)
}

/// An error page: what failed, in words an operator can act on.
pub fn error(title: &str, message: &str) -> String {
    page(
        title,
        &format!(
            r#"<p class="note err" id="error">{}</p><p><a href="/">Back to the overview</a></p>"#,
            esc(message)
        ),
    )
}
