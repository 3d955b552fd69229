//! The status page's plots, as inline SVG generated here (no script, no external asset):
//! the run page's miners × leads heat map, the miner page's score history, the weights page's
//! bar chart and the small stacked bar of a run's outcomes.
//!
//! Every data mark carries its numbers in `data-*` attributes and a `<title>` tooltip, so a
//! reader can hover for the value and a test can read the plotted points from the DOM.

use std::fmt::Write;

use super::html::{esc, num, score_colour, status_class};

/// One row of the heat map: a miner's label, link and its cells.
pub struct HeatRow {
    /// UID.
    pub uid: u8,
    /// One value per column (`None` = not scored).
    pub cells: Vec<Option<f64>>,
    /// The miner's status, written after the row when it is not a success (why it is grey).
    pub status: String,
}

/// A miners × columns heat map of scores in [0, 1], one row per miner, with column labels on
/// top and a colour legend. Each cell: `<rect class="cell" data-uid data-col data-score>`.
pub fn heat_map(id: &str, columns: &[String], rows: &[HeatRow]) -> String {
    let (label_w, cell_w, cell_h, top) = (64.0, 46.0, 14.0, 34.0);
    let width = label_w + cell_w * columns.len() as f64 + 190.0;
    let height = top + cell_h * rows.len() as f64 + 44.0;
    let mut out = format!(
        r#"<svg id="{}" xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" role="img" aria-label="scores per miner and lead">"#,
        esc(id)
    );
    for (c, name) in columns.iter().enumerate() {
        let x = label_w + cell_w * (c as f64 + 0.5);
        let _ = write!(
            out,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle" font-weight="600">{}</text>"#,
            top - 8.0,
            esc(name)
        );
    }
    for (r, row) in rows.iter().enumerate() {
        let y = top + cell_h * r as f64;
        let _ = write!(
            out,
            r#"<a href="/miners/{uid}"><text x="{:.1}" y="{:.1}" text-anchor="end">uid {uid}</text></a>"#,
            label_w - 6.0,
            y + cell_h - 3.0,
            uid = row.uid
        );
        if status_class(&row.status) != "good" {
            let _ = write!(
                out,
                r##"<text x="{:.1}" y="{:.1}" style="fill:{}">{}</text>"##,
                label_w + cell_w * columns.len() as f64 + 8.0,
                y + cell_h - 3.0,
                if status_class(&row.status) == "bad" {
                    "#86181d"
                } else {
                    "#6b4e00"
                },
                esc(&row.status)
            );
        }
        for (c, v) in row.cells.iter().enumerate() {
            let x = label_w + cell_w * c as f64;
            let col = columns.get(c).map_or("", String::as_str);
            let score = v.map_or_else(String::new, |v| format!("{v}"));
            let _ = write!(
                out,
                r##"<rect class="cell" x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}" stroke="#fff" data-uid="{}" data-col="{}" data-score="{}"><title>uid {} {}: {}</title></rect>"##,
                cell_w,
                cell_h,
                score_colour(*v),
                row.uid,
                esc(col),
                score,
                row.uid,
                esc(col),
                num(*v)
            );
        }
    }
    // Legend: 0 … 1 in five steps, plus "not scored".
    let ly = top + cell_h * rows.len() as f64 + 14.0;
    for (i, v) in [0.0, 0.25, 0.5, 0.75, 1.0].iter().enumerate() {
        let x = label_w + 56.0 * i as f64;
        let _ = write!(
            out,
            r#"<rect x="{x:.1}" y="{ly:.1}" width="16" height="12" fill="{}"/><text x="{:.1}" y="{:.1}">{v}</text>"#,
            score_colour(Some(*v)),
            x + 20.0,
            ly + 10.0
        );
    }
    let _ = write!(
        out,
        r#"<rect x="{:.1}" y="{ly:.1}" width="16" height="12" fill="{}"/><text x="{:.1}" y="{:.1}">not scored</text></svg>"#,
        label_w + 280.0,
        score_colour(None),
        label_w + 300.0,
        ly + 10.0
    );
    out
}

/// One plotted point of a series.
pub struct Point {
    /// Label of the x position (a run).
    pub label: String,
    /// Link of the point (the run page).
    pub href: String,
    /// The value, `None` = gap.
    pub value: Option<f64>,
}

/// A line plot of one or more series over the same x positions (oldest left). Each point:
/// `<circle class="point" data-series data-x data-value>`.
pub fn line_plot(id: &str, series: &[(&str, &str, &[Point])]) -> String {
    let (w, h, left, right, top, bottom) = (900.0, 280.0, 56.0, 150.0, 16.0, 48.0);
    let n = series.iter().map(|s| s.2.len()).max().unwrap_or(0);
    let values = series
        .iter()
        .flat_map(|s| s.2.iter().filter_map(|p| p.value));
    let (mut lo, mut hi) = values.fold((0.0f64, 1.0f64), |(a, b), v| (a.min(v), b.max(v)));
    if hi - lo < 1e-9 {
        hi = lo + 1.0;
    }
    lo = (lo * 10.0).floor() / 10.0;
    hi = (hi * 10.0).ceil() / 10.0;
    let plot_w = w - left - right;
    let plot_h = h - top - bottom;
    let x_of = |i: usize| {
        if n <= 1 {
            left + plot_w / 2.0
        } else {
            left + plot_w * i as f64 / (n - 1) as f64
        }
    };
    let y_of = |v: f64| top + plot_h * (1.0 - (v - lo) / (hi - lo));
    let mut out = format!(
        r#"<svg id="{}" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" aria-label="score history">"#,
        esc(id)
    );
    for k in 0..=4 {
        let v = lo + (hi - lo) * f64::from(k) / 4.0;
        let y = y_of(v);
        let _ = write!(
            out,
            r##"<line x1="{left}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#e1e4e8"/><text x="{:.1}" y="{:.1}" text-anchor="end">{v:.2}</text>"##,
            left + plot_w,
            left - 6.0,
            y + 4.0
        );
    }
    let first = series.iter().find_map(|s| s.2.first());
    let last = series.iter().find_map(|s| s.2.last());
    if let (Some(a), Some(b)) = (first, last) {
        if n > 1 {
            let _ = write!(
                out,
                r#"<text x="{left}" y="{:.1}">{}</text><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                h - bottom + 18.0,
                esc(&a.label),
                left + plot_w,
                h - bottom + 18.0,
                esc(&b.label),
            );
        } else {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                x_of(0),
                h - bottom + 18.0,
                esc(&a.label),
            );
        }
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">run (GFS cycle), oldest → newest</text>"#,
            left + plot_w / 2.0,
            h - 8.0
        );
    }
    for (k, (name, colour, points)) in series.iter().enumerate() {
        let mut path = String::new();
        let mut pen_down = false;
        for (i, p) in points.iter().enumerate() {
            match p.value {
                Some(v) => {
                    let _ = write!(
                        path,
                        "{}{:.1},{:.1} ",
                        if pen_down { "L" } else { "M" },
                        x_of(i),
                        y_of(v)
                    );
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        let _ = write!(
            out,
            r#"<path d="{}" fill="none" stroke="{}" stroke-width="2"/>"#,
            path.trim_end(),
            esc(colour)
        );
        for (i, p) in points.iter().enumerate() {
            if let Some(v) = p.value {
                let _ = write!(
                    out,
                    r#"<a href="{}"><circle class="point" cx="{:.1}" cy="{:.1}" r="4" fill="{}" data-series="{}" data-x="{}" data-value="{v}"><title>{} {}: {}</title></circle></a>"#,
                    esc(&p.href),
                    x_of(i),
                    y_of(v),
                    esc(colour),
                    esc(name),
                    esc(&p.label),
                    esc(name),
                    esc(&p.label),
                    num(Some(v))
                );
            }
        }
        let ly = top + 18.0 * k as f64;
        let _ = write!(
            out,
            r#"<rect x="{:.1}" y="{:.1}" width="14" height="4" fill="{}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            w - right + 16.0,
            ly + 4.0,
            esc(colour),
            w - right + 36.0,
            ly + 9.0,
            esc(name)
        );
    }
    out.push_str("</svg>");
    out
}

/// A bar chart of the non-zero entries of a weight vector, largest first, each bar labelled
/// with its UID (thinned out when there are many). `left_out` (the burn UID) is not drawn: its
/// share (75 % by default) would flatten every miner's bar; the page states it beside the chart.
/// A chart by UID 0…255 hid the small weights beside a large one; sorted bars read at a glance.
/// Each bar: `<rect class="bar" data-uid data-value>`.
pub fn bar_chart(id: &str, values: &[(u8, f64)], left_out: Option<u8>) -> String {
    let (w, h, left, top, bottom) = (1100.0, 260.0, 76.0, 12.0, 44.0);
    let plot_w = w - left - 10.0;
    let plot_h = h - top - bottom;
    let mut bars: Vec<(u8, f64)> = values
        .iter()
        .copied()
        .filter(|(uid, v)| *v > 0.0 && Some(*uid) != left_out)
        .collect();
    bars.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let max = bars.first().map_or(0.0, |b| b.1).max(1e-12);
    let slot = plot_w / (bars.len().max(24) as f64);
    // Enough decimals for three significant digits of the largest bar (weights can be ~1e-4).
    let decimals = (2.0 - max.log10().floor()).clamp(3.0, 9.0) as usize;
    let mut out = format!(
        r#"<svg id="{}" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" aria-label="weight per uid, largest first">"#,
        esc(id)
    );
    for k in 0..=4 {
        let v = max * f64::from(k) / 4.0;
        let y = top + plot_h * (1.0 - f64::from(k) / 4.0);
        let _ = write!(
            out,
            r##"<line x1="{left}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#e1e4e8"/><text x="{:.1}" y="{:.1}" text-anchor="end">{v:.decimals$}</text>"##,
            left + plot_w,
            left - 6.0,
            y + 4.0
        );
    }
    let _ = write!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">UID, largest weight first</text>"#,
        left + plot_w / 2.0,
        h - 6.0,
    );
    // A label every ~30 px, so three-digit UIDs never overlap.
    let label_every = ((30.0 / slot).ceil() as usize).max(1);
    for (i, (uid, v)) in bars.iter().enumerate() {
        let bh = (plot_h * v / max).max(1.0);
        let x = left + slot * i as f64;
        let _ = write!(
            out,
            r##"<rect class="bar" x="{:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}" fill="#1f6feb" data-uid="{uid}" data-value="{v}"><title>uid {uid}: {v:.6}</title></rect>"##,
            x + 0.5,
            top + plot_h - bh,
            (slot - 1.0).max(1.0)
        );
        if i % label_every == 0 {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{uid}</text>"#,
                x + slot / 2.0,
                h - bottom + 14.0
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// A run's outcomes as one stacked horizontal bar (green good, red bad, amber in progress).
pub fn outcome_bar(outcomes: &[(String, i64)]) -> String {
    let total: i64 = outcomes.iter().map(|o| o.1).sum();
    if total == 0 {
        return r#"<span class="muted">no miners</span>"#.to_owned();
    }
    let (w, h) = (160.0, 12.0);
    let mut out = format!(r#"<svg class="outcomes" width="{w}" height="{h}">"#);
    let mut x = 0.0;
    for (status, n) in outcomes {
        let bw = w * *n as f64 / total as f64;
        let fill = match status_class(status) {
            "good" => "#2da44e",
            "bad" => "#cf222e",
            _ => "#d4a72c",
        };
        let _ = write!(
            out,
            r#"<rect x="{x:.1}" y="0" width="{bw:.1}" height="{h}" fill="{fill}"><title>{}: {n}</title></rect>"#,
            esc(status)
        );
        x += bw;
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heat_map_has_one_cell_per_value_with_data() {
        let svg = heat_map(
            "h",
            &["L24".into(), "L48".into()],
            &[HeatRow {
                uid: 3,
                cells: vec![Some(0.5), None],
                status: "miner_offline".into(),
            }],
        );
        assert_eq!(svg.matches(r#"class="cell""#).count(), 2);
        assert!(svg.contains(r#"data-uid="3" data-col="L24" data-score="0.5""#));
        assert!(svg.contains(r#"data-col="L48" data-score="""#));
        assert!(svg.contains(">miner_offline</text>"), "why the row is grey");
    }

    #[test]
    fn line_plot_skips_gaps_and_bars_skip_zero() {
        let pts = vec![
            Point {
                label: "a".into(),
                href: "/runs/1".into(),
                value: Some(0.2),
            },
            Point {
                label: "b".into(),
                href: "/runs/2".into(),
                value: None,
            },
            Point {
                label: "c<".into(),
                href: "/runs/3".into(),
                value: Some(0.9),
            },
        ];
        let svg = line_plot("p", &[("overall", "#000", &pts)]);
        assert_eq!(svg.matches(r#"class="point""#).count(), 2);
        assert!(svg.contains("c&lt;"));
        let bars = bar_chart("b", &[(1, 0.0), (2, 0.5), (200, 0.5)], Some(200));
        assert_eq!(
            bars.matches(r#"class="bar""#).count(),
            1,
            "zero and burn left out"
        );
        assert!(bars.contains(r#"data-uid="2""#));
        assert!(outcome_bar(&[]).contains("no miners"));
    }
}
