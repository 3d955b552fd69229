//! HTML building blocks of the status page: escaping, the page frame with its inline style
//! sheet (no external assets: the page works air-gapped), tables, number and time formats and
//! the colour scale shared by the tables and the plots.
//!
//! Everything that comes from the database goes through [`esc`] (text and attribute values
//! alike); the rest of the markup is fixed strings of this crate.

use std::fmt::Write;

use chrono::{DateTime, Utc};

/// Escape `s` for HTML text and double-quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A score with 4 decimals, or an en dash.
pub fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |x| format!("{x:.4}"))
}

/// A UTC time as `YYYY-MM-DD HH:MM`, or an en dash.
pub fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "–".to_owned(),
        |t| t.format("%Y-%m-%d %H:%M").to_string(),
    )
}

/// How long ago `t` was, roughly (`3 h ago`).
pub fn ago(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let s = (now - t).num_seconds();
    match s {
        s if s < 0 => "in the future".to_owned(),
        s if s < 120 => format!("{s} s ago"),
        s if s < 7200 => format!("{} min ago", s / 60),
        s if s < 172_800 => format!("{} h ago", s / 3600),
        s => format!("{} days ago", s / 86_400),
    }
}

/// Fill colour of a score in [0, 1] (clamped): red (0) through amber to green (1); grey for
/// none. Used by the heat map, its legend and the score tables.
pub fn score_colour(v: Option<f64>) -> String {
    let Some(v) = v.filter(|v| v.is_finite()) else {
        return "#d0d0d0".to_owned();
    };
    let t = v.clamp(0.0, 1.0);
    // Hue 0 (red) → 120 (green), fixed saturation and lightness.
    format!("hsl({:.0},70%,{:.0}%)", t * 120.0, 62.0 - t * 14.0)
}

/// How a status reads at a glance: `good`, `bad`, `wait` (a CSS class).
pub fn status_class(status: &str) -> &'static str {
    match status {
        "completed" | "succeeded" | "submitted" | "day1_scored" => "good",
        s if s.contains("fail")
            || s.contains("error")
            || s.contains("timeout")
            || s == "miner_offline"
            || s == "quarantined"
            || s == "stale_abandoned" =>
        {
            "bad"
        }
        _ => "wait",
    }
}

/// A status as a coloured badge.
pub fn badge(status: &str) -> String {
    format!(
        r#"<span class="badge {}">{}</span>"#,
        status_class(status),
        esc(status)
    )
}

const STYLE: &str = r#"
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d232a;background:#f4f6f8}
header{background:#1f3a5f;color:#fff;padding:10px 24px;display:flex;gap:24px;align-items:baseline}
header b{font-size:17px}header a{color:#dbe7f5;text-decoration:none}header a:hover{text-decoration:underline}
main{padding:16px 24px;max-width:1400px}
h1{font-size:21px;margin:4px 0 12px}h2{font-size:16px;margin:20px 0 8px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{background:#fff;border:1px solid #d8dee4;border-radius:6px;padding:10px 14px;min-width:200px}
.card .k{color:#57606a;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .v{font-size:20px;font-weight:600}
table{border-collapse:collapse;background:#fff;border:1px solid #d8dee4}
th,td{padding:4px 8px;border-bottom:1px solid #eaeef2;text-align:left;vertical-align:top}
th{background:#f0f3f6;font-weight:600;font-size:12px}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:0 6px;border-radius:9px;font-size:12px;white-space:nowrap}
.good{background:#d6f5dd;color:#0f5323}.bad{background:#fde0df;color:#86181d}.wait{background:#fff3c4;color:#6b4e00}
.muted{color:#57606a}.err{color:#86181d}
.reason{max-width:420px;font-size:12px;color:#86181d;overflow-wrap:anywhere}
.note{background:#fff;border-left:4px solid #1f3a5f;padding:8px 12px;margin:8px 0}
svg text{font:11px system-ui,sans-serif;fill:#1d232a}
a{color:#0b5cad}
"#;

/// A complete page: `<title>`, navigation, the heading and `body`.
pub fn page(title: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 2048);
    let _ = write!(
        out,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>{t} · gaia validator</title><style>{STYLE}</style></head><body><header><b>Gaia validator</b><a href="/">Overview</a><a href="/weights">Weights</a></header><main><h1>{t}</h1>{body}</main></body></html>"#,
        t = esc(title),
    );
    out
}

/// A table with a header row; cells are already HTML.
pub fn table(id: &str, headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!(r#"<table id="{}"><thead><tr>"#, esc(id));
    for h in headers {
        let _ = write!(out, "<th>{h}</th>");
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            out.push_str(c);
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// A text cell (escaped).
pub fn td(text: &str) -> String {
    format!("<td>{}</td>", esc(text))
}

/// A numeric cell (right-aligned).
pub fn td_num(text: &str) -> String {
    format!(r#"<td class="n">{}</td>"#, esc(text))
}

/// A cell holding ready HTML.
pub fn td_html(html: &str) -> String {
    format!("<td>{html}</td>")
}

/// A card with a label and a value (value already HTML).
pub fn card(label: &str, value_html: &str) -> String {
    format!(
        r#"<div class="card"><div class="k">{}</div><div class="v">{value_html}</div></div>"#,
        esc(label)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>alert("x")</script>&'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
        );
        assert!(badge("<b>").contains("&lt;b&gt;"));
        assert!(td("a<b").contains("a&lt;b"));
    }

    #[test]
    fn colours_and_classes() {
        assert_eq!(score_colour(None), "#d0d0d0");
        assert_eq!(score_colour(Some(f64::NAN)), "#d0d0d0");
        assert_eq!(score_colour(Some(-3.0)), score_colour(Some(0.0)));
        assert!(score_colour(Some(1.0)).starts_with("hsl(120"));
        assert_eq!(status_class("completed"), "good");
        assert_eq!(status_class("verification_failed"), "bad");
        assert_eq!(status_class("miner_offline"), "bad");
        assert_eq!(status_class("awaiting_results"), "wait");
    }
}
